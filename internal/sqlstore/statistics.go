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
	known   int                // memberships at the last analysis (0 before the first)
	running context.CancelFunc // ends the analysis running, if one is
	closed  bool
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
	defer s.mu.Unlock()
	s.added += n
	if s.closed || s.running != nil || s.added < analyzeAfter || 2*s.added < s.known {
		return
	}
	s.added = 0
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	s.running = cancel
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		defer cancel()
		// Best effort: autovacuum analyzes the tables all the same, later.
		var known float64
		err := db.analyze(ctx, "agents", "team_members")
		if err == nil {
			err = db.bun.QueryRowContext(ctx, "SELECT reltuples FROM pg_class WHERE oid = 'team_members'::regclass").Scan(&known)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.running = nil
		if err == nil {
			s.known = int(known)
		}
	}()
}

// stop ends the analysis running, if one is, and starts no other.
func (s *routingStatistics) stop() {
	s.mu.Lock()
	s.closed = true
	if s.running != nil {
		s.running()
	}
	s.mu.Unlock()
	s.done.Wait()
}
