package sqlstore_test

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// BenchmarkAgentLists measures the agent list as the UI and the API ask for
// it, on a database of many agents (100,000 unless
// SWITCHBOARD_BENCH_AGENTS says otherwise): each filter's first page, a page
// deep into the list, a supervisor's view and the dashboard counts. Besides
// the mean it reports the 50th and 99th percentiles of single calls:
//
//	go test ./internal/sqlstore -run '^$' -bench AgentLists -benchtime 200x
func BenchmarkAgentLists(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("SWITCHBOARD_BENCH_AGENTS")); err == nil && v > 0 {
		n = v
	}
	for _, engine := range sqlstoretest.Engines {
		b.Run(string(engine), func(b *testing.B) {
			db := sqlstoretest.Open(b, engine)
			sup := MustCreateUser(b, db, "sup@example.com", switchboard.RoleSupervisor)
			support := MustCreateTeam(b, db, "Support")
			small := MustCreateTeam(b, db, "Night shift", sup)
			seedAgents(b, db, n)
			// The supervisor's team holds 200 machines spread over the list,
			// which are also the only suspended agents.
			agents := sqlstore.NewAgentService(db)
			page, err := agents.FindAgents(systemCtx(), switchboard.AgentFilter{Query: "99", Kind: switchboard.MachineAgent, Limit: 200})
			if err != nil {
				b.Fatal(err)
			}
			var ids []string
			for _, a := range page.Items {
				ids = append(ids, a.ID)
				if _, err := agents.SetAgentStatus(systemCtx(), a.ID, switchboard.AgentSuspended, 0); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := sqlstore.NewTeamService(db).UpdateTeam(systemCtx(), small.ID, switchboard.TeamUpdate{AddMembers: ids}); err != nil {
				b.Fatal(err)
			}
			deep := cursorAfter(b, agents, n/2)

			for _, tc := range []struct {
				name   string
				filter switchboard.AgentFilter
				asSup  bool
			}{
				{"FirstPage", switchboard.AgentFilter{}, false},
				{"NewestFirst", switchboard.AgentFilter{Sort: "-created_at"}, false},
				{"DeepPage", switchboard.AgentFilter{Cursor: deep}, false},
				{"SearchName", switchboard.AgentFilter{Query: "person 0421"}, false},
				{"SearchRare", switchboard.AgentFilter{Query: "nobody-has-this"}, false},
				{"Status", switchboard.AgentFilter{Status: switchboard.AgentSuspended}, false},
				{"Kind", switchboard.AgentFilter{Kind: switchboard.MachineAgent}, false},
				{"Skill", switchboard.AgentFilter{Skill: "billing", MinLevel: 9}, false},
				{"Team", switchboard.AgentFilter{TeamID: small.ID}, false},
				{"BigTeam", switchboard.AgentFilter{TeamID: support.ID}, false},
				{"Supervisor", switchboard.AgentFilter{}, true},
			} {
				b.Run(tc.name, func(b *testing.B) {
					ctx := systemCtx()
					if tc.asSup {
						ctx = asUser(sup)
					}
					tc.filter.Limit = 50
					measure(b, func() error {
						_, err := agents.FindAgents(ctx, tc.filter)
						return err
					})
				})
			}
			b.Run("Counts", func(b *testing.B) {
				measure(b, func() error {
					_, err := agents.CountAgents(systemCtx())
					return err
				})
			})
			b.Run("SupervisorCounts", func(b *testing.B) {
				measure(b, func() error {
					_, err := agents.CountAgents(asUser(sup))
					return err
				})
			})
		})
	}
}

// seedAgents imports n agents in batches, as an admin would, in the shape
// of bigCSV: half people (pending until they accept their invitations),
// half machines.
func seedAgents(b *testing.B, db *sqlstore.DB, n int) {
	b.Helper()
	start := time.Now()
	const batch = 10_000
	for from := 0; from < n; from += batch {
		var csv strings.Builder
		csv.WriteString("name,kind,email,skills,capacity,teams\n")
		for i := from; i < min(from+batch, n); i++ {
			if i%2 == 0 {
				fmt.Fprintf(&csv, "Person %06d,human,person%06d@example.com,billing:%d;spanish:3,2,Support\n", i, i, i%10+1)
			} else {
				fmt.Fprintf(&csv, "Worker %06d,machine,,billing:%d,10,Support\n", i, i%10+1)
			}
		}
		rows, err := switchboard.ParseAgentCSV(strings.NewReader(csv.String()))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := sqlstore.NewAgentService(db).ImportAgents(systemCtx(), rows); err != nil {
			b.Fatal(err, switchboard.ErrorFields(err))
		}
	}
	b.Logf("seeded %d agents in %s", n, time.Since(start).Round(time.Millisecond))
}

// cursorAfter pages through the list to the agent at position, and returns
// the cursor that continues from there.
func cursorAfter(b *testing.B, agents *sqlstore.AgentService, position int) string {
	b.Helper()
	cursor := ""
	for seen := 0; seen < position; seen += switchboard.MaxPageLimit {
		p, err := agents.FindAgents(systemCtx(), switchboard.AgentFilter{Limit: switchboard.MaxPageLimit, Cursor: cursor})
		if err != nil {
			b.Fatal(err)
		}
		cursor = p.NextCursor
	}
	return cursor
}

// measure runs call b.N times and reports the median and 99th percentile of
// single calls beside the mean.
func measure(b *testing.B, call func() error) {
	b.Helper()
	var took []time.Duration
	for b.Loop() {
		start := time.Now()
		if err := call(); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	at := func(q float64) float64 { return float64(took[int(q*float64(len(took)-1))].Microseconds()) / 1000 }
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}
