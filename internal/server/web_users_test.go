package server_test

import (
	"net/http"
	"regexp"
	"testing"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
)

// TestUsersPage: each user shows one state, the teams they supervise and
// the agent they work as.
func TestUsersPage(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	sup := ts.MustCreateUser(t, "sup@example.com", switchboard.RoleSupervisor)
	billing := ts.MustCreateTeam(t, "Billing", sup.ID)
	refunds := ts.MustCreateTeam(t, "Refunds", sup.ID)
	ts.MustCreateTeam(t, "Nobody's")
	ada, _ := ts.MustCreateAgent(t, switchboard.NewAgent{Name: "Ada", Kind: switchboard.HumanAgent, Email: "ada@example.com"})
	off := ts.MustCreateUser(t, "off@example.com", switchboard.RoleAgent)
	disabled := switchboard.UserDisabled
	if _, err := sqlstore.NewUserService(ts.db).UpdateUser(systemCtx(), off.ID, switchboard.UserUpdate{Status: &disabled}); err != nil {
		t.Fatal(err)
	}

	b := ts.browser()
	b.signIn(t, "admin@example.com")
	res := b.get(t, "/users").wantStatus(t, http.StatusOK).
		wantContains(t, "<th scope=\"col\">Supervises</th>", "<th scope=\"col\">Agent</th>",
			`<a href="/teams/`+billing.ID+`">Billing</a>, <a href="/teams/`+refunds.ID+`">Refunds</a>`,
			`<a href="/agents/`+ada.ID+`">Ada</a>`, "not signed in yet").
		wantNotContains(t, "Nobody&#39;s")
	row := func(email string) string {
		m := regexp.MustCompile(`(?s)<tr>\s*<td[^>]*><a href="/users/[^"]+">[^<]*</a></td>\s*<td[^>]*>` + regexp.QuoteMeta(email) + `</td>.*?</tr>`).Find(res.body)
		if m == nil {
			t.Fatalf("no row for %s", email)
		}
		return string(m)
	}
	for email, want := range map[string]string{"ada@example.com": ">invited</span>", "sup@example.com": ">active</span>", "off@example.com": ">disabled</span>"} {
		r := row(email)
		if !regexp.MustCompile(want).MatchString(r) {
			t.Errorf("%s: row lacks %s: %s", email, want, r)
		}
		if n := len(regexp.MustCompile(`class="badge badge-status-`).FindAllString(r, -1)); n != 1 {
			t.Errorf("%s: %d state badges, want one: %s", email, n, r)
		}
	}
}
