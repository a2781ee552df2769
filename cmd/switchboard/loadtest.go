package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard/internal/loadgen"
)

func runLoadtest(ctx context.Context, e env, args []string) error {
	fs := newFlagSet("loadtest", help{
		usage: "switchboard loadtest --token T [--url U] [flags]",
		description: "Measures a running server through its API. It sets up a team, a queue routing to\n" +
			"it and --agents agents (each with a token, available), then for --duration runs\n" +
			"a scenario (after --warmup of the same, unmeasured):\n" +
			"  lifecycle  takes tasks through their whole lifecycle: created with the admin\n" +
			"             token, routed and offered by the server, accepted and completed by\n" +
			"             the agent as soon as each answer arrives; prints tasks per second\n" +
			"             and latency percentiles of each step and of create→assigned.\n" +
			"             --workers tasks run at once, each starting the next when it ends;\n" +
			"             with --rate, tasks start on time (at most --workers at once).\n" +
			"  heartbeat  sends heartbeats (with a little metadata) as each agent in turn.\n" +
			"  me         calls GET /api/v1/me as each agent in turn.\n" +
			"With --baseline, the same requests first go to a bare net/http handler that\n" +
			"this command serves on loopback, and the ratio of the server's rate to it is\n" +
			"printed: the machine's own ceiling, measured in the same sitting.\n" +
			"The agents, team and queue stay, named \"loadtest …\".\n" +
			"Point it at a test server: it creates real data.",
	}, e.stdout)
	url := fs.String("url", "http://127.0.0.1:8080", "the server's base `URL`")
	token := fs.String("token", e.getenv("SWITCHBOARD_TOKEN"), "an admin's API `token` (env SWITCHBOARD_TOKEN)")
	agents := fs.Int("agents", 1000, "how many `agents` to set up")
	capacity := fs.Int("capacity", 4, "tasks each agent holds at once")
	rate := fs.Int("rate", 0, "tasks started per `second`, an open model; 0 is as fast as --workers allow")
	workers := fs.Int("workers", 64, "requests in flight at most")
	duration := fs.Duration("duration", 10*time.Second, "how long to start tasks for")
	warmup := fs.Duration("warmup", 0, "run the same load this long first, unmeasured, so that the server's and the database's caches are warm")
	offerTimeout := fs.Duration("offer-timeout", 30*time.Second, "the queue's offer timeout; 0 assigns directly, without offers")
	scenario := fs.String("scenario", loadgen.ScenarioLifecycle, "what to run: "+strings.Join(loadgen.Scenarios, ", "))
	baseline := fs.Bool("baseline", false, "measure a bare net/http handler first and print the ratio (heartbeat and me)")
	if h, err := parse(fs, args); h || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("loadtest: unexpected argument %q", fs.Arg(0))
	}
	cfg := loadgen.Config{URL: *url, Token: *token, Agents: *agents, Capacity: *capacity, Rate: *rate,
		Workers: *workers, Duration: *duration, Warmup: *warmup, OfferTimeout: *offerTimeout}
	if err := cfg.Validate(); err != nil {
		return usagef("loadtest: %v (see switchboard loadtest --help)", err)
	}
	// Its requests' garbage dies as young as the server's, and on the
	// server's machine its collector's CPU is taken from the server: the
	// lifecycle at 384 workers took a tenth less CPU per task here with
	// the server's setting.
	tuneGC(e.getenv)
	if *scenario == loadgen.ScenarioLifecycle {
		if *baseline {
			return usagef("loadtest: --baseline is for the heartbeat and me scenarios; compare the lifecycle with the bare-SQL ceiling instead")
		}
		if err := cfg.ValidateLifecycle(); err != nil {
			return usagef("loadtest: %v (see switchboard loadtest --help)", err)
		}
		rep, err := loadgen.Run(ctx, cfg, e.stderr)
		if err != nil {
			return fmt.Errorf("loadtest: %w", err)
		}
		rep.Print(e.stdout)
		if rep.Errors > 0 {
			return fmt.Errorf("loadtest: %d requests failed", rep.Errors)
		}
		return nil
	}
	if !slices.Contains(loadgen.Scenarios, *scenario) {
		return usagef("loadtest: --scenario must be one of %s", strings.Join(loadgen.Scenarios, ", "))
	}
	var bare *loadgen.RequestReport
	if *baseline {
		fmt.Fprintf(e.stderr, "measuring a bare net/http handler for %s\n", cfg.Duration)
		var err error
		if bare, err = loadgen.RunBaseline(ctx, cfg, *scenario); err != nil {
			return fmt.Errorf("loadtest: baseline: %w", err)
		}
		bare.Print(e.stdout)
	}
	rep, err := loadgen.RunRequests(ctx, cfg, *scenario, e.stderr)
	if err != nil {
		return fmt.Errorf("loadtest: %w", err)
	}
	rep.Print(e.stdout)
	if bare != nil && bare.PerSecond() > 0 {
		fmt.Fprintf(e.stdout, "ratio_to_bare %.2f\n", rep.PerSecond()/bare.PerSecond())
	}
	if rep.Errors > 0 {
		return fmt.Errorf("loadtest: %d requests failed", rep.Errors)
	}
	return nil
}
