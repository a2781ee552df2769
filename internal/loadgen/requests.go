package loadgen

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
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
	fmt.Fprintf(log, "running %s for %s as %d agents at %s\n", scenario, cfg.Duration, len(tokens), requestRateText(cfg.Rate))
	rep := attack(ctx, cfg, transport, scenario, func(i uint64, t *vegeta.Target) {
		t.Method, t.URL, t.Body = method, base+path, body
		t.Header = http.Header{"Authorization": {tokens[i%uint64(len(tokens))]}}
		if body != nil {
			t.Header.Set("Content-Type", "application/json")
		}
	})
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
	rep := attack(ctx, cfg, newTransport(cfg), "bare_"+scenario, func(_ uint64, t *vegeta.Target) {
		t.Method, t.URL, t.Body = method, base+path, body
		t.Header = http.Header{"Authorization": {"Bearer baseline"}}
		if body != nil {
			t.Header.Set("Content-Type", "application/json")
		}
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

// attack makes requests built by target (given each request's number) for
// cfg.Duration and measures their answers.
func attack(ctx context.Context, cfg Config, transport *http.Transport, name string, target func(i uint64, t *vegeta.Target)) *RequestReport {
	var seq atomic.Uint64
	targeter := func(t *vegeta.Target) error {
		target(seq.Add(1), t)
		return nil
	}
	attacker := vegeta.NewAttacker(vegeta.Client(&http.Client{Transport: transport, Timeout: 30 * time.Second}),
		vegeta.Workers(uint64(cfg.Workers)), vegeta.MaxWorkers(uint64(cfg.Workers)))
	rep := &RequestReport{Name: name}
	lat := make([]time.Duration, 0, 1<<20)
	var first, last time.Time
	for res := range attacker.Attack(targeter, vegeta.Rate{Freq: cfg.Rate, Per: time.Second}, cfg.Duration, name) {
		if first.IsZero() || res.Timestamp.Before(first) {
			first = res.Timestamp
		}
		if end := res.End(); end.After(last) {
			last = end
		}
		if res.Error != "" || res.Code < 200 || res.Code >= 300 {
			rep.Errors++
			if len(rep.Samples) < 5 {
				rep.Samples = append(rep.Samples, fmt.Sprintf("%s %s: %d %s %s", res.Method, res.URL, res.Code, res.Error, clip(res.Body)))
			}
		} else {
			rep.Requests++
			lat = append(lat, res.Latency)
		}
		if ctx.Err() != nil {
			attacker.Stop()
		}
	}
	rep.Elapsed = last.Sub(first)
	rep.Latency = latencies(lat)
	return rep
}
