package server_test

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
)

var enrollmentKeyRE = regexp.MustCompile(`sbe_[a-z0-9]{20,}`)

// TestEnrollmentPage: a key's secret is shown once, with a command that
// works, and never again.
func TestEnrollmentPage(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	team := ts.MustCreateTeam(t, "Build fleet")
	b := ts.browser()
	b.signIn(t, "admin@example.com")

	b.get(t, "/enrollment").wantStatus(t, http.StatusOK).
		wantContains(t, "<title>Enrollment keys · Switchboard</title>", "No enrollment keys yet", "Build fleet", `<option value="30" selected>`)

	res := b.post(t, "/enrollment", url.Values{"name": {""}, "team_id": {team.ID}, "max_uses": {"many"}, "lifetime": {"7"}, "auto_approve": {"1"}})
	res.wantStatus(t, http.StatusUnprocessableEntity).
		wantContains(t, "Name is required", "Enter a whole number from 1 to", `value="many"`, `value="`+team.ID+`" selected`, `value="1" checked`, `<option value="7" selected>`).
		wantNotContains(t, "sbe_")

	res = b.follow(t, b.post(t, "/enrollment", url.Values{"name": {"runners"}, "team_id": {team.ID}, "max_uses": {"10"}, "lifetime": {"30"}, "auto_approve": {"1"}}))
	res.wantStatus(t, http.StatusOK).wantContains(t, "Key “runners” created", "will not be shown again",
		"curl -X POST "+ts.URL+"/api/v1/enroll -H &#39;Content-Type: application/json&#39; -d &#39;{&#34;key&#34;:&#34;sbe_")
	secret := enrollmentKeyRE.FindString(string(res.body))
	if secret == "" {
		t.Fatal("no key on the page")
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}

	list := b.get(t, "/enrollment").wantStatus(t, http.StatusOK)
	list.wantContains(t, "runners", "Build fleet", "0 / 10", "auto-approve", "Revoke").wantNotContains(t, secret, "will not be shown again")
	if got := enrollmentKeyRE.FindAllString(string(list.body), -1); len(got) != 0 {
		t.Errorf("the list shows %v", got)
	}

	// The example on the page enrolls a machine.
	ts.api("").call(t, http.MethodPost, "/api/v1/enroll", map[string]string{"key": secret, "name": "my-host"}).
		wantStatus(t, http.StatusCreated).wantContains(t, `"status":"active"`)
	b.get(t, "/enrollment").wantContains(t, "1 / 10")

	keys, err := sqlstore.NewEnrollmentService(ts.db).FindEnrollmentKeys(systemCtx(), switchboard.EnrollmentKeyFilter{})
	if err != nil || len(keys.Items) != 1 {
		t.Fatalf("keys %v, %v", keys, err)
	}
	b.post(t, "/enrollment/"+keys.Items[0].ID+"/revoke", nil).wantStatus(t, http.StatusOK).wantContains(t, "Revoke this enrollment key?")
	b.post(t, "/enrollment/"+keys.Items[0].ID+"/revoke", confirmed(nil)).wantStatus(t, http.StatusSeeOther).location(t, "/enrollment")
	b.get(t, "/enrollment").wantContains(t, "has been revoked", "badge-status-revoked").wantNotContains(t, "Revoke<")
	b.post(t, "/enrollment/nope/revoke", nil).wantStatus(t, http.StatusNotFound)
}

// TestEnrollmentPage_Supervisor: supervisors make keys for their own teams
// only, and see only those.
func TestEnrollmentPage_Supervisor(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	grace := ts.MustCreateUser(t, "grace@example.com", switchboard.RoleSupervisor)
	own := ts.MustCreateTeam(t, "Billing", grace.ID)
	other := ts.MustCreateTeam(t, "Shipping")
	b := ts.browser()
	b.signIn(t, "grace@example.com")

	b.get(t, "/enrollment").wantStatus(t, http.StatusOK).wantContains(t, "Billing", "Choose a team").wantNotContains(t, "Shipping", "No team")
	b.post(t, "/enrollment", url.Values{"name": {""}, "lifetime": {"30"}}).
		wantStatus(t, http.StatusUnprocessableEntity).wantContains(t, "Name is required", "Choose one of your teams")
	b.post(t, "/enrollment", url.Values{"name": {"theirs"}, "team_id": {other.ID}, "lifetime": {"30"}}).
		wantStatus(t, http.StatusForbidden).wantContains(t, `id="f-team_id-error"`, "teams you supervise").wantNotContains(t, "sbe_")
	b.follow(t, b.post(t, "/enrollment", url.Values{"name": {"mine"}, "team_id": {own.ID}, "lifetime": {"0"}})).
		wantStatus(t, http.StatusOK).wantContains(t, "Key “mine” created")
	b.get(t, "/enrollment").wantStatus(t, http.StatusOK).wantContains(t, "mine", "never").wantNotContains(t, "theirs")
}
