package server_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
)

var (
	scriptTagRE    = regexp.MustCompile(`(?i)<script\b[^>]*>`)
	styleAttrRE    = regexp.MustCompile(`(?i)\sstyle\s*=|<style\b`)
	handlerAttrRE  = regexp.MustCompile(`(?i)<[a-z][^>]*\son[a-z]+\s*=`)
	javascriptURLs = regexp.MustCompile(`(?i)(href|action|src)\s*=\s*"\s*javascript:`)
)

// wantNoInlineCode fails when a page holds code the Content-Security-Policy
// would block: inline scripts, style attributes or elements, event handler
// attributes, javascript: URLs.
func (r *response) wantNoInlineCode(tb testing.TB) {
	tb.Helper()
	body := string(r.body)
	for _, tag := range scriptTagRE.FindAllString(body, -1) {
		if !strings.Contains(tag, " src=") {
			tb.Errorf("%s: inline script %s", r.Request.URL, tag)
		}
	}
	for _, re := range []*regexp.Regexp{styleAttrRE, handlerAttrRE, javascriptURLs} {
		if m := re.FindString(body); m != "" {
			tb.Errorf("%s: inline code %q", r.Request.URL, m)
		}
	}
}

// TestTeamEnrollmentAuditInvitePagesHaveNoInlineCode checks every state of
// the new pages, errors and secrets included, against the strict CSP.
func TestTeamEnrollmentAuditInvitePagesHaveNoInlineCode(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	grace := ts.MustCreateUser(t, "grace@example.com", switchboard.RoleSupervisor)
	team := ts.MustCreateTeam(t, "Billing", grace.ID)
	ts.MustCreateAgent(t, switchboard.NewAgent{Name: "runner-1", Kind: switchboard.MachineAgent, TeamIDs: []string{team.ID}})
	ts.MustCreateAgent(t, switchboard.NewAgent{Name: "runner-2", Kind: switchboard.MachineAgent})
	_, inv := ts.MustCreateAgent(t, switchboard.NewAgent{Name: "Barbara", Kind: switchboard.HumanAgent, Email: "barbara@example.com"})
	b := ts.browser()
	b.signIn(t, "admin@example.com")

	for _, res := range []*response{
		b.get(t, "/teams").wantStatus(t, http.StatusOK),
		b.get(t, "/teams?q=none").wantStatus(t, http.StatusOK),
		b.get(t, "/teams/new").wantStatus(t, http.StatusOK),
		b.post(t, "/teams", url.Values{"name": {""}}).wantStatus(t, http.StatusUnprocessableEntity),
		b.get(t, "/teams/"+team.ID+"?add_q=runner").wantStatus(t, http.StatusOK),
		b.get(t, "/enrollment").wantStatus(t, http.StatusOK),
		b.post(t, "/enrollment", url.Values{"name": {""}, "lifetime": {"x"}}).wantStatus(t, http.StatusUnprocessableEntity),
		b.follow(t, b.post(t, "/enrollment", url.Values{"name": {"fleet"}, "lifetime": {"7"}})).wantContains(t, "Key “fleet” created"),
		b.get(t, "/audit").wantStatus(t, http.StatusOK),
		b.get(t, "/audit?since=bad").wantStatus(t, http.StatusBadRequest),
		ts.browser().get(t, "/invite/"+inv.Secret).wantStatus(t, http.StatusOK),
		ts.browser().post(t, "/invite/"+inv.Secret, url.Values{"password": {"a"}, "password_confirm": {"b"}}).wantStatus(t, http.StatusUnprocessableEntity),
		ts.browser().get(t, "/invite/sbi_nothing").wantStatus(t, http.StatusNotFound),
	} {
		res.wantNoInlineCode(t)
	}
}

// TestQueueAndTaskPagesHaveNoInlineCode checks the queue and task pages, in
// their states with errors too, against the strict CSP.
func TestQueueAndTaskPagesHaveNoInlineCode(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	team := ts.MustCreateTeam(t, "Billing")
	queue := ts.MustCreateQueue(t, switchboard.NewQueue{Name: "Callbacks", TeamIDs: []string{team.ID}})
	task := ts.MustCreateTask(t, switchboard.NewTask{QueueID: queue.ID, Title: "Call back", Attributes: map[string]any{"crm": "A-1"}})
	b := ts.browser()
	b.signIn(t, "admin@example.com")

	for _, res := range []*response{
		b.get(t, "/queues").wantStatus(t, http.StatusOK),
		b.get(t, "/queues?q=none").wantStatus(t, http.StatusOK),
		b.get(t, "/queues/new").wantStatus(t, http.StatusOK),
		b.post(t, "/queues", url.Values{"name": {""}, "max_offers": {"x"}}).wantStatus(t, http.StatusUnprocessableEntity),
		b.get(t, "/queues/"+queue.ID).wantStatus(t, http.StatusOK),
		b.get(t, "/tasks").wantStatus(t, http.StatusOK),
		b.get(t, "/tasks?min_priority=x").wantStatus(t, http.StatusBadRequest),
		b.get(t, "/tasks/new").wantStatus(t, http.StatusOK),
		b.post(t, "/tasks", url.Values{"queue": {queue.ID}, "title": {""}}).wantStatus(t, http.StatusUnprocessableEntity),
		b.get(t, "/tasks/"+task.ID).wantStatus(t, http.StatusOK).wantContains(t, "&#34;crm&#34;:&#34;A-1&#34;"),
	} {
		res.wantNoInlineCode(t)
	}
}
