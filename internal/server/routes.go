package server

import (
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/go-chi/chi/v5"

	"github.com/switchboardhq/switchboard"
)

// routes is the whole HTTP surface of Switchboard.
func (s *Server) routes() {
	r := chi.NewRouter()
	s.router = r
	r.NotFound(s.notFound)
	r.MethodNotAllowed(s.methodNotAllowed)

	cop := http.NewCrossOriginProtection()
	if s.opts.BaseURL != nil {
		// Behind a proxy the Host header may differ from the public origin.
		if err := cop.AddTrustedOrigin(s.opts.BaseURL.Scheme + "://" + s.opts.BaseURL.Host); err != nil {
			panic(err) // config.Load validated the URL
		}
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.renderError(w, r, http.StatusForbidden, "Cross-origin request refused: this form or call did not come from Switchboard's own pages.")
	}))

	r.Use(s.requestInfo, s.logRequests, s.recoverPanics, s.securityHeaders, cop.Handler)

	// Operations and assets: no session, no set-up gate.
	r.Get("/healthz", s.handleHealthz)
	r.Get("/readyz", s.handleReadyz)
	r.Handle("/static/*", s.staticHandler())
	r.Get("/favicon.ico", s.handleFavicon)

	r.Group(func(r chi.Router) {
		r.Use(s.sessions.LoadAndSave, markSessionLoaded, s.authenticate, s.requireSetup)

		// The REST API, described by its OpenAPI contract.
		api := s.newAPI(r)
		s.api = api

		handle(s, api, huma.Operation{OperationID: "setup", Method: http.MethodPost, Path: "/api/v1/setup",
			Summary: "Create the first admin", Tags: []string{"Session"}, DefaultStatus: http.StatusCreated,
			Description: "Works only while no user exists; afterwards it answers 404."}, anyone, s.apiSetup)
		handle(s, api, huma.Operation{OperationID: "signIn", Method: http.MethodPost, Path: "/api/v1/session",
			Summary: "Sign in", Tags: []string{"Session"},
			Description: "Starts a browser session (cookie). Throttled per client address and per account."}, anyone, s.apiSignIn)
		handle(s, api, huma.Operation{OperationID: "signOut", Method: http.MethodDelete, Path: "/api/v1/session",
			Summary: "Sign out", Tags: []string{"Session"}, DefaultStatus: http.StatusNoContent}, signedIn, s.apiSignOut)
		handle(s, api, huma.Operation{OperationID: "getMe", Method: http.MethodGet, Path: "/api/v1/me",
			Summary: "Who am I", Tags: []string{"Session"}}, signedIn, s.apiMe)
		handle(s, api, huma.Operation{OperationID: "changePassword", Method: http.MethodPost, Path: "/api/v1/me/password",
			Summary: "Change my password", Tags: []string{"Session"}, DefaultStatus: http.StatusNoContent,
			Description: "Ends every other browser session of the user."}, usersOnly, s.apiChangePassword)

		handle(s, api, huma.Operation{OperationID: "listUsers", Method: http.MethodGet, Path: "/api/v1/users",
			Summary: "List users", Tags: []string{"Users"}}, admins, s.apiListUsers)
		handle(s, api, huma.Operation{OperationID: "createUser", Method: http.MethodPost, Path: "/api/v1/users",
			Summary: "Create a user", Tags: []string{"Users"}, DefaultStatus: http.StatusCreated}, admins, s.apiCreateUser)
		handle(s, api, huma.Operation{OperationID: "getUser", Method: http.MethodGet, Path: "/api/v1/users/{id}",
			Summary: "Get a user", Tags: []string{"Users"}}, admins, s.apiGetUser)
		handle(s, api, huma.Operation{OperationID: "updateUser", Method: http.MethodPatch, Path: "/api/v1/users/{id}",
			Summary: "Change a user's name, role or status", Tags: []string{"Users"},
			Description: "Send If-Match with the user's ETag to avoid overwriting a concurrent change (412 when it moved on)."}, admins, s.apiUpdateUser)

		handle(s, api, huma.Operation{OperationID: "listTokens", Method: http.MethodGet, Path: "/api/v1/tokens",
			Summary: "List my API tokens", Tags: []string{"Tokens"}}, usersOnly, s.apiListTokens)
		handle(s, api, huma.Operation{OperationID: "createToken", Method: http.MethodPost, Path: "/api/v1/tokens",
			Summary: "Create a personal API token", Tags: []string{"Tokens"}, DefaultStatus: http.StatusCreated,
			Description: "The secret is in the token field of the answer, and only there: it is stored hashed."}, usersOnly, s.apiCreateToken)
		handle(s, api, huma.Operation{OperationID: "revokeToken", Method: http.MethodDelete, Path: "/api/v1/tokens/{id}",
			Summary: "Revoke one of my API tokens", Tags: []string{"Tokens"}, DefaultStatus: http.StatusNoContent}, usersOnly, s.apiRevokeToken)

		// The web UI.
		r.Get("/setup", s.webSetup)
		r.Post("/setup", s.webSetupSubmit)
		r.Get("/signin", s.webSignIn)
		r.Post("/signin", s.webSignInSubmit)
		r.Post("/signout", s.webSignOut)

		r.Group(func(r chi.Router) {
			r.Use(s.requireSignIn)
			r.Get("/", s.webHome)
			r.Get("/account", s.webAccount)
			r.Post("/account/password", s.webChangePassword)
			r.Post("/account/tokens", s.webCreateToken)
			r.Post("/account/tokens/{id}/revoke", s.webRevokeToken)

			r.Group(func(r chi.Router) {
				r.Use(s.requireRole(switchboard.RoleAdmin))
				r.Get("/users", s.webUsers)
				r.Get("/users/new", s.webNewUser)
				r.Post("/users", s.webCreateUser)
				r.Get("/users/{id}", s.webUser)
				r.Post("/users/{id}", s.webUpdateUser)
			})
		})
	})
	s.handler = r
}
