package server_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/switchboardhq/switchboard/internal/sqlstore"
)

// The cost of the calls agents make most, through the whole handler chain
// (middleware, authentication, the API layer) without the network:
//
//	go test ./internal/server -run '^$' -bench 'API' -cpuprofile cpu.out
//
// BenchmarkBareHandler is the yardstick: a handler that does nothing.
func BenchmarkAPI_Heartbeat(b *testing.B) {
	benchmarkAgentCall(b, http.MethodPost, "/api/v1/agent/heartbeat", []byte(`{"metadata":{"version":"2.4.1","hostname":"runner-17"}}`), http.StatusNoContent)
}

func BenchmarkAPI_Me(b *testing.B) {
	benchmarkAgentCall(b, http.MethodGet, "/api/v1/me", nil, http.StatusOK)
}

func BenchmarkBareHandler(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/agent/heartbeat", nil))
		}
	})
}

// benchmarkAgentCall makes one call as 200 agents in turn, in parallel.
func benchmarkAgentCall(b *testing.B, method, path string, body []byte, want int) {
	ts := newTestServer(b, sqlstore.SQLite)
	ts.setUp(b)
	team := ts.MustCreateTeam(b, "Runners")
	tokens := make([]string, 200)
	for i := range tokens {
		_, secret := ts.MustAgentToken(b, "Runner "+string(rune('A'+i%26))+string(rune('a'+i/26)), team.ID)
		tokens[i] = "Bearer " + secret
	}
	h := ts.Config.Handler
	var n atomic.Uint64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(method, path, bytes.NewReader(body))
			req.Host, req.RemoteAddr = "127.0.0.1", "127.0.0.1:50000"
			req.Header.Set("Authorization", tokens[n.Add(1)%uint64(len(tokens))])
			if body != nil {
				req.Header.Set("Content-Type", "application/json")
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != want {
				b.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
			}
		}
	})
}
