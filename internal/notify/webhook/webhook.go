// Package webhook delivers notifications to webhook endpoints: a JSON POST
// signed with the endpoint's secret, over connections that refuse private
// addresses (server-side request forgery), checked when an endpoint is
// saved and again on every connection, after DNS has answered.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/switchboardhq/switchboard"
)

// The headers of a delivery. The README tells receivers how to check them.
const (
	EventIDHeader     = "Switchboard-Event-Id"
	TimestampHeader   = "Switchboard-Timestamp"
	SignatureHeader   = "Switchboard-Signature"
	IdempotencyHeader = "Idempotency-Key"
	UserAgent         = "Switchboard-Webhook/1"
)

// Sign is the signature of a delivery: "v1=" and the hex HMAC-SHA256, with
// the endpoint's secret, of the timestamp, a dot and the body.
func Sign(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

// Resolver finds the addresses of a host name; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Guard keeps webhooks away from private addresses (see
// switchboard.PrivateAddress) unless AllowPrivate is set.
type Guard struct {
	AllowPrivate bool
	// Resolver resolves the host of a URL being saved; net.DefaultResolver
	// when nil.
	Resolver Resolver
}

// CheckURL refuses an endpoint's URL whose host is, or resolves to, a
// private address, or does not resolve at all. It is what the store
// checks when an endpoint is saved; connections are checked again
// (Control), since what a name resolves to can change.
func (g *Guard) CheckURL(ctx context.Context, u *url.URL) error {
	if g.AllowPrivate {
		return nil
	}
	if err := switchboard.CheckWebhookHost(u); err != nil {
		return err
	}
	host := u.Hostname()
	if _, err := netip.ParseAddr(host); err == nil {
		return nil // an address, checked above
	}
	var r Resolver = net.DefaultResolver
	if g.Resolver != nil {
		r = g.Resolver
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		msg := "The URL's host " + host + " could not be found in DNS."
		return &switchboard.Error{Code: switchboard.EINVALID, Message: msg, Fields: []switchboard.FieldError{{Field: "url", Message: msg}}}
	}
	for _, a := range addrs {
		if switchboard.PrivateAddress(a) {
			return switchboard.ErrPrivateWebhookAddress(host + " (" + a.String() + ")")
		}
	}
	return nil
}

// errPrivateAddress is why a connection was refused.
type errPrivateAddress struct{ addr string }

func (e *errPrivateAddress) Error() string {
	return "refused to connect to " + e.addr + ": a private, loopback or otherwise reserved address " +
		"(set SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE=true to allow it)"
}

// Control is a net.Dialer's Control: it refuses a connection to a private
// address just before it is made, whatever name led there, so that a name
// that resolved to a public address when the endpoint was saved cannot
// resolve to a private one now (DNS rebinding).
func (g *Guard) Control(_, address string, _ syscall.RawConn) error {
	if g.AllowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil || switchboard.PrivateAddress(ap.Addr()) {
		return &errPrivateAddress{addr: address}
	}
	return nil
}

// Options tune a Sender. The zero value of each field is its default.
type Options struct {
	// Timeout bounds one attempt, connection to response headers and the
	// bounded read of the body (default 10 seconds).
	Timeout time.Duration
	// Guard decides which addresses may be reached; private ones are
	// refused when nil.
	Guard *Guard
	// Now is the clock of the timestamp (time.Now by default).
	Now func() time.Time
}

// maxResponseBytes is how much of an endpoint's answer is read: enough to
// keep the connection for the next delivery, and a line of it for the
// log.
const maxResponseBytes = 64 << 10

// Sender delivers webhook notifications.
type Sender struct {
	endpoints switchboard.WebhookSecrets
	client    *http.Client
	now       func() time.Time
}

var _ switchboard.Sender = (*Sender)(nil)

// New returns a Sender that finds each delivery's endpoint in endpoints.
func New(endpoints switchboard.WebhookSecrets, opts Options) *Sender {
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Guard == nil {
		opts.Guard = &Guard{}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	dialer := &net.Dialer{Timeout: opts.Timeout, Control: opts.Guard.Control}
	transport := &http.Transport{
		// Never through a proxy from the environment: the guard would
		// check the proxy's address, not the endpoint's.
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   opts.Timeout,
		ResponseHeaderTimeout: opts.Timeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
	}
	client := &http.Client{
		Transport: transport,
		Timeout:   opts.Timeout,
		// A redirect is an answer that is not 2xx: it could lead anywhere,
		// and the endpoint's owner should fix the URL instead.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &Sender{endpoints: endpoints, client: client, now: opts.Now}
}

// errEndpointDeleted is the last error of a delivery whose endpoint was
// deleted before it could be made.
var errEndpointDeleted = errors.New("the webhook endpoint was deleted")

// Send posts n's body to its endpoint, signed with the endpoint's secret
// as it is now: a secret rotated since the first attempt signs the retry.
func (s *Sender) Send(ctx context.Context, n *switchboard.Notification) error {
	if n.WebhookID == "" {
		return switchboard.Permanent(errEndpointDeleted)
	}
	w, err := s.endpoints.WebhookForDelivery(ctx, n.WebhookID)
	switch {
	case switchboard.ErrorCode(err) == switchboard.ENOTFOUND:
		return switchboard.Permanent(errEndpointDeleted)
	case err != nil:
		return fmt.Errorf("finding the webhook endpoint: %w", err)
	case !w.Active:
		return switchboard.Permanent(errors.New("the webhook endpoint is inactive"))
	}
	body := []byte(n.Text)
	timestamp := strconv.FormatInt(s.now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return switchboard.Permanent(fmt.Errorf("the endpoint's URL: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set(EventIDHeader, n.EventID)
	req.Header.Set(TimestampHeader, timestamp)
	req.Header.Set(SignatureHeader, Sign(w.Secret, timestamp, body))
	req.Header.Set(IdempotencyHeader, n.IdempotencyKey)
	resp, err := s.client.Do(req)
	if err != nil {
		var private *errPrivateAddress
		if errors.As(err, &private) {
			return switchboard.Permanent(private)
		}
		return fmt.Errorf("POST: %w", unwrapURLError(err))
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	msg := "the endpoint answered " + resp.Status
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		msg += " (redirects are not followed: correct the URL)"
	}
	if line := firstLine(answer); line != "" {
		msg += ": " + line
	}
	return errors.New(msg)
}

// unwrapURLError drops the method and URL that *url.Error adds: the log
// has the endpoint already, and its URL may carry a token in its query.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return errors.New("timed out")
		}
		return ue.Err
	}
	return err
}

// firstLine is the start of an endpoint's answer, printable, for the
// delivery log.
func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	s = strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return -1
		}
		return r
	}, s)
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "…"
	}
	return s
}
