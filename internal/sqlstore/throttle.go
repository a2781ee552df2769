package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/uptrace/bun"
)

// throttleRow is one token bucket, kept as the generic cell rate algorithm
// keeps it: as the theoretical arrival time (TAT) of the next attempt. The
// bucket is full when TAT is not after now; each attempt moves TAT one
// interval on; an attempt is refused when that would put TAT more than
// burst intervals ahead of now. One timestamp per key, updated under a row
// lock, makes the bucket exact across any number of instances.
type throttleRow struct {
	bun.BaseModel `bun:"table:throttles,alias:th"`

	Key string    `bun:"bucket_key,pk"`
	TAT time.Time `bun:"tat"`
}

// maxThrottleKey is the longest key stored; longer ones are cut.
const maxThrottleKey = 128

// Throttle takes one attempt from key's bucket, which holds burst attempts
// and refills one per interval, shared by every instance on the database.
// When the bucket is empty it returns false and how long until the next
// attempt is allowed.
func (db *DB) Throttle(ctx context.Context, key string, burst int, interval time.Duration) (bool, time.Duration, error) {
	if len(key) > maxThrottleKey {
		key = key[:maxThrottleKey]
	}
	var allowed bool
	var wait time.Duration
	err := db.write(ctx, func(ctx context.Context, tx *Tx) error {
		now := tx.now
		// Make sure the row exists, so that concurrent attempts queue on
		// its lock instead of racing to insert it.
		insert := db.insertLockingExisting(tx.NewInsert().Model(&throttleRow{Key: key, TAT: now}), "bucket_key")
		if _, err := insert.Exec(ctx); err != nil {
			return err
		}
		var row throttleRow
		if err := forUpdate(tx.NewSelect().Model(&row).Where("th.bucket_key = ?", key)).Scan(ctx); err != nil {
			return err
		}
		var next time.Time
		if next, wait = nextArrival(row.TAT, now, burst, interval); wait > 0 {
			return nil
		}
		allowed = true
		_, err := tx.NewUpdate().Model(&row).Set("tat = ?", next).WherePK().Exec(ctx)
		return err
	})
	if err != nil {
		return false, 0, translate(err)
	}
	return allowed, wait, nil
}

// nextArrival returns the bucket's TAT after one more attempt at now, or
// how long until that attempt would be allowed.
func nextArrival(tat, now time.Time, burst int, interval time.Duration) (time.Time, time.Duration) {
	if tat.Before(now) {
		tat = now
	}
	next := tat.Add(interval)
	if ahead := next.Sub(now); ahead > time.Duration(burst)*interval {
		return tat, ahead - time.Duration(burst)*interval
	}
	return next, 0
}

// throttleWait returns how long until key's bucket allows an attempt (0
// when it does now), taking nothing from it. With Throttle called after
// each failure, it throttles failures alone: a request is refused while
// failures have emptied the bucket, and one that succeeds costs nothing.
// Requests checked together may each fail, so the failures of a burst can
// exceed the bucket by the number in flight at once.
func (db *DB) throttleWait(ctx context.Context, key string, burst int, interval time.Duration) (time.Duration, error) {
	if len(key) > maxThrottleKey {
		key = key[:maxThrottleKey]
	}
	var row throttleRow
	err := db.bun.NewSelect().Model(&row).Where("th.bucket_key = ?", key).Scan(ctx)
	if errors.Is(err, errNoRows) {
		return 0, nil
	} else if err != nil {
		return 0, translate(err)
	}
	_, wait := nextArrival(row.TAT, db.now(), burst, interval)
	return wait, nil
}

// DeleteIdleThrottles removes buckets that have refilled completely: they
// hold nothing a new bucket would not.
func (db *DB) DeleteIdleThrottles(ctx context.Context) error {
	_, err := db.bun.NewDelete().Model((*throttleRow)(nil)).Where("tat < ?", db.now()).Exec(ctx)
	return err
}
