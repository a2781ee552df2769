package server_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
)

// TestCompression: pages, assets and API answers leave compressed with
// Brotli or gzip as the client accepts, and decode to what an uncompressed
// answer holds; the event stream is never compressed, as each event must
// leave at once. An answer that one TCP segment carries leaves as it is.
func TestCompression(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	admin := ts.setUp(t)
	token, _ := ts.MustCreateToken(t, admin)
	// Enough users that their list is worth compressing.
	for _, name := range []string{"ada", "grace", "edsger", "barbara", "donald", "frances", "tony", "margaret", "john", "radia"} {
		ts.MustCreateUser(t, name+"@example.com", switchboard.RoleSupervisor)
	}

	get := func(path, acceptEncoding string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, ts.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if acceptEncoding != "" {
			req.Header.Set("Accept-Encoding", acceptEncoding)
		}
		if strings.HasPrefix(path, "/api/") {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		// A transport of its own: the default one asks for gzip by itself
		// and decodes it out of sight.
		res, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res, body
	}

	for _, path := range []string{"/static/app.css", "/signin", "/api/v1/openapi.json", "/api/v1/openapi.yaml", "/api/v1/users"} {
		plainRes, plain := get(path, "")
		if enc := plainRes.Header.Get("Content-Encoding"); enc != "" {
			t.Errorf("%s without Accept-Encoding: encoded %q", path, enc)
		}
		for accept, want := range map[string]string{
			"gzip, deflate, br, zstd": "br",
			"gzip":                    "gzip",
			"br;q=0.5, gzip":          "gzip",
			"identity":                "",
		} {
			res, body := get(path, accept)
			if got := res.Header.Get("Content-Encoding"); got != want {
				t.Errorf("%s with Accept-Encoding %q: encoded %q, want %q", path, accept, got, want)
				continue
			}
			if res.Header.Get("Vary") == "" {
				t.Errorf("%s: no Vary header, so a cache could hand the wrong encoding on", path)
			}
			var r io.Reader = bytes.NewReader(body)
			switch want {
			case "br":
				r = brotli.NewReader(r)
			case "gzip":
				gz, err := gzip.NewReader(r)
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				r = gz
			}
			decoded, err := io.ReadAll(r)
			if err != nil {
				t.Fatalf("%s (%s): %v", path, want, err)
			}
			if path == "/static/app.css" && !bytes.Equal(decoded, plain) {
				t.Errorf("%s (%s): decodes to %d bytes that differ from the %d plain ones", path, want, len(decoded), len(plain))
			}
			if want != "" && len(body) >= len(plain) {
				t.Errorf("%s (%s): %d bytes, no smaller than %d plain", path, want, len(body), len(plain))
			}
		}
	}

	// A small answer leaves as it is.
	if res, body := get("/api/v1/me", "gzip, br"); res.Header.Get("Content-Encoding") != "" || len(body) >= 1400 {
		t.Errorf("/api/v1/me (%d bytes) is encoded %q, want it plain", len(body), res.Header.Get("Content-Encoding"))
	}

	// The event stream answers at once, uncompressed.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Accept-Encoding", "gzip, br")
	res, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if enc := res.Header.Get("Content-Encoding"); enc != "" {
		t.Errorf("the event stream is encoded %q", enc)
	}
}
