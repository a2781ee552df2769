// Package config reads Switchboard's settings from command-line flags and
// SWITCHBOARD_* environment variables (a flag wins over its variable) and
// validates them, with messages that name the flag or variable at fault.
package config

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard"
)

// Config is every setting of the server. The zero value is not useful; use
// Load, which applies defaults.
type Config struct {
	Addr        string
	DatabaseURL string
	BaseURL     *url.URL // nil when unset
	TLSCert     string
	TLSKey      string
	LogLevel    slog.Level
	LogFormat   string // "json" or "text"

	// AutoMigrate applies pending migrations when the server starts.
	AutoMigrate bool
	// DatabaseWait is how long the server keeps trying to reach a
	// PostgreSQL or MySQL server at start (it may be starting too).
	DatabaseWait time.Duration
	// DatabaseConnections is the most connections the instance keeps
	// open to a PostgreSQL or MySQL server.
	DatabaseConnections int

	SessionIdleTimeout time.Duration
	SessionLifetime    time.Duration

	// TrustedProxies are the networks of reverse proxies whose
	// X-Forwarded-For header is believed when finding a client's address.
	TrustedProxies []netip.Prefix

	// RedisURL, when set, names a Redis server through which instances
	// wake each other's event streams.
	RedisURL string
	// EventRetention is how long events are kept for streams to resume
	// from; the audit log is kept apart, whole.
	EventRetention time.Duration

	// HeartbeatTTL is how long an agent may go unseen (no heartbeat, no
	// request of its web UI) before the sweeper takes it offline.
	HeartbeatTTL time.Duration
	// MetricsToken, when set, is the bearer token that /metrics requires.
	// It is a secret: never log it.
	MetricsToken string
	// SMTP is the mail server notifications are sent through; nil when
	// unset, and e-mails then wait in the outbox.
	SMTP *SMTP
	// NotifyTimeout bounds one attempt at delivering a notification. A
	// claimed notification whose outcome is not recorded within twice
	// that (its instance died) is delivered again.
	NotifyTimeout time.Duration
	// SMS is the text message provider; nil when unset, and text messages
	// then wait in the outbox.
	SMS *SMS
	// WebhookAllowPrivate lets webhooks reach loopback, private and
	// link-local addresses, which are refused otherwise.
	WebhookAllowPrivate bool
	// TemplatesDir, when set, is a directory of message templates that
	// replace the embedded ones of the same names.
	TemplatesDir string
}

// SMTP says how to reach a mail server. Password is a secret: it is never
// logged.
type SMTP struct {
	Host     string
	Port     int
	Username string
	Password string
	From     string // the sender's address, as given (may carry a name)
	TLS      string // "starttls" (required), "tls" (implicit, from the first byte) or "none"
}

// smtpPorts are the usual port of each TLS mode.
var smtpPorts = map[string]int{"starttls": 587, "tls": 465, "none": 25}

func parseSMTP(v string) (*SMTP, error) {
	u, err := url.Parse(v)
	if err != nil {
		// url.Parse's error repeats the URL, password and all.
		return nil, errors.New("must be a URL like smtp://user:pass@host:587?from=ops@example.com")
	}
	if u.Scheme != "smtp" {
		return nil, errors.New("must start with smtp:// (choose TLS with ?tls=starttls|tls|none)")
	}
	c := &SMTP{Host: u.Hostname(), Username: u.User.Username()}
	c.Password, _ = u.User.Password()
	if c.Host == "" {
		return nil, errors.New("names no host: use smtp://host:587?from=ops@example.com")
	}
	q := u.Query()
	c.TLS = q.Get("tls")
	if c.TLS == "" {
		c.TLS = "starttls"
	}
	if _, ok := smtpPorts[c.TLS]; !ok {
		return nil, fmt.Errorf("tls=%q: must be starttls, tls or none", c.TLS)
	}
	c.Port = smtpPorts[c.TLS]
	if p := u.Port(); p != "" {
		if c.Port, err = strconv.Atoi(p); err != nil || c.Port < 1 || c.Port > 65535 {
			return nil, fmt.Errorf("port %q is not a number from 1 to 65535", p)
		}
	}
	c.From = q.Get("from")
	if c.From == "" {
		return nil, errors.New("needs the sender's address: add ?from=ops@example.com")
	}
	if _, err := mail.ParseAddress(c.From); err != nil {
		return nil, fmt.Errorf("from=%q is not an e-mail address", c.From)
	}
	for k := range q {
		if k != "from" && k != "tls" {
			return nil, fmt.Errorf("unknown parameter %q: only from and tls are read", k)
		}
	}
	return c, nil
}

// SMS says how to reach a text message provider with a Twilio-compatible
// API. AuthToken is a secret: it is never logged.
type SMS struct {
	// BaseURL is where the API lives, scheme, host and any path prefix,
	// without the credentials: https://api.twilio.com by default.
	BaseURL    *url.URL
	AccountSID string
	AuthToken  string
	// From is the sender, an E.164 number or an alphanumeric sender ID;
	// MessagingServiceSID lets a Twilio messaging service choose instead.
	// One of them is set.
	From                string
	MessagingServiceSID string
}

var (
	// alphanumericSender is a sender ID: up to 11 letters, digits and
	// spaces, at least one a letter.
	alphanumericSender = regexp.MustCompile(`^[A-Za-z0-9 ]{1,11}$`)
	messagingService   = regexp.MustCompile(`^MG[0-9a-fA-F]{32}$`)
)

func parseSMS(v string) (*SMS, error) {
	const example = "twilio://ACCOUNT_SID:AUTH_TOKEN@api.twilio.com?from=%2B15551234567"
	u, err := url.Parse(v)
	if err != nil {
		// url.Parse's error repeats the URL, auth token and all.
		return nil, errors.New("must be a URL like " + example)
	}
	c := &SMS{AccountSID: u.User.Username()}
	c.AuthToken, _ = u.User.Password()
	switch u.Scheme {
	case "twilio":
		c.BaseURL = &url.URL{Scheme: "https"}
	case "twilio+http":
		// Plain HTTP would send the auth token in the clear: only for a
		// provider (or a test double) on this machine.
		if !isLoopbackHost(u.Hostname()) {
			return nil, errors.New("twilio+http:// is only for a provider on this machine (localhost, 127.0.0.1, [::1]); use twilio:// (HTTPS)")
		}
		c.BaseURL = &url.URL{Scheme: "http"}
	default:
		return nil, errors.New("must start with twilio:// (HTTPS), like " + example)
	}
	if c.AccountSID == "" || c.AuthToken == "" {
		return nil, errors.New("needs the account SID and auth token before the host: " + example)
	}
	if u.Hostname() == "" {
		return nil, errors.New("names no host: use api.twilio.com, or your provider's API host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("port %q is not a number from 1 to 65535", p)
		}
	}
	c.BaseURL.Host, c.BaseURL.Path = u.Host, strings.TrimSuffix(u.EscapedPath(), "/")
	if u.Fragment != "" {
		return nil, errors.New("must not have a fragment (#...)")
	}
	// A + in a query means a space; in a phone number it can only be the
	// + of E.164, so it is kept as written.
	q, err := url.ParseQuery(strings.ReplaceAll(u.RawQuery, "+", "%2B"))
	if err != nil {
		return nil, errors.New("has a query that cannot be read: write it like ?from=%2B15551234567")
	}
	for k := range q {
		if k != "from" && k != "messaging_service" {
			return nil, fmt.Errorf("unknown parameter %q: only from and messaging_service are read", k)
		}
	}
	c.From, c.MessagingServiceSID = switchboard.NormalizePhone(q.Get("from")), q.Get("messaging_service")
	switch {
	case c.From == "" && c.MessagingServiceSID == "":
		return nil, errors.New("needs the sender: add ?from=%2B15551234567 (E.164) or ?messaging_service=MG…")
	case c.From != "" && c.MessagingServiceSID != "":
		return nil, errors.New("give from or messaging_service, not both")
	case c.MessagingServiceSID != "" && !messagingService.MatchString(c.MessagingServiceSID):
		return nil, fmt.Errorf("messaging_service=%q is not a messaging service SID (MG and 32 hexadecimal digits)", c.MessagingServiceSID)
	case c.From != "" && strings.HasPrefix(c.From, "+"):
		var check switchboard.Validation
		if switchboard.ValidatePhone(&check, "from", c.From); check.Err() != nil {
			return nil, fmt.Errorf("from=%q is not an E.164 number like +15551234567", c.From)
		}
	case c.From != "" && (!alphanumericSender.MatchString(c.From) || strings.Trim(c.From, "0123456789 ") == ""):
		return nil, fmt.Errorf("from=%q is neither an E.164 number like +15551234567 nor a sender ID of up to 11 letters and digits", c.From)
	}
	return c, nil
}

// isLoopbackHost reports whether host names this machine.
func isLoopbackHost(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// TLS reports whether the server terminates TLS itself.
func (c *Config) TLS() bool { return c.TLSCert != "" }

// A Setting binds one configuration value to a flag and an environment
// variable.
type Setting struct {
	Flag    string
	Env     string
	Default string
	Usage   string
	apply   func(c *Config, value string) error
}

// The settings, grouped as subcommands use them.
var (
	Addr = &Setting{"addr", "SWITCHBOARD_ADDR", "127.0.0.1:8080", "`address` to listen on, host:port",
		func(c *Config, v string) error {
			host, port, err := net.SplitHostPort(v)
			if err != nil {
				return fmt.Errorf("must be host:port, like 127.0.0.1:8080 or :8080")
			}
			if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
				return fmt.Errorf("port %q is not a number from 0 to 65535", port)
			}
			if host != "" && net.ParseIP(host) == nil && strings.ContainsAny(host, " /") {
				return fmt.Errorf("host %q is not a host name or IP address", host)
			}
			c.Addr = v
			return nil
		}}
	Database = &Setting{"database", "SWITCHBOARD_DATABASE_URL", "sqlite:switchboard.db",
		"database `URL`: sqlite:PATH, postgres://user:pass@host:5432/db or mysql://user:pass@host:3306/db",
		func(c *Config, v string) error {
			scheme, rest, ok := strings.Cut(v, ":")
			switch strings.ToLower(scheme) {
			case "sqlite", "sqlite3", "postgres", "postgresql", "mysql", "mariadb":
			default:
				return fmt.Errorf("must start with sqlite:, postgres:// or mysql://")
			}
			if !ok || strings.TrimPrefix(rest, "//") == "" {
				return fmt.Errorf("names no database")
			}
			c.DatabaseURL = v
			return nil
		}}
	BaseURL = &Setting{"base-url", "SWITCHBOARD_BASE_URL", "",
		"public `URL` of the server, like https://switchboard.example.com, for links in messages and as a trusted origin behind a proxy",
		func(c *Config, v string) error {
			if v == "" {
				return nil
			}
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("must be an absolute http:// or https:// URL")
			}
			if strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" {
				return fmt.Errorf("must not have a path, query or fragment: Switchboard is served at the root")
			}
			u.Path = ""
			c.BaseURL = u
			return nil
		}}
	TLSCert = &Setting{"tls-cert", "SWITCHBOARD_TLS_CERT", "", "PEM certificate `file`; with --tls-key, serve HTTPS",
		func(c *Config, v string) error { c.TLSCert = v; return readable(v) }}
	TLSKey = &Setting{"tls-key", "SWITCHBOARD_TLS_KEY", "", "PEM private key `file` for --tls-cert",
		func(c *Config, v string) error { c.TLSKey = v; return readable(v) }}
	LogLevel = &Setting{"log-level", "SWITCHBOARD_LOG_LEVEL", "info", "least severe log `level` to write: debug, info, warn or error",
		func(c *Config, v string) error {
			if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
				return fmt.Errorf("must be debug, info, warn or error")
			}
			return nil
		}}
	LogFormat = &Setting{"log-format", "SWITCHBOARD_LOG_FORMAT", "text", "log `format`: text or json",
		func(c *Config, v string) error {
			if v != "text" && v != "json" {
				return fmt.Errorf("must be text or json")
			}
			c.LogFormat = v
			return nil
		}}
	AutoMigrate = &Setting{"migrate", "SWITCHBOARD_MIGRATE", "true", "apply pending database migrations at start: `true|false`",
		func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("must be true or false")
			}
			c.AutoMigrate = b
			return nil
		}}
	DatabaseWait = &Setting{"database-wait", "SWITCHBOARD_DATABASE_WAIT", "30s",
		"at start, keep trying to reach a PostgreSQL or MySQL server for up to this `duration` (0: try once)",
		func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return fmt.Errorf("must be a duration, like 30s or 2m, or 0")
			}
			c.DatabaseWait = d
			return nil
		}}
	DatabaseConnections = &Setting{"database-connections", "SWITCHBOARD_DATABASE_CONNECTIONS", "32",
		"the most connections to a PostgreSQL or MySQL server this instance keeps open, a `count` from 4 to 1000; " +
			"the instances' together must stay below the server's own limit",
		func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < MinDatabaseConnections || n > 1000 {
				return fmt.Errorf("must be a whole number from %d to 1000", MinDatabaseConnections)
			}
			c.DatabaseConnections = n
			return nil
		}}
	SessionIdleTimeout = &Setting{"session-idle-timeout", "SWITCHBOARD_SESSION_IDLE_TIMEOUT", "2h",
		"sign browsers out after this `duration` without a request",
		func(c *Config, v string) error { return positiveDuration(&c.SessionIdleTimeout, v) }}
	SessionLifetime = &Setting{"session-lifetime", "SWITCHBOARD_SESSION_LIFETIME", "24h",
		"sign browsers out this `duration` after sign-in, active or not",
		func(c *Config, v string) error { return positiveDuration(&c.SessionLifetime, v) }}
	TrustedProxies = &Setting{"trusted-proxies", "SWITCHBOARD_TRUSTED_PROXIES", "",
		"comma-separated `networks` (CIDR) of reverse proxies whose X-Forwarded-For is trusted",
		func(c *Config, v string) error {
			c.TrustedProxies = nil
			for _, s := range strings.Split(v, ",") {
				if s = strings.TrimSpace(s); s == "" {
					continue
				}
				p, err := netip.ParsePrefix(s)
				if err != nil {
					addr, aerr := netip.ParseAddr(s)
					if aerr != nil {
						return fmt.Errorf("%q is not a network like 10.0.0.0/8 or an address", s)
					}
					p = netip.PrefixFrom(addr, addr.BitLen())
				}
				c.TrustedProxies = append(c.TrustedProxies, p.Masked())
			}
			return nil
		}}
)

// Settings of the event log and its live streams.
var (
	RedisURL = &Setting{"redis-url", "SWITCHBOARD_REDIS_URL", "",
		"Redis `URL` (redis://[:password@]host:6379/0, rediss:// for TLS) through which instances wake each other's live streams; without it PostgreSQL's LISTEN/NOTIFY or a poll of the database does",
		func(c *Config, v string) error {
			if v == "" {
				c.RedisURL = ""
				return nil
			}
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
				return fmt.Errorf("must be a redis:// or rediss:// URL with a host")
			}
			c.RedisURL = v
			return nil
		}}
	EventRetention = &Setting{"event-retention", "SWITCHBOARD_EVENT_RETENTION", "168h",
		"keep events this `duration` for streams to resume from (the audit log is kept whole)",
		func(c *Config, v string) error { return positiveDuration(&c.EventRetention, v) }}
)

// Settings of monitoring.
var (
	MetricsToken = &Setting{"metrics-token", "SWITCHBOARD_METRICS_TOKEN", "",
		"`secret` that Prometheus must send as Authorization: Bearer to read /metrics (at least 16 characters; " +
			"prefer the variable, as a flag shows in the process list); without it /metrics is open",
		func(c *Config, v string) error {
			if v != "" && (len(v) < 16 || strings.ContainsAny(v, " \t\r\n")) {
				// Never the value in the message: it is a secret.
				return fmt.Errorf("must be at least 16 characters, without spaces")
			}
			c.MetricsToken = v
			return nil
		}}
)

// Settings of presence.
var (
	HeartbeatTTL = &Setting{"heartbeat-ttl", "SWITCHBOARD_HEARTBEAT_TTL", "60s",
		"take agents offline after this `duration` without a heartbeat or a request of their web UI (at least 1s)",
		func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			// Heartbeats reach the database once a second: a shorter TTL
			// would take agents offline between two of them.
			if err != nil || d < time.Second {
				return fmt.Errorf("must be a duration of at least 1s, like 60s or 2m")
			}
			c.HeartbeatTTL = d
			return nil
		}}
)

// Settings of notifications.
var (
	SMTPURL = &Setting{"smtp-url", "SWITCHBOARD_SMTP_URL", "",
		"mail server `URL` for e-mail notifications: smtp://user:pass@host:587?from=ops@example.com&tls=starttls|tls|none; without it e-mails wait",
		func(c *Config, v string) error {
			c.SMTP = nil
			if v == "" {
				return nil
			}
			smtp, err := parseSMTP(v)
			c.SMTP = smtp
			return err
		}}
	NotifyTimeout = &Setting{"notify-timeout", "SWITCHBOARD_NOTIFY_TIMEOUT", "1m",
		"give up one attempt at delivering a notification after this `duration`; one whose instance died is tried again after twice that",
		func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < time.Second || d > time.Hour {
				return fmt.Errorf("must be a duration from 1s to 1h, like 30s or 2m")
			}
			c.NotifyTimeout = d
			return nil
		}}
	SMSURL = &Setting{"sms-url", "SWITCHBOARD_SMS_URL", "",
		"text message provider `URL` (Twilio-compatible API) for SMS notifications: " +
			"twilio://ACCOUNT_SID:AUTH_TOKEN@api.twilio.com?from=%2B15551234567 (or messaging_service=MG…); without it text messages wait",
		func(c *Config, v string) error {
			c.SMS = nil
			if v == "" {
				return nil
			}
			sms, err := parseSMS(v)
			c.SMS = sms
			return err
		}}
	WebhookAllowPrivate = &Setting{"webhook-allow-private", "SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE", "false",
		"let webhooks reach loopback, private and link-local addresses: `true|false`",
		func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("must be true or false")
			}
			c.WebhookAllowPrivate = b
			return nil
		}}
	TemplatesDir = &Setting{"templates-dir", "SWITCHBOARD_TEMPLATES_DIR", "",
		"`directory` of message templates replacing the built-in ones of the same names (task_offered.txt, task_offered.sms.txt, ...)",
		func(c *Config, v string) error {
			c.TemplatesDir = v
			if v == "" {
				return nil
			}
			if fi, err := os.Stat(v); err != nil || !fi.IsDir() {
				return fmt.Errorf("%s is not a directory", v)
			}
			return nil
		}}
)

// MinDatabaseConnections is the fewest connections a server works with:
// its two committers each hold one for a transaction of changes, and a
// change that writes apart from its transaction needs a second one while
// the first is held.
const MinDatabaseConnections = 4

// ServerSettings are the settings of `switchboard serve`.
var ServerSettings = []*Setting{Addr, Database, DatabaseWait, DatabaseConnections, BaseURL, TLSCert, TLSKey, AutoMigrate,
	SessionIdleTimeout, SessionLifetime, TrustedProxies, RedisURL, EventRetention, HeartbeatTTL, MetricsToken, SMTPURL, TemplatesDir, SMSURL, WebhookAllowPrivate, NotifyTimeout, LogLevel, LogFormat}

// DatabaseSettings are the settings of commands that only use the database.
var DatabaseSettings = []*Setting{Database}

func readable(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("cannot read %s: %v", path, errors.Unwrap(err))
	}
	return f.Close()
}

func positiveDuration(dst *time.Duration, v string) error {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return fmt.Errorf("must be a positive duration, like 30m or 12h")
	}
	*dst = d
	return nil
}

// Binding holds the flags registered for some settings until Load reads them.
type Binding struct {
	fs       *flag.FlagSet
	settings []*Setting
	values   map[*Setting]*string
}

// Bind registers a flag for each setting on fs. Call it before fs.Parse and
// Load after.
func Bind(fs *flag.FlagSet, settings []*Setting) *Binding {
	b := &Binding{fs: fs, settings: settings, values: make(map[*Setting]*string)}
	for _, s := range settings {
		b.values[s] = fs.String(s.Flag, s.Default, s.Usage)
	}
	return b
}

// Load fills a Config from the parsed flags, then the environment, then the
// defaults, and validates it. The error names every bad flag or variable.
func (b *Binding) Load(getenv func(string) string) (*Config, error) {
	set := map[string]bool{}
	b.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	c := &Config{}
	// Defaults first, so that settings a command does not bind still have
	// their documented values.
	for _, s := range []*Setting{Addr, Database, LogLevel, LogFormat, AutoMigrate, SessionIdleTimeout, SessionLifetime, EventRetention, HeartbeatTTL, NotifyTimeout} {
		if err := s.apply(c, s.Default); err != nil {
			panic("config: bad default for " + s.Flag + ": " + err.Error())
		}
	}
	var errs []error
	for _, s := range b.settings {
		value, source := s.Default, "default of --"+s.Flag
		switch {
		case set[s.Flag]:
			value, source = *b.values[s], "--"+s.Flag
		case getenv(s.Env) != "":
			value, source = getenv(s.Env), s.Env
		}
		if err := s.apply(c, value); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", source, err))
		}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key must be given together"))
	}
	if c.SessionLifetime < c.SessionIdleTimeout {
		errs = append(errs, errors.New("--session-lifetime must not be shorter than --session-idle-timeout"))
	}
	return c, errors.Join(errs...)
}

// Environment returns the help text that lists the environment variables of
// settings.
func Environment(settings []*Setting) string {
	var sb strings.Builder
	for _, s := range settings {
		fmt.Fprintf(&sb, "  %-34s --%s\n", s.Env, s.Flag)
	}
	return sb.String()
}
