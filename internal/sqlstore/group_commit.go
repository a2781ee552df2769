package sqlstore

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"
)

// Group commit. A commit is the dearest part of a small change: a round
// trip, a flush of the write-ahead log, and, here, the lock on the event
// sequence that orders every writer. Requests that arrive while others are
// being committed therefore share one transaction: a committer takes every
// change waiting (up to maxBatch), runs them one after another in one
// transaction, writes all their events at once and commits once. Under
// light load a change runs alone at once and waits for nobody; under heavy
// load the changes per commit grow with the load, which is what lets the
// rate of changes outgrow the rate of commits.
//
// One batch of several changes at a time makes them (see groupCommit.turn):
// the next starts when the one before comes to its events and commit, and
// makes its changes while that one commits. Started at once instead, the
// second committer took the one or two changes that had just come, ran
// them while the first ran its own, both on the same two cores and each
// waiting for rows the other held, and then waited for the first's commit
// all the same. Measured with the lifecycle load (1,000 agents, 64
// requests in flight, alternating): on PostgreSQL 766 and 851 tasks/s
// against 652 and 740, p99 create→assigned 92 and 88 ms against 117 and
// 125, with a fifth less CPU per task; on MariaDB, where InnoDB also locks
// the ranges its statements read, 607 and 602 against 430 and 317.
//
// A change that came alone passes the turn on at once: nothing waited for
// it, and under light load two changes made side by side wait less than
// one after the other (in an open model at 600 tasks/s, p99
// create→assigned 108 and 69 ms, against 130 and 92 with the turn kept,
// and 100 and 73 without turns).
//
// A change that fails in a batch must not take the others with it, and its
// caller must see its own error. A change made one by one that refuses (an
// offer no longer open, an unknown ID) is undone to a savepoint set before
// it, and answered with its error, which it met after the changes made
// before it in the batch, as it would have after their commits. Any other
// failure rolls the batch back: the failed change runs again alone and the
// others again together (fn is written to run more than once, as the
// retries of deadlocks already require). When the transaction fails as a
// whole, every change runs again alone.

// maxBatch is the most changes one transaction carries: enough to share a
// commit among all the requests of a busy instance, few enough that the
// locks of one batch are not held for long. Under light load batches are
// small whatever the bound; under heavy load a batch takes about the same
// round trips at any size, so the bound sets the rate. Measured with the
// lifecycle load (1,000 agents, 384 requests in flight, PostgreSQL on 2
// cores): 32 about 1,850 tasks/s, 64 2,029–2,248, 96 2,346–2,365, 128
// 2,352–2,356. (Larger batches made deadlocks before routing read enough
// candidates: see reserveSet.)
const maxBatch = 128

// maxBatchMySQL is maxBatch on MySQL and MariaDB, where a larger batch
// waits longer for the rows other batches lock (InnoDB locks the index
// ranges its statements read, not only the rows they change): with the
// same load, 32 gave 864 and 884 tasks/s, 64 818, 128 631.
const maxBatchMySQL = 32

// serverCommitters is how many transactions of changes a server engine
// runs at once. Every commit takes the event sequence's row, so
// transactions of changes commit one after another whatever their number:
// more of them only wait in line, each holding its locks on agents and
// tasks, which the next ones then wait for in turn. Two keep one batch
// making its changes while the other commits, and let batches grow with
// the load; a third made no difference once batches took turns (801
// against 825 tasks/s with 64 requests in flight).
// Measured with the lifecycle load (1,000 agents, 64 requests in flight,
// PostgreSQL on 2 cores): 16 committers 78–107 tasks/s, 4 105–134, 2
// 148–151, 1 119–124; the three-process exactly-once run took 3 min on
// PostgreSQL with 2, against 4.5–6 with 16.
const serverCommitters = 2

// groupCommit is the queue of changes and the committers that run them.
type groupCommit struct {
	db      *DB
	changes chan *change
	// turn is held by the committer whose batch is making its changes,
	// and passed on when it comes to its events and commit (see
	// fromCommitter.passTurn).
	turn chan struct{}
	quit chan struct{}
	// stopping ends when the committers stop: what they began ahead
	// (see beginAhead) is rolled back, a BEGIN still waiting abandoned.
	stopping   context.Context
	stopBegins context.CancelFunc
	stopped    sync.WaitGroup
	shared     atomic.Int64 // changes committed in a batch of several
	bySet      atomic.Int64 // changes of those made in sets
}

// change is one call of DB.write waiting for its commit.
type change struct {
	ctx context.Context
	fn  func(ctx context.Context, tx *Tx) error
	// set, when not nil, lets a batch make the change together with the
	// others of its kind (see setWork); fn makes it alone.
	set  *setWork
	done chan error
}

// inChangeKey marks the context of a change's fn, so that a write from
// within it runs alone instead of waiting for a committer.
type inChangeKey struct{}

// inBatchKey marks the context of a change made in a transaction shared
// with others, which must not wait for agents (see errRouteAlone).
type inBatchKey struct{}

// group returns the group committer, started on first use.
func (db *DB) group() *groupCommit {
	db.groupOnce.Do(func() {
		// SQLite has one writer at a time: a second committer would only
		// wait for the first's lock. On a server engine a change's
		// statements are round trips: a second committer runs a batch
		// while the first commits (see serverCommitters).
		committers := 1
		if db.engine != SQLite {
			committers = serverCommitters
		}
		g := &groupCommit{db: db, changes: make(chan *change), turn: make(chan struct{}, 1), quit: make(chan struct{})}
		g.turn <- struct{}{}
		g.stopping, g.stopBegins = context.WithCancel(context.Background())
		for range committers {
			g.stopped.Add(1)
			go g.commit()
		}
		db.groupCommit = g
	})
	return db.groupCommit
}

// stop ends the committers once the changes they run are done.
func (g *groupCommit) stop() {
	close(g.quit)
	g.stopBegins()
	g.stopped.Wait()
}

// write hands fn to a committer and waits for its commit. A caller whose
// context ends while its change is being committed still waits: its change
// may commit, and the caller must not be told otherwise.
func (g *groupCommit) write(ctx context.Context, fn func(ctx context.Context, tx *Tx) error, set *setWork) error {
	c := &change{ctx: ctx, fn: fn, set: set, done: make(chan error, 1)}
	select {
	case g.changes <- c:
	case <-ctx.Done():
		return ctx.Err()
	case <-g.quit:
		return g.db.writeAlone(ctx, fn)
	}
	return <-c.done
}

// commit is one committer: it takes the changes waiting, up to maxBatch
// (maxBatchMySQL on MySQL), and commits them together.
func (g *groupCommit) commit() {
	defer g.stopped.Done()
	limit := maxBatch
	if g.db.engine == MySQL {
		limit = maxBatchMySQL
	}
	batch := make([]*change, 0, limit)
	var ahead *bun.Tx
	var aheadSince time.Time
	defer func() { rollBackAhead(ahead) }()
	idle := time.NewTimer(aheadIdle)
	idle.Stop()
	for {
		if ahead == nil {
			ahead, aheadSince = g.beginAhead(), time.Now()
		}
		var c *change
		if c, ahead = g.first(ahead, aheadSince, idle); c == nil {
			return
		}
		// The turn always comes: the other committer holds it only while
		// its batch makes its changes.
		<-g.turn
		alone := 0 // changes without a set, each made in a savepoint
		batch = append(batch[:0], c)
		alone += c.madeAlone()
	waiting:
		for len(batch) < limit && alone < maxAloneInBatch {
			select {
			case c := <-g.changes:
				batch = append(batch, c)
				alone += c.madeAlone()
			default:
				break waiting
			}
		}
		from := &fromCommitter{passTurn: g.passTurnOnce(), ahead: ahead}
		g.runInTurn(batch, from)
		ahead = from.takeAhead() // not taken (a change made alone): for the next batch
	}
}

// passTurnOnce returns a function that passes the turn on the first time
// it is called, and does nothing after that.
func (g *groupCommit) passTurnOnce() func() {
	return sync.OnceFunc(func() { g.turn <- struct{}{} })
}

// runInTurn runs a batch whose committer holds the turn, and passes it on
// when the batch comes to its events and commit (see fromCommitter), after
// maxTurn, or when the batch is done, whichever comes first (see run for
// a change that came alone).
func (g *groupCommit) runInTurn(batch []*change, from *fromCommitter) {
	overdue := time.AfterFunc(g.db.turnLimit(), from.passTurn)
	defer overdue.Stop()
	defer from.passTurn()
	g.run(batch, from)
}

// maxTurn is the longest a batch keeps the turn. One that takes longer to
// make its changes waits for something (a row another transaction holds,
// a change made alone that waits for an agent): the other committer then
// goes on without it, as both did before batches took turns. A batch of
// the most changes takes a few tens of milliseconds.
const maxTurn = 100 * time.Millisecond

// turnLimit is maxTurn, unless a test set another (see SetTurnLimit).
func (db *DB) turnLimit() time.Duration {
	if d := time.Duration(db.turnLimitForTests.Load()); d > 0 {
		return d
	}
	return maxTurn
}

// first waits for the first change of the next batch (nil when the
// committers stop), and returns it with the transaction begun ahead (at
// since), or nil once that has been open aheadIdle and is rolled back.
func (g *groupCommit) first(ahead *bun.Tx, since time.Time, idle *time.Timer) (*change, *bun.Tx) {
	var expired <-chan time.Time // nil, never ready, with nothing begun
	if left := aheadIdle - time.Since(since); ahead != nil && left <= 0 {
		rollBackAhead(ahead)
		ahead = nil
	} else if ahead != nil {
		idle.Reset(left)
		defer idle.Stop()
		expired = idle.C
	}
	for {
		select {
		case c := <-g.changes:
			return c, ahead
		case <-g.quit:
			return nil, ahead
		case <-expired:
			rollBackAhead(ahead)
			ahead, expired = nil, nil
		}
	}
}

// A committer begins the transaction of its next batch before it takes the
// turn, while the batch before makes its changes: the BEGIN, a round trip
// of the half dozen that a batch's changes take on a server engine, is
// then off the path that batches take one after another. A transaction
// begun takes no snapshot and no lock before its first statement; one
// left idle for aheadIdle, when no change came, is rolled back rather than
// kept open on the database's side. SQLite's one writer begins when it
// writes.
//
// Only a batch of several changes takes it. A transaction begun ahead may
// find its connection lost at its first statement, which database/sql
// would have found at the BEGIN and replaced unseen; a batch that fails so
// makes its changes again alone, each in a new transaction, where a
// change made alone would fail with the connection.

// aheadIdle is how long a transaction begun ahead waits for its changes.
const aheadIdle = time.Second

// beginAhead begins a transaction for the committer's next batch, or
// returns nil (SQLite, or when it cannot: the batch then begins its own).
func (g *groupCommit) beginAhead() *bun.Tx {
	if g.db.engine == SQLite {
		return nil
	}
	// Not bound to a request or a deadline: database/sql rolls a
	// transaction back when the context it began with ends. Its
	// statements have the batch's deadline.
	tx, err := g.db.bun.BeginTx(g.stopping, nil)
	if err != nil {
		return nil
	}
	return &tx
}

func rollBackAhead(tx *bun.Tx) {
	if tx != nil {
		_ = tx.Rollback()
	}
}

// fromCommitter is what a committer hands the transaction of its batch,
// in the context of the batch's statements.
type fromCommitter struct {
	// passTurn passes the turn (see groupCommit.turn) on to the other
	// committer once the batch's changes are made and only its events
	// and the commit are left to send: the other then takes the changes
	// that came meanwhile and makes them while this one commits.
	passTurn func()
	ahead    *bun.Tx // begun ahead (see beginAhead), until taken
}

type fromCommitterKey struct{}

// takeAhead returns the transaction begun ahead, once; nil after that, or
// when there is none.
func (f *fromCommitter) takeAhead() *bun.Tx {
	if f == nil {
		return nil
	}
	tx := f.ahead
	f.ahead = nil
	return tx
}

// startingLastStatements passes the turn on, if ctx holds it.
func startingLastStatements(ctx context.Context) {
	if f, ok := ctx.Value(fromCommitterKey{}).(*fromCommitter); ok {
		f.passTurn()
	}
}

// beginTx begins the transaction of a change or a batch: the one its
// committer began ahead, the first time, else a new one.
func (db *DB) beginTx(ctx context.Context) (bun.Tx, error) {
	if f, ok := ctx.Value(fromCommitterKey{}).(*fromCommitter); ok {
		if tx := f.takeAhead(); tx != nil {
			db.beganAhead.Add(1)
			return *tx, nil
		}
	}
	return db.bun.BeginTx(ctx, nil)
}

// maxAloneInBatch is the most changes without a set that one batch takes.
// Each is made in a savepoint of its own, a subtransaction; PostgreSQL
// keeps the IDs of a transaction's subtransactions that wrote in a cache
// of 64 per session, even once released, and beyond it every snapshot of
// every session looks them up on disk until the commit. Changes made in
// sets take no savepoint, and fill batches up to maxBatch.
const maxAloneInBatch = 48

// madeAlone is 1 for a change that a batch makes one by one, else 0.
func (c *change) madeAlone() int {
	if c.set == nil {
		return 1
	}
	return 0
}

// batchTimeout bounds a shared transaction, whose changes no longer follow
// their callers' cancellation.
const batchTimeout = 30 * time.Second

// run commits a batch of changes, or, when it cannot, each alone.
func (g *groupCommit) run(batch []*change, from *fromCommitter) {
	live := batch[:0]
	for _, c := range batch {
		if err := c.ctx.Err(); err != nil {
			c.done <- err // not begun: its caller is gone
			continue
		}
		live = append(live, c)
	}
	if len(live) == 0 {
		return
	}
	if len(live) == 1 {
		if from != nil {
			from.passTurn() // nothing waited for it
		}
		if !g.db.aloneInItsSet(live[0]) {
			// Its own transaction: the one begun ahead stays for the
			// next batch (see beginAhead).
			g.runAlone(live[0])
			return
		}
	}
	txs, refused, failed, bySet, err := g.db.writeBatch(live, from)
	if err == nil {
		g.db.committed(txs)
		if len(live) > 1 {
			g.shared.Add(int64(len(live)))
		}
		g.bySet.Add(int64(bySet))
		for i, c := range live {
			if refused[i] == errRouteAlone {
				g.runAloneLater(c)
				continue
			}
			c.done <- refused[i]
		}
		return
	}
	g.db.rolledBack(txs)
	alone := live
	if failed >= 0 {
		// One change failed: it runs again alone, for its caller to get
		// its own answer, and the others again together.
		alone = live[failed : failed+1]
		rest := slices.Delete(slices.Clone(live), failed, failed+1)
		defer g.run(rest, from)
	}
	// The transaction failed as a whole (a deadlock, a lost connection):
	// each change again, alone and at once.
	for _, c := range alone {
		g.runAloneLater(c)
	}
}

// aloneInItsSet reports whether a change that came alone is made by its
// set (see setWork) rather than by its fn: on PostgreSQL, for the kinds
// whose set makes even one change in fewer statements (setWork.evenAlone).
// An acceptance by its set is one prepared statement, where fn reads the
// offer, then the task, then changes both, each statement parsed and
// planned anew; a completion likewise. Under light load most batches hold
// one change. Measured with the lifecycle load (1,000 agents, PostgreSQL
// on 2 cores, alternating): with 8 requests in flight 231 tasks/s against
// 218, the database's CPU per task 4.3 ms against 4.5; with 64, 700
// against 649 (1.40 ms against 1.50); with 384, 1,042–1,075 against
// 1,029–1,059, the same CPU per task. A creation by its set takes as many
// statements as by fn, and made so it cost more under heavy load (797–
// 1,023 tasks/s against 890–1,114 with 384 in flight). On MariaDB a set
// locks, changes and reads its rows again, more statements than fn for
// one change (151–172 against 177–188 tasks/s with 8 in flight, all three
// kinds); SQLite's one writer is in the same process, and neither way was
// faster there.
func (db *DB) aloneInItsSet(c *change) bool {
	return c.set != nil && c.set.evenAlone && db.engine == Postgres
}

// runAloneLater runs a change in a transaction of its own, without
// holding up the committer; stop waits for it.
func (g *groupCommit) runAloneLater(c *change) {
	g.stopped.Add(1) // while the committer calling it runs: never from 0
	go func() {
		defer g.stopped.Done()
		g.runAlone(c)
	}()
}

// runAlone runs a change in a transaction of its own.
func (g *groupCommit) runAlone(c *change) {
	c.done <- g.db.writeAlone(context.WithValue(c.ctx, inChangeKey{}, true), c.fn)
}

// writeBatch runs the changes in one transaction and commits it, returning
// the changes' Txs with their events. Changes of one set are made together
// first (see setWork), then the others one after another, with those a set
// left to be made alone. A change made one by one that refuses (its fn
// returns an error the database did not raise as a deadlock or a lost
// connection) is undone to a savepoint set before it, and the batch goes
// on: refused holds its error, by index in batch. One that would wait for
// agents is undone the same way, refused holding errRouteAlone: it is
// made again alone after the commit. Before, one late accept
// or unknown ID failed the whole batch, which then ran again without it;
// a batch with many such changes ran again as many times, one less each
// time. When a change fails otherwise, failed is its index; otherwise -1.
// bySet is how many changes sets made.
func (db *DB) writeBatch(batch []*change, from *fromCommitter) (txs []*Tx, refused []error, failed, bySet int, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	if from != nil {
		ctx = context.WithValue(ctx, fromCommitterKey{}, from)
	}
	failed = -1
	refused = make([]error, len(batch))
	err = db.inTx(ctx, func(ctx context.Context, btx bun.Tx) error {
		// The changes' Txs in the order they were made, which is the
		// order of their events: a change made after another may move
		// what the other made (route a task it queued).
		txs = make([]*Tx, 0, len(batch))
		// The change sees its caller's values (actor, request) but the
		// batch's deadline: the transaction is others' too. Unless it is
		// alone in its batch (see aloneInItsSet): then it holds no one
		// else's agents, and may wait for those others hold.
		changeCtx := func(c *change) context.Context {
			cctx := context.WithValue(valuesFrom{ctx, c.ctx}, inChangeKey{}, true)
			if len(batch) > 1 {
				cctx = context.WithValue(cctx, inBatchKey{}, true)
			}
			return cctx
		}
		sets, alone := setsOf(batch)
		calls := make([][]*setCall, len(sets))
		makes := make([]func(ctx context.Context) error, len(sets))
		for k, members := range sets {
			calls[k] = make([]*setCall, len(members))
			for j, i := range members {
				calls[k][j] = &setCall{Tx: db.newTx(changeCtx(batch[i]), btx), item: batch[i].set.item}
			}
			makes[k] = func(ctx context.Context) error { return batch[members[0]].set.make(ctx, calls[k]) }
		}
		if k := len(sets) - 1; k >= 0 && len(alone) == 0 && batch[sets[k][0]].set.endsWithNewRows {
			makeLast := makes[k]
			makes[k] = func(ctx context.Context) error { return makeLast(context.WithValue(ctx, lastSetKey{}, true)) }
		}
		if err := db.makeSets(ctx, makes); err != nil {
			return err
		}
		for k, members := range sets {
			calls := calls[k]
			for j, i := range members {
				if calls[j].left {
					// Its events, if the set recorded any, go with it.
					alone = append(alone, i)
				} else {
					txs = append(txs, calls[j].Tx)
					bySet++
				}
			}
		}
		slices.Sort(alone)
		for _, i := range alone {
			cctx := changeCtx(batch[i])
			tx := db.newTx(cctx, btx)
			if _, err := btx.ExecContext(ctx, "SAVEPOINT one_change"); err != nil {
				return err
			}
			err := batch[i].fn(cctx, tx)
			if err != nil && !isRetryable(err) && !isLostConnection(err) && ctx.Err() == nil {
				if rerr := rollBackTo(ctx, btx, "one_change"); rerr == nil {
					db.rolledBack([]*Tx{tx})
					refused[i] = translate(err)
					if errors.Is(err, errRouteAlone) {
						refused[i] = errRouteAlone // made again alone
					}
					continue
				}
			}
			if err != nil {
				txs, failed = append(txs, tx), i
				return err
			}
			// Released, so that savepoints do not nest: PostgreSQL slows
			// every snapshot once a transaction has more than 64 open.
			if _, err := btx.ExecContext(ctx, "RELEASE SAVEPOINT one_change"); err != nil {
				return err
			}
			txs = append(txs, tx)
		}
		return db.writeEvents(ctx, btx, txs)
	})
	return txs, refused, failed, bySet, err
}

// rollBackTo undoes what a transaction did since a savepoint (a change
// made one by one in a batch, see writeBatch; a wait for an agent, see
// reserveWaiting), and releases the savepoint: one rolled back to stays,
// and the next one of the same name would nest in it.
func rollBackTo(ctx context.Context, idb bun.IDB, savepoint string) error {
	if _, err := idb.ExecContext(ctx, "ROLLBACK TO SAVEPOINT "+savepoint); err != nil {
		return err
	}
	_, err := idb.ExecContext(ctx, "RELEASE SAVEPOINT "+savepoint)
	return err
}

// setsOf sorts the changes of a batch into sets, as indexes of the batch
// in the order of their arrival, and those made one by one. Sets that wait
// for agents' rows come first (see setWork.waitsForAgents), those that end
// with new rows last (see setWork.endsWithNewRows), the others between, in
// the order of their first change's arrival.
func setsOf(batch []*change) (sets [][]int, alone []int) {
	byKey := map[string]int{}
	for i, c := range batch {
		if c.set == nil {
			alone = append(alone, i)
			continue
		}
		k, ok := byKey[c.set.key]
		if !ok {
			k = len(sets)
			byKey[c.set.key] = k
			sets = append(sets, nil)
		}
		sets[k] = append(sets[k], i)
	}
	slices.SortStableFunc(sets, func(a, b []int) int {
		place := func(set []int) int {
			switch w := batch[set[0]].set; {
			case w.waitsForAgents:
				return 0
			case w.endsWithNewRows:
				return 2
			}
			return 1
		}
		return place(a) - place(b)
	})
	return sets, alone
}

// setWork is a change that a batch may make together with others of its
// kind, in a few statements over all their rows, instead of a few
// statements each: the requests of a busy task path (create, accept,
// complete) are many small changes of the same shape, and their round
// trips, not their rows, are what the database spends its time on.
type setWork struct {
	// key names the changes made together: their kind, and what their
	// statements share (the queue of new tasks).
	key string
	// make makes the changes of one set in the transaction of the calls,
	// each recording its events and answer through its own call. It
	// leaves (call.left) a change it does not make, having written
	// nothing for it, for its fn to make alone; an error fails the batch,
	// whose changes then run again alone.
	make func(ctx context.Context, calls []*setCall) error
	item any // what make needs of this change
	// waitsForAgents marks a kind whose statements lock agents' rows
	// and wait for them, in the order of their IDs (completions give
	// capacity back). A batch makes such sets before the others, which
	// take agents with SKIP LOCKED and hold them to the commit: a batch
	// that holds agents so taken and then waited for one that another
	// batch holds, while that batch waited for one of its own, made a
	// deadlock, which PostgreSQL breaks only after a second. In order,
	// a batch waits for agents before it holds any but those it locked
	// in order. Measured with the lifecycle load on PostgreSQL (1,000
	// agents, 128 requests in flight), 2 deadlocks in most 15-second
	// runs and up to 21, against none.
	waitsForAgents bool
	// evenAlone marks a kind whose set makes a change that comes alone
	// in fewer statements than its fn (see aloneInItsSet).
	evenAlone bool
	// endsWithNewRows marks a kind whose last statement only inserts
	// rows that no other transaction can know of before the commit (new
	// tasks and their offers): no other batch waits for them, and they
	// wait for no row another batch holds. Such sets come last in a
	// batch, and the last of them passes the turn on before that
	// statement when nothing follows it: no change of the batch made one
	// by one, none the set leaves (see passTurnBeforeNewRows).
	endsWithNewRows bool
}

// lastSetKey marks the context of the last set of a batch, when no change
// is made one by one after it.
type lastSetKey struct{}

// passTurnBeforeNewRows passes the turn on (see groupCommit.turn) when the
// set of ctx is the last of its batch: what is left to send, its new rows
// then the events, holds nothing up for the other committer's batch, which
// makes its changes meanwhile. The insert took 2.6 ms of the ~20 that a
// full batch keeps the turn. Measured with the lifecycle load (1,000
// agents, 384 requests in flight, PostgreSQL on 2 cores, alternating):
// faster in 7 of 10 pairs, 1,159–1,611 tasks/s against 1,076–1,517; a
// small gain, near the noise of a shared machine.
func passTurnBeforeNewRows(ctx context.Context) {
	if ctx.Value(lastSetKey{}) != nil {
		startingLastStatements(ctx)
	}
}

// setCall is one change of a set being made.
type setCall struct {
	*Tx
	item any
	left bool
}

// valuesFrom is a context with the deadline and cancellation of one and
// the values of another.
type valuesFrom struct {
	context.Context
	values context.Context
}

func (v valuesFrom) Value(key any) any { return v.values.Value(key) }
