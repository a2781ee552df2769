package server

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humachi"
	"github.com/go-chi/chi/v5"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/switchboardhq/switchboard"
)

// The input layer: what every request's path, query, headers and JSON body
// must be before a handler sees them, checked here once rather than by each
// handler, so that every engine gets only input all three store and compare
// alike (see the root package's input rules). Forms are checked where they
// are parsed (parseForm), and the meaning of fields by the domain's
// validators.

// checkPathAndQuery answers 404 to a path whose parameters cannot name
// anything (IDs are UUIDs; secrets and actions are ASCII), and, for the web
// pages, 422 to a query holding a NUL character or text that is not UTF-8.
// The API's query parameters are checked per operation by checkAPIInput,
// which knows which of them the operation reads.
func (s *Server) checkPathAndQuery(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rctx := chi.RouteContext(r.Context()); rctx != nil {
			for i, name := range rctx.URLParams.Keys {
				if !validPathParam(name, rctx.URLParams.Values[i]) {
					s.notFound(w, r)
					return
				}
			}
		}
		if !strings.HasPrefix(r.URL.Path, "/api/") {
			for name, values := range r.URL.Query() {
				for _, v := range values {
					if !switchboard.ValidText(name) || !switchboard.ValidText(v) {
						s.renderError(w, r, http.StatusUnprocessableEntity,
							"The address holds a NUL character or text that is not UTF-8; correct the link and try again.")
						return
					}
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// validPathParam reports whether a path parameter may name something: IDs
// ("id", "token_id", "agent_id") have the shape of a UUID; the others
// (invitation secrets, lifecycle actions) are printable ASCII.
func validPathParam(name, value string) bool {
	if name == "id" || strings.HasSuffix(name, "_id") {
		return switchboard.ValidID(value)
	}
	for i := 0; i < len(value); i++ {
		if value[i] <= ' ' || value[i] >= 0x7f {
			return false
		}
	}
	return true
}

// checkAPIInput refuses, with 422 naming the parameter or field, an API
// request whose declared query parameters hold a NUL character or text that
// is not UTF-8, or whose JSON body has such a string at any
// depth, or a key given twice in one object (which decoding would silently
// resolve by keeping the last). It runs after guard: who may not call the
// operation learns nothing about their input.
func (s *Server) checkAPIInput(api huma.API) func(huma.Context, func(huma.Context)) {
	return func(hctx huma.Context, next func(huma.Context)) {
		op := hctx.Operation()
		for _, p := range op.Parameters {
			if p.In != "query" {
				continue // paths: checkPathAndQuery; headers: net/http refuses NUL and other controls in them
			}
			if !switchboard.ValidText(hctx.Query(p.Name)) {
				_ = huma.WriteErr(api, hctx, http.StatusUnprocessableEntity, "query."+p.Name+": must be text without NUL characters.",
					&huma.ErrorDetail{Location: "query." + p.Name, Message: "Must be text without NUL characters."})
				return
			}
		}
		if takesJSON(op, hctx.Header("Content-Type")) {
			r, _ := humachi.Unwrap(hctx)
			body, err := io.ReadAll(io.LimitReader(r.Body, op.MaxBodyBytes+1))
			if err != nil || int64(len(body)) > op.MaxBodyBytes {
				// Too large, or cut off: huma reports it as it reads the rest.
				r.Body = readCloser{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
				next(hctx)
				return
			}
			r.Body = readCloser{bytes.NewReader(body), r.Body}
			if err := switchboard.CheckJSON("", body); err != nil {
				writeFieldErrors(api, hctx, "body", err)
				return
			}
			if op.SkipValidateBody && len(body) > 0 && !jsontext.Value(body).IsValid() {
				// The operation reads its body itself (see heartbeatInputBody):
				// refuse what is not JSON at all as the API layer's own
				// validation would, with 400.
				var v any
				if err := strictJSON.Unmarshal(body, &v); err != nil {
					_ = huma.WriteErr(api, hctx, http.StatusBadRequest, "validation failed", &huma.ErrorDetail{Location: "body", Message: err.Error()})
					return
				}
			}
		}
		next(hctx)
	}
}

// takesJSON reports whether a request sends the operation a JSON body:
// huma reads a body without Content-Type as JSON too.
func takesJSON(op *huma.Operation, contentType string) bool {
	if op.RequestBody == nil || op.RequestBody.Content["application/json"] == nil {
		return false
	}
	if contentType == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// writeFieldErrors answers 422 with the fields of a domain error, located
// under location ("body").
func writeFieldErrors(api huma.API, hctx huma.Context, location string, err error) {
	var details []error
	for _, f := range switchboard.ErrorFields(err) {
		loc := location
		switch {
		case strings.HasPrefix(f.Field, "["):
			loc += f.Field
		case f.Field != "":
			loc += "." + f.Field
		}
		details = append(details, &huma.ErrorDetail{Location: loc, Message: f.Message})
	}
	_ = huma.WriteErr(api, hctx, http.StatusUnprocessableEntity, switchboard.ErrorMessage(err), details...)
}

// readCloser reads from one reader and closes another: a request body put
// back after it was read.
type readCloser struct {
	io.Reader
	io.Closer
}
