package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config is one load test.
type Config struct {
	URL   string // the server, like http://127.0.0.1:8080
	Token string // an admin's API token: it sets up and creates the tasks

	Agents   int // agents set up for the test
	Capacity int // tasks each agent holds at once

	// Rate is the tasks started per second, an open model: they start on
	// time whether or not earlier ones are done. 0 starts them as fast as
	// Workers requests in flight allow.
	Rate     int
	Workers  int
	Duration time.Duration
	// Warmup is how long the same load runs before the measured one,
	// unmeasured: the server's caches and prepared statements, and the
	// database's, are then those of a server that has been running.
	Warmup time.Duration
	// OfferTimeout is the queue's; 0 assigns tasks directly, without an
	// offer to accept.
	OfferTimeout time.Duration
}

// maxRate bounds Rate far above what one client machine can make, where
// the pacing interval is still a whole number of nanoseconds.
const maxRate = 1_000_000

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	switch {
	case c.URL == "":
		return errors.New("the server's URL is required")
	case c.Token == "":
		return errors.New("an admin's API token is required")
	case c.Agents < 1 || c.Agents > 100_000:
		return errors.New("agents must be from 1 to 100000")
	case c.Capacity < 1 || c.Capacity > 1000:
		return errors.New("capacity must be from 1 to 1000")
	case c.Rate < 0 || c.Rate > maxRate:
		return fmt.Errorf("rate must be from 0 (as fast as possible) to %d", maxRate)
	case c.Workers < 1 || c.Workers > 10_000:
		return errors.New("workers must be from 1 to 10000")
	case c.Duration <= 0:
		return errors.New("duration must be positive")
	case c.Warmup < 0:
		return errors.New("the warm-up must be 0 (none) or more")
	case c.OfferTimeout < 0 || c.OfferTimeout%time.Second != 0:
		return errors.New("the offer timeout must be whole seconds, 0 or more")
	}
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("the server's URL %q is not an http(s) URL", c.URL)
	}
	return nil
}

// Report is what a load test measured.
type Report struct {
	Elapsed   time.Duration // from the run's start to its last answer, the lifecycles started before the end finished
	Created   int           // tasks created
	Completed int           // tasks taken through the whole lifecycle
	Queued    int           // tasks no agent was free for at creation
	Errors    int           // answers other than 2xx or that the lifecycle cannot follow, and failed requests
	Samples   []string      // a few of the errors, to say what went wrong
	// Late counts the tasks of the open model that waited for a worker,
	// all being busy; like every task's, their create→assigned counts from
	// their time, not from when they could be sent.
	Late int

	Create, Accept, Complete Latencies // each request of the lifecycle
	CreateToAssigned         Latencies // from the creation's time (when it was sent, or due in the open model) to the answer that assigns the task: the acceptance's, or the creation's when it assigns
}

// TasksPerSecond is the rate of whole lifecycles.
func (r *Report) TasksPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Completed) / r.Elapsed.Seconds()
}

// Latencies are the percentiles of a set of durations.
type Latencies struct {
	N                  int
	P50, P95, P99, Max time.Duration
}

func latencies(ds []time.Duration) Latencies {
	if len(ds) == 0 {
		return Latencies{}
	}
	slices.Sort(ds)
	at := func(q float64) time.Duration { return ds[min(len(ds)-1, int(q*float64(len(ds))))] }
	return Latencies{N: len(ds), P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: ds[len(ds)-1]}
}

func (l Latencies) String() string {
	ms := func(d time.Duration) string {
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64)
	}
	return fmt.Sprintf("n=%d p50=%s ms p95=%s ms p99=%s ms max=%s ms", l.N, ms(l.P50), ms(l.P95), ms(l.P99), ms(l.Max))
}

// Print writes the report as the lines `switchboard loadtest` shows.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "tasks_per_s %.0f (completed %d in %.1f s; created %d, queued at creation %d, errors %d)\n",
		r.TasksPerSecond(), r.Completed, r.Elapsed.Seconds(), r.Created, r.Queued, r.Errors)
	fmt.Fprintf(w, "create_to_assigned %s\n", r.CreateToAssigned)
	if r.Late > 0 {
		fmt.Fprintf(w, "late %d (tasks that waited for one of --workers, all busy: raise --workers)\n", r.Late)
	}
	fmt.Fprintf(w, "create   %s\n", r.Create)
	if r.Accept.N > 0 {
		fmt.Fprintf(w, "accept   %s\n", r.Accept)
	}
	fmt.Fprintf(w, "complete %s\n", r.Complete)
	for _, s := range r.Samples {
		fmt.Fprintf(w, "error: %s\n", s)
	}
}

// ValidateLifecycle is Validate for the lifecycle scenario, whose tasks
// must all find room: a task queued at creation is later given to an
// agent whom nobody answers for, and holds that agent's capacity.
func (c Config) ValidateLifecycle() error {
	if err := c.Validate(); err != nil {
		return err
	}
	if c.Workers > c.Agents*c.Capacity {
		return fmt.Errorf("workers (%d) must be at most agents × capacity (%d): each runs one task at a time, and a task no agent has room for would wait unanswered", c.Workers, c.Agents*c.Capacity)
	}
	return nil
}

// taskAnswer is what the lifecycle reads of a task in an answer.
type taskAnswer struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Agent  *struct {
		ID string `json:"id"`
	} `json:"agent"`
	Offer *struct {
		ID string `json:"id"`
	} `json:"offer"`
}

// Run sets up a fleet and takes tasks through their lifecycle — created by
// the admin, offered by routing, accepted and completed by the agent — for
// cfg.Duration, then reports. Progress goes to log.
func Run(ctx context.Context, cfg Config, log io.Writer) (*Report, error) {
	if err := cfg.ValidateLifecycle(); err != nil {
		return nil, err
	}
	base := strings.TrimRight(cfg.URL, "/")
	c := &client{base: base, http: &http.Client{Transport: newTransport(cfg), Timeout: 30 * time.Second}}
	f, err := setUp(ctx, c, cfg, log)
	if err != nil {
		return nil, err
	}
	if cfg.Warmup > 0 {
		fmt.Fprintf(log, "warming up for %s\n", cfg.Warmup)
		runLifecycles(ctx, c, cfg, f, cfg.Warmup)
	}
	fmt.Fprintf(log, "running for %s at %s\n", cfg.Duration, rateText(cfg.Rate))
	rep := runLifecycles(ctx, c, cfg, f, cfg.Duration).report()
	return rep, ctx.Err()
}

// runLifecycles starts tasks for duration and takes each through its
// lifecycle, and returns what it saw once every lifecycle started has
// ended. A task's agent answers at once: it accepts its offer as soon as
// the creation's answer names it, and completes the task as soon as the
// acceptance is answered, so that create→assigned is the server's time,
// not a wait inside the load generator.
//
// Without a rate, cfg.Workers lifecycles run at once, each starting the
// next task when its own is done: a closed loop of cfg.Workers requests in
// flight. With a rate, tasks are created on time whether or not earlier
// ones are done (an open model), at most cfg.Workers lifecycles at once.
func runLifecycles(ctx context.Context, c *client, cfg Config, f *fleet, duration time.Duration) *lifecycle {
	startBy, cancel := context.WithTimeout(ctx, duration)
	defer cancel()
	l := &lifecycle{cfg: cfg, fleet: f, c: c, first: time.Now()}
	l.last = l.first
	var wg sync.WaitGroup
	if cfg.Rate == 0 {
		for range cfg.Workers {
			wg.Go(func() {
				for startBy.Err() == nil {
					l.run(ctx, time.Now())
				}
			})
		}
		wg.Wait()
		return l
	}
	slots := make(chan struct{}, cfg.Workers)
	for due := range newSchedule(cfg.Rate).turns(startBy) {
		select {
		case slots <- struct{}{}:
		default:
			l.count(&l.late) // every worker busy: wait for one
			select {
			case slots <- struct{}{}:
			case <-startBy.Done():
			}
		}
		if startBy.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-slots }()
			l.run(ctx, due)
		})
	}
	wg.Wait()
	return l
}

func rateText(rate int) string {
	if rate == 0 {
		return "the highest rate the workers allow"
	}
	return fmt.Sprintf("%d tasks/s", rate)
}

// lifecycle takes tasks through their lifecycle and gathers what it saw.
type lifecycle struct {
	cfg   Config
	fleet *fleet
	c     *client
	seq   atomic.Int64

	mu                                       sync.Mutex
	first, last                              time.Time // of the run: its start, its last answer
	created, completed, queued, errors, late int
	samples                                  []string
	create, accept, complete, toAssign       []time.Duration
}

// run takes one task through its lifecycle: it creates it with the admin's
// token, then as its agent accepts its offer (when routing offered it) and
// completes it. due is when the creation was to be sent, which
// create→assigned counts from.
func (l *lifecycle) run(ctx context.Context, due time.Time) {
	body, _ := json.Marshal(map[string]string{"queue": l.fleet.queueID, "title": fmt.Sprintf("loadtest task %d", l.seq.Add(1))})
	t, _, ok := l.step(ctx, &l.create, "POST", "/api/v1/tasks", l.cfg.Token, body)
	if !ok {
		return
	}
	l.count(&l.created)
	if t.Agent == nil {
		// No agent had room (another client's tasks fill them): routing
		// gives it to one later, whom this test does not answer for.
		l.count(&l.queued)
		return
	}
	token := l.fleet.tokens[t.Agent.ID]
	var assigned time.Time
	switch t.Status {
	case "offered":
		if t.Offer == nil {
			l.fail("POST /api/v1/tasks: an offered task without its offer")
			return
		}
		if t, assigned, ok = l.step(ctx, &l.accept, "POST", "/api/v1/offers/"+t.Offer.ID+"/accept", token, nil); !ok {
			return
		}
	case "assigned":
		assigned = time.Now()
	default:
		l.fail(fmt.Sprintf("POST /api/v1/tasks: a task %s to an agent", t.Status))
		return
	}
	l.observe(&l.toAssign, assigned.Sub(due))
	if _, _, ok := l.step(ctx, &l.complete, "POST", "/api/v1/tasks/"+t.ID+"/complete", token, []byte(`{"outcome":"done"}`)); ok {
		l.count(&l.completed)
	}
}

// step makes one request of a lifecycle, adds its latency to into, and
// returns the task it answers with and when the answer came; ok is false
// when it failed (counted as an error).
func (l *lifecycle) step(ctx context.Context, into *[]time.Duration, method, path, token string, body []byte) (t taskAnswer, at time.Time, ok bool) {
	r := request{method: method, url: l.c.base + path, auth: "Bearer " + token, body: body}
	start := time.Now()
	code, answer, err := r.read(ctx, l.c.http)
	at = time.Now()
	took := at.Sub(start)
	if ctx.Err() != nil {
		return t, at, false // interrupted: not an answer
	}
	if err == nil && code >= 200 && code < 300 {
		err = json.Unmarshal(answer, &t)
	}
	if err != nil || code < 200 || code >= 300 {
		sample := fmt.Sprintf("%s %s: %d %s", method, path, code, clip(answer))
		if err != nil {
			sample = fmt.Sprintf("%s %s: %v", method, path, err)
		}
		l.fail(sample)
		return t, at, false
	}
	l.observe(into, took)
	return t, at, true
}

func (l *lifecycle) observe(into *[]time.Duration, took time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	*into = append(*into, took)
	l.last = time.Now()
}

func (l *lifecycle) count(n *int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	*n++
}

func (l *lifecycle) fail(sample string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errors++
	if len(l.samples) < 5 {
		l.samples = append(l.samples, sample)
	}
	l.last = time.Now()
}

func (l *lifecycle) report() *Report {
	return &Report{
		Elapsed: l.last.Sub(l.first),
		Created: l.created, Completed: l.completed, Queued: l.queued, Errors: l.errors, Samples: l.samples, Late: l.late,
		Create: latencies(l.create), Accept: latencies(l.accept), Complete: latencies(l.complete),
		CreateToAssigned: latencies(l.toAssign),
	}
}

func clip(b []byte) string {
	const most = 300
	if len(b) > most {
		return string(b[:most]) + "…"
	}
	return string(b)
}
