package loadgen

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// fleet is what a load test works with: a queue that routes only to its
// own agents, whose tokens it holds.
type fleet struct {
	queueID string
	tokens  map[string]string // agent ID → bearer token
}

// setupParallelism is how many set-up calls run at once: enough to make a
// thousand agents a matter of seconds, few enough not to be the load.
const setupParallelism = 16

// setUp creates a team, n agents in it (each with a token, and available)
// and a queue routing to the team, so that tasks of the test reach only
// agents the test answers for. Progress goes to log.
func setUp(ctx context.Context, c *client, cfg Config, log io.Writer) (*fleet, error) {
	suffix := time.Now().UTC().Format("20060102-150405.000")
	var team struct {
		ID string `json:"id"`
	}
	if err := c.call(ctx, "POST", "/api/v1/teams", cfg.Token, map[string]any{
		"name": "loadtest " + suffix, "description": "Agents of a load test.",
	}, &team); err != nil {
		return nil, fmt.Errorf("create the team: %w", err)
	}
	var queue struct {
		ID string `json:"id"`
	}
	if err := c.call(ctx, "POST", "/api/v1/queues", cfg.Token, map[string]any{
		"name": "loadtest " + suffix, "team_ids": []string{team.ID}, "strategy": "longest_idle",
		"offer_timeout_seconds": int(cfg.OfferTimeout / time.Second), "max_offers": 3,
	}, &queue); err != nil {
		return nil, fmt.Errorf("create the queue: %w", err)
	}

	f := &fleet{queueID: queue.ID, tokens: make(map[string]string, cfg.Agents)}
	var mu sync.Mutex
	var done atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(setupParallelism)
	for i := range cfg.Agents {
		g.Go(func() error {
			var agent struct {
				ID string `json:"id"`
			}
			if err := c.call(gctx, "POST", "/api/v1/agents", cfg.Token, map[string]any{
				"name": fmt.Sprintf("loadtest %s agent %d", suffix, i+1), "kind": "machine",
				"capacity": cfg.Capacity, "teams": []string{team.ID},
			}, &agent); err != nil {
				return fmt.Errorf("create agent %d: %w", i+1, err)
			}
			var token struct {
				Token string `json:"token"`
			}
			if err := c.call(gctx, "POST", "/api/v1/agents/"+agent.ID+"/tokens", cfg.Token,
				map[string]any{"name": "loadtest"}, &token); err != nil {
				return fmt.Errorf("create agent %d's token: %w", i+1, err)
			}
			if err := c.call(gctx, "PUT", "/api/v1/agent/presence", token.Token,
				map[string]any{"presence": "available"}, nil); err != nil {
				return fmt.Errorf("make agent %d available: %w", i+1, err)
			}
			mu.Lock()
			f.tokens[agent.ID] = token.Token
			mu.Unlock()
			if n := done.Add(1); n%250 == 0 || int(n) == cfg.Agents {
				fmt.Fprintf(log, "set up %d of %d agents\n", n, cfg.Agents)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return f, nil
}
