package server_test

import (
	"context"
	"net"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/notify"
	"github.com/switchboardhq/switchboard/internal/notify/email"
	"github.com/switchboardhq/switchboard/internal/notify/smtptest"
	"github.com/switchboardhq/switchboard/internal/server"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// resetLink finds the reset link in an e-mail.
var resetLink = regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+/reset/sbr_[A-Za-z0-9_-]+`)

// TestBrowserForgotPassword: someone who forgot their password asks for a
// link from the sign-in page, gets it by e-mail through a real SMTP server,
// opens it, chooses a new password, and signs in with it; the link then no
// longer works.
func TestBrowserForgotPassword(t *testing.T) {
	// The server's public address is the one it listens on, so that the
	// link in the e-mail leads back to it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := &url.URL{Scheme: "http", Host: ln.Addr().String()}
	db := sqlstoretest.Open(t, sqlstore.SQLite)
	ts := newTestServerListening(t, db, server.Options{BaseURL: base, SendsEmail: true}, ln)
	ts.setUp(t)
	ts.MustCreateUser(t, "grace@example.com", switchboard.RoleSupervisor)

	// E-mails leave the outbox as serve has them do: a dispatcher, here
	// to a mail server on loopback.
	mail := smtptest.Start(t, "127.0.0.1:0")
	sender, err := email.New(email.Options{Host: mail.Host, Port: mail.Port, From: "Switchboard <ops@example.com>", TLS: email.NoTLS, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	dispatcher := notify.New(sqlstore.NewNotificationService(db), map[switchboard.Channel]switchboard.Sender{switchboard.ChannelEmail: sender},
		ts.srv.Logger, notify.Options{Poll: 50 * time.Millisecond})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); dispatcher.Run(ctx) }()
	t.Cleanup(func() { stop(); <-done })

	b := newBrowserSession(t, ts.URL)
	b.do(t,
		chromedp.Navigate(ts.URL+"/signin"),
		chromedp.WaitVisible(chromedp.ID("forgot-link")),
		chromedp.Click(chromedp.ID("forgot-link")),
		chromedp.WaitVisible(chromedp.ID("f-email")),
	)
	if loc := b.location(t); loc != "/forgot" {
		t.Fatalf("Forgot password? leads to %s, want /forgot", loc)
	}
	b.do(t,
		chromedp.SendKeys(chromedp.ID("f-email"), "grace@example.com"),
		chromedp.Submit(chromedp.CSS("main form")),
		chromedp.WaitVisible(chromedp.CSS("[data-reset-sent]")),
	)
	if got := b.text(t, "[data-reset-sent]"); !strings.HasPrefix(got, "If an account exists for that address, we have sent it a link") {
		t.Errorf("after asking: %q", got)
	}

	// The e-mail arrives, with the link in both parts.
	deadline := time.Now().Add(20 * time.Second)
	for len(mail.Messages()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no e-mail within 20 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	m := mail.Messages()[0]
	link := resetLink.FindString(m.Text)
	if strings.Join(m.To, ",") != "grace@example.com" || m.Header.Get("Subject") != "Reset your Switchboard password" || link == "" ||
		!strings.Contains(m.HTML, `href="`+link+`"`) {
		t.Fatalf("e-mail to %v about %q, link %q:\n%s\n%s", m.To, m.Header.Get("Subject"), link, m.Text, m.HTML)
	}
	if !strings.HasPrefix(link, ts.URL+"/reset/") {
		t.Fatalf("the link %s is not on the server's address %s", link, ts.URL)
	}

	// The link: a new password, which signs in.
	const newPassword = "a brand new passphrase"
	b.do(t,
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.ID("f-password")),
	)
	if title, err := chromedp.Run(b.ctx, chromedp.Title()); err != nil || title != "Choose a new password · Switchboard" {
		t.Errorf("the link's page is titled %q (%v)", title, err)
	}
	b.do(t,
		chromedp.SendKeys(chromedp.ID("f-password"), newPassword),
		chromedp.SendKeys(chromedp.ID("f-password_confirm"), newPassword),
		chromedp.Submit(chromedp.CSS("main form")),
		chromedp.WaitVisible(chromedp.CSS("header.topbar")),
	)
	if got := b.text(t, ".flash-success"); !strings.Contains(got, "Your new password is set") {
		t.Errorf("after choosing a password: %q", got)
	}
	b.do(t, chromedp.Submit(chromedp.CSS(`form[action="/signout"]`)), chromedp.WaitVisible(chromedp.ID("f-email")))
	b.do(t,
		chromedp.SendKeys(chromedp.ID("f-email"), "grace@example.com"),
		chromedp.SendKeys(chromedp.ID("f-password"), newPassword),
		chromedp.Submit(chromedp.CSS("main form")),
		chromedp.WaitVisible(chromedp.CSS("header.topbar")),
	)
	if title, err := chromedp.Run(b.ctx, chromedp.Title()); err != nil || title != "Dashboard · Switchboard" {
		t.Errorf("signed in with the new password, the page is %q (%v), want the dashboard", title, err)
	}

	// Once used, the link is no more.
	b.do(t, chromedp.Navigate(link), chromedp.WaitReady(chromedp.CSS("main h1")))
	if got := b.text(t, "main"); !strings.Contains(got, "This link is not valid") {
		t.Errorf("the link opened again shows %q", got)
	}

	time.Sleep(200 * time.Millisecond) // let the last console messages arrive
	for _, p := range b.problems() {
		// The used link is a page answered with 404, which the console notes.
		if strings.HasSuffix(p, "Failed to load resource: the server responded with a status of 404 (Not Found)") {
			continue
		}
		t.Errorf("browser console: %s", p)
	}
}
