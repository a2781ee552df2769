package switchboard

import (
	"context"
	"encoding/json"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Webhook events: the changes to endpoints, which the audit log keeps, and
// the ping an admin sends to try one.
const (
	AuditWebhookCreated = "webhook.created"
	AuditWebhookUpdated = "webhook.updated"
	AuditWebhookDeleted = "webhook.deleted"
	// EventWebhookTest is the ping of POST /api/v1/webhooks/{id}/test: it
	// goes to that endpoint alone, whatever the endpoint subscribes to.
	EventWebhookTest = "webhook.test"
)

// Limits on webhook input.
const (
	MaxWebhookURLLength         = 500 // the outbox's recipient column
	MaxWebhookDescriptionLength = 500
	MaxWebhookEvents            = 100
	MinWebhookSecretLength      = 16
	MaxWebhookSecretLength      = 200
	// WebhookSecretPrefix starts every secret Switchboard generates.
	WebhookSecretPrefix = "whsec_"
)

// Webhook is an endpoint that receives, as signed JSON, the events it
// subscribes to. Its Secret is write-only: the service returns it when it
// is made (created or rotated), never on a read.
type Webhook struct {
	ID  string
	URL string
	// Events are the event types the endpoint receives: a type
	// ("task.created"), every type of a family ("task.*"), or every type
	// ("*").
	Events      []string
	Secret      string
	Active      bool
	Description string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	Version     int
}

// Matches reports whether the endpoint subscribes to an event type.
func (w *Webhook) Matches(eventType string) bool {
	return MatchWebhookEvents(w.Events, eventType)
}

// MatchWebhookEvents reports whether one of the patterns takes an event
// type: "*" takes every type, "family.*" every type that starts with
// "family.", anything else only itself. Types that webhooks never carry
// (see WebhookCarries) are taken by none.
func MatchWebhookEvents(patterns []string, eventType string) bool {
	if !WebhookCarries(eventType) {
		return false
	}
	for _, p := range patterns {
		switch {
		case p == "*", p == eventType:
			return true
		case strings.HasSuffix(p, ".*") && strings.HasPrefix(eventType, p[:len(p)-1]):
			return true
		}
	}
	return false
}

// WebhookCarries reports whether webhooks carry events of a type. Never
// the events of the outbox itself (notification.*): a webhook about a
// delivery could fail and cause another, without end. Never the changes of
// endpoints (webhook.*): their URLs often hold a credential of the
// receiver (in the path or the query), which no other receiver may learn;
// nor a ping, which goes to the one endpoint it tries.
func WebhookCarries(eventType string) bool {
	return eventType != EventWebhookTest && !strings.HasPrefix(eventType, "notification.") && !strings.HasPrefix(eventType, "webhook.")
}

// WebhookEventTypes are the event types an endpoint can subscribe to by
// name, sorted.
func WebhookEventTypes() []string {
	types := []string{EventAgentPresenceChanged}
	for _, a := range AuditActions {
		if WebhookCarries(a) && !slices.Contains(types, a) {
			types = append(types, a)
		}
	}
	slices.Sort(types)
	return types
}

// NewWebhook is the input for creating an endpoint. Secret is optional:
// without one, a random secret is made.
type NewWebhook struct {
	URL         string
	Events      []string
	Secret      string
	Active      bool
	Description string
}

// Validate normalizes and checks the input. It checks the URL's form
// only; whether its address may be reached is the store's to check.
func (w *NewWebhook) Validate() error {
	var v Validation
	w.URL = strings.TrimSpace(w.URL)
	w.Description = strings.TrimSpace(w.Description)
	w.Events = normalizeWebhookEvents(w.Events)
	validateWebhookURL(&v, w.URL)
	validateWebhookEvents(&v, w.Events)
	if w.Secret != "" {
		validateWebhookSecret(&v, w.Secret)
	}
	validateWebhookDescription(&v, w.Description)
	return v.Err()
}

// WebhookUpdate changes an endpoint: the fields that are set. Secret sets
// a new secret; RotateSecret makes a random one.
type WebhookUpdate struct {
	URL          *string
	Events       *[]string
	Active       *bool
	Description  *string
	Secret       *string
	RotateSecret bool
	IfVersion    int
}

// Validate normalizes and checks the fields that are set.
func (u *WebhookUpdate) Validate() error {
	var v Validation
	if u.URL != nil {
		*u.URL = strings.TrimSpace(*u.URL)
		validateWebhookURL(&v, *u.URL)
	}
	if u.Events != nil {
		*u.Events = normalizeWebhookEvents(*u.Events)
		validateWebhookEvents(&v, *u.Events)
	}
	if u.Description != nil {
		*u.Description = strings.TrimSpace(*u.Description)
		validateWebhookDescription(&v, *u.Description)
	}
	if u.Secret != nil {
		validateWebhookSecret(&v, *u.Secret)
		if u.RotateSecret {
			v.Add("secret", "Give a new secret or ask for a random one, not both.")
		}
	}
	return v.Err()
}

func normalizeWebhookEvents(events []string) []string {
	out := make([]string, 0, len(events))
	for _, e := range events {
		if e = strings.TrimSpace(e); e != "" && !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out
}

func validateWebhookURL(v *Validation, raw string) {
	if _, err := ParseWebhookURL(raw); err != nil {
		v.Add("url", "%s", err.Error())
	}
}

// webhookURLError is why a URL cannot be a webhook's.
type webhookURLError string

func (e webhookURLError) Error() string { return string(e) }

// ParseWebhookURL parses an endpoint's URL and checks its form: http or
// https, a host, a port in range, no user name or password (receivers
// check the signature instead), no fragment. Whether its host may be
// reached is another check (PrivateAddress), which the operator can lift.
func ParseWebhookURL(raw string) (*url.URL, error) {
	switch {
	case raw == "":
		return nil, webhookURLError("Enter the URL the events are sent to.")
	case len(raw) > MaxWebhookURLLength:
		return nil, webhookURLError("The URL must be at most 500 characters.")
	case !ValidText(raw) || strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return nil, webhookURLError("The URL must not contain spaces or control characters.")
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, webhookURLError("This is not a URL.")
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, webhookURLError("The URL must start with https:// or http://.")
	case u.Host == "" || u.Hostname() == "":
		return nil, webhookURLError("The URL must name a host.")
	case u.User != nil:
		return nil, webhookURLError("The URL must not carry a user name or password: receivers check the signature instead.")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return nil, webhookURLError("The URL must not have a fragment (#…).")
	}
	if port := u.Port(); port != "" {
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return nil, webhookURLError("The URL's port must be a number from 1 to 65535.")
		}
	}
	return u, nil
}

// privateNetworks are the addresses a webhook must not reach unless the
// operator allows it: this host, private and shared networks, link-local
// (where clouds serve instance metadata, 169.254.169.254 and fd00:ec2::254),
// multicast, and the ranges reserved for no one.
var privateNetworks = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",       // "this network", and the unspecified address
		"10.0.0.0/8",      // private
		"100.64.0.0/10",   // carrier-grade NAT
		"127.0.0.0/8",     // loopback
		"169.254.0.0/16",  // link-local, cloud metadata
		"172.16.0.0/12",   // private
		"192.0.0.0/24",    // IETF protocol assignments
		"192.0.2.0/24",    // documentation
		"192.88.99.0/24",  // 6to4 relay
		"192.168.0.0/16",  // private
		"198.18.0.0/15",   // benchmarking
		"198.51.100.0/24", // documentation
		"203.0.113.0/24",  // documentation
		"224.0.0.0/4",     // multicast
		"240.0.0.0/4",     // reserved, and broadcast
		"::/128",          // unspecified
		"::1/128",         // loopback
		"::ffff:0:0/96",   // IPv4-mapped
		"64:ff9b::/96",    // NAT64, which reaches IPv4 behind it
		"64:ff9b:1::/48",  // local NAT64
		"100::/64",        // discard
		"2001::/32",       // Teredo
		"2001:db8::/32",   // documentation
		"2002::/16",       // 6to4, which embeds IPv4
		"fc00::/7",        // unique local, fd00:ec2::254 among them
		"fe80::/10",       // link-local
		"fec0::/10",       // site-local (deprecated)
		"ff00::/8",        // multicast
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// PrivateAddress reports whether a webhook must not reach an address
// unless the operator allows private addresses: see privateNetworks. An
// IPv4 address written as IPv6 (::ffff:10.0.0.1) is refused whatever it
// is: no endpoint needs one, and filters that miss the form are how such
// addresses slip through.
func PrivateAddress(a netip.Addr) bool {
	if !a.IsValid() {
		return true
	}
	a = a.WithZone("")
	if a.Is4In6() {
		return true
	}
	for _, p := range privateNetworks {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ErrPrivateWebhookAddress is the answer to a URL whose host is, or
// resolves to, an address webhooks may not reach.
func ErrPrivateWebhookAddress(host string) *Error {
	msg := "The URL's host " + host + " is a private, loopback or otherwise reserved address, which webhooks may not reach " +
		"(set SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE=true to allow it)."
	return &Error{Code: EINVALID, Message: msg, Fields: []FieldError{{Field: "url", Message: msg}}}
}

func validateWebhookEvents(v *Validation, events []string) {
	switch {
	case len(events) == 0:
		v.Add("events", "Choose at least one event type, or * for every one.")
		return
	case len(events) > MaxWebhookEvents:
		v.Add("events", "Choose at most %d event types.", MaxWebhookEvents)
		return
	}
	known := WebhookEventTypes()
	for _, e := range events {
		switch {
		case e == "*":
		case strings.HasSuffix(e, ".*"):
			family := e[:len(e)-1]
			if !slices.ContainsFunc(known, func(t string) bool { return strings.HasPrefix(t, family) }) {
				v.Add("events", "%q names no family of event types: use one like task.* or agent.*.", clipText(e))
			}
		case !slices.Contains(known, e):
			if !WebhookCarries(e) && ValidEventType(e) {
				v.Add("events", "Webhooks do not carry %s events.", clipText(e))
			} else {
				v.Add("events", "%q is not an event type: use one like task.created, a family like task.*, or *.", clipText(e))
			}
		}
	}
}

func validateWebhookSecret(v *Validation, secret string) {
	switch {
	case len(secret) < MinWebhookSecretLength || len(secret) > MaxWebhookSecretLength:
		v.Add("secret", "The secret must be %d to %d characters long.", MinWebhookSecretLength, MaxWebhookSecretLength)
	case strings.ContainsFunc(secret, func(r rune) bool { return r <= ' ' || r > '~' }):
		v.Add("secret", "The secret must be printable ASCII characters without spaces.")
	}
}

func validateWebhookDescription(v *Validation, d string) {
	switch {
	case len(d) > MaxWebhookDescriptionLength:
		v.Add("description", "The description must be at most %d characters.", MaxWebhookDescriptionLength)
	case !ValidText(d):
		v.Add("description", "The description must be text without NUL characters.")
	}
}

// WebhookFilter selects endpoints for a list, newest first.
type WebhookFilter struct {
	Limit  int
	Cursor string
}

// WebhookService manages the endpoints that receive events. Admins only.
type WebhookService interface {
	// FindWebhooks returns one page of endpoints, newest first, without
	// their secrets. EINVALID, EFORBIDDEN.
	FindWebhooks(ctx context.Context, filter WebhookFilter) (*Page[*Webhook], error)
	// FindWebhookByID returns an endpoint without its secret. ENOTFOUND,
	// EFORBIDDEN.
	FindWebhookByID(ctx context.Context, id string) (*Webhook, error)
	// CreateWebhook creates an endpoint and returns it with its secret, the
	// one given or a random one. EINVALID (also for a private address),
	// EFORBIDDEN.
	CreateWebhook(ctx context.Context, w NewWebhook) (*Webhook, error)
	// UpdateWebhook changes an endpoint; it returns its secret only when
	// the update changed it. EINVALID, ENOTFOUND, EFORBIDDEN,
	// EPRECONDITION.
	UpdateWebhook(ctx context.Context, id string, upd WebhookUpdate) (*Webhook, error)
	// DeleteWebhook deletes an endpoint; its deliveries stay in the log,
	// and those still waiting are given up. ENOTFOUND, EFORBIDDEN.
	DeleteWebhook(ctx context.Context, id string) error
	// TestWebhook sends the endpoint a webhook.test event through the
	// outbox and returns the notification. ENOTFOUND, ECONFLICT (the
	// endpoint is inactive), EFORBIDDEN.
	TestWebhook(ctx context.Context, id string) (*Notification, error)
}

// WebhookSecrets is the sender's side of the endpoints: the URL and secret
// of an endpoint as they are when a delivery is attempted, so that a
// rotated secret or a corrected URL applies to retries.
type WebhookSecrets interface {
	// WebhookForDelivery returns an endpoint with its secret. ENOTFOUND
	// once it is deleted.
	WebhookForDelivery(ctx context.Context, id string) (*Webhook, error)
}

// webhookBody is the JSON a webhook delivers, documented in the README:
// the event's ID, type and time, and in data what it is about, who caused
// it and what changed. It grows only by new fields.
type webhookBody struct {
	ID   string          `json:"id"`
	Type string          `json:"type"`
	Time time.Time       `json:"time"`
	Data webhookBodyData `json:"data"`
}

type webhookBodyData struct {
	Subject   webhookBodyRef `json:"subject"`
	Actor     webhookBodyRef `json:"actor"`
	Before    map[string]any `json:"before,omitempty"`
	After     map[string]any `json:"after,omitempty"`
	Data      map[string]any `json:"data,omitempty"`
	RequestID string         `json:"request_id,omitempty"`
}

type webhookBodyRef struct {
	Type string `json:"type"`
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

// WebhookBody is the JSON body of a webhook delivery of an event. Events
// carry no secrets, and neither does the body.
func WebhookBody(e *Event) ([]byte, error) {
	return json.Marshal(webhookBody{ID: e.ID, Type: e.Type, Time: e.At.UTC(), Data: webhookBodyData{
		Subject: webhookBodyRef(e.Subject), Actor: webhookBodyRef(e.Actor),
		Before: e.Before, After: e.After, Data: e.Data, RequestID: e.RequestID,
	}})
}

// CheckWebhookHost refuses a URL whose host is written as an address
// webhooks may not reach (see PrivateAddress), or is a name of this host
// (localhost). Other names are for the caller to resolve and check.
func CheckWebhookHost(u *url.URL) error {
	host := u.Hostname()
	if addr, err := netip.ParseAddr(host); err == nil {
		if PrivateAddress(addr) {
			return ErrPrivateWebhookAddress(host)
		}
		return nil
	}
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return ErrPrivateWebhookAddress(host)
	}
	// Numbers that some resolvers read as IPv4 addresses (2130706433,
	// 0x7f.1, 127.1) are names to none that matter here.
	if strings.Trim(name, "0123456789.") == "" || strings.HasPrefix(name, "0x") || strings.Contains(name, ".0x") {
		msg := "The URL's host " + host + " is neither a full IP address nor a host name."
		return &Error{Code: EINVALID, Message: msg, Fields: []FieldError{{Field: "url", Message: msg}}}
	}
	return nil
}
