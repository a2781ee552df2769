package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
)

// TestAuditPage: the log lists changes newest first with links to what they
// touched, and each filter narrows it.
func TestAuditPage(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	admin := ts.setUp(t)
	b := ts.browser()
	b.signIn(t, "admin@example.com")
	b.post(t, "/teams", url.Values{"name": {"Billing"}, "description": {"Invoices"}}).wantStatus(t, http.StatusSeeOther)
	teams, err := sqlstore.NewTeamService(ts.db).FindTeams(systemCtx(), switchboard.TeamFilter{})
	if err != nil || len(teams.Items) != 1 {
		t.Fatalf("teams %v, %v", teams, err)
	}
	team := teams.Items[0]
	b.post(t, "/teams/"+team.ID, url.Values{"name": {"Billing EU"}, "description": {"Invoices"}, "version": {"1"}}).wantStatus(t, http.StatusSeeOther)

	res := b.get(t, "/audit").wantStatus(t, http.StatusOK)
	res.wantContains(t, "<title>Audit log · Switchboard</title>",
		"<code>team.created</code>", "<code>team.updated</code>", "<code>auth.signed_in</code>",
		`<a href="/teams/`+team.ID+`">Billing EU</a>`, `<a href="/users/`+admin.ID+`">admin@example.com</a>`,
		"<del>Billing</del>", "<ins>Billing EU</ins>", "127.0.0.1")
	body := string(res.body)
	if updated, created := strings.Index(body, "<code>team.updated</code>"), strings.Index(body, "<code>team.created</code>"); updated > created {
		t.Error("entries are not newest first")
	}

	b.get(t, "/audit?action=team.").wantStatus(t, http.StatusOK).
		wantContains(t, "team.created", "team.updated", `<option value="team." selected>`).wantNotContains(t, "<code>auth.signed_in</code>")
	b.get(t, "/audit?action=team.created").wantStatus(t, http.StatusOK).
		wantContains(t, "<code>team.created</code>").wantNotContains(t, "<code>team.updated</code>")
	b.get(t, "/audit?target_type=user&actor="+admin.ID).wantStatus(t, http.StatusOK).
		wantContains(t, "<code>auth.signed_in</code>").wantNotContains(t, "<code>team.created</code>")
	b.get(t, "/audit?target="+team.ID).wantStatus(t, http.StatusOK).
		wantContains(t, "<code>team.created</code>").wantNotContains(t, "<code>auth.signed_in</code>")
	today := time.Now().UTC().Format(time.DateOnly)
	b.get(t, "/audit?since="+today+"&until="+today).wantStatus(t, http.StatusOK).wantContains(t, "<code>team.created</code>")
	b.get(t, "/audit?until=2001-01-01").wantStatus(t, http.StatusOK).wantContains(t, "No entries match these filters")

	b.get(t, "/audit?since=yesterday").wantStatus(t, http.StatusBadRequest).
		wantContains(t, `id="f-since-error"`, "Enter a date like", `value="yesterday"`).wantNotContains(t, "<code>team.created</code>")
	b.get(t, "/audit?since=2030-01-02&until=2030-01-01").wantStatus(t, http.StatusBadRequest).
		wantContains(t, `id="f-until-error"`, "must be after its start")
	// A stale cursor shows the first page rather than an error.
	b.get(t, "/audit?cursor=bogus").wantStatus(t, http.StatusOK).wantContains(t, "<code>team.created</code>")
}

// TestAuditPage_Supervisor: a supervisor reads their teams' part of the log,
// from the menu and from an agent's page, without links to users' pages
// they cannot open.
func TestAuditPage_Supervisor(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	sup := ts.MustCreateUser(t, "sup@example.com", switchboard.RoleSupervisor)
	mine := ts.MustCreateTeam(t, "Mine", sup.ID)
	theirs := ts.MustCreateTeam(t, "Theirs")
	myBot, _ := ts.MustCreateAgent(t, switchboard.NewAgent{Name: "my-bot", Kind: switchboard.MachineAgent, TeamIDs: []string{mine.ID}})
	theirBot, _ := ts.MustCreateAgent(t, switchboard.NewAgent{Name: "their-bot", Kind: switchboard.MachineAgent, TeamIDs: []string{theirs.ID}})

	b := ts.browser()
	b.signIn(t, "sup@example.com")
	b.post(t, "/agents/"+myBot.ID+"/suspend", confirmed(nil)).wantStatus(t, http.StatusSeeOther)
	b.get(t, "/audit").wantStatus(t, http.StatusOK).
		wantContains(t, `<a href="/audit" aria-current="page">`, "<code>agent.status_changed</code>", `<a href="/agents/`+myBot.ID+`">my-bot</a>`,
			"<code>team.created</code>", "sup@example.com").
		wantNotContains(t, "their-bot", theirBot.ID, "Theirs", `href="/users/`)
	b.get(t, "/agents/"+myBot.ID).wantStatus(t, http.StatusOK).
		wantContains(t, "<code>agent.status_changed</code>", `href="/audit?target=`+myBot.ID+`"`)
	b.get(t, "/audit?target="+theirBot.ID).wantStatus(t, http.StatusOK).wantContains(t, "No entries match these filters")

	// Agents have no audit log.
	ts.MustCreateUser(t, "agent@example.com", switchboard.RoleAgent)
	a := ts.browser()
	a.signIn(t, "agent@example.com")
	a.get(t, "/audit").wantStatus(t, http.StatusForbidden)
}
