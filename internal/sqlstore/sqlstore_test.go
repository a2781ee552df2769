package sqlstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// adminCtx returns a context acting as the system, which may do anything.
func systemCtx() context.Context {
	return switchboard.NewContextWithActor(context.Background(), switchboard.SystemActor("test"))
}

// asUser returns a context acting as u.
func asUser(u *switchboard.User) context.Context {
	return switchboard.NewContextWithActor(context.Background(), &switchboard.Actor{User: u})
}

// MustCreateUser creates a user with a fixed password, failing the test on error.
func MustCreateUser(tb testing.TB, db *sqlstore.DB, email string, role switchboard.Role) *switchboard.User {
	tb.Helper()
	u, err := sqlstore.NewUserService(db).CreateUser(systemCtx(), switchboard.NewUser{
		Email: email, Name: "User " + email, Role: role, Password: "correct horse battery",
	})
	if err != nil {
		tb.Fatalf("CreateUser(%s): %v", email, err)
	}
	return u
}

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time          { return c.t }
func (c *fakeClock) Advance(d time.Duration) { c.t = c.t.Add(d) }

func newClock(db *sqlstore.DB) *fakeClock {
	c := &fakeClock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	db.Now = c.Now
	return c
}

func wantCode(tb testing.TB, err error, code string) {
	tb.Helper()
	if got := switchboard.ErrorCode(err); got != code {
		tb.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

func TestMigrate(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ctx := context.Background()
		applied, err := db.Migrate(ctx)
		if err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		if len(applied) != 0 {
			t.Errorf("second Migrate applied %v, want nothing", applied)
		}
		states, err := db.MigrationStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range states {
			if !s.Applied {
				t.Errorf("migration %d %s not applied", s.Version, s.Name)
			}
		}
		if err := db.CheckMigrated(ctx); err != nil {
			t.Errorf("CheckMigrated: %v", err)
		}
	})
}

func asError(err error, target **switchboard.Error) bool { return errors.As(err, target) }
