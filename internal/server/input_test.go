package server_test

import (
	"bytes"
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
