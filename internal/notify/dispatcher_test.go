package notify_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/notify"
	"github.com/switchboardhq/switchboard/internal/notify/compose"
	"github.com/switchboardhq/switchboard/internal/notify/email"
	"github.com/switchboardhq/switchboard/internal/notify/smtptest"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func systemCtx() context.Context {
	return switchboard.NewContextWithActor(context.Background(), switchboard.SystemActor("test"))
}

// recorder is a Sender that keeps what it is given and fails while err is
// set.
type recorder struct {
	mu   sync.Mutex
	sent map[string]int    // deliveries by notification ID
	keys map[string]string // idempotency key by notification ID
	err  error
}

func newRecorder() *recorder { return &recorder{sent: map[string]int{}, keys: map[string]string{}} }

func (r *recorder) Send(_ context.Context, n *switchboard.Notification) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.sent[n.ID]++
	r.keys[n.ID] = n.IdempotencyKey
	return nil
}

func (r *recorder) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = err
}

// openDB opens a database whose changes write e-mails with links on
// https://sb.example.com, on a clock the test moves.
func openDB(t *testing.T, db *sqlstore.DB) *sqlstoretest.Clock {
	base, _ := url.Parse("https://sb.example.com")
	db.Composer = compose.New(base)
	return sqlstoretest.NewClock(db)
}

// MustInvite creates a human agent for a new person, which invites them
// by e-mail.
func MustInvite(tb testing.TB, db *sqlstore.DB, address string) *switchboard.Invitation {
	tb.Helper()
	_, inv, err := sqlstore.NewAgentService(db).CreateAgent(systemCtx(), switchboard.NewAgent{Name: "Agent " + address, Kind: switchboard.HumanAgent, Email: address})
	if err != nil || inv == nil {
		tb.Fatalf("CreateAgent(%s) = %v, %v; want an invitation", address, inv, err)
	}
	return inv
}

func mustDeliver(tb testing.TB, d *notify.Dispatcher, want int) {
	tb.Helper()
	n, err := d.Deliver(context.Background())
	if err != nil || n != want {
		tb.Fatalf("Deliver = %d, %v; want %d claimed", n, err, want)
	}
}

// notifications returns the whole delivery log.
func notifications(tb testing.TB, db *sqlstore.DB) []*switchboard.Notification {
	tb.Helper()
	page, err := sqlstore.NewNotificationService(db).FindNotifications(systemCtx(), switchboard.NotificationFilter{Limit: switchboard.MaxPageLimit})
	if err != nil {
		tb.Fatal(err)
	}
	return page.Items
}

func TestRetryAfter(t *testing.T) {
	d := notify.New(nil, nil, quiet, notify.Options{FirstRetry: 30 * time.Second, MaxRetry: time.Hour, Jitter: func(d time.Duration) time.Duration { return d }})
	for attempts, want := range map[int]time.Duration{1: 30 * time.Second, 2: time.Minute, 3: 2 * time.Minute, 7: 32 * time.Minute, 8: time.Hour, 50: time.Hour} {
		if got := d.RetryAfter(attempts); got != want {
			t.Errorf("RetryAfter(%d) = %v, want %v", attempts, got, want)
		}
	}
	jittered := notify.New(nil, nil, quiet, notify.Options{})
	for range 100 {
		if got := jittered.RetryAfter(1); got < 15*time.Second || got > 30*time.Second {
			t.Fatalf("RetryAfter(1) with jitter = %v, want within [15s, 30s]", got)
		}
	}
}

func TestDispatcherBacksOffThenGivesUp(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		clock := openDB(t, db)
		MustInvite(t, db, "ada@example.com")
		sender := newRecorder()
		sender.fail(errors.New("451 try again later"))
		d := notify.New(sqlstore.NewNotificationService(db), map[switchboard.Channel]switchboard.Sender{switchboard.ChannelEmail: sender}, quiet,
			notify.Options{MaxAttempts: 3, FirstRetry: 30 * time.Second, Jitter: func(d time.Duration) time.Duration { return d }})

		for i, wait := range []time.Duration{30 * time.Second, time.Minute} {
			mustDeliver(t, d, 1)
			n := notifications(t, db)[0]
			if n.Status != switchboard.NotificationFailed || n.Attempts != i+1 || n.LastError != "451 try again later" ||
				!n.NextAttemptAt.Equal(clock.Now().Add(wait)) {
				t.Fatalf("after attempt %d: %s, attempts %d, %q, next in %v; want failed, next in %v",
					i+1, n.Status, n.Attempts, n.LastError, n.NextAttemptAt.Sub(clock.Now()), wait)
			}
			clock.Advance(wait - time.Second)
			mustDeliver(t, d, 0) // not due yet
			clock.Advance(time.Second)
		}
		mustDeliver(t, d, 1)
		n := notifications(t, db)[0]
		if n.Status != switchboard.NotificationDead || n.Attempts != 3 {
			t.Fatalf("after the last attempt: %s, attempts %d; want dead after 3", n.Status, n.Attempts)
		}
		clock.Advance(24 * time.Hour)
		mustDeliver(t, d, 0)

		// The admin retries once the mail server is back.
		sender.fail(nil)
		if _, err := sqlstore.NewNotificationService(db).RetryNotification(systemCtx(), n.ID); err != nil {
			t.Fatal(err)
		}
		mustDeliver(t, d, 1)
		if n := notifications(t, db)[0]; n.Status != switchboard.NotificationSent || sender.sent[n.ID] != 1 || sender.keys[n.ID] != n.IdempotencyKey {
			t.Errorf("after retry: %s, sent %d times with key %q; want sent once with %q", n.Status, sender.sent[n.ID], sender.keys[n.ID], n.IdempotencyKey)
		}
	})
}

func TestDispatcherPermanentFailure(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		openDB(t, db)
		MustInvite(t, db, "ada@example.com")
		sender := newRecorder()
		sender.fail(switchboard.Permanent(errors.New("550 no such user")))
		d := notify.New(sqlstore.NewNotificationService(db), map[switchboard.Channel]switchboard.Sender{switchboard.ChannelEmail: sender}, quiet, notify.Options{})
		mustDeliver(t, d, 1)
		if n := notifications(t, db)[0]; n.Status != switchboard.NotificationDead || n.Attempts != 1 || n.LastError != "550 no such user" {
			t.Errorf("got %s after %d attempts (%q), want dead at once", n.Status, n.Attempts, n.LastError)
		}
	})
}

func TestDispatcherWithoutSender(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		openDB(t, db)
		MustInvite(t, db, "ada@example.com")
		d := notify.New(sqlstore.NewNotificationService(db), map[switchboard.Channel]switchboard.Sender{switchboard.ChannelSMS: newRecorder()}, quiet, notify.Options{})
		mustDeliver(t, d, 0)
		if n := notifications(t, db)[0]; n.Status != switchboard.NotificationPending || n.Attempts != 0 {
			t.Errorf("got %s after %d attempts, want an e-mail left pending", n.Status, n.Attempts)
		}
	})
}

func TestTwoDispatchers(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		openDB(t, db)
		const total = 30
		for i := range total {
			MustInvite(t, db, fmt.Sprintf("p%02d@example.com", i))
		}
		sender := newRecorder()
		var wg sync.WaitGroup
		for range 2 {
			d := notify.New(sqlstore.NewNotificationService(db), map[switchboard.Channel]switchboard.Sender{switchboard.ChannelEmail: sender}, quiet, notify.Options{Batch: 4})
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					n, err := d.Deliver(context.Background())
					if err != nil {
						t.Errorf("Deliver: %v", err)
						return
					}
					if n == 0 {
						return
					}
				}
			}()
		}
		wg.Wait()
		if len(sender.sent) != total {
			t.Errorf("delivered %d messages, want %d", len(sender.sent), total)
		}
		for id, n := range sender.sent {
			if n != 1 {
				t.Errorf("%s delivered %d times, want once", id, n)
			}
		}
		for _, n := range notifications(t, db) {
			if n.Status != switchboard.NotificationSent {
				t.Errorf("%s is %s, want sent", n.Recipient, n.Status)
			}
		}
	})
}

// linkPattern finds an invitation link in a body.
var linkPattern = regexp.MustCompile(`https://sb\.example\.com/invite/(sbi_[A-Za-z0-9_-]+)`)

func newEmailDispatcher(t *testing.T, db *sqlstore.DB, port int) *notify.Dispatcher {
	sender, err := email.New(email.Options{Host: "127.0.0.1", Port: port, From: "Switchboard <ops@example.com>", TLS: email.NoTLS, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return notify.New(sqlstore.NewNotificationService(db), map[switchboard.Channel]switchboard.Sender{switchboard.ChannelEmail: sender}, quiet,
		notify.Options{FirstRetry: 30 * time.Second, Jitter: func(d time.Duration) time.Duration { return d }})
}

func TestInvitationEmail(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		openDB(t, db)
		srv := smtptest.Start(t, "127.0.0.1:0")
		d := newEmailDispatcher(t, db, srv.Port)
		MustInvite(t, db, "ada@example.com")
		mustDeliver(t, d, 1)

		msgs := srv.Messages()
		if len(msgs) != 1 {
			t.Fatalf("the mail server got %d messages, want 1", len(msgs))
		}
		m := msgs[0]
		if strings.Join(m.To, ",") != "ada@example.com" || m.Header.Get("Subject") != "You are invited to Switchboard" {
			t.Errorf("got a message to %v about %q", m.To, m.Header.Get("Subject"))
		}
		found := linkPattern.FindStringSubmatch(m.Text)
		if found == nil || !strings.Contains(m.HTML, `href="`+found[0]+`"`) {
			t.Fatalf("no invitation link in both bodies:\n%s\n%s", m.Text, m.HTML)
		}
		// The link works: it names a valid invitation for Ada.
		inv, err := sqlstore.NewUserService(db).FindInvitation(context.Background(), found[1])
		if err != nil || inv.Email != "ada@example.com" {
			t.Errorf("FindInvitation(the link's secret) = %+v, %v", inv, err)
		}
		n := notifications(t, db)[0]
		if n.Status != switchboard.NotificationSent || m.Header.Get(email.IdempotencyHeader) != n.IdempotencyKey {
			t.Errorf("notification %s with key %s, message with key %s", n.Status, n.IdempotencyKey, m.Header.Get(email.IdempotencyHeader))
		}
	})
}

func TestMailServerDownThenBack(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		clock := openDB(t, db)
		addr, port := smtptest.FreeAddr(t)
		d := newEmailDispatcher(t, db, port)
		for i := range 3 {
			MustInvite(t, db, fmt.Sprintf("p%d@example.com", i))
		}
		mustDeliver(t, d, 3)
		for _, n := range notifications(t, db) {
			if n.Status != switchboard.NotificationFailed || n.LastError == "" {
				t.Fatalf("%s is %s (%q) with the server down, want failed with the error", n.Recipient, n.Status, n.LastError)
			}
		}
		clock.Advance(30 * time.Second)
		mustDeliver(t, d, 3) // still down: the second failures wait a minute
		srv := smtptest.Start(t, addr)
		clock.Advance(time.Minute)
		mustDeliver(t, d, 3)
		clock.Advance(time.Hour)
		mustDeliver(t, d, 0)

		keys := map[string]int{}
		for _, m := range srv.Messages() {
			keys[m.Header.Get(email.IdempotencyHeader)]++
		}
		for _, n := range notifications(t, db) {
			if n.Status != switchboard.NotificationSent || n.Attempts != 3 || keys[n.IdempotencyKey] != 1 {
				t.Errorf("%s: %s after %d attempts, delivered %d times with its key; want sent once on attempt 3",
					n.Recipient, n.Status, n.Attempts, keys[n.IdempotencyKey])
			}
		}
		if len(srv.Messages()) != 3 {
			t.Errorf("the mail server got %d messages, want 3", len(srv.Messages()))
		}
	})
}

func TestRunDeliversUntilStopped(t *testing.T) {
	db := sqlstoretest.Open(t, sqlstore.SQLite)
	openDB(t, db)
	sender := newRecorder()
	d := notify.New(sqlstore.NewNotificationService(db), map[switchboard.Channel]switchboard.Sender{switchboard.ChannelEmail: sender}, quiet,
		notify.Options{Poll: 10 * time.Millisecond})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx) }()
	MustInvite(t, db, "ada@example.com")
	deadline := time.Now().Add(10 * time.Second)
	for notifications(t, db)[0].Status != switchboard.NotificationSent {
		if time.Now().After(deadline) {
			t.Fatal("the message was not sent within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
