package sqlstore_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

func TestUserService_CreateUser(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		s := sqlstore.NewUserService(db)

		t.Run("OK", func(t *testing.T) {
			u, err := s.CreateUser(systemCtx(), switchboard.NewUser{
				Email: "  Ada@Example.COM ", Name: " Ada Lovelace ", Role: switchboard.RoleSupervisor, Password: "a long enough password",
			})
			if err != nil {
				t.Fatal(err)
			}
			if u.ID == "" || u.Email != "ada@example.com" || u.Name != "Ada Lovelace" || u.Role != switchboard.RoleSupervisor || u.Status != switchboard.UserActive {
				t.Errorf("got %+v", u)
			}
			got, err := s.FindUserByID(systemCtx(), u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !got.CreatedAt.Equal(u.CreatedAt) || got.Email != u.Email || got.Version != 1 {
				t.Errorf("FindUserByID = %+v, want %+v", got, u)
			}
		})
		t.Run("ErrEmailTakenIgnoringCase", func(t *testing.T) {
			_, err := s.CreateUser(systemCtx(), switchboard.NewUser{Email: "ADA@example.com", Name: "Other", Role: switchboard.RoleAgent, Password: "a long enough password"})
			wantCode(t, err, switchboard.ECONFLICT)
			if f := switchboard.ErrorFields(err); len(f) != 1 || f[0].Field != "email" {
				t.Errorf("fields = %v, want email", f)
			}
		})
		t.Run("ErrInvalidNamesEveryField", func(t *testing.T) {
			_, err := s.CreateUser(systemCtx(), switchboard.NewUser{Email: "not-an-address", Name: "", Role: "boss", Password: "short"})
			wantCode(t, err, switchboard.EINVALID)
			fields := map[string]bool{}
			for _, f := range switchboard.ErrorFields(err) {
				fields[f.Field] = true
			}
			for _, want := range []string{"email", "name", "role", "password"} {
				if !fields[want] {
					t.Errorf("no error for field %s in %v", want, switchboard.ErrorFields(err))
				}
			}
		})
		t.Run("ErrForbiddenForNonAdmin", func(t *testing.T) {
			sup := MustCreateUser(t, db, "sup@example.com", switchboard.RoleSupervisor)
			_, err := s.CreateUser(asUser(sup), switchboard.NewUser{Email: "x@example.com", Name: "X", Role: switchboard.RoleAdmin, Password: "a long enough password"})
			wantCode(t, err, switchboard.EFORBIDDEN)
		})
		t.Run("ErrUnauthorizedWithoutActor", func(t *testing.T) {
			_, err := s.CreateUser(t.Context(), switchboard.NewUser{Email: "y@example.com", Name: "Y", Role: switchboard.RoleAgent, Password: "a long enough password"})
			wantCode(t, err, switchboard.EUNAUTHORIZED)
		})
	})
}

func TestUserService_CreateFirstAdmin(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		s := sqlstore.NewUserService(db)
		// Several set-ups race; exactly one may win.
		var wg sync.WaitGroup
		errs := make([]error, 6)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = s.CreateFirstAdmin(t.Context(), switchboard.NewUser{
					Email: fmt.Sprintf("admin%d@example.com", i), Name: "Admin", Password: "a long enough password",
				})
			}()
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch switchboard.ErrorCode(err) {
			case "":
				wins++
			case switchboard.ECONFLICT:
			default:
				t.Errorf("unexpected error %v", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d set-ups succeeded, want 1", wins)
		}
		if n, _ := s.CountUsers(t.Context()); n != 1 {
			t.Fatalf("CountUsers = %d, want 1", n)
		}
		page, err := s.FindUsers(systemCtx(), switchboard.UserFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if page.Items[0].Role != switchboard.RoleAdmin {
			t.Errorf("first user has role %s, want admin", page.Items[0].Role)
		}
	})
}

func TestUserService_FindUsers(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		s := sqlstore.NewUserService(db)
		clock := newClock(db)
		for i := range 25 {
			role := switchboard.RoleAgent
			if i%5 == 0 {
				role = switchboard.RoleSupervisor
			}
			MustCreateUser(t, db, fmt.Sprintf("user%02d@example.com", i), role)
			clock.Advance(time.Second)
		}
		MustCreateUser(t, db, "odd_100%@example.com", switchboard.RoleAgent)

		t.Run("PagesCoverEveryUserOnce", func(t *testing.T) {
			for _, sort := range switchboard.UserSorts {
				seen := map[string]int{}
				cursor := ""
				pages := 0
				for {
					p, err := s.FindUsers(systemCtx(), switchboard.UserFilter{Limit: 7, Sort: sort, Cursor: cursor})
					if err != nil {
						t.Fatalf("sort %s: %v", sort, err)
					}
					pages++
					for _, u := range p.Items {
						seen[u.ID]++
					}
					if p.NextCursor == "" {
						break
					}
					cursor = p.NextCursor
				}
				if len(seen) != 26 || pages != 4 {
					t.Errorf("sort %s: saw %d users in %d pages, want 26 in 4", sort, len(seen), pages)
				}
				for id, n := range seen {
					if n != 1 {
						t.Errorf("sort %s: user %s seen %d times", sort, id, n)
					}
				}
			}
		})
		t.Run("SortedNewestFirst", func(t *testing.T) {
			p, err := s.FindUsers(systemCtx(), switchboard.UserFilter{Sort: "-created_at", Limit: 2})
			if err != nil {
				t.Fatal(err)
			}
			if p.Items[0].Email != "odd_100%@example.com" || p.Items[1].Email != "user24@example.com" {
				t.Errorf("got %s, %s", p.Items[0].Email, p.Items[1].Email)
			}
		})
		t.Run("Filters", func(t *testing.T) {
			for _, tc := range []struct {
				name   string
				filter switchboard.UserFilter
				want   int
			}{
				{"QueryIgnoresCase", switchboard.UserFilter{Query: "USER1"}, 10},
				{"QueryWildcardsAreLiteral", switchboard.UserFilter{Query: "_100%"}, 1},
				{"QueryUnderscoreIsLiteral", switchboard.UserFilter{Query: "r_"}, 0},
				{"Role", switchboard.UserFilter{Role: switchboard.RoleSupervisor}, 5},
				{"Status", switchboard.UserFilter{Status: switchboard.UserDisabled}, 0},
			} {
				p, err := s.FindUsers(systemCtx(), tc.filter)
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				if len(p.Items) != tc.want {
					t.Errorf("%s: got %d users, want %d", tc.name, len(p.Items), tc.want)
				}
			}
		})
		t.Run("ErrInvalid", func(t *testing.T) {
			for _, f := range []switchboard.UserFilter{{Limit: 1000}, {Sort: "password"}, {Role: "x"}, {Cursor: "garbage"}} {
				_, err := s.FindUsers(systemCtx(), f)
				wantCode(t, err, switchboard.EINVALID)
			}
			p, _ := s.FindUsers(systemCtx(), switchboard.UserFilter{Limit: 1, Sort: "email"})
			_, err := s.FindUsers(systemCtx(), switchboard.UserFilter{Limit: 1, Sort: "created_at", Cursor: p.NextCursor})
			wantCode(t, err, switchboard.EINVALID)
		})
		t.Run("ErrForbiddenForNonAdmin", func(t *testing.T) {
			sup := MustCreateUser(t, db, "viewer@example.com", switchboard.RoleSupervisor)
			_, err := s.FindUsers(asUser(sup), switchboard.UserFilter{})
			wantCode(t, err, switchboard.EFORBIDDEN)
		})
	})
}

func TestUserService_UpdateUser(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		s := sqlstore.NewUserService(db)
		admin := MustCreateUser(t, db, "admin@example.com", switchboard.RoleAdmin)
		agent := MustCreateUser(t, db, "agent@example.com", switchboard.RoleAgent)
		ctx := asUser(admin)

		t.Run("OK", func(t *testing.T) {
			name, role := "Renamed", switchboard.RoleSupervisor
			u, err := s.UpdateUser(ctx, agent.ID, switchboard.UserUpdate{Name: &name, Role: &role, IfVersion: agent.Version})
			if err != nil {
				t.Fatal(err)
			}
			if u.Name != name || u.Role != role || u.Version != agent.Version+1 || u.AuthVersion != agent.AuthVersion+1 {
				t.Errorf("got %+v", u)
			}
		})
		t.Run("RenameKeepsSessions", func(t *testing.T) {
			before, _ := s.FindUserByID(ctx, agent.ID)
			name := "Renamed Again"
			u, err := s.UpdateUser(ctx, agent.ID, switchboard.UserUpdate{Name: &name})
			if err != nil {
				t.Fatal(err)
			}
			if u.AuthVersion != before.AuthVersion {
				t.Errorf("AuthVersion moved from %d to %d on a rename", before.AuthVersion, u.AuthVersion)
			}
		})
		t.Run("ErrPreconditionOnStaleVersion", func(t *testing.T) {
			name := "Stale"
			_, err := s.UpdateUser(ctx, agent.ID, switchboard.UserUpdate{Name: &name, IfVersion: agent.Version})
			wantCode(t, err, switchboard.EPRECONDITION)
			u, _ := s.FindUserByID(ctx, agent.ID)
			if u.Name == name {
				t.Error("stale update was applied")
			}
		})
		t.Run("ErrCannotDisableSelf", func(t *testing.T) {
			disabled := switchboard.UserDisabled
			_, err := s.UpdateUser(ctx, admin.ID, switchboard.UserUpdate{Status: &disabled})
			wantCode(t, err, switchboard.EINVALID)
		})
		t.Run("ErrLastAdmin", func(t *testing.T) {
			// Acting as the system, demote the only admin.
			role := switchboard.RoleAgent
			_, err := s.UpdateUser(systemCtx(), admin.ID, switchboard.UserUpdate{Role: &role})
			wantCode(t, err, switchboard.ECONFLICT)
		})
		t.Run("DisableEndsSessions", func(t *testing.T) {
			disabled := switchboard.UserDisabled
			u, err := s.UpdateUser(ctx, agent.ID, switchboard.UserUpdate{Status: &disabled})
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.AuthenticateSession(t.Context(), agent.ID, u.AuthVersion)
			wantCode(t, err, switchboard.EUNAUTHORIZED)
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			name := "x"
			_, err := s.UpdateUser(ctx, "no-such-id", switchboard.UserUpdate{Name: &name})
			wantCode(t, err, switchboard.ENOTFOUND)
		})
		t.Run("ErrForbiddenForNonAdmin", func(t *testing.T) {
			name := "x"
			_, err := s.UpdateUser(asUser(agent), agent.ID, switchboard.UserUpdate{Name: &name})
			wantCode(t, err, switchboard.EFORBIDDEN)
		})
	})
}

func TestUserService_FindUserByID_OthersAreHidden(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		s := sqlstore.NewUserService(db)
		a := MustCreateUser(t, db, "a@example.com", switchboard.RoleAgent)
		b := MustCreateUser(t, db, "b@example.com", switchboard.RoleSupervisor)
		if _, err := s.FindUserByID(asUser(a), a.ID); err != nil {
			t.Errorf("own user: %v", err)
		}
		_, err := s.FindUserByID(asUser(a), b.ID)
		wantCode(t, err, switchboard.ENOTFOUND)
	})
}

func TestUserService_Authenticate(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		s := sqlstore.NewUserService(db)
		clock := newClock(db)
		u := MustCreateUser(t, db, "ada@example.com", switchboard.RoleAgent)

		t.Run("OK", func(t *testing.T) {
			got, err := s.Authenticate(t.Context(), " ADA@example.com", "correct horse battery")
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != u.ID || got.LastLoginAt == nil || !got.LastLoginAt.Equal(clock.Now()) {
				t.Errorf("got %+v", got)
			}
		})
		t.Run("ErrUnknownAndWrongLookAlike", func(t *testing.T) {
			_, errWrong := s.Authenticate(t.Context(), "ada@example.com", "wrong")
			_, errUnknown := s.Authenticate(t.Context(), "nobody@example.com", "wrong")
			wantCode(t, errWrong, switchboard.EUNAUTHORIZED)
			wantCode(t, errUnknown, switchboard.EUNAUTHORIZED)
			if switchboard.ErrorMessage(errWrong) != switchboard.ErrorMessage(errUnknown) {
				t.Errorf("messages differ: %q vs %q", switchboard.ErrorMessage(errWrong), switchboard.ErrorMessage(errUnknown))
			}
		})
		t.Run("SuccessClearsFailures", func(t *testing.T) {
			MustCreateUser(t, db, "clear@example.com", switchboard.RoleAgent)
			for range switchboard.MaxSignInFailures - 1 {
				s.Authenticate(t.Context(), "clear@example.com", "wrong")
			}
			if _, err := s.Authenticate(t.Context(), "clear@example.com", "correct horse battery"); err != nil {
				t.Fatal(err)
			}
			_, err := s.Authenticate(t.Context(), "clear@example.com", "wrong")
			wantCode(t, err, switchboard.EUNAUTHORIZED)
			if _, err := s.Authenticate(t.Context(), "clear@example.com", "correct horse battery"); err != nil {
				t.Fatalf("a single failure after success locked the account: %v", err)
			}
		})
		t.Run("LockoutAfterTenFailures", func(t *testing.T) {
			MustCreateUser(t, db, "lock@example.com", switchboard.RoleAgent)
			for range switchboard.MaxSignInFailures {
				_, err := s.Authenticate(t.Context(), "lock@example.com", "wrong")
				wantCode(t, err, switchboard.EUNAUTHORIZED)
			}
			_, err := s.Authenticate(t.Context(), "lock@example.com", "correct horse battery")
			wantCode(t, err, switchboard.ERATELIMIT)
			var e *switchboard.Error
			if ok := asError(err, &e); !ok || e.RetryAfter != switchboard.SignInLockout {
				t.Errorf("RetryAfter = %v, want %v", e.RetryAfter, switchboard.SignInLockout)
			}
			clock.Advance(switchboard.SignInLockout - time.Second)
			_, err = s.Authenticate(t.Context(), "lock@example.com", "correct horse battery")
			wantCode(t, err, switchboard.ERATELIMIT)
			clock.Advance(time.Second)
			if _, err := s.Authenticate(t.Context(), "lock@example.com", "correct horse battery"); err != nil {
				t.Fatalf("after the lockout: %v", err)
			}
		})
		t.Run("UnknownAddressLocksToo", func(t *testing.T) {
			for range switchboard.MaxSignInFailures {
				s.Authenticate(t.Context(), "ghost@example.com", "wrong")
			}
			_, err := s.Authenticate(t.Context(), "ghost@example.com", "wrong")
			wantCode(t, err, switchboard.ERATELIMIT)
		})
		t.Run("FailuresOutsideTheWindowDoNotCount", func(t *testing.T) {
			MustCreateUser(t, db, "slow@example.com", switchboard.RoleAgent)
			for range switchboard.MaxSignInFailures - 1 {
				s.Authenticate(t.Context(), "slow@example.com", "wrong")
			}
			clock.Advance(switchboard.SignInFailureWindow)
			s.Authenticate(t.Context(), "slow@example.com", "wrong")
			if _, err := s.Authenticate(t.Context(), "slow@example.com", "correct horse battery"); err != nil {
				t.Fatalf("failures from an old window locked the account: %v", err)
			}
		})
		t.Run("ConcurrentFailuresAllCount", func(t *testing.T) {
			MustCreateUser(t, db, "busy@example.com", switchboard.RoleAgent)
			var wg sync.WaitGroup
			for range switchboard.MaxSignInFailures {
				wg.Add(1)
				go func() {
					defer wg.Done()
					s.Authenticate(t.Context(), "busy@example.com", "wrong")
				}()
			}
			wg.Wait()
			_, err := s.Authenticate(t.Context(), "busy@example.com", "correct horse battery")
			wantCode(t, err, switchboard.ERATELIMIT)
		})
		t.Run("ErrDisabledLooksLikeWrongPassword", func(t *testing.T) {
			v := MustCreateUser(t, db, "gone@example.com", switchboard.RoleAgent)
			disabled := switchboard.UserDisabled
			if _, err := s.UpdateUser(systemCtx(), v.ID, switchboard.UserUpdate{Status: &disabled}); err != nil {
				t.Fatal(err)
			}
			_, errRight := s.Authenticate(t.Context(), "gone@example.com", "correct horse battery")
			_, errWrong := s.Authenticate(t.Context(), "gone@example.com", "wrong")
			if errRight == nil || errRight.Error() != errWrong.Error() || switchboard.ErrorCode(errRight) != switchboard.ErrorCode(errWrong) {
				t.Errorf("right password of a disabled account: %v; wrong password: %v", errRight, errWrong)
			}
			wantCode(t, errRight, switchboard.EUNAUTHORIZED)
			// The right password counts as a failure too, or its not
			// counting would give it away.
			for range switchboard.MaxSignInFailures - 2 {
				s.Authenticate(t.Context(), "gone@example.com", "correct horse battery")
			}
			_, err := s.Authenticate(t.Context(), "gone@example.com", "correct horse battery")
			wantCode(t, err, switchboard.ERATELIMIT)
		})
		t.Run("LockoutIsPerClientNetwork", func(t *testing.T) {
			MustCreateUser(t, db, "boss@example.com", switchboard.RoleAdmin)
			from := func(ip string) context.Context {
				return switchboard.NewContextWithRequestInfo(t.Context(), switchboard.RequestInfo{IP: ip})
			}
			attacker, owner := from("203.0.113.7"), from("198.51.100.20")
			for range switchboard.MaxSignInFailures {
				s.Authenticate(attacker, "boss@example.com", "wrong")
			}
			_, err := s.Authenticate(attacker, "boss@example.com", "correct horse battery")
			wantCode(t, err, switchboard.ERATELIMIT)
			if _, err := s.Authenticate(owner, "boss@example.com", "correct horse battery"); err != nil {
				t.Fatalf("the owner, from another address, is locked out too: %v", err)
			}
			// The owner's sign-in does not give the attacker a fresh count.
			_, err = s.Authenticate(attacker, "boss@example.com", "correct horse battery")
			wantCode(t, err, switchboard.ERATELIMIT)

			// An IPv6 network is one client, whichever of its addresses.
			v6 := func(host string) context.Context { return from("2001:db8:1:2::" + host) }
			for i := range switchboard.MaxSignInFailures {
				s.Authenticate(v6(strconv.Itoa(i+1)), "boss@example.com", "wrong")
			}
			_, err = s.Authenticate(v6("ffff"), "boss@example.com", "correct horse battery")
			wantCode(t, err, switchboard.ERATELIMIT)
			if _, err := s.Authenticate(from("2001:db8:1:3::1"), "boss@example.com", "correct horse battery"); err != nil {
				t.Errorf("the next /64: %v", err)
			}
		})
	})
}

func TestUserService_ChangePassword(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		s := sqlstore.NewUserService(db)
		u := MustCreateUser(t, db, "ada@example.com", switchboard.RoleAgent)

		_, err := s.ChangePassword(asUser(u), switchboard.PasswordChange{Current: "wrong", New: "a brand new password"})
		wantCode(t, err, switchboard.EINVALID)
		if f := switchboard.ErrorFields(err); len(f) != 1 || f[0].Field != "current_password" {
			t.Errorf("fields = %v", f)
		}
		_, err = s.ChangePassword(asUser(u), switchboard.PasswordChange{Current: "correct horse battery", New: "short"})
		wantCode(t, err, switchboard.EINVALID)

		updated, err := s.ChangePassword(asUser(u), switchboard.PasswordChange{Current: "correct horse battery", New: "a brand new password"})
		if err != nil {
			t.Fatal(err)
		}
		if updated.AuthVersion != u.AuthVersion+1 {
			t.Errorf("AuthVersion = %d, want %d", updated.AuthVersion, u.AuthVersion+1)
		}
		if _, err := s.AuthenticateSession(t.Context(), u.ID, u.AuthVersion); err == nil {
			t.Error("a session from before the change still works")
		}
		if _, err := s.AuthenticateSession(t.Context(), u.ID, updated.AuthVersion); err != nil {
			t.Errorf("session at the new version: %v", err)
		}
		if _, err := s.Authenticate(t.Context(), "ada@example.com", "a brand new password"); err != nil {
			t.Errorf("sign in with new password: %v", err)
		}
		_, err = s.Authenticate(t.Context(), "ada@example.com", "correct horse battery")
		wantCode(t, err, switchboard.EUNAUTHORIZED)
	})
}
