package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/notify"
	"github.com/switchboardhq/switchboard/internal/notify/webhook"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func systemCtx() context.Context {
	return switchboard.NewContextWithActor(context.Background(), switchboard.SystemActor("test"))
}

// TestPrivateAddresses: the addresses refused when the operator has not
// allowed private ones, checked as a connection is made.
func TestPrivateAddresses(t *testing.T) {
	guard := &webhook.Guard{}
	allowed := &webhook.Guard{AllowPrivate: true}
	for _, tc := range []struct {
		addr    string
		refused bool
	}{
		{"127.0.0.1:80", true},
		{"127.8.9.10:443", true},
		{"10.1.2.3:443", true},
		{"172.16.0.1:443", true},
		{"172.31.255.255:443", true},
		{"192.168.1.1:443", true},
		{"169.254.169.254:80", true}, // cloud metadata
		{"100.64.0.1:443", true},     // carrier-grade NAT
		{"0.0.0.0:80", true},
		{"224.0.0.1:80", true},
		{"255.255.255.255:80", true},
		{"198.18.0.1:80", true},
		{"[::1]:80", true},
		{"[::]:80", true},
		{"[fd00::1]:80", true},          // unique local
		{"[fd00:ec2::254]:80", true},    // cloud metadata over IPv6
		{"[fe80::1%eth0]:80", true},     // link-local
		{"[ff02::1]:80", true},          // multicast
		{"[::ffff:127.0.0.1]:80", true}, // IPv4-mapped
		{"[::ffff:8.8.8.8]:80", true},   // IPv4-mapped, even public
		{"[64:ff9b::a00:1]:80", true},   // NAT64 of 10.0.0.1
		{"[2002:a00:1::]:80", true},     // 6to4 of 10.0.0.1
		{"8.8.8.8:443", false},
		{"172.32.0.1:443", false},
		{"100.128.0.1:443", false},
		{"[2606:4700:4700::1111]:443", false},
	} {
		err := guard.Control("tcp", tc.addr, nil)
		if refused := err != nil; refused != tc.refused {
			t.Errorf("connect to %s: refused = %v (%v), want %v", tc.addr, refused, err, tc.refused)
		}
		if err := allowed.Control("tcp", tc.addr, nil); err != nil {
			t.Errorf("with private addresses allowed, connect to %s: %v", tc.addr, err)
		}
	}
}

// fakeResolver answers every name with its addresses, or fails.
type fakeResolver map[string][]string

func (r fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	addrs, ok := r[host]
	if !ok {
		return nil, errors.New("no such host")
	}
	var out []netip.Addr
	for _, a := range addrs {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

func TestCheckURL(t *testing.T) {
	resolver := fakeResolver{
		"hooks.example.com":    {"93.184.216.34", "2606:2800:220:1::1"},
		"internal.example.com": {"93.184.216.34", "10.0.0.7"},
		"rebind.example.com":   {"127.0.0.1"},
	}
	guard := &webhook.Guard{Resolver: resolver}
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://hooks.example.com/in", true},
		{"https://93.184.216.34/in", true},
		{"https://internal.example.com/in", false}, // one private address is enough
		{"https://rebind.example.com/in", false},
		{"https://unknown.example.com/in", false},
		{"http://127.0.0.1:8080/", false},
		{"http://[::1]/", false},
		{"http://localhost:8080/", false},
		{"http://api.localhost/", false},
		{"http://0x7f000001/", false},
		{"http://127.1/", false},
	} {
		u, _ := url.Parse(tc.url)
		err := guard.CheckURL(context.Background(), u)
		if (err == nil) != tc.ok {
			t.Errorf("CheckURL(%s) = %v, want ok = %v", tc.url, err, tc.ok)
			continue
		}
		if err != nil && (switchboard.ErrorCode(err) != switchboard.EINVALID || len(switchboard.ErrorFields(err)) != 1 || switchboard.ErrorFields(err)[0].Field != "url") {
			t.Errorf("CheckURL(%s) = %v, want EINVALID on url", tc.url, err)
		}
	}
	allowed := &webhook.Guard{AllowPrivate: true, Resolver: resolver}
	u, _ := url.Parse("http://127.0.0.1:8080/")
	if err := allowed.CheckURL(context.Background(), u); err != nil {
		t.Errorf("with private addresses allowed: %v", err)
	}
}

// receiver is an endpoint in the test: it keeps every request and answers
// with the statuses it is given, then 204.
type receiver struct {
	mu       sync.Mutex
	requests []*http.Request
	bodies   [][]byte
	statuses []int
	delay    time.Duration
	srv      *httptest.Server
}

func newReceiver(tb testing.TB) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.requests = append(r.requests, req)
		r.bodies = append(r.bodies, body)
		status, delay := http.StatusNoContent, r.delay
		if len(r.statuses) > 0 {
			status, r.statuses = r.statuses[0], r.statuses[1:]
		}
		r.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-req.Context().Done():
				return
			}
		}
		if status == http.StatusFound {
			http.Redirect(w, req, "http://169.254.169.254/", status)
			return
		}
		w.WriteHeader(status)
		io.WriteString(w, "answer from the receiver\nsecond line")
	}))
	tb.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.requests)
}

func (r *receiver) last() (*http.Request, []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests[len(r.requests)-1], r.bodies[len(r.bodies)-1]
}

// world is a database with an endpoint at a receiver, and a dispatcher
// that delivers with the webhook sender.
type world struct {
	db         *sqlstore.DB
	clock      *sqlstoretest.Clock
	hooks      *sqlstore.WebhookService
	out        *sqlstore.NotificationService
	dispatcher *notify.Dispatcher
	receiver   *receiver
	endpoint   *switchboard.Webhook
}

func newWorld(t *testing.T, db *sqlstore.DB, opts webhook.Options) *world {
	w := &world{db: db, clock: sqlstoretest.NewClock(db),
		hooks: sqlstore.NewWebhookService(db), out: sqlstore.NewNotificationService(db), receiver: newReceiver(t)}
	// The receiver listens on 127.0.0.1: the operator allows it.
	db.WebhookURLCheck = (&webhook.Guard{AllowPrivate: true}).CheckURL
	if opts.Guard == nil {
		opts.Guard = &webhook.Guard{AllowPrivate: true}
	}
	sender := webhook.New(w.hooks, opts)
	w.dispatcher = notify.New(w.out, map[switchboard.Channel]switchboard.Sender{switchboard.ChannelWebhook: sender}, quiet,
		notify.Options{FirstRetry: time.Minute, Jitter: func(d time.Duration) time.Duration { return d }, MaxAttempts: 3})
	var err error
	w.endpoint, err = w.hooks.CreateWebhook(systemCtx(), switchboard.NewWebhook{URL: w.receiver.srv.URL + "/hooks?src=sb",
		Events: []string{"team.*"}, Active: true})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) createTeam(t *testing.T, name string) *switchboard.Team {
	t.Helper()
	team, err := sqlstore.NewTeamService(w.db).CreateTeam(systemCtx(), switchboard.NewTeam{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return team
}

func (w *world) deliver(t *testing.T, want int) {
	t.Helper()
	n, err := w.dispatcher.Deliver(context.Background())
	if err != nil || n != want {
		t.Fatalf("Deliver = %d, %v; want %d", n, err, want)
	}
}

func (w *world) only(t *testing.T) *switchboard.Notification {
	t.Helper()
	page, err := w.out.FindNotifications(systemCtx(), switchboard.NotificationFilter{Channel: switchboard.ChannelWebhook})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("webhook deliveries: %v, %v; want one", page, err)
	}
	return page.Items[0]
}

func TestDelivery(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		w := newWorld(t, db, webhook.Options{})
		team := w.createTeam(t, "Billing")
		w.deliver(t, 1)

		if w.receiver.count() != 1 {
			t.Fatalf("the receiver got %d requests, want 1", w.receiver.count())
		}
		req, body := w.receiver.last()
		n := w.only(t)
		if !verify(w.endpoint.Secret, req.Header, body) {
			t.Errorf("the README's check refuses the delivery: %s %v", body, req.Header)
		}
		if verify("whsec_another", req.Header, body) {
			t.Error("the README's check takes a signature made with another secret")
		}
		for header, want := range map[string]string{
			"Content-Type": "application/json", "User-Agent": "Switchboard-Webhook/1",
			"Switchboard-Event-Id": n.EventID, "Idempotency-Key": n.IdempotencyKey,
		} {
			if got := req.Header.Get(header); got != want {
				t.Errorf("%s: %q, want %q", header, got, want)
			}
		}
		if req.Method != http.MethodPost || req.URL.Path != "/hooks" || req.URL.RawQuery != "src=sb" {
			t.Errorf("request %s %s", req.Method, req.URL)
		}
		var payload struct {
			ID, Type string
			Data     struct {
				Subject struct{ Type, ID, Name string }
			}
		}
		if err := json.Unmarshal(body, &payload); err != nil || payload.ID != n.EventID || payload.Type != "team.created" ||
			payload.Data.Subject.ID != team.ID {
			t.Errorf("body %s (%v)", body, err)
		}
		if n.Status != switchboard.NotificationSent || n.Attempts != 1 {
			t.Errorf("after delivery: %+v", n)
		}
	})
}

// TestDelivery_Retried: an answer other than 2xx is tried again, with the
// same idempotency key and a signature by the secret of the moment.
func TestDelivery_Retried(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		w := newWorld(t, db, webhook.Options{})
		w.receiver.statuses = []int{http.StatusInternalServerError, http.StatusFound}
		w.createTeam(t, "Billing")
		w.deliver(t, 1)
		n := w.only(t)
		if n.Status != switchboard.NotificationFailed || !strings.Contains(n.LastError, "500") ||
			!strings.Contains(n.LastError, "answer from the receiver") || strings.Contains(n.LastError, "second line") {
			t.Fatalf("after a 500: %+v", n)
		}
		first, _ := w.receiver.last()

		w.clock.Advance(time.Minute)
		w.deliver(t, 1)
		if n = w.only(t); n.Status != switchboard.NotificationFailed || !strings.Contains(n.LastError, "redirects are not followed") {
			t.Fatalf("after a redirect: %+v", n)
		}
		if w.receiver.count() != 2 {
			t.Fatalf("the redirect was followed: %d requests", w.receiver.count())
		}

		rotated, err := w.hooks.UpdateWebhook(systemCtx(), w.endpoint.ID, switchboard.WebhookUpdate{RotateSecret: true})
		if err != nil {
			t.Fatal(err)
		}
		w.clock.Advance(2 * time.Minute)
		w.deliver(t, 1)
		if n = w.only(t); n.Status != switchboard.NotificationSent || n.Attempts != 3 {
			t.Fatalf("after a 2xx: %+v", n)
		}
		last, body := w.receiver.last()
		if got, want := last.Header.Get("Idempotency-Key"), first.Header.Get("Idempotency-Key"); got != want || got == "" {
			t.Errorf("idempotency key %q on the retry, %q on the first attempt", got, want)
		}
		if !verify(rotated.Secret, last.Header, body) {
			t.Error("the retry is not signed with the rotated secret")
		}
	})
}

// TestDelivery_SlowEndpoint: an endpoint that does not answer in time
// fails the attempt, to be tried again.
func TestDelivery_SlowEndpoint(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		w := newWorld(t, db, webhook.Options{Timeout: 100 * time.Millisecond})
		w.receiver.delay = 5 * time.Second
		w.createTeam(t, "Billing")
		start := time.Now()
		w.deliver(t, 1)
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("the attempt took %v", took)
		}
		if n := w.only(t); n.Status != switchboard.NotificationFailed || !strings.Contains(n.LastError, "timed out") {
			t.Errorf("after a slow endpoint: %+v", n)
		}
	})
}

// TestDelivery_EndpointGone: the deliveries of a deleted or deactivated
// endpoint are given up.
func TestDelivery_EndpointGone(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		w := newWorld(t, db, webhook.Options{})
		w.createTeam(t, "Billing")
		if err := w.hooks.DeleteWebhook(systemCtx(), w.endpoint.ID); err != nil {
			t.Fatal(err)
		}
		w.deliver(t, 1)
		if n := w.only(t); n.Status != switchboard.NotificationDead || !strings.Contains(n.LastError, "deleted") {
			t.Errorf("after its endpoint was deleted: %+v", n)
		}
		if w.receiver.count() != 0 {
			t.Errorf("the receiver got %d requests", w.receiver.count())
		}
	})
}

// TestDelivery_PrivateAddressAtConnect: a URL that passed its check when it
// was saved (a name that then resolved elsewhere) is still refused when
// the connection is made to a private address.
func TestDelivery_PrivateAddressAtConnect(t *testing.T) {
	db := sqlstoretest.Open(t, sqlstore.SQLite)
	w := newWorld(t, db, webhook.Options{Guard: &webhook.Guard{}})
	w.createTeam(t, "Billing")
	w.deliver(t, 1)
	if n := w.only(t); n.Status != switchboard.NotificationDead || !strings.Contains(n.LastError, "refused to connect to 127.0.0.1") {
		t.Errorf("after a connection to a private address: %+v", n)
	}
	if w.receiver.count() != 0 {
		t.Errorf("the receiver got %d requests", w.receiver.count())
	}
}

// TestSign: the signature is what the README's openssl recipe computes:
// printf '1700000000.{}' | openssl dgst -sha256 -hmac whsec_test
func TestSign(t *testing.T) {
	got := webhook.Sign("whsec_test", "1700000000", []byte("{}"))
	const want = "v1=35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"
	if got != want {
		t.Errorf("Sign = %q, want %q", got, want)
	}
}
