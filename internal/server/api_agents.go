package server

import (
	"bytes"
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchboardhq/switchboard"
)

// AgentJSON is an agent as the API shows it.
type AgentJSON struct {
	ID         string          `json:"id"`
	Name       string          `json:"name" example:"Ada Lovelace"`
	Kind       string          `json:"kind" enum:"human,machine"`
	Email      string          `json:"email,omitempty" example:"ada@example.com"`
	Phone      string          `json:"phone,omitempty" doc:"E.164." example:"+14155550123"`
	Skills     map[string]int  `json:"skills" doc:"Skill name to level, 1 to 10." example:"{\"billing\":7,\"spanish\":5}"`
	Capacity   int             `json:"capacity" doc:"How many tasks the agent handles at once."`
	Teams      []TeamRefJSON   `json:"teams" nullable:"false"`
	Attributes map[string]any  `json:"attributes" doc:"Free-form JSON object."`
	Notify     []string        `json:"notify" nullable:"false" doc:"Channels the agent wants notifications on: email, sms, inapp."`
	Status     string          `json:"status" enum:"pending,active,suspended,retired"`
	Presence   string          `json:"presence" enum:"offline,available,away,busy"`
	UserID     string          `json:"user_id,omitempty" doc:"The user a human agent signs in as."`
	LastSeenAt *time.Time      `json:"last_seen_at,omitempty"`
	Metadata   map[string]any  `json:"metadata" doc:"What the agent reports about itself: version, hostname..."`
	CreatedAt  time.Time       `json:"created_at"`
	UpdatedAt  time.Time       `json:"updated_at"`
	Actions    []string        `json:"actions" nullable:"false" doc:"The lifecycle actions that apply now: activate, suspend, retire."`
	Invitation *InvitationJSON `json:"invitation,omitempty" doc:"Set when creating a human agent invited a new user: the link with which they choose a password. Shown only here."`
}

// TeamRefJSON names a team.
type TeamRefJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// InvitationJSON is a single-use link with which a user sets a password: a
// new user's first, or a new one after a reset.
type InvitationJSON struct {
	Email     string    `json:"email"`
	URL       string    `json:"url" doc:"Single use; send it to the person by a safe channel."`
	ExpiresAt time.Time `json:"expires_at"`
}

func newAgentJSON(a *switchboard.Agent) AgentJSON {
	teams := make([]TeamRefJSON, len(a.Teams))
	for i, t := range a.Teams {
		teams[i] = TeamRefJSON{ID: t.ID, Name: t.Name}
	}
	notify := make([]string, len(a.Notify))
	for i, c := range a.Notify {
		notify[i] = string(c)
	}
	actions := []string{}
	for _, act := range a.Status.Actions() {
		actions = append(actions, act.Name)
	}
	return AgentJSON{
		ID: a.ID, Name: a.Name, Kind: string(a.Kind), Email: a.Email, Phone: a.Phone, Skills: a.Skills,
		Capacity: a.Capacity, Teams: teams, Attributes: a.Attributes, Notify: notify, Status: string(a.Status),
		Presence: string(a.Presence), UserID: a.UserID, LastSeenAt: apiTime(a.LastSeenAt), Metadata: a.Metadata,
		CreatedAt: a.CreatedAt.UTC(), UpdatedAt: a.UpdatedAt.UTC(), Actions: actions,
	}
}

// invitationJSON turns an invitation into its link, on linkOrigin. Handlers
// check canMakeLinks first; should one not, the link is left relative
// rather than made on a host the client chose.
func (s *Server) invitationJSON(ctx context.Context, inv *switchboard.Invitation) *InvitationJSON {
	if inv == nil {
		return nil
	}
	origin, _ := s.linkOrigin(ctx)
	return &InvitationJSON{Email: inv.Email, URL: origin + inv.Path(), ExpiresAt: inv.ExpiresAt.UTC()}
}

// mayInvite reports whether creating an agent may invite someone: a person
// with an e-mail address may become a new user.
func mayInvite(kind switchboard.AgentKind, email string) bool {
	return kind == switchboard.HumanAgent && strings.TrimSpace(email) != ""
}

type listAgentsInput struct {
	ListQuery
	Q        string `query:"q" maxLength:"200" doc:"Part of the name or e-mail address, in any case; accents count (e does not find é)."`
	Status   string `query:"status" enum:"pending,active,suspended,retired"`
	Presence string `query:"presence" enum:"offline,available,away,busy"`
	Kind     string `query:"kind" enum:"human,machine"`
	Team     string `query:"team" maxLength:"64" doc:"A team ID: only its members."`
	Skill    string `query:"skill" maxLength:"64" doc:"Only agents with this skill..."`
	MinLevel int    `query:"min_level" minimum:"0" maximum:"10" doc:"...at this level or above."`
	Sort     string `query:"sort" enum:"name,-name,created_at,-created_at" default:"name" doc:"Order; a leading - reverses it."`
}

type listAgentsOutput struct {
	Body ListBody[AgentJSON]
}

func (s *Server) apiListAgents(ctx context.Context, in *listAgentsInput) (*listAgentsOutput, error) {
	p, err := s.Agents.FindAgents(ctx, switchboard.AgentFilter{
		Query: in.Q, Status: switchboard.AgentStatus(in.Status), Presence: switchboard.Presence(in.Presence),
		Kind: switchboard.AgentKind(in.Kind), TeamID: in.Team, Skill: in.Skill, MinLevel: in.MinLevel,
		Sort: in.Sort, Limit: in.Limit, Cursor: in.Cursor,
	})
	if err != nil {
		return nil, err
	}
	return &listAgentsOutput{Body: listBody(p, newAgentJSON)}, nil
}

// AgentFields are the optional writable fields of an agent, shared by create
// and update.
type AgentFields struct {
	Email      *string         `json:"email,omitempty" maxLength:"254" doc:"Required for human agents: the address they sign in with."`
	Phone      *string         `json:"phone,omitempty" maxLength:"32" doc:"International (E.164) number; spaces and dashes are removed." example:"+14155550123"`
	Skills     *map[string]int `json:"skills,omitempty" doc:"Skill name to level, 1 to 10. Replaces all skills."`
	Capacity   *int            `json:"capacity,omitempty" minimum:"1" maximum:"1000"`
	Teams      *[]string       `json:"teams,omitempty" maxItems:"50" doc:"Team IDs. Replaces all memberships."`
	Attributes *map[string]any `json:"attributes,omitempty" doc:"Free-form JSON object, at most 16 KiB, nested at most 16 levels deep."`
	Notify     *[]string       `json:"notify,omitempty" maxItems:"3" doc:"Channels: email, sms, inapp."`
}

func channels(in *[]string) *[]switchboard.Channel {
	if in == nil {
		return nil
	}
	out := make([]switchboard.Channel, len(*in))
	for i, c := range *in {
		out[i] = switchboard.Channel(c)
	}
	return &out
}

func derefOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

type createAgentInput struct {
	Body struct {
		Name   string `json:"name" maxLength:"200" example:"Ada Lovelace"`
		Kind   string `json:"kind" enum:"human,machine"`
		Status string `json:"status,omitempty" enum:"active,pending" doc:"Default active; pending for a person who is invited."`
		AgentFields
	}
}

type agentOutput struct {
	ETag string `header:"ETag"`
	Body AgentJSON
}

type createdAgentOutput struct {
	Location string `header:"Location"`
	ETag     string `header:"ETag"`
	Body     AgentJSON
}

func (s *Server) apiCreateAgent(ctx context.Context, in *createAgentInput) (*createdAgentOutput, error) {
	b := in.Body
	na := switchboard.NewAgent{
		Name: b.Name, Kind: switchboard.AgentKind(b.Kind), Email: derefOr(b.Email, ""), Phone: derefOr(b.Phone, ""),
		Skills: derefOr(b.Skills, nil), Capacity: derefOr(b.Capacity, 0), TeamIDs: derefOr(b.Teams, nil),
		Attributes: derefOr(b.Attributes, nil), Status: switchboard.AgentStatus(b.Status),
	}
	if b.Notify != nil {
		na.Notify = *channels(b.Notify)
	}
	if mayInvite(na.Kind, na.Email) {
		if err := s.canMakeLinks(ctx); err != nil {
			return nil, err
		}
	}
	a, inv, err := s.Agents.CreateAgent(ctx, na)
	if err != nil {
		return nil, err
	}
	body := newAgentJSON(a)
	body.Invitation = s.invitationJSON(ctx, inv)
	return &createdAgentOutput{Location: "/api/v1/agents/" + a.ID, ETag: etag(a.Version), Body: body}, nil
}

type agentIDInput struct {
	ID string `path:"id" maxLength:"64"`
}

func (s *Server) apiGetAgent(ctx context.Context, in *agentIDInput) (*agentOutput, error) {
	a, err := s.Agents.FindAgentByID(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return &agentOutput{ETag: etag(a.Version), Body: newAgentJSON(a)}, nil
}

// PresencePeriodJSON is a stretch of time an agent spent in one presence.
type PresencePeriodJSON struct {
	Presence string    `json:"presence" enum:"offline,available,away,busy"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to" doc:"When the next period began; for the current period, the time of the answer."`
	Current  bool      `json:"current" doc:"The period the agent is in now."`
	Reason   string    `json:"reason" doc:"What began the period: set by the agent, heartbeat timeout, agent suspended..." example:"heartbeat timeout"`
}

type presenceTimelineInput struct {
	ID    string    `path:"id" maxLength:"64"`
	Since time.Time `query:"since" doc:"The start of the timeline, within the last 30 days; the last 24 hours if absent."`
}

type presenceTimelineOutput struct {
	Body struct {
		Periods []PresencePeriodJSON `json:"periods" nullable:"false"`
	}
}

func (s *Server) apiPresenceTimeline(ctx context.Context, in *presenceTimelineInput) (*presenceTimelineOutput, error) {
	periods, err := s.Presence.PresenceTimeline(ctx, in.ID, in.Since)
	if err != nil {
		return nil, err
	}
	out := &presenceTimelineOutput{}
	out.Body.Periods = make([]PresencePeriodJSON, len(periods))
	for i, p := range periods {
		out.Body.Periods[i] = PresencePeriodJSON{Presence: string(p.Presence), From: p.From, To: p.To, Current: p.Current, Reason: p.Reason}
	}
	return out, nil
}

type updateAgentInput struct {
	ID      string `path:"id" maxLength:"64"`
	IfMatch string `header:"If-Match" doc:"The ETag from a previous read; the update fails with 412 if the agent changed since."`
	Body    struct {
		Name *string `json:"name,omitempty" maxLength:"200"`
		AgentFields
	}
}

func (s *Server) apiUpdateAgent(ctx context.Context, in *updateAgentInput) (*agentOutput, error) {
	b := in.Body
	a, err := s.Agents.UpdateAgent(ctx, in.ID, switchboard.AgentUpdate{
		Name: b.Name, Email: b.Email, Phone: b.Phone, Skills: b.Skills, Capacity: b.Capacity, TeamIDs: b.Teams,
		Attributes: b.Attributes, Notify: channels(b.Notify), IfVersion: ifMatchVersion(in.IfMatch),
	})
	if err != nil {
		return nil, err
	}
	return &agentOutput{ETag: etag(a.Version), Body: newAgentJSON(a)}, nil
}

func (s *Server) apiDeleteAgent(ctx context.Context, in *agentIDInput) (*struct{}, error) {
	return &struct{}{}, s.Agents.DeleteAgent(ctx, in.ID)
}

type lifecycleInput struct {
	ID      string `path:"id" maxLength:"64"`
	IfMatch string `header:"If-Match" doc:"Optional ETag; 412 if the agent changed since."`
}

// apiLifecycle returns the handler of one lifecycle action.
func (s *Server) apiLifecycle(to switchboard.AgentStatus) func(context.Context, *lifecycleInput) (*agentOutput, error) {
	return func(ctx context.Context, in *lifecycleInput) (*agentOutput, error) {
		a, err := s.Agents.SetAgentStatus(ctx, in.ID, to, ifMatchVersion(in.IfMatch))
		if err != nil {
			return nil, err
		}
		return &agentOutput{ETag: etag(a.Version), Body: newAgentJSON(a)}, nil
	}
}

// linkOutput answers with a new invitation or password reset link.
type linkOutput struct {
	Body InvitationJSON
}

func (s *Server) apiReinviteAgent(ctx context.Context, in *agentIDInput) (*linkOutput, error) {
	a, err := s.Agents.FindAgentByID(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	if a.Kind != switchboard.HumanAgent || a.UserID == "" {
		return nil, &switchboard.Error{Code: switchboard.ECONFLICT, Message: "Only human agents are invited; machine agents enroll or get tokens."}
	}
	if err := s.canMakeLinks(ctx); err != nil {
		return nil, err
	}
	inv, err := s.Users.InviteUser(ctx, a.UserID)
	if err != nil {
		return nil, err
	}
	return &linkOutput{Body: *s.invitationJSON(ctx, inv)}, nil
}

type createAgentTokenInput struct {
	ID   string `path:"id" maxLength:"64"`
	Body struct {
		Name      string     `json:"name" maxLength:"100" example:"production"`
		ExpiresAt *time.Time `json:"expires_at,omitempty" doc:"When the token stops working; never, if absent."`
	}
}

func (s *Server) apiCreateAgentToken(ctx context.Context, in *createAgentTokenInput) (*createdTokenOutput, error) {
	t, secret, err := s.Agents.CreateAgentToken(ctx, in.ID, switchboard.NewToken{Name: in.Body.Name, ExpiresAt: in.Body.ExpiresAt})
	if err != nil {
		return nil, err
	}
	out := &createdTokenOutput{}
	out.Body.TokenJSON = s.newTokenJSON(t)
	out.Body.Token = secret
	return out, nil
}

type listAgentTokensInput struct {
	ID string `path:"id" maxLength:"64"`
	ListQuery
}

func (s *Server) apiListAgentTokens(ctx context.Context, in *listAgentTokensInput) (*listTokensOutput, error) {
	p, err := s.Agents.FindAgentTokens(ctx, in.ID, switchboard.TokenFilter{Limit: in.Limit, Cursor: in.Cursor})
	if err != nil {
		return nil, err
	}
	return &listTokensOutput{Body: listBody(p, s.newTokenJSON)}, nil
}

type agentTokenIDInput struct {
	ID      string `path:"id" maxLength:"64"`
	TokenID string `path:"token_id" maxLength:"64"`
}

func (s *Server) apiRevokeAgentToken(ctx context.Context, in *agentTokenIDInput) (*struct{}, error) {
	return &struct{}{}, s.Agents.RevokeAgentToken(ctx, in.ID, in.TokenID)
}

// maxImportBytes bounds a CSV import: 50,000 agents with room to spare.
const maxImportBytes = 32 << 20

type importAgentsInput struct {
	RawBody []byte `contentType:"text/csv"`
}

type importAgentsOutput struct {
	Body struct {
		Created     int              `json:"created" doc:"Agents created."`
		Invited     int              `json:"invited" doc:"Users created and invited for human agents whose e-mail address was new."`
		Invitations []InvitationJSON `json:"invitations" nullable:"false" doc:"The invitation links, shown only here."`
	}
}

func (s *Server) apiImportAgents(ctx context.Context, in *importAgentsInput) (*importAgentsOutput, error) {
	if !utf8.Valid(in.RawBody) {
		return nil, &switchboard.Error{Code: switchboard.EINVALID, Message: "The file is not UTF-8 text; save it as CSV UTF-8."}
	}
	rows, err := switchboard.ParseAgentCSV(bytes.NewReader(in.RawBody))
	if err != nil && rows == nil {
		return nil, err
	}
	if err == nil {
		if err := s.canImport(ctx, rows); err != nil {
			return nil, err
		}
	}
	// Rows with problems come too: the service adds the problems only the
	// database can find, and imports nothing.
	res, err := s.Agents.ImportAgents(ctx, rows)
	if err != nil {
		return nil, err
	}
	out := &importAgentsOutput{}
	out.Body.Created, out.Body.Invited = res.Created, res.Invited
	out.Body.Invitations = make([]InvitationJSON, len(res.Invitations))
	for i, inv := range res.Invitations {
		out.Body.Invitations[i] = *s.invitationJSON(ctx, inv)
	}
	return out, nil
}

// canImport fails when rows may invite people and no links can be made.
func (s *Server) canImport(ctx context.Context, rows []switchboard.ImportRow) error {
	for _, row := range rows {
		if mayInvite(row.Agent.Kind, row.Agent.Email) {
			return s.canMakeLinks(ctx)
		}
	}
	return nil
}
