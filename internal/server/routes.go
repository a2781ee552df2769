package server

import (
	"net/http"
	"reflect"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/go-chi/chi/v5"

	"github.com/switchboardhq/switchboard"
)

// routes is the whole HTTP surface of Switchboard.
func (s *Server) routes() {
	r := chi.NewRouter()
	s.router = r
	// A page that does not exist still knows who asked, to offer them a
	// way on that fits: sign in, their work, or the dashboard.
	notFoundPage := s.sessions.LoadAndSave(markSessionLoaded(s.authenticate(http.HandlerFunc(s.notFound))))
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		if wantsHTML(r) {
			notFoundPage.ServeHTTP(w, r)
			return
		}
		s.notFound(w, r)
	})
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

	r.Use(s.requestInfo, s.logRequests, s.observeRequests, s.recoverPanics, s.securityHeaders, compressResponses(), s.checkHost, cop.Handler)

	// Operations and assets: no session, no set-up gate.
	r.Get("/healthz", s.handleHealthz)
	r.Get("/readyz", s.handleReadyz)
	if s.Metrics != nil {
		r.Get("/metrics", s.metricsHandler())
	}
	r.Handle("/static/*", s.staticHandler())
	r.Get("/favicon.ico", s.handleFavicon)

	r.Group(func(r chi.Router) {
		r.Use(s.sessions.LoadAndSave, markSessionLoaded, s.authenticate, s.requireSetup, s.checkPathAndQuery)

		// The REST API, described by its OpenAPI contract.
		api := s.newAPI(r)
		s.api = api

		handle(s, api, huma.Operation{OperationID: "setup", Method: http.MethodPost, Path: "/api/v1/setup",
			Summary: "Create the first admin", Tags: []string{"Session"}, Errors: []int{http.StatusNotFound, http.StatusTooManyRequests}, DefaultStatus: http.StatusCreated,
			Description: "Works only while no user exists; afterwards it answers 404."}, anyone, s.apiSetup)
		handle(s, api, huma.Operation{OperationID: "signIn", Method: http.MethodPost, Path: "/api/v1/session",
			Summary: "Sign in", Tags: []string{"Session"}, Errors: []int{http.StatusTooManyRequests},
			Description: "Starts a browser session (cookie). Throttled per client address; ten failures for one account from one " +
				"address lock the account for that address only, for 15 minutes. A disabled account answers as a wrong password does."}, anyone, s.apiSignIn)
		handle(s, api, huma.Operation{OperationID: "signOut", Method: http.MethodDelete, Path: "/api/v1/session",
			Summary: "Sign out", Tags: []string{"Session"}, DefaultStatus: http.StatusNoContent,
			Description: "Ends the browser session the request came with. Tokens are not affected: revoke them apart."}, signedIn, s.apiSignOut)
		handle(s, api, huma.Operation{OperationID: "requestPasswordReset", Method: http.MethodPost, Path: "/api/v1/password-reset",
			Summary: "Forgot password: e-mail me a reset link", Tags: []string{"Session"}, Errors: []int{http.StatusTooManyRequests}, DefaultStatus: http.StatusAccepted,
			Description: "For someone who cannot sign in. When the address belongs to an active user with a password, a password reset " +
				"link is e-mailed to it (it works once, for 24 hours, and earlier links stop working); the answer is the same, and as " +
				"quick, whether or not it does. Needs SWITCHBOARD_BASE_URL for the link. Throttled per client address (429), and per " +
				"e-mail address, whose extra requests are quietly ignored."}, anyone, s.apiRequestPasswordReset)
		handle(s, api, huma.Operation{OperationID: "getMe", Method: http.MethodGet, Path: "/api/v1/me",
			Summary: "Who am I", Tags: []string{"Session"},
			Description: "The caller: a user (with the agent they work as, if any) or a machine agent, and the token used, if any. " +
				"A pending machine agent polls it to learn when it is approved."}, signedIn, s.apiMe)
		handle(s, api, huma.Operation{OperationID: "changePassword", Method: http.MethodPost, Path: "/api/v1/me/password",
			Summary: "Change my password", Tags: []string{"Session"}, Errors: []int{http.StatusTooManyRequests}, DefaultStatus: http.StatusNoContent,
			Description: "Ends every other browser session of the user."}, usersOnly, s.apiChangePassword)

		handle(s, api, huma.Operation{OperationID: "getMyNotificationPreferences", Method: http.MethodGet, Path: "/api/v1/me/notification-preferences",
			Summary: "What notifications reach me", Tags: []string{"Notifications"},
			Description: "For each kind of notification, the channels that reach the caller, chosen or by default, and their quiet hours."}, usersOnly, s.apiMyPreferences)
		handle(s, api, huma.Operation{OperationID: "setMyNotificationPreferences", Method: http.MethodPut, Path: "/api/v1/me/notification-preferences",
			Summary: "Choose what notifications reach me", Tags: []string{"Notifications"},
			Description: "Replaces the caller's choices: kinds left out go back to their defaults, and quiet hours left out are removed. " +
				"422 for an unknown kind or channel, sms without a phone on the caller's agent, or quiet hours that are not HH:MM times " +
				"in an IANA time zone."}, usersOnly, s.apiSetMyPreferences)
		handle(s, api, huma.Operation{OperationID: "listUsers", Method: http.MethodGet, Path: "/api/v1/users",
			Summary: "List users", Tags: []string{"Users"},
			Description: "Every user, filtered by part of the name or e-mail address, role and status; sorted by e-mail address unless asked otherwise."}, admins, s.apiListUsers)
		handle(s, api, huma.Operation{OperationID: "createUser", Method: http.MethodPost, Path: "/api/v1/users",
			Summary: "Create a user", Tags: []string{"Users"}, Errors: []int{http.StatusConflict}, DefaultStatus: http.StatusCreated,
			Description: "With a first password that the user can change. 409 when the e-mail address is taken, in any case."}, admins, s.apiCreateUser)
		handle(s, api, huma.Operation{OperationID: "getUser", Method: http.MethodGet, Path: "/api/v1/users/{id}",
			Summary: "Get a user", Tags: []string{"Users"},
			Description: "The ETag of the answer is what If-Match takes when changing the user."}, admins, s.apiGetUser)
		handle(s, api, huma.Operation{OperationID: "updateUser", Method: http.MethodPatch, Path: "/api/v1/users/{id}",
			Summary: "Change a user's name, role or status", Tags: []string{"Users"}, Errors: []int{http.StatusConflict},
			Description: "Send If-Match with the user's ETag to avoid overwriting a concurrent change (412 when it moved on)."}, admins, s.apiUpdateUser)
		handle(s, api, huma.Operation{OperationID: "inviteUser", Method: http.MethodPost, Path: "/api/v1/users/{id}/invitation",
			Summary: "Make a new invitation link", Tags: []string{"Users"}, DefaultStatus: http.StatusCreated, Errors: []int{http.StatusConflict, http.StatusNotImplemented},
			Description: "For a user who has not chosen a password yet; it works once, for 7 days, and earlier links stop working. " +
				"409 when the user already has a password."}, admins, s.apiInviteUser)
		handle(s, api, huma.Operation{OperationID: "resetPassword", Method: http.MethodPost, Path: "/api/v1/users/{id}/password-reset",
			Summary: "Make a password reset link", Tags: []string{"Users"}, DefaultStatus: http.StatusCreated, Errors: []int{http.StatusConflict, http.StatusNotImplemented},
			Description: "For a user who has lost their password. The link works once, for 24 hours, and earlier links stop working; " +
				"choosing a new password with it ends every session of the user. Their API tokens keep working: revoke them apart " +
				"if the account may be compromised. 409 when the user is disabled or has no password yet."}, admins, s.apiResetPassword)

		handle(s, api, huma.Operation{OperationID: "getUserNotificationPreferences", Method: http.MethodGet, Path: "/api/v1/users/{id}/notification-preferences",
			Summary: "What notifications reach a user", Tags: []string{"Notifications"},
			Description: "As the user reads their own at /api/v1/me/notification-preferences."}, admins, s.apiUserPreferences)
		handle(s, api, huma.Operation{OperationID: "setUserNotificationPreferences", Method: http.MethodPut, Path: "/api/v1/users/{id}/notification-preferences",
			Summary: "Choose what notifications reach a user", Tags: []string{"Notifications"},
			Description: "As the user sets their own at /api/v1/me/notification-preferences."}, admins, s.apiSetUserPreferences)

		handle(s, api, huma.Operation{OperationID: "listTokens", Method: http.MethodGet, Path: "/api/v1/tokens",
			Summary: "List my API tokens", Tags: []string{"Tokens"},
			Description: "The caller's personal tokens, newest first, active or not, without their secrets."}, usersOnly, s.apiListTokens)
		handle(s, api, huma.Operation{OperationID: "createToken", Method: http.MethodPost, Path: "/api/v1/tokens",
			Summary: "Create a personal API token", Tags: []string{"Tokens"}, DefaultStatus: http.StatusCreated,
			Description: "The secret is in the token field of the answer, and only there: it is stored hashed."}, usersOnly, s.apiCreateToken)
		handle(s, api, huma.Operation{OperationID: "revokeToken", Method: http.MethodDelete, Path: "/api/v1/tokens/{id}",
			Summary: "Revoke one of my API tokens", Tags: []string{"Tokens"}, DefaultStatus: http.StatusNoContent,
			Description: "It stops working at once. Admins may revoke any token by its ID; for anyone else another user's token does not exist (404)."}, usersOnly, s.apiRevokeToken)

		handle(s, api, huma.Operation{OperationID: "listAgents", Method: http.MethodGet, Path: "/api/v1/agents",
			Summary: "List agents", Tags: []string{"Agents"},
			Description: "Supervisors see the agents of the teams they supervise."}, supervisors, s.apiListAgents)
		handle(s, api, huma.Operation{OperationID: "createAgent", Method: http.MethodPost, Path: "/api/v1/agents",
			Summary: "Create an agent", Tags: []string{"Agents"}, Errors: []int{http.StatusConflict, http.StatusNotImplemented}, DefaultStatus: http.StatusCreated,
			Description: "A human agent is linked to the user with its e-mail address. If there is none, a user in role agent " +
				"is created and invited: the answer's invitation holds the link with which they choose a password, and the " +
				"agent stays pending until they do. Only admins may link an existing user: for a supervisor, the address of any " +
				"existing account is 409, with one and the same answer whoever it belongs to. Retiring the agent disables only a " +
				"user created for it. Supervisors must put the agent in at least one of their teams."}, supervisors, s.apiCreateAgent)
		handle(s, api, huma.Operation{OperationID: "importAgents", Method: http.MethodPost, Path: "/api/v1/agents/import",
			Summary: "Import agents from CSV", Tags: []string{"Agents"}, Errors: []int{http.StatusNotImplemented}, DefaultStatus: http.StatusCreated, MaxBodyBytes: maxImportBytes,
			Description: "A header row naming columns (name and kind required; email, phone, skills, capacity, teams, status, " +
				"notify, attributes optional), then one agent per row. Skills are written skill:level;skill:level, teams and " +
				"notify as names separated by ';', attributes as a JSON object. Every row is checked first: if any is wrong, " +
				"nothing is imported and every problem is reported with its line."}, admins, s.apiImportAgents)
		handle(s, api, huma.Operation{OperationID: "bulkAgents", Method: http.MethodPost, Path: "/api/v1/agents/bulk",
			Summary: "Act on many agents at once", Tags: []string{"Agents"}, Errors: []int{http.StatusConflict},
			Description: "Activates (or approves), suspends or retires agents, or adds them to a team or removes them from one " +
				"(team_id): those named by ids (at most 1000), or every agent a filter of the list's query parameters matches " +
				"(at most 1000). All or nothing, in one transaction: when any agent is refused (already retired, not in your " +
				"teams...), none changes, and the 409 lists each refused agent in errors, at body.ids[i] (or body.filter), with " +
				"its name and why. Each agent's change is audited and published as the single-agent action's is. Supervisors act " +
				"on the agents of their teams, and add to or remove from their own teams only (403 for another)."}, supervisors, s.apiBulkAgents)
		handle(s, api, huma.Operation{OperationID: "getAgent", Method: http.MethodGet, Path: "/api/v1/agents/{id}",
			Summary: "Get an agent", Tags: []string{"Agents"},
			Description: "Agent-role users can read only their own agent."}, usersOnly, s.apiGetAgent)
		handle(s, api, huma.Operation{OperationID: "getAgentPresence", Method: http.MethodGet, Path: "/api/v1/agents/{id}/presence",
			Summary: "An agent's presence timeline", Tags: []string{"Agents"},
			Description: "The periods the agent spent available, away, busy or offline, oldest first and without gaps, from since " +
				"(the last 24 hours by default, at most 30 days back) until now, each with what began it. Supervisors read their " +
				"teams' agents', an agent (its token or its user) its own."}, signedIn, s.apiPresenceTimeline)
		handle(s, api, huma.Operation{OperationID: "updateAgent", Method: http.MethodPatch, Path: "/api/v1/agents/{id}",
			Summary: "Change an agent", Tags: []string{"Agents"}, Errors: []int{http.StatusConflict},
			Description: "Send only the fields to change. Retired agents cannot be changed. Send If-Match with the ETag to avoid " +
				"overwriting a concurrent change (412 when it moved on)."}, supervisors, s.apiUpdateAgent)
		handle(s, api, huma.Operation{OperationID: "deleteAgent", Method: http.MethodDelete, Path: "/api/v1/agents/{id}",
			Summary: "Delete a pending agent", Tags: []string{"Agents"}, Errors: []int{http.StatusConflict}, DefaultStatus: http.StatusNoContent,
			Description: "Only agents still pending (never approved) can be deleted; retire the others, which keeps their history."}, supervisors, s.apiDeleteAgent)
		for _, act := range switchboard.AgentActions {
			handle(s, api, huma.Operation{OperationID: act.Name + "Agent", Method: http.MethodPost, Path: "/api/v1/agents/{id}/" + act.Name,
				Summary: title(act.Name) + " an agent", Tags: []string{"Agents"}, Errors: []int{http.StatusConflict},
				Description: transitionDoc(act) + ". Any other transition is 409, with current_state and requested_state."}, supervisors, s.apiLifecycle(act.To))
		}
		handle(s, api, huma.Operation{OperationID: "reinviteAgent", Method: http.MethodPost, Path: "/api/v1/agents/{id}/invitation",
			Summary: "Make a new invitation link for a human agent", Tags: []string{"Agents"}, Errors: []int{http.StatusConflict, http.StatusNotImplemented}, DefaultStatus: http.StatusCreated,
			Description: "For a person who has not chosen a password yet; earlier links stop working."}, supervisors, s.apiReinviteAgent)
		handle(s, api, huma.Operation{OperationID: "listAgentTokens", Method: http.MethodGet, Path: "/api/v1/agents/{id}/tokens",
			Summary: "List a machine agent's tokens", Tags: []string{"Agents"},
			Description: "Newest first, active or not, without their secrets."}, admins, s.apiListAgentTokens)
		handle(s, api, huma.Operation{OperationID: "createAgentToken", Method: http.MethodPost, Path: "/api/v1/agents/{id}/tokens",
			Summary: "Issue a token for a machine agent", Tags: []string{"Agents"}, Errors: []int{http.StatusConflict}, DefaultStatus: http.StatusCreated,
			Description: "The secret is in the token field of the answer, and only there."}, admins, s.apiCreateAgentToken)
		handle(s, api, huma.Operation{OperationID: "revokeAgentToken", Method: http.MethodDelete, Path: "/api/v1/agents/{id}/tokens/{token_id}",
			Summary: "Revoke a machine agent's token", Tags: []string{"Agents"}, DefaultStatus: http.StatusNoContent,
			Description: "It stops working at once; the agent's other tokens keep working."}, admins, s.apiRevokeAgentToken)

		handle(s, api, huma.Operation{OperationID: "listTeams", Method: http.MethodGet, Path: "/api/v1/teams",
			Summary: "List teams", Tags: []string{"Teams"}, Description: "Supervisors see the teams they supervise."}, supervisors, s.apiListTeams)
		handle(s, api, huma.Operation{OperationID: "createTeam", Method: http.MethodPost, Path: "/api/v1/teams",
			Summary: "Create a team", Tags: []string{"Teams"}, Errors: []int{http.StatusConflict}, DefaultStatus: http.StatusCreated,
			Description: "Optionally with its supervisors (users in role supervisor or admin). 409 when the name is taken."}, admins, s.apiCreateTeam)
		handle(s, api, huma.Operation{OperationID: "getTeam", Method: http.MethodGet, Path: "/api/v1/teams/{id}",
			Summary: "Get a team", Tags: []string{"Teams"},
			Description: "Supervisors can read only the teams they supervise; the others do not exist for them (404)."}, supervisors, s.apiGetTeam)
		handle(s, api, huma.Operation{OperationID: "updateTeam", Method: http.MethodPatch, Path: "/api/v1/teams/{id}",
			Summary: "Change a team, its supervisors or members", Tags: []string{"Teams"}, Errors: []int{http.StatusConflict},
			Description: "Send only the fields to change; supervisors are replaced as a whole, members added and removed by ID. " +
				"Send If-Match with the ETag to avoid overwriting a concurrent change (412 when it moved on)."}, admins, s.apiUpdateTeam)
		handle(s, api, huma.Operation{OperationID: "deleteTeam", Method: http.MethodDelete, Path: "/api/v1/teams/{id}",
			Summary: "Delete a team", Tags: []string{"Teams"}, DefaultStatus: http.StatusNoContent,
			Description: "Its agents stay, without it."}, admins, s.apiDeleteTeam)

		handle(s, api, huma.Operation{OperationID: "listEnrollmentKeys", Method: http.MethodGet, Path: "/api/v1/enrollment-keys",
			Summary: "List enrollment keys", Tags: []string{"Enrollment"},
			Description: "Newest first, without their secrets. Supervisors see the keys of the teams they supervise."}, supervisors, s.apiListKeys)
		handle(s, api, huma.Operation{OperationID: "createEnrollmentKey", Method: http.MethodPost, Path: "/api/v1/enrollment-keys",
			Summary: "Create an enrollment key", Tags: []string{"Enrollment"}, Errors: []int{http.StatusNotFound}, DefaultStatus: http.StatusCreated,
			Description: "The secret is in the key field of the answer, and only there."}, supervisors, s.apiCreateKey)
		handle(s, api, huma.Operation{OperationID: "revokeEnrollmentKey", Method: http.MethodDelete, Path: "/api/v1/enrollment-keys/{id}",
			Summary: "Revoke an enrollment key", Tags: []string{"Enrollment"}, DefaultStatus: http.StatusNoContent,
			Description: "Agents that enrolled with it keep their tokens."}, supervisors, s.apiRevokeKey)
		handle(s, api, huma.Operation{OperationID: "enroll", Method: http.MethodPost, Path: "/api/v1/enroll",
			Summary: "Enroll a machine agent", Tags: []string{"Enrollment"}, Errors: []int{http.StatusTooManyRequests}, DefaultStatus: http.StatusCreated,
			Description: "Anyone with an enrollment key. Returns the new agent and its token. Attempts with a wrong or unusable key " +
				"are throttled per client address (429 with Retry-After); a good key is limited only by its max_uses."}, anyone, s.apiEnroll)

		handle(s, api, huma.Operation{OperationID: "listQueues", Method: http.MethodGet, Path: "/api/v1/queues",
			Summary: "List queues", Tags: []string{"Queues"},
			Description: "Supervisors see the queues that route to a team they supervise."}, supervisors, s.apiListQueues)
		handle(s, api, huma.Operation{OperationID: "createQueue", Method: http.MethodPost, Path: "/api/v1/queues",
			Summary: "Create a queue", Tags: []string{"Queues"}, Errors: []int{http.StatusConflict}, DefaultStatus: http.StatusCreated,
			Description: "Supervisors create queues that route to teams they supervise only; a queue of no team routes to " +
				"every agent, and only admins make those."}, supervisors, s.apiCreateQueue)
		handle(s, api, huma.Operation{OperationID: "getQueue", Method: http.MethodGet, Path: "/api/v1/queues/{id}",
			Summary: "Get a queue", Tags: []string{"Queues"},
			Description: "With its ETag, for a later PATCH with If-Match."}, supervisors, s.apiGetQueue)
		handle(s, api, huma.Operation{OperationID: "updateQueue", Method: http.MethodPatch, Path: "/api/v1/queues/{id}",
			Summary: "Change a queue's routing settings", Tags: []string{"Queues"}, Errors: []int{http.StatusConflict},
			Description: "Send only the fields to change. Supervisors change queues that route to their teams alone. Send " +
				"If-Match with the ETag to avoid overwriting a concurrent change (412 when it moved on)."}, supervisors, s.apiUpdateQueue)
		handle(s, api, huma.Operation{OperationID: "getQueueStats", Method: http.MethodGet, Path: "/api/v1/queues/{id}/stats",
			Summary: "Get a queue's statistics", Tags: []string{"Statistics"},
			Description: "The figures of GET /api/v1/stats for this queue alone (agents and utilisation stay those of every agent " +
				"the caller may see; recent is empty). A queue outside a supervisor's teams is 404."}, supervisors, s.apiQueueStats)
		handle(s, api, huma.Operation{OperationID: "deleteQueue", Method: http.MethodDelete, Path: "/api/v1/queues/{id}",
			Summary: "Delete a queue", Tags: []string{"Queues"}, Errors: []int{http.StatusConflict}, DefaultStatus: http.StatusNoContent,
			Description: "Admins only, and only when none of its tasks is unfinished (409 otherwise); its finished tasks go with it."}, admins, s.apiDeleteQueue)

		handle(s, api, huma.Operation{OperationID: "getStats", Method: http.MethodGet, Path: "/api/v1/stats",
			Summary: "Get the dashboard's statistics", Tags: []string{"Statistics"},
			Description: "What the dashboard shows. Now: agents by presence (busy = available at capacity), tasks by status " +
				"per queue, depth and longest wait, the busiest agents. Over time, in UTC: today's counts since midnight UTC, " +
				"assignments per minute over the last 15 to 20 minutes, average wait and handle time over the last 24 hours, " +
				"and an hourly series of the last 24 hours. Figures over time are kept per five-minute interval by a pass that " +
				"runs every 10 seconds; what happened since is counted at the request, so the figures are exact. Supervisors " +
				"see the queues that route to their teams and the agents of their teams."}, supervisors, s.apiStats)

		handle(s, api, huma.Operation{OperationID: "createTask", Method: http.MethodPost, Path: "/api/v1/tasks",
			Summary: "Create a task", Tags: []string{"Tasks"}, Errors: []int{http.StatusConflict, http.StatusNotFound}, DefaultStatus: http.StatusCreated,
			Description: "The task is routed at once: assigned, or offered when the queue has an offer timeout, to the agent " +
				"its queue's strategy ranks first, or left queued when no agent is eligible. With an Idempotency-Key, a retry " +
				"with the same body answers 200 with the first task; another body with the same key is 409. Supervisors " +
				"create tasks in the queues of their teams.",
			Responses: map[string]*huma.Response{"200": {Description: "The task made earlier with this Idempotency-Key.",
				Content: map[string]*huma.MediaType{"application/json": {Schema: api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[TaskJSON](), true, "")}}}},
		}, supervisors, s.apiCreateTask)
		handle(s, api, huma.Operation{OperationID: "listTasks", Method: http.MethodGet, Path: "/api/v1/tasks",
			Summary: "List tasks", Tags: []string{"Tasks"},
			Description: "Newest first. Supervisors see the tasks of their teams' queues; agents the tasks offered or assigned to them."}, signedIn, s.apiListTasks)
		handle(s, api, huma.Operation{OperationID: "getTask", Method: http.MethodGet, Path: "/api/v1/tasks/{id}",
			Summary: "Get a task with its history", Tags: []string{"Tasks"},
			Description: "Every transition of the task, who made it and why. Agents read the tasks offered or assigned to them."}, signedIn, s.apiGetTask)
		handle(s, api, huma.Operation{OperationID: "setPresence", Method: http.MethodPut, Path: "/api/v1/agent/presence",
			Summary: "Set my presence", Tags: []string{"Tasks"}, Errors: []int{http.StatusConflict},
			Description: "For an agent (its token, or the session of a human agent's user). Only available agents below " +
				"capacity get work; becoming available takes queued work at once. 409 when the agent is not active."}, signedIn, s.apiSetPresence)

		handle(s, api, huma.Operation{OperationID: "heartbeat", Method: http.MethodPost, Path: "/api/v1/agent/heartbeat",
			Summary: "Send a heartbeat", Tags: []string{"Tasks"}, Errors: []int{http.StatusConflict}, DefaultStatus: http.StatusNoContent,
			// apiHeartbeat checks the body itself: see heartbeatInputBody.
			SkipValidateBody: true,
			Description: "For an agent (its token, or the session of a human agent's user, which the web UI sends while a page is open). " +
				"An agent that sends none, and makes no other call, for the heartbeat TTL (SWITCHBOARD_HEARTBEAT_TTL, 60 s by default) " +
				"is taken offline: its pending offers go to other agents. Heartbeats are buffered and written about once a second, " +
				"so they are cheap at any rate; every call of an agent's token counts as one. The body is optional. 409 when " +
				"presence asks for available and the agent is not active."}, signedIn, s.apiHeartbeat)

		handle(s, api, huma.Operation{OperationID: "assignTask", Method: http.MethodPost, Path: "/api/v1/tasks/{id}/assign",
			Summary: "Assign a task to a chosen agent", Tags: []string{"Tasks"}, Errors: []int{http.StatusConflict},
			Description: "Takes the task back from an agent that held it. An agent routing would not choose (not active or " +
				"available, at capacity, lacking a skill, outside the queue's teams, having declined it) is refused with the " +
				"reasons (409), unless an admin sends force."}, supervisors, s.apiAssignTask)
		handle(s, api, huma.Operation{OperationID: "requeueTask", Method: http.MethodPost, Path: "/api/v1/tasks/{id}/requeue",
			Summary: "Put a task back in its queue", Tags: []string{"Tasks"}, Errors: []int{http.StatusConflict},
			Description: "Takes an offered or assigned task back from its agent and routes it again."}, supervisors, s.apiRequeueTask)
		handle(s, api, huma.Operation{OperationID: "cancelTask", Method: http.MethodPost, Path: "/api/v1/tasks/{id}/cancel",
			Summary: "Cancel a task", Tags: []string{"Tasks"}, Errors: []int{http.StatusConflict},
			Description: "Ends an unfinished task for good; an offer of it is revoked. 409 for a finished task."}, supervisors, s.apiCancelTask)
		handle(s, api, huma.Operation{OperationID: "explainRouting", Method: http.MethodGet, Path: "/api/v1/tasks/{id}/routing",
			Summary: "Why each agent was or was not chosen", Tags: []string{"Tasks"},
			Description: "Judges the agents the task's queue reaches as routing does (at most 200, the available first): who " +
				"is eligible and in which order the strategy ranks them, with the ranking value, and for the others every " +
				"reason they are not: not active, not available, at capacity, missing a skill at a level, outside the " +
				"queue's teams, declined before."}, supervisors, s.apiExplainRouting)
		handle(s, api, huma.Operation{OperationID: "listMyTasks", Method: http.MethodGet, Path: "/api/v1/agent/tasks",
			Summary: "My current work, waiting for some if there is none", Tags: []string{"Tasks"},
			Description: "The tasks offered or assigned to the calling agent. With wait=30s and no work yet, the answer " +
				"comes as soon as a task is offered or assigned to the agent on any instance, or empty when the wait is over: " +
				"a machine agent loops on this instead of polling."}, signedIn, s.apiMyTasks)
		handle(s, api, huma.Operation{OperationID: "listMyOffers", Method: http.MethodGet, Path: "/api/v1/agent/offers",
			Summary: "List my pending offers", Tags: []string{"Tasks"},
			Description: "The calling agent's open offers, oldest first; each must be accepted before its expires_at."}, signedIn, s.apiListMyOffers)
		handle(s, api, huma.Operation{OperationID: "acceptOffer", Method: http.MethodPost, Path: "/api/v1/offers/{id}/accept",
			Summary: "Accept an offer", Tags: []string{"Tasks"}, Errors: []int{http.StatusConflict},
			Description: "The task is assigned to the calling agent. 409 when the offer timed out, was revoked or answered, or the task was cancelled."}, signedIn, s.apiAcceptOffer)
		handle(s, api, huma.Operation{OperationID: "rejectOffer", Method: http.MethodPost, Path: "/api/v1/offers/{id}/reject",
			Summary: "Reject an offer", Tags: []string{"Tasks"}, Errors: []int{http.StatusConflict},
			Description: "The task goes back to its queue and on to the next eligible agent, never again to this one; after the queue's max_offers it waits, escalated."}, signedIn, s.apiRejectOffer)
		handle(s, api, huma.Operation{OperationID: "completeTask", Method: http.MethodPost, Path: "/api/v1/tasks/{id}/complete",
			Summary: "Complete a task", Tags: []string{"Tasks"}, Errors: []int{http.StatusConflict},
			Description: "By the assigned agent, or an admin or supervisor who may see the task; 409 unless it is assigned. The agent then takes its next queued task."}, signedIn, s.apiCompleteTask)

		handle(s, api, huma.Operation{OperationID: "listAudit", Method: http.MethodGet, Path: "/api/v1/audit",
			Summary: "Read the audit log", Tags: []string{"Audit"},
			Description: "Every change to users, agents, teams, keys, tokens, queues, tasks and offers, and every sign-in, newest first. " +
				"Supervisors read the entries about the teams they supervise, those teams' agents, enrollment keys and queues, " +
				"the tasks of those queues and their offers, and their own changes."}, supervisors, s.apiListAudit)

		handle(s, api, eventsOperation(api), signedIn, s.apiListEvents)

		handle(s, api, huma.Operation{OperationID: "listNotifications", Method: http.MethodGet, Path: "/api/v1/notifications",
			Summary: "Read the delivery log", Tags: []string{"Notifications"},
			Description: "The messages of the outbox (invitation and password reset e-mails), newest first, with their status, attempts and " +
				"last error; never their bodies, which may carry a secret link. Admins read every message, anyone else those about themselves."},
			signedIn, s.apiListNotifications)
		handle(s, api, huma.Operation{OperationID: "retryNotification", Method: http.MethodPost, Path: "/api/v1/notifications/{id}/retry",
			Summary: "Send a dead message again", Tags: []string{"Notifications"}, Errors: []int{http.StatusNotFound, http.StatusConflict},
			Description: "It is due at once, from a first attempt, with the same idempotency key. 409 unless it is dead, or when the link it " +
				"carried has expired (make a new link instead)."}, admins, s.apiRetryNotification)

		handle(s, api, huma.Operation{OperationID: "listWebhooks", Method: http.MethodGet, Path: "/api/v1/webhooks",
			Summary: "List webhook endpoints", Tags: []string{"Webhooks"},
			Description: "Newest first, without their secrets."}, admins, s.apiListWebhooks)
		handle(s, api, huma.Operation{OperationID: "createWebhook", Method: http.MethodPost, Path: "/api/v1/webhooks",
			Summary: "Create a webhook endpoint", Tags: []string{"Webhooks"}, DefaultStatus: http.StatusCreated,
			Description: "It receives, signed with its secret, every event it subscribes to from then on. The secret is in the " +
				"answer, and only there: give one, or a random one is made. A URL whose host is, or resolves to, a loopback, " +
				"private or link-local address is refused (422) unless the server allows them (SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE)."},
			admins, s.apiCreateWebhook)
		handle(s, api, huma.Operation{OperationID: "getWebhook", Method: http.MethodGet, Path: "/api/v1/webhooks/{id}",
			Summary: "Get a webhook endpoint", Tags: []string{"Webhooks"},
			Description: "Without its secret. The ETag of the answer is what If-Match takes when changing it."}, admins, s.apiGetWebhook)
		handle(s, api, huma.Operation{OperationID: "updateWebhook", Method: http.MethodPatch, Path: "/api/v1/webhooks/{id}",
			Summary: "Change a webhook endpoint", Tags: []string{"Webhooks"},
			Description: "Send only the fields to change. A new secret (given, or made with rotate_secret) is in the answer, and signs " +
				"every attempt from then on, retries of earlier deliveries too. Send If-Match with the ETag to avoid overwriting a " +
				"concurrent change (412 when it moved on)."}, admins, s.apiUpdateWebhook)
		handle(s, api, huma.Operation{OperationID: "deleteWebhook", Method: http.MethodDelete, Path: "/api/v1/webhooks/{id}",
			Summary: "Delete a webhook endpoint", Tags: []string{"Webhooks"}, DefaultStatus: http.StatusNoContent,
			Description: "Its deliveries stay in the delivery log; those still waiting are given up."}, admins, s.apiDeleteWebhook)
		handle(s, api, huma.Operation{OperationID: "testWebhook", Method: http.MethodPost, Path: "/api/v1/webhooks/{id}/test",
			Summary: "Send a test event to a webhook endpoint", Tags: []string{"Webhooks"}, DefaultStatus: http.StatusAccepted, Errors: []int{http.StatusConflict},
			Description: "A webhook.test event goes to this endpoint alone, through the outbox like any other; the answer is its " +
				"delivery, whose status the delivery log shows. 409 when the endpoint is inactive."}, admins, s.apiTestWebhook)
		handle(s, api, huma.Operation{OperationID: "listInbox", Method: http.MethodGet, Path: "/api/v1/inbox",
			Summary: "Read my in-app notifications", Tags: []string{"Notifications"},
			Description: "The caller's own in-app notifications, newest first, with their text and the page each points to. " +
				"A human agent's token reads the inbox of the agent's user; a machine agent has none (403)."}, signedIn, s.apiListInbox)
		handle(s, api, huma.Operation{OperationID: "countInbox", Method: http.MethodGet, Path: "/api/v1/inbox/count",
			Summary: "Count my unread notifications", Tags: []string{"Notifications"},
			Description: "What the bell shows, counted up to 100. Cheap enough to ask whenever the event stream brings news: " +
				"task and queue events, presence changes, and notification.read and notification.all_read, which tell the " +
				"caller's other pages that notifications were read."}, signedIn, s.apiInboxCount)
		handle(s, api, huma.Operation{OperationID: "markNotificationRead", Method: http.MethodPost, Path: "/api/v1/inbox/{id}/read",
			Summary: "Mark one of my notifications read", Tags: []string{"Notifications"}, Errors: []int{http.StatusNotFound},
			Description: "Marking it again changes nothing. Another person's notification does not exist for the caller (404), " +
				"whoever they are."}, signedIn, s.apiMarkRead)
		handle(s, api, huma.Operation{OperationID: "markAllNotificationsRead", Method: http.MethodPost, Path: "/api/v1/inbox/read-all",
			Summary: "Mark all my notifications read", Tags: []string{"Notifications"},
			Description: "Every unread in-app notification of the caller."}, signedIn, s.apiMarkAllRead)

		// The web UI.
		r.Get("/setup", s.webSetup)
		r.Post("/setup", s.webSetupSubmit)
		r.Get("/signin", s.webSignIn)
		r.Post("/signin", s.webSignInSubmit)
		r.Post("/signout", s.webSignOut)
		r.Get("/forgot", s.webForgot)
		r.Post("/forgot", s.webForgotSubmit)
		// An invitation link is opened before its user can sign in.
		r.Get("/invite/{secret}", s.webInvite)
		r.Post("/invite/{secret}", s.webAcceptInvite)
		r.Get("/reset/{secret}", s.webInvite)
		r.Post("/reset/{secret}", s.webAcceptInvite)

		r.Group(func(r chi.Router) {
			r.Use(s.requireSignIn)
			r.Get("/", s.webHome)
			r.Get("/dashboard/live", s.webHomeLive)
			r.Get("/account", s.webAccount)
			r.Post("/account/password", s.webChangePassword)
			r.Post("/account/tokens", s.webCreateToken)
			r.Post("/account/tokens/{id}/revoke", s.webRevokeToken)
			r.Get("/inbox", s.webInbox)
			r.Post("/inbox/read-all", s.webMarkAllRead)
			r.Post("/inbox/{id}/read", s.webMarkRead)
			// Admins see every message, anyone else their own; only admins
			// retry (the service refuses others).
			r.Get("/notifications", s.webNotifications)
			r.Post("/notifications/{id}/retry", s.webRetryNotification)
			r.Get("/account/notifications", s.webPreferences)
			r.Post("/account/notifications", s.webSavePreferences)

			r.Get("/profile", s.webProfile)
			r.Get("/my-work", s.webWork)
			r.Get("/my-work/live", s.webWorkLive)
			r.Post("/my-work/presence", s.webSetPresence)
			r.Post("/my-work/offers/{id}/accept", s.webAcceptOffer)
			r.Post("/my-work/offers/{id}/reject", s.webRejectOffer)
			r.Post("/my-work/tasks/{id}/complete", s.webCompleteMyTask)
			// Agents read the tasks offered or assigned to them, and complete
			// those assigned; the service hides the others.
			r.Get("/tasks/{id}", s.webTask)
			r.Post("/tasks/{id}/complete", s.webCompleteTask)

			r.Group(func(r chi.Router) {
				r.Use(s.requireRole(switchboard.RoleAdmin, switchboard.RoleSupervisor))
				r.Get("/agents", s.webAgents)
				r.Get("/agents/new", s.webNewAgent)
				r.Get("/agents/export.csv", s.webExportAgents)
				r.Post("/agents/bulk", s.webBulkAgents)
				r.Post("/agents", s.webCreateAgent)
				r.Get("/agents/{id}", s.webAgent)
				r.Get("/agents/{id}/edit", s.webEditAgent)
				r.Post("/agents/{id}", s.webUpdateAgent)
				r.Post("/agents/{id}/delete", s.webDeleteAgent)
				r.Post("/agents/{id}/invitation", s.webReinviteAgent)
				r.Post("/agents/{id}/"+lifecycleActionParam(), s.webAgentLifecycle)
				r.Get("/teams", s.webTeams)
				r.Get("/teams/{id}", s.webTeam)
				r.Get("/queues", s.webQueues)
				r.Get("/queues/new", s.webNewQueue)
				r.Post("/queues", s.webCreateQueue)
				r.Get("/queues/{id}", s.webQueue)
				r.Post("/queues/{id}", s.webUpdateQueue)
				r.Get("/tasks", s.webTasks)
				r.Get("/tasks/new", s.webNewTask)
				r.Post("/tasks", s.webCreateTask)
				r.Post("/tasks/{id}/assign", s.webAssignTask)
				r.Post("/tasks/{id}/requeue", s.webRequeueTask)
				r.Post("/tasks/{id}/cancel", s.webCancelTask)
				r.Get("/enrollment", s.webEnrollment)
				r.Post("/enrollment", s.webCreateEnrollmentKey)
				r.Post("/enrollment/{id}/revoke", s.webRevokeEnrollmentKey)
				r.Get("/audit", s.webAudit)
				r.Get("/audit/export.csv", s.webAuditExport)
			})

			r.Group(func(r chi.Router) {
				r.Use(s.requireRole(switchboard.RoleAdmin))
				r.Get("/agents/import", s.webImport)
				r.Post("/agents/import", s.webImportSubmit)
				r.Get("/agents/import/template.csv", s.webImportTemplate)
				r.Post("/agents/{id}/tokens", s.webCreateAgentToken)
				r.Post("/agents/{id}/tokens/{token_id}/revoke", s.webRevokeAgentToken)
				r.Get("/users", s.webUsers)
				r.Get("/users/new", s.webNewUser)
				r.Post("/users", s.webCreateUser)
				r.Get("/users/{id}", s.webUser)
				r.Post("/users/{id}", s.webUpdateUser)
				r.Post("/users/{id}/invitation", s.webReinviteUser)
				r.Post("/users/{id}/password-reset", s.webResetPassword)
				r.Get("/teams/new", s.webNewTeam)
				r.Post("/teams", s.webCreateTeam)
				r.Post("/teams/{id}", s.webUpdateTeam)
				r.Post("/teams/{id}/members", s.webAddTeamMember)
				r.Post("/teams/{id}/members/{agent_id}/remove", s.webRemoveTeamMember)
				r.Post("/teams/{id}/delete", s.webDeleteTeam)
				r.Post("/queues/{id}/delete", s.webDeleteQueue)
				r.Get("/webhooks", s.webWebhooks)
				r.Get("/webhooks/new", s.webNewWebhook)
				r.Post("/webhooks", s.webCreateWebhook)
				r.Get("/webhooks/{id}", s.webWebhook)
				r.Post("/webhooks/{id}", s.webUpdateWebhook)
				r.Post("/webhooks/{id}/active", s.webSetWebhookActive)
				r.Post("/webhooks/{id}/test", s.webTestWebhook)
				r.Post("/webhooks/{id}/rotate", s.webRotateWebhookSecret)
				r.Post("/webhooks/{id}/delete", s.webDeleteWebhook)
			})
		})
	})
	s.handler = r
}

func title(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

// transitionDoc describes a lifecycle action by the moves it makes, like
// "active or suspended → retired, for good".
func transitionDoc(act switchboard.AgentAction) string {
	var from []string
	for _, st := range act.From() {
		from = append(from, string(st))
	}
	doc := strings.Join(from, " or ") + " → " + string(act.To)
	if len(act.To.Transitions()) == 0 {
		doc += ", for good"
	}
	return doc
}

// lifecycleActionParam is the route parameter that matches the name of any
// lifecycle action: {action:activate|suspend|retire}.
func lifecycleActionParam() string {
	names := make([]string, len(switchboard.AgentActions))
	for i, act := range switchboard.AgentActions {
		names[i] = act.Name
	}
	return "{action:" + strings.Join(names, "|") + "}"
}
