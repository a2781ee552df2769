// Package server is Switchboard's HTTP surface: the REST API under /api/v1
// (with its OpenAPI contract), the server-rendered web UI, and the operational
// endpoints. Handlers are thin: they decode, call one domain service, and
// encode; rules live in the services.
package server

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/danielgtaylor/huma/v2"
	"github.com/go-chi/chi/v5"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/health"
	"github.com/switchboardhq/switchboard/internal/metrics"
)

// Deps are the services the server calls.
type Deps struct {
	Users      switchboard.UserService
	Tokens     switchboard.TokenService
	Agents     switchboard.AgentService
	Teams      switchboard.TeamService
	Enrollment switchboard.EnrollmentService
	Audit      switchboard.AuditService
	Queues     switchboard.QueueService
	Tasks      switchboard.TaskService
	Presence   switchboard.PresenceService
	Offers     switchboard.OfferService
	Completer  switchboard.TaskCompleter
	Control    switchboard.TaskControl
	Events     switchboard.EventService
	Stats      switchboard.StatsService
	// Notifications is the delivery log of the outbox.
	Notifications switchboard.NotificationService
	// Webhooks are the endpoints that receive events.
	Webhooks switchboard.WebhookService
	// Inbox is each person's in-app notifications, and the bell's count.
	Inbox switchboard.InboxService
	// Preferences are what reaches each user, and when.
	Preferences switchboard.NotificationPreferenceService
	// Auth resolves bearer tokens to actors: the token service, or a
	// cache in front of it. Tokens when nil.
	Auth interface {
		Authenticate(ctx context.Context, secret string) (*switchboard.Actor, error)
	}
	// Heartbeats takes agents' signs of life: explicit heartbeats and,
	// for an agent's token, every call.
	Heartbeats switchboard.Heartbeats
	// Broker hands out live subscriptions to new events.
	Broker       switchboard.EventBroker
	SessionStore scs.Store
	// Throttle takes one attempt from key's bucket of burst attempts,
	// refilled one per interval, and shared by every instance; when the
	// bucket is empty it returns false and the wait until the next one.
	Throttle func(ctx context.Context, key string, burst int, interval time.Duration) (bool, time.Duration, error)
	// Ready reports whether the database answers; /readyz checks it as
	// "database".
	Ready func(ctx context.Context) error
	// Health holds the other checks of /readyz: the background loops.
	// Nil: the database alone.
	Health *health.Checks
	// Metrics counts the requests and serves /metrics. Nil: neither.
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	// Now is the clock (time.Now in production).
	Now func() time.Time
}

// Options are the server's settings.
type Options struct {
	Version            string
	BaseURL            *url.URL // nil when unset
	TLS                bool     // the server terminates TLS: cookies are Secure, HSTS is sent
	SessionIdleTimeout time.Duration
	SessionLifetime    time.Duration
	TrustedProxies     []netip.Prefix
	// HeartbeatTTL is how long an agent stays present without a sign of
	// life; open pages send one a few times per TTL. 60 s when zero.
	HeartbeatTTL time.Duration
	// SetupCode, while no user exists, lets a client on another machine
	// create the first admin; without it only this machine can.
	SetupCode string
	// MetricsToken, when set, is the bearer token /metrics requires.
	MetricsToken string
	// SendsEmail says that an e-mail sender is configured: without one,
	// e-mails wait in the outbox, and "Forgot password?" warns in the log.
	SendsEmail bool
}

// Server is the HTTP handler of Switchboard.
type Server struct {
	Deps
	opts Options

	router   chi.Router
	handler  http.Handler
	api      huma.API
	sessions *scs.SessionManager
	views    *views

	// setupDone caches that a user exists; once true it stays true.
	setupDone atomic.Bool
	// background is the work that requests leave running after their
	// answer (password reset requests); Wait waits for it.
	background sync.WaitGroup
	// resetSlots bounds the password reset requests worked on at once:
	// requests from many addresses, each within its own throttle, must
	// not pile up goroutines and database connections.
	resetSlots chan struct{}
}

// maxResetRequests is how many password reset requests are worked on at
// once; more are dropped (and logged), with the same answer.
const maxResetRequests = 16

// Sign-in throttling per client address: a burst, then one attempt every
// few seconds. Per-account lockout is the database's job (UserService).
const (
	signInBurst    = 20
	signInInterval = 3 * time.Second
)

// New returns the server. It panics if the embedded templates are broken,
// which tests catch.
func New(deps Deps, opts Options) *Server {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Auth == nil {
		deps.Auth = deps.Tokens
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.SessionIdleTimeout == 0 {
		opts.SessionIdleTimeout = 2 * time.Hour
	}
	if opts.SessionLifetime == 0 {
		opts.SessionLifetime = 24 * time.Hour
	}
	s := &Server{
		Deps:       deps,
		opts:       opts,
		views:      mustParseViews(opts.Version),
		resetSlots: make(chan struct{}, maxResetRequests),
	}
	s.sessions = newSessionManager(deps.SessionStore, opts)
	s.sessions.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		s.internalError(w, r, err)
	}
	s.routes()
	return s
}

// heartbeatEvery is how often an open page sends a heartbeat: three times
// per TTL, so that one lost or late request does not take its agent
// offline.
func (s *Server) heartbeatEvery() time.Duration {
	ttl := s.opts.HeartbeatTTL
	if ttl <= 0 {
		ttl = time.Minute
	}
	return ttl / 3
}

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// sessionCookie is the name of the session cookie; over HTTPS it carries
// the __Host- prefix.
const sessionCookie = "switchboard_session"

// newSessionManager configures browser sessions: the cookie is HttpOnly and
// SameSite=Lax, Secure under TLS, and lives until the idle timeout or the
// absolute lifetime, whichever comes first. Under HTTPS its name starts with
// __Host-, with which browsers accept it only Secure, for the whole site and
// from this very host: a sibling subdomain or a plain-HTTP page on the
// network can then neither set nor overwrite it (session fixation).
func newSessionManager(store scs.Store, opts Options) *scs.SessionManager {
	m := scs.New()
	m.Store = store
	m.IdleTimeout = opts.SessionIdleTimeout
	m.Lifetime = opts.SessionLifetime
	m.Cookie.Name = sessionCookie
	if opts.secure() {
		m.Cookie.Name = "__Host-" + sessionCookie
	}
	m.Cookie.HttpOnly = true
	m.Cookie.SameSite = http.SameSiteLaxMode
	m.Cookie.Secure = opts.secure()
	m.Cookie.Path = "/"
	m.Cookie.Domain = "" // required by __Host-
	m.Cookie.Persist = true
	return m
}

// secure reports whether browsers reach the server over HTTPS, directly or
// through a proxy that terminates TLS.
func (o Options) secure() bool {
	return o.TLS || (o.BaseURL != nil && o.BaseURL.Scheme == "https")
}

// errNoBaseURL refuses to make a link for someone else without a base URL.
var errNoBaseURL = &switchboard.Error{Code: switchboard.ENOTIMPLEMENTED,
	Message: "Switchboard has no base URL, so it cannot make a link that works for others. Set SWITCHBOARD_BASE_URL " +
		"(--base-url) to its public address, like https://switchboard.example.com, or make the link on the server itself (localhost)."}

// linkOrigin returns the scheme and host of links made for other people,
// which carry a secret (invitations, password resets): the base URL, or
// without one the loopback address that a request made on this machine came
// to. Any other request's Host is the client's to choose, and a link made on
// it would send the secret wherever the client (or whoever tampered with the
// request) said.
func (s *Server) linkOrigin(ctx context.Context) (string, error) {
	if s.opts.BaseURL != nil {
		return s.opts.BaseURL.Scheme + "://" + s.opts.BaseURL.Host, nil
	}
	if isLoopback(ctx) {
		return requestOrigin(ctx), nil
	}
	return "", errNoBaseURL
}

// canMakeLinks fails with errNoBaseURL when links for other people cannot be
// made for this request: handlers that may make one check before they
// change anything.
func (s *Server) canMakeLinks(ctx context.Context) error {
	_, err := s.linkOrigin(ctx)
	return err
}

// absoluteURL makes path absolute on the public base URL, or failing that on
// the scheme and host the request came to. It is for addresses shown to the
// caller; links for others are made on linkOrigin.
func (s *Server) absoluteURL(ctx context.Context, path string) string {
	if s.opts.BaseURL != nil {
		return s.opts.BaseURL.Scheme + "://" + s.opts.BaseURL.Host + path
	}
	return requestOrigin(ctx) + path
}

// requestOrigin is the scheme and host the request of ctx came to.
func requestOrigin(ctx context.Context) string {
	if facts := factsOf(ctx); facts != nil {
		return facts.origin
	}
	return ""
}
