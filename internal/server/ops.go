package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/switchboardhq/switchboard/internal/health"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// handleHealthz answers while the process runs.
func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readiness is the answer of /readyz: every check and how it stands.
type readiness struct {
	Status string          `json:"status"`
	Checks []health.Result `json:"checks"`
}

// handleReadyz answers 200 only while the database answers and every
// background loop passes as often as it should, so that a load balancer
// stops sending requests to an instance that cannot serve them or whose
// timeouts and live streams have stalled. A failure is a 503 problem that
// names the failing checks. Error texts stay in the log: they name hosts
// and addresses, and this answer is public.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var checks []health.Result
	if s.Ready != nil {
		db := health.Result{Name: "database", Status: "ok"}
		if err := s.Ready(ctx); err != nil {
			db.Status, db.Error = "failing", err.Error()
		}
		checks = append(checks, db)
	}
	if s.Health != nil {
		checks = append(checks, s.Health.Check(ctx)...)
	}
	var failing []string
	var details []*huma.ErrorDetail
	for i := range checks {
		c := &checks[i]
		if !c.OK() {
			s.Logger.WarnContext(ctx, "not ready", "check", c.Name, "status", c.Status, "err", c.Error,
				"request_id", requestIDFrom(ctx))
			failing = append(failing, c.Name)
			details = append(details, &huma.ErrorDetail{Location: c.Name, Message: c.Status})
		}
		c.Error = ""
	}
	if len(failing) > 0 {
		p := newProblem(ctx, http.StatusServiceUnavailable, "Not ready: "+strings.Join(failing, ", ")+" failing; see the server log.")
		p.Instance = r.URL.Path
		p.Errors = details
		w.Header().Set("Content-Type", "application/problem+json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(p.Status)
		_ = json.NewEncoder(w).Encode(p)
		return
	}
	writeJSON(w, http.StatusOK, readiness{Status: "ok", Checks: checks})
}

// metricsHandler serves the Prometheus metrics; with a metrics token set,
// only to a client that sends it as a bearer token. The comparison is of
// hashes, in constant time, so that neither the token nor its length shows
// in the time an answer takes.
func (s *Server) metricsHandler() http.HandlerFunc {
	serve := s.Metrics.Handler()
	if s.opts.MetricsToken == "" {
		return serve.ServeHTTP
	}
	want := sha256.Sum256([]byte(s.opts.MetricsToken))
	return func(w http.ResponseWriter, r *http.Request) {
		scheme, secret, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		got := sha256.Sum256([]byte(strings.TrimSpace(secret)))
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard-metrics"`)
			writeProblem(w, r, http.StatusUnauthorized, "The metrics need the metrics token: Authorization: Bearer <SWITCHBOARD_METRICS_TOKEN>.")
			return
		}
		serve.ServeHTTP(w, r)
	}
}

// staticHandler serves the embedded stylesheet, script and images. URLs carry
// a hash of the files (see views.staticVersion), so they may be cached for a
// year.
func (s *Server) staticHandler() http.Handler {
	sub, err := fs.Sub(assets, "static")
	if err != nil {
		panic(err)
	}
	files := http.StripPrefix("/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("v") == s.views.staticVersion {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "public, max-age=300")
		}
		files.ServeHTTP(w, r)
	})
}

func (s *Server) handleFavicon(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/static/favicon.svg?v="+s.views.staticVersion, http.StatusMovedPermanently)
}
