package sqlstore_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// BenchmarkSweepPresence measures the sweeper among many present agents
// (20,000 unless SWITCHBOARD_BENCH_AGENTS says otherwise): the pass that
// finds nobody stale, which every instance runs every second, and the
// sweep of 100 stale agents, reported per agent:
//
//	go test ./internal/sqlstore -run '^$' -bench SweepPresence -benchtime 20x
func BenchmarkSweepPresence(b *testing.B) {
	n := 20_000
	if v, err := strconv.Atoi(os.Getenv("SWITCHBOARD_BENCH_AGENTS")); err == nil && v > 0 {
		n = v
	}
	const ttl = time.Minute
	for _, engine := range sqlstoretest.Engines {
		b.Run(string(engine), func(b *testing.B) {
			db := sqlstoretest.Open(b, engine)
			clock := newClock(db)
			MustCreateTeam(b, db, "Support")
			seedAgents(b, db, n)
			ctx := context.Background()
			if err := db.Exec(ctx, "UPDATE agents SET status = 'active', presence = 'available', last_seen_at = ?, seen_mark = ?", clock.Now(), clock.Now()); err != nil {
				b.Fatal(err)
			}
			if err := db.Exec(ctx, "ANALYZE"); err != nil && engine != sqlstore.MySQL {
				b.Fatal(err)
			}
			presence := sqlstore.NewPresenceService(db)

			b.Run("NoneStale", func(b *testing.B) {
				for b.Loop() {
					if swept, err := presence.SweepPresence(ctx, ttl, 100); err != nil || swept != 0 {
						b.Fatalf("swept %d (%v)", swept, err)
					}
				}
			})
			b.Run("Stale100", func(b *testing.B) {
				var elapsed time.Duration
				for i := 0; b.Loop(); i++ {
					b.StopTimer()
					// 100 agents last seen before the TTL, the others just now.
					clock.Advance(2 * ttl)
					if err := db.Exec(ctx, "UPDATE agents SET last_seen_at = ?, seen_mark = ? WHERE presence = 'available'", clock.Now(), clock.Now()); err != nil {
						b.Fatal(err)
					}
					if err := db.Exec(ctx, "UPDATE agents SET presence = 'available', last_seen_at = ?, seen_mark = ? WHERE id IN (SELECT id FROM (SELECT id FROM agents ORDER BY id LIMIT 100 OFFSET ?) AS o)",
						clock.Now().Add(-2*ttl), clock.Now().Add(-2*ttl), (i*100)%(n-100)); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					start := time.Now()
					if swept, err := presence.SweepPresence(ctx, ttl, 100); err != nil || swept != 100 {
						b.Fatalf("swept %d (%v)", swept, err)
					}
					elapsed += time.Since(start)
				}
				b.ReportMetric(float64(elapsed.Microseconds())/float64(b.N*100), "µs/agent")
			})
		})
	}
}
