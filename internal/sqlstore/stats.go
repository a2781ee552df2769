package sqlstore

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/switchboardhq/switchboard"
)

// The dashboard reads two kinds of figures. What is true now is read from
// the agents counted as they change (counts.go) and from the unfinished
// tasks, which an index reaches directly: unfinished tasks are few
// whatever the size of the history. What happened over time is counted
// from the event log into five-minute intervals per queue (stats_buckets)
// by RollUpStats, which reads only the events since its last run; a
// reading adds the events the pass has not reached yet. Nothing on a
// task's own path writes a shared row, so the figures cost the writers
// nothing.

// statsEventTypes are the events the figures over time count.
var statsEventTypes = []string{
	switchboard.AuditTaskCreated, switchboard.AuditTaskAssigned, switchboard.AuditTaskCompleted,
	switchboard.AuditTaskCancelled, switchboard.AuditTaskExpired, switchboard.AuditSLABreached,
}

// statsKeep is how long intervals are kept: a day and an interval for
// the charts and "today" (see statsFrom), and a margin. Fewer rows make
// every reading cheaper.
const statsKeep = 26 * time.Hour

// statsChunk is how many event positions one transaction of the pass
// covers, so that catching up after a pause is many short transactions.
const statsChunk = 5000

// statsSampleEvery is how often the pass counts the agents present.
const statsSampleEvery = time.Minute

// liveStatuses are the statuses of unfinished tasks.
var liveStatuses = []switchboard.TaskStatus{switchboard.TaskQueued, switchboard.TaskOffered, switchboard.TaskAssigned}

// presentPresences are the presences of agents who take work.
var presentPresences = []switchboard.Presence{switchboard.PresenceAvailable, switchboard.PresenceBusy}

// StatsService implements switchboard.StatsService.
type StatsService struct {
	db *DB
	// Pace makes RollUpStats pause between its transactions (see there),
	// for a pass that runs beside the work it counts.
	Pace bool
}

var _ switchboard.StatsService = (*StatsService)(nil)

// NewStatsService returns the dashboard's figures on db.
func NewStatsService(db *DB) *StatsService { return &StatsService{db: db} }

// maxStatsQueues bounds the queues one dashboard lists.
const maxStatsQueues = 500

// statsScope is what one reading covers: the queues, and the agents of
// some teams unless every agent.
type statsScope struct {
	queues   []*queueRow
	queueIDs []string
	// everyQueue is set for an admin's whole view: the figures over time
	// then count every queue, those deleted since included, and need no
	// list of queues.
	everyQueue bool
	allAgents  bool
	teams      []string
}

// Stats returns the figures of the queues and agents the actor may see.
func (s *StatsService) Stats(ctx context.Context, f switchboard.StatsFilter) (*switchboard.Stats, error) {
	sc, err := switchboard.RequireManager(switchboard.ActorFromContext(ctx), "see the dashboard")
	if err != nil {
		return nil, err
	}
	db := s.db
	now := db.now()
	scope := &statsScope{allAgents: sc.All, everyQueue: sc.All && f.QueueID == ""}
	if f.QueueID != "" {
		row, err := findQueueRow(ctx, db.bun, sc, f.QueueID, false)
		if err != nil {
			return nil, err
		}
		scope.queues = []*queueRow{row}
	} else {
		err := applyQueueScope(db.bun.NewSelect().Model(&scope.queues).Column("q.id", "q.name", "q.sla_target_seconds"), sc).
			OrderExpr("q.sort_name, q.id").Limit(maxStatsQueues).Scan(ctx)
		if err != nil {
			return nil, translate(err)
		}
	}
	for _, q := range scope.queues {
		scope.queueIDs = append(scope.queueIDs, q.ID)
	}
	if !sc.All {
		teams, err := db.supervisedTeams(ctx, db.bun, sc.SupervisorID)
		if err != nil {
			return nil, translate(err)
		}
		scope.teams = slices.Sorted(maps.Keys(teams))
	}
	st := &switchboard.Stats{At: now, Today: midnight(now), Queues: []switchboard.QueueStats{}, Recent: []*switchboard.Event{},
		AssignmentsSince: now.Add(-switchboard.StatsRateWindow).Truncate(switchboard.StatsInterval),
		AveragesSince:    now.Add(-switchboard.StatsAverageWindow).Truncate(switchboard.StatsInterval)}
	byQueue := make(map[string]*switchboard.QueueStats, len(scope.queues))
	for _, q := range scope.queues {
		st.Queues = append(st.Queues, switchboard.QueueStats{QueueID: q.ID, QueueName: q.Name,
			SLATarget: time.Duration(q.SLATargetSeconds) * time.Second})
	}
	for i := range st.Queues {
		byQueue[st.Queues[i].QueueID] = &st.Queues[i]
	}
	if err := db.agentStats(ctx, scope, st); err != nil {
		return nil, translate(err)
	}
	if err := db.liveTaskStats(ctx, scope, now, byQueue); err != nil {
		return nil, translate(err)
	}
	if err := db.statsOverTime(ctx, scope, now, st, byQueue); err != nil {
		return nil, translate(err)
	}
	for _, q := range st.Queues {
		t := &st.Totals
		t.Queued += q.Queued
		t.Offered += q.Offered
		t.Assigned += q.Assigned
		t.LongestWait = max(t.LongestWait, q.LongestWait)
		t.CreatedToday += q.CreatedToday
		t.AssignedToday += q.AssignedToday
		t.CompletedToday += q.CompletedToday
		t.CancelledToday += q.CancelledToday
		t.ExpiredToday += q.ExpiredToday
		t.SLABreachesToday += q.SLABreachesToday
	}
	if f.QueueID == "" {
		viewer := &switchboard.EventViewer{All: true}
		if !sc.All {
			viewer = supervisorViewer(sc.SupervisorID, scope.teams)
		}
		if st.Recent, err = s.recentEvents(ctx, viewer); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// agents keeps the agents of the scope's teams, unless it has all.
func (sc *statsScope) agents(q *bun.SelectQuery) *bun.SelectQuery {
	if sc.allAgents {
		return q
	}
	return inTeams(q, sc.teams)
}

// agentStats counts the agents by presence, from the counts kept as they
// change (counts.go), and the load of those who have tasks:
// unfinished tasks are few, so the loaded agents are found through them
// rather than among every agent.
func (db *DB) agentStats(ctx context.Context, scope *statsScope, st *switchboard.Stats) error {
	totals, err := db.countAgents(ctx, db.bun, scope.allAgents, scope.teams)
	if err != nil {
		return err
	}
	a := &st.Agents
	u := &st.Utilisation
	*a, u.Capacity = totals.stats()
	// The loaded agents are found through the unfinished tasks, which
	// are few, in two steps: in one, planners may walk every agent.
	var busyIDs []string
	err = db.bun.NewSelect().Model((*taskRow)(nil)).ColumnExpr("DISTINCT tk.agent_id").
		Where("tk.status IN (?)", bun.List([]switchboard.TaskStatus{switchboard.TaskOffered, switchboard.TaskAssigned})).
		Scan(ctx, &busyIDs)
	if err != nil {
		return err
	}
	type loadedAgent struct {
		ID       string `bun:"id"`
		Name     string `bun:"name"`
		Status   string `bun:"status"`
		Presence string `bun:"presence"`
		Workload int    `bun:"workload"`
		Capacity int    `bun:"capacity"`
	}
	var loaded []loadedAgent
	for chunk := range slices.Chunk(busyIDs, 1000) {
		var part []loadedAgent
		q := db.bun.NewSelect().Model((*agentRow)(nil)).ColumnExpr("a.id, a.name, a.status, a.presence, a.workload, a.capacity").
			Where("a.id IN (?) AND a.workload > 0", bun.List(chunk))
		if err := scope.agents(q).Scan(ctx, &part); err != nil {
			return err
		}
		loaded = append(loaded, part...)
	}
	u.Busiest = []switchboard.AgentLoad{}
	for _, l := range loaded {
		present := l.Status == string(switchboard.AgentActive) && switchboard.Presence(l.Presence).CanTakeWork()
		if present {
			u.Load += l.Workload
			if l.Workload >= l.Capacity {
				a.Busy++
				a.Available--
			}
		}
		u.Busiest = append(u.Busiest, switchboard.AgentLoad{AgentID: l.ID, Name: l.Name, Presence: switchboard.Presence(l.Presence),
			Load: l.Workload, Capacity: l.Capacity})
	}
	slices.SortFunc(u.Busiest, func(x, y switchboard.AgentLoad) int {
		if c := compareFloat(y.Ratio(), x.Ratio()); c != 0 {
			return c
		}
		if x.Load != y.Load {
			return y.Load - x.Load
		}
		return strings.Compare(x.Name, y.Name)
	})
	u.Busiest = u.Busiest[:min(len(u.Busiest), switchboard.StatsBusiest)]
	if u.Capacity > 0 {
		u.Average = min(float64(u.Load)/float64(u.Capacity), 1)
	}
	return nil
}

func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// liveTaskStats counts the unfinished tasks of each queue, and the age of
// the oldest waiting.
func (db *DB) liveTaskStats(ctx context.Context, scope *statsScope, now time.Time, byQueue map[string]*switchboard.QueueStats) error {
	if len(scope.queueIDs) == 0 {
		return nil
	}
	var groups []struct {
		QueueID string    `bun:"queue_id"`
		Status  string    `bun:"status"`
		N       int       `bun:"n"`
		Oldest  time.Time `bun:"oldest"`
	}
	err := db.bun.NewSelect().Model((*taskRow)(nil)).ColumnExpr("tk.queue_id, tk.status, COUNT(*) AS n, MIN(tk.created_at) AS oldest").
		Where("tk.status IN (?) AND tk.queue_id IN (?)", bun.List(liveStatuses), bun.List(scope.queueIDs)).
		GroupExpr("tk.queue_id, tk.status").Scan(ctx, &groups)
	if err != nil {
		return err
	}
	for _, g := range groups {
		q := byQueue[g.QueueID]
		if q == nil {
			continue
		}
		switch switchboard.TaskStatus(g.Status) {
		case switchboard.TaskQueued:
			q.Queued += g.N
		case switchboard.TaskOffered:
			q.Offered += g.N
		case switchboard.TaskAssigned:
			q.Assigned += g.N
			continue
		}
		q.LongestWait = max(q.LongestWait, now.Sub(g.Oldest.UTC()).Truncate(time.Second))
	}
	return nil
}

// statsOverTime adds up the kept intervals and the events the pass has
// not counted yet.
func (db *DB) statsOverTime(ctx context.Context, scope *statsScope, now time.Time, st *switchboard.Stats, byQueue map[string]*switchboard.QueueStats) error {
	from := statsFrom(now)
	today := midnight(now)
	perBucket := map[int64]*bucketCounts{}
	perQueue := map[string]*bucketCounts{}
	if len(scope.queueIDs) > 0 {
		// The kept intervals and the pass's position are read by separate
		// statements: read again if a pass committed in between, so that
		// no event is counted both in an interval and after the position.
		var position, last int64
		for attempt := 0; ; attempt++ {
			before, _, err := db.statsPositions(ctx)
			if err != nil {
				return err
			}
			clear(perBucket)
			clear(perQueue)
			if err := db.keptBuckets(ctx, scope, from, today, perBucket, perQueue); err != nil {
				return err
			}
			if position, last, err = db.statsPositions(ctx); err != nil {
				return err
			}
			if before == position || attempt == 3 {
				break
			}
		}
		if position == 0 {
			var err error
			if position, err = db.statsStart(ctx, db.bun, now, last); err != nil {
				return err
			}
		}
		tail, err := db.statsTail.counts(ctx, db, position, last)
		if err != nil {
			return err
		}
		for k, c := range tail {
			if (byQueue[k.queue] == nil && !scope.everyQueue) || k.start < from.Unix() {
				continue
			}
			b := perBucket[k.start]
			if b == nil {
				b = &bucketCounts{}
				perBucket[k.start] = b
			}
			b.add(c)
			if k.start >= today.Unix() && byQueue[k.queue] != nil {
				q := perQueue[k.queue]
				if q == nil {
					q = &bucketCounts{}
					perQueue[k.queue] = q
				}
				q.add(c)
			}
		}
	}
	for id, c := range perQueue {
		if q := byQueue[id]; q != nil {
			q.CreatedToday, q.AssignedToday, q.CompletedToday = c.Created, c.Assigned, c.Completed
			q.CancelledToday, q.ExpiredToday, q.SLABreachesToday = c.Cancelled, c.Expired, c.SLABreaches
		}
	}
	var assigned int
	var waits, handles bucketCounts
	first := now.Truncate(time.Hour).Add(-(switchboard.StatsSeriesLength - 1) * time.Hour)
	st.Series = make([]switchboard.StatsPoint, switchboard.StatsSeriesLength)
	for i := range st.Series {
		start := first.Add(time.Duration(i) * time.Hour)
		end := start.Add(time.Hour)
		if end.After(now) {
			end = now
		}
		st.Series[i] = switchboard.StatsPoint{Start: start, End: end}
	}
	for start, c := range perBucket {
		at := time.Unix(start, 0).UTC()
		if !at.Before(st.AssignmentsSince) {
			assigned += c.Assigned
		}
		if !at.Before(st.AveragesSince) {
			waits.add(c)
			handles.add(c)
		}
		if i := int(at.Sub(first) / time.Hour); at.Compare(first) >= 0 && i < len(st.Series) {
			p := &st.Series[i]
			p.Created += c.Created
			p.Assigned += c.Assigned
			p.Completed += c.Completed
		}
	}
	if minutes := now.Sub(st.AssignmentsSince).Minutes(); minutes > 0 {
		st.AssignmentsPerMinute = float64(assigned) / minutes
	}
	if waits.Waits > 0 {
		st.AverageWait = (time.Duration(waits.WaitMs/int64(waits.Waits)) * time.Millisecond).Round(time.Second)
	}
	if handles.Handles > 0 {
		st.AverageHandle = (time.Duration(handles.HandleMs/int64(handles.Handles)) * time.Millisecond).Round(time.Second)
	}
	return db.presenceSeries(ctx, scope, st, first)
}

// statsPositions are the position of the last event the pass counted and
// that of the last event, read together.
func (db *DB) statsPositions(ctx context.Context) (rolled, last int64, err error) {
	err = db.bun.NewRaw("SELECT (SELECT position FROM stats_rollup WHERE id = 1) AS rolled, "+
		"(SELECT position FROM event_sequence WHERE id = 1) AS last").Scan(ctx, &rolled, &last)
	return rolled, last, err
}

// keptBuckets reads the kept intervals from from on: per interval, over
// the queues, and per queue since today.
func (db *DB) keptBuckets(ctx context.Context, scope *statsScope, from, today time.Time, perBucket map[int64]*bucketCounts, perQueue map[string]*bucketCounts) error {
	sums := "SUM(created) AS created, SUM(assigned) AS assigned, SUM(completed) AS completed, SUM(cancelled) AS cancelled, " +
		"SUM(expired) AS expired, SUM(sla_breaches) AS sla_breaches, SUM(wait_ms) AS wait_ms, SUM(waits) AS waits, " +
		"SUM(handle_ms) AS handle_ms, SUM(handles) AS handles"
	var buckets []struct {
		BucketStart time.Time `bun:"bucket_start"`
		bucketCounts
	}
	q := db.bun.NewSelect().Table("stats_buckets").ColumnExpr("bucket_start, "+sums).Where("bucket_start >= ?", from)
	if scope.everyQueue {
		q = q.Where("queue_id = ?", allQueues)
	} else {
		q = q.Where("queue_id IN (?)", bun.List(scope.queueIDs))
	}
	err := q.GroupExpr("bucket_start").Scan(ctx, &buckets)
	if err != nil {
		return err
	}
	for _, b := range buckets {
		c := b.bucketCounts
		perBucket[b.BucketStart.UTC().Unix()] = &c
	}
	var queues []struct {
		QueueID string `bun:"queue_id"`
		bucketCounts
	}
	err = db.bun.NewSelect().Table("stats_buckets").ColumnExpr("queue_id, "+sums).
		Where("bucket_start >= ? AND queue_id IN (?)", today, bun.List(scope.queueIDs)).GroupExpr("queue_id").Scan(ctx, &queues)
	if err != nil {
		return err
	}
	for _, q := range queues {
		c := q.bucketCounts
		perQueue[q.QueueID] = &c
	}
	return nil
}

// presenceSeries puts the most agents present in each hour of the series,
// from the samples, and the count of now in the current hour.
func (db *DB) presenceSeries(ctx context.Context, scope *statsScope, st *switchboard.Stats, first time.Time) error {
	var samples []struct {
		BucketStart time.Time `bun:"bucket_start"`
		Present     int       `bun:"present"`
	}
	q := db.bun.NewSelect().Table("stats_presence").ColumnExpr("bucket_start, SUM(present) AS present").
		Where("bucket_start >= ?", first)
	err := inTeamSets(q, scope.allAgents, scope.teams).GroupExpr("bucket_start").Scan(ctx, &samples)
	if err != nil {
		return err
	}
	for _, s := range samples {
		if i := int(s.BucketStart.UTC().Sub(first) / time.Hour); i >= 0 && i < len(st.Series) {
			st.Series[i].AgentsPresent = max(st.Series[i].AgentsPresent, s.Present)
		}
	}
	last := &st.Series[len(st.Series)-1]
	last.AgentsPresent = max(last.AgentsPresent, st.Agents.Present())
	return nil
}

// recentEvents are the newest events the actor may see, newest first,
// looked for among the newest few hundred. Whom an event concerns is read
// first, and the whole of only those shown.
func (s *StatsService) recentEvents(ctx context.Context, viewer *switchboard.EventViewer) ([]*switchboard.Event, error) {
	var positions []int64
	if !viewer.All {
		var rows []*eventRow
		err := s.db.bun.NewSelect().Model(&rows).Column("position", "actor_type", "actor_id", "agent_id", "team_ids").
			OrderExpr("ev.position DESC").Limit(500).Scan(ctx)
		if err != nil {
			return nil, translate(err)
		}
		for _, r := range rows {
			e := &switchboard.Event{Actor: switchboard.EventActor{Type: r.ActorType, ID: r.ActorID}, AgentID: deref(r.AgentID)}
			_ = json.Unmarshal([]byte(r.TeamIDs), &e.TeamIDs)
			if viewer.CanSee(e) {
				if positions = append(positions, r.Position); len(positions) == switchboard.StatsRecent {
					break
				}
			}
		}
		if len(positions) == 0 {
			return []*switchboard.Event{}, nil
		}
	}
	var rows []*eventRow
	q := s.db.bun.NewSelect().Model(&rows).OrderExpr("ev.position DESC").Limit(switchboard.StatsRecent)
	if positions != nil {
		q = q.Where("ev.position IN (?)", bun.List(positions))
	}
	if err := q.Scan(ctx); err != nil {
		return nil, translate(err)
	}
	events := make([]*switchboard.Event, len(rows))
	for i, r := range rows {
		events[i] = r.domain()
	}
	return events, nil
}
