package main

import (
	"context"
	"fmt"
	"time"

	"github.com/switchboardhq/switchboard/internal/loadgen"
)

func runLoadtest(ctx context.Context, e env, args []string) error {
	fs := newFlagSet("loadtest", help{
		usage: "switchboard loadtest --token T [--url U] [flags]",
		description: "Measures a running server through its API: sets up a team, a queue routing to\n" +
			"it and --agents agents (each with a token, available), then for --duration\n" +
			"takes tasks through their whole lifecycle: created with the admin token,\n" +
			"routed and offered by the server, accepted and completed by the agent.\n" +
			"Prints tasks per second and latency percentiles of each step and of\n" +
			"create→assigned. The agents, team and queue stay, named \"loadtest …\".\n" +
			"Point it at a test server: it creates real data.",
	}, e.stdout)
	url := fs.String("url", "http://127.0.0.1:8080", "the server's base `URL`")
	token := fs.String("token", e.getenv("SWITCHBOARD_TOKEN"), "an admin's API `token` (env SWITCHBOARD_TOKEN)")
	agents := fs.Int("agents", 1000, "how many `agents` to set up")
	capacity := fs.Int("capacity", 4, "tasks each agent holds at once")
	rate := fs.Int("rate", 0, "tasks started per `second`, an open model; 0 is as fast as --workers allow")
	workers := fs.Int("workers", 64, "requests in flight at most")
	duration := fs.Duration("duration", 10*time.Second, "how long to start tasks for")
	offerTimeout := fs.Duration("offer-timeout", 30*time.Second, "the queue's offer timeout; 0 assigns directly, without offers")
	if h, err := parse(fs, args); h || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("loadtest: unexpected argument %q", fs.Arg(0))
	}
	cfg := loadgen.Config{URL: *url, Token: *token, Agents: *agents, Capacity: *capacity, Rate: *rate,
		Workers: *workers, Duration: *duration, OfferTimeout: *offerTimeout}
	if err := cfg.Validate(); err != nil {
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
