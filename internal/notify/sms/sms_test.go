package sms_test

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/notify/sms"
	"github.com/switchboardhq/switchboard/internal/notify/smstest"
)

const (
	accountSID = "AC0123456789abcdef0123456789abcdef"
	authToken  = "s3cret-auth-token"
)

func MustSender(tb testing.TB, opts sms.Options) *sms.Sender {
	tb.Helper()
	s, err := sms.New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// options point a sender at the fake, sending from a number.
func options(srv *smstest.Server) sms.Options {
	base, _ := url.Parse(srv.URL)
	return sms.Options{BaseURL: base, AccountSID: srv.AccountSID, AuthToken: srv.AuthToken, From: "+15551234567", Timeout: 5 * time.Second}
}

func message(to, text string) *switchboard.Notification {
	return &switchboard.Notification{ID: "n1", Channel: switchboard.ChannelSMS, Recipient: to, Text: text, IdempotencyKey: "0123456789abcdef0123456789abcdef"}
}

func TestSend(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		srv := smstest.Start(t, accountSID, authToken)
		n := message("+14155550123", "Task “Call Ada back” is offered to you.")
		if err := MustSender(t, options(srv)).Send(context.Background(), n); err != nil {
			t.Fatalf("Send = %v, want nil", err)
		}
		got := srv.Messages()
		want := smstest.Message{To: "+14155550123", From: "+15551234567", Body: n.Text, IdempotencyKey: n.IdempotencyKey}
		if len(got) != 1 || got[0] != want {
			t.Errorf("the API got %+v, want [%+v]", got, want)
		}
		if p := srv.Problems(); len(p) > 0 {
			t.Errorf("malformed requests: %v", p)
		}
	})
	t.Run("MessagingService", func(t *testing.T) {
		srv := smstest.Start(t, accountSID, authToken)
		opts := options(srv)
		opts.From, opts.MessagingServiceSID = "", "MG0123456789abcdef0123456789abcdef"
		if err := MustSender(t, opts).Send(context.Background(), message("+14155550123", "hello")); err != nil {
			t.Fatal(err)
		}
		if got := srv.Messages(); len(got) != 1 || got[0].MessagingServiceSID != opts.MessagingServiceSID || got[0].From != "" {
			t.Errorf("the API got %+v, want the messaging service and no From", got)
		}
	})
	t.Run("PathPrefix", func(t *testing.T) {
		// A compatible provider serves the API under a path of its own.
		srv := smstest.Start(t, accountSID, authToken)
		var gotPath string
		opts := options(srv)
		opts.BaseURL = opts.BaseURL.JoinPath("/api/laml")
		opts.Transport = roundTripper(func(r *http.Request) (*http.Response, error) {
			gotPath = r.URL.Path
			r.URL.Path = strings.TrimPrefix(r.URL.Path, "/api/laml")
			return http.DefaultTransport.RoundTrip(r)
		})
		if err := MustSender(t, opts).Send(context.Background(), message("+14155550123", "hello")); err != nil {
			t.Fatal(err)
		}
		if want := "/api/laml/2010-04-01/Accounts/" + accountSID + "/Messages.json"; gotPath != want {
			t.Errorf("posted to %s, want %s", gotPath, want)
		}
	})
	t.Run("ErrRecipientNotE164", func(t *testing.T) {
		srv := smstest.Start(t, accountSID, authToken)
		for _, to := range []string{"", "4155550123", "+0123456789", "ada@example.com"} {
			err := MustSender(t, options(srv)).Send(context.Background(), message(to, "hello"))
			if !switchboard.IsPermanent(err) || !strings.Contains(err.Error(), "E.164") {
				t.Errorf("Send to %q = %v, want a permanent failure about E.164", to, err)
			}
		}
		if srv.Requests() != 0 {
			t.Errorf("the API got %d requests, want none", srv.Requests())
		}
	})
	t.Run("ErrRefused", func(t *testing.T) {
		srv := smstest.Start(t, accountSID, authToken)
		srv.Refuse("+14155550123")
		err := MustSender(t, options(srv)).Send(context.Background(), message("+14155550123", "hello"))
		if !switchboard.IsPermanent(err) || err.Error() != "sms: 400 Bad Request: error 21614: 'To' number +14155550123 is not a valid mobile number" {
			t.Errorf("Send = %v, want a permanent failure with the API's code and message", err)
		}
	})
	t.Run("ErrBadCredentials", func(t *testing.T) {
		srv := smstest.Start(t, accountSID, authToken)
		opts := options(srv)
		opts.AuthToken = "wrong-token"
		err := MustSender(t, opts).Send(context.Background(), message("+14155550123", "hello"))
		if !switchboard.IsPermanent(err) || !strings.Contains(err.Error(), "error 20003") || strings.Contains(err.Error(), "wrong-token") {
			t.Errorf("Send = %v, want a permanent 401 without the token", err)
		}
	})
	for _, status := range []int{http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusServiceUnavailable} {
		t.Run("Retry"+strings.ReplaceAll(http.StatusText(status), " ", ""), func(t *testing.T) {
			srv := smstest.Start(t, accountSID, authToken)
			srv.Fail(status)
			err := MustSender(t, options(srv)).Send(context.Background(), message("+14155550123", "hello"))
			want := "sms: " + strconv.Itoa(status) + " " + http.StatusText(status)
			if status == http.StatusTooManyRequests {
				want += ": error 20429: Too Many Requests"
			}
			// A provider's HTML error page is not kept: the status says it.
			if err == nil || switchboard.IsPermanent(err) || err.Error() != want {
				t.Errorf("Send = %v, want %q, worth retrying", err, want)
			}
		})
	}
	t.Run("RetryUnreachable", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		base, _ := url.Parse("http://" + addr)
		s := MustSender(t, sms.Options{BaseURL: base, AccountSID: accountSID, AuthToken: authToken, From: "+15551234567", Timeout: 2 * time.Second})
		err = s.Send(context.Background(), message("+14155550123", "hello"))
		if err == nil || switchboard.IsPermanent(err) || strings.Contains(err.Error(), authToken) {
			t.Errorf("Send = %v, want an error worth retrying, without the token", err)
		}
	})
	t.Run("LongBodyIsCut", func(t *testing.T) {
		srv := smstest.Start(t, accountSID, authToken)
		long := strings.Repeat("Ünïcödé 😀 ", 300)
		if err := MustSender(t, options(srv)).Send(context.Background(), message("+14155550123", long)); err != nil {
			t.Fatal(err)
		}
		got := srv.Messages()[0].Body
		if n := len(utf16.Encode([]rune(got))); n > sms.MaxBodyLength || n < sms.MaxBodyLength-3 || !strings.HasSuffix(got, "…") {
			t.Errorf("a long body was sent as %d UTF-16 units ending %q, want at most %d ending with …", n, got[len(got)-8:], sms.MaxBodyLength)
		}
	})
}

func TestTruncate(t *testing.T) {
	for _, c := range []struct {
		in   string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"one two three", 8, "one two…"},
		{"ab😀cd", 4, "ab…"}, // the emoji takes two units and does not fit with the ellipsis
	} {
		if got := sms.Truncate(c.in, c.max); got != c.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
		}
	}
}

func TestNew(t *testing.T) {
	base, _ := url.Parse("https://api.twilio.com")
	for name, opts := range map[string]sms.Options{
		"NoBaseURL":  {AccountSID: accountSID, AuthToken: authToken, From: "+15551234567"},
		"NoToken":    {BaseURL: base, AccountSID: accountSID, From: "+15551234567"},
		"NoSender":   {BaseURL: base, AccountSID: accountSID, AuthToken: authToken},
		"TwoSenders": {BaseURL: base, AccountSID: accountSID, AuthToken: authToken, From: "+15551234567", MessagingServiceSID: "MG0123456789abcdef0123456789abcdef"},
	} {
		if _, err := sms.New(opts); err == nil {
			t.Errorf("%s: New succeeded, want an error", name)
		} else if strings.Contains(err.Error(), authToken) {
			t.Errorf("%s: the error %q shows the token", name, err)
		}
	}
	s := MustSender(t, sms.Options{BaseURL: base, AccountSID: accountSID, AuthToken: authToken, From: "+15551234567"})
	if want := "https://api.twilio.com/2010-04-01/Accounts/" + accountSID + "/Messages.json"; s.Endpoint() != want {
		t.Errorf("Endpoint = %s, want %s", s.Endpoint(), want)
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
