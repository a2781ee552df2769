package email_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/notify/email"
	"github.com/switchboardhq/switchboard/internal/notify/smtptest"
)

func newSender(tb testing.TB, host string, port int) *email.Sender {
	tb.Helper()
	s, err := email.New(email.Options{Host: host, Port: port, From: "Switchboard <ops@example.com>", TLS: email.NoTLS, Timeout: 5 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func message() *switchboard.Notification {
	return &switchboard.Notification{ID: "n1", Channel: switchboard.ChannelEmail, Recipient: "ada@example.com",
		Subject: "Hello Ada", Text: "The text body.\n", HTML: "<p>The <b>HTML</b> body.</p>", IdempotencyKey: "0123456789abcdef"}
}

func TestSend(t *testing.T) {
	srv := smtptest.Start(t, "127.0.0.1:0")
	s := newSender(t, srv.Host, srv.Port)
	n := message()
	if err := s.Send(context.Background(), n); err != nil {
		t.Fatalf("Send: %v", err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	for _, c := range []struct{ name, got, want string }{
		{"envelope from", m.From, "ops@example.com"},
		{"envelope to", strings.Join(m.To, ","), "ada@example.com"},
		{"To", m.Header.Get("To"), "<ada@example.com>"},
		{"Subject", m.Header.Get("Subject"), "Hello Ada"},
		{"Message-ID", m.Header.Get("Message-ID"), "<0123456789abcdef@example.com>"},
		{email.IdempotencyHeader, m.Header.Get(email.IdempotencyHeader), "0123456789abcdef"},
		{"text", strings.TrimSpace(m.Text), "The text body."},
		{"html", strings.TrimSpace(m.HTML), "<p>The <b>HTML</b> body.</p>"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
}

func TestSendErrors(t *testing.T) {
	t.Run("RefusedRecipientIsPermanent", func(t *testing.T) {
		srv := smtptest.Start(t, "127.0.0.1:0")
		srv.Refuse("ada@example.com")
		err := newSender(t, srv.Host, srv.Port).Send(context.Background(), message())
		if err == nil || !switchboard.IsPermanent(err) {
			t.Errorf("Send = %v, want a permanent error", err)
		}
	})
	t.Run("ServerDownIsTemporary", func(t *testing.T) {
		_, port := smtptest.FreeAddr(t)
		err := newSender(t, "127.0.0.1", port).Send(context.Background(), message())
		if err == nil || switchboard.IsPermanent(err) {
			t.Errorf("Send = %v, want an error worth retrying", err)
		}
	})
	t.Run("BadRecipientIsPermanent", func(t *testing.T) {
		n := message()
		n.Recipient = "not an address"
		err := newSender(t, "127.0.0.1", 25).Send(context.Background(), n)
		if err == nil || !switchboard.IsPermanent(err) {
			t.Errorf("Send = %v, want a permanent error", err)
		}
	})
}

func TestNew(t *testing.T) {
	for _, o := range []email.Options{
		{Host: "mail.example.com", Port: 587, From: "nobody"},
		{Host: "mail.example.com", Port: 587, From: "ops@example.com", TLS: "ssl"},
		{Port: 587, From: "ops@example.com"},
	} {
		if _, err := email.New(o); err == nil {
			t.Errorf("New(%+v) succeeded, want an error", o)
		}
	}
}
