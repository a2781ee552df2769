package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/authcache"
	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/events"
	"github.com/switchboardhq/switchboard/internal/health"
	"github.com/switchboardhq/switchboard/internal/heartbeat"
	"github.com/switchboardhq/switchboard/internal/metrics"
	"github.com/switchboardhq/switchboard/internal/notify"
	"github.com/switchboardhq/switchboard/internal/notify/compose"
	"github.com/switchboardhq/switchboard/internal/notify/email"
	"github.com/switchboardhq/switchboard/internal/notify/sms"
	"github.com/switchboardhq/switchboard/internal/notify/webhook"
	"github.com/switchboardhq/switchboard/internal/server"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
)

func runServe(ctx context.Context, e env, args []string) error {
	fs := newFlagSet("serve", help{
		usage: "switchboard serve [flags]",
		description: "Runs the server: the web UI, the REST API under /api/v1, /healthz, /readyz and\n" +
			"Prometheus /metrics.\n" +
			"With no configuration it listens on 127.0.0.1:8080 and keeps its data in\n" +
			"switchboard.db (SQLite) in the working directory, migrating it as needed.",
		settings: config.ServerSettings,
	}, e.stdout)
	binding := config.Bind(fs, config.ServerSettings)
	if help, err := parse(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("serve: unexpected argument %q", fs.Arg(0))
	}
	cfg, err := binding.Load(e.getenv)
	if err != nil {
		return usagef("serve: %v", err)
	}
	logger := newLogger(e.stderr, cfg)
	tuneGC(e.getenv)

	db, err := openDatabase(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer db.Close()
	// Every change looks up the webhook endpoints in memory; they are read
	// here, before any change, so that no first change has to wait for
	// them while it holds a connection.
	if err := db.LoadWebhooks(ctx); err != nil {
		return fmt.Errorf("reading the webhook endpoints: %w", err)
	}

	// The background loops report to checks, which /readyz and the
	// metrics read; the metrics count the events this instance commits.
	checks := health.New(time.Now)
	m := metrics.New(metrics.Options{Source: db, Workers: checks.Workers, Logger: logger})
	// Bearer tokens resolve from memory; the event log ends cached entries
	// on every instance when a token, agent, user or team changes.
	tokens := sqlstore.NewTokenService(db)
	auth := authcache.New(tokens, authcache.DefaultTTL, nil)
	hub, stopEvents, err := startEvents(ctx, cfg, db, auth, checks, m, logger)
	if err != nil {
		return err
	}
	defer stopEvents()
	m.WatchSubscribers(hub.Subscribers)

	// Heartbeats are written in batches; the last flush happens once the
	// HTTP server has finished its requests.
	beats := heartbeat.New(db, heartbeat.Options{Logger: logger, Observer: m, TTL: cfg.HeartbeatTTL,
		Liveness: checks.Worker("heartbeats", heartbeat.DefaultInterval)})
	beatsCtx, stopBeats := context.WithCancel(context.WithoutCancel(ctx))
	beatsDone := make(chan struct{})
	go func() { defer close(beatsDone); beats.Run(beatsCtx) }()
	defer func() { stopBeats(); <-beatsDone }()

	stopTimeouts := runTimeouts(ctx, sqlstore.NewOfferService(db), sqlstore.NewTaskService(db),
		checks.Worker("timeouts", offerTimeoutTick), logger)
	defer stopTimeouts()
	stats := sqlstore.NewStatsService(db)
	stats.Pace = true // beside the requests whose events it counts
	stopStats := runStatsRollUp(ctx, stats, checks.Worker("stats", statsTick), logger)
	defer stopStats()

	stopNotify, err := startNotify(ctx, cfg, db, logger)
	if err != nil {
		return err
	}
	defer stopNotify()

	stopSweeper := runPresenceSweeper(ctx, sqlstore.NewPresenceService(db), cfg.HeartbeatTTL,
		checks.Worker("presence_sweeper", min(sweepTick, cfg.HeartbeatTTL/10)), logger)
	defer stopSweeper()

	// While no user exists, set-up from another machine needs this code,
	// which only the server's log shows.
	setupCode, err := db.SetupCode(ctx)
	if err != nil {
		return fmt.Errorf("set-up code: %w", err)
	}

	store, stopCleanup := db.SessionStore(5*time.Minute, func(err error) {
		logger.Warn("deleting expired sessions", "err", err.Error())
	})
	defer stopCleanup()
	srv := server.New(server.Deps{
		Users:         sqlstore.NewUserService(db),
		Tokens:        tokens,
		Auth:          auth,
		Heartbeats:    beats,
		Agents:        sqlstore.NewAgentService(db),
		Teams:         sqlstore.NewTeamService(db),
		Enrollment:    sqlstore.NewEnrollmentService(db),
		Audit:         sqlstore.NewAuditService(db),
		Queues:        sqlstore.NewQueueService(db),
		Tasks:         sqlstore.NewTaskService(db),
		Presence:      sqlstore.NewPresenceService(db),
		Offers:        sqlstore.NewOfferService(db),
		Completer:     sqlstore.NewTaskService(db),
		Control:       sqlstore.NewTaskService(db),
		Events:        sqlstore.NewEventService(db),
		Notifications: sqlstore.NewNotificationService(db),
		Webhooks:      sqlstore.NewWebhookService(db),
		Inbox:         sqlstore.NewInboxService(db),
		Preferences:   sqlstore.NewNotificationPreferenceService(db),
		Stats:         sqlstore.NewStatsService(db),
		Broker:        hub,
		SessionStore:  store,
		Throttle:      db.Throttle,
		Ready:         db.Ping,
		Health:        checks,
		Metrics:       m,
		Logger:        logger,
	}, server.Options{
		HeartbeatTTL:       cfg.HeartbeatTTL,
		Version:            version(),
		BaseURL:            cfg.BaseURL,
		TLS:                cfg.TLS(),
		SessionIdleTimeout: cfg.SessionIdleTimeout,
		SessionLifetime:    cfg.SessionLifetime,
		TrustedProxies:     cfg.TrustedProxies,
		SetupCode:          setupCode,
		MetricsToken:       cfg.MetricsToken,
		SendsEmail:         cfg.SMTP != nil,
	})

	httpServer := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if cfg.TLS() {
		httpServer.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	// Shutdown waits for requests in flight, and a live stream never ends
	// by itself: stopping the events ends the streams, and their clients
	// resume on another instance.
	httpServer.RegisterOnShutdown(stopEvents)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	scheme := "http"
	if cfg.TLS() {
		scheme = "https"
	}
	if cfg.BaseURL == nil && !isLoopback(ln.Addr()) {
		logger.Warn("no --base-url: other machines can reach the server only by IP address, and invitation and password " +
			"reset links can be made only on this machine; set SWITCHBOARD_BASE_URL to the public URL")
	}
	logger.Info("listening", "addr", ln.Addr().String(), "url", scheme+"://"+ln.Addr().String(),
		"database", string(db.Engine()), "version", version())
	if setupCode != "" {
		logger.Info("no user yet: open this link to create the first admin (on this machine, /setup at localhost needs no code)",
			"url", setupURL(cfg, scheme, ln.Addr(), setupCode))
	}

	served := make(chan error, 1)
	go func() {
		if cfg.TLS() {
			served <- httpServer.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
		} else {
			served <- httpServer.Serve(ln)
		}
	}()

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// Stop accepting, let requests in flight finish, then close the pool.
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := httpServer.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	// Requests for reset links finish their writes before the pool closes.
	srv.Wait()
	logger.Info("stopped")
	return nil
}

// tuneGC trades memory the server (or the load generator beside it) has
// for CPU it lacks, unless the operator chose with GOGC or GOMEMLIMIT.
// Each request allocates a few kilobytes that die with it; at the default
// GOGC of 100 a fleet's heartbeats keep the collector busy for a fifth of
// the CPU. Collecting at 400% growth instead takes heartbeats from about
// 19,000 to 23,000 a second on two cores, and the soft limit keeps the
// heap within the memory the server is meant to need, collecting harder
// near it.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(192 << 20)
	}
}

// startEvents starts this instance's reader of the event log, which fans new
// events out to the live streams, and what wakes it: this process's own
// commits, the other instances' (through Redis when configured, else
// PostgreSQL's LISTEN/NOTIFY, else a poll of the table), and the pruning of
// old events. The hub's reads report to the "events" worker of checks and
// the pruning to "prune_events"; m counts this instance's commits. stop
// ends it all and is safe to call more than once.
func startEvents(ctx context.Context, cfg *config.Config, db *sqlstore.DB, auth *authcache.Cache, checks *health.Checks,
	m *metrics.Metrics, logger *slog.Logger) (*events.Hub, func(), error) {
	ctx, cancel := context.WithCancel(ctx)
	var workers sync.WaitGroup
	var redis *events.Redis
	if cfg.RedisURL != "" {
		var err error
		if redis, err = events.NewRedis(cfg.RedisURL); err != nil {
			cancel()
			return nil, nil, err
		}
	}
	push := redis != nil || db.Engine() == sqlstore.Postgres
	// Without push the hub polls often, so that other instances' commits
	// show within a second; with it, the poll is a safety net.
	poll := 250 * time.Millisecond
	if push {
		poll = 5 * time.Second
	}
	reads := checks.Worker("events", poll)
	hub := events.NewHub(reportingLog{EventLog: db, worker: reads}, logger, events.Options{Push: push, PollInterval: poll})
	if err := hub.Start(ctx); err != nil {
		cancel()
		return nil, nil, fmt.Errorf("start the event stream: %w", err)
	}
	var publish func(int64)
	switch {
	case redis != nil:
		publish = redis.Publisher(ctx, logger)
		workers.Go(func() {
			if err := redis.Listen(ctx, hub.WakeAt, logger); err != nil {
				logger.Error("events: redis listener stopped", "err", err.Error())
			}
		})
	case db.Engine() == sqlstore.Postgres:
		publish = events.Coalesce(ctx, logger, "postgres", db.NotifyEvents)
		workers.Go(func() {
			if err := events.ListenPostgres(ctx, cfg.DatabaseURL, sqlstore.PostgresEventChannel, db.InstanceID(), hub.WakeAt, logger); err != nil {
				logger.Error("events: postgres listener stopped", "err", err.Error())
			}
		})
	}
	workers.Go(func() { auth.Follow(ctx, hub) })
	workers.Go(func() { db.FollowQueueChanges(ctx, hub) })
	db.OnEvents = func(evs []*switchboard.Event) {
		// This instance's own changes end cached tokens before the
		// request that made them answers.
		auth.Invalidate(evs)
		m.EventsCommitted(evs)
		hub.Publish(evs)
		if publish != nil {
			publish(evs[len(evs)-1].Position)
		}
	}
	pruning := checks.Worker("prune_events", pruneInterval)
	workers.Go(func() { pruneEvents(ctx, db, cfg.EventRetention, pruning, logger) })
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			hub.Wait()
			reads.Stop()
			workers.Wait()
			if redis != nil {
				_ = redis.Close()
			}
		})
	}
	return hub, stop, nil
}

// reportingLog is the event log as the hub reads it, reporting every read
// to the worker that stands for the hub in /readyz: the hub reads at least
// once per poll interval, so reads that stop or keep failing mean that live
// streams have stalled.
type reportingLog struct {
	switchboard.EventLog
	worker *health.Worker
}

func (l reportingLog) EventsAfter(ctx context.Context, after int64, limit int) ([]*switchboard.Event, error) {
	evs, err := l.EventLog.EventsAfter(ctx, after, limit)
	if ctx.Err() == nil {
		l.worker.Report(err)
	}
	return evs, err
}

// offerTimeoutTick is how often offers past their deadline are looked for:
// an offer times out within this much of its deadline.
const offerTimeoutTick = 250 * time.Millisecond

// runTimeouts times out offers past their deadline (routing their tasks
// on), expires queued tasks past their expiry and records SLA breaches,
// until stopped. Every instance runs it; the database makes sure each
// happens once. Each tick reports to worker.
func runTimeouts(ctx context.Context, offers *sqlstore.OfferService, tasks *sqlstore.TaskService, worker *health.Worker,
	logger *slog.Logger) func() {
	const batch = 100
	return runLoop(ctx, "timing out offers and expiring tasks", offerTimeoutTick, worker, logger, func(ctx context.Context) error {
		offersErr := drain(batch, func() (int, error) { return offers.ExpireOffers(ctx, batch) })
		_, tasksErr := tasks.ExpireTasks(ctx, batch)
		return errors.Join(offersErr, tasksErr)
	})
}

// runLoop runs pass at once, then every interval, until stopped. Every
// pass reports to worker; a failing pass is logged once, and once again
// when passes succeed again, so that an outage is two lines, not one a
// tick.
func runLoop(ctx context.Context, what string, interval time.Duration, worker *health.Worker, logger *slog.Logger,
	pass func(ctx context.Context) error) func() {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer worker.Stop()
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		failing := false
		for {
			err := pass(ctx)
			if ctx.Err() != nil {
				return
			}
			worker.Report(err)
			switch {
			case err != nil && !failing:
				logger.Warn(what, "err", err.Error())
				failing = true
			case err == nil && failing:
				logger.Info(what + " again")
				failing = false
			}
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
		}
	}()
	return func() { cancel(); <-done }
}

// drain runs step, a batch at a time, until a batch comes back short or
// fails.
func drain(batch int, step func() (int, error)) error {
	for {
		n, err := step()
		if err != nil || n < batch {
			return err
		}
	}
}

// pruneInterval is how often old events are pruned.
const pruneInterval = 5 * time.Minute

// startNotify makes changes write their messages to the outbox and starts
// the dispatcher that delivers them by e-mail, text message and webhook,
// until stopped. Without a base URL no e-mail with a secret link is
// written; without a mail server or text message provider, messages of
// that channel wait in the outbox until one is configured.
func startNotify(ctx context.Context, cfg *config.Config, db *sqlstore.DB, logger *slog.Logger) (func(), error) {
	// Without a public address, messages go without absolute links; only
	// those whose whole point is a secret link cannot.
	composer, err := compose.Load(cfg.BaseURL, cfg.TemplatesDir)
	if err != nil {
		return nil, fmt.Errorf("SWITCHBOARD_TEMPLATES_DIR: %w", err)
	}
	db.Composer = composer
	if cfg.TemplatesDir != "" {
		logger.Info("message templates overridden", "dir", cfg.TemplatesDir)
	}
	if cfg.BaseURL == nil {
		logger.Info("invitation and password reset e-mails are off: they need the public address of the server in SWITCHBOARD_BASE_URL")
	}
	senders := map[switchboard.Channel]switchboard.Sender{}
	if c := cfg.SMTP; c != nil {
		sender, err := email.New(email.Options{Host: c.Host, Port: c.Port, Username: c.Username, Password: c.Password, From: c.From, TLS: c.TLS})
		if err != nil {
			return nil, fmt.Errorf("SWITCHBOARD_SMTP_URL: %w", err)
		}
		senders[switchboard.ChannelEmail] = sender
		logger.Info("sending e-mail", "smtp_host", c.Host, "smtp_port", c.Port, "tls", c.TLS)
	} else if cfg.BaseURL != nil {
		logger.Info("e-mail is not configured: e-mails wait in the outbox until SWITCHBOARD_SMTP_URL names a mail server")
	}
	if c := cfg.SMS; c != nil {
		sender, err := sms.New(sms.Options{BaseURL: c.BaseURL, AccountSID: c.AccountSID, AuthToken: c.AuthToken,
			From: c.From, MessagingServiceSID: c.MessagingServiceSID})
		if err != nil {
			return nil, fmt.Errorf("SWITCHBOARD_SMS_URL: %w", err)
		}
		senders[switchboard.ChannelSMS] = sender
		// The account SID names the account, the token unlocks it: only
		// the former is logged.
		logger.Info("sending text messages", "sms_api", c.BaseURL.String(), "account_sid", c.AccountSID)
	}
	guard := &webhook.Guard{AllowPrivate: cfg.WebhookAllowPrivate}
	db.WebhookURLCheck = guard.CheckURL
	senders[switchboard.ChannelWebhook] = webhook.New(sqlstore.NewWebhookService(db), webhook.Options{Guard: guard})
	if cfg.WebhookAllowPrivate {
		logger.Warn("webhooks may reach loopback, private and link-local addresses (SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE)")
	}
	d := notify.New(sqlstore.NewNotificationService(db), senders, logger, notify.Options{SendTimeout: cfg.NotifyTimeout})
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx) }()
	return func() { cancel(); <-done }, nil
}

// statsTick is how often the dashboard's figures over time are rolled
// up: a reading counts the events since the last pass itself, so the
// longer the tick, the more each reading counts.
const statsTick = 10 * time.Second

// runStatsRollUp rolls up the dashboard's figures over time until stopped.
// Every instance runs it; the database makes sure each event is counted
// once.
func runStatsRollUp(ctx context.Context, stats switchboard.StatsService, worker *health.Worker, logger *slog.Logger) func() {
	return runLoop(ctx, "rolling up the dashboard's figures", statsTick, worker, logger, func(ctx context.Context) error {
		_, err := stats.RollUpStats(ctx)
		return err
	})
}

// sweepTick is how often the sweeper looks for agents past the heartbeat
// TTL at most: an agent goes offline within this much (or a tenth of a
// short TTL) of its TTL.
const sweepTick = time.Second

// presencePruneTick is how often presence history past its retention is
// pruned.
const presencePruneTick = 10 * time.Minute

// runPresenceSweeper takes agents offline once they go unseen for the
// heartbeat TTL, revoking their offers and requeueing their work as their
// queues say, and prunes old presence history, until stopped. Every
// instance runs it; the database makes sure each agent is swept once.
func runPresenceSweeper(ctx context.Context, presence *sqlstore.PresenceService, ttl time.Duration, worker *health.Worker, logger *slog.Logger) func() {
	const batch, pruneBatch = 100, 500
	var pruned time.Time
	return runLoop(ctx, "taking unseen agents offline", min(sweepTick, ttl/10), worker, logger, func(ctx context.Context) error {
		err := drain(batch, func() (int, error) { return presence.SweepPresence(ctx, ttl, batch) })
		if time.Since(pruned) >= presencePruneTick {
			pruned = time.Now()
			cutoff := pruned.Add(-switchboard.PresenceHistoryRetention)
			if err := drain(pruneBatch, func() (int, error) { return presence.PrunePresence(ctx, cutoff, pruneBatch) }); err != nil && ctx.Err() == nil {
				logger.Warn("pruning presence history", "err", err.Error())
			}
		}
		return err
	})
}

// pruneEvents deletes events older than the retention every few minutes,
// in small batches with a pause between them, so that neither the delete
// nor its locks weigh on the writers. Every batch reports to worker, so
// that a long backlog does not look like a stalled loop.
func pruneEvents(ctx context.Context, db *sqlstore.DB, retention time.Duration, worker *health.Worker, logger *slog.Logger) {
	defer worker.Stop()
	const batch = 500
	ticker := time.NewTicker(pruneInterval)
	defer ticker.Stop()
	for {
		for {
			n, err := db.PruneEvents(ctx, time.Now().Add(-retention), batch)
			if ctx.Err() == nil {
				worker.Report(err)
			}
			if err != nil {
				if ctx.Err() == nil {
					logger.Warn("pruning old events", "err", err.Error())
				}
				break
			}
			if n < batch {
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// setupURL is the link with the set-up code that the log shows: on the
// base URL, or else on the address the server listens on; when that is
// every address, on one of this machine's, as another machine would reach it.
func setupURL(cfg *config.Config, scheme string, addr net.Addr, code string) string {
	host := addr.String()
	if cfg.BaseURL != nil {
		scheme, host = cfg.BaseURL.Scheme, cfg.BaseURL.Host
	} else if tcp, ok := addr.(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
		ip := net.IPv4(127, 0, 0, 1)
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, a := range addrs {
				if n, ok := a.(*net.IPNet); ok && n.IP.IsGlobalUnicast() && n.IP.To4() != nil {
					ip = n.IP
					break
				}
			}
		}
		host = net.JoinHostPort(ip.String(), strconv.Itoa(tcp.Port))
	}
	return scheme + "://" + host + "/setup?code=" + url.QueryEscape(code)
}

// isLoopback reports whether the server listens on this machine only.
func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}
