package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/switchboardhq/switchboard"
)

type ctxKey int

const (
	requestFactsKey ctxKey = iota
)

// requestFacts are what the handlers and middleware of a request may need
// to know of how it arrived and who made it, in one context value rather
// than one each: every context value costs each request a copy of it.
type requestFacts struct {
	origin   string // the scheme and host the request came to
	loopback bool   // see fromLoopback
	// sessionLoaded says that the session middleware ran, so that code
	// shared with session-less routes knows whether it may use it.
	sessionLoaded bool
	// actor is who made the request, once authenticate found out, for
	// the log line written after it.
	actor *switchboard.Actor
}

func factsOf(ctx context.Context) *requestFacts {
	facts, _ := ctx.Value(requestFactsKey).(*requestFacts)
	return facts
}

// markSessionLoaded notes that the session middleware ran (see
// requestFacts.sessionLoaded).
func markSessionLoaded(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if facts := factsOf(r.Context()); facts != nil {
			facts.sessionLoaded = true
		}
		next.ServeHTTP(w, r)
	})
}

// sessionLoaded reports whether the session of the request of ctx was
// loaded: false on routes without sessions, like a 404 for an unknown path.
func sessionLoaded(ctx context.Context) bool {
	facts := factsOf(ctx)
	return facts != nil && facts.sessionLoaded
}

func requestIDFrom(ctx context.Context) string {
	return switchboard.RequestInfoFromContext(ctx).ID
}

// requestInfo gives every request an ID (kept from X-Request-ID when a proxy
// sent a sane one), finds the client's address, and puts both in the context
// for logs and the audit trail.
func (s *Server) requestInfo(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if !validRequestID(id) {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header()["X-Request-Id"] = []string{id}
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		ctx := context.WithValue(r.Context(), requestFactsKey, &requestFacts{origin: scheme + "://" + r.Host, loopback: fromLoopback(r)})
		ctx = switchboard.NewContextWithRequestInfo(ctx, switchboard.RequestInfo{
			ID:        id,
			IP:        s.clientIP(r),
			UserAgent: truncate(r.UserAgent(), 256),
		})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// fromLoopback reports whether a request was made on this machine: from a
// loopback address, to a loopback host name or address, and not relayed by
// a proxy (which says so in a forwarding header). That is the operator at
// the server's console or through an SSH tunnel. A proxy on this machine
// that adds no forwarding header makes every request look local; the
// README asks for one.
func fromLoopback(r *http.Request) bool {
	peer, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	if addr, err := netip.ParseAddr(peer); err != nil || !addr.Unmap().IsLoopback() {
		return false
	}
	for _, h := range []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Real-Ip"} {
		if _, ok := r.Header[h]; ok {
			return false
		}
	}
	return isLoopbackHost(hostName(r.Host))
}

// isLoopback reports whether the request that ctx belongs to was made on
// this machine (see fromLoopback).
func isLoopback(ctx context.Context) bool {
	facts := factsOf(ctx)
	return facts != nil && facts.loopback
}

// hostName returns the host of a Host header, without port, brackets or a
// final dot, in lower case.
func hostName(hostport string) string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	return strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
}

// isLoopbackHost reports whether a host name or address always means this
// machine: localhost, a name under .localhost (RFC 6761), 127.0.0.0/8 or ::1.
func isLoopbackHost(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Unmap().IsLoopback()
}

// checkHost refuses requests addressed to a host name that is not
// Switchboard's. A web page can give its own domain name the address of
// this server (DNS rebinding) and then call it from the operator's browser
// as its own origin, which same-origin rules and cross-origin protection
// allow: it could claim set-up before the first admin exists, from inside
// the operator's network, and read what the server tells anyone. The Host
// header still carries the page's domain, and that is what is refused here.
//
// Accepted are the base URL's host name, loopback names and addresses, and
// any IP address: a domain can be rebound, an address cannot, and an
// address is how a server without a base URL is reached from elsewhere
// (and how some proxies address it). Probes of /healthz and /readyz are
// answered whatever the host, as load balancers and orchestrators address
// an instance by names of their own; so is /metrics for the same reason,
// but only when it requires its token, which a rebinding page cannot send.
func (s *Server) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.knownHost(r.Host) || r.URL.Path == "/healthz" || r.URL.Path == "/readyz" ||
			(r.URL.Path == "/metrics" && s.opts.MetricsToken != "") {
			next.ServeHTTP(w, r)
			return
		}
		msg := "Switchboard does not answer to the host name " + truncate(hostName(r.Host), 100) + ". "
		if s.opts.BaseURL != nil {
			msg += "Use " + s.opts.BaseURL.Scheme + "://" + s.opts.BaseURL.Host + "."
		} else {
			msg += "Set SWITCHBOARD_BASE_URL (--base-url) to the URL people use to reach it, or use its IP address."
		}
		s.renderError(w, r, http.StatusMisdirectedRequest, msg)
	})
}

// knownHost reports whether Switchboard answers to a Host header.
func (s *Server) knownHost(hostport string) bool {
	host := hostName(hostport)
	switch {
	case host == "":
		return true // HTTP/1.0 without Host: no browser sends that, so no rebinding either
	case s.opts.BaseURL != nil && host == hostName(s.opts.BaseURL.Host):
		return true
	case isLoopbackHost(host):
		return true
	}
	_, err := netip.ParseAddr(host)
	return err == nil
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// clientIP returns the address of the client. X-Forwarded-For is believed
// only as far as it was written by trusted proxies: walking from the right,
// the first address not in a trusted network is the client.
func (s *Server) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil || !s.trusted(addr) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		addr = hop.Unmap()
		if !s.trusted(addr) {
			break
		}
	}
	return addr.String()
}

func (s *Server) trusted(addr netip.Addr) bool {
	for _, p := range s.opts.TrustedProxies {
		if p.Contains(addr.Unmap()) {
			return true
		}
	}
	return false
}

// statusRecorder remembers the status and size of a response for the log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusRecorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer (for flushing
// and deadlines).
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// heartbeatRoute is the route agents call most.
const heartbeatRoute = "/api/v1/agent/heartbeat"

// logRequests writes one log line per request, after it is served, with the
// route pattern rather than the path so that lines group by endpoint. It
// never logs headers, bodies or query strings, where secrets travel.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			var actor *switchboard.Actor
			if facts := factsOf(r.Context()); facts != nil {
				actor = facts.actor
			}
			route := "unmatched"
			if rctx := chi.RouteContext(r.Context()); rctx != nil && rctx.RoutePattern() != "" {
				route = rctx.RoutePattern()
			}
			level := slog.LevelInfo
			switch {
			case rec.status >= 500:
				level = slog.LevelError
			case strings.HasPrefix(r.URL.Path, "/static/") || r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || r.URL.Path == "/metrics":
				level = slog.LevelDebug
			case route == heartbeatRoute && rec.status < 300:
				// A fleet sends thousands a second: they are counted in
				// the metrics, and only their failures are worth a line.
				level = slog.LevelDebug
			}
			if !s.Logger.Enabled(r.Context(), level) {
				return // before the line's attributes are made
			}
			s.Logger.LogAttrs(r.Context(), level, "request",
				slog.String("method", r.Method),
				slog.String("route", route),
				slog.String("path", redactSecrets(r.URL.Path)),
				slog.Int("status", rec.status),
				slog.Int("bytes", rec.bytes),
				slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
				slog.String("actor", actor.String()),
				slog.String("ip", switchboard.RequestInfoFromContext(r.Context()).IP),
				slog.String("request_id", requestIDFrom(r.Context())),
			)
		}()
		next.ServeHTTP(rec, r)
	})
}

// observeRequests counts every request in the metrics, by route pattern,
// /metrics included. Placed after logRequests, it reads the status from
// the recorder that logRequests made, and allocates nothing of its own:
// it runs on every heartbeat.
func (s *Server) observeRequests(next http.Handler) http.Handler {
	if s.Metrics == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec, ok := w.(*statusRecorder)
		if !ok {
			rec = &statusRecorder{ResponseWriter: w}
		}
		next.ServeHTTP(rec, r)
		route := ""
		if rctx := chi.RouteContext(r.Context()); rctx != nil {
			route = rctx.RoutePattern()
		}
		s.Metrics.ObserveRequest(r.Method, route, rec.status, time.Since(start))
	})
}

// recoverPanics turns a panic in a handler into a logged error with a stack
// and a 500 answer that reveals nothing of it.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.Logger.ErrorContext(r.Context(), "panic serving request",
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()),
				"method", r.Method, "path", r.URL.Path, "request_id", requestIDFrom(r.Context()))
			if rec, ok := w.(*statusRecorder); ok && rec.status != 0 {
				return // too late for a clean answer; the client sees a cut response
			}
			s.renderError(w, r, http.StatusInternalServerError, "An internal error has occurred.")
		}()
		next.ServeHTTP(w, r)
	})
}

// contentSecurityPolicy allows nothing inline and nothing from elsewhere.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// responseHeaders are the headers every response carries, their names in
// canonical form. A response gets these very value slices rather than
// copies (one allocation fewer per header and request): an Add to one of
// them appends to a full slice, which copies it, so none is ever changed.
var responseHeaders = http.Header{
	"Content-Security-Policy":    {contentSecurityPolicy},
	"X-Content-Type-Options":     {"nosniff"},
	"Referrer-Policy":            {"same-origin"},
	"X-Frame-Options":            {"DENY"},
	"Cross-Origin-Opener-Policy": {"same-origin"},
	"Permissions-Policy":         {"camera=(), microphone=(), geolocation=()"},
}

var (
	strictTransportSecurity = []string{"max-age=31536000; includeSubDomains"}
	noStore                 = []string{"no-store"} // shared as responseHeaders are
)

// securityHeaders sets the headers every response carries.
func (s *Server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for name, values := range responseHeaders {
			h[name] = values
		}
		if r.TLS != nil || s.opts.secure() {
			h["Strict-Transport-Security"] = strictTransportSecurity
		}
		next.ServeHTTP(w, r)
	})
}

// authenticate finds the actor of a request: from an Authorization: Bearer
// token, else from the browser session. A bad token is refused at once; no
// credentials at all leaves the request anonymous for the routes to judge.
// Responses to signed-in requests must not be cached anywhere.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		var actor *switchboard.Actor
		if h := r.Header.Get("Authorization"); h != "" {
			scheme, secret, _ := strings.Cut(h, " ")
			if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
				w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard"`)
				writeProblem(w, r, http.StatusUnauthorized, "The Authorization header must be: Bearer <token>.")
				return
			}
			a, err := s.Auth.Authenticate(ctx, strings.TrimSpace(secret))
			if err != nil {
				if switchboard.ErrorCode(err) != switchboard.EUNAUTHORIZED {
					s.internalError(w, r, err)
					return
				}
				w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard", error="invalid_token"`)
				writeProblem(w, r, http.StatusUnauthorized, switchboard.ErrorMessage(err))
				return
			}
			actor = a
			if a.Agent != nil {
				// Any call of an agent is a sign of life; buffered, it
				// costs no write of its own.
				s.Heartbeats.Touch(a.Agent.ID)
			}
		} else if id := s.sessions.GetString(ctx, sessionUserID); id != "" {
			a, err := s.Users.AuthenticateSession(ctx, id, s.sessions.GetInt(ctx, sessionAuthVersion))
			switch {
			case err == nil:
				actor = a
			case switchboard.ErrorCode(err) == switchboard.EUNAUTHORIZED:
				// The user was disabled or changed credentials: the
				// session is void. Forget it rather than fail the request.
				if err := s.sessions.Destroy(ctx); err != nil {
					s.internalError(w, r, err)
					return
				}
			default:
				s.internalError(w, r, err)
				return
			}
		}
		if actor != nil {
			w.Header()["Cache-Control"] = noStore
			ctx = switchboard.NewContextWithActor(ctx, actor)
			if facts := factsOf(ctx); facts != nil {
				facts.actor = actor
			}
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// requireSetup keeps everything but set-up, static files and health checks
// out of reach until the first admin exists.
func (s *Server) requireSetup(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		done, err := s.isSetUp(r.Context())
		if err != nil {
			s.internalError(w, r, err)
			return
		}
		if done {
			next.ServeHTTP(w, r)
			return
		}
		switch p := r.URL.Path; {
		case p == "/setup", p == "/api/v1/setup", p == "/api/v1/openapi.json", p == "/api/v1/openapi.yaml", strings.HasPrefix(p, "/static/"):
			next.ServeHTTP(w, r)
		case wantsHTML(r) && (r.Method == http.MethodGet || r.Method == http.MethodHead):
			http.Redirect(w, r, "/setup", http.StatusSeeOther)
		default:
			writeProblem(w, r, http.StatusForbidden, "Switchboard is not set up yet: create the first admin at /setup or with POST /api/v1/setup.")
		}
	})
}

// isSetUp reports whether a user exists. Once one does, set-up can never be
// needed again, so the answer is cached from then on.
func (s *Server) isSetUp(ctx context.Context) (bool, error) {
	if s.setupDone.Load() {
		return true, nil
	}
	n, err := s.Users.CountUsers(ctx)
	if err != nil {
		return false, err
	}
	if n > 0 {
		s.setupDone.Store(true)
	}
	return n > 0, nil
}

// allowSignInAttempt applies the per-address throttle to credential checks.
func (s *Server) allowSignInAttempt(ctx context.Context) error {
	return s.allowAttempt(ctx, "signin", signInBurst, signInInterval,
		"Too many sign-in attempts from your address; wait a little and try again.")
}

// allowAttempt takes one attempt from the client address's bucket of kind.
func (s *Server) allowAttempt(ctx context.Context, kind string, burst int, interval time.Duration, refusal string) error {
	ok, wait, err := s.Throttle(ctx, kind+":"+switchboard.RequestInfoFromContext(ctx).Network(), burst, interval)
	if err != nil || ok {
		return err
	}
	return &switchboard.Error{Code: switchboard.ERATELIMIT, RetryAfter: wait, Message: refusal}
}

// secretPrefixes start every secret Switchboard makes; a path segment that
// starts with one (an invitation or reset link) must not reach the log.
var secretPrefixes = []string{switchboard.InvitationPrefix, switchboard.PasswordResetPrefix, switchboard.PersonalTokenPrefix,
	switchboard.AgentTokenPrefix, switchboard.EnrollmentKeyPrefix}

// redactSecrets replaces the secret segments of a path with "[secret]".
func redactSecrets(path string) string {
	segments := strings.Split(path, "/")
	for i, seg := range segments {
		for _, p := range secretPrefixes {
			if strings.HasPrefix(seg, p) {
				segments[i] = "[secret]"
			}
		}
	}
	return strings.Join(segments, "/")
}
