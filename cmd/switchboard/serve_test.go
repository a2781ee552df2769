package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

var setupLinkRE = regexp.MustCompile(`url="?(http://[^\s"]+/setup\?code=([a-z0-9]+))`)

// TestServeSetupCode: while no user exists, serve logs a link with a
// one-time set-up code, the same on every instance of the database; it
// lets a client on another machine set up, and is gone once set-up is done.
func TestServeSetupCode(t *testing.T) {
	getenv := environ("SWITCHBOARD_DATABASE_URL", sqlstoretest.URL(t, sqlstore.SQLite))
	logs, otherLogs := &lockedBuffer{}, &lockedBuffer{}
	base, stop := startServerLogging(t, logs, getenv)
	_, stopOther := startServerLogging(t, otherLogs, getenv)
	m := setupLinkRE.FindStringSubmatch(logs.String())
	if m == nil || !strings.HasPrefix(m[1], base+"/setup?code=") {
		t.Fatalf("no set-up link on %s in the log:\n%s", base, logs.String())
	}
	code := m[2]
	if o := setupLinkRE.FindStringSubmatch(otherLogs.String()); o == nil || o[2] != code {
		t.Errorf("the other instance logged %v, want the same code", o)
	}

	setup := func(code string) int {
		body := `{"email":"ops@example.com","name":"Ops","password":"correct horse battery"`
		if code != "" {
			body += `,"code":"` + code + `"`
		}
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/setup", strings.NewReader(body+"}"))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", "203.0.113.9") // relayed from another machine
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if status := setup(""); status != http.StatusForbidden {
		t.Errorf("without the code: %d, want 403", status)
	}
	if status := setup(code); status != http.StatusCreated {
		t.Fatalf("with the code from the log: %d, want 201", status)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if err := stopOther(); err != nil {
		t.Fatal(err)
	}

	// Restarted after set-up: no code.
	logs = &lockedBuffer{}
	_, stop = startServerLogging(t, logs, getenv)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "code=") {
		t.Errorf("a set-up code is logged after set-up:\n%s", logs.String())
	}
}

// TestServeMetricsAndReadiness: serve exports its metrics behind the
// metrics token, counts the events it commits, and /readyz lists the
// database and every background loop, on every engine.
func TestServeMetricsAndReadiness(t *testing.T) {
	const token = "metrics-token-for-the-test"
	for _, engine := range sqlstoretest.Engines {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			logs := &lockedBuffer{}
			getenv := environ("SWITCHBOARD_DATABASE_URL", sqlstoretest.URL(t, engine), "SWITCHBOARD_METRICS_TOKEN", token)
			base, stop := startServerLogging(t, logs, getenv)

			status, body := get(t, base+"/readyz", "")
			for _, check := range []string{"database", "events", "timeouts", "prune_events"} {
				if status != http.StatusOK || !strings.Contains(body, `"name":"`+check+`","status":"ok"`) {
					t.Errorf("/readyz = %d %s, want %s ok", status, body, check)
				}
			}

			req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/setup",
				strings.NewReader(`{"email":"ops@example.com","name":"Ops","password":"correct horse battery"}`))
			req.Header.Set("Content-Type", "application/json")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusCreated {
				t.Fatalf("set-up: %d", res.StatusCode)
			}

			if status, _ := get(t, base+"/metrics", ""); status != http.StatusUnauthorized {
				t.Errorf("/metrics without the token = %d, want 401", status)
			}
			status, body = get(t, base+"/metrics", token)
			for _, series := range []string{
				`switchboard_http_requests_total{code="201",method="POST",route="/api/v1/setup"} 1`,
				`switchboard_events_committed_total{type="setup.completed"} 1`,
				`switchboard_worker_up{worker="timeouts"} 1`,
				`switchboard_worker_up{worker="events"} 1`,
				`switchboard_event_subscribers `,
				`switchboard_agents_by_status{status="active"} 0`,
			} {
				if status != http.StatusOK || !strings.Contains(body, series) {
					t.Errorf("/metrics = %d, lacks %s", status, series)
				}
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(logs.String(), token) {
				t.Error("the metrics token is in the log")
			}
		})
	}
}
