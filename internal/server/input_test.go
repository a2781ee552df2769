package server_test

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/server"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// nestedJSON returns an object nested depth levels deep in all, the object
// itself being the first: {"a":[[…[1]…]]}. At 8,100 levels it is 16 KB,
// within the size limit of attributes.
func nestedJSON(depth int) string {
	return `{"a":` + strings.Repeat("[", depth-1) + "1" + strings.Repeat("]", depth-1) + "}"
}

// csvCell quotes a value as a CSV writer does.
func csvCell(tb testing.TB, s string) string {
	tb.Helper()
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.Write([]string{s}); err != nil {
		tb.Fatal(err)
	}
	w.Flush()
	return strings.TrimSuffix(b.String(), "\n")
}

// Free-form JSON nests at most 16 levels wherever it comes in: an agent's
// attributes through the API (create, change, import) and an enrollment's
// metadata. Deeper values are refused with 422 naming the field, before
// any engine sees them (MariaDB failed on 30 levels; the others stored 8,100
// and the agent page then grew to hundreds of megabytes).
func TestFreeFormJSON_DepthIsCapped(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ts := newTestServerOn(t, db, serverOptions())
		admin := ts.setUp(t)
		secret, _ := ts.MustCreateToken(t, admin)
		c := ts.api(secret)

		wantRefused := func(t *testing.T, res *response, location string) {
			t.Helper()
			p := res.wantStatus(t, http.StatusUnprocessableEntity).problem(t)
			if len(p.Errors) != 1 || p.Errors[0].Location != location || !strings.Contains(p.Errors[0].Message, "16 levels") {
				t.Errorf("errors %+v, want one at %s about 16 levels", p.Errors, location)
			}
		}
		for _, depth := range []int{17, 30, 8100} {
			body := `{"name":"Deep","kind":"machine","attributes":` + nestedJSON(depth) + `}`
			wantRefused(t, c.call(t, http.MethodPost, "/api/v1/agents", body), "body.attributes")
		}

		var agent server.AgentJSON
		c.call(t, http.MethodPost, "/api/v1/agents", `{"name":"Sixteen","kind":"machine","attributes":`+nestedJSON(16)+`}`).
			wantStatus(t, http.StatusCreated).decode(t, &agent)
		c.call(t, http.MethodGet, "/api/v1/agents/"+agent.ID, nil).wantStatus(t, http.StatusOK).
			wantContains(t, `"attributes":`+nestedJSON(16))
		wantRefused(t, c.call(t, http.MethodPatch, "/api/v1/agents/"+agent.ID, `{"attributes":`+nestedJSON(8100)+`}`), "body.attributes")

		res := c.call(t, http.MethodPost, "/api/v1/agents/import",
			"name,kind,attributes\nDeep,machine,"+csvCell(t, nestedJSON(8100))+"\n", "Content-Type", "text/csv")
		wantRefused(t, res, "line 2: attributes")

		var key struct{ Key string }
		c.call(t, http.MethodPost, "/api/v1/enrollment-keys", map[string]any{"name": "fleet"}).
			wantStatus(t, http.StatusCreated).decode(t, &key)
		for _, depth := range []int{17, 8100} {
			res := ts.api("").call(t, http.MethodPost, "/api/v1/enroll",
				`{"key":"`+key.Key+`","name":"runner","metadata":`+nestedJSON(depth)+`}`)
			wantRefused(t, res, "body.metadata")
		}
	})
}

// The web form refuses deep attributes as the API does.
func TestAgentForm_DeepAttributesRefused(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	b := ts.browser()
	b.signIn(t, "admin@example.com")
	b.post(t, "/agents", url.Values{"kind": {"machine"}, "name": {"Deep"}, "capacity": {"1"}, "attributes": {nestedJSON(8100)}}).
		wantStatus(t, http.StatusUnprocessableEntity).wantContains(t, `id="f-attributes-error"`, "16 levels")
}

// The agent page shows attributes compactly and cut to a bounded size,
// whatever is stored: an agent stored with 8,100 levels before the limit
// existed renders in tens of kilobytes (it was 131 MB, indented).
func TestAgentPage_AttributesRenderBounded(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	a, _, err := sqlstore.NewAgentService(ts.db).CreateAgent(systemCtx(), switchboard.NewAgent{Name: "Legacy", Kind: switchboard.MachineAgent})
	if err != nil {
		t.Fatal(err)
	}
	deep := nestedJSON(8100)
	big := `{"big":"` + strings.Repeat("x", 100_000) + `"}`
	b := ts.browser()
	b.signIn(t, "admin@example.com")
	for _, stored := range []string{deep, big} {
		if _, err := ts.db.SQL().Exec("UPDATE agents SET attributes = ?, metadata = ? WHERE id = ?", stored, stored, a.ID); err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/agents/" + a.ID, "/agents/" + a.ID + "/edit"} {
			res := b.get(t, path).wantStatus(t, http.StatusOK)
			if len(res.body) > 300_000 {
				t.Errorf("%s: the page is %d bytes", path, len(res.body))
			}
		}
	}
	b.get(t, "/agents/"+a.ID).wantContains(t, "100010 bytes in all")
}

func cursorOf(json string) string { return base64.RawURLEncoding.EncodeToString([]byte(json)) }

// Bad input is refused alike on every engine, before it reaches one: a
// NUL character anywhere (PostgreSQL and SQLite failed with 500), an ID
// that is not ASCII (MariaDB failed comparing it with its ASCII ID
// columns), a year PostgreSQL does not have. A path that names nothing is
// 404; anything else is 422 naming the parameter or field.
func TestBadInputIsRefusedAlike(t *testing.T) {
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ts := newTestServerOn(t, db, serverOptions())
		admin := ts.setUp(t)
		secret, tok := ts.MustCreateToken(t, admin)
		c := ts.api(secret)
		var team server.TeamJSON
		c.call(t, http.MethodPost, "/api/v1/teams", map[string]any{"name": "Billing"}).wantStatus(t, http.StatusCreated).decode(t, &team)
		var agent server.AgentJSON
		c.call(t, http.MethodPost, "/api/v1/agents", map[string]any{"name": "Runner", "kind": "machine"}).
			wantStatus(t, http.StatusCreated).decode(t, &agent)
		var key struct{ Key string }
		c.call(t, http.MethodPost, "/api/v1/enrollment-keys", map[string]any{"name": "fleet"}).
			wantStatus(t, http.StatusCreated).decode(t, &key)

		for _, tc := range []struct {
			method, path string
			body         string
			status       int
			location     string // of the one error, for 422
		}{
			// NUL characters and text that is not UTF-8 in query parameters.
			{"GET", "/api/v1/agents?q=a%00", "", 422, "query.q"},
			{"GET", "/api/v1/agents?q=%FF", "", 422, "query.q"},
			{"GET", "/api/v1/agents?team=a%00", "", 422, "query.team"},
			{"GET", "/api/v1/agents?skill=a%00", "", 422, "query.skill"},
			{"GET", "/api/v1/agents?cursor=%00", "", 422, "query.cursor"},
			{"GET", "/api/v1/users?q=%00", "", 422, "query.q"},
			{"GET", "/api/v1/teams?q=%00", "", 422, "query.q"},
			{"GET", "/api/v1/audit?actor=a%00", "", 422, "query.actor"},
			{"GET", "/api/v1/audit?target=a%00", "", 422, "query.target"},
			{"GET", "/api/v1/audit?action=a%00", "", 422, "query.action"},
			// IDs that are not IDs: in filters 422, in paths 404.
			{"GET", "/api/v1/agents?team=%C3%A9", "", 422, "query.team"},
			{"GET", "/api/v1/agents?skill=%C3%A9", "", 422, "query.skill"},
			{"GET", "/api/v1/agents/%C3%A9", "", 404, ""},
			{"GET", "/api/v1/agents/a%00", "", 404, ""},
			{"PATCH", "/api/v1/agents/%C3%A9", `{"name":"x"}`, 404, ""},
			{"POST", "/api/v1/agents/%C3%A9/retire", "", 404, ""},
			{"GET", "/api/v1/users/%C3%A9", "", 404, ""},
			{"GET", "/api/v1/teams/%C3%A9", "", 404, ""},
			{"DELETE", "/api/v1/tokens/%C3%A9", "", 404, ""},
			{"DELETE", "/api/v1/enrollment-keys/%C3%A9", "", 404, ""},
			{"DELETE", "/api/v1/agents/" + agent.ID + "/tokens/%C3%A9", "", 404, ""},
			// Cursors: an ID that is not one, NUL in the sort value, the
			// year 0000.
			{"GET", "/api/v1/agents?cursor=" + cursorOf(`{"s":"name","v":"a","i":"é"}`), "", 422, "query.cursor"},
			{"GET", "/api/v1/agents?cursor=" + cursorOf(`{"s":"name","v":"a\u0000","i":"`+agent.ID+`"}`), "", 422, "query.cursor"},
			{"GET", "/api/v1/agents?sort=-created_at&cursor=" + cursorOf(`{"s":"-created_at","v":"0000-01-01T00:00:00Z","i":"`+agent.ID+`"}`), "", 422, "query.cursor"},
			{"GET", "/api/v1/audit?cursor=" + cursorOf(`{"s":"-at","v":"0000-01-01T00:00:00Z","i":"`+agent.ID+`"}`), "", 422, "query.cursor"},
			{"GET", "/api/v1/tokens?cursor=" + cursorOf(`{"s":"-created_at","v":"2026-01-01T00:00:00Z","i":"é"}`), "", 422, "query.cursor"},
			{"GET", "/api/v1/audit?since=0000-01-01T00:00:00Z", "", 422, "query.since"},
			// Bodies: NUL at any depth, IDs that are not IDs.
			{"POST", "/api/v1/agents", `{"name":"x","kind":"machine","attributes":{"a":["ok","\u0000"]}}`, 422, "body.attributes.a[1]"},
			{"POST", "/api/v1/agents", `{"name":"x\u0000","kind":"machine"}`, 422, "body.name"},
			{"POST", "/api/v1/agents", `{"name":"x","kind":"machine","attributes":` + nestedJSON(30) + `}`, 422, "body.attributes"},
			{"POST", "/api/v1/agents", `{"name":"x","kind":"machine","teams":["é"]}`, 422, "body.teams"},
			{"PATCH", "/api/v1/agents/" + agent.ID, `{"teams":["` + tok.ID + `x"]}`, 422, "body.teams"},
			{"PATCH", "/api/v1/teams/" + team.ID, `{"add_members":["é"]}`, 422, "body.add_members"},
			{"PATCH", "/api/v1/teams/" + team.ID, `{"supervisors":["é"]}`, 422, "body.supervisors"},
			{"POST", "/api/v1/teams", `{"name":"T","supervisors":["é"]}`, 422, "body.supervisors"},
			{"POST", "/api/v1/enrollment-keys", `{"name":"k","team_id":"é"}`, 422, "body.team_id"},
			{"POST", "/api/v1/tokens", `{"name":"t\u0000"}`, 422, "body.name"},
		} {
			res := c.call(t, tc.method, tc.path, tc.body)
			if res.StatusCode != tc.status {
				t.Errorf("%s %s %s: status %d, want %d; body: %s", tc.method, tc.path, tc.body, res.StatusCode, tc.status, truncate(res.body))
				continue
			}
			p := res.problem(t)
			if tc.location != "" && (len(p.Errors) != 1 || p.Errors[0].Location != tc.location) {
				t.Errorf("%s %s %s: errors %+v, want one at %s", tc.method, tc.path, tc.body, p.Errors, tc.location)
			}
		}

		// Without credentials, where NUL reached the database before any
		// check: signing in and enrolling.
		anon := ts.api("")
		p := anon.call(t, http.MethodPost, "/api/v1/session", `{"email":"a\u0000@example.com","password":"correct horse battery"}`).
			wantStatus(t, http.StatusUnprocessableEntity).problem(t)
		if len(p.Errors) != 1 || p.Errors[0].Location != "body.email" {
			t.Errorf("sign-in errors %+v", p.Errors)
		}
		p = anon.call(t, http.MethodPost, "/api/v1/enroll", `{"key":"`+key.Key+`","name":"r","metadata":{"host":"a\u0000"}}`).
			wantStatus(t, http.StatusUnprocessableEntity).problem(t)
		if len(p.Errors) != 1 || p.Errors[0].Location != "body.metadata.host" {
			t.Errorf("enroll errors %+v", p.Errors)
		}

		// The web pages: paths, queries and forms.
		b := ts.browser()
		b.post(t, "/signin", url.Values{"email": {"admin@example.com\x00"}, "password": {testPassword}}).wantStatus(t, http.StatusUnprocessableEntity)
		b.signIn(t, "admin@example.com")
		b.get(t, "/agents?q=a%00").wantStatus(t, http.StatusUnprocessableEntity)
		b.get(t, "/audit?actor=a%00").wantStatus(t, http.StatusUnprocessableEntity)
		b.get(t, "/agents?team=%C3%A9").wantStatus(t, http.StatusBadRequest).wantContains(t, "does not exist: IDs look like")
		b.get(t, "/agents?cursor="+cursorOf(`{"s":"name","v":"a","i":"é"}`)).wantStatus(t, http.StatusBadRequest)
		b.get(t, "/audit?since=0000-01-01").wantStatus(t, http.StatusBadRequest)
		for _, path := range []string{"/agents/%C3%A9", "/agents/a%00/edit", "/teams/%C3%A9", "/users/%C3%A9", "/invite/%C3%A9"} {
			b.get(t, path).wantStatus(t, http.StatusNotFound)
		}
		b.post(t, "/agents", url.Values{"kind": {"machine"}, "name": {"Bot"}, "capacity": {"1"}, "teams": {"é"}}).
			wantStatus(t, http.StatusUnprocessableEntity)
		b.post(t, "/teams/"+team.ID+"/members", url.Values{"agent_id": {"é"}}).wantStatus(t, http.StatusSeeOther)
		b.post(t, "/teams", url.Values{"name": {"T\x00"}}).wantStatus(t, http.StatusUnprocessableEntity)
	})
}

// Integers above 2^53 in free-form objects keep every digit, end to end:
// stored, answered, shown in the audit log and the event log, whichever way
// they came in (the API, an enrollment, the web form, a CSV import). Decoded
// as float64 they were silently rounded.
func TestFreeFormJSON_BigIntegersStayExact(t *testing.T) {
	const exact = `{"big":123456789012345678901234567890,"id":9007199254740993,"neg":-9007199254740993,"ratio":0.1}`
	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ts := newTestServerOn(t, db, serverOptions())
		admin := ts.setUp(t)
		secret, _ := ts.MustCreateToken(t, admin)
		c := ts.api(secret)

		var agent server.AgentJSON
		c.call(t, http.MethodPost, "/api/v1/agents", `{"name":"Exact","kind":"machine","attributes":`+exact+`}`).
			wantStatus(t, http.StatusCreated).wantContains(t, `"attributes":`+exact).decode(t, &agent)
		c.call(t, http.MethodGet, "/api/v1/agents/"+agent.ID, nil).wantStatus(t, http.StatusOK).wantContains(t, `"attributes":`+exact)
		c.call(t, http.MethodGet, "/api/v1/agents?q=exact", nil).wantStatus(t, http.StatusOK).wantContains(t, `"attributes":`+exact)
		c.call(t, http.MethodPatch, "/api/v1/agents/"+agent.ID, `{"attributes":{"id":9007199254740995}}`).
			wantStatus(t, http.StatusOK).wantContains(t, `"attributes":{"id":9007199254740995}`)
		c.call(t, http.MethodGet, "/api/v1/audit?target="+agent.ID, nil).wantStatus(t, http.StatusOK).
			wantContains(t, `"attributes":`+exact, `"attributes":{"id":9007199254740995}`)
		c.call(t, http.MethodGet, "/api/v1/events?types=agent.", nil).wantStatus(t, http.StatusOK).
			wantContains(t, `"attributes":`+exact, `"attributes":{"id":9007199254740995}`)

		var key struct{ Key string }
		c.call(t, http.MethodPost, "/api/v1/enrollment-keys", map[string]any{"name": "fleet"}).
			wantStatus(t, http.StatusCreated).decode(t, &key)
		ts.api("").call(t, http.MethodPost, "/api/v1/enroll", `{"key":"`+key.Key+`","name":"runner","metadata":`+exact+`}`).
			wantStatus(t, http.StatusCreated).wantContains(t, `"metadata":`+exact)

		c.call(t, http.MethodPost, "/api/v1/agents/import", "name,kind,attributes\nImported,machine,"+csvCell(t, exact)+"\n",
			"Content-Type", "text/csv").wantStatus(t, http.StatusCreated)
		c.call(t, http.MethodGet, "/api/v1/agents?q=imported", nil).wantContains(t, `"attributes":`+exact)

		b := ts.browser()
		b.signIn(t, "admin@example.com")
		b.post(t, "/agents", url.Values{"kind": {"machine"}, "name": {"Typed"}, "capacity": {"1"}, "attributes": {exact}}).
			wantStatus(t, http.StatusSeeOther)
		c.call(t, http.MethodGet, "/api/v1/agents?q=typed", nil).wantContains(t, `"attributes":`+exact)
	})
}

// A key given twice in one JSON object is refused, naming it: decoding
// kept the last and dropped the other without a word.
func TestDuplicateJSONKeysRefused(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	admin := ts.setUp(t)
	secret, _ := ts.MustCreateToken(t, admin)
	c := ts.api(secret)
	var agent server.AgentJSON
	c.call(t, http.MethodPost, "/api/v1/agents", map[string]any{"name": "Runner", "kind": "machine"}).
		wantStatus(t, http.StatusCreated).decode(t, &agent)
	for _, tc := range []struct{ method, path, body, location string }{
		{"POST", "/api/v1/agents", `{"name":"a","kind":"machine","name":"b"}`, "body.name"},
		{"POST", "/api/v1/agents", `{"name":"a","kind":"machine","attributes":{"env":{"region":"a","region":"b"}}}`, "body.attributes.env.region"},
		{"PATCH", "/api/v1/agents/" + agent.ID, `{"capacity":1,"capacity":2}`, "body.capacity"},
		{"POST", "/api/v1/session", `{"email":"admin@example.com","email":"x@example.com","password":"p"}`, "body.email"},
	} {
		p := c.call(t, tc.method, tc.path, tc.body).wantStatus(t, http.StatusUnprocessableEntity).problem(t)
		if len(p.Errors) != 1 || p.Errors[0].Location != tc.location || !strings.Contains(p.Errors[0].Message, "given twice") {
			t.Errorf("%s: errors %+v, want one at %s", tc.body, p.Errors, tc.location)
		}
	}
	p := c.call(t, http.MethodPost, "/api/v1/agents/import", "name,kind,attributes\nX,machine,"+csvCell(t, `{"a":1,"a":2}`)+"\n",
		"Content-Type", "text/csv").wantStatus(t, http.StatusUnprocessableEntity).problem(t)
	if len(p.Errors) != 1 || p.Errors[0].Location != "line 2: attributes.a" {
		t.Errorf("import errors %+v", p.Errors)
	}
	b := ts.browser()
	b.signIn(t, "admin@example.com")
	b.post(t, "/agents", url.Values{"kind": {"machine"}, "name": {"Bot"}, "capacity": {"1"}, "attributes": {`{"a":1,"a":2}`}}).
		wantStatus(t, http.StatusUnprocessableEntity).wantContains(t, `id="f-attributes-error"`, "given twice")
}

// Names refuse the characters that override the direction of text, with
// which a name reads as something else than it is ("Bob\u202Enimda" reads
// "Bobadmin"): agents, users, teams, tokens and enrollment keys.
func TestNamesRefuseBidiControls(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	admin := ts.setUp(t)
	secret, _ := ts.MustCreateToken(t, admin)
	c := ts.api(secret)
	for _, bidi := range []string{"\u202A", "\u202E", "\u2066", "\u2069"} {
		name := "Bob" + bidi + "nimda"
		for _, tc := range []struct {
			path string
			body map[string]any
		}{
			{"/api/v1/agents", map[string]any{"name": name, "kind": "machine"}},
			{"/api/v1/users", map[string]any{"name": name, "email": "bob@example.com", "role": "agent", "password": testPassword}},
			{"/api/v1/teams", map[string]any{"name": name}},
			{"/api/v1/tokens", map[string]any{"name": name}},
			{"/api/v1/enrollment-keys", map[string]any{"name": name}},
		} {
			p := c.call(t, http.MethodPost, tc.path, tc.body).wantStatus(t, http.StatusUnprocessableEntity).problem(t)
			if len(p.Errors) != 1 || p.Errors[0].Location != "body.name" || !strings.Contains(p.Errors[0].Message, "direction") {
				t.Errorf("%s %q: errors %+v", tc.path, name, p.Errors)
			}
		}
	}
	// Right-to-left names need none of them.
	c.call(t, http.MethodPost, "/api/v1/agents", map[string]any{"name": "מוקד תמיכה", "kind": "machine"}).wantStatus(t, http.StatusCreated)
}

// The import template, like every CSV Switchboard writes, neutralises
// cells a spreadsheet would run as a formula, and still imports as is.
func TestImportTemplate_FormulaCellsNeutralised(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	b := ts.browser()
	b.signIn(t, "admin@example.com")
	tpl := b.get(t, "/agents/import/template.csv").wantStatus(t, http.StatusOK)
	rows, err := csv.NewReader(bytes.NewReader(tpl.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		for _, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("cell %q would run as a formula", cell)
			}
		}
	}
	if !strings.Contains(string(tpl.body), ",'+14155550123,") {
		t.Errorf("the phone number is not neutralised: %s", tpl.body)
	}
	b.upload(t, "/agents/import", "file", "template.csv", tpl.body).wantStatus(t, http.StatusCreated)
	b.get(t, "/agents?q=ada").wantContains(t, "Ada Lovelace")
	secret, _ := ts.MustCreateToken(t, ts.MustCreateUser(t, "ops@example.com", switchboard.RoleAdmin))
	ts.api(secret).call(t, http.MethodGet, "/api/v1/agents?q=ada", nil).wantContains(t, `"phone":"+14155550123"`)
}
