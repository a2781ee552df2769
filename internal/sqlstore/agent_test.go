package sqlstore_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// MustCreateTeam creates a team supervised by the given users.
func MustCreateTeam(tb testing.TB, db *sqlstore.DB, name string, supervisors ...*switchboard.User) *switchboard.Team {
	tb.Helper()
	ids := make([]string, len(supervisors))
	for i, u := range supervisors {
		ids[i] = u.ID
	}
	t, err := sqlstore.NewTeamService(db).CreateTeam(systemCtx(), switchboard.NewTeam{Name: name, SupervisorIDs: ids})
	if err != nil {
		tb.Fatalf("CreateTeam(%s): %v", name, err)
	}
	return t
}

// MustCreateMachine creates an active machine agent in the given teams.
func MustCreateMachine(tb testing.TB, db *sqlstore.DB, name string, skills map[string]int, teams ...*switchboard.Team) *switchboard.Agent {
	tb.Helper()
	ids := make([]string, len(teams))
	for i, t := range teams {
		ids[i] = t.ID
	}
	a, _, err := sqlstore.NewAgentService(db).CreateAgent(systemCtx(), switchboard.NewAgent{
		Name: name, Kind: switchboard.MachineAgent, Skills: skills, TeamIDs: ids,
	})
	if err != nil {
		tb.Fatalf("CreateAgent(%s): %v", name, err)
	}
	return a
}

func TestAgentService_CreateAgent(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		s := sqlstore.NewAgentService(db)
		support := MustCreateTeam(t, db, "Support")

		t.Run("Machine", func(t *testing.T) {
			a, inv, err := s.CreateAgent(systemCtx(), switchboard.NewAgent{
				Name: " Router 1 ", Kind: "machine", Phone: "+44 20 7946 0958", Skills: map[string]int{"Billing": 7, "spanish": 5},
				Capacity: 4, TeamIDs: []string{support.ID}, Attributes: map[string]any{"region": "emea"},
			})
			if err != nil {
				t.Fatal(err)
			}
			if inv != nil {
				t.Error("a machine agent got an invitation")
			}
			if a.Name != "Router 1" || a.Phone != "+442079460958" || a.Skills["billing"] != 7 || a.Capacity != 4 ||
				a.Status != switchboard.AgentActive || a.Presence != switchboard.PresenceOffline ||
				len(a.Teams) != 1 || a.Teams[0].Name != "Support" || a.Attributes["region"] != "emea" || a.Version != 1 {
				t.Errorf("got %+v", a)
			}
			got, err := s.FindAgentByID(systemCtx(), a.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Skills["spanish"] != 5 || len(got.Teams) != 1 || !got.CreatedAt.Equal(a.CreatedAt) {
				t.Errorf("FindAgentByID = %+v", got)
			}
		})
		t.Run("HumanInvitesNewUser", func(t *testing.T) {
			a, inv, err := s.CreateAgent(systemCtx(), switchboard.NewAgent{Name: "Ada", Kind: "human", Email: "Ada@Example.com"})
			if err != nil {
				t.Fatal(err)
			}
			if inv == nil || inv.Secret == "" || inv.Email != "ada@example.com" {
				t.Fatalf("invitation %+v", inv)
			}
			if a.Status != switchboard.AgentPending || a.UserID == "" || a.UserID != inv.UserID {
				t.Errorf("agent %+v", a)
			}
			u, err := sqlstore.NewUserService(db).FindUserByID(systemCtx(), a.UserID)
			if err != nil {
				t.Fatal(err)
			}
			if u.Role != switchboard.RoleAgent || u.PasswordSet {
				t.Errorf("invited user %+v", u)
			}
		})
		t.Run("HumanLinksExistingUser", func(t *testing.T) {
			sup := MustCreateUser(t, db, "grace@example.com", switchboard.RoleSupervisor)
			a, inv, err := s.CreateAgent(systemCtx(), switchboard.NewAgent{Name: "Grace", Kind: "human", Email: "grace@example.com"})
			if err != nil {
				t.Fatal(err)
			}
			if inv != nil || a.UserID != sup.ID || a.Status != switchboard.AgentActive {
				t.Errorf("agent %+v invitation %+v", a, inv)
			}
			byUser, err := s.FindAgentByUserID(systemCtx(), sup.ID)
			if err != nil || byUser.ID != a.ID {
				t.Errorf("FindAgentByUserID = %v, %v", byUser, err)
			}
			nobody := MustCreateUser(t, db, "nobody@example.com", switchboard.RoleSupervisor)
			byUsers, err := s.FindAgentsByUserIDs(systemCtx(), []string{sup.ID, nobody.ID})
			if err != nil || len(byUsers) != 1 || byUsers[0].ID != a.ID || byUsers[0].UserID != sup.ID {
				t.Errorf("FindAgentsByUserIDs = %v, %v", byUsers, err)
			}
			_, _, err = s.CreateAgent(systemCtx(), switchboard.NewAgent{Name: "Grace again", Kind: "human", Email: "grace@example.com"})
			wantCode(t, err, switchboard.ECONFLICT)
		})
		t.Run("ErrInvalidNamesFields", func(t *testing.T) {
			_, _, err := s.CreateAgent(systemCtx(), switchboard.NewAgent{
				Name: "", Kind: "robot", Phone: "0207 946 0958", Skills: map[string]int{"billing": 11, "Bad Skill": 3}, Capacity: -1,
			})
			wantCode(t, err, switchboard.EINVALID)
			fields := map[string]bool{}
			for _, f := range switchboard.ErrorFields(err) {
				fields[f.Field] = true
			}
			for _, want := range []string{"name", "kind", "phone", "skills.billing", "skills.bad skill", "capacity"} {
				if !fields[want] {
					t.Errorf("no error for %s in %v", want, switchboard.ErrorFields(err))
				}
			}
		})
		t.Run("ErrHumanWithoutEmail", func(t *testing.T) {
			_, _, err := s.CreateAgent(systemCtx(), switchboard.NewAgent{Name: "Nobody", Kind: "human"})
			wantCode(t, err, switchboard.EINVALID)
		})
		t.Run("ErrUnknownTeam", func(t *testing.T) {
			_, _, err := s.CreateAgent(systemCtx(), switchboard.NewAgent{Name: "X", Kind: "machine", TeamIDs: []string{"nope"}})
			wantCode(t, err, switchboard.EINVALID)
		})
		t.Run("ErrAttributesTooLarge", func(t *testing.T) {
			_, _, err := s.CreateAgent(systemCtx(), switchboard.NewAgent{Name: "X", Kind: "machine",
				Attributes: map[string]any{"blob": strings.Repeat("x", switchboard.MaxAttributesBytes)}})
			wantCode(t, err, switchboard.EINVALID)
		})
	})
}

func TestAgentService_Lifecycle(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		s := sqlstore.NewAgentService(db)
		a, _, err := s.CreateAgent(systemCtx(), switchboard.NewAgent{Name: "Bot", Kind: "machine", Status: switchboard.AgentPending})
		if err != nil {
			t.Fatal(err)
		}
		steps := []struct {
			to   switchboard.AgentStatus
			code string
		}{
			{switchboard.AgentSuspended, switchboard.ECONFLICT}, // pending cannot be suspended
			{switchboard.AgentActive, ""},
			{switchboard.AgentPending, switchboard.ECONFLICT},
			{switchboard.AgentSuspended, ""},
			{switchboard.AgentActive, ""},
			{switchboard.AgentRetired, ""},
			{switchboard.AgentActive, switchboard.ECONFLICT}, // retired is final
		}
		for _, step := range steps {
			got, err := s.SetAgentStatus(systemCtx(), a.ID, step.to, 0)
			wantCode(t, err, step.code)
			if err == nil && got.Status != step.to {
				t.Errorf("status = %s, want %s", got.Status, step.to)
			}
		}
		_, err = s.SetAgentStatus(systemCtx(), a.ID, switchboard.AgentActive, 0)
		var e *switchboard.Error
		if !asError(err, &e) || e.State == nil || e.State.Current != "retired" || e.State.Requested != "active" {
			t.Errorf("conflict %+v does not name the states", e)
		}
		name := "Renamed"
		_, err = s.UpdateAgent(systemCtx(), a.ID, switchboard.AgentUpdate{Name: &name})
		wantCode(t, err, switchboard.ECONFLICT)
		wantCode(t, s.DeleteAgent(systemCtx(), a.ID), switchboard.ECONFLICT)

		// Pending agents can be deleted, with the user invited for them.
		h, inv, err := s.CreateAgent(systemCtx(), switchboard.NewAgent{Name: "Pat", Kind: "human", Email: "pat@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteAgent(systemCtx(), h.ID); err != nil {
			t.Fatal(err)
		}
		_, err = s.FindAgentByID(systemCtx(), h.ID)
		wantCode(t, err, switchboard.ENOTFOUND)
		_, err = sqlstore.NewUserService(db).FindUserByID(systemCtx(), inv.UserID)
		wantCode(t, err, switchboard.ENOTFOUND)
	})
}

func TestAgentService_UpdateAgent(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		s := sqlstore.NewAgentService(db)
		red, blue := MustCreateTeam(t, db, "Red"), MustCreateTeam(t, db, "Blue")
		a := MustCreateMachine(t, db, "Bot", map[string]int{"billing": 3}, red)

		skills := map[string]int{"billing": 9, "French": 4}
		teams := []string{blue.ID}
		capacity := 3
		phone := ""
		got, err := s.UpdateAgent(systemCtx(), a.ID, switchboard.AgentUpdate{Skills: &skills, TeamIDs: &teams, Capacity: &capacity, Phone: &phone, IfVersion: a.Version})
		if err != nil {
			t.Fatal(err)
		}
		if got.Skills["billing"] != 9 || got.Skills["french"] != 4 || len(got.Skills) != 2 || len(got.Teams) != 1 || got.Teams[0].ID != blue.ID ||
			got.Capacity != 3 || got.Version != a.Version+1 {
			t.Errorf("got %+v", got)
		}
		name := "Stale"
		_, err = s.UpdateAgent(systemCtx(), a.ID, switchboard.AgentUpdate{Name: &name, IfVersion: a.Version})
		wantCode(t, err, switchboard.EPRECONDITION)
		bad := "12345"
		_, err = s.UpdateAgent(systemCtx(), a.ID, switchboard.AgentUpdate{Phone: &bad})
		wantCode(t, err, switchboard.EINVALID)
		if f := switchboard.ErrorFields(err); len(f) != 1 || f[0].Field != "phone" {
			t.Errorf("fields %v", f)
		}
		_, err = s.UpdateAgent(systemCtx(), "missing", switchboard.AgentUpdate{Name: &name})
		wantCode(t, err, switchboard.ENOTFOUND)
	})
}

// TestAgentService_SupervisorScope: a supervisor sees and manages only the
// agents of the teams they supervise; the rest do not exist for them.
func TestAgentService_SupervisorScope(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		s := sqlstore.NewAgentService(db)
		alice := MustCreateUser(t, db, "alice@example.com", switchboard.RoleSupervisor)
		bob := MustCreateUser(t, db, "bob@example.com", switchboard.RoleSupervisor)
		teamA, teamB := MustCreateTeam(t, db, "A", alice), MustCreateTeam(t, db, "B", bob)
		inA := MustCreateMachine(t, db, "In A", nil, teamA)
		inB := MustCreateMachine(t, db, "In B", nil, teamB)
		ctx := asUser(alice)

		if _, err := s.FindAgentByID(ctx, inA.ID); err != nil {
			t.Errorf("own team's agent: %v", err)
		}
		_, err := s.FindAgentByID(ctx, inB.ID)
		wantCode(t, err, switchboard.ENOTFOUND)
		name := "Hijacked"
		_, err = s.UpdateAgent(ctx, inB.ID, switchboard.AgentUpdate{Name: &name})
		wantCode(t, err, switchboard.ENOTFOUND)
		_, err = s.SetAgentStatus(ctx, inB.ID, switchboard.AgentSuspended, 0)
		wantCode(t, err, switchboard.ENOTFOUND)

		p, err := s.FindAgents(ctx, switchboard.AgentFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Items) != 1 || p.Items[0].ID != inA.ID {
			t.Errorf("supervisor lists %d agents", len(p.Items))
		}

		// Creating: only into their own teams.
		_, _, err = s.CreateAgent(ctx, switchboard.NewAgent{Name: "New", Kind: "machine"})
		wantCode(t, err, switchboard.EINVALID)
		_, _, err = s.CreateAgent(ctx, switchboard.NewAgent{Name: "New", Kind: "machine", TeamIDs: []string{teamB.ID}})
		wantCode(t, err, switchboard.EFORBIDDEN)
		if _, _, err := s.CreateAgent(ctx, switchboard.NewAgent{Name: "New", Kind: "machine", TeamIDs: []string{teamA.ID}}); err != nil {
			t.Errorf("create in own team: %v", err)
		}
		// Moving an agent into a team they do not supervise is refused.
		teams := []string{teamA.ID, teamB.ID}
		_, err = s.UpdateAgent(ctx, inA.ID, switchboard.AgentUpdate{TeamIDs: &teams})
		wantCode(t, err, switchboard.EFORBIDDEN)

		// An agent-role user cannot list agents, and sees only their own.
		human, inv, err := s.CreateAgent(systemCtx(), switchboard.NewAgent{Name: "Hu", Kind: "human", Email: "hu@example.com", TeamIDs: []string{teamA.ID}})
		if err != nil {
			t.Fatal(err)
		}
		agentUser, err := sqlstore.NewUserService(db).AcceptInvitation(t.Context(), inv.Secret, "a long new password")
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.FindAgents(asUser(agentUser), switchboard.AgentFilter{})
		wantCode(t, err, switchboard.EFORBIDDEN)
		if _, err := s.FindAgentByID(asUser(agentUser), human.ID); err != nil {
			t.Errorf("own agent: %v", err)
		}
		_, err = s.FindAgentByID(asUser(agentUser), inA.ID)
		wantCode(t, err, switchboard.ENOTFOUND)
		_, err = s.UpdateAgent(asUser(agentUser), human.ID, switchboard.AgentUpdate{Name: &name})
		wantCode(t, err, switchboard.EFORBIDDEN)
	})
}

func TestAgentService_FindAgents(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		s := sqlstore.NewAgentService(db)
		clock := newClock(db)
		red := MustCreateTeam(t, db, "Red")
		for i := range 30 {
			skills := map[string]int{"billing": i%10 + 1}
			var teams []*switchboard.Team
			if i%3 == 0 {
				teams = append(teams, red)
			}
			MustCreateMachine(t, db, fmt.Sprintf("bot-%02d", i), skills, teams...)
			clock.Advance(time.Second)
		}
		if _, _, err := s.CreateAgent(systemCtx(), switchboard.NewAgent{Name: "Zed Person", Kind: "human", Email: "zed@example.com"}); err != nil {
			t.Fatal(err)
		}

		for _, tc := range []struct {
			name   string
			filter switchboard.AgentFilter
			want   int
		}{
			{"All", switchboard.AgentFilter{Limit: 200}, 31},
			{"Query", switchboard.AgentFilter{Query: "BOT-1"}, 10},
			{"QueryEmail", switchboard.AgentFilter{Query: "zed@"}, 1},
			{"Status", switchboard.AgentFilter{Status: switchboard.AgentPending}, 1},
			{"Presence", switchboard.AgentFilter{Presence: switchboard.PresenceOffline, Limit: 200}, 31},
			{"Kind", switchboard.AgentFilter{Kind: switchboard.HumanAgent}, 1},
			{"Team", switchboard.AgentFilter{TeamID: red.ID}, 10},
			{"Skill", switchboard.AgentFilter{Skill: "Billing", Limit: 200}, 30},
			{"SkillMinLevel", switchboard.AgentFilter{Skill: "billing", MinLevel: 8}, 9},
			{"Combined", switchboard.AgentFilter{Skill: "billing", MinLevel: 8, TeamID: red.ID}, 3},
		} {
			p, err := s.FindAgents(systemCtx(), tc.filter)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if len(p.Items) != tc.want {
				t.Errorf("%s: %d agents, want %d", tc.name, len(p.Items), tc.want)
			}
		}
		for _, sort := range switchboard.AgentSorts {
			seen := map[string]bool{}
			cursor, pages, want, last := "", 0, 31, 0
			f := switchboard.AgentFilter{Sort: sort, Limit: 8}
			if strings.HasSuffix(sort, "skill_level") {
				f.Skill, want = "billing", 30
			}
			for {
				f.Cursor = cursor
				p, err := s.FindAgents(systemCtx(), f)
				if err != nil {
					t.Fatal(err)
				}
				pages++
				for _, a := range p.Items {
					if seen[a.ID] {
						t.Fatalf("sort %s: %s seen twice", sort, a.Name)
					}
					seen[a.ID] = true
					if f.Skill != "" {
						level := a.Skills["billing"]
						inOrder := level >= last
						if sort == "-skill_level" {
							inOrder = level <= last
						}
						if len(seen) > 1 && !inOrder {
							t.Errorf("sort %s: level %d after %d", sort, level, last)
						}
						last = level
					}
					if len(a.Skills) == 0 && a.Kind == switchboard.MachineAgent {
						t.Errorf("%s loaded without skills", a.Name)
					}
				}
				if cursor = p.NextCursor; cursor == "" {
					break
				}
			}
			if len(seen) != want || pages != 4 {
				t.Errorf("sort %s: %d agents in %d pages", sort, len(seen), pages)
			}
		}
		counts, err := s.CountAgents(systemCtx())
		if err != nil {
			t.Fatal(err)
		}
		if counts.Total != 31 || counts.ByStatus[switchboard.AgentActive] != 30 || counts.ByStatus[switchboard.AgentPending] != 1 ||
			counts.ByPresence[switchboard.PresenceOffline] != 30 {
			t.Errorf("counts %+v", counts)
		}
		p, _ := s.FindAgents(systemCtx(), switchboard.AgentFilter{Sort: "-name", Limit: 1})
		if p.Items[0].Name != "Zed Person" {
			t.Errorf("-name starts with %s", p.Items[0].Name)
		}
		for _, f := range []switchboard.AgentFilter{{Status: "gone"}, {Presence: "asleep"}, {Kind: "robot"}, {MinLevel: 3}, {Sort: "skill"}} {
			_, err := s.FindAgents(systemCtx(), f)
			wantCode(t, err, switchboard.EINVALID)
		}
	})
}

func TestAgentService_Tokens(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		s := sqlstore.NewAgentService(db)
		tokens := sqlstore.NewTokenService(db)
		a := MustCreateMachine(t, db, "Bot", nil)
		tok, secret, err := s.CreateAgentToken(systemCtx(), a.ID, switchboard.NewToken{Name: "deploy"})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(secret, switchboard.AgentTokenPrefix) || tok.Kind != switchboard.AgentToken || tok.AgentID != a.ID {
			t.Errorf("token %+v secret %q", tok, secret)
		}
		actor, err := tokens.Authenticate(t.Context(), secret)
		if err != nil || actor.Agent == nil || actor.Agent.ID != a.ID || actor.User != nil {
			t.Fatalf("Authenticate = %+v, %v", actor, err)
		}
		p, err := s.FindAgentTokens(systemCtx(), a.ID, switchboard.TokenFilter{})
		if err != nil || len(p.Items) != 1 {
			t.Fatalf("FindAgentTokens = %v, %v", p, err)
		}

		// Suspended agents keep working tokens; retired ones do not.
		if _, err := s.SetAgentStatus(systemCtx(), a.ID, switchboard.AgentSuspended, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := tokens.Authenticate(t.Context(), secret); err != nil {
			t.Errorf("suspended agent's token: %v", err)
		}
		second, secret2, err := s.CreateAgentToken(systemCtx(), a.ID, switchboard.NewToken{Name: "second"})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeAgentToken(systemCtx(), a.ID, second.ID); err != nil {
			t.Fatal(err)
		}
		_, err = tokens.Authenticate(t.Context(), secret2)
		wantCode(t, err, switchboard.EUNAUTHORIZED)
		if _, err := s.SetAgentStatus(systemCtx(), a.ID, switchboard.AgentRetired, 0); err != nil {
			t.Fatal(err)
		}
		_, err = tokens.Authenticate(t.Context(), secret)
		wantCode(t, err, switchboard.EUNAUTHORIZED)
		_, _, err = s.CreateAgentToken(systemCtx(), a.ID, switchboard.NewToken{Name: "late"})
		wantCode(t, err, switchboard.ECONFLICT)

		human, _, _ := s.CreateAgent(systemCtx(), switchboard.NewAgent{Name: "H", Kind: "human", Email: "h@example.com"})
		_, _, err = s.CreateAgentToken(systemCtx(), human.ID, switchboard.NewToken{Name: "x"})
		wantCode(t, err, switchboard.ECONFLICT)
		sup := MustCreateUser(t, db, "sup@example.com", switchboard.RoleSupervisor)
		_, _, err = s.CreateAgentToken(asUser(sup), a.ID, switchboard.NewToken{Name: "x"})
		wantCode(t, err, switchboard.EFORBIDDEN)
	})
}

func TestInvitation(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		users := sqlstore.NewUserService(db)
		clock := newClock(db)
		a, inv, err := sqlstore.NewAgentService(db).CreateAgent(systemCtx(), switchboard.NewAgent{Name: "Ada", Kind: "human", Email: "ada@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		// An invited user cannot sign in before choosing a password.
		_, err = users.Authenticate(t.Context(), "ada@example.com", "")
		wantCode(t, err, switchboard.EUNAUTHORIZED)

		found, err := users.FindInvitation(t.Context(), inv.Secret)
		if err != nil || found.Email != "ada@example.com" || found.Secret != "" {
			t.Fatalf("FindInvitation = %+v, %v", found, err)
		}
		// A new link voids the old one.
		again, err := users.InviteUser(systemCtx(), a.UserID)
		if err != nil {
			t.Fatal(err)
		}
		_, err = users.FindInvitation(t.Context(), inv.Secret)
		wantCode(t, err, switchboard.ENOTFOUND)

		_, err = users.AcceptInvitation(t.Context(), again.Secret, "short")
		wantCode(t, err, switchboard.EINVALID)
		u, err := users.AcceptInvitation(t.Context(), again.Secret, "a long new password")
		if err != nil {
			t.Fatal(err)
		}
		if !u.PasswordSet {
			t.Error("password not set")
		}
		// Single use.
		_, err = users.AcceptInvitation(t.Context(), again.Secret, "another long password")
		wantCode(t, err, switchboard.ENOTFOUND)
		if _, err := users.Authenticate(t.Context(), "ada@example.com", "a long new password"); err != nil {
			t.Errorf("sign in after accepting: %v", err)
		}
		got, _ := sqlstore.NewAgentService(db).FindAgentByID(systemCtx(), a.ID)
		if got.Status != switchboard.AgentActive {
			t.Errorf("agent status %s after acceptance, want active", got.Status)
		}
		_, err = users.InviteUser(systemCtx(), a.UserID)
		wantCode(t, err, switchboard.ECONFLICT)

		// Links expire.
		_, inv2, err := sqlstore.NewAgentService(db).CreateAgent(systemCtx(), switchboard.NewAgent{Name: "Late", Kind: "human", Email: "late@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(switchboard.InvitationTTL)
		_, err = users.AcceptInvitation(t.Context(), inv2.Secret, "a long new password")
		wantCode(t, err, switchboard.ENOTFOUND)
	})
}

func TestTeamService(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		s := sqlstore.NewTeamService(db)
		alice := MustCreateUser(t, db, "alice@example.com", switchboard.RoleSupervisor)
		agentUser := MustCreateUser(t, db, "agent@example.com", switchboard.RoleAgent)

		team, err := s.CreateTeam(systemCtx(), switchboard.NewTeam{Name: " Billing ", Description: "Invoices", SupervisorIDs: []string{alice.ID}})
		if err != nil {
			t.Fatal(err)
		}
		if team.Name != "Billing" || len(team.Supervisors) != 1 || team.Supervisors[0].Email != "alice@example.com" {
			t.Errorf("team %+v", team)
		}
		_, err = s.CreateTeam(systemCtx(), switchboard.NewTeam{Name: "Billing"})
		wantCode(t, err, switchboard.ECONFLICT)
		_, err = s.CreateTeam(systemCtx(), switchboard.NewTeam{Name: "Agents lead", SupervisorIDs: []string{agentUser.ID}})
		wantCode(t, err, switchboard.EINVALID)
		_, err = s.CreateTeam(asUser(alice), switchboard.NewTeam{Name: "Mine"})
		wantCode(t, err, switchboard.EFORBIDDEN)
		other, err := s.CreateTeam(systemCtx(), switchboard.NewTeam{Name: "Other"})
		if err != nil {
			t.Fatal(err)
		}

		a1, a2 := MustCreateMachine(t, db, "One", nil), MustCreateMachine(t, db, "Two", nil)
		name := "Billing EMEA"
		got, err := s.UpdateTeam(systemCtx(), team.ID, switchboard.TeamUpdate{Name: &name, AddMembers: []string{a1.ID, a2.ID}, IfVersion: team.Version})
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != name || got.MemberCount != 2 || got.Version != team.Version+1 {
			t.Errorf("updated %+v", got)
		}
		got, err = s.UpdateTeam(systemCtx(), team.ID, switchboard.TeamUpdate{RemoveMembers: []string{a1.ID}, AddMembers: []string{a2.ID}})
		if err != nil || got.MemberCount != 1 {
			t.Errorf("after removal: %+v, %v", got, err)
		}
		_, err = s.UpdateTeam(systemCtx(), team.ID, switchboard.TeamUpdate{Name: &name, IfVersion: team.Version})
		wantCode(t, err, switchboard.EPRECONDITION)
		_, err = s.UpdateTeam(systemCtx(), team.ID, switchboard.TeamUpdate{AddMembers: []string{"ghost"}})
		wantCode(t, err, switchboard.EINVALID)
		taken := "Other"
		_, err = s.UpdateTeam(systemCtx(), team.ID, switchboard.TeamUpdate{Name: &taken})
		wantCode(t, err, switchboard.ECONFLICT)

		// Supervisors see their own teams only, and cannot change them.
		p, err := s.FindTeams(asUser(alice), switchboard.TeamFilter{})
		if err != nil || len(p.Items) != 1 || p.Items[0].ID != team.ID {
			t.Errorf("supervisor's teams: %v, %v", p, err)
		}
		_, err = s.FindTeamByID(asUser(alice), other.ID)
		wantCode(t, err, switchboard.ENOTFOUND)
		_, err = s.UpdateTeam(asUser(alice), team.ID, switchboard.TeamUpdate{Name: &name})
		wantCode(t, err, switchboard.EFORBIDDEN)
		_, err = s.FindTeams(asUser(agentUser), switchboard.TeamFilter{})
		wantCode(t, err, switchboard.EFORBIDDEN)

		// A supervisor demoted to agent supervises nothing any more.
		demoted := MustCreateUser(t, db, "demoted@example.com", switchboard.RoleSupervisor)
		led := MustCreateTeam(t, db, "Led", demoted)
		role := switchboard.RoleAgent
		if _, err := sqlstore.NewUserService(db).UpdateUser(systemCtx(), demoted.ID, switchboard.UserUpdate{Role: &role}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.FindTeamByID(systemCtx(), led.ID); len(got.Supervisors) != 0 {
			t.Errorf("demoted user still supervises: %+v", got.Supervisors)
		}

		if err := s.DeleteTeam(systemCtx(), team.ID); err != nil {
			t.Fatal(err)
		}
		_, err = s.FindTeamByID(systemCtx(), team.ID)
		wantCode(t, err, switchboard.ENOTFOUND)
		a, _ := sqlstore.NewAgentService(db).FindAgentByID(systemCtx(), a2.ID)
		if len(a.Teams) != 0 {
			t.Errorf("agent still in deleted team: %v", a.Teams)
		}
	})
}

func TestEnrollment(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		s := sqlstore.NewEnrollmentService(db)
		tokens := sqlstore.NewTokenService(db)
		clock := newClock(db)
		fleet := MustCreateTeam(t, db, "Fleet")

		key, secret, err := s.CreateEnrollmentKey(systemCtx(), switchboard.NewEnrollmentKey{Name: "fleet", TeamID: fleet.ID, MaxUses: 2})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(secret, switchboard.EnrollmentKeyPrefix) || key.TeamName != "Fleet" || key.Status(clock.Now()) != "active" {
			t.Fatalf("key %+v", key)
		}
		agent, token, err := s.Enroll(t.Context(), switchboard.Enrollment{Key: secret, Name: "host-1", Skills: map[string]int{"gpu": 5},
			Metadata: map[string]any{"hostname": "host-1", "version": "1.2.3"}})
		if err != nil {
			t.Fatal(err)
		}
		if agent.Status != switchboard.AgentPending || agent.Kind != switchboard.MachineAgent || len(agent.Teams) != 1 ||
			agent.Metadata["hostname"] != "host-1" || agent.Skills["gpu"] != 5 {
			t.Errorf("enrolled %+v", agent)
		}
		actor, err := tokens.Authenticate(t.Context(), token)
		if err != nil || actor.Agent.ID != agent.ID {
			t.Fatalf("agent token: %v, %v", actor, err)
		}
		_, _, err = s.Enroll(t.Context(), switchboard.Enrollment{Key: secret, Name: ""})
		wantCode(t, err, switchboard.EINVALID)

		// Two uses: the third enrollment is refused, even when they race.
		var wg sync.WaitGroup
		errs := make([]error, 3)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, errs[i] = s.Enroll(t.Context(), switchboard.Enrollment{Key: secret, Name: fmt.Sprintf("racer-%d", i)})
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else {
				wantCode(t, err, switchboard.EUNAUTHORIZED)
			}
		}
		if ok != 1 {
			t.Errorf("%d racers enrolled with one use left", ok)
		}

		auto, autoSecret, err := s.CreateEnrollmentKey(systemCtx(), switchboard.NewEnrollmentKey{Name: "auto", AutoApprove: true})
		if err != nil {
			t.Fatal(err)
		}
		a2, _, err := s.Enroll(t.Context(), switchboard.Enrollment{Key: autoSecret, Name: "auto-1"})
		if err != nil || a2.Status != switchboard.AgentActive {
			t.Fatalf("auto-approved: %+v, %v", a2, err)
		}
		if err := s.RevokeEnrollmentKey(systemCtx(), auto.ID); err != nil {
			t.Fatal(err)
		}
		_, _, err = s.Enroll(t.Context(), switchboard.Enrollment{Key: autoSecret, Name: "too late"})
		wantCode(t, err, switchboard.EUNAUTHORIZED)

		in := clock.Now().Add(time.Hour)
		_, expSecret, err := s.CreateEnrollmentKey(systemCtx(), switchboard.NewEnrollmentKey{Name: "short", ExpiresAt: &in})
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Hour)
		_, _, err = s.Enroll(t.Context(), switchboard.Enrollment{Key: expSecret, Name: "expired"})
		wantCode(t, err, switchboard.EUNAUTHORIZED)
		_, _, err = s.Enroll(t.Context(), switchboard.Enrollment{Key: "sbe_nonsense", Name: "x"})
		wantCode(t, err, switchboard.EUNAUTHORIZED)

		// Supervisors: keys for their own teams only.
		alice := MustCreateUser(t, db, "alice@example.com", switchboard.RoleSupervisor)
		mine := MustCreateTeam(t, db, "Mine", alice)
		_, _, err = s.CreateEnrollmentKey(asUser(alice), switchboard.NewEnrollmentKey{Name: "x", TeamID: fleet.ID})
		wantCode(t, err, switchboard.EFORBIDDEN)
		_, _, err = s.CreateEnrollmentKey(asUser(alice), switchboard.NewEnrollmentKey{Name: "x"})
		wantCode(t, err, switchboard.EINVALID)
		if _, _, err := s.CreateEnrollmentKey(asUser(alice), switchboard.NewEnrollmentKey{Name: "x", TeamID: mine.ID}); err != nil {
			t.Fatal(err)
		}
		p, err := s.FindEnrollmentKeys(asUser(alice), switchboard.EnrollmentKeyFilter{})
		if err != nil || len(p.Items) != 1 {
			t.Errorf("supervisor's keys: %v, %v", p, err)
		}
		all, _ := s.FindEnrollmentKeys(systemCtx(), switchboard.EnrollmentKeyFilter{})
		if len(all.Items) != 4 || all.Items[0].Name != "x" {
			t.Errorf("admin sees %d keys", len(all.Items))
		}
		wantCode(t, s.RevokeEnrollmentKey(asUser(alice), key.ID), switchboard.ENOTFOUND)
	})
}

// TestFindAgents_SearchFoldsCase: a search matches names and addresses in
// any case, beyond ASCII too, alike on every engine.
func TestFindAgents_SearchFoldsCase(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		agents := sqlstore.NewAgentService(db)
		for _, na := range []switchboard.NewAgent{
			{Name: "Ömer Şahin", Kind: "machine"},
			{Name: "Zoë Ångström", Kind: "machine"},
			{Name: "Ada", Kind: "human", Email: "Ada.Lovelace@Example.com"},
			{Name: "100% uptime_bot", Kind: "machine"},
		} {
			if _, _, err := agents.CreateAgent(systemCtx(), na); err != nil {
				t.Fatal(err)
			}
		}
		for q, want := range map[string]string{
			"ÖMER":          "Ömer Şahin",
			"şahin":         "Ömer Şahin",
			"ÅNGSTRÖM":      "Zoë Ångström",
			"ADA.LOVELACE@": "Ada",
			"100%":          "100% uptime_bot",
			"e_b":           "100% uptime_bot",
			"p_i":           "",
			"%":             "100% uptime_bot",
		} {
			p, err := agents.FindAgents(systemCtx(), switchboard.AgentFilter{Query: q})
			if err != nil {
				t.Fatal(err)
			}
			var got string
			for _, a := range p.Items {
				got += a.Name
			}
			if got != want {
				t.Errorf("q=%q found %q, want %q", q, got, want)
			}
		}
	})
}
