// Package health says whether this instance can serve, for /readyz and the
// switchboard_worker_up metric: probes run on each request (the database
// answers), and background loops report their own passes.
//
// A background loop registers once, under a name that /readyz shows, with
// the interval at which it passes when all is well, then reports every pass
// and stops its record when it ends:
//
//	w := checks.Worker("timeouts", 250*time.Millisecond)
//	defer w.Stop()
//	for {
//		...
//		w.Report(err) // nil: a successful pass
//	}
//
// A worker is up while its last successful pass (or its registration, for a
// loop that has not passed yet) is recent: within StaleAfter intervals, and
// never less than MinStale, so that one slow pass under load does not take
// an instance out of the load balancer. A failed pass alone does not make it
// down, only no success for that long; a stopped worker is down, as a loop
// that ended while the server still serves leaves work undone.
package health

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

const (
	// StaleAfter is how many intervals a worker may go without a
	// successful pass before it is down.
	StaleAfter = 3
	// MinStale is the least time a worker may go without a successful pass
	// before it is down, whatever its interval.
	MinStale = 10 * time.Second
)

// Checks are the probes and workers of one instance. The zero value is not
// usable; use New.
type Checks struct {
	now func() time.Time

	mu      sync.Mutex
	probes  []probe
	workers []*Worker
}

type probe struct {
	name  string
	check func(ctx context.Context) error
}

// New returns empty Checks on a clock (time.Now in production).
func New(now func() time.Time) *Checks {
	if now == nil {
		now = time.Now
	}
	return &Checks{now: now}
}

// Probe adds a check that runs on every readiness request, like a ping of
// the database. It must answer within the request's context.
func (c *Checks) Probe(name string, check func(ctx context.Context) error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.probes = append(c.probes, probe{name, check})
}

// Worker registers a background loop that passes every interval, and
// returns the record it reports to.
func (c *Checks) Worker(name string, interval time.Duration) *Worker {
	w := &Worker{checks: c, name: name, interval: interval, since: c.now()}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.workers = append(c.workers, w)
	return w
}

// Result is the state of one check.
type Result struct {
	Name string `json:"name"`
	// Status is "ok", or why the check fails: "failing" (a probe's
	// error), "stale" (a worker without a recent successful pass) or
	// "stopped".
	Status string `json:"status"`
	// Error is the probe's error, or the worker's last one, if any.
	Error string `json:"error,omitempty"`
	// LastPass is a worker's last successful pass.
	LastPass *time.Time `json:"last_pass,omitempty"`
	// IntervalSeconds is how often a worker passes.
	IntervalSeconds float64 `json:"interval_seconds,omitempty"`
}

// OK reports whether the check passes.
func (r Result) OK() bool { return r.Status == "ok" }

// Check runs the probes, one after the other, and reports them with the
// workers, in the order they were added.
func (c *Checks) Check(ctx context.Context) []Result {
	c.mu.Lock()
	probes := slices.Clone(c.probes)
	c.mu.Unlock()
	results := make([]Result, 0, len(probes))
	for _, p := range probes {
		r := Result{Name: p.name, Status: "ok"}
		if err := p.check(ctx); err != nil {
			r.Status, r.Error = "failing", err.Error()
		}
		results = append(results, r)
	}
	return append(results, c.Workers()...)
}

// Workers reports the workers alone, without running anything.
func (c *Checks) Workers() []Result {
	c.mu.Lock()
	workers := slices.Clone(c.workers)
	c.mu.Unlock()
	now := c.now()
	results := make([]Result, len(workers))
	for i, w := range workers {
		results[i] = w.result(now)
	}
	return results
}

// Worker is the health record of one background loop. Its methods are
// safe to call from any goroutine.
type Worker struct {
	checks   *Checks
	name     string
	interval time.Duration
	since    time.Time // registration: the grace a loop has before its first pass

	mu       sync.Mutex
	passed   bool
	lastErr  error
	stopped  bool
	lastPass time.Time
}

// Pass records a successful pass.
func (w *Worker) Pass() { w.Report(nil) }

// Fail records a failed pass.
func (w *Worker) Fail(err error) { w.Report(err) }

// Report records a pass: successful when err is nil.
func (w *Worker) Report(err error) {
	now := w.checks.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.lastErr = err
		return
	}
	w.passed, w.lastPass, w.lastErr = true, now, nil
}

// Stop records that the loop has ended; the worker is down from then on.
func (w *Worker) Stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
}

func (w *Worker) result(now time.Time) Result {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := Result{Name: w.name, Status: "ok", IntervalSeconds: w.interval.Seconds()}
	if w.lastErr != nil {
		r.Error = w.lastErr.Error()
	}
	last := w.since
	if w.passed {
		last = w.lastPass
		r.LastPass = &last
	}
	switch {
	case w.stopped:
		r.Status = "stopped"
	case now.Sub(last) > max(StaleAfter*w.interval, MinStale):
		r.Status = "stale"
		if r.Error == "" {
			r.Error = fmt.Sprintf("no successful pass for %s", now.Sub(last).Round(time.Second))
		}
	}
	return r
}
