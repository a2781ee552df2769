package sqlstore

import (
	"context"
	"sync"
	"time"
)

// Routing reads a team's agents in the order of team_members_idle_idx
// (see teamCandidates), and PostgreSQL's planner chooses that order only
// when its statistics know the team's size. Until autovacuum analyzes the
// tables, up to a minute after they changed, a fleet that just came online
// or a team just filled looks empty or tiny: the planner then joins every
// member of the team to its agent and sorts them all, for each routing.
// With 1,000 agents enrolled in the seconds before the first tasks, that
// was 4.5–6.4 ms per routing against 0.2 once analyzed, and the load test
// never saw the end of it. So an instance that adds many memberships
// analyzes agents and team_members itself, in the background, each time
// their number has grown by half since it last did. MySQL recomputes an
// InnoDB table's statistics by itself once a tenth of it changed; SQLite
// is told its indexes (see agentsInIdleOrder).

// analyzeAfter is the fewest memberships added between two analyses.
const analyzeAfter = 100

// routingStatistics counts the memberships this instance added since its
// last analysis.
type routingStatistics struct {
	mu      sync.Mutex
	added   int
	known   int // memberships at the last analysis (0 before the first)
	running bool
	done    sync.WaitGroup
}

// membershipsAdded learns of memberships a committed change added, and
// analyzes the tables routing reads when they have grown by half.
func (db *DB) membershipsAdded(n int) {
	s := &db.routingStats
	if n == 0 || db.engine != Postgres {
		return
	}
	s.mu.Lock()
	s.added += n
	due := !s.running && s.added >= analyzeAfter && 2*s.added >= s.known
	if due {
		s.running, s.added = true, 0
		s.done.Add(1)
	}
	s.mu.Unlock()
	if !due {
		return
	}
	go func() {
		defer s.done.Done()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// Best effort: autovacuum analyzes the tables all the same, later.
		known := 0
		err := db.analyze(ctx, "agents", "team_members")
		if err == nil {
			err = db.bun.NewSelect().Table("team_members").ColumnExpr("count(*)").Scan(ctx, &known)
		}
		s.mu.Lock()
		s.running = false
		if err == nil {
			s.known = known
		}
		s.mu.Unlock()
	}()
}
