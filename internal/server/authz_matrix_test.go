package server_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// The authorization matrix: who may call every operation of the API, on
// objects of their own team and of another. TestAuthorizationMatrix reads
// the operations from api/openapi.yaml and fails when one has no row here,
// so that a new endpoint cannot ship without declaring who may call it.
//
// The rules (DESIGN.md §1): admins reach everything; supervisors the agents
// and enrollment keys of the teams they supervise, and read those teams;
// agent-role users and machine agents only themselves; anonymous callers
// only set-up, sign-in, "forgot password" and enrollment. Within those rules, an object the
// caller may not see answers 404, as if it did not exist, and an operation
// their role may not use at all answers 403. A revoked token is refused
// (401) everywhere, even where no credentials are needed: a client that
// sends dead credentials must learn it.

// authzActor is a column of the matrix.
type authzActor int

const (
	anonymous authzActor = iota // no credentials
	admin                       // a user in role admin
	supA                        // a supervisor of team A
	supB                        // a supervisor of team B
	agentUser                   // a user in role agent, working as a human agent of team A
	machine                     // a machine agent of team A, with its agent token
	revoked                     // a revoked token of an admin
	authzActors
)

var authzActorNames = [authzActors]string{"anonymous", "admin", "supervisorA", "supervisorB", "agentUser", "machineAgent", "revokedToken"}

func (a authzActor) String() string { return authzActorNames[a] }

// authzRow is one line of the matrix: the status each actor gets, in the
// order of the columns above, for an operation on one kind of target. On
// lists, a status may be followed by + or -: the answer must or must not
// show the target's marker (the ID of an object in or out of the caller's
// reach), so that a list cannot leak what a direct read would refuse.
type authzRow struct {
	want   string
	op     string // operationId in api/openapi.yaml
	target authzTarget
}

// authzTarget makes what one call needs, fresh for each caller, so that
// one actor's successful change or deletion cannot alter what the next
// one meets.
type authzTarget struct {
	name  string
	build func(tb testing.TB, w *authzWorld, as authzActor) authzRequest
}

// authzRequest is what a call fills in: path parameters, query, body,
// headers, and the marker a list answer is searched for.
type authzRequest struct {
	params  map[string]string
	query   string
	body    any
	headers []string
	marker  string
}

var authzMatrix = []authzRow{
	// anon admin supA supB user mach revk   operation, target
	{"404 404 404 404 404 404 401", "setup", setupBody},
	{"200 200 200 200 200 200 401", "signIn", signInBody},
	{"401 204 204 204 204 204 401", "signOut", noTarget},
	{"202 202 202 202 202 202 401", "requestPasswordReset", resetRequestBody},
	{"401 200 200 200 200 200 401", "getMe", noTarget},
	{"401 204 204 204 204 403 401", "changePassword", changePasswordBody},
	{"401 200 200 200 200 403 401", "getMyNotificationPreferences", noTarget},
	{"401 200 200 200 200 403 401", "setMyNotificationPreferences", body{"channels": map[string][]string{"task.assigned": {"inapp"}}}.target()},

	{"401 200 403 403 403 403 401", "listUsers", noTarget},
	{"401 201 403 403 403 403 401", "createUser", createUserBody},
	{"401 200 403 403 403 403 401", "getUser", aUser},
	{"401 200 403 403 403 403 401", "getUser", self},
	{"401 200 403 403 403 403 401", "updateUser", aUser.with(body{"name": "Renamed"})},
	{"401 200 403 403 403 403 401", "updateUser", self.with(body{"role": "admin"})},
	{"401 201 403 403 403 403 401", "inviteUser", anInvitedUser},
	{"401 201 403 403 403 403 401", "resetPassword", aUser},
	{"401 200 403 403 403 403 401", "getUserNotificationPreferences", aUser},
	{"401 200 403 403 403 403 401", "getUserNotificationPreferences", self},
	{"401 200 403 403 403 403 401", "setUserNotificationPreferences", aUser.with(body{"quiet_hours": map[string]string{"start": "22:00", "end": "07:00", "time_zone": "Europe/Paris"}})},

	{"401 200 200 200 200 403 401", "listTokens", noTarget},
	{"401 200+ 200+ 200+ 200+ 403 401", "listTokens", ownToken},
	{"401 200- 200- 200- 200- 403 401", "listTokens", othersToken},
	{"401 201 201 201 201 403 401", "createToken", body{"name": "laptop"}.target()},
	{"401 204 204 204 204 403 401", "revokeToken", ownToken},
	{"401 204 404 404 404 403 401", "revokeToken", othersToken},

	{"401 200 200 200 403 403 401", "listAgents", noTarget},
	{"401 200+ 200+ 200- 403 403 401", "listAgents", agentListed(teamA, "q")},
	{"401 200+ 200+ 200- 403 403 401", "listAgents", agentListed(teamA, "team")},
	{"401 201 201 403 403 403 401", "createAgent", newAgentIn(teamA)},
	{"401 201 403 201 403 403 401", "createAgent", newAgentIn(teamB)},
	{"401 201 422 422 403 403 401", "createAgent", newAgentIn(noTeam)},
	{"401 201 403 403 403 403 401", "importAgents", csvImport},
	{"401 200 200 409 403 403 401", "bulkAgents", bulkOn(teamA, "suspend", nil, "ids")},
	{"401 200 409 200 403 403 401", "bulkAgents", bulkOn(teamB, "retire", nil, "ids")},
	{"401 200 200 422 403 403 401", "bulkAgents", bulkOn(teamA, "suspend", nil, "filter")},
	{"401 200 200 403 403 403 401", "bulkAgents", bulkOn(teamA, switchboard.BulkRemoveFromTeam, ptr(teamA), "ids")},
	{"401 200 403 409 403 403 401", "bulkAgents", bulkOn(teamA, switchboard.BulkAddToTeam, ptr(teamB), "ids")},
	{"401 200 200 404 404 403 401", "getAgent", agentIn(teamA, switchboard.AgentActive)},
	{"401 200 404 200 404 403 401", "getAgent", agentIn(teamB, switchboard.AgentActive)},
	{"401 200 404 404 404 403 401", "getAgent", agentIn(noTeam, switchboard.AgentActive)},
	{"401 200 200 404 200 403 401", "getAgent", ownAgent},
	{"401 200 200 404 404 404 401", "getAgentPresence", agentIn(teamA, switchboard.AgentActive)},
	{"401 200 404 200 404 404 401", "getAgentPresence", agentIn(teamB, switchboard.AgentActive)},
	{"401 200 404 404 404 404 401", "getAgentPresence", agentIn(noTeam, switchboard.AgentActive)},
	{"401 200 200 404 200 200 401", "getAgentPresence", ownAgent},
	{"401 200 200 404 403 403 401", "updateAgent", agentIn(teamA, switchboard.AgentActive).with(body{"capacity": 2})},
	{"401 200 404 200 403 403 401", "updateAgent", agentIn(teamB, switchboard.AgentActive).with(body{"capacity": 2})},
	{"401 200 404 404 403 403 401", "updateAgent", agentIn(noTeam, switchboard.AgentActive).with(body{"capacity": 2})},
	{"401 200 403 404 403 403 401", "updateAgent", agentIn(teamA, switchboard.AgentActive).withTeams(teamB)},
	{"401 200 403 404 403 403 401", "updateAgent", agentIn(teamA, switchboard.AgentActive).withTeams(teamA, teamB)},
	{"401 200 200 404 403 403 401", "updateAgent", ownAgent.with(body{"capacity": 2})},
	{"401 204 204 404 403 403 401", "deleteAgent", agentIn(teamA, switchboard.AgentPending)},
	{"401 204 404 204 403 403 401", "deleteAgent", agentIn(teamB, switchboard.AgentPending)},
	{"401 200 200 404 403 403 401", "activateAgent", agentIn(teamA, switchboard.AgentPending)},
	{"401 200 404 200 403 403 401", "activateAgent", agentIn(teamB, switchboard.AgentPending)},
	{"401 200 200 404 403 403 401", "activateAgent", ownAgentIn(switchboard.AgentSuspended)},
	{"401 200 200 404 403 403 401", "suspendAgent", agentIn(teamA, switchboard.AgentActive)},
	{"401 200 404 200 403 403 401", "suspendAgent", agentIn(teamB, switchboard.AgentActive)},
	{"401 200 200 404 403 403 401", "suspendAgent", ownAgentIn(switchboard.AgentActive)},
	{"401 200 200 404 403 403 401", "retireAgent", agentIn(teamA, switchboard.AgentActive)},
	{"401 200 404 200 403 403 401", "retireAgent", agentIn(teamB, switchboard.AgentActive)},
	{"401 201 201 404 403 403 401", "reinviteAgent", invitedAgentIn(teamA)},
	{"401 201 404 201 403 403 401", "reinviteAgent", invitedAgentIn(teamB)},
	{"401 200 403 403 403 403 401", "listAgentTokens", agentIn(teamA, switchboard.AgentActive)},
	{"401 201 403 403 403 403 401", "createAgentToken", agentIn(teamA, switchboard.AgentActive).with(body{"name": "ci"})},
	{"401 204 403 403 403 403 401", "revokeAgentToken", agentTokenIn(teamA)},
	{"401 204 403 403 403 403 401", "revokeAgentToken", ownAgentToken},

	{"401 200 200 200 403 403 401", "listTeams", noTarget},
	{"401 200+ 200+ 200- 403 403 401", "listTeams", teamListed(teamA)},
	{"401 201 403 403 403 403 401", "createTeam", newTeam},
	{"401 200 200 404 403 403 401", "getTeam", team(teamA)},
	{"401 200 404 200 403 403 401", "getTeam", team(teamB)},
	{"401 200 403 403 403 403 401", "updateTeam", team(teamA).with(body{"description": "Changed"})},
	{"401 200 403 403 403 403 401", "updateTeam", team(teamA).with(body{"supervisors": []string{}})},
	{"401 204 403 403 403 403 401", "deleteTeam", teamSupervisedBy(supA)},

	{"401 200 200 200 403 403 401", "listEnrollmentKeys", noTarget},
	{"401 200+ 200+ 200- 403 403 401", "listEnrollmentKeys", keyListed(teamA)},
	{"401 201 201 403 403 403 401", "createEnrollmentKey", newKeyFor(teamA)},
	{"401 201 403 201 403 403 401", "createEnrollmentKey", newKeyFor(teamB)},
	{"401 201 422 422 403 403 401", "createEnrollmentKey", newKeyFor(noTeam)},
	{"401 204 204 404 403 403 401", "revokeEnrollmentKey", keyOf(teamA)},
	{"401 204 404 204 403 403 401", "revokeEnrollmentKey", keyOf(teamB)},
	{"401 204 404 404 403 403 401", "revokeEnrollmentKey", keyOf(noTeam)},
	{"201 201 201 201 201 201 401", "enroll", enrollWithKeyOf(teamA)},

	{"401 200 200 200 200 200 401", "listNotifications", noTarget},
	{"401 200+ 200- 200- 200- 200- 401", "listNotifications", notificationAbout(nil)},
	{"401 200+ 200- 200- 200+ 200- 401", "listNotifications", notificationAbout(func(w *authzWorld) *switchboard.User { return w.users[agentUser] })},
	{"401 200 403 403 403 403 401", "retryNotification", notificationThat(switchboard.NotificationDead)},
	{"401 409 403 403 403 403 401", "retryNotification", notificationThat(switchboard.NotificationPending)},
	{"401 200 200 200 200 403 401", "listInbox", noTarget},
	{"401 200+ 200+ 200+ 200+ 403 401", "listInbox", ownInAppNotification},
	{"401 200- 200- 200- 200- 403 401", "listInbox", othersInAppNotification},
	{"401 200 200 200 200 403 401", "countInbox", noTarget},
	{"401 200 200 200 200 403 401", "markNotificationRead", ownInAppNotification},
	{"401 404 404 404 404 403 401", "markNotificationRead", othersInAppNotification},
	{"401 200 200 200 200 403 401", "markAllNotificationsRead", noTarget},

	{"401 200 403 403 403 403 401", "listWebhooks", noTarget},
	{"401 200+ 403 403 403 403 401", "listWebhooks", aWebhook},
	{"401 201 403 403 403 403 401", "createWebhook", body{"url": "https://hooks.example.com/in", "events": []string{"task.*"}}.target()},
	{"401 200 403 403 403 403 401", "getWebhook", aWebhook},
	{"401 200 403 403 403 403 401", "updateWebhook", aWebhook.with(body{"description": "Changed"})},
	{"401 204 403 403 403 403 401", "deleteWebhook", aWebhook},
	{"401 202 403 403 403 403 401", "testWebhook", aWebhook},

	{"401 200 200 200 403 403 401", "listAudit", noTarget},
	{"401 200+ 200+ 200- 403 403 401", "listAudit", auditOfAgentIn(teamA)},
	{"401 200 200 200 403 403 401", "listQueues", noTarget},
	{"401 200+ 200+ 200- 403 403 401", "listQueues", queueListed(teamA)},
	{"401 201 201 403 403 403 401", "createQueue", newQueueFor(teamA)},
	{"401 201 403 201 403 403 401", "createQueue", newQueueFor(teamB)},
	{"401 201 403 403 403 403 401", "createQueue", newQueueFor(noTeam)},
	{"401 200 200 404 403 403 401", "getQueue", queueOf(teamA)},
	{"401 200 404 200 403 403 401", "getQueue", queueOf(teamB)},
	{"401 200 200 404 403 403 401", "getQueueStats", queueOf(teamA)},
	{"401 200 404 200 403 403 401", "getQueueStats", queueOf(teamB)},
	{"401 200 200 200 403 403 401", "getStats", noTarget},
	{"401 200 200 404 403 403 401", "updateQueue", queueOf(teamA).with(body{"max_offers": 2})},
	{"401 200 404 404 403 403 401", "updateQueue", queueOf(noTeam).with(body{"max_offers": 2})},
	{"401 204 403 403 403 403 401", "deleteQueue", queueOf(teamA)},

	{"401 201 201 404 403 403 401", "createTask", newTaskIn(teamA)},
	{"401 201 404 201 403 403 401", "createTask", newTaskIn(teamB)},
	{"401 200 200 200 200 200 401", "listTasks", noTarget},
	{"401 200+ 200+ 200- 200- 200- 401", "listTasks", taskListed(teamA)},
	{"401 200 200 404 404 404 401", "getTask", queuedTaskIn(teamA)},
	{"401 200 200 404 200 200 401", "getTask", ownTask},
	{"401 409 409 404 404 404 401", "completeTask", queuedTaskIn(teamA)},
	{"401 200 200 404 200 200 401", "completeTask", ownTask},
	{"401 200 200 404 403 403 401", "assignTask", queuedTaskForReadyAgent},
	{"401 200 200 404 403 403 401", "requeueTask", taskAssignedInTeamA},
	{"401 200 200 404 403 403 401", "cancelTask", queuedTaskIn(teamA)},
	{"401 200 404 200 403 403 401", "cancelTask", queuedTaskIn(teamB)},
	{"401 200 200 404 403 403 401", "explainRouting", queuedTaskIn(teamA)},
	{"401 403 403 403 200 200 401", "setPresence", body{"presence": "available"}.target()},
	{"401 403 403 403 204 204 401", "heartbeat", body{"metadata": map[string]any{"version": "1"}}.target()},
	{"401 403 403 403 204 204 401", "heartbeat", noTarget},
	{"401 403 403 403 200 200 401", "listMyOffers", noTarget},
	{"401 403 403 403 200 200 401", "listMyTasks", noTarget},
	{"401 403 403 403 200 200 401", "acceptOffer", ownOffer},
	{"401 403 403 403 404 404 401", "acceptOffer", othersOffer},
	{"401 403 403 403 200 200 401", "rejectOffer", ownOffer},
	{"401 403 403 403 404 404 401", "rejectOffer", othersOffer},

	{"401 200 200 200 200 200 401", "listEvents", noTarget},
	{"401 200+ 200+ 200- 200- 200- 401", "listEvents", eventOfAgentIn(teamA)},
	{"401 200+ 200+ 200- 200+ 200+ 401", "listEvents", eventOfOwnAgent},
}

// authzOutsideContract are the routes beside the API that its contract does
// not describe, because they serve the contract or watch the process. They
// are public.
var authzOutsideContract = []struct{ want, path string }{
	// anon admin supA supB user mach revk   GET path
	{"200 200 200 200 200 200 401", "/api/v1/openapi.json"},
	{"200 200 200 200 200 200 401", "/api/v1/openapi.yaml"},
	// No credentials are read here, so dead ones are not noticed either.
	{"200 200 200 200 200 200 200", "/healthz"},
	{"200 200 200 200 200 200 200", "/readyz"},
}

// TestAuthorizationMatrix calls every operation of the contract as every
// actor and checks the status each gets, on every engine.
func TestAuthorizationMatrix(t *testing.T) {
	model, _, _ := loadContract(t)
	type operation struct{ method, path string }
	ops := map[string]operation{}
	for path, item := range model.Paths.PathItems.FromOldest() {
		for method, op := range item.GetOperations().FromOldest() {
			ops[op.OperationId] = operation{strings.ToUpper(method), path}
		}
	}
	covered := map[string]bool{}
	for _, row := range authzMatrix {
		if _, ok := ops[row.op]; !ok {
			t.Errorf("the matrix has a row for %s, which api/openapi.yaml does not have", row.op)
		}
		if _, err := parseStatuses(row.want); err != nil {
			t.Errorf("the row of %s (%s): %v", row.op, row.target.name, err)
		}
		covered[row.op] = true
	}
	for id, op := range ops {
		if !covered[id] {
			t.Errorf("%s (%s %s) has no row in the authorization matrix: add one saying who may call it", id, op.method, op.path)
		}
	}
	for _, row := range authzOutsideContract {
		if _, err := parseStatuses(row.want); err != nil {
			t.Errorf("the row of %s: %v", row.path, err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	sqlstoretest.ForEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ts := newTestServerOn(t, db, serverOptions())
		ts.setUp(t)
		for _, row := range authzMatrix {
			want, _ := parseStatuses(row.want)
			op := ops[row.op]
			// A world per row: an operation that changes its caller (a new
			// password, say) cannot change what the next row sees.
			w := newAuthzWorld(t, ts)
			for as := range authzActors {
				req := row.target.build(t, w, as)
				path := op.path
				for k, v := range req.params {
					path = strings.ReplaceAll(path, "{"+k+"}", v)
				}
				if strings.Contains(path, "{") {
					t.Fatalf("%s: %s has unfilled parameters", row.op, path)
				}
				if req.query != "" {
					path += "?" + req.query
				}
				res := ts.api(w.secrets[as]).call(t, op.method, path, req.body, req.headers...)
				if res.StatusCode != want[as].status {
					t.Errorf("%s %s (%s) on %s as %s: status %d, want %d; body: %s",
						op.method, op.path, row.op, row.target.name, as, res.StatusCode, want[as].status, truncate(res.body))
					continue
				}
				if want[as].sees == 0 {
					continue
				}
				if req.marker == "" {
					t.Fatalf("%s on %s: the row expects a marker, the target gives none", row.op, row.target.name)
				}
				if shown := strings.Contains(string(res.body), req.marker); shown != (want[as].sees == '+') {
					t.Errorf("%s %s (%s) on %s as %s: shows %s = %v, want %v; body: %s",
						op.method, op.path, row.op, row.target.name, as, req.marker, shown, !shown, truncate(res.body))
				}
			}
		}
		w := newAuthzWorld(t, ts)
		for _, row := range authzOutsideContract {
			want, _ := parseStatuses(row.want)
			for as := range authzActors {
				res := ts.api(w.secrets[as]).call(t, http.MethodGet, row.path, nil)
				if res.StatusCode != want[as].status {
					t.Errorf("GET %s as %s: status %d, want %d; body: %s", row.path, as, res.StatusCode, want[as].status, truncate(res.body))
				}
			}
		}
	})
}

// authzWant is one cell of the matrix: a status, and whether the answer
// shows the target's marker ('+'), hides it ('-') or is not searched (0).
type authzWant struct {
	status int
	sees   byte
}

func parseStatuses(s string) ([authzActors]authzWant, error) {
	var out [authzActors]authzWant
	cells := strings.Fields(s)
	if len(cells) != int(authzActors) {
		return out, fmt.Errorf("%d cells in %q, want one per actor (%d)", len(cells), s, authzActors)
	}
	for i, c := range cells {
		if strings.HasSuffix(c, "+") || strings.HasSuffix(c, "-") {
			out[i].sees = c[len(c)-1]
			c = c[:len(c)-1]
		}
		n, err := strconv.Atoi(c)
		if err != nil || n < 100 || n > 599 {
			return out, fmt.Errorf("cell %q of %q is not a status", cells[i], s)
		}
		if out[i].sees != 0 && n != 200 {
			return out, fmt.Errorf("cell %q of %q: only a 200 answer can show or hide anything", cells[i], s)
		}
		out[i].status = n
	}
	return out, nil
}

// authzWorld is what every row starts from: the actors, and two teams with
// a supervisor each.
type authzWorld struct {
	ts      *testServer
	id      string // makes names and addresses unique to this world
	users   [authzActors]*switchboard.User
	secrets [authzActors]string
	// agents are the actors' own agents: the agent-role user's and the
	// machine agent's.
	agents       [authzActors]string
	teamA, teamB *switchboard.Team
}

var authzWorlds atomic.Int64

func newAuthzWorld(tb testing.TB, ts *testServer) *authzWorld {
	tb.Helper()
	w := &authzWorld{ts: ts, id: strconv.FormatInt(authzWorlds.Add(1), 10)}
	for _, as := range []authzActor{admin, supA, supB, agentUser} {
		role := map[authzActor]switchboard.Role{admin: switchboard.RoleAdmin, supA: switchboard.RoleSupervisor,
			supB: switchboard.RoleSupervisor, agentUser: switchboard.RoleAgent}[as]
		w.users[as] = ts.MustCreateUser(tb, w.email(as.String()), role)
		w.secrets[as], _ = ts.MustCreateToken(tb, w.users[as])
	}
	teams := sqlstore.NewTeamService(ts.db)
	var err error
	if w.teamA, err = teams.CreateTeam(systemCtx(), switchboard.NewTeam{Name: "A" + w.id, SupervisorIDs: []string{w.users[supA].ID}}); err != nil {
		tb.Fatal(err)
	}
	if w.teamB, err = teams.CreateTeam(systemCtx(), switchboard.NewTeam{Name: "B" + w.id, SupervisorIDs: []string{w.users[supB].ID}}); err != nil {
		tb.Fatal(err)
	}
	agents := sqlstore.NewAgentService(ts.db)
	human, _, err := agents.CreateAgent(systemCtx(), switchboard.NewAgent{Name: "Human " + w.id, Kind: switchboard.HumanAgent,
		Email: w.users[agentUser].Email, TeamIDs: []string{w.teamA.ID}})
	if err != nil {
		tb.Fatal(err)
	}
	w.agents[agentUser] = human.ID
	robot := w.newAgent(tb, teamA, switchboard.AgentActive)
	w.agents[machine] = robot
	_, secret, err := agents.CreateAgentToken(systemCtx(), robot, switchboard.NewToken{Name: "robot"})
	if err != nil {
		tb.Fatal(err)
	}
	w.secrets[machine] = secret
	secret, tok2 := ts.MustCreateToken(tb, w.users[admin])
	if err := sqlstore.NewTokenService(ts.db).RevokeToken(systemCtx(), tok2.ID); err != nil {
		tb.Fatal(err)
	}
	w.secrets[revoked] = secret
	return w
}

var authzNames atomic.Int64

// unique returns a name no other call has used.
func (w *authzWorld) unique(prefix string) string {
	return fmt.Sprintf("%s-%s-%d", prefix, w.id, authzNames.Add(1))
}

func (w *authzWorld) email(who string) string {
	return strings.ToLower(w.unique(who)) + "@example.com"
}

func (w *authzWorld) team(which teamRef) *switchboard.Team {
	switch which {
	case teamA:
		return w.teamA
	case teamB:
		return w.teamB
	}
	return nil
}

// teamIDs are the teams an object of which is in: none for noTeam.
func (w *authzWorld) teamIDs(which teamRef) []string {
	if t := w.team(which); t != nil {
		return []string{t.ID}
	}
	return nil
}

// newAgent creates a machine agent in a team, in a status.
func (w *authzWorld) newAgent(tb testing.TB, which teamRef, status switchboard.AgentStatus) string {
	tb.Helper()
	a, _, err := sqlstore.NewAgentService(w.ts.db).CreateAgent(systemCtx(), switchboard.NewAgent{
		Name: w.unique("robot"), Kind: switchboard.MachineAgent, TeamIDs: w.teamIDs(which), Status: status,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return a.ID
}

// owner is the actor whose own things a call is about: the caller, or the
// agent-role user for callers who have none of their own.
func (w *authzWorld) owner(as authzActor) authzActor {
	if w.agents[as] == "" {
		return agentUser
	}
	return as
}

type teamRef int

const (
	teamA  teamRef = iota
	teamB          // a team the agent-role user and the machine agent are not in either
	noTeam         // outside every team: only admins reach it
)

func (r teamRef) String() string { return [...]string{"team A", "team B", "no team"}[r] }

// body is a JSON request body.
type body map[string]any

// target sends the body and nothing else.
func (b body) target() authzTarget {
	return authzTarget{name: "body", build: func(testing.TB, *authzWorld, authzActor) authzRequest { return authzRequest{body: map[string]any(b)} }}
}

// withTeams adds a body that moves the target to teams.
func (t authzTarget) withTeams(teams ...teamRef) authzTarget {
	build := t.build
	return authzTarget{name: fmt.Sprintf("%s, moved to %v", t.name, teams), build: func(tb testing.TB, w *authzWorld, as authzActor) authzRequest {
		req := build(tb, w, as)
		ids := []string{}
		for _, which := range teams {
			ids = append(ids, w.teamIDs(which)...)
		}
		req.body = body{"teams": ids}
		return req
	}}
}

// with adds a body to a target.
func (t authzTarget) with(b body) authzTarget {
	build := t.build
	return authzTarget{name: t.name, build: func(tb testing.TB, w *authzWorld, as authzActor) authzRequest {
		req := build(tb, w, as)
		req.body = map[string]any(b)
		return req
	}}
}

func target(name string, build func(tb testing.TB, w *authzWorld, as authzActor) authzRequest) authzTarget {
	return authzTarget{name: name, build: build}
}

func id(v string) map[string]string { return map[string]string{"id": v} }

var (
	noTarget = target("nothing", func(testing.TB, *authzWorld, authzActor) authzRequest { return authzRequest{} })

	setupBody = target("a new admin", func(_ testing.TB, w *authzWorld, _ authzActor) authzRequest {
		return authzRequest{body: body{"email": w.email("first"), "name": "First", "password": testPassword}}
	})

	// signInBody signs in as the agent-role user, whoever calls.
	signInBody = target("valid credentials", func(_ testing.TB, w *authzWorld, _ authzActor) authzRequest {
		return authzRequest{body: body{"email": w.users[agentUser].Email, "password": testPassword}}
	})

	// resetRequestBody asks for a reset link for an address of no account:
	// the answer is the same for any.
	resetRequestBody = target("an e-mail address", func(_ testing.TB, w *authzWorld, _ authzActor) authzRequest {
		return authzRequest{body: body{"email": w.email("forgetful")}}
	})

	changePasswordBody = target("the caller's password", func(testing.TB, *authzWorld, authzActor) authzRequest {
		return authzRequest{body: body{"current_password": testPassword, "new_password": "an entirely different passphrase"}}
	})

	createUserBody = target("a new user", func(_ testing.TB, w *authzWorld, _ authzActor) authzRequest {
		return authzRequest{body: body{"email": w.email("new"), "name": "New", "role": "agent", "password": testPassword}}
	})

	aUser = target("an agent-role user", func(tb testing.TB, w *authzWorld, _ authzActor) authzRequest {
		return authzRequest{params: id(w.ts.MustCreateUser(tb, w.email("someone"), switchboard.RoleAgent).ID)}
	})

	// self is the caller's own user; callers who are not users get the
	// agent-role user.
	self = target("the caller's own user", func(_ testing.TB, w *authzWorld, as authzActor) authzRequest {
		if u := w.users[as]; u != nil {
			return authzRequest{params: id(u.ID)}
		}
		return authzRequest{params: id(w.users[agentUser].ID)}
	})

	anInvitedUser = target("a user invited for a human agent", func(tb testing.TB, w *authzWorld, _ authzActor) authzRequest {
		a, _, err := sqlstore.NewAgentService(w.ts.db).CreateAgent(systemCtx(), switchboard.NewAgent{
			Name: w.unique("invited"), Kind: switchboard.HumanAgent, Email: w.email("invited"), TeamIDs: []string{w.teamA.ID}})
		if err != nil {
			tb.Fatal(err)
		}
		return authzRequest{params: id(a.UserID)}
	})

	// ownToken is a personal token of the caller (of the agent-role user
	// for callers who cannot have one).
	ownToken = target("the caller's own token", func(tb testing.TB, w *authzWorld, as authzActor) authzRequest {
		u := w.users[as]
		if u == nil {
			u = w.users[agentUser]
		}
		_, tok := w.ts.MustCreateToken(tb, u)
		return authzRequest{params: id(tok.ID), marker: tok.ID}
	})

	othersToken = target("another user's token", func(tb testing.TB, w *authzWorld, _ authzActor) authzRequest {
		_, tok := w.ts.MustCreateToken(tb, w.ts.MustCreateUser(tb, w.email("owner"), switchboard.RoleAgent))
		return authzRequest{params: id(tok.ID), marker: tok.ID}
	})

	csvImport = target("a CSV file", func(_ testing.TB, w *authzWorld, _ authzActor) authzRequest {
		return authzRequest{body: "name,kind\n" + w.unique("imported") + ",machine\n", headers: []string{"Content-Type", "text/csv"}}
	})

	// ownAgent is the caller's own agent; callers who are not one get the
	// agent-role user's, of team A.
	ownAgent = target("the caller's own agent", func(_ testing.TB, w *authzWorld, as authzActor) authzRequest {
		return authzRequest{params: id(w.agents[w.owner(as)])}
	})

	// ownAgentToken is a second token of the machine agent: the agent may
	// not manage its own tokens either.
	ownAgentToken = target("a token of the machine agent's own", func(tb testing.TB, w *authzWorld, _ authzActor) authzRequest {
		tok, _, err := sqlstore.NewAgentService(w.ts.db).CreateAgentToken(systemCtx(), w.agents[machine], switchboard.NewToken{Name: "spare"})
		if err != nil {
			tb.Fatal(err)
		}
		return authzRequest{params: map[string]string{"id": w.agents[machine], "token_id": tok.ID}}
	})

	// eventOfOwnAgent is a change to the caller's own agent (see ownAgent),
	// searched for in the events after it.
	eventOfOwnAgent = target("an event about the caller's own agent", func(tb testing.TB, w *authzWorld, as authzActor) authzRequest {
		after := w.lastEvent(tb)
		agentID := w.agents[w.owner(as)]
		capacity := int(authzNames.Add(1)%50) + 1
		if _, err := sqlstore.NewAgentService(w.ts.db).UpdateAgent(systemCtx(), agentID, switchboard.AgentUpdate{Capacity: &capacity}); err != nil {
			tb.Fatal(err)
		}
		return authzRequest{query: "after=" + after, marker: agentID}
	})

	newTeam = target("a new team", func(_ testing.TB, w *authzWorld, _ authzActor) authzRequest {
		return authzRequest{body: body{"name": w.unique("team")}}
	})
)

// newAgentIn creates a machine agent in a team.
func newAgentIn(which teamRef) authzTarget {
	return target("a new agent in "+which.String(), func(_ testing.TB, w *authzWorld, _ authzActor) authzRequest {
		return authzRequest{body: body{"name": w.unique("new"), "kind": "machine", "teams": w.teamIDs(which)}}
	})
}

// ownAgentIn is the caller's own agent (see ownAgent), put back in a status
// first, since the caller before may have moved it.
func ownAgentIn(status switchboard.AgentStatus) authzTarget {
	return target(fmt.Sprintf("the caller's own agent, %s", status), func(tb testing.TB, w *authzWorld, as authzActor) authzRequest {
		agents := sqlstore.NewAgentService(w.ts.db)
		agentID := w.agents[w.owner(as)]
		a, err := agents.FindAgentByID(systemCtx(), agentID)
		if err != nil {
			tb.Fatal(err)
		}
		if a.Status != status {
			if _, err := agents.SetAgentStatus(systemCtx(), agentID, status, 0); err != nil {
				tb.Fatal(err)
			}
		}
		return authzRequest{params: id(agentID)}
	})
}

// agentListed is a fresh machine agent of a team, looked for in a list by
// its name (by "q") or its team (by "team").
func agentListed(which teamRef, by string) authzTarget {
	return target(fmt.Sprintf("an agent of %s, listed by %s", which, by), func(tb testing.TB, w *authzWorld, _ authzActor) authzRequest {
		agentID := w.newAgent(tb, which, switchboard.AgentActive)
		a, err := sqlstore.NewAgentService(w.ts.db).FindAgentByID(systemCtx(), agentID)
		if err != nil {
			tb.Fatal(err)
		}
		query := url.Values{"q": {a.Name}}
		if by == "team" {
			query = url.Values{"team": {w.team(which).ID}, "sort": {"-created_at"}}
		}
		return authzRequest{query: query.Encode(), marker: agentID}
	})
}

// auditOfAgentIn is a fresh agent of a team, looked for in the audit log.
func auditOfAgentIn(which teamRef) authzTarget {
	return target("the audit of an agent of "+which.String(), func(tb testing.TB, w *authzWorld, _ authzActor) authzRequest {
		agentID := w.newAgent(tb, which, switchboard.AgentActive)
		return authzRequest{query: "target=" + agentID, marker: agentID}
	})
}

// eventOfAgentIn is the creation of an agent of a team, looked for in the
// events after it.
func eventOfAgentIn(which teamRef) authzTarget {
	return target("an event about an agent of "+which.String(), func(tb testing.TB, w *authzWorld, _ authzActor) authzRequest {
		after := w.lastEvent(tb)
		agentID := w.newAgent(tb, which, switchboard.AgentActive)
		return authzRequest{query: "after=" + after, marker: agentID}
	})
}

// lastEvent is the position of the newest event.
func (w *authzWorld) lastEvent(tb testing.TB) string {
	tb.Helper()
	pos, err := w.ts.db.LastEventPosition(systemCtx())
	if err != nil {
		tb.Fatal(err)
	}
	return strconv.FormatInt(pos, 10)
}

// bulkOn is a bulk action on a fresh active machine agent of a team, named
// by its ID (by "ids") or found by its name (by "filter"); to is the team of
// a team action.
func bulkOn(which teamRef, action string, to *teamRef, by string) authzTarget {
	return target(fmt.Sprintf("%s on an agent of %s, by %s", action, which, by), func(tb testing.TB, w *authzWorld, _ authzActor) authzRequest {
		agentID := w.newAgent(tb, which, switchboard.AgentActive)
		b := body{"action": action, "ids": []string{agentID}}
		if by == "filter" {
			a, err := sqlstore.NewAgentService(w.ts.db).FindAgentByID(systemCtx(), agentID)
			if err != nil {
				tb.Fatal(err)
			}
			b = body{"action": action, "filter": map[string]string{"q": a.Name}}
		}
		if to != nil {
			b["team_id"] = w.team(*to).ID
		}
		return authzRequest{body: b}
	})
}

func ptr[T any](v T) *T { return &v }

// agentIn is a fresh machine agent of a team, in a status.
func agentIn(which teamRef, status switchboard.AgentStatus) authzTarget {
	return target(fmt.Sprintf("an %s agent of %s", status, which), func(tb testing.TB, w *authzWorld, _ authzActor) authzRequest {
		return authzRequest{params: id(w.newAgent(tb, which, status))}
	})
}

// invitedAgentIn is a human agent of a team whose person has not chosen a
// password yet.
func invitedAgentIn(which teamRef) authzTarget {
	return target("an invited human agent of "+which.String(), func(tb testing.TB, w *authzWorld, _ authzActor) authzRequest {
		a, _, err := sqlstore.NewAgentService(w.ts.db).CreateAgent(systemCtx(), switchboard.NewAgent{
			Name: w.unique("person"), Kind: switchboard.HumanAgent, Email: w.email("person"), TeamIDs: w.teamIDs(which)})
		if err != nil {
			tb.Fatal(err)
		}
		return authzRequest{params: id(a.ID)}
	})
}

// agentTokenIn is a token of a fresh machine agent of a team.
func agentTokenIn(which teamRef) authzTarget {
	return target("a token of a machine agent of "+which.String(), func(tb testing.TB, w *authzWorld, _ authzActor) authzRequest {
		agentID := w.newAgent(tb, which, switchboard.AgentActive)
		tok, _, err := sqlstore.NewAgentService(w.ts.db).CreateAgentToken(systemCtx(), agentID, switchboard.NewToken{Name: "t"})
		if err != nil {
			tb.Fatal(err)
		}
		return authzRequest{params: map[string]string{"id": agentID, "token_id": tok.ID}}
	})
}

// teamListed is a team, looked for in the list by its name.
func teamListed(which teamRef) authzTarget {
	return target(which.String()+", listed by name", func(_ testing.TB, w *authzWorld, _ authzActor) authzRequest {
		t := w.team(which)
		return authzRequest{query: url.Values{"q": {t.Name}}.Encode(), marker: t.ID}
	})
}

func team(which teamRef) authzTarget {
	return target(which.String(), func(_ testing.TB, w *authzWorld, _ authzActor) authzRequest {
		return authzRequest{params: id(w.team(which).ID)}
	})
}

// teamSupervisedBy is a fresh team with one supervisor.
func teamSupervisedBy(sup authzActor) authzTarget {
	return target("a team of "+sup.String(), func(tb testing.TB, w *authzWorld, _ authzActor) authzRequest {
		t, err := sqlstore.NewTeamService(w.ts.db).CreateTeam(systemCtx(), switchboard.NewTeam{Name: w.unique("doomed"), SupervisorIDs: []string{w.users[sup].ID}})
		if err != nil {
			tb.Fatal(err)
		}
		return authzRequest{params: id(t.ID)}
	})
}

func newKeyFor(which teamRef) authzTarget {
	return target("a new key for "+which.String(), func(_ testing.TB, w *authzWorld, _ authzActor) authzRequest {
		return authzRequest{body: body{"name": "fleet", "team_id": strings.Join(w.teamIDs(which), "")}}
	})
}

// makeKey creates an enrollment key of a team.
func (w *authzWorld) makeKey(tb testing.TB, which teamRef) (*switchboard.EnrollmentKey, string) {
	tb.Helper()
	k, secret, err := sqlstore.NewEnrollmentService(w.ts.db).CreateEnrollmentKey(systemCtx(), switchboard.NewEnrollmentKey{Name: "fleet", TeamID: strings.Join(w.teamIDs(which), "")})
	if err != nil {
		tb.Fatal(err)
	}
	return k, secret
}

func keyOf(which teamRef) authzTarget {
	return target("a key of "+which.String(), func(tb testing.TB, w *authzWorld, _ authzActor) authzRequest {
		k, _ := w.makeKey(tb, which)
		return authzRequest{params: id(k.ID)}
	})
}

// keyListed is a fresh key of a team, at the top of the list (newest
// first).
func keyListed(which teamRef) authzTarget {
	return target("a new key of "+which.String()+", listed", func(tb testing.TB, w *authzWorld, _ authzActor) authzRequest {
		k, _ := w.makeKey(tb, which)
		return authzRequest{marker: k.ID}
	})
}

func enrollWithKeyOf(which teamRef) authzTarget {
	return target("a valid key of "+which.String(), func(tb testing.TB, w *authzWorld, _ authzActor) authzRequest {
		_, secret := w.makeKey(tb, which)
		return authzRequest{body: body{"key": secret, "name": w.unique("enrolled")}}
	})
}

// makeQueue creates a queue of a team (every agent for noTeam), routing
// directly or by offers, asking a skill when skill is set.
func (w *authzWorld) makeQueue(tb testing.TB, which teamRef, offerTimeout time.Duration, strategy switchboard.RoutingStrategy, skill string) *switchboard.Queue {
	tb.Helper()
	nq := switchboard.NewQueue{Name: w.unique("queue"), TeamIDs: w.teamIDs(which), OfferTimeout: offerTimeout, Strategy: strategy}
	if skill != "" {
		nq.RequiredSkills = map[string]int{skill: 1}
	}
	q, err := sqlstore.NewQueueService(w.ts.db).CreateQueue(systemCtx(), nq)
	if err != nil {
		tb.Fatal(err)
	}
	return q
}

func queueOf(which teamRef) authzTarget {
	return target("a queue of "+which.String(), func(tb testing.TB, w *authzWorld, _ authzActor) authzRequest {
		return authzRequest{params: id(w.makeQueue(tb, which, 0, "", "").ID)}
	})
}

func queueListed(which teamRef) authzTarget {
	return target("a queue of "+which.String()+", listed", func(tb testing.TB, w *authzWorld, _ authzActor) authzRequest {
		q := w.makeQueue(tb, which, 0, "", "")
		return authzRequest{query: url.Values{"q": {q.Name}}.Encode(), marker: q.ID}
	})
}

func newQueueFor(which teamRef) authzTarget {
	return target("a new queue for "+which.String(), func(_ testing.TB, w *authzWorld, _ authzActor) authzRequest {
		return authzRequest{body: body{"name": w.unique("queue"), "team_ids": w.teamIDs(which)}}
	})
}

// newTaskIn is a new task for a manual queue of a team, which no agent gets
// by itself.
func newTaskIn(which teamRef) authzTarget {
	return target("a new task in a queue of "+which.String(), func(tb testing.TB, w *authzWorld, _ authzActor) authzRequest {
		q := w.makeQueue(tb, which, 0, switchboard.Manual, "")
		return authzRequest{body: body{"queue": q.ID, "title": w.unique("task")}}
	})
}

// makeTask creates a task in a queue.
func (w *authzWorld) makeTask(tb testing.TB, q *switchboard.Queue) *switchboard.Task {
	tb.Helper()
	t, _, err := sqlstore.NewTaskService(w.ts.db).CreateTask(systemCtx(), switchboard.NewTask{QueueID: q.ID, Title: w.unique("task")})
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// queuedTaskIn is a task waiting in a manual queue of a team.
func queuedTaskIn(which teamRef) authzTarget {
	return target("a queued task of "+which.String(), func(tb testing.TB, w *authzWorld, _ authzActor) authzRequest {
		return authzRequest{params: id(w.makeTask(tb, w.makeQueue(tb, which, 0, switchboard.Manual, "")).ID)}
	})
}

func taskListed(which teamRef) authzTarget {
	return target("a queued task of "+which.String()+", listed", func(tb testing.TB, w *authzWorld, _ authzActor) authzRequest {
		t := w.makeTask(tb, w.makeQueue(tb, which, 0, switchboard.Manual, ""))
		return authzRequest{query: "queue=" + t.QueueID, marker: t.ID}
	})
}

// readyAgent makes an agent available, with room, and with a skill of its
// own, so that a queue asking that skill routes to it alone.
func (w *authzWorld) readyAgent(tb testing.TB, agentID string) string {
	tb.Helper()
	skill := strings.ToLower(w.unique("skill"))
	capacity := 50
	agents := sqlstore.NewAgentService(w.ts.db)
	if _, err := agents.UpdateAgent(systemCtx(), agentID, switchboard.AgentUpdate{Capacity: &capacity, Skills: &map[string]int{skill: 5}}); err != nil {
		tb.Fatal(err)
	}
	a, err := agents.FindAgentByID(systemCtx(), agentID)
	if err != nil {
		tb.Fatal(err)
	}
	ctx := switchboard.NewContextWithActor(systemCtx(), &switchboard.Actor{Agent: a})
	if _, err := sqlstore.NewPresenceService(w.ts.db).SetPresence(ctx, switchboard.PresenceAvailable); err != nil {
		tb.Fatal(err)
	}
	return skill
}

// ownTask is a task of team A assigned to the caller's own agent (see
// owner).
var ownTask = target("a task assigned to the caller's own agent", func(tb testing.TB, w *authzWorld, as authzActor) authzRequest {
	skill := w.readyAgent(tb, w.agents[w.owner(as)])
	t := w.makeTask(tb, w.makeQueue(tb, teamA, 0, "", skill))
	if t.AgentID != w.agents[w.owner(as)] {
		tb.Fatalf("the task went to %q, not the caller's agent", t.AgentName)
	}
	return authzRequest{params: id(t.ID)}
})

// offerTo is a pending offer of a task of team A to an agent.
func (w *authzWorld) offerTo(tb testing.TB, agentID string) string {
	tb.Helper()
	skill := w.readyAgent(tb, agentID)
	t := w.makeTask(tb, w.makeQueue(tb, teamA, time.Hour, "", skill))
	a, err := sqlstore.NewAgentService(w.ts.db).FindAgentByID(systemCtx(), agentID)
	if err != nil {
		tb.Fatal(err)
	}
	offers, err := sqlstore.NewOfferService(w.ts.db).FindMyOffers(switchboard.NewContextWithActor(systemCtx(), &switchboard.Actor{Agent: a}))
	if err != nil {
		tb.Fatal(err)
	}
	for _, o := range offers {
		if o.TaskID == t.ID {
			return o.ID
		}
	}
	tb.Fatalf("task %s was not offered to agent %s", t.ID, agentID)
	return ""
}

var (
	ownOffer = target("an offer to the caller's own agent", func(tb testing.TB, w *authzWorld, as authzActor) authzRequest {
		return authzRequest{params: id(w.offerTo(tb, w.agents[w.owner(as)]))}
	})
	othersOffer = target("an offer to another agent of team A", func(tb testing.TB, w *authzWorld, _ authzActor) authzRequest {
		return authzRequest{params: id(w.offerTo(tb, w.newAgent(tb, teamA, switchboard.AgentActive)))}
	})
)

var (
	// queuedTaskForReadyAgent is a task of a manual queue of team A, to be
	// assigned to an agent of team A that may take it.
	queuedTaskForReadyAgent = target("a queued task of team A, for an available agent", func(tb testing.TB, w *authzWorld, _ authzActor) authzRequest {
		agentID := w.newAgent(tb, teamA, switchboard.AgentActive)
		w.readyAgent(tb, agentID)
		t := w.makeTask(tb, w.makeQueue(tb, teamA, 0, switchboard.Manual, ""))
		return authzRequest{params: id(t.ID), body: body{"agent": agentID}}
	})
	// taskAssignedInTeamA is a task of team A assigned to a fresh agent.
	taskAssignedInTeamA = target("a task of team A assigned to an agent", func(tb testing.TB, w *authzWorld, _ authzActor) authzRequest {
		skill := w.readyAgent(tb, w.newAgent(tb, teamA, switchboard.AgentActive))
		return authzRequest{params: id(w.makeTask(tb, w.makeQueue(tb, teamA, 0, "", skill)).ID)}
	})
)

// aWebhook is a new active endpoint, looked for in the list by its ID.
var aWebhook = target("a webhook", func(tb testing.TB, w *authzWorld, _ authzActor) authzRequest {
	hook, err := sqlstore.NewWebhookService(w.ts.db).CreateWebhook(systemCtx(), switchboard.NewWebhook{
		URL: "https://hooks.example.com/" + w.unique("in"), Events: []string{"*"}, Active: true})
	if err != nil {
		tb.Fatal(err)
	}
	return authzRequest{params: id(hook.ID), query: "limit=200", marker: hook.ID}
})

// notificationAbout is the password reset e-mail of a user (a new one when
// who is nil), looked for in the delivery log.
func notificationAbout(who func(w *authzWorld) *switchboard.User) authzTarget {
	return target("a notification", func(tb testing.TB, w *authzWorld, _ authzActor) authzRequest {
		var u *switchboard.User
		if who != nil {
			u = who(w)
		} else {
			u = w.ts.MustCreateUser(tb, w.email("someone"), switchboard.RoleAgent)
		}
		n := w.mustNotify(tb, u)
		return authzRequest{query: "limit=200", marker: n.ID}
	})
}

var (
	// ownInAppNotification is an in-app notification to the caller;
	// callers who are no user get one to the agent-role user.
	ownInAppNotification = target("the caller's own in-app notification", func(tb testing.TB, w *authzWorld, as authzActor) authzRequest {
		u := w.users[as]
		if u == nil {
			u = w.users[agentUser]
		}
		n := sqlstoretest.MustNotifyInApp(tb, w.ts.db, u.ID, "Yours", "For you.", "", time.Time{})
		return authzRequest{params: id(n), query: "limit=200", marker: n}
	})
	// othersInAppNotification is an in-app notification to someone else,
	// which no caller may read or mark, admins included.
	othersInAppNotification = target("another user's in-app notification", func(tb testing.TB, w *authzWorld, _ authzActor) authzRequest {
		u := w.ts.MustCreateUser(tb, w.email("someone"), switchboard.RoleAgent)
		n := sqlstoretest.MustNotifyInApp(tb, w.ts.db, u.ID, "Theirs", "Not for you.", "", time.Time{})
		return authzRequest{params: id(n), query: "limit=200", marker: n}
	})
)

// notificationThat is a new user's password reset e-mail, in a status.
func notificationThat(status switchboard.NotificationStatus) authzTarget {
	return target("a "+string(status)+" notification", func(tb testing.TB, w *authzWorld, _ authzActor) authzRequest {
		n := w.mustNotify(tb, w.ts.MustCreateUser(tb, w.email("someone"), switchboard.RoleAgent))
		if status == switchboard.NotificationDead {
			// Never claimed (attempt 0), given up.
			if ok, err := sqlstore.NewNotificationService(w.ts.db).FinishNotification(systemCtx(), n, errors.New("down"), 0, true); !ok || err != nil {
				tb.Fatalf("FinishNotification = %v, %v", ok, err)
			}
		}
		return authzRequest{params: id(n.ID)}
	})
}

// mustNotify issues a password reset link to u, which e-mails it, and
// returns the e-mail's notification.
func (w *authzWorld) mustNotify(tb testing.TB, u *switchboard.User) *switchboard.Notification {
	tb.Helper()
	if _, err := sqlstore.NewUserService(w.ts.db).IssuePasswordReset(systemCtx(), u.ID); err != nil {
		tb.Fatal(err)
	}
	// The user's own log: theirs only, newest first.
	page, err := sqlstore.NewNotificationService(w.ts.db).FindNotifications(
		switchboard.NewContextWithActor(context.Background(), &switchboard.Actor{User: u}), switchboard.NotificationFilter{Limit: 1})
	if err != nil || len(page.Items) != 1 {
		tb.Fatalf("the notification of the reset: %v, %v", page, err)
	}
	return page.Items[0]
}
