package sqlstore_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// A supervisor must not gain an admin's account through an agent's
// invitation: neither a fresh link asked for after the promotion nor the
// link given when the agent was created.
func TestInvitation_NoTakeoverAfterPromotion(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		users := sqlstore.NewUserService(db)
		sup := MustCreateUser(t, db, "sup@example.com", switchboard.RoleSupervisor)
		team := MustCreateTeam(t, db, "Billing", sup)
		a, inv, err := sqlstore.NewAgentService(db).CreateAgent(asUser(sup), switchboard.NewAgent{
			Name: "Lead", Kind: switchboard.HumanAgent, Email: "lead@example.com", TeamIDs: []string{team.ID}})
		if err != nil {
			t.Fatal(err)
		}
		admin := switchboard.RoleAdmin
		if _, err := users.UpdateUser(systemCtx(), a.UserID, switchboard.UserUpdate{Role: &admin}); err != nil {
			t.Fatal(err)
		}
		_, err = users.AcceptInvitation(t.Context(), inv.Secret, "the supervisor's chosen password")
		wantCode(t, err, switchboard.ENOTFOUND)
		_, err = users.InviteUser(asUser(sup), a.UserID)
		wantCode(t, err, switchboard.ENOTFOUND)
		// An admin may still invite them.
		if _, err := users.InviteUser(systemCtx(), a.UserID); err != nil {
			t.Errorf("admin's invitation: %v", err)
		}
	})
}

// A supervisor cannot make an agent of an admin's (or anyone but an agent's)
// account; an admin can.
func TestCreateAgent_LinkingOtherRoles(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		MustCreateUser(t, db, "boss@example.com", switchboard.RoleAdmin)
		sup := MustCreateUser(t, db, "sup@example.com", switchboard.RoleSupervisor)
		team := MustCreateTeam(t, db, "Billing", sup)
		s := sqlstore.NewAgentService(db)
		_, _, err := s.CreateAgent(asUser(sup), switchboard.NewAgent{Name: "Boss", Kind: "human", Email: "boss@example.com", TeamIDs: []string{team.ID}})
		wantCode(t, err, switchboard.EFORBIDDEN)
		// Addresses differing only by an accent are different people, on every engine.
		a, inv, err := s.CreateAgent(asUser(sup), switchboard.NewAgent{Name: "Bóss", Kind: "human", Email: "bóss@example.com", TeamIDs: []string{team.ID}})
		if err != nil || inv == nil {
			t.Fatalf("accented address: %+v, %v", a, err)
		}
		if _, _, err := s.CreateAgent(systemCtx(), switchboard.NewAgent{Name: "Boss", Kind: "human", Email: "boss@example.com"}); err != nil {
			t.Errorf("admin linking an admin: %v", err)
		}
	})
}

type countingHasher struct {
	switchboard.PasswordHasher
	verified atomic.Int32
}

func (h *countingHasher) Verify(hash, pw string) (bool, error) {
	h.verified.Add(1)
	time.Sleep(5 * time.Millisecond) // keep attempts in flight together
	return h.PasswordHasher.Verify(hash, pw)
}

// Parallel guesses are counted before their passwords are checked, so no
// more than the limit are ever checked; none fails for lack of a lock.
func TestAuthenticate_ParallelGuessesAreBounded(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		MustCreateUser(t, db, "victim@example.com", switchboard.RoleAdmin)
		h := &countingHasher{PasswordHasher: db.Hasher}
		db.Hasher = h
		s := sqlstore.NewUserService(db)
		var wg sync.WaitGroup
		var internal atomic.Int32
		for range 60 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.Authenticate(t.Context(), "victim@example.com", "guess")
				if code := switchboard.ErrorCode(err); code != switchboard.EUNAUTHORIZED && code != switchboard.ERATELIMIT {
					internal.Add(1)
					t.Logf("unexpected error: %v", err)
				}
			}()
		}
		wg.Wait()
		if n := h.verified.Load(); n > switchboard.MaxSignInFailures {
			t.Errorf("%d passwords checked; the lockout allows %d", n, switchboard.MaxSignInFailures)
		}
		if n := internal.Load(); n > 0 {
			t.Errorf("%d attempts failed with an internal error", n)
		}
	})
}

func TestEnroll_LongKeyName(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		es := sqlstore.NewEnrollmentService(db)
		_, secret, err := es.CreateEnrollmentKey(systemCtx(), switchboard.NewEnrollmentKey{Name: strings.Repeat("ключ", 25)})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := es.Enroll(t.Context(), switchboard.Enrollment{Key: secret, Name: "runner"}); err != nil {
			t.Errorf("Enroll = %v", err)
		}
	})
}

// Retiring the human agent of an agent-role user ends the person's access;
// a supervisor's account outlives their agent.
func TestRetire_DisablesAgentRoleUser(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		s := sqlstore.NewAgentService(db)
		users := sqlstore.NewUserService(db)
		a, inv, _ := s.CreateAgent(systemCtx(), switchboard.NewAgent{Name: "Pat", Kind: "human", Email: "pat@example.com"})
		if _, err := users.AcceptInvitation(t.Context(), inv.Secret, "a long new password"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetAgentStatus(systemCtx(), a.ID, switchboard.AgentRetired, 0); err != nil {
			t.Fatal(err)
		}
		_, err := users.Authenticate(t.Context(), "pat@example.com", "a long new password")
		wantCode(t, err, switchboard.EUNAUTHORIZED)

		sup := MustCreateUser(t, db, "sup@example.com", switchboard.RoleSupervisor)
		sa, _, _ := s.CreateAgent(systemCtx(), switchboard.NewAgent{Name: "Sup", Kind: "human", Email: "sup@example.com"})
		if _, err := s.SetAgentStatus(systemCtx(), sa.ID, switchboard.AgentRetired, 0); err != nil {
			t.Fatal(err)
		}
		if u, _ := users.FindUserByID(systemCtx(), sup.ID); u.Status != switchboard.UserActive {
			t.Errorf("supervisor disabled with their agent")
		}
	})
}

func TestDeleteTeam_RevokesItsKeys(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		team := MustCreateTeam(t, db, "Fleet")
		es := sqlstore.NewEnrollmentService(db)
		_, secret, err := es.CreateEnrollmentKey(systemCtx(), switchboard.NewEnrollmentKey{Name: "fleet", TeamID: team.ID, AutoApprove: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := sqlstore.NewTeamService(db).DeleteTeam(systemCtx(), team.ID); err != nil {
			t.Fatal(err)
		}
		_, _, err = es.Enroll(t.Context(), switchboard.Enrollment{Key: secret, Name: "orphan"})
		wantCode(t, err, switchboard.EUNAUTHORIZED)
	})
}

func TestTeamNames_UniqueRegardlessOfCase(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		MustCreateTeam(t, db, "Billing")
		_, err := sqlstore.NewTeamService(db).CreateTeam(systemCtx(), switchboard.NewTeam{Name: "BILLING"})
		wantCode(t, err, switchboard.ECONFLICT)
	})
}

func TestAudit_NamesCutByCharacters(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		name := strings.Repeat("名", 190)
		a := MustCreateMachine(t, db, name, nil)
		p, err := sqlstore.NewAuditService(db).FindAuditEntries(systemCtx(), switchboard.AuditFilter{TargetID: a.ID})
		if err != nil || len(p.Items) != 1 {
			t.Fatalf("%v %v", p, err)
		}
		if got := p.Items[0].TargetName; !strings.HasPrefix(name, got) || strings.ContainsRune(got, '\uFFFD') {
			t.Errorf("target name %q is not a prefix of the name", got)
		}
	})
}

func TestSkills_DuplicatesInDifferentCase(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		_, _, err := sqlstore.NewAgentService(db).CreateAgent(systemCtx(), switchboard.NewAgent{
			Name: "X", Kind: "machine", Skills: map[string]int{"Billing": 3, "billing": 7}})
		wantCode(t, err, switchboard.EINVALID)
	})
}

// A fleet behind one address enrolls as fast as it likes with a good key,
// which only its max_uses limits; wrong and dead keys are what the address
// is throttled for, and then it is refused until the bucket refills.
func TestEnroll_OnlyFailuresAreThrottled(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		clock := newClock(db)
		es := sqlstore.NewEnrollmentService(db)
		from := func(ip string) context.Context {
			return switchboard.NewContextWithRequestInfo(t.Context(), switchboard.RequestInfo{IP: ip})
		}
		fleet, elsewhere := from("203.0.113.7"), from("198.51.100.20")
		_, good, err := es.CreateEnrollmentKey(systemCtx(), switchboard.NewEnrollmentKey{Name: "fleet", MaxUses: 200})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 200 {
			if _, _, err := es.Enroll(fleet, switchboard.Enrollment{Key: good, Name: fmt.Sprintf("runner-%d", i)}); err != nil {
				t.Fatalf("enrollment %d with a good key: %v", i+1, err)
			}
		}
		// Used up: a dead key is a failure like a wrong one.
		_, _, err = es.Enroll(fleet, switchboard.Enrollment{Key: good, Name: "runner-201"})
		wantCode(t, err, switchboard.EUNAUTHORIZED)
		for i := range switchboard.EnrollFailureBurst - 1 {
			_, _, err := es.Enroll(fleet, switchboard.Enrollment{Key: "sbe_wrong" + strconv.Itoa(i), Name: "guess"})
			wantCode(t, err, switchboard.EUNAUTHORIZED)
		}
		_, _, err = es.Enroll(fleet, switchboard.Enrollment{Key: "sbe_wrong", Name: "guess"})
		wantCode(t, err, switchboard.ERATELIMIT)
		var e *switchboard.Error
		if !asError(err, &e) || e.RetryAfter <= 0 || e.RetryAfter > switchboard.EnrollFailureInterval {
			t.Errorf("RetryAfter = %v, want up to %v", e.RetryAfter, switchboard.EnrollFailureInterval)
		}
		// While throttled, the address is refused whatever its key; other
		// addresses are not.
		_, another, err := es.CreateEnrollmentKey(systemCtx(), switchboard.NewEnrollmentKey{Name: "another"})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = es.Enroll(fleet, switchboard.Enrollment{Key: another, Name: "runner-x"})
		wantCode(t, err, switchboard.ERATELIMIT)
		if _, _, err := es.Enroll(elsewhere, switchboard.Enrollment{Key: another, Name: "runner-y"}); err != nil {
			t.Errorf("another address: %v", err)
		}
		clock.Advance(switchboard.EnrollFailureInterval)
		if _, _, err := es.Enroll(fleet, switchboard.Enrollment{Key: another, Name: "runner-x"}); err != nil {
			t.Errorf("after the bucket refilled: %v", err)
		}
	})
}
