package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humachi"

	"github.com/switchboardhq/switchboard"
)

// EventJSON is one event of the log.
type EventJSON struct {
	ID       string         `json:"id"`
	Position int64          `json:"position" doc:"Only grows; pass the last one seen as after (or Last-Event-ID) to resume."`
	Type     string         `json:"type" example:"agent.updated"`
	At       time.Time      `json:"at"`
	Actor    EventPartyJSON `json:"actor"`
	Subject  EventPartyJSON `json:"subject"`
	Data     map[string]any `json:"data" doc:"What changed: before and after hold the changed fields; other keys depend on the type."`
	// RequestID matches the X-Request-ID of the request that made the change.
	RequestID string `json:"request_id,omitempty"`
}

// EventPartyJSON is the actor or the subject of an event.
type EventPartyJSON struct {
	Type string `json:"type" example:"agent"`
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

func newEventJSON(e *switchboard.Event) EventJSON {
	data := make(map[string]any, len(e.Data)+2)
	for k, v := range e.Data {
		data[k] = v
	}
	if len(e.Before) > 0 {
		data["before"] = e.Before
	}
	if len(e.After) > 0 {
		data["after"] = e.After
	}
	return EventJSON{
		ID: e.ID, Position: e.Position, Type: e.Type, At: e.At.UTC(),
		Actor:     EventPartyJSON{Type: e.Actor.Type, ID: e.Actor.ID, Name: e.Actor.Name},
		Subject:   EventPartyJSON{Type: e.Subject.Type, ID: e.Subject.ID, Name: e.Subject.Name},
		Data:      data,
		RequestID: e.RequestID,
	}
}

// EventPageJSON is a page of the event log.
type EventPageJSON struct {
	Items      []EventJSON `json:"items" nullable:"false"`
	NextCursor string      `json:"next_cursor" doc:"The position to pass as after (or cursor) next time; an empty items list means caught up."`
}

type listEventsInput struct {
	After       int64  `query:"after" minimum:"0" doc:"Events after this position. JSON: 0 (the default) starts from the oldest event kept. Stream: without after or Last-Event-ID, only new events."`
	Cursor      string `query:"cursor" maxLength:"20" doc:"The next_cursor of the previous page; the same as after."`
	Types       string `query:"types" maxLength:"2000" doc:"Only these types, separated by commas; a type ending in a dot is a prefix." example:"agent.created,team."`
	Limit       int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Events per page (JSON)."`
	Accept      string `header:"Accept" doc:"text/event-stream streams Server-Sent Events; anything else gets a JSON page."`
	LastEventID string `header:"Last-Event-ID" maxLength:"20" doc:"What a reconnecting EventSource sends: the position of the last event it received."`
}

// eventsOperation describes both forms of GET /api/v1/events: huma cannot
// derive a response with two media types from one output type.
func eventsOperation(api huma.API) huma.Operation {
	schema := api.OpenAPI().Components.Schemas.Schema(reflectEventPage, true, "EventPage")
	return huma.Operation{OperationID: "listEvents", Method: http.MethodGet, Path: "/api/v1/events",
		Summary: "Read or stream the event log", Tags: []string{"Events"},
		Description: "Every change, in the order it committed, filtered by what the caller may see: admins everything, " +
			"supervisors what concerns their teams and their own actions, agents what concerns themselves. " +
			"As JSON, a page after a position, for integrators catching up. With Accept: text/event-stream, the same " +
			"events as Server-Sent Events: id is the position, event the type, data the event as JSON; a comment line " +
			"every 15 s keeps proxies from closing the connection. A stream that falls too far behind, or whose " +
			"credentials end, is closed; reconnecting with Last-Event-ID resumes exactly after the last event received.",
		Responses: map[string]*huma.Response{
			"200": {Description: "A page of events, or a stream of them.", Content: map[string]*huma.MediaType{
				"application/json":  {Schema: schema},
				"text/event-stream": {Schema: &huma.Schema{Type: "string", Description: "Server-Sent Events: id, event and data lines per event."}},
			}},
		},
	}
}

// sseKeepAlive is how often an idle stream sends a comment line, under the
// minute after which proxies commonly close idle connections.
const sseKeepAlive = 15 * time.Second

// sseWriteTimeout is how long one write to a stream may take: a client that
// stops reading is let go instead of holding a goroutine forever.
const sseWriteTimeout = 15 * time.Second

// ssePage is how many events one read of the log brings while a stream
// catches up.
const ssePage = 200

func (s *Server) apiListEvents(ctx context.Context, in *listEventsInput) (*huma.StreamResponse, error) {
	after, types, err := eventsQuery(in)
	if err != nil {
		return nil, err
	}
	if !acceptsEventStream(in.Accept) {
		page, err := s.Events.FindEvents(ctx, switchboard.EventFilter{After: after, Types: types, Limit: in.Limit})
		if err != nil {
			return nil, err
		}
		body := EventPageJSON{Items: make([]EventJSON, len(page.Items)), NextCursor: strconv.FormatInt(page.Next, 10)}
		for i, e := range page.Items {
			body.Items[i] = newEventJSON(e)
		}
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			hctx.SetHeader("Content-Type", "application/json")
			hctx.SetStatus(http.StatusOK)
			_ = strictJSON.Marshal(hctx.BodyWriter(), body)
		}}, nil
	}
	// Resolve the viewer now, so that refusals are problem documents and
	// not a stream that ends at once.
	viewer, err := s.Events.EventViewer(ctx)
	if err != nil {
		return nil, err
	}
	resume := in.LastEventID != "" || in.After > 0 || in.Cursor != ""
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		s.streamEvents(ctx, hctx, viewer, after, resume, types)
	}}, nil
}

// eventsQuery reads the position to start after (after, cursor or
// Last-Event-ID, the last winning) and the type filter.
func eventsQuery(in *listEventsInput) (int64, []string, error) {
	var v switchboard.Validation
	after := in.After
	for _, p := range []struct{ name, value string }{{"cursor", in.Cursor}, {"Last-Event-ID", in.LastEventID}} {
		if p.value == "" {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(p.value), 10, 64)
		if err != nil || n < 0 {
			v.Add(p.name, "Give the position of an event: a whole number, 0 or more.")
			continue
		}
		after = n
	}
	var types []string
	if in.Types != "" {
		for _, t := range strings.Split(in.Types, ",") {
			if t = strings.TrimSpace(t); t != "" {
				types = append(types, t)
			}
		}
	}
	return after, types, v.Err()
}

// acceptsEventStream reports whether the client asks for Server-Sent
// Events, as a browser's EventSource does.
func acceptsEventStream(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, _, _ := strings.Cut(part, ";")
		if strings.EqualFold(strings.TrimSpace(mt), "text/event-stream") {
			return true
		}
	}
	return false
}

// streamEvents sends the events after a position, then every new one, as
// Server-Sent Events, until the client goes, falls too far behind, or its
// credentials end. It subscribes before reading the log, so nothing that
// commits in between is missed; positions at or below the cursor are never
// sent twice.
func (s *Server) streamEvents(ctx context.Context, hctx huma.Context, viewer *switchboard.EventViewer, after int64, resume bool, types []string) {
	_, w := humachi.Unwrap(hctx)
	rc := http.NewResponseController(w)
	hctx.SetHeader("Content-Type", "text/event-stream")
	hctx.SetHeader("Cache-Control", "no-store")
	hctx.SetHeader("X-Accel-Buffering", "no") // nginx: pass events on at once
	hctx.SetStatus(http.StatusOK)

	sub := s.Broker.Subscribe()
	defer sub.Close()
	cursor := after
	if !resume {
		// New events only: those after the newest committed now, which
		// this instance's reader may not have read yet.
		last, err := s.Events.LastEventPosition(ctx)
		if err != nil {
			s.logInternal(ctx, err)
			return
		}
		cursor = max(sub.Position(), last)
	}
	var buf bytes.Buffer
	flush := func() bool {
		if buf.Len() == 0 {
			return true
		}
		_ = rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout))
		_, err := w.Write(buf.Bytes())
		buf.Reset()
		return err == nil && rc.Flush() == nil
	}
	buf.WriteString("retry: 3000\n\n")
	if !flush() {
		return
	}

	actor := switchboard.ActorFromContext(ctx)
	// send writes the events the viewer may see and reports whether the
	// stream goes on.
	send := func(events []*switchboard.Event) bool {
		for _, e := range events {
			if e.Position <= cursor {
				continue
			}
			cursor = e.Position
			if e.TeamsMayChange() && !viewer.All {
				v, err := s.Events.EventViewer(ctx)
				if err != nil {
					return false
				}
				viewer = v
			}
			if viewer.CanSee(e) && typeMatches(types, e.Type) {
				writeSSE(&buf, e)
			}
			if endsCredentials(e, actor) {
				flush()
				return false
			}
		}
		return flush()
	}

	// Catch up from the log, up to where the subscription began at least.
	for resume {
		page, err := s.Events.FindEvents(ctx, switchboard.EventFilter{After: cursor, Types: types, Limit: ssePage})
		if err != nil {
			s.logInternal(ctx, err)
			return
		}
		if page.Next == cursor {
			break
		}
		if !send(page.Items) {
			return
		}
		cursor = max(cursor, page.Next)
	}

	keepAlive := time.NewTicker(sseKeepAlive)
	defer keepAlive.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case batch, ok := <-sub.C():
			if !ok {
				// Lagged or stopped: the client reconnects and resumes
				// from its Last-Event-ID.
				if err := sub.Err(); err != nil {
					fmt.Fprintf(&buf, ": %s\n\n", switchboard.ErrorMessage(err))
					flush()
				}
				return
			}
			if !send(batch) {
				return
			}
		case <-keepAlive.C:
			buf.WriteString(": keep-alive\n\n")
			if !flush() {
				return
			}
		}
	}
}

// writeSSE appends one event in the Server-Sent Events format. JSON holds
// no raw newline, so the data fits one line.
func writeSSE(buf *bytes.Buffer, e *switchboard.Event) {
	data, err := json.Marshal(newEventJSON(e))
	if err != nil {
		return
	}
	fmt.Fprintf(buf, "id: %d\nevent: %s\ndata: %s\n\n", e.Position, e.Type, data)
}

// typeMatches applies a stream's type filter, as the log's reader does.
func typeMatches(types []string, t string) bool {
	if len(types) == 0 {
		return true
	}
	for _, want := range types {
		if want == t || (strings.HasSuffix(want, ".") && strings.HasPrefix(t, want)) {
			return true
		}
	}
	return false
}

// endsCredentials reports whether e may end what let the actor open the
// stream: their user changed (disabled, demoted, new password), their
// token revoked, their agent retired. The stream then ends, and the
// client's reconnection is authenticated afresh.
func endsCredentials(e *switchboard.Event, actor *switchboard.Actor) bool {
	switch {
	case actor == nil:
		return true
	case e.Type == switchboard.AuditTokenRevoked && actor.TokenID != "" && e.Subject.ID == actor.TokenID:
		return true
	case e.Subject.Type == "user" && actor.User != nil && e.Subject.ID == actor.User.ID &&
		(e.Type == switchboard.AuditUserUpdated || e.Type == switchboard.AuditUserPasswordChanged || e.Type == switchboard.AuditPasswordReset):
		return true
	case e.Type == switchboard.AuditAgentStatusChanged && actor.Agent != nil && e.Subject.ID == actor.Agent.ID:
		return true
	}
	return false
}

var reflectEventPage = reflect.TypeFor[EventPageJSON]()
