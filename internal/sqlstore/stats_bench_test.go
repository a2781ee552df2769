package sqlstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// BenchmarkDashboard measures the dashboard's figures on a database of
// 100,000 agents and 1,000,000 tasks spread over 30 days (or
// SWITCHBOARD_BENCH_AGENTS and SWITCHBOARD_BENCH_TASKS), a few hundred of
// them unfinished, with the event log of the last day: an admin's view, a
// supervisor's, one queue's, and an admin's when the pass is 5,000 events
// behind. Seeding takes a minute or two per engine:
//
//	go test ./internal/sqlstore -run '^$' -bench Dashboard -benchtime 200x
func BenchmarkDashboard(b *testing.B) {
	agents, tasks := 100_000, 1_000_000
	if v, err := strconv.Atoi(os.Getenv("SWITCHBOARD_BENCH_AGENTS")); err == nil && v > 0 {
		agents = v
	}
	if v, err := strconv.Atoi(os.Getenv("SWITCHBOARD_BENCH_TASKS")); err == nil && v > 0 {
		tasks = v
	}
	for _, engine := range sqlstoretest.Engines {
		b.Run(string(engine), func(b *testing.B) {
			db, seeded := benchDatabase(b, engine)
			if !seeded {
				MustCreateUser(b, db, "admin@example.com", switchboard.RoleAdmin)
				sup := MustCreateUser(b, db, "sup@example.com", switchboard.RoleSupervisor)
				MustCreateTeam(b, db, "Support")
				night := MustCreateTeam(b, db, "Night shift", sup)
				seedAgents(b, db, agents)
				seedTasks(b, db, seedQueues(b, db, night), tasks)
			}
			stats := sqlstore.NewStatsService(db)
			start := time.Now()
			n, err := stats.RollUpStats(systemCtx())
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("first pass counted %d events in %s", n, time.Since(start).Round(time.Millisecond))
			users := sqlstore.NewUserService(db)
			adminUser, err := users.FindUserByEmail(systemCtx(), "admin@example.com")
			if err != nil {
				b.Fatal(err)
			}
			sup, err := users.FindUserByEmail(systemCtx(), "sup@example.com")
			if err != nil {
				b.Fatal(err)
			}
			admin := asUser(adminUser)
			qs, err := sqlstore.NewQueueService(db).FindQueues(admin, switchboard.QueueFilter{Query: "Night"})
			if err != nil || len(qs.Items) != 1 {
				b.Fatal("no Night queue", err)
			}
			queues := []string{qs.Items[0].ID}
			if os.Getenv("SWITCHBOARD_BENCH_EXPLAIN") != "" {
				explainStats(b, db, stats, admin)
			}
			for _, tc := range []struct {
				name   string
				filter switchboard.StatsFilter
				asSup  bool
				behind int
			}{
				{"Admin", switchboard.StatsFilter{}, false, 0},
				{"Supervisor", switchboard.StatsFilter{}, true, 0},
				{"Queue", switchboard.StatsFilter{QueueID: queues[0]}, false, 0},
				{"AdminPassBehind", switchboard.StatsFilter{}, false, 5000},
			} {
				b.Run(tc.name, func(b *testing.B) {
					ctx := admin
					if tc.asSup {
						ctx = asUser(sup)
					}
					if tc.behind > 0 {
						if err := db.Exec(systemCtx(), "UPDATE stats_rollup SET position = position - ?", tc.behind); err != nil {
							b.Fatal(err)
						}
						b.Cleanup(func() { _ = db.Exec(systemCtx(), "UPDATE stats_rollup SET position = position + ?", tc.behind) })
					}
					measure(b, func() error {
						_, err := stats.Stats(ctx, tc.filter)
						return err
					})
				})
			}
			b.Run("RollUpIdle", func(b *testing.B) {
				measure(b, func() error {
					_, err := stats.RollUpStats(systemCtx())
					return err
				})
			})
		})
	}
}

// seedQueues makes 20 queues of every agent and one of the night shift,
// the supervisor's; it returns their IDs, the night shift's first.
func seedQueues(b *testing.B, db *sqlstore.DB, night *switchboard.Team) []string {
	b.Helper()
	qs := sqlstore.NewQueueService(db)
	q, err := qs.CreateQueue(systemCtx(), switchboard.NewQueue{Name: "Night", TeamIDs: []string{night.ID}, SLATarget: 5 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	ids := []string{q.ID}
	for i := range 20 {
		q, err := qs.CreateQueue(systemCtx(), switchboard.NewQueue{Name: fmt.Sprintf("Queue %02d", i), SLATarget: 2 * time.Minute})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, q.ID)
	}
	return ids
}

// seedTasks writes n tasks straight into the tables, in multi-row inserts:
// finished ones (90% completed, 6% cancelled, 4% expired) created evenly
// over 30 days, and a few hundred unfinished ones of the last hour, with
// the events of the last 25 hours as the services would have written them.
// The machines' presences are spread: 3/5 available, 1/5 away, the rest
// offline; the unfinished tasks' agents carry their load.
func seedTasks(b *testing.B, db *sqlstore.DB, queues []string, n int) {
	b.Helper()
	ctx := systemCtx()
	start := time.Now()
	for presence, endings := range map[string][]string{"available": {"1", "3", "5"}, "away": {"7"}} {
		for _, e := range endings {
			if err := db.Exec(ctx, "UPDATE agents SET presence = ? WHERE kind = 'machine' AND status = 'active' AND sort_name LIKE ?", presence, "%"+e); err != nil {
				b.Fatal(err)
			}
		}
	}
	// Written directly, the presences are counted again.
	if err := db.CountAgain(ctx); err != nil {
		b.Fatal(err)
	}
	var workers []string
	rows, err := db.SQL().QueryContext(ctx, "SELECT id FROM agents WHERE presence = 'available' ORDER BY id LIMIT 400")
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			b.Fatal(err)
		}
		workers = append(workers, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}

	now := time.Now().UTC().Truncate(time.Microsecond)
	rng := rand.New(rand.NewPCG(1, 2))
	const live = 500
	const taskCols = "id, queue_id, title, priority, required_skills, attributes, status, agent_id, offers, " +
		"created_at, offered_at, assigned_at, completed_at, sla_breached, updated_at, version"
	const eventCols = "position, id, type, at, actor_type, actor_id, actor_name, subject_type, subject_id, subject_name, " +
		"team_ids, agent_id, data, request_id"
	type event struct {
		at   time.Time
		args []any
	}
	var events []event
	eventFrom := now.Add(-25 * time.Hour)
	var batch []any
	flush := func() {
		if len(batch) == 0 {
			return
		}
		values := strings.Repeat(",(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", len(batch)/16)[1:]
		if err := db.Exec(ctx, "INSERT INTO tasks ("+taskCols+") VALUES "+values, batch...); err != nil {
			b.Fatal(err)
		}
		batch = batch[:0]
	}
	for i := range n {
		id := uuid.Must(uuid.NewV7()).String()
		queue := queues[i%len(queues)]
		var created time.Time
		var status string
		var agent *string
		var offered, assigned, completed *time.Time
		if i < live {
			created = now.Add(-time.Duration(rng.Int64N(int64(time.Hour))))
			status = []string{"queued", "queued", "offered", "assigned", "assigned"}[i%5]
			if status != "queued" {
				agent = &workers[i%len(workers)]
				t := created.Add(time.Duration(rng.Int64N(int64(2 * time.Minute))))
				offered = &t
				if status == "assigned" {
					assigned = &t
				}
			}
		} else {
			created = now.Add(-20*time.Minute - time.Duration(rng.Int64N(int64(30*24*time.Hour))))
			switch r := i % 50; {
			case r < 3:
				status = "cancelled"
			case r < 5:
				status = "expired"
			default:
				status = "completed"
				agent = &workers[i%len(workers)]
				t := created.Add(time.Duration(rng.Int64N(int64(2 * time.Minute))))
				assigned = &t
			}
			end := created.Add(time.Duration(3+rng.Int64N(15)) * time.Minute)
			completed = &end
		}
		batch = append(batch, id, queue, "Task "+strconv.Itoa(i), i%100, "{}", "{}", status, agent, 0,
			created, offered, assigned, completed, false, created, 1)
		if len(batch) >= 16*500 {
			flush()
		}
		if created.Before(eventFrom) {
			continue
		}
		add := func(typ string, at time.Time, data string) {
			events = append(events, event{at: at, args: []any{nil, uuid.Must(uuid.NewV7()).String(), typ, at, "system", "bench", "bench",
				"task", id, "Task " + strconv.Itoa(i), "[]", agent, data, ""}})
		}
		add(switchboard.AuditTaskCreated, created, `{"after":{"status":"queued"}}`)
		if assigned != nil {
			add(switchboard.AuditTaskAssigned, *assigned, `{"after":{"status":"assigned"},"before":{"status":"queued"}}`)
		}
		if completed != nil {
			add("task."+status, *completed, `{"after":{"status":"`+status+`"},"before":{"status":"assigned"}}`)
		}
	}
	flush()
	slices.SortFunc(events, func(x, y event) int { return x.at.Compare(y.at) })
	for chunk := range slices.Chunk(events, 500) {
		var args []any
		for _, e := range chunk {
			args = append(args, e.args...)
		}
		var first int64
		if err := db.QueryRow(ctx, "SELECT position FROM event_sequence WHERE id = 1").Scan(&first); err != nil {
			b.Fatal(err)
		}
		for j := range chunk {
			args[j*14] = first + int64(j) + 1
		}
		values := strings.Repeat(",(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", len(chunk))[1:]
		if err := db.Exec(ctx, "INSERT INTO events ("+eventCols+") VALUES "+values, args...); err != nil {
			b.Fatal(err)
		}
		if err := db.Exec(ctx, "UPDATE event_sequence SET position = position + ? WHERE id = 1", len(chunk)); err != nil {
			b.Fatal(err)
		}
	}
	err = db.Exec(ctx, "UPDATE agents SET workload = (SELECT COUNT(*) FROM tasks t WHERE t.agent_id = agents.id AND t.status IN ('offered', 'assigned')) "+
		"WHERE id IN (SELECT agent_id FROM tasks WHERE status IN ('offered', 'assigned'))")
	if err != nil {
		b.Fatal(err)
	}
	analyze := map[sqlstore.Engine]string{sqlstore.Postgres: "VACUUM ANALYZE", sqlstore.MySQL: "ANALYZE TABLE agents, tasks, events", sqlstore.SQLite: "ANALYZE"}
	if err := db.Exec(ctx, analyze[db.Engine()]); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d tasks and %d events in %s", n, len(events), time.Since(start).Round(time.Millisecond))
}

// explainStats logs the plan of every statement of an admin's dashboard,
// with PostgreSQL's timings.
func explainStats(b *testing.B, db *sqlstore.DB, stats *sqlstore.StatsService, ctx context.Context) {
	b.Helper()
	queries := db.RecordQueries(func() {
		if _, err := stats.Stats(ctx, switchboard.StatsFilter{}); err != nil {
			b.Fatal(err)
		}
	})
	explain := map[sqlstore.Engine]string{sqlstore.Postgres: "EXPLAIN (ANALYZE, BUFFERS) ", sqlstore.MySQL: "EXPLAIN ", sqlstore.SQLite: "EXPLAIN QUERY PLAN "}
	for _, q := range queries {
		rows, err := db.SQL().QueryContext(ctx, explain[db.Engine()]+q)
		if err != nil {
			b.Fatalf("%s: %v", q, err)
		}
		cols, _ := rows.Columns()
		var plan strings.Builder
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				b.Fatal(err)
			}
			for _, v := range vals {
				if bs, ok := v.([]byte); ok {
					v = string(bs)
				}
				fmt.Fprintf(&plan, "%v ", v)
			}
			plan.WriteString("\n")
		}
		rows.Close()
		b.Logf("%s\n%s", q, plan.String())
	}
}

// benchDatabase opens a fresh database on engine, or the one
// SWITCHBOARD_BENCH_KEEP_URL names (of that engine), which keeps what an
// earlier run seeded so that plans can be studied without seeding again;
// seeded reports whether it has tasks already.
func benchDatabase(b *testing.B, engine sqlstore.Engine) (db *sqlstore.DB, seeded bool) {
	b.Helper()
	url := os.Getenv("SWITCHBOARD_BENCH_KEEP_URL")
	if e, _, _, err := sqlstore.ParseURL(url); url == "" || err != nil || e != engine {
		return sqlstoretest.Open(b, engine), false
	}
	db, err := sqlstore.Open(context.Background(), url, sqlstoretest.FastHasher{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	var n int
	if err := db.QueryRow(context.Background(), "SELECT COUNT(*) FROM (SELECT 1 FROM tasks LIMIT 1) AS t").Scan(&n); err != nil {
		b.Fatal(err)
	}
	return db, n > 0
}
