// Package email delivers notifications by e-mail over SMTP.
package email

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/switchboardhq/switchboard"
)

// TLS modes of the connection to the mail server.
const (
	STARTTLS = "starttls" // upgrade a plain connection, and refuse a server that cannot
	TLS      = "tls"      // TLS from the first byte (port 465)
	NoTLS    = "none"     // plain text: a relay on the same host or network
)

// Options say how to reach the mail server. Password is a secret: it is
// never logged.
type Options struct {
	Host     string
	Port     int
	Username string // empty: no authentication
	Password string
	From     string // the sender, "ops@example.com" or "Ops <ops@example.com>"
	TLS      string
	// Timeout bounds the connection and each command; a delivery as a
	// whole is bounded by its context.
	Timeout time.Duration
}

// IdempotencyHeader carries a message's idempotency key: the same on every
// attempt at delivering it.
const IdempotencyHeader = "X-Switchboard-Idempotency-Key"

// Sender sends notifications through one mail server, one connection per
// message: notifications are few, and a connection kept open would need
// watching for the server closing it.
type Sender struct {
	opts   Options
	from   *mail.Address
	domain string // of the From address, for Message-IDs
}

var _ switchboard.Sender = (*Sender)(nil)

// New checks the options and returns a Sender; it does not connect.
func New(opts Options) (*Sender, error) {
	from, err := mail.ParseAddress(opts.From)
	if err != nil {
		return nil, fmt.Errorf("email: from %q is not an e-mail address", opts.From)
	}
	switch opts.TLS {
	case "":
		opts.TLS = STARTTLS
	case STARTTLS, TLS, NoTLS:
	default:
		return nil, fmt.Errorf("email: TLS mode %q is not starttls, tls or none", opts.TLS)
	}
	if opts.Host == "" || opts.Port <= 0 {
		return nil, errors.New("email: the mail server needs a host and a port")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	_, domain, _ := strings.Cut(from.Address, "@")
	return &Sender{opts: opts, from: from, domain: domain}, nil
}

// client makes a client for one delivery.
func (s *Sender) client() (*gomail.Client, error) {
	opts := []gomail.Option{gomail.WithPort(s.opts.Port), gomail.WithTimeout(s.opts.Timeout)}
	switch s.opts.TLS {
	case STARTTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLS:
		opts = append(opts, gomail.WithSSL())
	case NoTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if s.opts.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.opts.Username), gomail.WithPassword(s.opts.Password))
	}
	return gomail.NewClient(s.opts.Host, opts...)
}

// MessageID is the Message-ID of a notification: made from its idempotency
// key, so that every attempt sends the same one and a mailbox that gets
// the message twice can tell it is one message.
func (s *Sender) MessageID(n *switchboard.Notification) string {
	return n.IdempotencyKey + "@" + s.domain
}

// Send delivers n as a multipart message, plain text and HTML. A recipient
// the server refuses for good is a permanent failure; anything else may
// work later.
func (s *Sender) Send(ctx context.Context, n *switchboard.Notification) error {
	m := gomail.NewMsg()
	if err := m.FromFormat(s.from.Name, s.from.Address); err != nil {
		return fmt.Errorf("email: from: %w", err)
	}
	if err := m.To(n.Recipient); err != nil {
		return switchboard.Permanent(fmt.Errorf("email: recipient %q is not an e-mail address", n.Recipient))
	}
	m.Subject(n.Subject)
	m.SetMessageIDWithValue(s.MessageID(n))
	m.SetGenHeader(gomail.Header(IdempotencyHeader), n.IdempotencyKey)
	m.SetDate()
	m.SetBodyString(gomail.TypeTextPlain, n.Text)
	if n.HTML != "" {
		m.AddAlternativeString(gomail.TypeTextHTML, n.HTML)
	}
	c, err := s.client()
	if err != nil {
		return fmt.Errorf("email: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, m); err != nil {
		var sendErr *gomail.SendError
		if errors.As(err, &sendErr) && sendErr.Reason == gomail.ErrSMTPRcptTo && !sendErr.IsTemp() {
			return switchboard.Permanent(fmt.Errorf("email: %w", err))
		}
		return fmt.Errorf("email: %w", err)
	}
	return nil
}
