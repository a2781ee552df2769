package sqlstore

import (
	"time"

	"github.com/uptrace/bun"
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
