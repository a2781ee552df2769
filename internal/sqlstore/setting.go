package sqlstore

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/switchboardhq/switchboard"
)

type settingRow struct {
	bun.BaseModel `bun:"table:settings,alias:st"`

	Name      string    `bun:"name,pk"`
	Value     string    `bun:"value"`
	UpdatedAt time.Time `bun:"updated_at"`
}

// settingSetupDone is present once first-run set-up has created an admin;
// its value is that admin's ID.
const settingSetupDone = "setup_completed"

// settingSetupCode holds the one-time set-up code while no user exists, so
// that every instance started on the database prints and accepts the same
// one, whichever the operator's requests reach.
const settingSetupCode = "setup_code"

// SetupCode returns the code with which a client on another machine may
// create the first admin, making one the first time it is asked for. Once a
// user exists there is none: it returns "" and removes a stored one.
func (db *DB) SetupCode(ctx context.Context) (string, error) {
	var code string
	err := db.write(ctx, func(ctx context.Context, tx *Tx) error {
		n, err := tx.NewSelect().Model((*userRow)(nil)).Count(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			_, err := tx.NewDelete().Model((*settingRow)(nil)).Where("name = ?", settingSetupCode).Exec(ctx)
			return err
		}
		row := settingRow{Name: settingSetupCode, Value: switchboard.NewSecret(""), UpdatedAt: tx.now}
		// Instances starting together may race: the first insert wins and
		// all read its code.
		if _, err := db.insertLockingExisting(tx.NewInsert().Model(&row), "name").Exec(ctx); err != nil {
			return err
		}
		if err := tx.NewSelect().Model(&row).WherePK().Scan(ctx); err != nil {
			return err
		}
		code = row.Value
		return nil
	})
	return code, translate(err)
}
