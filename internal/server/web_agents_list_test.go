package server_test

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
)

func TestAgentList(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	team := ts.MustCreateTeam(t, "Night shift")
	var ids []string
	for i := range 30 {
		a, _ := ts.MustCreateAgent(t, switchboard.NewAgent{Name: fmt.Sprintf("bot-%02d", i), Kind: switchboard.MachineAgent,
			Skills: map[string]int{"billing": i%10 + 1, "linux": 2, "docker": 3, "go": 4, "sql": 1}})
		ids = append(ids, a.ID)
	}
	formula, _ := ts.MustCreateAgent(t, switchboard.NewAgent{Name: "=HYPERLINK(\"http://evil.example\")", Kind: switchboard.MachineAgent})
	agents := sqlstore.NewAgentService(ts.db)
	if _, err := agents.SetAgentStatus(systemCtx(), ids[29], switchboard.AgentRetired, 0); err != nil {
		t.Fatal(err)
	}
	b := ts.browser()
	b.signIn(t, "admin@example.com")

	t.Run("CountAndPageSize", func(t *testing.T) {
		res := b.get(t, "/agents?limit=25").wantStatus(t, http.StatusOK).wantContains(t, "1–25 of 30", `<option value="25" selected>`)
		next := regexpFind(t, res, `href="(/agents\?[^"]*cursor=[^"]*)"`)
		b.get(t, strings.ReplaceAll(next, "&amp;", "&")).wantStatus(t, http.StatusOK).wantContains(t, "26–30 of 30")
	})
	t.Run("RetiredHidden", func(t *testing.T) {
		b.get(t, "/agents?limit=200").wantNotContains(t, "bot-29")
		b.get(t, "/agents?limit=200&show_retired=1").wantContains(t, "bot-29", "1–31 of 31")
		b.get(t, "/agents?status=retired").wantContains(t, "bot-29", "1–1 of 1")
	})
	t.Run("Sort", func(t *testing.T) {
		res := b.get(t, "/agents?sort=-name&limit=200").wantStatus(t, http.StatusOK).
			wantContains(t, `aria-sort="descending"`, `href="/agents?limit=200&amp;sort=name"`)
		if i, j := strings.Index(string(res.body), "bot-28"), strings.Index(string(res.body), "bot-00"); i < 0 || j < i {
			t.Error("-name does not list bot-28 before bot-00")
		}
		res = b.get(t, "/agents?skill=billing&sort=-skill_level").wantStatus(t, http.StatusOK).wantContains(t, "Level of billing")
		if i, j := strings.Index(string(res.body), "bot-09"), strings.Index(string(res.body), "bot-00"); i < 0 || j < i {
			t.Error("-skill_level does not list bot-09 (level 10) before bot-00 (level 1)")
		}
		b.get(t, "/agents?sort=skill_level").wantStatus(t, http.StatusBadRequest)
	})
	t.Run("DenseRows", func(t *testing.T) {
		// Five skills: the three highest, then how many more.
		b.get(t, "/agents?q=bot-05").wantContains(t, "billing <b>6</b>", "go <b>4</b>", "docker <b>3</b>", "+2").
			wantNotContains(t, "linux <b>2</b>")
		b.get(t, "/agents?q=bot-05").wantContains(t, `<time datetime="`, `title="`)
	})
	t.Run("ExportCSV", func(t *testing.T) {
		res := b.get(t, "/agents/export.csv?kind=machine").wantStatus(t, http.StatusOK)
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
			t.Errorf("Content-Type %q", ct)
		}
		rows, err := csv.NewReader(strings.NewReader(string(res.body))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 31 || rows[0][1] != "name" { // a header and 30 agents, the retired one left out
			t.Fatalf("%d rows, header %v", len(rows), rows[0])
		}
		found := false
		for _, r := range rows {
			if r[0] == formula.ID {
				found = true
				if r[1] != `'=HYPERLINK("http://evil.example")` {
					t.Errorf("formula cell %q, want it neutralised", r[1])
				}
			}
		}
		if !found {
			t.Error("the agent with a formula for a name is not exported")
		}
		b.get(t, "/agents/export.csv?status=gone").wantStatus(t, http.StatusBadRequest)
	})
	t.Run("BulkSuspendConfirmed", func(t *testing.T) {
		form := url.Values{"action": {"suspend"}, "ids": {ids[0], ids[1]}}
		b.post(t, "/agents/bulk?kind=machine", form).wantStatus(t, http.StatusOK).
			wantContains(t, "Suspend 2 agents?", "bot-00", "bot-01", `name="confirm" value="yes"`)
		if a, _ := agents.FindAgentByID(systemCtx(), ids[0]); a.Status != switchboard.AgentActive {
			t.Fatal("suspended before the confirmation")
		}
		form.Set("confirm", "yes")
		res := b.post(t, "/agents/bulk?kind=machine", form).wantStatus(t, http.StatusSeeOther)
		if loc := res.Header.Get("Location"); loc != "/agents?kind=machine" {
			t.Errorf("Location %q", loc)
		}
		b.get(t, "/agents?kind=machine").wantContains(t, "Suspended 2 agents.")
		// All or nothing: one already suspended refuses both.
		form.Set("ids", ids[2])
		form.Add("ids", ids[0])
		b.post(t, "/agents/bulk", form).wantStatus(t, http.StatusSeeOther)
		b.get(t, "/agents").wantContains(t, "flash-error", "already suspended")
		if a, _ := agents.FindAgentByID(systemCtx(), ids[2]); a.Status != switchboard.AgentActive {
			t.Error("bot-02 suspended although the action was refused")
		}
	})
	t.Run("BulkAllMatching", func(t *testing.T) {
		b.post(t, "/agents/bulk?q=bot-1", url.Values{"action": {"add_to_team"}, "team_id": {team.ID}, "scope": {"all"}}).
			wantStatus(t, http.StatusSeeOther)
		b.get(t, "/agents").wantContains(t, "Added 10 agents to Night shift.")
		b.post(t, "/agents/bulk", url.Values{"action": {"add_to_team"}, "ids": {ids[0]}}).wantStatus(t, http.StatusSeeOther)
		b.get(t, "/agents").wantContains(t, "Choose the team")
		b.post(t, "/agents/bulk", url.Values{"action": {"retire"}}).wantStatus(t, http.StatusSeeOther)
		b.get(t, "/agents").wantContains(t, "Select at least one agent")
	})
	t.Run("TeamPageAddsMany", func(t *testing.T) {
		other := ts.MustCreateTeam(t, "Day shift")
		b.post(t, "/teams/"+other.ID+"/members", url.Values{"agent_id": {ids[3], ids[4], ids[5]}}).wantStatus(t, http.StatusSeeOther)
		b.get(t, "/teams/"+other.ID).wantContains(t, "3 agents added to Day shift.", "bot-03", "bot-05")
	})
}

// regexpFind returns the first group of pattern in a page. It fails the test
// when the page has no match.
func regexpFind(tb testing.TB, res *response, pattern string) string {
	tb.Helper()
	m := regexp.MustCompile(pattern).FindSubmatch(res.body)
	if m == nil {
		tb.Fatalf("%s: no match for %s", res.Request.URL.Path, pattern)
	}
	return string(m[1])
}
