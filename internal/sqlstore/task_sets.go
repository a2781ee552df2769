package sqlstore

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/switchboardhq/switchboard"
)

// The task path in sets. Under load, the requests of the task path are
// many small changes of three shapes: new tasks in a queue, accepted
// offers, completed tasks. A batch makes each shape's changes together
// (see setWork): a few statements over all their rows, where one by one
// each change took three or four round trips. The statements check the
// same conditions as the changes made alone, under the same row locks;
// a change whose rows do not meet them is left to be made alone, which
// gives its caller the same answer it would have had. Sets save the
// server engines their round trips, and SQLite's one writer the parsing,
// planning and running of most statements.

// sameTime gives the changes of a set the time of the first: they are
// made by the same statements.
func sameTime(calls []*setCall) {
	for _, c := range calls {
		c.now = calls[0].now
	}
}

// inPairs is a condition that a pair of columns is one of pairs of values,
// like (id, agent_id) IN (VALUES (?, ?), (?, ?)), with its arguments
// appended to args. SQLite takes a list of rows only from VALUES, MySQL
// only as a plain list. PostgreSQL takes the pairs in a list of a length
// that a prepared statement keeps its plan for (see valueList), after a
// list of the first values alone (see anyOf): the first column must be
// the table's key, whose index finds the rows.
func (db *DB) inPairs(columns string, args []any, pairs [][2]string) (string, []any) {
	if db.engine == Postgres {
		n := valueList(len(pairs))
		if n == 0 {
			firsts, seconds := make([]string, len(pairs)), make([]string, len(pairs))
			for i, p := range pairs {
				firsts[i], seconds[i] = p[0], p[1]
			}
			key, _, _ := strings.Cut(columns, ",")
			return key + " = ANY(?::text[]) AND (" + columns + ") IN (SELECT * FROM unnest(?::text[], ?::text[]))",
				append(args, firsts, firsts, seconds)
		}
		if n == 1 {
			first, second, _ := strings.Cut(columns, ",")
			return first + " = ? AND " + strings.TrimSpace(second) + " = ?", append(args, pairs[0][0], pairs[0][1])
		}
		firsts := make([]string, len(pairs))
		for i, p := range pairs {
			firsts[i] = p[0]
		}
		key, _, _ := strings.Cut(columns, ",")
		cond, keyArgs := anyOf(key, firsts)
		args = append(args, keyArgs...)
		for i := range n {
			p := pairs[min(i, len(pairs)-1)]
			args = append(args, p[0], p[1])
		}
		return cond + " AND (" + columns + ") IN (" + strings.TrimSuffix(strings.Repeat("(?, ?), ", n), ", ") + ")", args
	}
	var b strings.Builder
	b.WriteString("(" + columns + ") IN (")
	if db.engine != MySQL {
		b.WriteString("VALUES ")
	}
	for i, p := range pairs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?)")
		args = append(args, p[0], p[1])
	}
	b.WriteString(")")
	return b.String(), args
}

// anyOf is PostgreSQL's condition that column is one of ids, written as a
// list of values of a length that a prepared statement keeps its plan for
// (see valueList), or as an array beyond.
func anyOf(column string, ids []string) (string, []any) {
	n := valueList(len(ids))
	switch n {
	case 0:
		return column + " = ANY(?::text[])", []any{ids}
	case 1:
		return column + " = ?", []any{ids[0]}
	}
	args := make([]any, n)
	for i := range args {
		args[i] = ids[min(i, len(ids)-1)]
	}
	return column + " IN (" + placeholders(n) + ")", args
}

// valueList is how many values a list of n IDs is written with on
// PostgreSQL: n rounded up to a power of two, the last ID repeated to fill
// it, or 0 for none or beyond maxValueList, for an array. A prepared statement is
// planned again at each run while its own plan looks cheaper than the one
// it keeps; PostgreSQL keeps a plan for any array as if it held 10 values,
// so for fewer it planned again every time, 0.4 to 1 ms (the bind of a
// completion, an acceptance, the recipients of notifications, under light
// load, where most sets hold one to a few changes). A list of values is
// planned for its length, and a few lengths keep a few plans.
func valueList(n int) int {
	if n <= 0 || n > maxValueList {
		return 0
	}
	size := 1
	for size < n {
		size *= 2
	}
	return size
}

// maxValueList is the longest list of values; longer lists are arrays. A
// list is cheap to plan only while short: PostgreSQL plans a statement
// anew for the values of each run before it weighs the plan it keeps, and
// with lists of 128 values binding a completion took 2.9 ms and an
// acceptance 1.6, against 0.5 and 0.28 with arrays, on a connection that
// a full batch holds for the whole of its turn.
const maxValueList = 16

// valueByID is an expression whose value, for the row whose ID (the
// column id) is ids[i], is values[i], with its arguments: on PostgreSQL a
// look-up in arrays, elsewhere CASE id WHEN ? THEN ? … END. Arrays are
// planned as if they held 10 values (see valueList), but only the rows
// that the statement's condition finds look them up: they do not change
// its plan.
func (db *DB) valueByID(id string, ids []string, values []*string) (string, []any) {
	if db.engine == Postgres && len(ids) == 1 {
		return "CAST(? AS text)", []any{values[0]} // the row is the one ID's
	}
	if db.engine == Postgres {
		return "(SELECT v.value FROM unnest(?::text[], ?::text[]) AS v(id, value) WHERE v.id = " + id + ")", []any{ids, values}
	}
	expr, args := "CASE "+id, make([]any, 0, 2*len(ids))
	for i := range ids {
		expr += " WHEN ? THEN ?"
		args = append(args, ids[i], values[i])
	}
	return expr + " END", args
}

// updateReturning updates the rows of table that meet where, and scans
// them, as updated, into dest. MySQL, which has no UPDATE … RETURNING,
// locks and reads the rows' IDs, updates those, and reads them again.
func (db *DB) updateReturning(ctx context.Context, tx *Tx, dest any, table, returning, set string, setArgs []any, where string, whereArgs []any) error {
	if db.engine != MySQL {
		err := tx.scanPrepared(ctx, dest, "UPDATE "+table+" SET "+set+" WHERE "+where+" RETURNING "+returning, append(setArgs, whereArgs...)...)
		if errors.Is(err, errNoRows) {
			return nil
		}
		return err
	}
	var ids []string
	if err := tx.NewRaw("SELECT id FROM "+table+" WHERE "+where+" ORDER BY id FOR UPDATE", whereArgs...).Scan(ctx, &ids); err != nil && !errors.Is(err, errNoRows) {
		return err
	}
	if len(ids) == 0 {
		return nil
	}
	if _, err := tx.NewRaw("UPDATE "+table+" SET "+set+" WHERE id IN (?)", append(setArgs, bun.List(ids))...).Exec(ctx); err != nil {
		return err
	}
	return tx.NewRaw("SELECT "+returning+" FROM "+table+" WHERE id IN (?)", bun.List(ids)).Scan(ctx, dest)
}

// answerMove records the move a set made of a task, from the status from,
// in the change of tx, and returns the task as its caller's answer.
func (db *DB) answerMove(ctx context.Context, tx *Tx, task *taskRow, from switchboard.TaskStatus, typ, reason string, data map[string]any) (*switchboard.Task, error) {
	queue, err := db.routingQueue(ctx, tx, task.QueueID)
	if err != nil {
		return nil, err
	}
	if err := moveTask(ctx, tx, task, from, queue.TeamIDs, typ, reason, data); err != nil {
		return nil, err
	}
	return taskOf(ctx, tx, task, queue.Name)
}

// leaveRepeats leaves to be made alone each call whose key an earlier
// call of the set has already: one statement cannot make the same change
// twice, and the repeat must be answered as it would be alone.
func leaveRepeats(calls []*setCall, key func(item any) string) {
	seen := map[string]bool{}
	for _, c := range calls {
		k := key(c.item)
		c.left = seen[k]
		seen[k] = true
	}
}

// acceptWork is an agent's acceptance of an offer.
type acceptWork struct {
	offerID, agentID string
	accepted         **switchboard.Task
}

// acceptSet accepts offers: each still pending, before its deadline, and
// of the calling agent; the task of each, still offered to that agent, is
// assigned to it. The offers are locked first, then their tasks, as
// AcceptOffer does.
func (db *DB) acceptSet(ctx context.Context, calls []*setCall) error {
	sameTime(calls)
	tx, now := calls[0].Tx, calls[0].now
	leaveRepeats(calls, func(item any) string { return item.(*acceptWork).offerID })
	var pairs [][2]string
	for _, c := range calls {
		if w := c.item.(*acceptWork); !c.left {
			pairs = append(pairs, [2]string{w.offerID, w.agentID})
		}
	}
	where, args := db.inPairs("id, agent_id", nil, pairs)
	offerSet, offerArgs := "status = ?, responded_at = ?", []any{switchboard.OfferAccepted, now}
	offerWhere, offerWhereArgs := where+" AND "+byKeyOnly("status = ? AND expires_at > ?"), append(args, switchboard.OfferPending, now)
	taskSet, taskArgs := "status = ?, assigned_at = ?, updated_at = ?, version = version + 1", []any{switchboard.TaskAssigned, now, now}
	accepted := map[string]offerRow{}
	tasks := map[string]*taskRow{}
	if db.engine == Postgres {
		// One statement where the others take two round trips: the
		// offers' update, then their tasks', which reads the offers the
		// first returned. Each offer comes back with its task, or with
		// none when the task was not offered to the offer's agent: a
		// full join, the same rows as a left one here (every task
		// updated is an offer's), which PostgreSQL cannot make by a
		// nested loop. It guesses one row from each WITH clause, and for
		// a left join compared every offer with every task: 16,000
		// comparisons, about 2 ms, for 127 offers.
		var rows []struct {
			OfferID string `bun:"accepted_offer_id"`
			TaskID  string `bun:"accepted_task_id"`
			taskRow
		}
		if err := tx.scanPrepared(ctx, &rows, "WITH o AS (UPDATE offers SET "+offerSet+" WHERE "+offerWhere+" RETURNING id, task_id, agent_id), "+
			"t AS (UPDATE tasks SET "+taskSet+" FROM o WHERE tasks.id = o.task_id AND "+byKeyOnly("tasks.agent_id = o.agent_id AND tasks.status = ?")+
			" RETURNING tasks.*) SELECT o.id AS accepted_offer_id, o.task_id AS accepted_task_id, t.* FROM o FULL JOIN t ON t.id = o.task_id",
			slices.Concat(offerArgs, offerWhereArgs, taskArgs, []any{switchboard.TaskOffered})...); err != nil && !errors.Is(err, errNoRows) {
			return err
		}
		for i := range rows {
			r := &rows[i]
			accepted[r.OfferID] = offerRow{ID: r.OfferID, TaskID: r.TaskID}
			if r.taskRow.ID != "" {
				tasks[r.TaskID] = &r.taskRow
			}
		}
	} else {
		var offers []offerRow
		if err := db.updateReturning(ctx, tx, &offers, "offers", "id, task_id, agent_id",
			offerSet, offerArgs, offerWhere, offerWhereArgs); err != nil {
			return err
		}
		var taskPairs [][2]string
		for _, o := range offers {
			accepted[o.ID] = o
			taskPairs = append(taskPairs, [2]string{o.TaskID, o.AgentID})
		}
		if len(taskPairs) > 0 {
			where, args := db.inPairs("id, agent_id", nil, taskPairs)
			var rows []*taskRow
			if err := db.updateReturning(ctx, tx, &rows, "tasks", "*", taskSet, taskArgs,
				where+" AND status = ?", append(args, switchboard.TaskOffered)); err != nil {
				return err
			}
			for _, t := range rows {
				tasks[t.ID] = t
			}
		}
	}
	for _, c := range calls {
		w := c.item.(*acceptWork)
		o, ok := accepted[w.offerID]
		if c.left || !ok {
			c.left = true // closed, or not this agent's: answered alone
			continue
		}
		task := tasks[o.TaskID]
		if task == nil {
			// A pending offer is on a task offered to its agent; every
			// change that moves the task closes the offer with it.
			return errors.New("sqlstore: an open offer's task was not offered to its agent")
		}
		var err error
		if *w.accepted, err = db.answerMove(ctx, c.Tx, task, switchboard.TaskOffered, switchboard.AuditTaskAssigned, "offer accepted",
			map[string]any{"offer_id": o.ID}); err != nil {
			return err
		}
	}
	return nil
}

// completeWork is an agent's completion of a task assigned to it.
type completeWork struct {
	taskID, agentID, outcome string
	completed                **switchboard.Task
}

// completeSet completes tasks, each assigned to its calling agent, gives
// the agents their capacity back, and routes queued work to them. The
// tasks are locked first, then the agents, as CompleteTask does.
func (db *DB) completeSet(ctx context.Context, calls []*setCall) error {
	sameTime(calls)
	tx := calls[0].Tx
	var pairs [][2]string
	var ids []string
	var outcomes []*string
	leaveRepeats(calls, func(item any) string { return item.(*completeWork).taskID })
	for _, c := range calls {
		w := c.item.(*completeWork)
		if c.left {
			continue
		}
		pairs = append(pairs, [2]string{w.taskID, w.agentID})
		ids, outcomes = append(ids, w.taskID), append(outcomes, nilIfEmpty(w.outcome))
	}
	outcome, outcomeArgs := db.valueByID("tasks.id", ids, outcomes)
	where, whereArgs := db.inPairs("id, agent_id", nil, pairs)
	where, whereArgs = where+" AND "+byKeyOnly("status = ?"), append(whereArgs, switchboard.TaskAssigned)
	var completed map[string]*taskRow
	var waiting bool
	var err error
	if db.engine == Postgres {
		completed, waiting, err = db.completeAndRelease(ctx, tx, pairs, outcome, outcomeArgs, where, whereArgs)
	} else {
		completed, waiting, err = db.completeThenRelease(ctx, tx, outcome, outcomeArgs, where, whereArgs)
	}
	if err != nil {
		return err
	}
	routed := map[string]bool{}
	for _, c := range calls {
		w := c.item.(*completeWork)
		task := completed[w.taskID]
		if c.left || task == nil {
			c.left = true // not assigned to this agent (any more): answered alone
			continue
		}
		var err error
		if *w.completed, err = db.answerMove(ctx, c.Tx, task, switchboard.TaskAssigned, switchboard.AuditTaskCompleted, "",
			map[string]any{"outcome": w.outcome}); err != nil {
			return err
		}
		// The agent has room again: queued work is its, recorded with
		// the first of its completions.
		if waiting && !routed[w.agentID] {
			routed[w.agentID] = true
			if err := db.routeToAgent(ctx, c.Tx, w.agentID); err != nil {
				return err
			}
		}
	}
	return nil
}

// completion is the SET clause of completed tasks and its arguments, the
// outcome an expression of its own (see valueByID).
func completion(now time.Time, outcome string, outcomeArgs []any) (string, []any) {
	return "status = ?, completed_at = ?, outcome = " + outcome + ", updated_at = ?, version = version + 1",
		slices.Concat([]any{switchboard.TaskCompleted, now}, outcomeArgs, []any{now})
}

// completeThenRelease completes the tasks assigned that meet where, gives
// their agents their capacity back, and looks for a queued task, in a few
// statements: completeSet's way on MySQL and SQLite. It returns the tasks
// completed by ID, and whether a task waits.
func (db *DB) completeThenRelease(ctx context.Context, tx *Tx, outcome string, outcomeArgs []any, where string, whereArgs []any) (completed map[string]*taskRow, waiting bool, err error) {
	now := tx.now
	freed := map[string]int{}
	if db.engine == MySQL {
		// The agents' rows before the tasks' change, as CompleteTask
		// takes them: changing a task takes a shared lock on its agent,
		// and asking for the exclusive one after that deadlocks with a
		// router waiting for the same agent.
		var locked []struct {
			AgentID string `bun:"agent_id"`
		}
		if err := tx.NewRaw("SELECT agent_id FROM tasks WHERE "+where+" ORDER BY id FOR UPDATE", whereArgs...).Scan(ctx, &locked); err != nil && !errors.Is(err, errNoRows) {
			return nil, false, err
		}
		for _, l := range locked {
			freed[l.AgentID]++
		}
		if err := db.releaseAgents(ctx, tx, freed); err != nil {
			return nil, false, err
		}
	}
	var rows []*taskRow
	set, setArgs := completion(now, outcome, outcomeArgs)
	if err := db.updateReturning(ctx, tx, &rows, "tasks", "*", set, setArgs, where, whereArgs); err != nil {
		return nil, false, err
	}
	completed = make(map[string]*taskRow, len(rows))
	for _, t := range rows {
		completed[t.ID] = t
		if db.engine != MySQL {
			freed[*t.AgentID]++
		}
	}
	if db.engine != MySQL {
		if err := db.releaseAgents(ctx, tx, freed); err != nil {
			return nil, false, err
		}
	}
	// Most of the time no task waits: one look for the whole set says so.
	var queued []string
	if err := tx.scanPrepared(ctx, &queued, waitingTask); err != nil {
		return nil, false, err
	}
	return completed, len(queued) > 0, nil
}

// completeAndRelease is completeThenRelease in one statement of
// PostgreSQL, where the others take three or four round trips. The tasks
// are changed first, then their agents are locked, in the order of their
// IDs, by a WITH clause that the agents' update reads only through a
// condition without a column of its rows: PostgreSQL runs such a condition
// once, before the update reads a row, so the locks are all taken, in
// order, before any is changed (see releaseAgents). The update then finds
// every row locked by its own transaction; a row another transaction
// changed before the lock is updated as it is now, PostgreSQL's rule for a
// row changed under an UPDATE. The agents locked are the callers of the
// set (pairs), a few more than those of the tasks completed when a task
// was no longer theirs. The look for a queued task comes with each task.
// The agents' update finds each agent by its ID alone: with the list of
// the callers' IDs as well, PostgreSQL weighed looking up the whole list
// for each agent freed, and stepped through agents_created_at_idx instead,
// 2.4 ms for 68 agents against 0.15 by the primary key.
func (db *DB) completeAndRelease(ctx context.Context, tx *Tx, pairs [][2]string, outcome string, outcomeArgs []any, where string, whereArgs []any) (completed map[string]*taskRow, waiting bool, err error) {
	agents := make([]string, len(pairs))
	for i, p := range pairs {
		agents[i] = p[1]
	}
	slices.Sort(agents)
	agents = slices.Compact(agents)
	var rows []struct {
		taskRow
		Waiting bool `bun:"task_waiting"`
	}
	set, setArgs := completion(tx.now, outcome, outcomeArgs)
	inIDs, idArgs := anyOf("id", agents)
	if err := tx.scanPrepared(ctx, &rows, "WITH done AS (UPDATE tasks SET "+set+" WHERE "+where+" RETURNING tasks.*), "+
		"freed AS (SELECT agent_id AS id, count(*) AS n FROM done GROUP BY agent_id), "+
		"locked AS (SELECT id FROM agents WHERE "+inIDs+" ORDER BY id FOR UPDATE), "+
		"released AS (UPDATE agents AS a SET "+releaseUnits+" FROM freed AS d "+
		"WHERE a.id = d.id AND (SELECT count(*) FROM locked) >= 0) "+
		"SELECT done.*, EXISTS ("+waitingTask+") AS task_waiting FROM done",
		slices.Concat(setArgs, whereArgs, idArgs)...); err != nil && !errors.Is(err, errNoRows) {
		return nil, false, err
	}
	completed = make(map[string]*taskRow, len(rows))
	for i := range rows {
		completed[rows[i].ID] = &rows[i].taskRow
		waiting = rows[i].Waiting
	}
	return completed, waiting, nil
}

// waitingTask finds a queued task, if any.
var waitingTask = "SELECT tk.id FROM tasks AS tk WHERE tk.status = " + quoted(switchboard.TaskQueued) + " LIMIT 1"

// releaseUnits takes d.n units off an agent's workload, never below 0.
const releaseUnits = "workload = CASE WHEN a.workload > d.n THEN a.workload - d.n ELSE 0 END"

// releaseAgents gives agents back units of their capacity: freed holds
// how many each. PostgreSQL does it within completeAndRelease.
func (db *DB) releaseAgents(ctx context.Context, tx *Tx, freed map[string]int) error {
	if len(freed) == 0 {
		return nil
	}
	agents := slices.Sorted(maps.Keys(freed))
	if db.engine == MySQL { // SQLite's one writer holds every row
		// Locked in the order of their IDs, by a statement of their
		// own: two batches that free the same agents must not take them
		// in opposite orders, and the update must find them locked.
		if _, err := tx.NewRaw("SELECT id FROM agents WHERE id IN (?) ORDER BY id FOR UPDATE", bun.List(agents)).Exec(ctx); err != nil {
			return err
		}
	}
	// How many units each agent gets back, as rows (id, n).
	var freedRows strings.Builder
	var args []any
	for i, id := range agents {
		if i > 0 {
			freedRows.WriteString(" UNION ALL ")
		}
		freedRows.WriteString("SELECT ? AS id, ? AS n")
		args = append(args, id, freed[id])
	}
	var err error
	if db.engine == MySQL {
		_, err = tx.NewRaw("UPDATE agents AS a JOIN ("+freedRows.String()+") AS d ON a.id = d.id SET a."+releaseUnits, args...).Exec(ctx)
	} else {
		_, err = tx.NewRaw("UPDATE agents AS a SET "+releaseUnits+" FROM ("+freedRows.String()+") AS d WHERE a.id = d.id", args...).Exec(ctx)
	}
	return err
}

// createSet creates tasks of one queue that ask the same skills, and
// routes them together: one look for candidates, one reservation of as
// many agents as there are tasks (the strategy's first, passing over those
// other routers hold), one insert of the tasks and their offers. The
// tasks go to the agents in order of priority, then of arrival. A task
// for which no free agent was found, while some may still take work, is
// left to be routed alone, which waits for agents other routers hold and
// may give one agent several tasks; when no agent may take work, the
// tasks wait in the queue, as alone.
func (db *DB) createSet(ctx context.Context, calls []*setCall) error {
	sameTime(calls)
	tx := calls[0].Tx
	first := calls[0].item.(*createWork)
	queue, err := db.routingQueue(ctx, tx, first.nt.QueueID)
	if switchboard.ErrorCode(err) == switchboard.ENOTFOUND || db.Selector == nil ||
		(err == nil && (queue.Strategy == switchboard.Manual || queue.Strategy == switchboard.RoundRobin)) {
		// Refused alone; or routed one at a time, by hand or in turn.
		for _, c := range calls {
			c.left = true
		}
		return nil
	} else if err != nil {
		return err
	}
	rows := make([]*taskRow, len(calls))
	for i, c := range calls {
		rows[i] = c.item.(*createWork).newRow(ctx, c.Tx, queue)
	}
	order := make([]int, len(rows))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return rows[b].Priority - rows[a].Priority })
	agents, none, err := db.reserveSet(ctx, tx, routingRequest(rows[0], queue, ""), rows[0].ID, len(rows))
	if err != nil {
		return err
	}
	var inserts []*taskRow
	var offers []*offerRow
	for j, i := range order {
		c, row := calls[i], rows[i]
		if j < len(agents) {
			row.unsaved, row.agentName = true, agents[j].Name
			if err := db.giveTask(ctx, c.Tx, row, queue, agents[j].AgentID); err != nil {
				return err
			}
			row.unsaved = false
			if row.offer != nil {
				offers = append(offers, row.offer)
			}
		} else if !none {
			c.left = true
			continue
		}
		inserts = append(inserts, row)
	}
	if len(inserts) == 0 {
		return nil
	}
	if len(inserts) == len(calls) {
		// None is left to be made alone after the set, within the turn.
		passTurnBeforeNewRows(ctx)
	}
	// A duplicate key (an idempotency key, an external reference) fails
	// the batch: each change then runs alone and answers for itself.
	if err := db.insertTogether(ctx, tx, &inserts, &offers); err != nil {
		return err
	}
	for i, c := range calls {
		if !c.left {
			w := c.item.(*createWork)
			if *w.created, err = taskOf(ctx, c.Tx, rows[i], queue.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

// reserveSet takes one unit of capacity of each of up to n agents, the
// first the strategy ranks for rt among those who may take work now and
// whose rows no other transaction holds, and returns them in rank order.
// none reports that no agent at all may take the work now.
//
// An agent given work since the candidates were read is passed over. A
// batch of the other committer that held some of them during the read may
// commit before they are taken: its agents are then free of its locks,
// still with room, and were taken again, though no longer longest idle.
// Under heavy load that gave a tenth of the agents two tasks at once while
// most had none, and the completions of such an agent's tasks, in
// consecutive batches, each waited for its row until the batch before
// committed: 3 to 11 ms in half of them, with 384 requests in flight on
// PostgreSQL. SQLite's one writer reads and takes with no commit between.
func (db *DB) reserveSet(ctx context.Context, tx *Tx, rt switchboard.RoutingRequest, taskID string, n int) (agents []*switchboard.Candidate, none bool, err error) {
	// More than the tasks, for agents other routers hold: the other
	// committer's batch (and those of other instances) ranks the same
	// agents first at the same moment, and holds as many as it has tasks.
	// Room for two such batches: with room for none, the tasks a set
	// could not place were routed alone, waiting for agents other batches
	// held while those waited for agents of this one, deadlocks that grew
	// with the batches (30 in 15 s at 64 changes a batch). Rounded, so
	// that the statement's text, which is prepared, varies little.
	limit := (candidateLimit + 3*n + 15) / 16 * 16
	candidates, err := db.candidates(ctx, tx, rt, taskID, limit)
	if err != nil {
		return nil, false, err
	}
	byID := make(map[string]*switchboard.Candidate, len(candidates))
	for _, c := range candidates {
		byID[c.AgentID] = c
	}
	rank := map[string]int{}
	var ranked []string
	// The last assignment each ranked agent had when read, to pass over
	// an agent given work since.
	var seen []*time.Time
	for _, v := range db.Selector.Rank(rt, candidates) {
		if v.Eligible {
			rank[v.Candidate.AgentID] = len(ranked)
			ranked = append(ranked, v.Candidate.AgentID)
			var last *time.Time
			if c := byID[v.Candidate.AgentID]; !c.LastAssignedAt.IsZero() {
				last = &c.LastAssignedAt
			}
			seen = append(seen, last)
		}
	}
	if len(ranked) == 0 {
		return nil, len(candidates) < limit, nil
	}
	if db.afterCandidates != nil {
		db.afterCandidates(ranked)
	}
	var ids []string
	switch db.engine {
	case Postgres:
		// The ranked agents as an array (see inPairs), their rank its
		// order.
		var err error
		if ids, err = tx.takeAgents(ctx, "WITH free (free_id) AS (SELECT a.id FROM agents AS a "+
			"JOIN unnest(?::text[], ?::timestamptz[]) WITH ORDINALITY AS r(id, seen, rank) ON a.id = r.id WHERE a.id = ANY(?::text[]) AND "+
			agentMayTakeWorkByID+" AND a.last_assigned_at IS NOT DISTINCT FROM r.seen"+
			" ORDER BY r.rank LIMIT ? FOR UPDATE OF a SKIP LOCKED) "+
			"UPDATE agents AS a SET workload = a.workload + 1, last_assigned_at = ? FROM free WHERE a.id = free.free_id AND "+
			agentMayTakeWorkByID, ranked, seen, ranked, n, tx.now); err != nil {
			return nil, false, err
		}
	case MySQL:
		// MySQL cannot update a table that a subquery of the update
		// reads: the agents are chosen and locked, then taken.
		order, orderArgs := rankOrder(ranked)
		unchanged, unchangedArgs := unchangedSinceRead(ranked, seen)
		args := slices.Concat([]any{bun.List(ranked)}, unchangedArgs, orderArgs, []any{n})
		if err := tx.NewRaw("SELECT a.id FROM agents AS a WHERE "+agentMayTakeWorkByID+" AND a.id IN (?) AND "+unchanged+
			" ORDER BY "+order+" LIMIT ? FOR UPDATE SKIP LOCKED", args...).Scan(ctx, &ids); err != nil && !errors.Is(err, errNoRows) {
			return nil, false, err
		}
		if len(ids) > 0 {
			res, err := tx.NewRaw("UPDATE agents AS a SET a.workload = a.workload + 1, a.last_assigned_at = ? WHERE a.id IN (?) AND "+
				agentMayTakeWorkByID, tx.now, bun.List(ids)).Exec(ctx)
			if err != nil {
				return nil, false, err
			}
			if n, _ := res.RowsAffected(); n != int64(len(ids)) {
				return nil, false, errors.New("sqlstore: agents locked for work could not take it")
			}
			if err := noteAssigned(ctx, tx, ids...); err != nil {
				return nil, false, err
			}
		}
	default:
		// SQLite, whose one writer meets no row held. The agents to
		// take are chosen once, in a WITH clause: a subquery of the
		// UPDATE's condition could be run again and take more than n.
		// RETURNING names the column alone: SQLite knows no alias there.
		order, orderArgs := rankOrder(ranked)
		args := append(append(append([]any{bun.List(ranked)}, orderArgs...), n), tx.now)
		if err := tx.NewRaw("WITH free (free_id) AS (SELECT a.id FROM agents AS a WHERE "+agentMayTakeWorkByID+" AND a.id IN (?) "+
			"ORDER BY "+order+" LIMIT ?) "+
			"UPDATE agents AS a SET workload = a.workload + 1, last_assigned_at = ? FROM free WHERE a.id = free.free_id AND "+
			agentMayTakeWorkByID+" RETURNING id", args...).Scan(ctx, &ids); err != nil && !errors.Is(err, errNoRows) {
			return nil, false, err
		}
		if err := noteAssigned(ctx, tx, ids...); err != nil {
			return nil, false, err
		}
	}
	slices.SortFunc(ids, func(a, b string) int { return rank[a] - rank[b] })
	for _, id := range ids {
		agents = append(agents, byID[id])
	}
	return agents, false, nil
}
