package sqlstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// TestAudit: every change is recorded with its actor, target and request,
// and secrets never are.
func TestAudit(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		clock := newClock(db)
		audit := sqlstore.NewAuditService(db)
		users := sqlstore.NewUserService(db)
		admin := MustCreateUser(t, db, "admin@example.com", switchboard.RoleAdmin)
		ctx := switchboard.NewContextWithRequestInfo(asUser(admin), switchboard.RequestInfo{ID: "req-1", IP: "203.0.113.9"})

		team, err := sqlstore.NewTeamService(db).CreateTeam(ctx, switchboard.NewTeam{Name: "Ops"})
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Second)
		agent, _, err := sqlstore.NewAgentService(db).CreateAgent(ctx, switchboard.NewAgent{Name: "Bot", Kind: "machine", TeamIDs: []string{team.ID}})
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Second)
		capacity := 5
		if _, err := sqlstore.NewAgentService(db).UpdateAgent(ctx, agent.ID, switchboard.AgentUpdate{Capacity: &capacity}); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Second)
		if _, err := sqlstore.NewAgentService(db).SetAgentStatus(ctx, agent.ID, switchboard.AgentSuspended, 0); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Second)
		_, secret, err := sqlstore.NewTokenService(db).CreateToken(ctx, switchboard.NewToken{UserID: admin.ID, Name: "cli"})
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Second)
		_, keySecret, err := sqlstore.NewEnrollmentService(db).CreateEnrollmentKey(ctx, switchboard.NewEnrollmentKey{Name: "fleet"})
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Second)
		anon := switchboard.NewContextWithRequestInfo(context.Background(), switchboard.RequestInfo{ID: "req-2", IP: "198.51.100.7"})
		users.Authenticate(anon, "admin@example.com", "wrong")
		clock.Advance(time.Second)
		if _, err := users.Authenticate(anon, "admin@example.com", "correct horse battery"); err != nil {
			t.Fatal(err)
		}

		p, err := audit.FindAuditEntries(systemCtx(), switchboard.AuditFilter{Limit: 200})
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range p.Items {
			actions = append(actions, e.Action)
		}
		want := []string{"auth.signed_in", "auth.sign_in_failed", "enrollment_key.created", "token.created",
			"agent.status_changed", "agent.updated", "agent.created", "team.created", "user.created"}
		if strings.Join(actions, ",") != strings.Join(want, ",") {
			t.Errorf("actions newest first:\n got %v\nwant %v", actions, want)
		}
		byAction := map[string]*switchboard.AuditEntry{}
		for _, e := range p.Items {
			byAction[e.Action] = e
		}
		upd := byAction["agent.updated"]
		if upd.ActorType != "user" || upd.ActorID != admin.ID || upd.ActorName != "admin@example.com" || upd.RequestID != "req-1" ||
			upd.IP != "203.0.113.9" || upd.TargetID != agent.ID || upd.Before["capacity"] != json.Number("1") || upd.After["capacity"] != json.Number("5") {
			t.Errorf("agent.updated = %+v", upd)
		}
		if _, ok := upd.After["name"]; ok {
			t.Error("unchanged fields recorded as changes")
		}
		failed := byAction["auth.sign_in_failed"]
		if failed.ActorType != "anonymous" || failed.TargetID != admin.ID || failed.RequestID != "req-2" {
			t.Errorf("sign_in_failed = %+v", failed)
		}
		for _, e := range p.Items {
			all := fmt.Sprint(e.ActorName, " ", e.TargetName, " ", e.Before, " ", e.After)
			for _, s := range []string{secret, keySecret, "argon2id", "correct horse"} {
				if strings.Contains(all, s) {
					t.Errorf("%s records a secret: %s", e.Action, all)
				}
			}
		}

		// Filters.
		for _, tc := range []struct {
			name   string
			filter switchboard.AuditFilter
			want   int
		}{
			{"Actor", switchboard.AuditFilter{ActorID: admin.ID}, 7},
			{"Target", switchboard.AuditFilter{TargetID: agent.ID}, 3},
			{"Action", switchboard.AuditFilter{Action: "agent.updated"}, 1},
			{"ActionPrefix", switchboard.AuditFilter{Action: "agent."}, 3},
			{"TimeRange", switchboard.AuditFilter{Since: ptr(clock.Now().Add(-2 * time.Second)), Until: ptr(clock.Now())}, 2},
		} {
			p, err := audit.FindAuditEntries(systemCtx(), tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Items) != tc.want {
				t.Errorf("%s: %d entries, want %d", tc.name, len(p.Items), tc.want)
			}
		}
		_, err = audit.FindAuditEntries(asUser(MustCreateUser(t, db, "agent@example.com", switchboard.RoleAgent)), switchboard.AuditFilter{})
		wantCode(t, err, switchboard.EFORBIDDEN)
		_, err = audit.FindAuditEntries(systemCtx(), switchboard.AuditFilter{Since: ptr(clock.Now()), Until: ptr(clock.Now())})
		wantCode(t, err, switchboard.EINVALID)

		// Pages.
		first, _ := audit.FindAuditEntries(systemCtx(), switchboard.AuditFilter{Limit: 4})
		second, _ := audit.FindAuditEntries(systemCtx(), switchboard.AuditFilter{Limit: 4, Cursor: first.NextCursor})
		if len(first.Items) != 4 || len(second.Items) != 4 || first.Items[3].ID == second.Items[0].ID {
			t.Errorf("pages: %d then %d", len(first.Items), len(second.Items))
		}

		// An agent's history holds its tokens' issue and revocation too.
		agents := sqlstore.NewAgentService(db)
		tok, _, err := agents.CreateAgentToken(ctx, agent.ID, switchboard.NewToken{Name: "prod"})
		if err != nil {
			t.Fatal(err)
		}
		if err := agents.RevokeAgentToken(ctx, agent.ID, tok.ID); err != nil {
			t.Fatal(err)
		}
		hist, err := audit.FindAuditEntries(systemCtx(), switchboard.AuditFilter{AgentID: agent.ID})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range hist.Items {
			got = append(got, e.Action)
		}
		if want := "token.revoked,token.created,agent.status_changed,agent.updated,agent.created"; strings.Join(got, ",") != want {
			t.Errorf("agent history: got %v, want %s", got, want)
		}
	})
}

// TestAudit_SupervisorScope: a supervisor reads what happened to their
// teams, their agents and keys, and what they did; nothing else.
func TestAudit_SupervisorScope(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		admin := MustCreateUser(t, db, "admin@example.com", switchboard.RoleAdmin)
		sup := MustCreateUser(t, db, "sup@example.com", switchboard.RoleSupervisor)
		other := MustCreateUser(t, db, "other@example.com", switchboard.RoleSupervisor)
		mine := MustCreateTeam(t, db, "Mine", sup)
		theirs := MustCreateTeam(t, db, "Theirs", other)
		myBot := MustCreateMachine(t, db, "my-bot", nil, mine)
		theirBot := MustCreateMachine(t, db, "their-bot", nil, theirs)
		agents := sqlstore.NewAgentService(db)
		supCtx := switchboard.NewContextWithRequestInfo(asUser(sup), switchboard.RequestInfo{ID: "r1", IP: "198.51.100.1"})
		if _, err := agents.SetAgentStatus(supCtx, myBot.ID, switchboard.AgentSuspended, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := agents.SetAgentStatus(asUser(other), theirBot.ID, switchboard.AgentSuspended, 0); err != nil {
			t.Fatal(err)
		}
		keys := sqlstore.NewEnrollmentService(db)
		adminCtx := switchboard.NewContextWithRequestInfo(asUser(admin), switchboard.RequestInfo{ID: "r2", IP: "203.0.113.2"})
		myKey, _, err := keys.CreateEnrollmentKey(adminCtx, switchboard.NewEnrollmentKey{Name: "mine", TeamID: mine.ID})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := keys.CreateEnrollmentKey(asUser(admin), switchboard.NewEnrollmentKey{Name: "theirs", TeamID: theirs.ID}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := sqlstore.NewTokenService(db).CreateToken(asUser(sup), switchboard.NewToken{UserID: sup.ID, Name: "cli"}); err != nil {
			t.Fatal(err)
		}

		p, err := sqlstore.NewAuditService(db).FindAuditEntries(asUser(sup), switchboard.AuditFilter{Limit: 200})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range p.Items {
			name, _, _ := strings.Cut(e.TargetName, " (") // a token's name carries its prefix
			got = append(got, e.Action+" "+name)
			// Addresses are shown for the supervisor's own actions only.
			switch {
			case e.Action == "agent.status_changed" && e.IP != "198.51.100.1":
				t.Errorf("own action's address %q", e.IP)
			case e.Action == "enrollment_key.created" && e.IP != "":
				t.Errorf("an admin's address shown to a supervisor: %q", e.IP)
			}
		}
		want := []string{
			"token.created cli",
			"enrollment_key.created mine",
			"agent.status_changed my-bot",
			"agent.created my-bot",
			"team.created Mine",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("supervisor sees:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		// Filters narrow the scope; they never widen it.
		p, err = sqlstore.NewAuditService(db).FindAuditEntries(asUser(sup), switchboard.AuditFilter{TargetID: theirBot.ID})
		if err != nil || len(p.Items) != 0 {
			t.Errorf("another team's agent by filter: %d entries, %v", len(p.Items), err)
		}
		p, err = sqlstore.NewAuditService(db).FindAuditEntries(asUser(sup), switchboard.AuditFilter{TargetID: myKey.ID})
		if err != nil || len(p.Items) != 1 {
			t.Errorf("own key by filter: %d entries, %v", len(p.Items), err)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// TestAudit_SupervisorSeesTheirQueuesTasks: a supervisor reads the entries
// of the tasks they may list, and of those tasks' offers, and none of the
// tasks of queues that route to other teams.
func TestAudit_SupervisorSeesTheirQueuesTasks(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		f := newRoutingFixture(t, db)
		sup := MustCreateUser(t, db, "sup@example.com", switchboard.RoleSupervisor)
		if _, err := sqlstore.NewTeamService(db).UpdateTeam(f.admin, f.team.ID, switchboard.TeamUpdate{SupervisorIDs: &[]string{sup.ID}}); err != nil {
			t.Fatal(err)
		}
		ours := f.MustQueue(t, switchboard.NewQueue{Name: "Ours", TeamIDs: []string{f.team.ID}, OfferTimeout: time.Minute})
		other := f.MustQueue(t, switchboard.NewQueue{Name: "Other", TeamIDs: []string{MustCreateTeam(t, db, "Theirs").ID}})
		_, ann := f.MustAgent(t, "Ann", 1, nil)
		f.MustTask(t, switchboard.NewTask{QueueID: ours.ID, Title: "Ours"})
		offers := sqlstore.NewOfferService(db)
		if _, err := offers.RejectOffer(ann, MustOnlyOffer(t, offers, ann).ID); err != nil {
			t.Fatal(err)
		}
		theirs := f.MustTask(t, switchboard.NewTask{QueueID: other.ID, Title: "Theirs"})

		audit := sqlstore.NewAuditService(db)
		p, err := audit.FindAuditEntries(asUser(sup), switchboard.AuditFilter{Action: "task.", Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range p.Items {
			got = append(got, e.Action+" "+e.TargetName)
		}
		if want := "task.requeued Ours,task.offered Ours,task.created Ours"; strings.Join(got, ",") != want {
			t.Errorf("supervisor sees tasks' entries %v, want %s", got, want)
		}
		p, err = audit.FindAuditEntries(asUser(sup), switchboard.AuditFilter{Action: "offer.", Limit: 100})
		if err != nil || len(p.Items) != 1 || p.Items[0].Action != switchboard.AuditOfferRejected {
			t.Errorf("supervisor sees offers' entries %+v (%v), want the rejection", p.Items, err)
		}
		p, err = audit.FindAuditEntries(asUser(sup), switchboard.AuditFilter{TargetID: theirs.ID})
		if err != nil || len(p.Items) != 0 {
			t.Errorf("another team's task by filter: %d entries, %v", len(p.Items), err)
		}
		p, err = audit.FindAuditEntries(f.admin, switchboard.AuditFilter{TargetID: theirs.ID})
		if err != nil || len(p.Items) != 1 {
			t.Errorf("admin reads the other task's entries: %d, %v", len(p.Items), err)
		}
	})
}
