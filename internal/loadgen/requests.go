package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The scenarios of a load test: whole task lifecycles, or one kind of
// request made by every agent in turn.
const (
	ScenarioLifecycle = "lifecycle"
	ScenarioHeartbeat = "heartbeat" // POST /api/v1/agent/heartbeat with a little metadata
	ScenarioMe        = "me"        // GET /api/v1/me
)

// Scenarios lists the scenarios, the first being the default.
var Scenarios = []string{ScenarioLifecycle, ScenarioHeartbeat, ScenarioMe}

// RequestReport is what a run of one kind of request measured.
type RequestReport struct {
	Name     string
	Elapsed  time.Duration
	Requests int // answered with 2xx
	Errors   int
	Samples  []string
	Latency  Latencies
}

// PerSecond is the rate of successful requests.
func (r *RequestReport) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// Print writes the report as one line, then the error samples.
func (r *RequestReport) Print(w io.Writer) {
	fmt.Fprintf(w, "%s requests_per_s %.0f (%d in %.1f s, errors %d) %s\n",
		r.Name, r.PerSecond(), r.Requests, r.Elapsed.Seconds(), r.Errors, r.Latency)
	for _, s := range r.Samples {
		fmt.Fprintf(w, "error: %s\n", s)
	}
}

// heartbeatBody is what each heartbeat of the test reports.
var heartbeatBody = []byte(`{"metadata":{"version":"loadtest","hostname":"loadgen"}}`)

// RunRequests sets up cfg.Agents agents with tokens, then for cfg.Duration
// makes the scenario's request as each agent in turn, with cfg.Workers in
// flight (or at cfg.Rate per second).
func RunRequests(ctx context.Context, cfg Config, scenario string, log io.Writer) (*RequestReport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	method, path, body, err := scenarioRequest(scenario)
	if err != nil {
		return nil, err
	}
	base := strings.TrimRight(cfg.URL, "/")
	transport := newTransport(cfg)
	c := &client{base: base, http: &http.Client{Transport: transport, Timeout: 30 * time.Second}}
	f, err := setUp(ctx, c, cfg, log)
	if err != nil {
		return nil, err
	}
	tokens := make([]string, 0, len(f.tokens))
	for _, t := range f.tokens {
		tokens = append(tokens, "Bearer "+t)
	}
	as := func(i uint64, r *request) {
		r.method, r.url, r.body, r.auth = method, base+path, body, tokens[i%uint64(len(tokens))]
	}
	if cfg.Warmup > 0 {
		fmt.Fprintf(log, "warming up for %s\n", cfg.Warmup)
		warm := cfg
		warm.Duration = cfg.Warmup
		attack(ctx, warm, transport, scenario, as)
	}
	fmt.Fprintf(log, "running %s for %s as %d agents at %s\n", scenario, cfg.Duration, len(tokens), requestRateText(cfg.Rate))
	rep := attack(ctx, cfg, transport, scenario, as)
	return rep, ctx.Err()
}

// RunBaseline measures the same requests against a bare net/http handler
// served by this process on loopback: what Go and the machine allow with no
// application at all, the yardstick for RunRequests' figures.
func RunBaseline(ctx context.Context, cfg Config, scenario string) (*RequestReport, error) {
	method, path, body, err := scenarioRequest(scenario)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(bareHandler), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	base := "http://" + ln.Addr().String()
	cfg.URL = base
	rep := attack(ctx, cfg, newTransport(cfg), "bare_"+scenario, func(_ uint64, r *request) {
		r.method, r.url, r.body, r.auth = method, base+path, body, "Bearer baseline"
	})
	return rep, ctx.Err()
}

// bareHandler answers as the API would, without doing anything: 204 to a
// POST, a small JSON object to a GET.
func bareHandler(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	if r.Method == http.MethodPost {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"kind":"agent","agent":{"id":"baseline"}}`))
}

func scenarioRequest(scenario string) (method, path string, body []byte, err error) {
	switch scenario {
	case ScenarioHeartbeat:
		return http.MethodPost, "/api/v1/agent/heartbeat", heartbeatBody, nil
	case ScenarioMe:
		return http.MethodGet, "/api/v1/me", nil, nil
	}
	return "", "", nil, fmt.Errorf("scenario %q is not one of %s", scenario, strings.Join(Scenarios, ", "))
}

func newTransport(cfg Config) *http.Transport {
	return &http.Transport{MaxIdleConnsPerHost: cfg.Workers, MaxConnsPerHost: cfg.Workers, IdleConnTimeout: time.Minute}
}

func requestRateText(rate int) string {
	if rate == 0 {
		return "the highest rate the workers allow"
	}
	return fmt.Sprintf("%d requests/s", rate)
}

// attack makes requests built by target (given each request's number)
// for cfg.Duration from cfg.Workers goroutines, each waiting for its answer
// before the next (or, with cfg.Rate, for its turn: see schedule), and
// measures them. It is a plain loop rather than a load-testing library's
// attacker, so that the client takes as little of the machine as it can:
// on one machine, every cycle it spends is one the server does not get.
func attack(ctx context.Context, cfg Config, transport *http.Transport, name string, target func(i uint64, r *request)) *RequestReport {
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var turns <-chan time.Time
	if cfg.Rate > 0 {
		turns = newSchedule(cfg.Rate).turns(ctx)
	}
	var seq atomic.Uint64
	results := make([]workerResult, cfg.Workers)
	var wg sync.WaitGroup
	for w := range cfg.Workers {
		wg.Go(func() {
			res := &results[w]
			res.latencies = make([]time.Duration, 0, 1<<14)
			var r request
			for {
				if turns != nil {
					if _, ok := <-turns; !ok {
						return
					}
				}
				if ctx.Err() != nil {
					return
				}
				target(seq.Add(1), &r)
				start := time.Now()
				code, body, err := r.do(ctx, client)
				took := time.Since(start)
				switch {
				case ctx.Err() != nil:
					return // cut off by the end of the run: not an answer
				case err != nil || code < 200 || code >= 300:
					res.errors++
					if len(res.samples) < 5 {
						res.samples = append(res.samples, fmt.Sprintf("%s %s: %d %v %s", r.method, r.url, code, err, clip(body)))
					}
				default:
					res.latencies = append(res.latencies, took)
				}
				res.last = time.Now()
			}
		})
	}
	first := time.Now()
	wg.Wait()
	rep := &RequestReport{Name: name}
	var all []time.Duration
	last := first
	for _, res := range results {
		rep.Errors += res.errors
		rep.Requests += len(res.latencies)
		all = append(all, res.latencies...)
		if len(rep.Samples) < 5 {
			rep.Samples = append(rep.Samples, res.samples...)
		}
		if res.last.After(last) {
			last = res.last
		}
	}
	rep.Elapsed = last.Sub(first)
	rep.Latency = latencies(all)
	return rep
}

type workerResult struct {
	latencies []time.Duration
	errors    int
	samples   []string
	last      time.Time
}

// request is one call of a scenario.
type request struct {
	method, url, auth string
	body              []byte
}

func (r *request) do(ctx context.Context, client *http.Client) (int, []byte, error) {
	return r.send(ctx, client, false)
}

// read is do that also returns a successful answer's body.
func (r *request) read(ctx context.Context, client *http.Client) (int, []byte, error) {
	return r.send(ctx, client, true)
}

// send makes the request. The body of an answer other than 2xx is returned
// (its start) to say what went wrong; that of a 2xx only when keep is set.
func (r *request) send(ctx context.Context, client *http.Client, keep bool) (int, []byte, error) {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, body)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", r.auth)
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		if keep {
			data, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
			return res.StatusCode, data, err
		}
		_, err = io.Copy(io.Discard, res.Body)
		return res.StatusCode, nil, err
	}
	data, _ := io.ReadAll(io.LimitReader(res.Body, 1<<10))
	return res.StatusCode, data, nil
}
