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
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
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
	case c.Rate < 0:
		return errors.New("rate must be 0 (as fast as possible) or more")
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
	Elapsed   time.Duration // of the attack, from its first request to its last answer
	Created   int           // tasks created
	Completed int           // tasks taken through the whole lifecycle
	Queued    int           // tasks no agent was free for at creation
	Errors    int           // answers other than 2xx, and failed requests
	Samples   []string      // a few of the errors, to say what went wrong

	Create, Accept, Complete Latencies // each request of the lifecycle
	CreateToAssigned         Latencies // from sending the creation to the answer of the accept
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
	fmt.Fprintf(w, "create   %s\n", r.Create)
	if r.Accept.N > 0 {
		fmt.Fprintf(w, "accept   %s\n", r.Accept)
	}
	fmt.Fprintf(w, "complete %s\n", r.Complete)
	for _, s := range r.Samples {
		fmt.Fprintf(w, "error: %s\n", s)
	}
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

// step is a request a task's lifecycle makes next.
type step struct {
	method, path, token string
	body                []byte
}

// Run sets up a fleet and takes tasks through their lifecycle — created by
// the admin, offered by routing, accepted and completed by the agent — for
// cfg.Duration, then reports. Progress goes to log.
func Run(ctx context.Context, cfg Config, log io.Writer) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	base := strings.TrimRight(cfg.URL, "/")
	transport := newTransport(cfg)
	c := &client{base: base, http: &http.Client{Transport: transport, Timeout: 30 * time.Second}}
	f, err := setUp(ctx, c, cfg, log)
	if err != nil {
		return nil, err
	}

	if cfg.Warmup > 0 {
		fmt.Fprintf(log, "warming up for %s\n", cfg.Warmup)
		warm, _ := runLifecycles(ctx, c, cfg, f, cfg.Warmup)
		warm.finish(ctx, c)
	}
	fmt.Fprintf(log, "running for %s at %s\n", cfg.Duration, rateText(cfg.Rate))
	l, elapsed := runLifecycles(ctx, c, cfg, f, cfg.Duration)
	rep := l.report()
	rep.Elapsed = elapsed

	// Finish what the attack left half done, so that the agents end free.
	if left := l.finish(ctx, c); left > 0 {
		fmt.Fprintf(log, "finished %d tasks the run left open\n", left)
	}
	return rep, ctx.Err()
}

// runLifecycles runs lifecycles for duration and returns what it saw, and
// how long it took from its first request to its last answer.
func runLifecycles(ctx context.Context, c *client, cfg Config, f *fleet, duration time.Duration) (*lifecycle, time.Duration) {
	base := c.base
	// Follow-up steps come before new tasks: a lifecycle once started is
	// finished first, as agents do.
	next := make(chan step, 1<<20)
	var seq atomic.Int64
	createBody := func() []byte {
		b, _ := json.Marshal(map[string]any{"queue": f.queueID, "title": fmt.Sprintf("loadtest task %d", seq.Add(1))})
		return b
	}
	targeter := func(t *vegeta.Target) error {
		var s step
		select {
		case s = <-next:
		default:
			s = step{method: "POST", path: "/api/v1/tasks", token: cfg.Token, body: createBody()}
		}
		t.Method, t.URL, t.Body = s.method, base+s.path, s.body
		t.Header = http.Header{"Authorization": {"Bearer " + s.token}, "Content-Type": {"application/json"}}
		return nil
	}

	attacker := vegeta.NewAttacker(vegeta.Client(c.http), vegeta.Workers(uint64(cfg.Workers)), vegeta.MaxWorkers(uint64(cfg.Workers)))
	// Three requests per task: the rate of requests is three times that of
	// tasks (two when tasks are assigned without an offer).
	perTask := 3
	if cfg.OfferTimeout == 0 {
		perTask = 2
	}
	pacer := vegeta.Rate{Freq: cfg.Rate * perTask, Per: time.Second}

	l := &lifecycle{cfg: cfg, fleet: f, next: next, started: map[string]time.Time{}}
	var first, last time.Time
	for res := range attacker.Attack(targeter, pacer, duration, "lifecycle") {
		if first.IsZero() || res.Timestamp.Before(first) {
			first = res.Timestamp
		}
		if end := res.End(); end.After(last) {
			last = end
		}
		l.observe(res)
		if ctx.Err() != nil {
			attacker.Stop()
		}
	}
	return l, last.Sub(first)
}

func rateText(rate int) string {
	if rate == 0 {
		return "the highest rate the workers allow"
	}
	return fmt.Sprintf("%d tasks/s", rate)
}

// lifecycle follows the tasks of a run from the answers to their requests.
type lifecycle struct {
	cfg     Config
	fleet   *fleet
	next    chan step
	started map[string]time.Time // task ID → when its creation was sent

	created, completed, queued, errors int
	samples                            []string
	create, accept, complete, toAssign []time.Duration
}

// observe takes one answer: it measures it and queues the task's next step.
func (l *lifecycle) observe(res *vegeta.Result) {
	path := strings.TrimPrefix(res.URL, strings.TrimRight(l.cfg.URL, "/"))
	if res.Error != "" || res.Code < 200 || res.Code >= 300 {
		l.errors++
		if len(l.samples) < 5 {
			l.samples = append(l.samples, fmt.Sprintf("%s %s: %d %s %s", res.Method, path, res.Code, res.Error, clip(res.Body)))
		}
		return
	}
	var t taskAnswer
	if err := json.Unmarshal(res.Body, &t); err != nil {
		l.errors++
		return
	}
	switch {
	case path == "/api/v1/tasks":
		l.created++
		l.create = append(l.create, res.Latency)
		l.started[t.ID] = res.Timestamp
		l.followUp(t, res.End())
	case strings.HasSuffix(path, "/accept"):
		l.accept = append(l.accept, res.Latency)
		if at, ok := l.started[t.ID]; ok {
			l.toAssign = append(l.toAssign, res.End().Sub(at))
		}
		l.followUp(t, res.End())
	case strings.HasSuffix(path, "/complete"):
		l.complete = append(l.complete, res.Latency)
		l.completed++
		delete(l.started, t.ID)
	}
}

// followUp queues what the task's agent does next: accept an offer,
// complete an assigned task.
func (l *lifecycle) followUp(t taskAnswer, at time.Time) {
	if t.Agent == nil {
		l.queued++
		return
	}
	token := l.fleet.tokens[t.Agent.ID]
	switch t.Status {
	case "offered":
		if t.Offer == nil {
			l.errors++
			return
		}
		l.next <- step{method: "POST", path: "/api/v1/offers/" + t.Offer.ID + "/accept", token: token}
	case "assigned":
		if start, ok := l.started[t.ID]; ok && l.cfg.OfferTimeout == 0 {
			l.toAssign = append(l.toAssign, at.Sub(start))
		}
		l.next <- step{method: "POST", path: "/api/v1/tasks/" + t.ID + "/complete", token: token, body: []byte(`{"outcome":"done"}`)}
	}
}

// finish runs the steps left queued at the end of the attack, and theirs,
// one at a time, and reports how many tasks it completed.
func (l *lifecycle) finish(ctx context.Context, c *client) int {
	done := 0
	for {
		var s step
		select {
		case s = <-l.next:
		default:
			return done
		}
		var body any
		if s.body != nil {
			body = json.RawMessage(s.body)
		}
		var t taskAnswer
		if err := c.call(ctx, s.method, s.path, s.token, body, &t); err != nil {
			continue
		}
		if strings.HasSuffix(s.path, "/complete") {
			done++
			continue
		}
		l.followUp(t, time.Now())
	}
}

func (l *lifecycle) report() *Report {
	return &Report{
		Created: l.created, Completed: l.completed, Queued: l.queued, Errors: l.errors, Samples: l.samples,
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
