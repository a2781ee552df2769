package server_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// MustCreateTeam creates a team as the system.
func (ts *testServer) MustCreateTeam(tb testing.TB, name string, supervisorIDs ...string) *switchboard.Team {
	tb.Helper()
	team, err := sqlstore.NewTeamService(ts.db).CreateTeam(systemCtx(), switchboard.NewTeam{Name: name, SupervisorIDs: supervisorIDs})
	if err != nil {
		tb.Fatalf("create team %s: %v", name, err)
	}
	return team
}

// MustCreateAgent creates an agent as the system, returning the invitation
// of a human agent whose person has no user yet.
func (ts *testServer) MustCreateAgent(tb testing.TB, na switchboard.NewAgent) (*switchboard.Agent, *switchboard.Invitation) {
	tb.Helper()
	a, inv, err := sqlstore.NewAgentService(ts.db).CreateAgent(systemCtx(), na)
	if err != nil {
		tb.Fatalf("create agent %s: %v", na.Name, err)
	}
	return a, inv
}

// location returns where a redirect points, failing unless it starts with prefix.
func (r *response) location(tb testing.TB, prefix string) string {
	tb.Helper()
	loc := r.Header.Get("Location")
	if !strings.HasPrefix(loc, prefix) {
		tb.Fatalf("%s %s redirects to %q, want %s…", r.Request.Method, r.Request.URL.Path, loc, prefix)
	}
	return loc
}

// TestTeamPages walks an admin through the team pages on every engine:
// create (with a mistake first), add and remove a member, a stale edit, and
// delete.
func TestTeamPages(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ts := newTestServerOn(t, db, serverOptions())
		ts.setUp(t)
		grace := ts.MustCreateUser(t, "grace@example.com", switchboard.RoleSupervisor)
		ts.MustCreateUser(t, "agent@example.com", switchboard.RoleAgent)
		b := ts.browser()
		b.signIn(t, "admin@example.com")

		b.get(t, "/teams").wantStatus(t, http.StatusOK).
			wantContains(t, "<title>Teams · Switchboard</title>", "No teams yet", `href="/teams/new"`)
		b.get(t, "/teams/new").wantStatus(t, http.StatusOK).
			wantContains(t, "Test grace (grace@example.com, supervisor)", "Admin (admin@example.com, admin)").
			wantNotContains(t, "agent@example.com")

		// A bad name is reported beside the field, and nothing typed is lost.
		res := b.post(t, "/teams", url.Values{"name": {"Billing; EMEA"}, "description": {"Invoices and refunds"}, "supervisors": {grace.ID}})
		res.wantStatus(t, http.StatusUnprocessableEntity).wantContains(t,
			"There is a problem", `<p class="field-error" id="f-name-error">`, "must not contain control characters or &#39;;&#39;",
			`value="Billing; EMEA"`, "Invoices and refunds</textarea>", `value="`+grace.ID+`" checked`)

		res = b.post(t, "/teams", url.Values{"name": {"Billing"}, "description": {"Invoices and refunds"}, "supervisors": {grace.ID}})
		res.wantStatus(t, http.StatusSeeOther)
		teamPath := res.location(t, "/teams/")
		b.get(t, teamPath).wantStatus(t, http.StatusOK).
			wantContains(t, "Team Billing has been created", "<h1>Billing</h1>", "Test grace", "This team has no agents yet", "Delete team")
		b.get(t, "/teams").wantStatus(t, http.StatusOK).
			wantContains(t, `href="`+teamPath+`">Billing</a>`, "Invoices and refunds", "Test grace", `<td class="num" data-label="Members">0</td>`)
		b.get(t, "/teams?q=nothing").wantStatus(t, http.StatusOK).wantContains(t, "No teams match")

		// Add an agent found by the search, then remove it.
		runner, _ := ts.MustCreateAgent(t, switchboard.NewAgent{Name: "runner-7", Kind: switchboard.MachineAgent})
		b.get(t, teamPath+"?add_q=runner").wantStatus(t, http.StatusOK).
			wantContains(t, `<input type="checkbox" name="agent_id" value="`+runner.ID+`"`)
		b.post(t, teamPath+"/members", url.Values{"agent_id": {runner.ID}, "add_q": {"runner"}}).
			wantStatus(t, http.StatusSeeOther).location(t, teamPath+"?add_q=runner")
		b.get(t, teamPath+"?add_q=runner").wantStatus(t, http.StatusOK).
			wantContains(t, "runner-7 added to Billing.", `href="/agents/`+runner.ID+`">runner-7</a>`, "1 agent", "already in the team",
				`action="`+teamPath+`/members/`+runner.ID+`/remove"`).
			wantNotContains(t, `name="agent_id" value="`+runner.ID+`"`)
		b.get(t, "/teams").wantContains(t, `<td class="num" data-label="Members">1</td>`)
		b.post(t, teamPath+"/members/"+runner.ID+"/remove", nil).wantStatus(t, http.StatusOK).wantContains(t, "Remove runner-7 from Billing?")
		b.post(t, teamPath+"/members/"+runner.ID+"/remove", confirmed(nil)).wantStatus(t, http.StatusSeeOther)
		b.get(t, teamPath).wantStatus(t, http.StatusOK).wantContains(t, "runner-7 removed from Billing.", "This team has no agents yet")
		b.post(t, teamPath+"/members", url.Values{"agent_id": {"no-such-agent"}}).wantStatus(t, http.StatusSeeOther)
		b.get(t, teamPath).wantContains(t, "flash-error", "does not exist")

		// An edit made from a page that someone else's change overtook is refused.
		team, err := sqlstore.NewTeamService(db).FindTeamByID(systemCtx(), teamPath[len("/teams/"):])
		if err != nil {
			t.Fatal(err)
		}
		stale := strconv.Itoa(team.Version - 1)
		b.post(t, teamPath, url.Values{"name": {"Lost update"}, "version": {stale}}).
			wantStatus(t, http.StatusPreconditionFailed).wantContains(t, "Someone else changed this team", `value="Billing"`)
		b.post(t, teamPath, url.Values{"name": {"Billing EU"}, "description": {""}, "version": {strconv.Itoa(team.Version)}}).
			wantStatus(t, http.StatusSeeOther)
		b.get(t, teamPath).wantContains(t, "Changes to Billing EU have been saved", "None: only admins manage this team")

		b.post(t, teamPath+"/delete", confirmed(nil)).wantStatus(t, http.StatusSeeOther).location(t, "/teams")
		b.get(t, "/teams").wantStatus(t, http.StatusOK).wantContains(t, "Its agents remain", "No teams yet")
		b.get(t, teamPath).wantStatus(t, http.StatusNotFound)
		if _, err := sqlstore.NewAgentService(db).FindAgentByID(systemCtx(), runner.ID); err != nil {
			t.Errorf("the agent went with the team: %v", err)
		}
	})
}

// TestTeamPages_Supervisor: a supervisor sees their own teams, read-only,
// and nothing of the others.
func TestTeamPages_Supervisor(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	grace := ts.MustCreateUser(t, "grace@example.com", switchboard.RoleSupervisor)
	own := ts.MustCreateTeam(t, "Billing", grace.ID)
	other := ts.MustCreateTeam(t, "Shipping")
	member, _ := ts.MustCreateAgent(t, switchboard.NewAgent{Name: "runner-1", Kind: switchboard.MachineAgent, TeamIDs: []string{own.ID}})
	b := ts.browser()
	b.signIn(t, "grace@example.com")

	b.get(t, "/teams").wantStatus(t, http.StatusOK).wantContains(t, "Billing").wantNotContains(t, "Shipping", "New team")
	b.get(t, "/teams/"+own.ID).wantStatus(t, http.StatusOK).
		wantContains(t, `href="/agents/`+member.ID+`">runner-1</a>`).
		wantNotContains(t, "Add agents", "Delete team", "Save changes", "/remove")
	b.get(t, "/teams/"+other.ID).wantStatus(t, http.StatusNotFound)

	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, "/teams/new"},
		{http.MethodPost, "/teams"},
		{http.MethodPost, "/teams/" + own.ID},
		{http.MethodPost, "/teams/" + own.ID + "/members"},
		{http.MethodPost, "/teams/" + own.ID + "/members/" + member.ID + "/remove"},
		{http.MethodPost, "/teams/" + own.ID + "/delete"},
	} {
		var res *response
		if tc.method == http.MethodGet {
			res = b.get(t, tc.path)
		} else {
			res = b.post(t, tc.path, url.Values{"name": {"Mine now"}, "agent_id": {member.ID}})
		}
		res.wantStatus(t, http.StatusForbidden)
	}
	b.get(t, "/teams/"+own.ID).wantStatus(t, http.StatusOK).wantContains(t, "<h1>Billing</h1>", "runner-1")

	// Agents have no team pages at all.
	ts.MustCreateUser(t, "agent@example.com", switchboard.RoleAgent)
	a := ts.browser()
	a.signIn(t, "agent@example.com")
	a.get(t, "/teams").wantStatus(t, http.StatusForbidden)
	a.get(t, "/enrollment").wantStatus(t, http.StatusForbidden)
}

// TestTeamPages_NoSupervisor: a team nobody supervises says so, on the list
// and on its page, and the warning goes once it has a supervisor.
func TestTeamPages_NoSupervisor(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	sup := ts.MustCreateUser(t, "sup@example.com", switchboard.RoleSupervisor)
	orphan := ts.MustCreateTeam(t, "Orphans")
	looked := ts.MustCreateTeam(t, "Looked after", sup.ID)
	b := ts.browser()
	b.signIn(t, "admin@example.com")
	res := b.get(t, "/teams").wantStatus(t, http.StatusOK)
	if n := strings.Count(string(res.body), ">no supervisor</span>"); n != 1 {
		t.Errorf("%d teams warned of having no supervisor, want 1", n)
	}
	b.get(t, "/teams/"+orphan.ID).wantStatus(t, http.StatusOK).
		wantContains(t, `class="notice notice-warning"`, "This team has no supervisor", `href="#f-supervisors"`, `id="f-supervisors"`)
	b.get(t, "/teams/"+looked.ID).wantStatus(t, http.StatusOK).wantNotContains(t, "This team has no supervisor")
}
