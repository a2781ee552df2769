package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// TestRevocationAcrossInstances: a token that works on instance B, where
// it is cached, stops working there within a second of being revoked on
// instance A; so does the token of a user disabled on A.
func TestRevocationAcrossInstances(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	for _, m := range []struct {
		name   string
		engine sqlstore.Engine
	}{
		{"postgres-notify", sqlstore.Postgres},
		{"mysql-poll", sqlstore.MySQL},
	} {
		t.Run(m.name, func(t *testing.T) {
			dbURL := sqlstoretest.URL(t, m.engine)
			getenv, admin := migratedWithAdmin(t, dbURL)
			a, b := startProcess(t, "SWITCHBOARD_DATABASE_URL="+dbURL), startProcess(t, "SWITCHBOARD_DATABASE_URL="+dbURL)

			// A second token of the admin's, used on B until it is cached.
			var tok struct{ ID, Token string }
			decodeCall(t, "POST", a.URL+"/api/v1/tokens", admin, `{"name": "integration"}`, &tok)
			waitCached(t, b.URL, tok.Token)
			if s := apiCall(t, "DELETE", a.URL+"/api/v1/tokens/"+tok.ID, admin, ""); s != http.StatusNoContent {
				t.Fatalf("revoke on A: %d", s)
			}
			t.Logf("%s: a token revoked on A stopped working on B after %v", m.name, untilRefused(t, b.URL, tok.Token))

			// A user disabled on A: their token stops working on B.
			var user struct{ ID string }
			decodeCall(t, "POST", a.URL+"/api/v1/users", admin, `{"email": "sup@example.com", "name": "Sup", "role": "supervisor", "password": "`+testPassword+`"}`, &user)
			out, errOut, err := runCmd(t, getenv, "", "token", "create", "--email", "sup@example.com")
			if err != nil {
				t.Fatalf("token create: %v\n%s", err, errOut)
			}
			sup := strings.TrimSpace(out)
			waitCached(t, b.URL, sup)
			if s := apiCall(t, "PATCH", a.URL+"/api/v1/users/"+user.ID, admin, `{"status": "disabled"}`); s != http.StatusOK {
				t.Fatalf("disable on A: %d", s)
			}
			t.Logf("%s: a user disabled on A was refused on B after %v", m.name, untilRefused(t, b.URL, sup))
		})
	}
}

// waitCached uses a token a few times, so that the instance has it cached.
func waitCached(t *testing.T, url, token string) {
	t.Helper()
	for range 3 {
		if s := apiCall(t, "GET", url+"/api/v1/me", token, ""); s != http.StatusOK {
			t.Fatalf("GET /me: %d", s)
		}
	}
}

// untilRefused calls /me with token until it answers 401, failing after a
// second.
func untilRefused(t *testing.T, url, token string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		s := apiCall(t, "GET", url+"/api/v1/me", token, "")
		took := time.Since(start)
		switch {
		case s == http.StatusUnauthorized:
			return took
		case s != http.StatusOK:
			t.Fatalf("GET /me: %d", s)
		case took > time.Second:
			t.Fatalf("still accepted %v after the change", took)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// decodeCall makes an API call that must succeed and decodes its answer.
func decodeCall(t *testing.T, method, url, token, body string, out any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode >= 300 {
		t.Fatalf("%s %s: %d", method, url, res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}
