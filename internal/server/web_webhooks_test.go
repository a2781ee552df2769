package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/switchboardhq/switchboard/internal/server"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
)

func TestWebhooksAPI(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	admin := ts.setUp(t)
	token, _ := ts.MustCreateToken(t, admin)
	api := ts.api(token)

	var created server.WebhookJSON
	res := api.call(t, "POST", "/api/v1/webhooks", map[string]any{"url": "https://hooks.example.com/in", "events": []string{"task.*"}}).
		wantStatus(t, http.StatusCreated)
	res.decode(t, &created)
	if !strings.HasPrefix(created.Secret, "whsec_") || !created.Active || res.Header.Get("Location") != "/api/v1/webhooks/"+created.ID {
		t.Errorf("created = %+v, Location %q", created, res.Header.Get("Location"))
	}
	var got server.WebhookJSON
	res = api.call(t, "GET", "/api/v1/webhooks/"+created.ID, nil).wantStatus(t, http.StatusOK)
	res.decode(t, &got)
	if got.Secret != "" || strings.Contains(string(res.body), created.Secret) {
		t.Errorf("a read shows the secret: %s", res.body)
	}

	etag := res.Header.Get("ETag")

	// Problems name their fields.
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"url": "http://169.254.169.254/latest", "events": []string{"*"}}, "body.url"},
		{map[string]any{"url": "https://hooks.example.com/in", "events": []string{"rocket.*"}}, "body.events"},
		{map[string]any{"url": "https://hooks.example.com/in", "events": []string{"*"}, "secret": "short"}, "body.secret"},
	} {
		res = api.call(t, "POST", "/api/v1/webhooks", tc.body).wantStatus(t, http.StatusUnprocessableEntity)
		var problem struct {
			Errors []struct{ Location, Message string }
		}
		if err := json.Unmarshal(res.body, &problem); err != nil || len(problem.Errors) != 1 || problem.Errors[0].Location != tc.field {
			t.Errorf("problem = %s, want one error at %s", res.body, tc.field)
		}
	}

	var rotated server.WebhookJSON
	api.call(t, "PATCH", "/api/v1/webhooks/"+created.ID, map[string]any{"rotate_secret": true}, "If-Match", etag).
		wantStatus(t, http.StatusOK).decode(t, &rotated)
	if rotated.Secret == "" || rotated.Secret == created.Secret {
		t.Errorf("rotated = %+v", rotated)
	}

	var n server.NotificationJSON
	api.call(t, "POST", "/api/v1/webhooks/"+created.ID+"/test", nil).wantStatus(t, http.StatusAccepted).decode(t, &n)
	if n.WebhookID != created.ID || n.EventType != "webhook.test" || n.Channel != "webhook" || n.Status != "pending" {
		t.Errorf("test delivery = %+v", n)
	}
	res = api.call(t, "GET", "/api/v1/notifications?webhook="+created.ID, nil).wantStatus(t, http.StatusOK)
	if !strings.Contains(string(res.body), n.ID) {
		t.Errorf("the endpoint's deliveries do not list the test: %s", res.body)
	}

	api.call(t, "DELETE", "/api/v1/webhooks/"+created.ID, nil).wantStatus(t, http.StatusNoContent)
	api.call(t, "GET", "/api/v1/webhooks/"+created.ID, nil).wantStatus(t, http.StatusNotFound)
}

// TestWebhookPages walks an admin through the webhook pages: create (with
// a mistake first), the secret shown once, edit, deactivate, test, delete.
func TestWebhookPages(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	b := ts.browser()
	b.signIn(t, "admin@example.com")

	b.get(t, "/webhooks").wantStatus(t, http.StatusOK).
		wantContains(t, "<title>Webhooks · Switchboard</title>", "No webhooks yet", `href="/webhooks/new"`, `href="/webhooks" aria-current="page"`)
	b.get(t, "/webhooks/new").wantStatus(t, http.StatusOK).wantContains(t, "task.assigned", `name="active" value="on" checked`)

	res := b.post(t, "/webhooks", url.Values{"url": {"http://localhost:9000/in"}, "events": {"task.*, rocket.*"}, "secret": {"typed-secret-0123456789"}})
	res.wantStatus(t, http.StatusUnprocessableEntity).wantContains(t, "There is a problem", `id="f-url-error"`, `id="f-events-error"`,
		`value="http://localhost:9000/in"`, "task.*, rocket.*</textarea>").wantNotContains(t, "typed-secret-0123456789")

	res = b.follow(t, b.post(t, "/webhooks", url.Values{"url": {"https://hooks.example.com/in"}, "events": {"task.*, agent.created"},
		"description": {"Ticketing"}, "active": {"on"}}))
	res.wantStatus(t, http.StatusOK).wantContains(t, "The webhook&#39;s secret", `value="whsec_`, "Nothing delivered yet", "Ticketing")
	id := between(string(res.body), `action="/webhooks/`, `/test"`)
	if id == "" {
		t.Fatalf("no test button on the new webhook's page: %s", res.body)
	}
	path := "/webhooks/" + id
	b.get(t, path).wantStatus(t, http.StatusOK).wantNotContains(t, `value="whsec_`)
	b.get(t, "/webhooks").wantStatus(t, http.StatusOK).wantContains(t, `href="`+path+`"`, "<code>task.*</code>", "Ticketing")
	b.get(t, "/audit?target_type=webhook").wantStatus(t, http.StatusOK).wantContains(t, `data-action="webhook.created"`, `href="`+path+`"`)

	res = b.post(t, path, url.Values{"url": {"https://hooks.example.com/v2"}, "events": {"*"}, "description": {"Ticketing v2"},
		"active": {"on"}, "version": {"1"}})
	res.wantStatus(t, http.StatusSeeOther)
	b.get(t, path).wantStatus(t, http.StatusOK).wantContains(t, "have been saved", "https://hooks.example.com/v2", "Ticketing v2")
	// A stale form is refused, and the page shows the version saved.
	b.post(t, path, url.Values{"url": {"https://hooks.example.com/v3"}, "events": {"*"}, "version": {"1"}}).
		wantStatus(t, http.StatusPreconditionFailed).wantContains(t, "Someone else changed this webhook", "https://hooks.example.com/v2")

	b.post(t, path+"/test", url.Values{}).wantStatus(t, http.StatusSeeOther)
	b.get(t, path).wantStatus(t, http.StatusOK).wantContains(t, "is on its way", "<code>webhook.test</code>", "pending")

	// A new secret is asked for first, shown once beside the button, and
	// reloading the page makes no other.
	b.post(t, path+"/rotate", url.Values{}).wantStatus(t, http.StatusOK).wantContains(t, "Make a new secret?").wantNotContains(t, `value="whsec_`)
	rotated := b.post(t, path+"/rotate", confirmed(nil)).wantStatus(t, http.StatusSeeOther)
	b.get(t, rotated.Header.Get("Location")).wantContains(t, `value="whsec_`, "has a new secret")
	b.get(t, rotated.Header.Get("Location")).wantNotContains(t, `value="whsec_`)

	b.post(t, path+"/active", url.Values{"active": {"false"}}).wantStatus(t, http.StatusOK).wantContains(t, "Deactivate this webhook?")
	b.post(t, path+"/active", confirmed(url.Values{"active": {"false"}})).wantStatus(t, http.StatusSeeOther)
	b.get(t, path).wantStatus(t, http.StatusOK).wantContains(t, "is inactive", "Activate").wantNotContains(t, "Send a test event")

	b.post(t, path+"/delete", confirmed(nil)).wantStatus(t, http.StatusSeeOther)
	b.get(t, "/webhooks").wantStatus(t, http.StatusOK).wantContains(t, "has been deleted", "No webhooks yet")
	b.get(t, path).wantStatus(t, http.StatusNotFound)

	// Supervisors have no webhooks.
	ts.MustCreateUser(t, "sup@example.com", "supervisor")
	sup := ts.browser()
	sup.signIn(t, "sup@example.com")
	sup.get(t, "/webhooks").wantStatus(t, http.StatusForbidden)
	sup.get(t, "/").wantNotContains(t, `href="/webhooks"`)
}

// between returns the text of s between the first from and the next to.
func between(s, from, to string) string {
	_, rest, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, to)
	return v
}
