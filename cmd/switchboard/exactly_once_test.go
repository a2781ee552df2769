//go:build multiprocess

package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// The exactly-once proof of task routing: three `switchboard serve`
// processes share one database; hundreds of agents take thousands of tasks
// through offer, accept, reject, timeout and completion on all three at
// once; one process is killed with SIGKILL mid-run and a new one started in
// its place. Afterwards the database must show every task completed or
// legitimately queued, no task ever held by two agents at once, no agent
// ever above its capacity, and no offer accepted after its deadline.
//
// It takes minutes per engine, so it runs apart from the other tests, with
// the URLs of SWITCHBOARD_TEST_POSTGRES_URL and SWITCHBOARD_TEST_MYSQL_URL:
//
//	go test -v -tags multiprocess -run '^TestExactlyOnce$' ./cmd/switchboard
//
// Each engine's result ends in one line of counts, "exactly-once <engine>:
// agents=... tasks=... completed=... queued=... double_assigned=...
// over_capacity=... late_accepts=...", which .ci/run prints.
const (
	eoProcesses = 3
	// eoConnections is each process's --database-connections (see
	// runExactlyOnce).
	eoConnections = 20
	eoAgents      = 500
	eoTasks       = 5000
	eoProducers   = 8
	// Agents come to work once this many tasks wait: becoming available
	// takes queued work, for hundreds of agents at once on every process.
	eoHeadStart = 300
	// Producers keep at most this many tasks unfinished, so that a slow
	// run queues tasks rather than offering more than the agents can
	// answer in time.
	eoBacklog = 800
	// Agents come to work over this long once the head start is queued.
	eoStagger = 5 * time.Second
	// An idle agent waits this long for work in one request.
	eoPoll = 25 * time.Second
	// An agent with an offer it will not answer looks for new work after
	// this pause, doubled while nothing happens, up to four times as long.
	eoIdle = 250 * time.Millisecond
	// An offer stays open for eoOfferTimeout; a task is offered to at most
	// eoMaxOffers agents before it is left queued, escalated. With one
	// agent in five declining or letting an offer lapse, a few tasks in a
	// thousand are escalated: the path is taken, and counted.
	eoOfferTimeout = 2
	eoMaxOffers    = 4
	// Agents accept most offers, reject some and let others time out.
	eoAcceptShare = 0.80
	eoRejectShare = 0.10
	// Half the offers an agent lets lapse it then tries to accept anyway,
	// just after the deadline, before or while the timeout sweep takes
	// them: each such accept must be refused.
	eoLateTryShare = 0.5
	// The process is killed once this share of the tasks is created.
	eoKillAfter = 0.4
	// The run ends when everything is done, when nothing moves for
	// eoStall after the last task is created, or at eoDeadline.
	eoDeadline = 9 * time.Minute
	eoStall    = 15 * time.Second
)

func TestExactlyOnce(t *testing.T) {
	for _, engine := range []sqlstore.Engine{sqlstore.Postgres, sqlstore.MySQL} {
		t.Run(string(engine), func(t *testing.T) { runExactlyOnce(t, engine) })
	}
}

func runExactlyOnce(t *testing.T, engine sqlstore.Engine) {
	started := time.Now()
	dbURL := sqlstoretest.URL(t, engine)
	_, admin := migratedWithAdmin(t, dbURL)
	db := openSQL(t, dbURL)

	// Connections as an operator of several instances sets them: the
	// processes' together, a restarted one's while the server has not yet
	// ended those of the one killed, and the test's own stay within
	// PostgreSQL's 100.
	env := []string{"SWITCHBOARD_DATABASE_URL=" + dbURL, "SWITCHBOARD_DATABASE_CONNECTIONS=" + strconv.Itoa(eoConnections)}
	procs := make([]*serverProcess, eoProcesses)
	urls := make([]string, eoProcesses)
	for i := range procs {
		procs[i] = startProcess(t, env...)
		urls[i] = procs[i].URL
	}
	c := newCluster(urls)

	agents := setUpAgents(t, c, admin)
	var queue struct {
		ID string `json:"id"`
	}
	if s, err := c.do(t.Context(), call{method: "POST", path: "/api/v1/queues", token: admin, retry: true,
		body: fmt.Sprintf(`{"name": "Exactly once", "offer_timeout_seconds": %d, "max_offers": %d}`, eoOfferTimeout, eoMaxOffers)}, &queue); err != nil || s != http.StatusCreated {
		t.Fatalf("create queue: %d %v", s, err)
	}
	setUp := time.Since(started)

	// The run: agents at work, producers creating tasks, and this goroutine
	// watching the database, killing a process and starting its successor.
	ctx, stopWork := context.WithCancel(t.Context())
	defer stopWork()
	var st runStats
	var workers sync.WaitGroup
	start := make(chan struct{})
	for _, a := range agents {
		workers.Go(func() { a.work(ctx, c, &st, start) })
	}
	indexes := make(chan int, eoTasks)
	for i := range eoTasks {
		indexes <- i
	}
	close(indexes)
	var producers sync.WaitGroup
	for range eoProducers {
		producers.Go(func() { produce(ctx, c, admin, queue.ID, indexes, &st) })
	}
	producing := make(chan struct{})
	go func() { producers.Wait(); close(producing) }()

	runStart := time.Now()
	deadline := runStart.Add(eoDeadline)
	var killed, restarted int
	var killedAt time.Time
	var killedProc *serverProcess
	var last taskCounts
	lastChange, lastLog := time.Now(), time.Now()
	var final taskCounts
	outcome := "done"
	for {
		time.Sleep(250 * time.Millisecond)
		if !isClosed(start) && st.created.Load() >= eoHeadStart {
			close(start)
		}
		if killed == 0 && st.created.Load() >= int64(eoKillAfter*eoTasks) {
			killedProc = procs[1]
			procs[1].Kill(t)
			killed, killedAt = 1, time.Now()
			t.Logf("%s: killed process 2 (SIGKILL) after %d tasks were created", engine, st.created.Load())
		}
		if killed == 1 && restarted == 0 && time.Since(killedAt) >= time.Second {
			procs[1] = startProcess(t, env...)
			c.replace(1, procs[1].URL)
			restarted = 1
			t.Logf("%s: started a new process 2 on the same database", engine)
		}
		counts := countTasks(t, db)
		produced := isClosed(producing)
		if time.Since(lastLog) >= 10*time.Second {
			lastLog = time.Now()
			t.Logf("%s: after %v: %d tasks created; %d queued (%d escalated), %d offered, %d assigned, %d completed; %d calls found no process",
				engine, time.Since(runStart).Round(time.Second), st.created.Load(), counts.queued, counts.escalated, counts.offered, counts.assigned, counts.completed,
				c.transportErrors.Load())
		}
		if counts != last {
			last, lastChange = counts, time.Now()
		}
		if produced && restarted == 1 && counts.offered == 0 && counts.assigned == 0 && counts.queued == counts.escalated {
			final = counts
			break
		}
		if produced && time.Since(lastChange) > eoStall {
			final, outcome = counts, "stalled"
			break
		}
		if time.Now().After(deadline) {
			final, outcome = counts, "deadline"
			break
		}
	}
	stopWork()
	workers.Wait()
	producers.Wait()
	runTime := time.Since(runStart)
	if outcome != "done" {
		t.Errorf("%s: the run %s after %v: %+v", engine, map[string]string{"stalled": "stalled", "deadline": "reached its deadline"}[outcome], runTime.Round(time.Second), final)
		// Let open offers time out, so that the checks below see a
		// settled state.
		time.Sleep(eoOfferTimeout*time.Second + time.Second)
	}
	for _, p := range procs {
		p.Stop(t)
	}

	r := check(t, db, agents, eoTasks)
	r.killed, r.restarted = killed, restarted
	line := fmt.Sprintf("exactly-once %s: agents=%d tasks=%d completed=%d queued=%d escalated=%d stranded=%d lost=%d duplicated=%d "+
		"double_assigned=%d over_capacity=%d late_accepts=%d late_accept_409s=%d offers=%d accepted=%d rejected=%d timed_out=%d "+
		"offers_made_on=%s accept_409s=%d create_replays=%d transport_errors=%d cut_off=%d server_errors=%d killed=%d restarted=%d setup=%s run=%s",
		engine, len(agents), r.tasks, r.completed, r.queued, r.escalated, r.stranded, r.lost, r.duplicated,
		r.doubleAssigned, r.overCapacity, int64(r.lateAccepts)+st.lateAccepted.Load(), st.late409.Load(), r.offers, r.accepted, r.rejected, r.timedOut,
		offerPaths(t, db), st.accept409.Load(), st.replayed.Load(), c.transportErrors.Load(), c.cutOff.Load(), c.serverErrors.Load(), r.killed, r.restarted,
		setUp.Round(100*time.Millisecond), runTime.Round(100*time.Millisecond))
	t.Logf("%s: answer times:\n%s", engine, c.latencies())
	t.Log(line)

	if st.lateAccepted.Load() > 0 {
		t.Errorf("%d accepts sent after the offer's deadline were answered 200, want 409", st.lateAccepted.Load())
	}
	// A 5xx changes nothing (its transaction is rolled back) and the
	// agents carry on past it, as clients do: it is shown, not failed.
	if n := c.serverErrors.Load(); n > 0 {
		t.Logf("%s: %d answers were 5xx; the first: %s\nerrors logged by the processes:\n%s", engine, n, c.firstServerError(), errorLines(procs, killedProc))
	}
	if n := st.unexpected.Load(); n > 0 {
		t.Errorf("%d unexpected answers; the first: %s", n, st.firstUnexpected())
	}
	if st.late409.Load() == 0 {
		t.Errorf("no late accept was tried: the run did not test the deadline")
	}
	if killed != 1 || restarted != 1 {
		t.Errorf("killed %d and restarted %d processes, want 1 and 1", killed, restarted)
	}
}

// errorLines returns the lines the processes logged at level ERROR, at
// most ten of them.
func errorLines(procs []*serverProcess, killed *serverProcess) string {
	var lines []string
	for _, p := range append(slices.Clone(procs), killed) {
		if p == nil {
			continue
		}
		for line := range strings.Lines(p.logs.String()) {
			if strings.Contains(line, "level=ERROR") && len(lines) < 10 {
				lines = append(lines, line)
			}
		}
	}
	return strings.Join(lines, "")
}

// agent is one machine agent and its client: a loop that takes its offers
// and completes its tasks.
type agent struct {
	id, name, token string
	capacity        int
	rng             *rand.Rand
	// seen are the tasks offered to the agent that it has decided on, or
	// found past their deadline, and when: a task is never offered to one
	// agent twice.
	seen map[string]time.Time
	// lapsed are the offers the agent lets time out, by ID.
	lapsed map[string]*lapse
}

type lapse struct {
	expires time.Time
	tryAt   time.Time // when to try to accept it anyway; zero for never
}

// runStats counts what the clients saw.
type runStats struct {
	created, replayed, completed atomic.Int64
	// Accepts sent before the offer's deadline that were refused: the
	// sweep or a slow answer got there first.
	accept409 atomic.Int64
	// Accepts sent at or after the deadline: refused, as they must be,
	// and accepted, which must never happen.
	late409, lateAccepted atomic.Int64
	unexpected            atomic.Int64
	mu                    sync.Mutex
	firstUnexp            string
}

// unexpectedAnswer counts an answer that no run should give. 5xx answers
// are counted apart, by the cluster.
func (st *runStats) unexpectedAnswer(format string, args ...any) {
	if st.unexpected.Add(1) == 1 {
		st.mu.Lock()
		st.firstUnexp = fmt.Sprintf(format, args...)
		st.mu.Unlock()
	}
}

func (st *runStats) firstUnexpected() string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.firstUnexp
}

type taskItem struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

type offerItem struct {
	ID   string `json:"id"`
	Task struct {
		ID string `json:"id"`
	} `json:"task"`
	ExpiresAt time.Time `json:"expires_at"`
}

// work is the agent's day: once start is closed, become available (and be
// given queued tasks), then wait for work; complete what is assigned;
// accept, reject or ignore each new offer.
func (a *agent) work(ctx context.Context, c *cluster, st *runStats, start <-chan struct{}) {
	select {
	case <-start:
	case <-ctx.Done():
		return
	}
	sleep(ctx, time.Duration(a.rng.Int64N(int64(eoStagger))))
	for {
		s, err := c.do(ctx, call{method: "PUT", path: "/api/v1/agent/presence", token: a.token, retry: true, body: `{"presence": "available"}`}, nil)
		if err == nil && s == http.StatusOK {
			break
		}
		if ctx.Err() != nil {
			return
		}
		if err == nil && s < 500 {
			st.unexpectedAnswer("presence of %s: %d", a.name, s)
		}
		sleep(ctx, time.Second)
	}
	wait, idle := eoPoll, eoIdle
	for ctx.Err() == nil {
		var mine struct{ Items []taskItem }
		s, err := c.do(ctx, call{method: "GET", path: "/api/v1/agent/tasks?wait=" + wait.String(), token: a.token, retry: true}, &mine)
		if err != nil || s != http.StatusOK {
			if err == nil && s < 500 {
				st.unexpectedAnswer("GET /api/v1/agent/tasks: %d", s)
			}
			sleep(ctx, 50*time.Millisecond)
			continue
		}
		acted, fresh := false, 0
		for _, it := range mine.Items {
			switch {
			case it.Status == "assigned":
				a.complete(ctx, c, st, it.ID)
				acted = true
			case it.Status == "offered" && a.seen[it.ID].IsZero():
				fresh++
			}
		}
		now := time.Now()
		if fresh > 0 {
			var offers struct{ Items []offerItem }
			if s, err := c.do(ctx, call{method: "GET", path: "/api/v1/agent/offers", token: a.token, retry: true}, &offers); err == nil && s == http.StatusOK {
				for _, o := range offers.Items {
					if !a.seen[o.Task.ID].IsZero() {
						continue
					}
					a.seen[o.Task.ID] = now
					acted = true
					switch r := a.rng.Float64(); {
					case r < eoAcceptShare:
						if a.accept(ctx, c, st, o.ID, o.ExpiresAt) {
							a.complete(ctx, c, st, o.Task.ID)
						}
					case r < eoAcceptShare+eoRejectShare:
						a.reject(ctx, c, st, o.ID)
					default:
						l := &lapse{expires: o.ExpiresAt}
						if a.rng.Float64() < eoLateTryShare {
							l.tryAt = o.ExpiresAt.Add(time.Duration(a.rng.IntN(300)) * time.Millisecond)
						}
						a.lapsed[o.ID] = l
					}
				}
				// A task still offered with no open offer is past its
				// deadline, waiting for the sweep: nothing to do for it.
				for _, it := range mine.Items {
					if it.Status == "offered" && a.seen[it.ID].IsZero() {
						a.seen[it.ID] = now
					}
				}
			}
		}
		// Late accepts that are due; forgetting old offers.
		now = time.Now()
		next := now.Add(idle)
		pending := false
		for id, l := range a.lapsed {
			if !l.tryAt.IsZero() && !now.Before(l.tryAt) {
				a.accept(ctx, c, st, id, l.expires)
				l.tryAt = time.Time{}
			}
			if !l.tryAt.IsZero() {
				pending = true
				if l.tryAt.Before(next) {
					next = l.tryAt
				}
			}
			if now.Before(l.expires) {
				pending = true
			}
			if now.After(l.expires.Add(10 * time.Second)) {
				delete(a.lapsed, id)
			}
		}
		for id, at := range a.seen {
			if now.Sub(at) > time.Minute {
				delete(a.seen, id)
			}
		}
		// An offer seen already answers the long poll at once, and a late
		// accept must not wait for it: while there is one, look again
		// after a pause, longer while nothing happens.
		wait = eoPoll
		if pending {
			wait = 0
		}
		switch {
		case acted:
			idle = eoIdle
		case pending || len(mine.Items) > 0:
			sleep(ctx, time.Until(next))
			idle = min(2*idle, 4*eoIdle)
		}
	}
}

// accept accepts an offer and reports whether the task is now the agent's.
func (a *agent) accept(ctx context.Context, c *cluster, st *runStats, offerID string, expires time.Time) bool {
	sent := time.Now()
	late := !sent.Before(expires)
	s, err := c.do(ctx, call{method: "POST", path: "/api/v1/offers/" + offerID + "/accept", token: a.token}, nil)
	switch {
	case err != nil:
		return false // unknown: the next look at the agent's tasks tells
	case s == http.StatusOK && late:
		st.lateAccepted.Add(1)
		return true
	case s == http.StatusOK:
		return true
	case s == http.StatusConflict && late:
		st.late409.Add(1)
	case s == http.StatusConflict:
		st.accept409.Add(1)
	case s < 500:
		st.unexpectedAnswer("accept %s: %d", offerID, s)
	}
	return false
}

func (a *agent) reject(ctx context.Context, c *cluster, st *runStats, offerID string) {
	s, err := c.do(ctx, call{method: "POST", path: "/api/v1/offers/" + offerID + "/reject", token: a.token}, nil)
	if err == nil && s != http.StatusOK && s != http.StatusConflict && s < 500 {
		st.unexpectedAnswer("reject %s: %d", offerID, s)
	}
}

func (a *agent) complete(ctx context.Context, c *cluster, st *runStats, taskID string) {
	s, err := c.do(ctx, call{method: "POST", path: "/api/v1/tasks/" + taskID + "/complete", token: a.token, body: `{"outcome": "done"}`}, nil)
	if err == nil && s == http.StatusOK {
		st.completed.Add(1)
	}
	// 409 follows a completion whose answer was lost with a killed
	// process and that the agent's next look found done.
	if err == nil && s != http.StatusOK && s != http.StatusConflict && s < 500 {
		st.unexpectedAnswer("complete %s: %d", taskID, s)
	}
}

// produce creates tasks, each with an Idempotency-Key, so that a creation
// whose answer was lost with a killed process, or that failed, is retried
// safely until it is made.
func produce(ctx context.Context, c *cluster, token, queueID string, indexes <-chan int, st *runStats) {
	for i := range indexes {
		for st.created.Load()-st.completed.Load() >= eoBacklog && ctx.Err() == nil {
			sleep(ctx, 20*time.Millisecond)
		}
		for ctx.Err() == nil {
			s, err := c.do(ctx, call{method: "POST", path: "/api/v1/tasks", token: token, retry: true,
				idempotencyKey: fmt.Sprintf("exactly-once-%d", i),
				body:           fmt.Sprintf(`{"queue": %q, "title": "Task %d"}`, queueID, i)}, nil)
			if err == nil && (s == http.StatusCreated || s == http.StatusOK) {
				st.created.Add(1)
				if s == http.StatusOK {
					st.replayed.Add(1)
				}
				break
			}
			if err == nil && s < 500 {
				st.unexpectedAnswer("create task %d: %d", i, s)
				break
			}
			sleep(ctx, 100*time.Millisecond)
		}
	}
}

// setUpAgents imports the agents and issues each a token.
func setUpAgents(t *testing.T, c *cluster, admin string) []*agent {
	t.Helper()
	ctx := t.Context()
	var csv strings.Builder
	csv.WriteString("name,kind,capacity,status\n")
	for i := range eoAgents {
		fmt.Fprintf(&csv, "Agent %03d,machine,%d,active\n", i, 1+i%3)
	}
	if s, err := c.do(ctx, call{method: "POST", path: "/api/v1/agents/import", token: admin, contentType: "text/csv", body: csv.String()}, nil); err != nil || s != http.StatusCreated {
		t.Fatalf("import agents: %d %v", s, err)
	}
	var agents []*agent
	cursor := ""
	for {
		var page struct {
			Items []struct {
				ID       string `json:"id"`
				Name     string `json:"name"`
				Capacity int    `json:"capacity"`
			} `json:"items"`
			NextCursor string `json:"next_cursor"`
		}
		if s, err := c.do(ctx, call{method: "GET", path: "/api/v1/agents?kind=machine&limit=200&cursor=" + cursor, token: admin, retry: true}, &page); err != nil || s != http.StatusOK {
			t.Fatalf("list agents: %d %v", s, err)
		}
		for i, it := range page.Items {
			agents = append(agents, &agent{id: it.ID, name: it.Name, capacity: it.Capacity,
				rng: rand.New(rand.NewPCG(uint64(len(agents)+i), 42)), seen: map[string]time.Time{}, lapsed: map[string]*lapse{}})
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if len(agents) != eoAgents {
		t.Fatalf("%d agents listed, want %d", len(agents), eoAgents)
	}
	errs := make(chan error, len(agents))
	next := make(chan *agent, len(agents))
	for _, a := range agents {
		next <- a
	}
	close(next)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for a := range next {
				var tok struct {
					Token string `json:"token"`
				}
				if s, err := c.do(ctx, call{method: "POST", path: "/api/v1/agents/" + a.id + "/tokens", token: admin, body: `{"name": "exactly once"}`}, &tok); err != nil || s != http.StatusCreated {
					errs <- fmt.Errorf("token for %s: %d %v", a.name, s, err)
					continue
				}
				a.token = tok.Token
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return agents
}

// cluster spreads API calls over the server processes, one after the
// other, and sends a call that is safe to repeat to the next process when
// one does not answer.
type cluster struct {
	client *http.Client
	mu     sync.Mutex
	urls   []string
	next   atomic.Uint64

	transportErrors, cutOff, serverErrors atomic.Int64
	firstErr                              atomic.Pointer[string]

	latMu sync.Mutex
	lat   map[string]*latency
}

type latency struct {
	n          int
	total, max time.Duration
}

func (c *cluster) observe(r call, d time.Duration) {
	path, _, _ := strings.Cut(r.path, "?")
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if len(p) >= 32 {
			parts[i] = "{id}"
		}
	}
	kind := r.method + " " + strings.Join(parts, "/")
	c.latMu.Lock()
	defer c.latMu.Unlock()
	if c.lat == nil {
		c.lat = map[string]*latency{}
	}
	l := c.lat[kind]
	if l == nil {
		l = &latency{}
		c.lat[kind] = l
	}
	l.n++
	l.total += d
	l.max = max(l.max, d)
}

func (c *cluster) latencies() string {
	c.latMu.Lock()
	defer c.latMu.Unlock()
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(c.lat)) {
		l := c.lat[k]
		fmt.Fprintf(&b, "%s: %d, mean %v, max %v\n", k, l.n, (l.total / time.Duration(l.n)).Round(time.Millisecond), l.max.Round(time.Millisecond))
	}
	return b.String()
}

func newCluster(urls []string) *cluster {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Every agent holds a long poll open: keep their connections for
	// reuse rather than open and close thousands.
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 2000, 1000
	return &cluster{client: &http.Client{Transport: tr}, urls: slices.Clone(urls)}
}

func (c *cluster) pick() string {
	n := c.next.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.urls[n%uint64(len(c.urls))]
}

// replace puts a new process in the place of process i.
func (c *cluster) replace(i int, url string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.urls[i] = url
}

func (c *cluster) firstServerError() string {
	if p := c.firstErr.Load(); p != nil {
		return *p
	}
	return ""
}

// call is one API request.
type call struct {
	method, path, token string
	body, contentType   string
	idempotencyKey      string
	// retry sends the call again, to the next process, when one does not
	// answer: for reads, and writes that are safe to repeat.
	retry bool
}

// do makes the call on the next process and decodes a 2xx answer into out.
// An error means no process answered: for a call that is not retried, its
// outcome is unknown.
func (c *cluster) do(ctx context.Context, r call, out any) (int, error) {
	for attempt := 1; ; attempt++ {
		base := c.pick()
		began := time.Now()
		status, body, err := c.once(ctx, base, r)
		c.observe(r, time.Since(began))
		if err == nil {
			if status >= 500 {
				if c.serverErrors.Add(1) == 1 {
					msg := fmt.Sprintf("%s %s on %s: %d %s", r.method, r.path, base, status, body)
					c.firstErr.Store(&msg)
				}
			}
			if out != nil && status/100 == 2 {
				if err := json.Unmarshal(body, out); err != nil {
					return status, fmt.Errorf("%s %s: %v", r.method, r.path, err)
				}
			}
			return status, nil
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		c.transportErrors.Add(1)
		// A call that found no one listening was never made: any call
		// may go to the next process then. Any other was cut off, made
		// or not.
		var op *net.OpError
		refused := errors.As(err, &op) && op.Op == "dial"
		if !refused {
			c.cutOff.Add(1)
		}
		if !(r.retry || refused) || attempt == 10 {
			return 0, err
		}
		sleep(ctx, time.Duration(attempt)*20*time.Millisecond)
	}
}

func (c *cluster) once(ctx context.Context, base string, r call) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, base+r.path, body)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	if r.body != "" {
		ct := r.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	if r.idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", r.idempotencyKey)
	}
	res, err := c.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, nil, err
	}
	return res.StatusCode, b, nil
}

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// openSQL opens the test's database directly, for the checks.
func openSQL(t *testing.T, dbURL string) *sql.DB {
	t.Helper()
	_, driver, dsn, err := sqlstore.ParseURL(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	// Connected before the servers start, so that their pools cannot
	// leave the checks without a connection.
	db.SetMaxOpenConns(2)
	db.SetMaxIdleConns(2)
	db.SetConnMaxIdleTime(0)
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

type taskCounts struct {
	total, queued, escalated, offered, assigned, completed, other int
}

func countTasks(t *testing.T, db *sql.DB) taskCounts {
	t.Helper()
	escalated := fmt.Sprintf("CASE WHEN offers >= %d THEN 1 ELSE 0 END", eoMaxOffers)
	rows, err := db.Query("SELECT status, " + escalated + ", COUNT(*) FROM tasks GROUP BY status, " + escalated)
	if err != nil {
		t.Fatalf("count tasks: %v", err)
	}
	defer rows.Close()
	var c taskCounts
	for rows.Next() {
		var status string
		var escalated, n int
		if err := rows.Scan(&status, &escalated, &n); err != nil {
			t.Fatal(err)
		}
		c.total += n
		switch status {
		case "queued":
			c.queued += n
			if escalated == 1 {
				c.escalated += n
			}
		case "offered":
			c.offered += n
		case "assigned":
			c.assigned += n
		case "completed":
			c.completed += n
		default:
			c.other += n
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return c
}

// report is what the database shows after the run.
type report struct {
	tasks, completed, queued, escalated, stranded, lost, duplicated int
	doubleAssigned, overCapacity, lateAccepts                       int
	offers, accepted, rejected, timedOut                            int
	killed, restarted                                               int
}

// check reads the database after the run and reports every breach of
// exactly once, with examples, as test errors.
//
// Who held which task when is replayed from the event log in position
// order. Positions are taken under one lock as the last step of each
// transaction, so their order is the order in which the changes
// committed; the changes' times are taken when each transaction begins,
// before it may wait for a lock, and do not give that order.
func check(t *testing.T, db *sql.DB, agents []*agent, want int) report {
	t.Helper()
	var r report
	fail := func(what string, examples []string) {
		t.Helper()
		if len(examples) > 0 {
			t.Errorf("%s: %d, for example %s", what, len(examples), strings.Join(examples[:min(5, len(examples))], "; "))
		}
	}

	// Tasks: each created once, each completed or waiting in the queue.
	type task struct {
		status, agent string
		offers        int
		key           string
	}
	tasks := map[string]*task{}
	keys := map[string]int{}
	var id string
	var tk task
	eachRow(t, db, "SELECT id, status, COALESCE(agent_id, ''), offers, COALESCE(idempotency_key, '') FROM tasks",
		[]any{&id, &tk.status, &tk.agent, &tk.offers, &tk.key}, func() {
			tasks[id] = &task{status: tk.status, agent: tk.agent, offers: tk.offers, key: tk.key}
			keys[tk.key]++
		})
	r.tasks = len(tasks)
	var duplicated, notDone, stranded []string
	for i := range want {
		key := fmt.Sprintf("exactly-once-%d", i)
		switch n := keys[key]; {
		case n == 0:
			r.lost++
		case n > 1:
			duplicated = append(duplicated, key)
		}
	}
	r.duplicated = len(duplicated)
	if r.lost > 0 {
		t.Errorf("lost tasks: %d of %d created are not in the database", r.lost, want)
	}
	fail("tasks created twice", duplicated)
	for id, tk := range tasks {
		switch {
		case tk.status == "completed":
			r.completed++
		case tk.status == "queued" && tk.offers >= eoMaxOffers:
			r.queued++
			r.escalated++
		case tk.status == "queued":
			// Queued, not escalated, while agents are free: nobody will
			// ever take it.
			r.queued++
			stranded = append(stranded, id)
		default:
			notDone = append(notDone, id+" "+tk.status)
		}
	}
	r.stranded = len(stranded)
	fail("tasks neither completed nor queued after the run", notDone)
	fail("tasks queued without being escalated, agents free", stranded)

	// Offers: at most one open (pending or accepted) per task; a completed
	// task has exactly one accepted, by the agent that completed it; no
	// agent is offered a task twice; no offer accepted after its deadline.
	type offer struct{ task, agent, status string }
	byTask := map[string][]offer{}
	var o offer
	eachRow(t, db, "SELECT task_id, agent_id, status FROM offers",
		[]any{&o.task, &o.agent, &o.status}, func() {
			byTask[o.task] = append(byTask[o.task], o)
			r.offers++
			switch o.status {
			case "accepted":
				r.accepted++
			case "rejected":
				r.rejected++
			case "timed_out":
				r.timedOut++
			}
		})
	var double, mismatch, reoffered, countOff []string
	for id, tk := range tasks {
		offers := byTask[id]
		open, accepted, seen := 0, 0, map[string]bool{}
		var acceptedBy string
		for _, o := range offers {
			if o.status == "pending" || o.status == "accepted" {
				open++
			}
			if o.status == "accepted" {
				accepted++
				acceptedBy = o.agent
			}
			if seen[o.agent] {
				reoffered = append(reoffered, id+" to "+o.agent)
			}
			seen[o.agent] = true
		}
		if open > 1 {
			double = append(double, fmt.Sprintf("%s (%d open offers)", id, open))
		}
		if tk.status == "completed" && (accepted != 1 || acceptedBy != tk.agent) {
			mismatch = append(mismatch, fmt.Sprintf("%s completed by %s, %d accepted offers (by %s)", id, tk.agent, accepted, acceptedBy))
		}
		if tk.status == "queued" && (open != 0 || tk.agent != "") {
			mismatch = append(mismatch, fmt.Sprintf("%s queued with %d open offers, agent %q", id, open, tk.agent))
		}
		if len(offers) != tk.offers {
			countOff = append(countOff, fmt.Sprintf("%s counts %d offers, has %d", id, tk.offers, len(offers)))
		}
	}
	fail("tasks with two open offers", double)
	fail("tasks whose state and offers disagree", mismatch)
	fail("tasks offered twice to one agent", reoffered)
	fail("tasks whose offer count is wrong", countOff)
	var lateSQL []string
	var responded, expires time.Time
	eachRow(t, db, "SELECT id, responded_at, expires_at FROM offers WHERE status = 'accepted' AND responded_at >= expires_at",
		[]any{&id, &responded, &expires}, func() {
			lateSQL = append(lateSQL, fmt.Sprintf("%s accepted at %s, expired at %s", id, responded.Format(time.RFC3339Nano), expires.Format(time.RFC3339Nano)))
		})
	r.lateAccepts = len(lateSQL)
	fail("offers accepted after their deadline", lateSQL)

	// The event log, replayed in commit order: who holds each task after
	// each change, and how many tasks each agent holds.
	capacity := map[string]int{}
	for _, a := range agents {
		capacity[a.id] = a.capacity
	}
	holder := map[string]string{}
	status := map[string]string{}
	held := map[string]int{}
	peak := map[string]int{}
	var doubleEv, overEv, chain []string
	over := map[string]bool{}
	completedEv, historyEv := 0, 0
	var pos int64
	var typ, agentID, data string
	eachRow(t, db, "SELECT position, type, subject_id, COALESCE(agent_id, ''), data FROM events WHERE subject_type = 'task' ORDER BY position",
		[]any{&pos, &typ, &id, &agentID, &data}, func() {
			var d struct {
				Before struct{ Status string } `json:"before"`
				After  struct{ Status string } `json:"after"`
			}
			if err := json.Unmarshal([]byte(data), &d); err != nil {
				t.Fatalf("event %d: %v", pos, err)
			}
			if d.After.Status == "" {
				return // escalated: no change of status
			}
			historyEv++
			if d.Before.Status != status[id] {
				chain = append(chain, fmt.Sprintf("event %d (%s) moves %s from %q, but it was %q", pos, typ, id, d.Before.Status, status[id]))
			}
			status[id] = d.After.Status
			switch d.After.Status {
			case "offered", "assigned":
				switch h := holder[id]; {
				case h == "":
					holder[id] = agentID
					held[agentID]++
					peak[agentID] = max(peak[agentID], held[agentID])
					if held[agentID] > capacity[agentID] && !over[agentID] {
						over[agentID] = true
						overEv = append(overEv, fmt.Sprintf("agent %s holds %d tasks at event %d, capacity %d", agentID, held[agentID], pos, capacity[agentID]))
					}
				case h != agentID || d.After.Status == "offered":
					doubleEv = append(doubleEv, fmt.Sprintf("event %d (%s) gives %s to %s while %s holds it", pos, typ, id, agentID, h))
				}
			default:
				if h := holder[id]; h != "" {
					held[h]--
					delete(holder, id)
				}
				if d.After.Status == "completed" {
					completedEv++
				}
			}
		})
	r.overCapacity = len(overEv)
	fail("agents above capacity", overEv)
	fail("tasks given to a second agent while held", doubleEv)
	fail("task changes that do not follow from the one before", chain)
	if completedEv != r.completed {
		t.Errorf("the event log completes %d tasks, the tasks table %d", completedEv, r.completed)
	}
	var history int
	if err := db.QueryRow("SELECT COUNT(*) FROM audit_entries WHERE target_type = 'task' AND action IN " +
		"('task.created', 'task.offered', 'task.assigned', 'task.completed', 'task.requeued', 'task.cancelled', 'task.expired')").Scan(&history); err != nil {
		t.Fatal(err)
	}
	if history != historyEv {
		t.Errorf("the tasks' history has %d transitions, the event log %d task changes", history, historyEv)
	}

	// Every agent's workload is what it holds: nothing, after the run.
	var workload []string
	var load, capa, holding int
	eachRow(t, db, "SELECT a.id, a.workload, a.capacity, "+
		"(SELECT COUNT(*) FROM tasks tk WHERE tk.agent_id = a.id AND tk.status IN ('offered', 'assigned')) FROM agents a",
		[]any{&id, &load, &capa, &holding}, func() {
			if load != holding || load > capa || load < 0 || held[id] != holding {
				workload = append(workload, fmt.Sprintf("agent %s: workload %d, capacity %d, holds %d (%d by the events)", id, load, capa, holding, held[id]))
			}
		})
	fail("agents whose workload is not what they hold", workload)
	r.doubleAssigned = len(double) + len(doubleEv)

	full := 0
	for id, p := range peak {
		if p == capacity[id] {
			full++
		}
	}
	t.Logf("%d of %d agents reached their capacity at some point", full, len(agents))
	return r
}

// offerPaths counts the offers by the change that made them, read from the
// event log: a task's creation, an agent's completing a task (and taking
// the next queued one), an agent's becoming available, a rejection, or a
// timeout (the task going on to the next agent). A change's events share
// its request's ID; the timeout sweep has none.
func offerPaths(t *testing.T, db *sql.DB) string {
	t.Helper()
	names := map[string]string{"task.created": "create", "task.completed": "complete",
		"agent.presence_changed": "presence", "offer.rejected": "reject"}
	cause := map[string]string{}
	counts := map[string]int{}
	var typ, req string
	eachRow(t, db, "SELECT type, request_id FROM events ORDER BY position", []any{&typ, &req}, func() {
		switch {
		case typ == "task.offered" && req == "":
			counts["timeout"]++
		case typ == "task.offered":
			name := names[cause[req]]
			if name == "" {
				name = "other"
			}
			counts[name]++
		case req != "" && cause[req] == "":
			cause[req] = typ
		}
	})
	var parts []string
	for _, k := range []string{"create", "complete", "presence", "reject", "timeout", "other"} {
		if counts[k] > 0 || k != "other" {
			parts = append(parts, fmt.Sprintf("%s:%d", k, counts[k]))
		}
	}
	return strings.Join(parts, "/")
}

// eachRow runs a query and calls fn with each row, scanned into dest.
func eachRow(t *testing.T, db *sql.DB, q string, dest []any, fn func()) {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		fn()
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}
