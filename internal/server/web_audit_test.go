package server_test

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"net/url"
	"strconv"
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
		`data-action="team.created"`, `data-action="team.updated"`, `data-action="auth.signed_in"`,
		`<a href="/teams/`+team.ID+`">Billing EU</a>`, `<a href="/users/`+admin.ID+`">admin@example.com</a>`,
		"<del>Billing</del>", "<ins>Billing EU</ins>", "127.0.0.1")
	body := string(res.body)
	if updated, created := strings.Index(body, `data-action="team.updated"`), strings.Index(body, `data-action="team.created"`); updated > created {
		t.Error("entries are not newest first")
	}

	b.get(t, "/audit?action=team.").wantStatus(t, http.StatusOK).
		wantContains(t, "team.created", "team.updated", `<option value="team." selected>`).wantNotContains(t, `data-action="auth.signed_in"`)
	b.get(t, "/audit?action=team.created").wantStatus(t, http.StatusOK).
		wantContains(t, `data-action="team.created"`).wantNotContains(t, `data-action="team.updated"`)
	b.get(t, "/audit?target_type=user&actor="+admin.ID).wantStatus(t, http.StatusOK).
		wantContains(t, `data-action="auth.signed_in"`).wantNotContains(t, `data-action="team.created"`)
	b.get(t, "/audit?target="+team.ID).wantStatus(t, http.StatusOK).
		wantContains(t, `data-action="team.created"`).wantNotContains(t, `data-action="auth.signed_in"`)
	today := time.Now().UTC().Format(time.DateOnly)
	b.get(t, "/audit?since="+today+"&until="+today).wantStatus(t, http.StatusOK).wantContains(t, `data-action="team.created"`)
	b.get(t, "/audit?until=2001-01-01").wantStatus(t, http.StatusOK).wantContains(t, "No entries match these filters")

	b.get(t, "/audit?since=yesterday").wantStatus(t, http.StatusBadRequest).
		wantContains(t, `id="f-since-error"`, "Enter a date like", `value="yesterday"`).wantNotContains(t, `data-action="team.created"`)
	b.get(t, "/audit?since=2030-01-02&until=2030-01-01").wantStatus(t, http.StatusBadRequest).
		wantContains(t, `id="f-until-error"`, "must be after its start")
	// A stale cursor shows the first page rather than an error.
	b.get(t, "/audit?cursor=bogus").wantStatus(t, http.StatusOK).wantContains(t, `data-action="team.created"`)
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

	billing := ts.MustCreateQueue(t, switchboard.NewQueue{Name: "Billing", TeamIDs: []string{mine.ID}})
	refund := ts.MustCreateTask(t, switchboard.NewTask{QueueID: billing.ID, Title: "Refund"})
	shipping := ts.MustCreateQueue(t, switchboard.NewQueue{Name: "Shipping", TeamIDs: []string{theirs.ID}})
	parcel := ts.MustCreateTask(t, switchboard.NewTask{QueueID: shipping.ID, Title: "Lost parcel"})

	b := ts.browser()
	b.signIn(t, "sup@example.com")
	b.post(t, "/agents/"+myBot.ID+"/suspend", confirmed(nil)).wantStatus(t, http.StatusSeeOther)
	b.get(t, "/audit").wantStatus(t, http.StatusOK).
		wantContains(t, `<a href="/audit" aria-current="page">`, `data-action="agent.status_changed"`, `<a href="/agents/`+myBot.ID+`">my-bot</a>`,
			`data-action="team.created"`, "sup@example.com",
			`<a href="/queues/`+billing.ID+`">Billing</a>`, `data-action="task.created"`, `<a href="/tasks/`+refund.ID+`">Refund</a>`).
		wantNotContains(t, "their-bot", theirBot.ID, "Theirs", `href="/users/`, "Shipping", parcel.ID)
	b.get(t, "/agents/"+myBot.ID).wantStatus(t, http.StatusOK).
		wantContains(t, `data-action="agent.status_changed"`, `href="/audit?target=`+myBot.ID+`"`)
	b.get(t, "/audit?target="+theirBot.ID).wantStatus(t, http.StatusOK).wantContains(t, "No entries match these filters")

	// Agents have no audit log.
	ts.MustCreateUser(t, "agent@example.com", switchboard.RoleAgent)
	a := ts.browser()
	a.signIn(t, "agent@example.com")
	a.get(t, "/audit").wantStatus(t, http.StatusForbidden)
}

// TestAuditPage_Readable: actions read as words, the same on the log and on
// an agent's history; request IDs wait behind a disclosure; times show
// exactly on hover; the reader picks a person from a list and a page size.
func TestAuditPage_Readable(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	admin := ts.setUp(t)
	bot, _ := ts.MustCreateAgent(t, switchboard.NewAgent{Name: "build-bot", Kind: switchboard.MachineAgent})
	b := ts.browser()
	b.signIn(t, "admin@example.com")
	b.post(t, "/agents/"+bot.ID+"/suspend", confirmed(nil)).wantStatus(t, http.StatusSeeOther)

	res := b.get(t, "/audit").wantStatus(t, http.StatusOK)
	res.wantContains(t, `data-action="agent.status_changed">Agent suspended</span>`, `data-action="auth.signed_in">Signed in</span>`,
		`<details class="request-meta small"><summary>Request</summary><code>`, `title="20`,
		// The filters name actions, and offer people and agents by name.
		`<option value="agent.created">Agent created</option>`, `<option value="agent.">Agents: every action</option>`,
		`<select id="f-actor" name="actor">`, `<option value="`+admin.ID+`">`, `<option value="`+bot.ID+`">build-bot</option>`,
		`<select id="f-limit" name="limit">`, `<option value="50" selected>50</option>`,
		"Showing ", `href="/audit/export.csv"`).
		wantNotContains(t, "<code>agent.status_changed</code>", "request-meta\"><br>", `name="actor" type="text"`)
	b.get(t, "/agents/"+bot.ID).wantStatus(t, http.StatusOK).wantContains(t, `data-action="agent.status_changed">Agent suspended</span>`)

	// Picking a person narrows the log to what they did, and stays picked.
	b.get(t, "/audit?actor="+admin.ID).wantStatus(t, http.StatusOK).
		wantContains(t, `<option value="`+admin.ID+`" selected>`, `data-action="agent.status_changed"`)
	b.get(t, "/audit?actor="+bot.ID).wantStatus(t, http.StatusOK).
		wantContains(t, `<option value="`+bot.ID+`" selected>build-bot</option>`, "No entries match these filters")

	// A smaller page leads on to the rest, keeping its size.
	res = b.get(t, "/audit?limit=25").wantStatus(t, http.StatusOK).wantContains(t, `<option value="25" selected>25</option>`)
	b.get(t, "/audit?limit=7").wantStatus(t, http.StatusOK).wantContains(t, `<option value="50" selected>50</option>`)
	for i := range 30 {
		ts.MustCreateTeam(t, "Team "+strconv.Itoa(i))
	}
	res = b.get(t, "/audit?limit=25").wantStatus(t, http.StatusOK).wantContains(t, "Showing 25 entries", "More →", "&amp;limit=25")
	if n := strings.Count(string(res.body), `class="action"`); n != 25 {
		t.Errorf("page of 25 shows %d entries", n)
	}
}

// TestAuditExport: the log's filters select what the CSV holds, every
// entry of them, and no cell starts like a spreadsheet formula.
func TestAuditExport(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	b := ts.browser()
	b.signIn(t, "admin@example.com")
	names := []string{"=HYPERLINK(\"http://evil\")", "+1 helpdesk", "-2 night", "@SUM(A1)"}
	for _, n := range names {
		ts.MustCreateTeam(t, n)
	}
	for i := range 210 { // more than a page of the store
		ts.MustCreateTeam(t, "Team "+strconv.Itoa(i))
	}

	res := b.get(t, "/audit/export.csv?action=team.created&limit=25").wantStatus(t, http.StatusOK)
	if ct := res.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := res.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="switchboard-audit-`) {
		t.Errorf("Content-Disposition %q", cd)
	}
	records, err := csv.NewReader(bytes.NewReader(res.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(records), 1+len(names)+210; got != want {
		t.Fatalf("got %d lines, want %d (a header and every team created)", got, want)
	}
	if got := strings.Join(records[0], ","); got != "time,actor_type,actor_id,actor,action,description,target_type,target_id,target,changes,ip,request_id" {
		t.Errorf("header %s", got)
	}
	targets := map[string]bool{}
	for _, rec := range records[1:] {
		if rec[4] != "team.created" || rec[5] != "Team created" {
			t.Errorf("line %v: not a team created", rec)
		}
		targets[rec[8]] = true
		for _, cell := range rec {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("cell %q starts like a formula", cell)
			}
		}
	}
	for _, n := range names {
		if !targets["'"+n] {
			t.Errorf("team %q is not in the export as '%s", n, n)
		}
	}
	// Bad filters answer with the page and its errors, not a file.
	b.get(t, "/audit/export.csv?since=yesterday").wantStatus(t, http.StatusBadRequest).wantContains(t, "Enter a date like")

	// Supervisors export their part; agents nothing.
	sup := ts.MustCreateUser(t, "sup@example.com", switchboard.RoleSupervisor)
	ts.MustCreateTeam(t, "Mine", sup.ID)
	s := ts.browser()
	s.signIn(t, "sup@example.com")
	res = s.get(t, "/audit/export.csv").wantStatus(t, http.StatusOK).wantContains(t, "Mine").wantNotContains(t, "HYPERLINK", "Team 1")
	ts.MustCreateUser(t, "agent@example.com", switchboard.RoleAgent)
	a := ts.browser()
	a.signIn(t, "agent@example.com")
	a.get(t, "/audit/export.csv").wantStatus(t, http.StatusForbidden)
}
