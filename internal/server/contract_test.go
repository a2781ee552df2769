package server_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	"github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/paths"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
)

// committedContract is the contract clients are given. TestOpenAPIContract
// proves it equals the served one, so checking answers against it checks
// them against what the server says about itself.
const committedContract = "../../api/openapi.yaml"

// contract is api/openapi.yaml, parsed and compiled once per test binary:
// building the validator compiles every schema in the document, which is
// far too slow to repeat for each of the hundreds of calls the API tests
// make. The validator is safe for concurrent use by parallel tests.
var contract struct {
	once      sync.Once
	document  libopenapi.Document
	model     *v3.Document
	validator validator.Validator
	err       error
}

func loadContract(tb testing.TB) (*v3.Document, validator.Validator, libopenapi.Document) {
	tb.Helper()
	contract.once.Do(func() {
		spec, err := os.ReadFile(committedContract)
		if err != nil {
			contract.err = err
			return
		}
		doc, err := libopenapi.NewDocument(spec)
		if err != nil {
			contract.err = fmt.Errorf("parse %s: %w", committedContract, err)
			return
		}
		model, err := doc.BuildV3Model()
		if err != nil {
			contract.err = fmt.Errorf("build %s: %w", committedContract, err)
			return
		}
		// Format assertions make date-time, email and the like part of
		// the check: the schemas declare them, so answers must keep them.
		v, errs := validator.NewValidator(doc, config.WithFormatAssertions())
		if len(errs) > 0 {
			contract.err = fmt.Errorf("validator for %s: %v", committedContract, errs)
			return
		}
		contract.document, contract.model, contract.validator = doc, &model.Model, v
	})
	if contract.err != nil {
		tb.Fatalf("the API contract: %v", contract.err)
	}
	return contract.model, contract.validator, contract.document
}

// TestOpenAPIDocumentIsValid checks api/openapi.yaml against the OpenAPI 3.1
// specification's own schema, so that what huma generates (and what our
// operation declarations add to it) stays a contract any client generator
// can read.
func TestOpenAPIDocumentIsValid(t *testing.T) {
	_, v, doc := loadContract(t)
	if got := doc.GetVersion(); !strings.HasPrefix(got, "3.1.") {
		t.Errorf("openapi version %q, want 3.1.x", got)
	}
	if ok, errs := v.ValidateDocument(); !ok {
		t.Errorf("api/openapi.yaml is not a valid OpenAPI document:\n%s", describeViolations(errs))
	}
}

// checkAgainstContract fails the test when an answer of the API is not one
// the contract describes: a status the operation does not declare (and no
// default covers), a content type it does not declare for that status, a
// body or a declared header its schema rejects. Problem documents are
// checked like any other body. Two things the library does not check: that
// an answer whose status declares no content (the 204s) has an empty body,
// which net/http enforces anyway, and headers the contract does not declare.
//
// Only requests that name an operation of the contract (path and method)
// are checked. The rest are not API answers the contract promises anything
// about: the contract itself, /healthz and /readyz, static files, and the
// requests tests send on purpose to paths or methods that do not exist, to
// see their 404 and 405 problems. Those are skipped rather than reported.
func checkAgainstContract(tb testing.TB, res *response) {
	tb.Helper()
	model, v, _ := loadContract(tb)
	if _, errs, _ := paths.FindPath(res.Request, model, nil); len(errs) > 0 {
		return
	}
	// The validator reads the body; give it a fresh copy of what the test
	// already read, and leave the test's response alone.
	answer := *res.Response
	answer.Body = io.NopCloser(bytes.NewReader(res.body))
	if ok, errs := v.ValidateHttpResponse(res.Request, &answer); !ok {
		tb.Errorf("%s %s: the %d answer breaks api/openapi.yaml:\n%s\nbody: %s",
			res.Request.Method, res.Request.URL.Path, res.StatusCode, describeViolations(errs), truncate(res.body))
	}
}

func describeViolations(errs []*errors.ValidationError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "  - %s: %s\n", e.Message, e.Reason)
		for _, f := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, "      %s at %s (schema %s)\n", f.Reason, f.FieldPath, f.KeywordLocation)
		}
	}
	return b.String()
}

// TestContractCheckSkipsOnlyUndeclaredOperations pins the skip rule of
// checkAgainstContract, so that a change in how the library matches paths
// can neither quietly skip every call nor start checking answers the
// contract does not describe.
func TestContractCheckSkipsOnlyUndeclaredOperations(t *testing.T) {
	model, _, _ := loadContract(t)
	for _, tc := range []struct {
		method, path string
		declared     bool
	}{
		{http.MethodGet, "/api/v1/me", true},
		{http.MethodPatch, "/api/v1/users/u_123", true},
		{http.MethodPost, "/api/v1/agents/import", true},
		{http.MethodPut, "/api/v1/me", false},
		{http.MethodGet, "/api/v1/nothing-here", false},
		{http.MethodGet, "/api/v1/openapi.yaml", false},
		{http.MethodGet, "/healthz", false},
	} {
		req, _ := http.NewRequest(tc.method, "http://example.com"+tc.path, nil)
		_, errs, _ := paths.FindPath(req, model, nil)
		if declared := len(errs) == 0; declared != tc.declared {
			t.Errorf("%s %s: declared = %v, want %v", tc.method, tc.path, declared, tc.declared)
		}
	}
}

// TestContractCheckCatchesMismatches makes sure the check has teeth: answers
// that break the contract in each way it looks at are reported.
func TestContractCheckCatchesMismatches(t *testing.T) {
	_, v, _ := loadContract(t)
	const me = `{"kind":"user","user":{"id":"u1","email":"ada@example.com","name":"Ada","role":"admin","status":"active",` +
		`"created_at":"2026-01-02T03:04:05Z","updated_at":"2026-01-02T03:04:05Z"}}`
	for _, tc := range []struct {
		name        string
		status      int
		contentType string
		body        string
		wantOK      bool
	}{
		{"OK", http.StatusOK, "application/json", me, true},
		{"ProblemOK", http.StatusUnauthorized, "application/problem+json", `{"title":"Unauthorized","status":401}`, true},
		{"UndeclaredStatus", http.StatusTeapot, "application/problem+json", `{"title":"I'm a teapot","status":418}`, false},
		{"UndeclaredContentType", http.StatusOK, "text/html", "<p>hi</p>", false},
		{"MissingRequiredField", http.StatusOK, "application/json", `{"user":{"id":"u1"}}`, false},
		{"UnknownField", http.StatusOK, "application/json", `{"kind":"user","secret":"x"}`, false},
		{"WrongEnum", http.StatusOK, "application/json", `{"kind":"robot"}`, false},
		{"BadDateTime", http.StatusOK, "application/json", strings.Replace(me, "2026-01-02T03:04:05Z", "yesterday", 1), false},
		{"ProblemWithoutStatus", http.StatusUnauthorized, "application/problem+json", `{"title":"Unauthorized"}`, false},
		{"ProblemAsJSON", http.StatusUnauthorized, "application/json", `{"title":"Unauthorized","status":401}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, "http://example.com/api/v1/me", nil)
			res := &http.Response{StatusCode: tc.status, Request: req, Header: http.Header{"Content-Type": {tc.contentType}},
				Body: io.NopCloser(strings.NewReader(tc.body))}
			ok, errs := v.ValidateHttpResponse(req, res)
			if ok != tc.wantOK {
				t.Errorf("valid = %v, want %v:\n%s", ok, tc.wantOK, describeViolations(errs))
			}
		})
	}
}

// TestOperationsAreDocumented asks of every operation what the contract
// lint in CI asks (.ci/lint-contract), so that `go test` catches it first:
// a description, tags declared at the top of the contract, and security
// stated explicitly, as an empty list on public operations.
func TestOperationsAreDocumented(t *testing.T) {
	model, _, _ := loadContract(t)
	declared := map[string]bool{}
	for _, tag := range model.Tags {
		declared[tag.Name] = tag.Description != ""
	}
	for path, item := range model.Paths.PathItems.FromOldest() {
		for method, op := range item.GetOperations().FromOldest() {
			name := strings.ToUpper(method) + " " + path
			if strings.TrimSpace(op.Description) == "" {
				t.Errorf("%s has no description", name)
			}
			if len(op.Tags) == 0 {
				t.Errorf("%s has no tag", name)
			}
			for _, tag := range op.Tags {
				if !declared[tag] {
					t.Errorf("%s: tag %q is not declared, with a description, in the contract's tags", name, tag)
				}
			}
			if op.Security == nil {
				t.Errorf("%s does not state its security (public operations state none with security: [])", name)
			}
		}
	}
}
