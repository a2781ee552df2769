// Package notify delivers the notifications of the outbox: a dispatcher
// claims the ones that are due, hands each to its channel's Sender, and
// records the outcome, trying again later with exponential back-off until
// a notification is sent or given up. Every instance may run one; the
// outbox's leases make sure two never deliver a message at once.
package notify

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/switchboardhq/switchboard"
)

// Options tune a dispatcher. The zero value of each field is its default.
type Options struct {
	// Batch is how many notifications one claim takes, and so how many are
	// sent at once (default 10).
	Batch int
	// Lease is how long a claimed notification is the dispatcher's: when
	// it has not recorded an outcome by then (it died), the notification
	// is due again. Longer than SendTimeout (default 2 minutes).
	Lease time.Duration
	// SendTimeout bounds one delivery (default 1 minute).
	SendTimeout time.Duration
	// Poll is how often the outbox is read for due notifications
	// (default 1 second).
	Poll time.Duration
	// FirstRetry is the wait after a first failure, doubled after each
	// further one (default 30 seconds), up to MaxRetry (default 1 hour).
	FirstRetry time.Duration
	MaxRetry   time.Duration
	// MaxAttempts is how many attempts a notification gets before it is
	// given up as dead (default 8).
	MaxAttempts int
	// Jitter spreads a wait, so that messages that failed together do not
	// all come back at once; by default a random time between half the
	// wait and all of it.
	Jitter func(time.Duration) time.Duration
}

func (o *Options) defaults() {
	if o.Batch <= 0 {
		o.Batch = 10
	}
	if o.SendTimeout <= 0 {
		o.SendTimeout = time.Minute
	}
	if o.Lease <= o.SendTimeout {
		o.Lease = 2 * o.SendTimeout
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.FirstRetry <= 0 {
		o.FirstRetry = 30 * time.Second
	}
	if o.MaxRetry <= 0 {
		o.MaxRetry = time.Hour
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 8
	}
	if o.Jitter == nil {
		o.Jitter = func(d time.Duration) time.Duration {
			if d < 2 {
				return d
			}
			return d/2 + rand.N(d/2)
		}
	}
}

// Dispatcher delivers the due notifications of an outbox through the
// senders of their channels. Notifications of a channel without a sender
// are left in the outbox until one is configured.
type Dispatcher struct {
	outbox   switchboard.Outbox
	senders  map[switchboard.Channel]switchboard.Sender
	channels []switchboard.Channel
	opts     Options
	logger   *slog.Logger
}

// New returns a dispatcher of outbox through senders.
func New(outbox switchboard.Outbox, senders map[switchboard.Channel]switchboard.Sender, logger *slog.Logger, opts Options) *Dispatcher {
	opts.defaults()
	d := &Dispatcher{outbox: outbox, senders: senders, opts: opts, logger: logger}
	for ch := range senders {
		d.channels = append(d.channels, ch)
	}
	slices.Sort(d.channels)
	return d
}

// RetryAfter is the wait before the attempt after a failed one, the
// attempts-th: FirstRetry doubled for each attempt before it, at most
// MaxRetry, spread by Jitter.
func (d *Dispatcher) RetryAfter(attempts int) time.Duration {
	wait := d.opts.FirstRetry
	for i := 1; i < attempts && wait < d.opts.MaxRetry; i++ {
		wait *= 2
	}
	return d.opts.Jitter(min(wait, d.opts.MaxRetry))
}

// Run delivers due notifications until ctx ends, and gives up those whose
// link has expired. A delivery under way when ctx ends is finished (within
// SendTimeout) and its outcome recorded.
func (d *Dispatcher) Run(ctx context.Context) {
	// Without senders nothing is claimed, but links still expire: the
	// loop runs all the same.
	ticker := time.NewTicker(d.opts.Poll)
	defer ticker.Stop()
	const expireEvery = time.Minute
	lastExpiry := time.Time{}
	failing := false
	for {
		if time.Since(lastExpiry) >= expireEvery {
			lastExpiry = time.Now()
			if _, err := d.outbox.ExpireNotificationSecrets(ctx); err != nil && ctx.Err() == nil {
				d.logger.Warn("expiring notification links", "err", err.Error())
			}
		}
		// A full batch means more may be due: go on at once.
		for {
			n, err := d.Deliver(ctx)
			switch {
			case err != nil && ctx.Err() == nil && !failing:
				d.logger.Warn("claiming notifications", "err", err.Error())
				failing = true
			case err == nil && failing:
				d.logger.Info("claiming notifications again")
				failing = false
			}
			if err != nil || n < d.opts.Batch || ctx.Err() != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// Deliver claims one batch of due notifications and delivers them all at
// once, each on its own; it returns how many it claimed. One after another,
// the last of a batch would start only after the others' time-outs, past
// its lease: another instance would claim it meanwhile and send it twice,
// and one endpoint that hangs would hold back every message behind it.
// Side by side, each ends within SendTimeout, well inside the lease.
func (d *Dispatcher) Deliver(ctx context.Context) (int, error) {
	claimed, err := d.outbox.ClaimNotifications(ctx, d.channels, d.opts.Batch, d.opts.Lease)
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	for _, n := range claimed {
		wg.Go(func() { d.deliver(ctx, n) })
	}
	wg.Wait()
	return len(claimed), nil
}

// deliver sends one claimed notification and records how it went. Neither
// the bodies nor the recipient's secret are logged.
func (d *Dispatcher) deliver(ctx context.Context, n *switchboard.Notification) {
	// Shutting down does not cut a delivery short: its outcome would be
	// lost, and the message sent again after the lease.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.opts.SendTimeout)
	defer cancel()
	sendErr := d.senders[n.Channel].Send(ctx, n)
	dead := sendErr != nil && (switchboard.IsPermanent(sendErr) || n.Attempts >= d.opts.MaxAttempts)
	var retryAfter time.Duration
	if sendErr != nil && !dead {
		retryAfter = d.RetryAfter(n.Attempts)
	}
	recorded, err := d.outbox.FinishNotification(ctx, n, sendErr, retryAfter, dead)
	log := d.logger.With("notification", n.ID, "channel", string(n.Channel), "attempt", n.Attempts)
	switch {
	case err != nil:
		log.Warn("recording a notification's delivery", "err", err.Error(), "sent", sendErr == nil)
	case !recorded:
		log.Warn("a notification's lease ended before its delivery did; it may be delivered twice", "sent", sendErr == nil)
	case dead:
		log.Warn("notification given up", "err", sendErr.Error())
	case sendErr != nil:
		log.Info("notification delivery failed; trying again later", "err", sendErr.Error(), "retry_after", retryAfter.String())
	default:
		log.Debug("notification sent")
	}
}
