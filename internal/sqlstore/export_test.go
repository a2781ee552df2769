package sqlstore

import "github.com/switchboardhq/switchboard"

// SetBeforeCommit lets a test hold a change back after its events have
// their positions and before it commits.
func (db *DB) SetBeforeCommit(f func(events []*switchboard.Event)) { db.beforeCommit = f }
