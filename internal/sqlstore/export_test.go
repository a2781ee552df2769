package sqlstore

import (
	"context"

	"github.com/switchboardhq/switchboard"
)

// SetBeforeCommit lets a test hold a change back after its events have
// their positions and before it commits.
func (db *DB) SetBeforeCommit(f func(events []*switchboard.Event)) { db.beforeCommit = f }

// Write runs fn as a change, as the services do.
func (db *DB) Write(ctx context.Context, fn func(ctx context.Context, tx *Tx) error) error {
	return db.write(ctx, fn)
}

// IsRead exposes the test of which statements may run twice.
var IsRead = isRead
