// Package sms delivers notifications by text message through an HTTP API
// compatible with Twilio's Messages resource: one form-encoded POST per
// message, authenticated with the account SID and auth token.
package sms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/switchboardhq/switchboard"
)

// MaxBodyLength is the longest message body the API takes, in UTF-16 code
// units (how Twilio counts its 1,600 characters); longer texts are cut.
const MaxBodyLength = 1600

// IdempotencyHeader carries a message's idempotency key, the same on every
// attempt at delivering it. The name is the one Twilio gives the header on
// its own requests; a provider that ignores it sends a message twice only
// when an attempt's answer was lost.
const IdempotencyHeader = "I-Twilio-Idempotency-Token"

// maxResponseBytes bounds how much of an answer is read: an error is a few
// hundred bytes of JSON, a created message a couple of kilobytes.
const maxResponseBytes = 64 << 10

// Options say how to reach the provider. AuthToken is a secret: it is never
// logged, nor put in an error.
type Options struct {
	// BaseURL is where the API lives: https://api.twilio.com, or a
	// compatible provider's address, which may end in a path prefix.
	BaseURL    *url.URL
	AccountSID string
	AuthToken  string
	// From is the sender: an E.164 number or an alphanumeric sender ID.
	// MessagingServiceSID, instead, lets a Twilio messaging service choose
	// the sender. Exactly one of them is set.
	From                string
	MessagingServiceSID string
	// Timeout bounds one request, answer included (default 30 seconds).
	Timeout time.Duration
	// Transport makes the requests; http.DefaultTransport when nil.
	Transport http.RoundTripper
}

// Sender sends notifications as text messages through one provider account.
type Sender struct {
	opts     Options
	endpoint string
	client   *http.Client
}

var _ switchboard.Sender = (*Sender)(nil)

// New checks the options and returns a Sender; it does not connect.
func New(opts Options) (*Sender, error) {
	switch {
	case opts.BaseURL == nil || opts.BaseURL.Host == "" || (opts.BaseURL.Scheme != "https" && opts.BaseURL.Scheme != "http"):
		return nil, errors.New("sms: the API needs an absolute http:// or https:// base URL")
	case opts.AccountSID == "" || opts.AuthToken == "":
		return nil, errors.New("sms: the API needs an account SID and an auth token")
	case (opts.From == "") == (opts.MessagingServiceSID == ""):
		return nil, errors.New("sms: give either a sender (from) or a messaging service SID, not both")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	base := *opts.BaseURL
	base.User, base.RawQuery, base.Fragment = nil, "", ""
	endpoint := strings.TrimSuffix(base.String(), "/") + "/2010-04-01/Accounts/" + url.PathEscape(opts.AccountSID) + "/Messages.json"
	client := &http.Client{
		Transport: opts.Transport,
		Timeout:   opts.Timeout,
		// A redirect would replay the credentials elsewhere; the API
		// never asks for one.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &Sender{opts: opts, endpoint: endpoint, client: client}, nil
}

// Endpoint is the URL messages are posted to.
func (s *Sender) Endpoint() string { return s.endpoint }

// Send posts n as one message to n.Recipient. A recipient that is not an
// E.164 number, and a request the provider refuses (4xx, but for 408 and
// 429), are permanent failures; a provider that is down, slow or busy is
// worth another attempt.
func (s *Sender) Send(ctx context.Context, n *switchboard.Notification) error {
	to := switchboard.NormalizePhone(n.Recipient)
	var v switchboard.Validation
	switchboard.ValidatePhone(&v, "to", to)
	if to == "" || v.Err() != nil {
		return switchboard.Permanent(fmt.Errorf("sms: recipient %q is not an international (E.164) phone number", n.Recipient))
	}
	body := n.Text
	if strings.TrimSpace(body) == "" {
		body = n.Subject
	}
	if strings.TrimSpace(body) == "" {
		return switchboard.Permanent(errors.New("sms: the message is empty"))
	}
	form := url.Values{"To": {to}, "Body": {Truncate(body, MaxBodyLength)}}
	if s.opts.MessagingServiceSID != "" {
		form.Set("MessagingServiceSid", s.opts.MessagingServiceSID)
	} else {
		form.Set("From", s.opts.From)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("sms: %w", err)
	}
	req.SetBasicAuth(s.opts.AccountSID, s.opts.AuthToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if n.IdempotencyKey != "" {
		req.Header.Set(IdempotencyHeader, n.IdempotencyKey)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("sms: %w", err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	// Whatever is left is read away, so that the connection is reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case err != nil:
		return fmt.Errorf("sms: reading the answer (%s): %w", resp.Status, err)
	}
	refusal := fmt.Errorf("sms: %s", describe(resp.Status, answer))
	if resp.StatusCode >= 400 && resp.StatusCode < 500 &&
		resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusRequestTimeout {
		return switchboard.Permanent(refusal)
	}
	return refusal
}

// apiError is the body of the API's error answers.
type apiError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
}

// describe says what an error answer said: the API's error code and
// message when it sent them, else the status alone (an HTML page from a
// proxy says nothing worth keeping).
func describe(status string, answer []byte) string {
	var e apiError
	if json.Unmarshal(answer, &e) != nil || (e.Code == 0 && e.Message == "") {
		return status
	}
	msg := Truncate(strings.Join(strings.Fields(e.Message), " "), 300)
	if e.Code == 0 {
		return status + ": " + msg
	}
	return fmt.Sprintf("%s: error %d: %s", status, e.Code, msg)
}

// Truncate cuts text to at most max UTF-16 code units, at a character
// boundary, ending it with "…" when it had to be cut.
func Truncate(text string, max int) string {
	if utf16Len(text) <= max {
		return text
	}
	const ellipsis = "…"
	budget := max - utf16Len(ellipsis)
	var sb strings.Builder
	for _, r := range text {
		n := utf16.RuneLen(r)
		if n < 0 {
			n = 1 // an invalid rune is sent as U+FFFD, one unit
		}
		if budget < n {
			break
		}
		budget -= n
		sb.WriteRune(r)
	}
	return strings.TrimRight(sb.String(), " \t\r\n") + ellipsis
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if l := utf16.RuneLen(r); l > 0 {
			n += l
		} else {
			n++
		}
	}
	return n
}
