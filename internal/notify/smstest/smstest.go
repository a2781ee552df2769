// Package smstest runs a fake of Twilio's Messages API on loopback for
// tests. It checks each request as the real API does (method, path with the
// account SID, basic authentication, form encoding, fields), answers as the
// real API answers, keeps the messages it accepts, and can be told to
// refuse a number or to fail.
package smstest

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sync"
	"testing"
	"unicode/utf16"
)

// Message is one message the fake accepted.
type Message struct {
	To                  string
	From                string
	MessagingServiceSID string
	Body                string
	IdempotencyKey      string // the I-Twilio-Idempotency-Token header
}

// Server is a fake Messages API for one account.
type Server struct {
	// URL is the base URL to configure a sender with, like
	// http://127.0.0.1:41234.
	URL        string
	AccountSID string
	AuthToken  string

	mu       sync.Mutex
	messages []Message
	requests int
	refused  map[string]bool
	failWith int
	problems []string
}

// Start starts a fake for an account, closed when the test ends.
func Start(tb testing.TB, accountSID, authToken string) *Server {
	tb.Helper()
	s := &Server{AccountSID: accountSID, AuthToken: authToken, refused: map[string]bool{}}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Messages returns the messages accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Requests returns how many requests reached the fake.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Problems lists the requests that the real API would have refused as
// malformed (wrong method, path, credentials, encoding or fields), each
// with what was wrong.
func (s *Server) Problems() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.problems...)
}

// Refuse makes the fake refuse a number for good, as Twilio refuses one
// that cannot receive messages (400, error 21614).
func (s *Server) Refuse(to string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refused[to] = true
}

// Fail makes the fake answer every well-formed request with status (429,
// 500, 503, ...) until it is called with 0.
func (s *Server) Fail(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failWith = status
}

var (
	e164          = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	alphanumeric  = regexp.MustCompile(`^[A-Za-z0-9 ]{1,11}$`)
	serviceSID    = regexp.MustCompile(`^MG[0-9a-fA-F]{32}$`)
	allowedFields = map[string]bool{"To": true, "From": true, "MessagingServiceSid": true, "Body": true}
)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	s.mu.Unlock()
	if r.Method != http.MethodPost {
		s.refuse(w, http.StatusMethodNotAllowed, 20004, "Method not allowed", "method %s, want POST", r.Method)
		return
	}
	if want := "/2010-04-01/Accounts/" + s.AccountSID + "/Messages.json"; r.URL.Path != want {
		s.refuse(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found", "path %s, want %s", r.URL.Path, want)
		return
	}
	if user, pass, ok := r.BasicAuth(); !ok || user != s.AccountSID || pass != s.AuthToken {
		s.refuse(w, http.StatusUnauthorized, 20003, "Authenticate", "basic authentication for %q (set: %v), want the account SID and auth token", user, ok)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		s.refuse(w, http.StatusBadRequest, 21602, "Message body is required.", "Content-Type %q, want application/x-www-form-urlencoded", r.Header.Get("Content-Type"))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		s.refuse(w, http.StatusBadRequest, 21602, "Message body is required.", "unreadable form: %v", err)
		return
	}
	form := r.PostForm
	if len(r.URL.RawQuery) > 0 {
		s.refuse(w, http.StatusBadRequest, 21602, "Message body is required.", "fields in the query string %q: the API reads the body", r.URL.RawQuery)
		return
	}
	for k, vs := range form {
		if !allowedFields[k] || len(vs) != 1 {
			s.refuse(w, http.StatusBadRequest, 21602, "Message body is required.", "field %s (%d values): want To, Body and From or MessagingServiceSid, once each", k, len(vs))
			return
		}
	}
	m := Message{To: form.Get("To"), From: form.Get("From"), MessagingServiceSID: form.Get("MessagingServiceSid"),
		Body: form.Get("Body"), IdempotencyKey: r.Header.Get("I-Twilio-Idempotency-Token")}
	switch {
	case m.To == "":
		s.refuse(w, http.StatusBadRequest, 21604, "A 'To' phone number is required.", "no To")
		return
	case !e164.MatchString(m.To):
		s.refuse(w, http.StatusBadRequest, 21211, "Invalid 'To' Phone Number: "+m.To, "To %q is not E.164", m.To)
		return
	case m.From == "" && m.MessagingServiceSID == "":
		s.refuse(w, http.StatusBadRequest, 21603, "A 'From' phone number is required.", "neither From nor MessagingServiceSid")
		return
	case m.From != "" && m.MessagingServiceSID != "":
		s.refuse(w, http.StatusBadRequest, 21603, "Specify either a 'From' or a 'MessagingServiceSid', not both.", "both From and MessagingServiceSid")
		return
	case m.From != "" && !e164.MatchString(m.From) && !alphanumeric.MatchString(m.From):
		s.refuse(w, http.StatusBadRequest, 21212, "Invalid 'From' Phone Number: "+m.From, "From %q is neither E.164 nor a sender ID", m.From)
		return
	case m.MessagingServiceSID != "" && !serviceSID.MatchString(m.MessagingServiceSID):
		s.refuse(w, http.StatusBadRequest, 21701, "The Messaging Service Sid "+m.MessagingServiceSID+" is invalid.", "MessagingServiceSid %q", m.MessagingServiceSID)
		return
	case m.Body == "":
		s.refuse(w, http.StatusBadRequest, 21602, "Message body is required.", "no Body")
		return
	case len(utf16.Encode([]rune(m.Body))) > 1600:
		s.refuse(w, http.StatusBadRequest, 21617, "The concatenated message body exceeds the 1600 character limit.", "Body of %d UTF-16 units", len(utf16.Encode([]rune(m.Body))))
		return
	}
	s.mu.Lock()
	refused, failWith := s.refused[m.To], s.failWith
	s.mu.Unlock()
	switch {
	case failWith == http.StatusTooManyRequests:
		writeError(w, failWith, 20429, "Too Many Requests")
		return
	case failWith != 0:
		// A provider in trouble: a page from its front end, not JSON.
		http.Error(w, "<html><body>Service Unavailable</body></html>", failWith)
		return
	case refused:
		writeError(w, http.StatusBadRequest, 21614, "'To' number "+m.To+" is not a valid mobile number")
		return
	}
	s.mu.Lock()
	s.messages = append(s.messages, m)
	sid := fmt.Sprintf("SM%032x", len(s.messages))
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"sid": sid, "account_sid": s.AccountSID, "to": m.To, "from": nullable(m.From), "messaging_service_sid": nullable(m.MessagingServiceSID),
		"body": m.Body, "status": "queued", "num_segments": "1", "direction": "outbound-api", "api_version": "2010-04-01",
		"uri": "/2010-04-01/Accounts/" + url.PathEscape(s.AccountSID) + "/Messages/" + sid + ".json",
	})
}

// refuse answers a request the real API would refuse, and notes why.
func (s *Server) refuse(w http.ResponseWriter, status, code int, message, problem string, args ...any) {
	s.mu.Lock()
	s.problems = append(s.problems, fmt.Sprintf(problem, args...))
	s.mu.Unlock()
	writeError(w, status, code, message)
}

// writeError answers as the API does when it refuses a request.
func writeError(w http.ResponseWriter, status, code int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": code, "message": message,
		"more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code), "status": status})
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
