package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humachi"
	"github.com/go-chi/chi/v5"

	"github.com/switchboardhq/switchboard"
)

// apiVersion is the version of the API contract (not of the binary): it
// changes with the contract, so the committed copy does not churn per build.
const apiVersion = "1.0.0"

// maxBodyBytes bounds every JSON request body.
const maxBodyBytes = 1 << 20

// newAPI creates the huma API on r: OpenAPI 3.1 at /api/v1/openapi.json,
// strict JSON, no documentation page (it would load scripts from a CDN,
// which the CSP forbids; the contract is served and committed instead).
func (s *Server) newAPI(r chi.Router) huma.API {
	cfg := huma.DefaultConfig("Switchboard API", apiVersion)
	cfg.Info.Description = "Register agents, route work to them, and watch them live. " +
		"Errors are RFC 9457 problem documents. Lists are keyset-paginated: pass next_cursor back as cursor."
	// Paths carry their /api/v1 prefix, so the server is the root of the
	// host that serves the contract, whatever its name: each installation
	// has its own.
	cfg.Servers = []*huma.Server{{URL: "/", Description: "The Switchboard installation that serves this contract."}}
	cfg.Info.Contact = &huma.Contact{Name: "Switchboard", URL: projectURL}
	cfg.Info.License = &huma.License{Name: licenseName, URL: projectURL}
	cfg.Tags = apiTags
	cfg.OpenAPIPath = "/api/v1/openapi"
	cfg.DocsPath = ""
	cfg.SchemasPath = ""
	// No $schema links in bodies and no Link headers: clients rely on the
	// contract, not on per-response hints.
	cfg.CreateHooks = nil
	cfg.Formats = map[string]huma.Format{"application/json": strictJSON, "json": strictJSON}
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", Description: "A personal API token (sbp_...) or agent token (sba_...)."},
		"session": {Type: "apiKey", In: "cookie", Name: sessionCookie,
			Description: "A browser session from POST /api/v1/session, for same-origin calls. " +
				"Over HTTPS the cookie is named __Host-" + sessionCookie + "."},
	}
	return humachi.New(r, cfg)
}

// projectURL is where the project, its issues and its licence live.
const projectURL = "https://github.com/switchboardhq/switchboard"

// licenseName is the licence the contract declares: none has been granted
// yet, so it says what the law gives by default. Change it with the
// repository's LICENSE file.
const licenseName = "All rights reserved"

// apiTags are the groups of operations. Every operation names one of them,
// and documentation tools show them in this order.
var apiTags = []*huma.Tag{
	{Name: "Session", Description: "First-run set-up, signing in and out, and the caller's own account."},
	{Name: "Users", Description: "Accounts of the people who sign in, their roles, invitations and password resets. Admins only."},
	{Name: "Tokens", Description: "Personal API tokens: each user manages their own."},
	{Name: "Agents", Description: "People and machines who take work: their profile, lifecycle and machine tokens. " +
		"Supervisors manage the agents of their teams."},
	{Name: "Teams", Description: "Groups of agents and their supervisors. Admins manage them; supervisors read theirs."},
	{Name: "Enrollment", Description: "Keys with which machine agents enroll themselves, and the enrollment itself."},
	{Name: "Queues", Description: "Where tasks wait, and the settings that route them: teams, skills, strategy, offers, SLA."},
	{Name: "Tasks", Description: "Work routed to agents: creation, routing, offers and their answers, completion, and an agent's presence."},
	{Name: "Statistics", Description: "The dashboard's figures: agents by presence, queues, waits, handle times, utilisation, the last 24 hours."},
	{Name: "Audit", Description: "Who changed what, when, from where."},
	{Name: "Events", Description: "The log of every change, as pages or as a live stream."},
	{Name: "Webhooks", Description: "Endpoints that receive events as signed JSON. Admins only."},
	{Name: "Notifications", Description: "The messages Switchboard sends (invitation and password reset e-mails; tasks offered, assigned and escalated, SLA breaches, agents going offline): their delivery, retrying those given up, and which of them reach each user, on which channels and when."},
}

// strictJSON decodes request bodies strictly: invalid UTF-8 and trailing data
// are errors (Go's decoder would silently replace or ignore them), and so are
// fields a struct does not have. Unknown fields are also caught, with their
// location, by schema validation, since every object schema forbids
// additional properties. Numbers in free-form objects stay exact.
var strictJSON = huma.Format{
	Marshal: func(w io.Writer, v any) error {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		return enc.Encode(v)
	},
	Unmarshal: func(data []byte, v any) error {
		if !utf8.Valid(data) {
			return errors.New("the request body is not valid UTF-8")
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		// Free-form objects keep their numbers exact: as float64, integers
		// above 2^53 would be silently rounded.
		dec.UseNumber()
		if err := dec.Decode(v); err != nil {
			return fmt.Errorf("the request body is not valid JSON: %w", err)
		}
		if _, err := dec.Token(); err != io.EOF {
			return errors.New("the request body has data after its JSON value")
		}
		return nil
	},
}

// access says who may call an operation.
type access struct {
	anonymous bool               // anyone, signed in or not
	agents    bool               // agent tokens too, not only users
	roles     []switchboard.Role // empty: any role
}

var (
	anyone      = access{anonymous: true}
	signedIn    = access{agents: true}
	usersOnly   = access{}
	admins      = access{roles: []switchboard.Role{switchboard.RoleAdmin}}
	supervisors = access{roles: []switchboard.Role{switchboard.RoleAdmin, switchboard.RoleSupervisor}}
)

// handle registers an operation with its access rule, documents its
// security and errors, and maps service errors to problem documents.
func handle[I, O any](s *Server, api huma.API, op huma.Operation, who access, h func(context.Context, *I) (*O, error)) {
	if who.anonymous {
		// Explicitly none, rather than left out, so that clients and
		// linters know the operation is public on purpose.
		op.Security = []map[string][]string{}
	} else {
		op.Security = []map[string][]string{{"bearer": {}}, {"session": {}}}
	}
	// Every operation, even one open to anyone, can meet the refusals of
	// the middleware in front of it: authenticate answers 401 to a
	// malformed or unknown bearer token; requireSetup answers 403 to all but
	// set-up until the first admin exists, cross-origin protection 403
	// to unsafe calls made from other sites' pages, and checkHost 421 to a
	// Host that is not Switchboard's. guard adds its own 401 and 403 on top.
	op.Errors = append(op.Errors, http.StatusUnauthorized, http.StatusForbidden, http.StatusMisdirectedRequest)
	op.Errors = append(op.Errors, inputErrors(reflect.TypeFor[I]())...)
	if op.MaxBodyBytes == 0 {
		op.MaxBodyBytes = maxBodyBytes
	}
	op.Middlewares = append(op.Middlewares, s.guard(api, who), s.checkAPIInput(api))
	location := "body"
	if op.Method == http.MethodGet || op.Method == http.MethodDelete {
		location = "query"
	}
	huma.Register(api, op, func(ctx context.Context, in *I) (*O, error) {
		out, err := h(ctx, in)
		if err != nil {
			return nil, s.apiError(ctx, err, location)
		}
		return out, nil
	})
}

// inputErrors are the statuses an operation answers about its input, read
// from its input struct so that no operation can leave one out of the
// contract: a JSON body may be malformed (400), of a media type the
// operation does not take (415) or invalid (422); any body may be missing
// (400) or too large (413); parameters may be invalid (422); a path names
// something that may not exist (404); and an If-Match that no longer matches
// fails the change (412).
func inputErrors(in reflect.Type) []int {
	var statuses []int
	for f := range in.Fields() {
		switch {
		case f.Anonymous && f.Type.Kind() == reflect.Struct:
			statuses = append(statuses, inputErrors(f.Type)...)
		case f.Name == "Body":
			statuses = append(statuses, http.StatusBadRequest, http.StatusRequestEntityTooLarge,
				http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity)
		case f.Name == "RawBody":
			statuses = append(statuses, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity)
		case f.Tag.Get("path") != "":
			statuses = append(statuses, http.StatusNotFound, http.StatusUnprocessableEntity)
		case f.Tag.Get("header") == "If-Match":
			statuses = append(statuses, http.StatusPreconditionFailed)
		case f.Tag.Get("query") != "" || f.Tag.Get("header") != "":
			statuses = append(statuses, http.StatusUnprocessableEntity)
		}
	}
	return statuses
}

// guard refuses a request before its input is read when the caller may not
// make it: 401 without credentials, 403 with the wrong role.
func (s *Server) guard(api huma.API, who access) func(huma.Context, func(huma.Context)) {
	return func(hctx huma.Context, next func(huma.Context)) {
		if who.anonymous {
			next(hctx)
			return
		}
		actor := switchboard.ActorFromContext(hctx.Context())
		switch {
		case actor == nil:
			hctx.SetHeader("WWW-Authenticate", `Bearer realm="switchboard"`)
			_ = huma.WriteErr(api, hctx, http.StatusUnauthorized, "Sign in or send Authorization: Bearer <token>.")
		case actor.User == nil && !who.agents:
			_ = huma.WriteErr(api, hctx, http.StatusForbidden, "Only users may do this, not agents.")
		case len(who.roles) > 0 && !slices.Contains(who.roles, actor.Role()):
			_ = huma.WriteErr(api, hctx, http.StatusForbidden, "Your role may not do this.")
		default:
			next(hctx)
		}
	}
}

// ListQuery are the query parameters every list takes.
type ListQuery struct {
	Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Items per page."`
	Cursor string `query:"cursor" maxLength:"512" doc:"The next_cursor of the previous page."`
}

// ListBody is the shape of every list.
type ListBody[T any] struct {
	Items      []T    `json:"items" nullable:"false"`
	NextCursor string `json:"next_cursor,omitempty" doc:"Pass as cursor to get the next page; absent on the last page."`
}

func listBody[T, D any](p *switchboard.Page[D], convert func(D) T) ListBody[T] {
	items := make([]T, len(p.Items))
	for i, d := range p.Items {
		items[i] = convert(d)
	}
	return ListBody[T]{Items: items, NextCursor: p.NextCursor}
}

// etag is the ETag of a versioned object.
func etag(version int) string { return `"` + strconv.Itoa(version) + `"` }

// ifMatchVersion reads an If-Match header into the version an update must
// find: 0 when absent or "*", -1 (matching nothing) when it names no version
// of ours.
func ifMatchVersion(h string) int {
	h = strings.TrimSpace(h)
	if h == "" || h == "*" {
		return 0
	}
	// If-Match compares strongly (RFC 9110 §13.1.1): weak tags never match.
	for _, tag := range strings.Split(h, ",") {
		tag = strings.TrimSpace(tag)
		if n, err := strconv.Atoi(strings.Trim(tag, `"`)); err == nil && n > 0 && strings.HasPrefix(tag, `"`) && strings.HasSuffix(tag, `"`) {
			return n
		}
	}
	return -1
}

// apiTime formats an optional time for JSON.
func apiTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// OpenAPIYAML returns the API contract as served at /api/v1/openapi.yaml.
func OpenAPIYAML() ([]byte, error) {
	return New(Deps{}, Options{}).api.OpenAPI().YAML()
}
