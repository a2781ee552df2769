package sqlstore_test

import (
	"testing"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// TestSetupCode: while no user exists, every instance gets the same random
// set-up code; once one does, there is none.
func TestSetupCode(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		code, err := db.SetupCode(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(code) < 32 {
			t.Fatalf("code %q: want a long random one", code)
		}
		again, err := db.SetupCode(t.Context())
		if err != nil || again != code {
			t.Errorf("second call: %q, %v; want the same code %q", again, err, code)
		}
		other := sqlstoretest.Open(t, db.Engine())
		if c, _ := other.SetupCode(t.Context()); c == code || c == "" {
			t.Errorf("another database has code %q, want its own", c)
		}
		MustCreateUser(t, db, "admin@example.com", switchboard.RoleAdmin)
		if code, err := db.SetupCode(t.Context()); err != nil || code != "" {
			t.Errorf("after set-up: %q, %v; want no code", code, err)
		}
	})
}
