package server_test

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// upload posts a file as a browser's multipart form does.
func (b *browser) upload(tb testing.TB, path, field, filename string, content []byte) *response {
	tb.Helper()
	return b.uploadWith(tb, path, nil, field, filename, content)
}

// uploadWith is upload with other fields of the form beside the file.
func (b *browser) uploadWith(tb testing.TB, path string, fields url.Values, field, filename string, content []byte) *response {
	tb.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, vs := range fields {
		for _, v := range vs {
			mw.WriteField(k, v)
		}
	}
	fw, err := mw.CreateFormFile(field, filename)
	if err != nil {
		tb.Fatal(err)
	}
	fw.Write(content)
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, b.ts.URL+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Origin", b.origin)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return do(tb, b.client, req)
}

var agentIDRE = regexp.MustCompile(`/agents/([0-9a-f-]{36})`)

func TestAgentPages(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	team, err := sqlstore.NewTeamService(ts.db).CreateTeam(systemCtx(), switchboard.NewTeam{Name: "Billing"})
	if err != nil {
		t.Fatal(err)
	}
	b := ts.browser()
	b.signIn(t, "admin@example.com")

	b.get(t, "/agents").wantStatus(t, http.StatusOK).wantContains(t, "No agents yet", `href="/agents/new"`)
	b.get(t, "/agents/new").wantStatus(t, http.StatusOK).wantContains(t, "New agent · Switchboard", `value="human" checked`, "Billing")

	t.Run("FormErrorsKeepValues", func(t *testing.T) {
		res := b.post(t, "/agents", url.Values{"kind": {"machine"}, "name": {"Bot"}, "skills": {"billing, spanish:12"},
			"capacity": {"two"}, "attributes": {"[1,2]"}, "phone": {"12"}, "teams": {team.ID}})
		res.wantStatus(t, http.StatusUnprocessableEntity).wantContains(t,
			"There is a problem", `value="Bot"`, "billing, spanish:12", `id="f-skills-error"`, "Capacity must be a whole number",
			"Attributes must be a JSON object", "E.164", `value="`+team.ID+`" checked`)
		// A level out of range is about one skill: it shows beside the skills.
		b.post(t, "/agents", url.Values{"kind": {"machine"}, "name": {"Bot"}, "skills": {"spanish:12"}, "capacity": {"1"}}).
			wantStatus(t, http.StatusUnprocessableEntity).
			wantContains(t, `id="f-skills-error"`, "levels go from 1 to 10", `href="#f-skills"`).wantNotContains(t, `#f-skills.spanish`)
	})

	var humanID string
	t.Run("CreateHumanShowsInvitationOnce", func(t *testing.T) {
		res := b.post(t, "/agents", url.Values{"kind": {"human"}, "name": {"Ada Lovelace"}, "email": {"ada@example.com"},
			"capacity": {"2"}, "skills": {"billing:7, spanish:5"}, "teams": {team.ID}, "notify": {"email", "inapp"}})
		humanID = agentIDRE.FindStringSubmatch(res.Header.Get("Location"))[1]
		res = b.follow(t, res).wantStatus(t, http.StatusOK)
		res.wantContains(t, "Invitation link for ada@example.com", "/invite/sbi_", "is not shown again")
		page := b.get(t, "/agents/"+humanID).wantStatus(t, http.StatusOK)
		page.wantContains(t, "Ada Lovelace", "pending", "billing", "Make a new invitation link", "agent.created").wantNotContains(t, "/invite/sbi_")
		// Without a confirmation, the first click only asks.
		b.post(t, "/agents/"+humanID+"/invitation", nil).wantStatus(t, http.StatusOK).
			wantContains(t, "Earlier links stop working", `name="confirm" value="yes"`).wantNotContains(t, "/invite/sbi_")
		res = b.follow(t, b.post(t, "/agents/"+humanID+"/invitation", confirmed(nil)))
		res.wantContains(t, "/invite/sbi_", "earlier links no longer work")
	})

	var machineID string
	t.Run("CreateMachineThenTokens", func(t *testing.T) {
		res := b.post(t, "/agents", url.Values{"kind": {"machine"}, "name": {"router-7"}, "capacity": {"4"}, "skills": {"linux:8"},
			"attributes": {`{"region": "emea"}`}})
		res.wantStatus(t, http.StatusSeeOther)
		machineID = agentIDRE.FindStringSubmatch(res.Header.Get("Location"))[1]
		b.get(t, "/agents/"+machineID).wantStatus(t, http.StatusOK).wantContains(t, "has been created", "Agent tokens", "No tokens", `{&#34;region&#34;:&#34;emea&#34;}`)

		res = b.follow(t, b.post(t, "/agents/"+machineID+"/tokens", url.Values{"name": {"production"}, "lifetime": {"30"}}))
		res.wantStatus(t, http.StatusOK).wantContains(t, "Token “production” created", `value="sba_`)
		secret := regexp.MustCompile(`value="(sba_[a-z2-7]+)"`).FindStringSubmatch(string(res.body))[1]
		ts.api(secret).call(t, http.MethodGet, "/api/v1/me", nil).wantStatus(t, http.StatusOK)
		page := b.get(t, "/agents/"+machineID).wantStatus(t, http.StatusOK).wantNotContains(t, secret)
		tokenID := regexp.MustCompile(`/tokens/([0-9a-f-]{36})/revoke`).FindStringSubmatch(string(page.body))[1]
		b.post(t, "/agents/"+machineID+"/tokens/"+tokenID+"/revoke", confirmed(nil)).wantStatus(t, http.StatusSeeOther)
		ts.api(secret).call(t, http.MethodGet, "/api/v1/me", nil).wantStatus(t, http.StatusUnauthorized)
	})

	t.Run("EditAndStaleVersion", func(t *testing.T) {
		b.get(t, "/agents/"+machineID+"/edit").wantStatus(t, http.StatusOK).wantContains(t, "linux:8", `name="version" value="1"`)
		form := url.Values{"name": {"router-8"}, "capacity": {"6"}, "skills": {"linux:9, docker:4"}, "version": {"1"}, "notify": {"inapp"}}
		b.post(t, "/agents/"+machineID, form).wantStatus(t, http.StatusSeeOther)
		b.get(t, "/agents/"+machineID).wantContains(t, "router-8", "docker", "Changes to router-8 have been saved")
		// The same form again carries a version that is now stale.
		form.Set("name", "router-9")
		b.post(t, "/agents/"+machineID, form).wantStatus(t, http.StatusPreconditionFailed).wantContains(t, "Someone else changed this agent", `value="router-8"`)
	})

	t.Run("LifecycleButtons", func(t *testing.T) {
		b.get(t, "/agents/"+machineID).wantContains(t, "/suspend", "/retire").wantNotContains(t, machineID+"/activate")
		b.post(t, "/agents/"+machineID+"/suspend", nil).wantStatus(t, http.StatusOK).wantContains(t, "They stop receiving work")
		b.get(t, "/agents/"+machineID).wantNotContains(t, "is now suspended")
		b.post(t, "/agents/"+machineID+"/suspend", confirmed(nil)).wantStatus(t, http.StatusSeeOther)
		b.get(t, "/agents/"+machineID).wantContains(t, "is now suspended", machineID+"/activate")
		b.post(t, "/agents/"+machineID+"/retire", confirmed(nil)).wantStatus(t, http.StatusSeeOther)
		b.get(t, "/agents/"+machineID).wantNotContains(t, machineID+"/activate", machineID+"/edit")
		b.post(t, "/agents/"+machineID+"/activate", nil).wantStatus(t, http.StatusSeeOther)
		b.get(t, "/agents/"+machineID).wantContains(t, "cannot become active", "retired is final")
		b.post(t, "/agents/"+machineID+"/explode", nil).wantStatus(t, http.StatusNotFound)
	})

	t.Run("ListAndFilters", func(t *testing.T) {
		// router-8 is retired: out of the list unless asked for.
		b.get(t, "/agents").wantStatus(t, http.StatusOK).wantContains(t, "Ada Lovelace", "billing <b>7</b>").wantNotContains(t, "router-8")
		b.get(t, "/agents?status=retired").wantContains(t, "router-8").wantNotContains(t, "Ada Lovelace")
		b.get(t, "/agents?kind=machine&show_retired=1").wantContains(t, "router-8").wantNotContains(t, "Ada Lovelace")
		b.get(t, "/agents?skill=billing&min_level=8").wantContains(t, "No agents match these filters")
		b.get(t, "/agents?team="+team.ID).wantContains(t, "Ada Lovelace").wantNotContains(t, "router-8")
		b.get(t, "/agents?status=nonsense").wantStatus(t, http.StatusBadRequest)
	})

	t.Run("InvitedUserOnUsersPage", func(t *testing.T) {
		human, _ := sqlstore.NewAgentService(ts.db).FindAgentByID(systemCtx(), humanID)
		b.get(t, "/users").wantContains(t, "ada@example.com", "invited")
		b.get(t, "/users/"+human.UserID).wantContains(t, "has not chosen a password yet")
		b.follow(t, b.post(t, "/users/"+human.UserID+"/invitation", confirmed(nil))).wantContains(t, "/invite/sbi_")
	})

	t.Run("DeletePending", func(t *testing.T) {
		b.post(t, "/agents/"+humanID+"/delete", confirmed(nil)).wantStatus(t, http.StatusSeeOther)
		b.get(t, "/agents/"+humanID).wantStatus(t, http.StatusNotFound)
	})
}

func TestImportPage(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ts := newTestServerOn(t, db, serverOptions())
		ts.setUp(t)
		b := ts.browser()
		b.signIn(t, "admin@example.com")
		b.get(t, "/agents/import").wantStatus(t, http.StatusOK).wantContains(t, `enctype="multipart/form-data"`, "Download a template")
		tpl := b.get(t, "/agents/import/template.csv").wantStatus(t, http.StatusOK)
		if !strings.HasPrefix(tpl.Header.Get("Content-Type"), "text/csv") {
			t.Errorf("template Content-Type %q", tpl.Header.Get("Content-Type"))
		}
		// The template itself imports.
		res := b.upload(t, "/agents/import", "file", "template.csv", tpl.body).wantStatus(t, http.StatusCreated)
		res.wantContains(t, "Imported 2 agents from template.csv", "invited 1 new user", "ada@example.com", "/invite/sbi_")

		bad := "name,kind,skills\nfine,machine,linux:3\nbroken,machine,linux:99\n,robot,\n"
		res = b.upload(t, "/agents/import", "file", "bad.csv", []byte(bad)).wantStatus(t, http.StatusUnprocessableEntity)
		res.wantContains(t, "problems in bad.csv", "Nothing was imported", `<td class="num" data-label="Line">3</td>`, `<td class="num" data-label="Line">4</td>`, "skills.linux")
		b.get(t, "/agents?q=fine").wantContains(t, "No agents match")
		b.upload(t, "/agents/import", "file", "latin1.csv", []byte("name,kind\n\xe9,machine\n")).
			wantStatus(t, http.StatusUnprocessableEntity).wantContains(t, "not UTF-8")
		b.post(t, "/agents/import", url.Values{}).wantStatus(t, http.StatusBadRequest)
	})
}

// TestAgentPagesScope: supervisors see only their teams' agents in the UI
// too; agent-role users see only their own profile.
func TestAgentPagesScope(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	alice := ts.MustCreateUser(t, "alice@example.com", switchboard.RoleSupervisor)
	teams := sqlstore.NewTeamService(ts.db)
	teamA, _ := teams.CreateTeam(systemCtx(), switchboard.NewTeam{Name: "A", SupervisorIDs: []string{alice.ID}})
	teamB, _ := teams.CreateTeam(systemCtx(), switchboard.NewTeam{Name: "B"})
	agents := sqlstore.NewAgentService(ts.db)
	both, _, _ := agents.CreateAgent(systemCtx(), switchboard.NewAgent{Name: "In both", Kind: "machine", TeamIDs: []string{teamA.ID, teamB.ID}})
	inB, _, _ := agents.CreateAgent(systemCtx(), switchboard.NewAgent{Name: "Only B", Kind: "machine", TeamIDs: []string{teamB.ID}})

	b := ts.browser()
	b.signIn(t, "alice@example.com")
	b.get(t, "/agents").wantStatus(t, http.StatusOK).wantContains(t, "In both").wantNotContains(t, "Only B")
	b.get(t, "/agents/"+inB.ID).wantStatus(t, http.StatusNotFound)
	b.get(t, "/agents/"+inB.ID+"/edit").wantStatus(t, http.StatusNotFound)
	b.post(t, "/agents/"+inB.ID+"/suspend", nil).wantStatus(t, http.StatusNotFound)
	b.post(t, "/agents/"+inB.ID, url.Values{"name": {"Stolen"}, "capacity": {"1"}, "version": {"1"}}).wantStatus(t, http.StatusNotFound)
	b.get(t, "/agents/import").wantStatus(t, http.StatusForbidden)
	b.post(t, "/agents/"+both.ID+"/tokens", url.Values{"name": {"x"}, "lifetime": {"0"}}).wantStatus(t, http.StatusForbidden)
	got, _ := agents.FindAgentByID(systemCtx(), inB.ID)
	if got.Name != "Only B" || got.Status != switchboard.AgentActive {
		t.Fatalf("team B's agent changed: %+v", got)
	}

	// The edit form shows only team A; saving it keeps the agent in team B.
	b.get(t, "/agents/"+both.ID+"/edit").wantStatus(t, http.StatusOK).wantNotContains(t, `value="`+teamB.ID+`"`)
	b.post(t, "/agents/"+both.ID, url.Values{"name": {"Renamed"}, "capacity": {"1"}, "teams": {teamA.ID}, "version": {"1"}}).
		wantStatus(t, http.StatusSeeOther)
	got, _ = agents.FindAgentByID(systemCtx(), both.ID)
	if got.Name != "Renamed" || len(got.Teams) != 2 {
		t.Errorf("after a supervisor's edit: %+v", got)
	}
	// A supervisor creates agents in their own teams.
	b.post(t, "/agents", url.Values{"kind": {"machine"}, "name": {"Nowhere"}, "capacity": {"1"}}).
		wantStatus(t, http.StatusUnprocessableEntity).wantContains(t, "at least one of your teams")
	b.post(t, "/agents", url.Values{"kind": {"machine"}, "name": {"Mine"}, "capacity": {"1"}, "teams": {teamA.ID}}).wantStatus(t, http.StatusSeeOther)

	// An agent-role user: no agent pages, only their profile.
	human, inv, _ := agents.CreateAgent(systemCtx(), switchboard.NewAgent{Name: "Hu Man", Kind: "human", Email: "hu@example.com",
		TeamIDs: []string{teamA.ID}, Skills: map[string]int{"billing": 6}})
	if _, err := sqlstore.NewUserService(ts.db).AcceptInvitation(t.Context(), inv.Secret, "a long new password"); err != nil {
		t.Fatal(err)
	}
	h := ts.browser()
	res := h.post(t, "/signin", url.Values{"email": {"hu@example.com"}, "password": {"a long new password"}})
	res.wantStatus(t, http.StatusSeeOther)
	h.get(t, "/agents").wantStatus(t, http.StatusForbidden)
	h.get(t, "/agents/"+human.ID).wantStatus(t, http.StatusForbidden)
	h.get(t, "/profile").wantStatus(t, http.StatusOK).wantContains(t, "My profile · Switchboard", "Hu Man", "billing").
		wantNotContains(t, "/edit", "/suspend", "Recent history")
	if loc := h.get(t, "/").wantStatus(t, http.StatusSeeOther).Header.Get("Location"); loc != "/my-work" {
		t.Errorf("an agent's home redirects to %q, want /my-work", loc)
	}
	h.get(t, "/account").wantContains(t, `href="/profile"`).wantNotContains(t, `href="/agents"`)
}

// TestAgentPage_MachineProfileAndHistory: a machine agent's page leaves out
// the contact rows it has no use for, and its history names skills as
// words and tells of its tokens.
func TestAgentPage_MachineProfileAndHistory(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	bot, _ := ts.MustCreateAgent(t, switchboard.NewAgent{Name: "build-bot", Kind: switchboard.MachineAgent})
	skills := map[string]int{"refunds": 2, "billing": 3}
	if _, err := sqlstore.NewAgentService(ts.db).UpdateAgent(systemCtx(), bot.ID, switchboard.AgentUpdate{Skills: &skills}); err != nil {
		t.Fatal(err)
	}
	person, _ := ts.MustCreateAgent(t, switchboard.NewAgent{Name: "Ada", Kind: switchboard.HumanAgent, Email: "ada@example.com"})
	b := ts.browser()
	b.signIn(t, "admin@example.com")
	b.follow(t, b.post(t, "/agents/"+bot.ID+"/tokens", url.Values{"name": {"production"}, "lifetime": {"0"}})).wantStatus(t, http.StatusOK)

	b.get(t, "/agents/"+bot.ID).wantStatus(t, http.StatusOK).
		wantContains(t, "<dt>Capacity</dt>", "billing 3, refunds 2",
			`data-action="token.created">Token issued</span> “production`).
		wantNotContains(t, "<dt>E-mail</dt>", "<dt>Phone</dt>", `{&#34;billing&#34;`, `{"billing"`)
	b.get(t, "/agents/"+person.ID).wantStatus(t, http.StatusOK).wantContains(t, "<dt>E-mail</dt><dd>ada@example.com</dd>", "<dt>Phone</dt><dd>—</dd>")
}

// TestImportInvitationLinks: many invitation links come as a file to
// download and a few on the page, in the answer to the import only.
func TestImportInvitationLinks(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	b := ts.browser()
	b.signIn(t, "admin@example.com")
	var in strings.Builder
	in.WriteString("name,kind,email\n")
	for i := range 12 {
		fmt.Fprintf(&in, "Person %d,human,p%02d@example.com\n", i, i)
	}
	in.WriteString("=Evil,human,evil@example.com\n")
	res := b.upload(t, "/agents/import", "file", "people.csv", []byte(in.String())).wantStatus(t, http.StatusCreated)
	res.wantContains(t, "13 invitation links", "Download the 13 links as CSV", `download="switchboard-invitations.csv"`, "The first 5:")
	if n := strings.Count(string(res.body), "/invite/sbi_"); n != 5 {
		t.Errorf("the page shows %d links, want 5", n)
	}
	m := regexp.MustCompile(`href="data:text/csv;charset=utf-8;base64,([A-Za-z0-9+/=]+)"`).FindSubmatch(res.body)
	if m == nil {
		t.Fatal("no CSV of the links")
	}
	raw, err := base64.StdEncoding.DecodeString(string(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	records, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 14 || strings.Join(records[0], ",") != "name,email,link" {
		t.Fatalf("links file: %d lines, header %v", len(records), records[0])
	}
	byEmail := map[string][]string{}
	for _, r := range records[1:] {
		byEmail[r[1]] = r
		if !strings.Contains(r[2], "/invite/sbi_") {
			t.Errorf("line %v holds no link", r)
		}
	}
	if r := byEmail["p07@example.com"]; r == nil || r[0] != "Person 7" {
		t.Errorf("p07 line %v", r)
	}
	if r := byEmail["evil@example.com"]; r == nil || r[0] != "'=Evil" {
		t.Errorf("a name like a formula is not neutralised: %v", r)
	}
	// The links are not kept: the import page shows none afterwards.
	b.get(t, "/agents/import").wantStatus(t, http.StatusOK).wantNotContains(t, "/invite/sbi_", "data:text/csv")
}

// TestImportNotTwice: sending the same upload again, as reloading the
// result page does, imports nothing the second time; the next showing of
// the form imports again.
func TestImportNotTwice(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	b := ts.browser()
	b.signIn(t, "admin@example.com")
	once := between(string(b.get(t, "/agents/import").wantStatus(t, http.StatusOK).body), `name="once" value="`, `"`)
	if once == "" {
		t.Fatal("the import form carries no token of its showing")
	}
	csv := []byte("name,kind\nrunner-1,machine\nrunner-2,machine\n")
	res := b.uploadWith(t, "/agents/import", url.Values{"once": {once}}, "file", "runners.csv", csv).wantStatus(t, http.StatusCreated)
	next := between(string(res.body), `name="once" value="`, `"`)
	if next == "" || next == once {
		t.Errorf("the result's form carries %q, want a new token", next)
	}
	b.uploadWith(t, "/agents/import", url.Values{"once": {once}}, "file", "runners.csv", csv).
		wantStatus(t, http.StatusConflict).wantContains(t, "imported already")
	p, err := sqlstore.NewAgentService(ts.db).FindAgents(systemCtx(), switchboard.AgentFilter{Query: "runner"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Items) != 2 {
		t.Errorf("%d runners after sending the upload twice, want 2", len(p.Items))
	}
	// A new showing of the form imports again.
	b.uploadWith(t, "/agents/import", url.Values{"once": {next}}, "file", "runners.csv", csv).wantStatus(t, http.StatusCreated)
}
