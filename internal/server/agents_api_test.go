package server_test

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/server"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

type agentList struct {
	Items      []server.AgentJSON `json:"items"`
	NextCursor string             `json:"next_cursor"`
}

// TestAgentsAPI walks the agent issue's acceptance list through the API, on
// every engine, and then checks that the audit log saw all of it.
func TestAgentsAPI(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ts := newTestServerOn(t, db, serverOptions())
		admin := ts.setUp(t)
		secret, _ := ts.MustCreateToken(t, admin)
		c := ts.api(secret)

		var team server.TeamJSON
		c.call(t, http.MethodPost, "/api/v1/teams", map[string]any{"name": "Billing", "description": "Invoices"}).
			wantStatus(t, http.StatusCreated).decode(t, &team)

		// A human agent with a new e-mail address invites a user.
		var human server.AgentJSON
		res := c.call(t, http.MethodPost, "/api/v1/agents", map[string]any{
			"name": "Ada Lovelace", "kind": "human", "email": "ada@example.com", "phone": "+1 415 555 0123",
			"skills": map[string]int{"billing": 7, "spanish": 5}, "teams": []string{team.ID}, "capacity": 3,
		}, "X-Request-ID", "req-create-human")
		res.wantStatus(t, http.StatusCreated).decode(t, &human)
		if human.Status != "pending" || human.Phone != "+14155550123" || human.Invitation == nil ||
			!strings.HasPrefix(human.Invitation.URL, ts.URL+"/invite/sbi_") || len(human.Teams) != 1 {
			t.Fatalf("human agent %+v", human)
		}
		var machine server.AgentJSON
		c.call(t, http.MethodPost, "/api/v1/agents", map[string]any{"name": "Router", "kind": "machine", "skills": map[string]int{"billing": 9}}).
			wantStatus(t, http.StatusCreated).decode(t, &machine)
		if machine.Status != "active" || machine.Invitation != nil || strings.Join(machine.Actions, ",") != "suspend,retire" {
			t.Fatalf("machine agent %+v", machine)
		}

		// Field-level validation.
		for _, tc := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"name": "X", "kind": "machine", "phone": "555-0123"}, "body.phone"},
			{map[string]any{"name": "X", "kind": "machine", "skills": map[string]int{"billing": 11}}, "body.skills.billing"},
			{map[string]any{"name": "X", "kind": "human"}, "body.email"},
		} {
			res := c.call(t, http.MethodPost, "/api/v1/agents", tc.body).wantStatus(t, http.StatusUnprocessableEntity)
			p := res.problem(t)
			if len(p.Errors) != 1 || p.Errors[0].Location != tc.field {
				t.Errorf("%v: errors %+v, want one at %s", tc.body, p.Errors, tc.field)
			}
		}

		// ETags: a stale one is refused with 412 and changes nothing.
		res = c.call(t, http.MethodGet, "/api/v1/agents/"+machine.ID, nil).wantStatus(t, http.StatusOK)
		tag := res.Header.Get("ETag")
		c.call(t, http.MethodPatch, "/api/v1/agents/"+machine.ID, map[string]any{"capacity": 8}, "If-Match", tag).wantStatus(t, http.StatusOK)
		c.call(t, http.MethodPatch, "/api/v1/agents/"+machine.ID, map[string]any{"name": "Lost"}, "If-Match", tag).
			wantStatus(t, http.StatusPreconditionFailed).problem(t)
		c.call(t, http.MethodGet, "/api/v1/agents/"+machine.ID, nil).wantContains(t, `"capacity":8`).wantNotContains(t, "Lost")

		// Lifecycle: retired is final, and the refusal names both states.
		c.call(t, http.MethodPost, "/api/v1/agents/"+machine.ID+"/retire", nil).wantStatus(t, http.StatusOK).wantContains(t, `"status":"retired"`, `"actions":[]`)
		res = c.call(t, http.MethodPost, "/api/v1/agents/"+machine.ID+"/activate", nil).wantStatus(t, http.StatusConflict)
		if p := res.problem(t); p.CurrentState != "retired" || p.RequestedState != "active" {
			t.Errorf("409 problem %+v", p)
		}
		c.call(t, http.MethodDelete, "/api/v1/agents/"+machine.ID, nil).wantStatus(t, http.StatusConflict)

		// 250 agents, paged by 100: each exactly once.
		var csv strings.Builder
		csv.WriteString("name,kind,skills,teams\n")
		for i := range 250 {
			fmt.Fprintf(&csv, "bulk-%03d,machine,linux:%d,%s\n", i, i%10+1, map[bool]string{true: "Billing", false: ""}[i%2 == 0])
		}
		c.call(t, http.MethodPost, "/api/v1/agents/import", csv.String(), "Content-Type", "text/csv").
			wantStatus(t, http.StatusCreated).wantContains(t, `"created":250`)
		seen := map[string]int{}
		cursor, pages := "", 0
		for {
			var page agentList
			c.call(t, http.MethodGet, "/api/v1/agents?q=bulk-&limit=100&cursor="+cursor, nil).wantStatus(t, http.StatusOK).decode(t, &page)
			pages++
			for _, a := range page.Items {
				seen[a.ID]++
			}
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		if len(seen) != 250 || pages != 3 {
			t.Errorf("paged %d agents in %d pages, want 250 in 3", len(seen), pages)
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("agent %s seen %d times", id, n)
			}
		}

		// Every filter.
		for _, tc := range []struct {
			query string
			want  int
		}{
			{"q=ada", 1},
			{"status=pending", 1},
			{"status=retired", 1},
			{"presence=offline&limit=200", 200},
			{"kind=human", 1},
			{"kind=machine&limit=200", 200},
			{"team=" + team.ID + "&limit=200", 126},
			{"skill=billing", 2},
			{"skill=billing&min_level=8", 1},
			{"skill=linux&min_level=10&limit=200", 25},
			{"sort=-created_at&limit=1", 1},
		} {
			var page agentList
			c.call(t, http.MethodGet, "/api/v1/agents?"+tc.query, nil).wantStatus(t, http.StatusOK).decode(t, &page)
			if len(page.Items) != tc.want {
				t.Errorf("?%s: %d agents, want %d", tc.query, len(page.Items), tc.want)
			}
		}
		c.call(t, http.MethodGet, "/api/v1/agents?status=asleep", nil).wantStatus(t, http.StatusUnprocessableEntity).problem(t)

		// The audit log saw it all, with actor and request ID.
		var audit struct {
			Items []server.AuditEntryJSON `json:"items"`
		}
		c.call(t, http.MethodGet, "/api/v1/audit?target="+human.ID, nil).wantStatus(t, http.StatusOK).decode(t, &audit)
		if len(audit.Items) != 1 || audit.Items[0].Action != "agent.created" || audit.Items[0].RequestID != "req-create-human" ||
			audit.Items[0].Actor.ID != admin.ID || audit.Items[0].Actor.Name != "admin@example.com" {
			t.Errorf("audit of the human agent: %+v", audit.Items)
		}
		c.call(t, http.MethodGet, "/api/v1/audit?target="+machine.ID, nil).wantStatus(t, http.StatusOK).decode(t, &audit)
		var actions []string
		for _, e := range audit.Items {
			actions = append(actions, e.Action)
			if e.RequestID == "" || e.Actor.ID != admin.ID {
				t.Errorf("entry without request ID or actor: %+v", e)
			}
		}
		if strings.Join(actions, ",") != "agent.status_changed,agent.updated,agent.created" {
			t.Errorf("machine agent's audit: %v", actions)
		}
		c.call(t, http.MethodGet, "/api/v1/audit?action=team.&limit=5", nil).wantStatus(t, http.StatusOK).wantContains(t, `"team.created"`)
		c.call(t, http.MethodGet, "/api/v1/audit?action=agent.imported&limit=1", nil).wantStatus(t, http.StatusOK).wantContains(t, `"agent.imported"`)
	})
}

func TestEnrollmentAPI(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ts := newTestServerOn(t, db, serverOptions())
		admin := ts.setUp(t)
		secret, _ := ts.MustCreateToken(t, admin)
		c := ts.api(secret)

		var key struct {
			server.EnrollmentKeyJSON
			Key string `json:"key"`
		}
		c.call(t, http.MethodPost, "/api/v1/enrollment-keys", map[string]any{"name": "fleet", "auto_approve": true, "max_uses": 10}).
			wantStatus(t, http.StatusCreated).decode(t, &key)
		if !strings.HasPrefix(key.Key, "sbe_") || key.Status != "active" {
			t.Fatalf("key %+v", key)
		}
		c.call(t, http.MethodGet, "/api/v1/enrollment-keys", nil).wantStatus(t, http.StatusOK).wantContains(t, key.ID).wantNotContains(t, key.Key)

		var enrolled struct {
			Agent server.AgentJSON `json:"agent"`
			Token string           `json:"token"`
		}
		ts.api("").call(t, http.MethodPost, "/api/v1/enroll", map[string]any{
			"key": key.Key, "name": "runner-1", "skills": map[string]int{"linux": 8}, "metadata": map[string]any{"hostname": "runner-1"},
		}).wantStatus(t, http.StatusCreated).decode(t, &enrolled)
		if enrolled.Agent.Status != "active" || !strings.HasPrefix(enrolled.Token, "sba_") {
			t.Fatalf("enrolled %+v", enrolled)
		}
		res := ts.api(enrolled.Token).call(t, http.MethodGet, "/api/v1/me", nil).wantStatus(t, http.StatusOK)
		res.wantContains(t, `"kind":"agent"`, `"name":"runner-1"`, `"hostname":"runner-1"`).wantNotContains(t, `"user"`)
		// An agent token is not a user's: user routes refuse it.
		ts.api(enrolled.Token).call(t, http.MethodGet, "/api/v1/tokens", nil).wantStatus(t, http.StatusForbidden)
		ts.api(enrolled.Token).call(t, http.MethodGet, "/api/v1/agents", nil).wantStatus(t, http.StatusForbidden)

		// Admins issue, list and revoke agent tokens; revoked is refused at once.
		var list struct {
			Items []server.TokenJSON `json:"items"`
		}
		c.call(t, http.MethodGet, "/api/v1/agents/"+enrolled.Agent.ID+"/tokens", nil).wantStatus(t, http.StatusOK).decode(t, &list)
		if len(list.Items) != 1 {
			t.Fatalf("tokens %+v", list)
		}
		c.call(t, http.MethodDelete, "/api/v1/agents/"+enrolled.Agent.ID+"/tokens/"+list.Items[0].ID, nil).wantStatus(t, http.StatusNoContent)
		ts.api(enrolled.Token).call(t, http.MethodGet, "/api/v1/me", nil).wantStatus(t, http.StatusUnauthorized).problem(t)
		var issued struct {
			Token string `json:"token"`
		}
		c.call(t, http.MethodPost, "/api/v1/agents/"+enrolled.Agent.ID+"/tokens", map[string]any{"name": "replacement"}).
			wantStatus(t, http.StatusCreated).decode(t, &issued)
		ts.api(issued.Token).call(t, http.MethodGet, "/api/v1/me", nil).wantStatus(t, http.StatusOK)
		c.call(t, http.MethodPost, "/api/v1/agents/"+enrolled.Agent.ID+"/retire", nil).wantStatus(t, http.StatusOK)
		ts.api(issued.Token).call(t, http.MethodGet, "/api/v1/me", nil).wantStatus(t, http.StatusUnauthorized)

		// Keys: bad, revoked.
		ts.api("").call(t, http.MethodPost, "/api/v1/enroll", map[string]any{"key": "sbe_wrong", "name": "x"}).
			wantStatus(t, http.StatusUnauthorized).problem(t)
		c.call(t, http.MethodDelete, "/api/v1/enrollment-keys/"+key.ID, nil).wantStatus(t, http.StatusNoContent)
		ts.api("").call(t, http.MethodPost, "/api/v1/enroll", map[string]any{"key": key.Key, "name": "late"}).
			wantStatus(t, http.StatusUnauthorized)

		// Without auto-approval an agent waits pending, but can ask who it is.
		var manual struct {
			Key string `json:"key"`
		}
		c.call(t, http.MethodPost, "/api/v1/enrollment-keys", map[string]any{"name": "manual"}).wantStatus(t, http.StatusCreated).decode(t, &manual)
		ts.api("").call(t, http.MethodPost, "/api/v1/enroll", map[string]any{"key": manual.Key, "name": "waiting"}).
			wantStatus(t, http.StatusCreated).decode(t, &enrolled)
		ts.api(enrolled.Token).call(t, http.MethodGet, "/api/v1/me", nil).wantStatus(t, http.StatusOK).wantContains(t, `"status":"pending"`)
		c.call(t, http.MethodPost, "/api/v1/agents/"+enrolled.Agent.ID+"/activate", nil).wantStatus(t, http.StatusOK)
		ts.api(enrolled.Token).call(t, http.MethodGet, "/api/v1/me", nil).wantContains(t, `"status":"active"`)
	})
}

// TestSupervisorScopeAPI: a supervisor of team A cannot read or change an
// agent of team B (404); an agent-role user cannot list agents (403).
func TestSupervisorScopeAPI(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ts := newTestServerOn(t, db, serverOptions())
		ts.setUp(t)
		alice := ts.MustCreateUser(t, "alice@example.com", switchboard.RoleSupervisor)
		bob := ts.MustCreateUser(t, "bob@example.com", switchboard.RoleSupervisor)
		teams := sqlstore.NewTeamService(db)
		teamA, _ := teams.CreateTeam(systemCtx(), switchboard.NewTeam{Name: "A", SupervisorIDs: []string{alice.ID}})
		teamB, _ := teams.CreateTeam(systemCtx(), switchboard.NewTeam{Name: "B", SupervisorIDs: []string{bob.ID}})
		agents := sqlstore.NewAgentService(db)
		inA, _, _ := agents.CreateAgent(systemCtx(), switchboard.NewAgent{Name: "In A", Kind: "machine", TeamIDs: []string{teamA.ID}})
		inB, _, _ := agents.CreateAgent(systemCtx(), switchboard.NewAgent{Name: "In B", Kind: "machine", TeamIDs: []string{teamB.ID}})
		aliceToken, _ := ts.MustCreateToken(t, alice)
		c := ts.api(aliceToken)

		c.call(t, http.MethodGet, "/api/v1/agents/"+inA.ID, nil).wantStatus(t, http.StatusOK)
		c.call(t, http.MethodGet, "/api/v1/agents/"+inB.ID, nil).wantStatus(t, http.StatusNotFound).problem(t)
		c.call(t, http.MethodPatch, "/api/v1/agents/"+inB.ID, map[string]any{"name": "Mine now"}).wantStatus(t, http.StatusNotFound)
		c.call(t, http.MethodPost, "/api/v1/agents/"+inB.ID+"/suspend", nil).wantStatus(t, http.StatusNotFound)
		c.call(t, http.MethodGet, "/api/v1/agents", nil).wantStatus(t, http.StatusOK).wantContains(t, inA.ID).wantNotContains(t, inB.ID)
		c.call(t, http.MethodGet, "/api/v1/teams/"+teamB.ID, nil).wantStatus(t, http.StatusNotFound)
		c.call(t, http.MethodGet, "/api/v1/teams", nil).wantStatus(t, http.StatusOK).wantContains(t, teamA.ID).wantNotContains(t, teamB.ID)
		c.call(t, http.MethodPost, "/api/v1/teams", map[string]any{"name": "C"}).wantStatus(t, http.StatusForbidden)
		// The audit log, as the rest, is cut to Alice's teams.
		c.call(t, http.MethodGet, "/api/v1/audit", nil).wantStatus(t, http.StatusOK).wantContains(t, inA.ID).wantNotContains(t, inB.ID)
		c.call(t, http.MethodGet, "/api/v1/audit?target="+inB.ID, nil).wantStatus(t, http.StatusOK).wantNotContains(t, inB.ID)
		c.call(t, http.MethodPost, "/api/v1/agents/import", "name,kind\nx,machine\n", "Content-Type", "text/csv").wantStatus(t, http.StatusForbidden)
		got, _ := agents.FindAgentByID(systemCtx(), inB.ID)
		if got.Name != "In B" || got.Status != switchboard.AgentActive {
			t.Errorf("team B's agent changed: %+v", got)
		}

		// An agent-role user: no list, only their own agent.
		human, inv, _ := agents.CreateAgent(systemCtx(), switchboard.NewAgent{Name: "Hu", Kind: "human", Email: "hu@example.com", TeamIDs: []string{teamA.ID}})
		agentUser, err := sqlstore.NewUserService(db).AcceptInvitation(t.Context(), inv.Secret, "a long new password")
		if err != nil {
			t.Fatal(err)
		}
		huToken, _ := ts.MustCreateToken(t, agentUser)
		h := ts.api(huToken)
		h.call(t, http.MethodGet, "/api/v1/agents", nil).wantStatus(t, http.StatusForbidden).problem(t)
		h.call(t, http.MethodGet, "/api/v1/agents/"+human.ID, nil).wantStatus(t, http.StatusOK)
		h.call(t, http.MethodGet, "/api/v1/agents/"+inA.ID, nil).wantStatus(t, http.StatusNotFound)
		h.call(t, http.MethodPatch, "/api/v1/agents/"+human.ID, map[string]any{"name": "x"}).wantStatus(t, http.StatusForbidden)
		h.call(t, http.MethodGet, "/api/v1/me", nil).wantStatus(t, http.StatusOK).wantContains(t, `"agent":{`, human.ID)
	})
}

// TestSupervisorCannotLinkExistingAccounts: a supervisor creating a human
// agent with the address of an existing account gets one 409, the same for
// an admin's, a supervisor's and an agent's address, and links nothing; an
// admin links the account, and retiring that agent leaves it alone.
func TestSupervisorCannotLinkExistingAccounts(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ts := newTestServerOn(t, db, serverOptions())
		admin := ts.setUp(t)
		alice := ts.MustCreateUser(t, "alice@example.com", switchboard.RoleSupervisor)
		ts.MustCreateUser(t, "bob@example.com", switchboard.RoleSupervisor)
		plain := ts.MustCreateUser(t, "plain@example.com", switchboard.RoleAgent)
		team := ts.MustCreateTeam(t, "A", alice.ID)
		aliceToken, _ := ts.MustCreateToken(t, alice)
		adminToken, _ := ts.MustCreateToken(t, admin)

		var first *server.Problem
		for _, email := range []string{"admin@example.com", "bob@example.com", "plain@example.com", "Plain@Example.com"} {
			res := ts.api(aliceToken).call(t, http.MethodPost, "/api/v1/agents",
				map[string]any{"name": "Someone", "kind": "human", "email": email, "teams": []string{team.ID}})
			res.wantStatus(t, http.StatusConflict)
			p := res.problem(t)
			p.RequestID = ""
			if first == nil {
				first = &p
			} else if !reflect.DeepEqual(p, *first) {
				t.Errorf("%s: %+v; admin's address: %+v", email, p, *first)
			}
		}
		if !strings.Contains(first.Detail, "ask an admin") || len(first.Errors) != 1 || first.Errors[0].Location != "body.email" {
			t.Errorf("problem %+v", *first)
		}

		res := ts.api(adminToken).call(t, http.MethodPost, "/api/v1/agents",
			map[string]any{"name": "Plain", "kind": "human", "email": "plain@example.com", "teams": []string{team.ID}})
		res.wantStatus(t, http.StatusCreated).wantNotContains(t, `"invitation"`)
		var linked struct {
			ID string `json:"id"`
		}
		res.decode(t, &linked)
		ts.api(aliceToken).call(t, http.MethodPost, "/api/v1/agents/"+linked.ID+"/retire", nil).wantStatus(t, http.StatusOK)
		if u, _ := sqlstore.NewUserService(db).FindUserByID(systemCtx(), plain.ID); u.Status != switchboard.UserActive {
			t.Errorf("the linked account is %s after its agent retired", u.Status)
		}
	})
}

func TestImportAPI(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ts := newTestServerOn(t, db, serverOptions())
		admin := ts.setUp(t)
		secret, _ := ts.MustCreateToken(t, admin)
		c := ts.api(secret)
		c.call(t, http.MethodPost, "/api/v1/teams", map[string]any{"name": "Support"}).wantStatus(t, http.StatusCreated)

		var big strings.Builder
		big.WriteString("name,kind,email,skills,teams\n")
		for i := range 10_000 {
			if i == 7_000 {
				big.WriteString("Broken,machine,,billing:12,Support\n") // line 7002
				continue
			}
			fmt.Fprintf(&big, "Agent %05d,human,agent%05d@example.com,billing:%d,Support\n", i, i, i%10+1)
		}
		res := c.call(t, http.MethodPost, "/api/v1/agents/import", big.String(), "Content-Type", "text/csv").wantStatus(t, http.StatusUnprocessableEntity)
		p := res.problem(t)
		if len(p.Errors) != 1 || p.Errors[0].Location != "line 7002: skills.billing" {
			t.Fatalf("errors %+v", p.Errors)
		}
		var list agentList
		c.call(t, http.MethodGet, "/api/v1/agents", nil).wantStatus(t, http.StatusOK).decode(t, &list)
		if len(list.Items) != 0 {
			t.Fatalf("a failed import left %d agents", len(list.Items))
		}

		fixed := strings.Replace(big.String(), "Broken,machine,,billing:12,Support", "Fixed,machine,,billing:10,Support", 1)
		res = c.call(t, http.MethodPost, "/api/v1/agents/import", fixed, "Content-Type", "text/csv").wantStatus(t, http.StatusCreated)
		var out struct {
			Created, Invited int
			Invitations      []server.InvitationJSON
		}
		res.decode(t, &out)
		if out.Created != 10_000 || out.Invited != 9_999 || len(out.Invitations) != 9_999 {
			t.Errorf("created %d, invited %d, %d links", out.Created, out.Invited, len(out.Invitations))
		}
		c.call(t, http.MethodPost, "/api/v1/agents/import", []byte("name,kind\n\xff,machine\n"), "Content-Type", "text/csv").
			wantStatus(t, http.StatusUnprocessableEntity).problem(t)
	})
}
