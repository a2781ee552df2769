package server_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
)

// Every form reports all of its mistakes in one answer, each beside its
// field, rather than one after another as they are corrected.

// wantFieldErrors checks that each field has its error beside it, saying
// what is wanted.
func (r *response) wantFieldErrors(tb testing.TB, fieldMessages ...string) *response {
	tb.Helper()
	for i := 0; i+1 < len(fieldMessages); i += 2 {
		field, message := fieldMessages[i], fieldMessages[i+1]
		r.wantContains(tb, `id="f-`+field+`-error"`, `href="#f-`+field+`"`, message)
	}
	return r
}

func TestAgentFormsReportEveryMistake(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	bot, _, err := sqlstore.NewAgentService(ts.db).CreateAgent(systemCtx(), switchboard.NewAgent{Name: "Bot", Kind: "machine"})
	if err != nil {
		t.Fatal(err)
	}
	b := ts.browser()
	b.signIn(t, "admin@example.com")

	t.Run("Edit", func(t *testing.T) {
		// Two mistakes the form finds (skills, capacity) and three the
		// domain finds (name, e-mail, phone): all in one answer.
		res := b.post(t, "/agents/"+bot.ID, url.Values{"name": {""}, "email": {"bot@"}, "phone": {"12"}, "skills": {"linux"},
			"capacity": {"two"}, "notify": {"inapp"}, "version": {"1"}})
		res.wantStatus(t, http.StatusUnprocessableEntity).wantFieldErrors(t,
			"name", "Name is required",
			"email", "Enter a valid e-mail address",
			"phone", "E.164",
			"skills", "Write each skill as name:level",
			"capacity", "Capacity must be a whole number")
		// The summary lists them in the order of the page.
		body := string(res.body)
		if i, j := strings.Index(body, `href="#f-name"`), strings.Index(body, `href="#f-capacity"`); i < 0 || j < i {
			t.Errorf("summary out of page order: name at %d, capacity at %d", i, j)
		}
	})

	t.Run("EditWithUnknownTeam", func(t *testing.T) {
		// A team that does not exist is found by the service, together with
		// the fields' own mistakes.
		b.post(t, "/agents/"+bot.ID, url.Values{"name": {""}, "capacity": {"0"}, "teams": {"0190aaaa-0000-7000-8000-000000000000"},
			"notify": {"inapp"}, "version": {"1"}}).
			wantStatus(t, http.StatusUnprocessableEntity).wantFieldErrors(t,
			"name", "Name is required",
			"capacity", "Capacity is the number of tasks",
			"teams", "One of the teams does not exist")
	})

	t.Run("New", func(t *testing.T) {
		b.post(t, "/agents", url.Values{"kind": {"human"}, "name": {""}, "phone": {"12"}, "capacity": {"x"},
			"teams": {"0190aaaa-0000-7000-8000-000000000000"}}).
			wantStatus(t, http.StatusUnprocessableEntity).wantFieldErrors(t,
			"name", "Name is required",
			"email", "A human agent needs an e-mail address",
			"phone", "E.164",
			"capacity", "Capacity must be a whole number")
	})

	t.Run("Token", func(t *testing.T) {
		b.post(t, "/agents/"+bot.ID+"/tokens", url.Values{"name": {""}, "lifetime": {"forever"}}).
			wantStatus(t, http.StatusUnprocessableEntity).wantFieldErrors(t,
			"name", "Name is required",
			"lifetime", "Choose how long the token should last")
	})
}

func TestAccountFormsReportEveryMistake(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	b := ts.browser()
	b.signIn(t, "admin@example.com")

	t.Run("PasswordChange", func(t *testing.T) {
		b.post(t, "/account/password", url.Values{"current_password": {"not my password"}, "new_password": {"short"},
			"new_password_confirm": {"different"}}).
			wantStatus(t, http.StatusUnprocessableEntity).wantFieldErrors(t,
			"current_password", "The current password is incorrect",
			"new_password", "Password must be at least 12 characters",
			"new_password_confirm", "The new passwords do not match")
		// Nothing changed: the old password still signs in.
		ts.browser().signIn(t, "admin@example.com")
	})

	t.Run("PasswordChangeEmptyCurrent", func(t *testing.T) {
		b.post(t, "/account/password", url.Values{"new_password": {"a long enough new password"}, "new_password_confirm": {"a long enough new password"}}).
			wantStatus(t, http.StatusUnprocessableEntity).wantFieldErrors(t, "current_password", "Enter your current password")
	})

	t.Run("Token", func(t *testing.T) {
		b.post(t, "/account/tokens", url.Values{"name": {" "}, "lifetime": {"-4"}}).
			wantStatus(t, http.StatusUnprocessableEntity).wantFieldErrors(t,
			"name", "Name is required",
			"lifetime", "Choose how long the token should last")
	})
}

func TestPeopleFormsReportEveryMistake(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	ts.MustCreateUser(t, "taken@example.com", switchboard.RoleAgent)
	b := ts.browser()
	b.signIn(t, "admin@example.com")

	t.Run("SignIn", func(t *testing.T) {
		ts.browser().post(t, "/signin", url.Values{"email": {""}, "password": {""}}).
			wantStatus(t, http.StatusUnprocessableEntity).wantFieldErrors(t,
			"email", "Enter your e-mail address",
			"password", "Enter your password")
	})

	t.Run("NewUserMismatch", func(t *testing.T) {
		b.post(t, "/users", url.Values{"email": {"nobody@"}, "name": {""}, "role": {"agent"}, "password": {"short"}, "password_confirm": {"other"}}).
			wantStatus(t, http.StatusUnprocessableEntity).wantFieldErrors(t,
			"email", "Enter a valid e-mail address",
			"name", "Name is required",
			"password", "Password must be at least 12 characters",
			"password_confirm", "The passwords do not match")
	})

	t.Run("NewUserAddressTaken", func(t *testing.T) {
		// An address in use is reported with the other mistakes.
		b.post(t, "/users", url.Values{"email": {"taken@example.com"}, "name": {""}, "role": {"agent"},
			"password": {"a long enough password"}, "password_confirm": {"a long enough password"}}).
			wantStatus(t, http.StatusUnprocessableEntity).wantFieldErrors(t,
			"email", "A user with this e-mail address already exists",
			"name", "Name is required")
		// And with passwords that do not match, too.
		b.post(t, "/users", url.Values{"email": {"taken@example.com"}, "name": {""}, "role": {"agent"},
			"password": {"a long enough password"}, "password_confirm": {"another long password"}}).
			wantStatus(t, http.StatusUnprocessableEntity).wantFieldErrors(t,
			"email", "A user with this e-mail address already exists",
			"name", "Name is required",
			"password_confirm", "The passwords do not match")
	})

	t.Run("Invite", func(t *testing.T) {
		_, inv, err := sqlstore.NewAgentService(ts.db).CreateAgent(systemCtx(), switchboard.NewAgent{Name: "Ann", Kind: "human", Email: "ann@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		ts.browser().post(t, "/invite/"+inv.Secret, url.Values{"password": {"short"}, "password_confirm": {"shorter"}}).
			wantStatus(t, http.StatusUnprocessableEntity).wantFieldErrors(t,
			"password", "Password must be at least 12 characters",
			"password_confirm", "The passwords do not match")
	})

	t.Run("NewTeam", func(t *testing.T) {
		if _, err := sqlstore.NewTeamService(ts.db).CreateTeam(systemCtx(), switchboard.NewTeam{Name: "Billing"}); err != nil {
			t.Fatal(err)
		}
		// A name in use, a description too long and a supervisor who
		// cannot be one: all three at once.
		agent := ts.MustCreateUser(t, "agent@example.com", switchboard.RoleAgent)
		b.post(t, "/teams", url.Values{"name": {"billing"}, "description": {strings.Repeat("d", 1001)}, "supervisors": {agent.ID}}).
			wantStatus(t, http.StatusUnprocessableEntity).wantFieldErrors(t,
			"name", "A team with this name already exists",
			"description", "Description must be at most",
			"supervisors", "Supervisors must be active users")
	})
}

// TestImportReportsEveryLine: a team that does not exist is reported with
// the other lines' mistakes, each with its line, rather than once they are
// corrected.
func TestImportReportsEveryLine(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	admin := ts.setUp(t)
	ts.MustCreateUser(t, "taken@example.com", switchboard.RoleAgent)
	b := ts.browser()
	b.signIn(t, "admin@example.com")
	if _, _, err := sqlstore.NewAgentService(ts.db).CreateAgent(systemCtx(), switchboard.NewAgent{Name: "Has one", Kind: "human", Email: "taken@example.com"}); err != nil {
		t.Fatal(err)
	}

	csv := "name,kind,email,skills,capacity,teams\n" +
		"Ada,human,ada@example.com,billing:7,1,Nowhere\n" + // line 2: unknown team only
		"Bob,machine,,billing:11,x,\n" + // line 3: level and capacity
		"Cy,human,taken@example.com,,,\n" + // line 4: address already has an agent
		"\"Dee,machine\n" // line 5: a quote never closed
	res := b.upload(t, "/agents/import", "file", "mixed.csv", []byte(csv)).wantStatus(t, http.StatusUnprocessableEntity)
	res.wantContains(t, "Nothing was imported",
		`<td class="num" data-label="Line">2</td>`, "There is no team named &#34;Nowhere&#34;",
		`<td class="num" data-label="Line">3</td>`, "levels go from 1 to 10", "is not a whole number",
		`<td class="num" data-label="Line">4</td>`, "taken@example.com already has an agent",
		`<td class="num" data-label="Line">5</td>`)
	b.get(t, "/agents?q=Ada").wantContains(t, "No agents match")

	t.Run("API", func(t *testing.T) {
		secret, _ := ts.MustCreateToken(t, admin)
		res := ts.api(secret).call(t, http.MethodPost, "/api/v1/agents/import", csv, "Content-Type", "text/csv").
			wantStatus(t, http.StatusUnprocessableEntity)
		res.wantContains(t, "Nowhere", "already has an agent", "levels go from 1 to 10")
	})
}

// TestAPIReportsEveryField: the API shares the domain's validation, and its
// problem document lists every field at fault.
func TestAPIReportsEveryField(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	admin := ts.setUp(t)
	secret, _ := ts.MustCreateToken(t, admin)
	api := ts.api(secret)

	locations := func(res *response) []string {
		t.Helper()
		var problem struct {
			Errors []struct{ Location, Message string }
		}
		res.decode(t, &problem)
		var out []string
		for _, e := range problem.Errors {
			out = append(out, e.Location)
		}
		return out
	}

	res := api.call(t, http.MethodPost, "/api/v1/agents", map[string]any{"name": "", "kind": "human", "phone": "12",
		"skills": map[string]int{"billing": 11}, "teams": []string{"0190aaaa-0000-7000-8000-000000000000"}}).
		wantStatus(t, http.StatusUnprocessableEntity)
	got := locations(res)
	for _, want := range []string{"body.name", "body.email", "body.phone", "body.skills.billing", "body.teams"} {
		if !slices.Contains(got, want) {
			t.Errorf("errors at %v, want one at %s; body: %s", got, want, res.body)
		}
	}

}

func TestQueueFormReportsEveryMistake(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	ts.MustCreateQueue(t, switchboard.NewQueue{Name: "Callbacks"})
	b := ts.browser()
	b.signIn(t, "admin@example.com")

	// A name in use is reported with the fields' own mistakes.
	b.post(t, "/queues", url.Values{"name": {"callbacks"}, "strategy": {"bogus"}, "max_offers": {"0"}}).
		wantStatus(t, http.StatusUnprocessableEntity).wantFieldErrors(t,
		"name", "A queue with this name already exists",
		"strategy", "Strategy",
		"max_offers", "")
	// Also beside a number that does not parse.
	b.post(t, "/queues", url.Values{"name": {"Callbacks"}, "offer_timeout_seconds": {"soon"}}).
		wantStatus(t, http.StatusUnprocessableEntity).wantFieldErrors(t,
		"name", "A queue with this name already exists",
		"offer_timeout_seconds", "whole seconds")
	// A task's unknown queue is named beside a date that does not parse.
	b.post(t, "/tasks", url.Values{"queue": {"01a23479-0000-7000-8000-000000000000"}, "title": {"Call back"}, "expires_at": {"tomorrow"}}).
		wantStatus(t, http.StatusUnprocessableEntity).wantFieldErrors(t,
		"queue", "No such queue",
		"expires_at", "Enter a date and time")
}

func TestEnrollmentFormReportsEveryMistake(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	b := ts.browser()
	b.signIn(t, "admin@example.com")

	// A team that does not exist is reported with the name's mistake.
	b.post(t, "/enrollment", url.Values{"name": {""}, "team_id": {"0190aaaa-0000-7000-8000-000000000000"}, "lifetime": {"7"}}).
		wantStatus(t, http.StatusUnprocessableEntity).wantFieldErrors(t,
		"name", "Name is required",
		"team_id", "The team does not exist")
}
