package notify_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/notify"
	"github.com/switchboardhq/switchboard/internal/notify/sms"
	"github.com/switchboardhq/switchboard/internal/notify/smstest"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// textComposer writes every invitation as a text message to one number,
// so that a change puts an SMS in the outbox as it would an e-mail.
type textComposer struct{ to string }

func (c textComposer) Invitation(inv *switchboard.Invitation) (*switchboard.Notification, error) {
	return &switchboard.Notification{Channel: switchboard.ChannelSMS, Recipient: c.to,
		Text: "You are invited to Switchboard, " + inv.Email + "."}, nil
}

// Alert writes nothing: these tests count the invitations alone.
func (textComposer) Alert(*switchboard.Alert) (*switchboard.Notification, error) { return nil, nil }

func newSMSDispatcher(t *testing.T, db *sqlstore.DB, srv *smstest.Server) *notify.Dispatcher {
	base, _ := url.Parse(srv.URL)
	sender, err := sms.New(sms.Options{BaseURL: base, AccountSID: srv.AccountSID, AuthToken: srv.AuthToken, From: "+15551234567", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return notify.New(sqlstore.NewNotificationService(db), map[switchboard.Channel]switchboard.Sender{switchboard.ChannelSMS: sender}, quiet,
		notify.Options{FirstRetry: 30 * time.Second, Jitter: func(d time.Duration) time.Duration { return d }})
}

// smsCase runs a test of SMS delivery on every engine, with changes
// writing their invitations as text messages to "to", a fake API, and a
// dispatcher that sends through it.
func smsCase(t *testing.T, name, to string, fn func(t *testing.T, db *sqlstore.DB, clock *sqlstoretest.Clock, srv *smstest.Server, d *notify.Dispatcher)) {
	t.Run(name, func(t *testing.T) {
		t.Parallel()
		sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
			t.Parallel()
			clock := sqlstoretest.NewClock(db)
			db.Composer = textComposer{to: to}
			srv := smstest.Start(t, "AC0123456789abcdef0123456789abcdef", "auth-token")
			fn(t, db, clock, srv, newSMSDispatcher(t, db, srv))
		})
	})
}

func TestSMSDelivery(t *testing.T) {
	smsCase(t, "Sent", "+14155550123", func(t *testing.T, db *sqlstore.DB, _ *sqlstoretest.Clock, srv *smstest.Server, d *notify.Dispatcher) {
		MustInvite(t, db, "ada@example.com")
		mustDeliver(t, d, 1)
		msgs := srv.Messages()
		n := notifications(t, db)[0]
		if len(msgs) != 1 || msgs[0].To != "+14155550123" || msgs[0].From != "+15551234567" ||
			msgs[0].Body != "You are invited to Switchboard, ada@example.com." || msgs[0].IdempotencyKey != n.IdempotencyKey {
			t.Errorf("the API got %+v, want one message to +14155550123 with key %s", msgs, n.IdempotencyKey)
		}
		if n.Channel != switchboard.ChannelSMS || n.Status != switchboard.NotificationSent || n.Attempts != 1 {
			t.Errorf("the notification is %s %s after %d attempts, want sms sent after 1", n.Channel, n.Status, n.Attempts)
		}
		if p := srv.Problems(); len(p) > 0 {
			t.Errorf("malformed requests: %v", p)
		}
	})
	smsCase(t, "RefusedIsDead", "+14155550123", func(t *testing.T, db *sqlstore.DB, _ *sqlstoretest.Clock, srv *smstest.Server, d *notify.Dispatcher) {
		srv.Refuse("+14155550123")
		MustInvite(t, db, "ada@example.com")
		mustDeliver(t, d, 1)
		n := notifications(t, db)[0]
		if n.Status != switchboard.NotificationDead || n.Attempts != 1 || !strings.Contains(n.LastError, "error 21614") {
			t.Errorf("got %s after %d attempts (%q), want dead at once with the API's error", n.Status, n.Attempts, n.LastError)
		}
	})
	smsCase(t, "NotE164IsDead", "555-0123", func(t *testing.T, db *sqlstore.DB, _ *sqlstoretest.Clock, srv *smstest.Server, d *notify.Dispatcher) {
		MustInvite(t, db, "ada@example.com")
		mustDeliver(t, d, 1)
		if n := notifications(t, db)[0]; n.Status != switchboard.NotificationDead || !strings.Contains(n.LastError, "E.164") {
			t.Errorf("got %s (%q), want dead for a number not in E.164", n.Status, n.LastError)
		}
		if srv.Requests() != 0 {
			t.Errorf("the API got %d requests, want none", srv.Requests())
		}
	})
	smsCase(t, "DownThenBack", "+14155550123", func(t *testing.T, db *sqlstore.DB, clock *sqlstoretest.Clock, srv *smstest.Server, d *notify.Dispatcher) {
		MustInvite(t, db, "ada@example.com")
		srv.Fail(http.StatusServiceUnavailable)
		mustDeliver(t, d, 1)
		srv.Fail(http.StatusTooManyRequests)
		clock.Advance(30 * time.Second)
		mustDeliver(t, d, 1)
		if n := notifications(t, db)[0]; n.Status != switchboard.NotificationFailed || n.Attempts != 2 || !strings.Contains(n.LastError, "429") {
			t.Fatalf("got %s after %d attempts (%q), want failed after 2 with the 429", n.Status, n.Attempts, n.LastError)
		}
		srv.Fail(0)
		clock.Advance(time.Minute)
		mustDeliver(t, d, 1)
		n := notifications(t, db)[0]
		if msgs := srv.Messages(); n.Status != switchboard.NotificationSent || len(msgs) != 1 || msgs[0].IdempotencyKey != n.IdempotencyKey {
			t.Errorf("got %s, %d messages; want sent once, with key %s", n.Status, len(msgs), n.IdempotencyKey)
		}
	})
}
