package sqlstore_test

import (
	"context"
	"fmt"
	"slices"
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

// A supervisor only ever invites new people: an address that belongs to an
// account, whatever its role and whether it has an agent already, gets one
// and the same refusal, so that it neither links the account nor tells what
// kind it is. An admin can link an existing account.
func TestCreateAgent_SupervisorsInviteNewAddressesOnly(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		MustCreateUser(t, db, "boss@example.com", switchboard.RoleAdmin)
		sup := MustCreateUser(t, db, "sup@example.com", switchboard.RoleSupervisor)
		MustCreateUser(t, db, "other-sup@example.com", switchboard.RoleSupervisor)
		MustCreateUser(t, db, "plain@example.com", switchboard.RoleAgent)
		team := MustCreateTeam(t, db, "Billing", sup)
		s := sqlstore.NewAgentService(db)
		// Agent-role users with an agent elsewhere, accepted or still invited.
		if _, _, err := s.CreateAgent(systemCtx(), switchboard.NewAgent{Name: "Busy", Kind: "human", Email: "busy@example.com"}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.CreateAgent(systemCtx(), switchboard.NewAgent{Name: "Linked", Kind: "human", Email: "plain@example.com"}); err != nil {
			t.Fatal(err)
		}
		// ... and one without.
		MustCreateUser(t, db, "free@example.com", switchboard.RoleAgent)

		var first error
		for _, email := range []string{"boss@example.com", "sup@example.com", "other-sup@example.com", "plain@example.com",
			"busy@example.com", "free@example.com", "FREE@example.com"} {
			_, _, err := s.CreateAgent(asUser(sup), switchboard.NewAgent{Name: "Someone", Kind: "human", Email: email, TeamIDs: []string{team.ID}})
			wantCode(t, err, switchboard.ECONFLICT)
			if first == nil {
				first = err
			} else if err.Error() != first.Error() || !slices.Equal(switchboard.ErrorFields(err), switchboard.ErrorFields(first)) {
				t.Errorf("%s: %v %v; the first address: %v %v", email, err, switchboard.ErrorFields(err), first, switchboard.ErrorFields(first))
			}
		}
		if !strings.Contains(switchboard.ErrorMessage(first), "ask an admin") {
			t.Errorf("message %q", switchboard.ErrorMessage(first))
		}

		// A new address, even one differing only by an accent, is invited.
		a, inv, err := s.CreateAgent(asUser(sup), switchboard.NewAgent{Name: "Bóss", Kind: "human", Email: "bóss@example.com", TeamIDs: []string{team.ID}})
		if err != nil || inv == nil {
			t.Fatalf("new address: %+v, %v", a, err)
		}
		// An admin links existing accounts, of any role, without inviting.
		for _, email := range []string{"boss@example.com", "free@example.com"} {
			if a, inv, err := s.CreateAgent(systemCtx(), switchboard.NewAgent{Name: "Linked", Kind: "human", Email: email}); err != nil || inv != nil || a.UserID == "" {
				t.Errorf("admin linking %s: %+v, %v, %v", email, a, inv, err)
			}
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

// Retiring a human agent ends the access of the user created for it; an
// account an admin linked to an agent, and a supervisor's, outlive it.
func TestRetire_DisablesOnlyTheUserCreatedForTheAgent(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		s := sqlstore.NewAgentService(db)
		users := sqlstore.NewUserService(db)
		retire := func(a *switchboard.Agent) {
			t.Helper()
			if _, err := s.SetAgentStatus(systemCtx(), a.ID, switchboard.AgentRetired, 0); err != nil {
				t.Fatal(err)
			}
		}
		status := func(id string) switchboard.UserStatus {
			t.Helper()
			u, err := users.FindUserByID(systemCtx(), id)
			if err != nil {
				t.Fatal(err)
			}
			return u.Status
		}

		// Invited with the agent: the person's access ends with the work.
		a, inv, _ := s.CreateAgent(systemCtx(), switchboard.NewAgent{Name: "Pat", Kind: "human", Email: "pat@example.com"})
		if _, err := users.AcceptInvitation(t.Context(), inv.Secret, "a long new password"); err != nil {
			t.Fatal(err)
		}
		retire(a)
		_, err := users.Authenticate(t.Context(), "pat@example.com", "a long new password")
		wantCode(t, err, switchboard.EUNAUTHORIZED)
		if st := status(a.UserID); st != switchboard.UserDisabled {
			t.Errorf("invited user is %s after the agent retired", st)
		}

		// Created by an import: the same.
		res, err := s.ImportAgents(systemCtx(), []switchboard.ImportRow{{Line: 2, Agent: switchboard.NewAgent{Name: "Imp", Kind: "human", Email: "imp@example.com", Status: switchboard.AgentActive}}})
		if err != nil {
			t.Fatal(err)
		}
		imported, _ := s.FindAgentByUserID(systemCtx(), res.Invitations[0].UserID)
		retire(imported)
		if st := status(imported.UserID); st != switchboard.UserDisabled {
			t.Errorf("imported user is %s after the agent retired", st)
		}

		// Existing accounts an admin linked, of the agent role or not, stay.
		for _, role := range []switchboard.Role{switchboard.RoleAgent, switchboard.RoleSupervisor} {
			u := MustCreateUser(t, db, string(role)+"@example.com", role)
			linked, _, err := s.CreateAgent(systemCtx(), switchboard.NewAgent{Name: "Linked", Kind: "human", Email: u.Email})
			if err != nil {
				t.Fatal(err)
			}
			retire(linked)
			if st := status(u.ID); st != switchboard.UserActive {
				t.Errorf("linked %s account is %s after the agent retired", role, st)
			}
		}
		// ... and so does one imported by e-mail address.
		u := MustCreateUser(t, db, "known@example.com", switchboard.RoleAgent)
		if _, err := s.ImportAgents(systemCtx(), []switchboard.ImportRow{{Line: 2, Agent: switchboard.NewAgent{Name: "Known", Kind: "human", Email: u.Email}}}); err != nil {
			t.Fatal(err)
		}
		known, _ := s.FindAgentByUserID(systemCtx(), u.ID)
		retire(known)
		if st := status(u.ID); st != switchboard.UserActive {
			t.Errorf("account linked by import is %s after the agent retired", st)
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
		// The revocation is recorded, as every change is.
		p, err := sqlstore.NewAuditService(db).FindAuditEntries(systemCtx(), switchboard.AuditFilter{Action: switchboard.AuditKeyRevoked})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Items) != 1 || p.Items[0].After["reason"] != "its team was deleted" {
			t.Errorf("audit of the key's revocation: %+v", p.Items)
		}
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

// wantRevokedInAudit checks that the audit log tells that target was
// revoked, and why.
func wantRevokedInAudit(t *testing.T, db *sqlstore.DB, action, targetID, reason string) {
	t.Helper()
	p, err := sqlstore.NewAuditService(db).FindAuditEntries(systemCtx(), switchboard.AuditFilter{Action: action, TargetID: targetID})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Items) != 1 || p.Items[0].After["reason"] != reason {
		t.Errorf("audit of %s %s: %+v, want one entry with reason %q", action, targetID, p.Items, reason)
	}
}

// A disabled user's personal tokens are revoked, and stay so when the user
// is enabled again; retiring the agent a user was made for does the same.
func TestDisablingRevokesPersonalTokens(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		users := sqlstore.NewUserService(db)
		tokens := sqlstore.NewTokenService(db)
		u := MustCreateUser(t, db, "ada@example.com", switchboard.RoleSupervisor)
		tok, secret, err := tokens.CreateToken(systemCtx(), switchboard.NewToken{UserID: u.ID, Name: "laptop"})
		if err != nil {
			t.Fatal(err)
		}
		setStatus := func(id string, st switchboard.UserStatus) {
			t.Helper()
			if _, err := users.UpdateUser(systemCtx(), id, switchboard.UserUpdate{Status: &st}); err != nil {
				t.Fatal(err)
			}
		}
		setStatus(u.ID, switchboard.UserDisabled)
		setStatus(u.ID, switchboard.UserActive)
		_, err = tokens.Authenticate(t.Context(), secret)
		wantCode(t, err, switchboard.EUNAUTHORIZED)
		wantRevokedInAudit(t, db, switchboard.AuditTokenRevoked, tok.ID, "user disabled")
		// A new token works: the user is back, with what they are given anew.
		_, fresh, err := tokens.CreateToken(systemCtx(), switchboard.NewToken{UserID: u.ID, Name: "new laptop"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tokens.Authenticate(t.Context(), fresh); err != nil {
			t.Errorf("a token made after re-enabling: %v", err)
		}

		agents := sqlstore.NewAgentService(db)
		a, inv, err := agents.CreateAgent(systemCtx(), switchboard.NewAgent{Name: "Pat", Kind: "human", Email: "pat@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		pat, err := users.AcceptInvitation(t.Context(), inv.Secret, "a long new password")
		if err != nil {
			t.Fatal(err)
		}
		patTok, patSecret, err := tokens.CreateToken(systemCtx(), switchboard.NewToken{UserID: pat.ID, Name: "script"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := agents.SetAgentStatus(systemCtx(), a.ID, switchboard.AgentRetired, 0); err != nil {
			t.Fatal(err)
		}
		setStatus(pat.ID, switchboard.UserActive)
		_, err = tokens.Authenticate(t.Context(), patSecret)
		wantCode(t, err, switchboard.EUNAUTHORIZED)
		wantRevokedInAudit(t, db, switchboard.AuditTokenRevoked, patTok.ID, "user disabled")
	})
}

// An enrollment key acts with its creator's authority, and ends with it:
// when the creator is disabled or demoted, or stops supervising the key's
// team. Keys they could still create, and those of others, go on.
func TestEnrollmentKeysEndWithTheirCreatorsGrant(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		es := sqlstore.NewEnrollmentService(db)
		users := sqlstore.NewUserService(db)
		alice := MustCreateUser(t, db, "alice@example.com", switchboard.RoleSupervisor)
		bob := MustCreateUser(t, db, "bob@example.com", switchboard.RoleSupervisor)
		boss := MustCreateUser(t, db, "boss@example.com", switchboard.RoleAdmin)
		MustCreateUser(t, db, "other-admin@example.com", switchboard.RoleAdmin)
		teamA := MustCreateTeam(t, db, "A", alice, bob, boss)
		teamB := MustCreateTeam(t, db, "B", alice)
		type key struct {
			id, secret string
		}
		newKey := func(ctx context.Context, name, teamID string) key {
			t.Helper()
			k, secret, err := es.CreateEnrollmentKey(ctx, switchboard.NewEnrollmentKey{Name: name, TeamID: teamID, AutoApprove: true})
			if err != nil {
				t.Fatal(err)
			}
			return key{k.ID, secret}
		}
		n := 0
		works := func(k key, want bool) {
			t.Helper()
			n++
			_, _, err := es.Enroll(t.Context(), switchboard.Enrollment{Key: k.secret, Name: fmt.Sprintf("runner-%d", n)})
			if (err == nil) != want {
				t.Errorf("key %s: enroll = %v, want it to work: %v", k.id, err, want)
			}
		}
		aliceA, aliceB := newKey(asUser(alice), "alice A", teamA.ID), newKey(asUser(alice), "alice B", teamB.ID)
		bobA := newKey(asUser(bob), "bob A", teamA.ID)
		bossA, bossB, bossAny := newKey(asUser(boss), "boss A", teamA.ID), newKey(asUser(boss), "boss B", teamB.ID), newKey(asUser(boss), "boss", "")
		system := newKey(systemCtx(), "system", teamB.ID)

		// Alice leaves team B: her key for B ends, her key for A goes on.
		none := []string{}
		if _, err := sqlstore.NewTeamService(db).UpdateTeam(systemCtx(), teamB.ID, switchboard.TeamUpdate{SupervisorIDs: &none}); err != nil {
			t.Fatal(err)
		}
		works(aliceB, false)
		works(aliceA, true)
		wantRevokedInAudit(t, db, switchboard.AuditKeyRevoked, aliceB.id, "creator no longer supervises the team")

		// Alice is demoted to the agent role: her other key ends too.
		agentRole := switchboard.RoleAgent
		if _, err := users.UpdateUser(systemCtx(), alice.ID, switchboard.UserUpdate{Role: &agentRole}); err != nil {
			t.Fatal(err)
		}
		works(aliceA, false)
		wantRevokedInAudit(t, db, switchboard.AuditKeyRevoked, aliceA.id, "creator's role changed")

		// Bob is disabled: his key ends, and stays ended when he is back.
		disabled, active := switchboard.UserDisabled, switchboard.UserActive
		if _, err := users.UpdateUser(systemCtx(), bob.ID, switchboard.UserUpdate{Status: &disabled}); err != nil {
			t.Fatal(err)
		}
		if _, err := users.UpdateUser(systemCtx(), bob.ID, switchboard.UserUpdate{Status: &active}); err != nil {
			t.Fatal(err)
		}
		works(bobA, false)
		wantRevokedInAudit(t, db, switchboard.AuditKeyRevoked, bobA.id, "creator disabled")

		// An admin made a supervisor of team A keeps the key for A only.
		supervisor := switchboard.RoleSupervisor
		if _, err := users.UpdateUser(systemCtx(), boss.ID, switchboard.UserUpdate{Role: &supervisor}); err != nil {
			t.Fatal(err)
		}
		works(bossB, false)
		works(bossAny, false)
		works(bossA, true)
		works(system, true)
	})
}
