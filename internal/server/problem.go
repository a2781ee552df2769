package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/validation"
	"github.com/go-chi/chi/v5"

	"github.com/switchboardhq/switchboard"
)

// httpStatus is the one table from domain error codes to HTTP statuses.
var httpStatus = map[string]int{
	switchboard.ECONFLICT:       http.StatusConflict,
	switchboard.EFORBIDDEN:      http.StatusForbidden,
	switchboard.EINTERNAL:       http.StatusInternalServerError,
	switchboard.EINVALID:        http.StatusUnprocessableEntity,
	switchboard.ENOTFOUND:       http.StatusNotFound,
	switchboard.EPRECONDITION:   http.StatusPreconditionFailed,
	switchboard.ERATELIMIT:      http.StatusTooManyRequests,
	switchboard.EUNAUTHORIZED:   http.StatusUnauthorized,
	switchboard.ENOTIMPLEMENTED: http.StatusNotImplemented,
}

// Problem is an RFC 9457 problem document, the body of every error response
// of the API (and of non-HTML error responses elsewhere). Errors lists the
// individual fields at fault; RequestID lets an operator find the request in
// the logs.
type Problem struct {
	Type      string `json:"type,omitempty" doc:"A URI reference that identifies the problem type; about:blank when the status says it all." example:"about:blank"`
	Title     string `json:"title" doc:"A short summary of the problem type (the HTTP status text)." example:"Unprocessable Entity"`
	Status    int    `json:"status" doc:"The HTTP status code." example:"422"`
	Detail    string `json:"detail,omitempty" doc:"What went wrong this time, for people." example:"Enter a valid e-mail address, like name@example.com."`
	Instance  string `json:"instance,omitempty" doc:"The request path the problem occurred on."`
	RequestID string `json:"request_id,omitempty" doc:"The request's ID, as in the X-Request-ID response header and the server log."`
	// CurrentState and RequestedState explain a refused lifecycle transition.
	CurrentState   string              `json:"current_state,omitempty" doc:"With 409 for a lifecycle action: the object's current state." example:"retired"`
	RequestedState string              `json:"requested_state,omitempty" doc:"With 409 for a lifecycle action: the state that was asked for." example:"active"`
	Errors         []*huma.ErrorDetail `json:"errors,omitempty" doc:"The individual fields at fault, each with its location (like body.email or query.limit) and a message."`
}

func (p *Problem) Error() string  { return p.Detail }
func (p *Problem) GetStatus() int { return p.Status }

// ContentType makes JSON problems application/problem+json.
func (p *Problem) ContentType(ct string) string {
	if ct == "application/json" || ct == "" {
		return "application/problem+json"
	}
	return ct
}

func init() {
	// Every error huma writes itself (validation, bad JSON, oversized
	// bodies) becomes a Problem too. huma keeps this hook in a package
	// variable; the server is its only user in this program.
	huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
		return newProblem(context.Background(), status, msg, errs...)
	}
	huma.NewErrorWithContext = func(hctx huma.Context, status int, msg string, errs ...error) huma.StatusError {
		ctx := context.Background()
		if hctx != nil {
			ctx = hctx.Context()
		}
		return newProblem(ctx, status, msg, errs...)
	}
}

func newProblem(ctx context.Context, status int, msg string, errs ...error) *Problem {
	p := &Problem{Status: status, Detail: msg}
	for _, err := range errs {
		if err == nil {
			continue
		}
		var d *huma.ErrorDetail
		if ed, ok := err.(huma.ErrorDetailer); ok {
			d = ed.ErrorDetail()
		} else {
			d = &huma.ErrorDetail{Message: err.Error()}
		}
		// Never echo input back: it may be a password or a token.
		p.Errors = append(p.Errors, &huma.ErrorDetail{Message: d.Message, Location: d.Location})
		// Fields the operation does not know are a malformed request, not
		// a semantically invalid one.
		if d.Message == validation.MsgUnexpectedProperty && status == http.StatusUnprocessableEntity {
			p.Status = http.StatusBadRequest
			p.Detail = "The request has fields this operation does not accept: " + d.Location + "."
		}
	}
	if p.Status == http.StatusUnsupportedMediaType {
		p.Detail = "The request body's Content-Type is not one this operation accepts; see the API contract."
	}
	if p.Status == http.StatusUnprocessableEntity && msg == "validation failed" && len(p.Errors) > 0 {
		p.Detail = describeFieldErrors(p.Errors)
	}
	p.Title = http.StatusText(p.Status)
	p.RequestID = requestIDFrom(ctx)
	return p
}

func describeFieldErrors(errs []*huma.ErrorDetail) string {
	if len(errs) == 1 {
		return fmt.Sprintf("%s: %s.", errs[0].Location, strings.TrimSuffix(errs[0].Message, "."))
	}
	return fmt.Sprintf("%d problems with the request; see errors.", len(errs))
}

// apiError turns a service error into the problem an API client sees.
// Internal errors are logged with the request ID and reported without detail.
// A Problem, made by a handler that checks input itself as the API layer
// would (see heartbeatInputBody), goes as it is.
func (s *Server) apiError(ctx context.Context, err error, fieldLocation string) error {
	if p, ok := errors.AsType[*Problem](err); ok {
		return p
	}
	code := switchboard.ErrorCode(err)
	status, ok := httpStatus[code]
	if !ok || code == switchboard.EINTERNAL {
		s.logInternal(ctx, err)
		return newProblem(ctx, http.StatusInternalServerError, switchboard.ErrorMessage(err))
	}
	p := newProblem(ctx, status, switchboard.ErrorMessage(err))
	for _, f := range switchboard.ErrorFields(err) {
		loc := fieldLocation + "." + f.Field
		if f.Line > 0 {
			loc = fmt.Sprintf("line %d: %s", f.Line, f.Field)
		}
		p.Errors = append(p.Errors, &huma.ErrorDetail{Location: loc, Message: f.Message})
	}
	if e, ok := errors.AsType[*switchboard.Error](err); ok && e.State != nil {
		p.CurrentState, p.RequestedState = e.State.Current, e.State.Requested
	}
	var e *switchboard.Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		return huma.ErrorWithHeaders(p, http.Header{"Retry-After": {retryAfter(e.RetryAfter.Seconds())}})
	}
	return p
}

func retryAfter(seconds float64) string {
	n := int(seconds)
	if float64(n) < seconds {
		n++
	}
	return strconv.Itoa(max(n, 1))
}

func (s *Server) logInternal(ctx context.Context, err error) {
	s.Logger.ErrorContext(ctx, "internal error", "err", err.Error(), "request_id", requestIDFrom(ctx))
}

// writeProblem writes a problem document outside huma: for routing errors,
// middleware refusals and panics.
func writeProblem(w http.ResponseWriter, r *http.Request, status int, detail string) {
	p := newProblem(r.Context(), status, detail)
	p.Instance = r.URL.Path
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}

// internalError logs err and answers 500 without detail.
func (s *Server) internalError(w http.ResponseWriter, r *http.Request, err error) {
	s.logInternal(r.Context(), err)
	s.renderError(w, r, http.StatusInternalServerError, switchboard.ErrorMessage(err))
}

// renderError answers with an HTML error page to browsers and a problem
// document to everyone else.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, status int, detail string) {
	if wantsHTML(r) {
		s.renderErrorPage(w, r, status, detail)
		return
	}
	writeProblem(w, r, status, detail)
}

// wantsHTML reports whether a request comes from a browser navigating the UI
// rather than from an API client.
func wantsHTML(r *http.Request) bool {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		return false
	}
	accept := r.Header.Get("Accept")
	return strings.Contains(accept, "text/html")
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.renderError(w, r, http.StatusNotFound, "There is nothing at "+r.URL.Path+".")
}

func (s *Server) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if s.router.Match(chi.NewRouteContext(), m, r.URL.Path) {
			allowed = append(allowed, m)
		}
	}
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	s.renderError(w, r, http.StatusMethodNotAllowed, "The method "+r.Method+" is not allowed on "+r.URL.Path+".")
}
