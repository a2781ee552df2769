package server

import (
	"context"
	"time"

	"github.com/switchboardhq/switchboard"
)

// WebhookJSON is a webhook endpoint as the API shows it. Its secret is
// there only in the answer that made it.
type WebhookJSON struct {
	ID          string    `json:"id"`
	URL         string    `json:"url" example:"https://tickets.example.com/switchboard"`
	Events      []string  `json:"events" nullable:"false" example:"[\"task.*\",\"agent.status_changed\"]"`
	Active      bool      `json:"active"`
	Description string    `json:"description"`
	Secret      string    `json:"secret,omitempty" doc:"The signing secret: only in the answer to a create, or to an update that changed it."`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func newWebhookJSON(w *switchboard.Webhook) WebhookJSON {
	return WebhookJSON{ID: w.ID, URL: w.URL, Events: w.Events, Active: w.Active, Description: w.Description,
		Secret: w.Secret, CreatedAt: w.CreatedAt.UTC(), UpdatedAt: w.UpdatedAt.UTC()}
}

type listWebhooksOutput struct {
	Body ListBody[WebhookJSON]
}

func (s *Server) apiListWebhooks(ctx context.Context, in *ListQuery) (*listWebhooksOutput, error) {
	p, err := s.Webhooks.FindWebhooks(ctx, switchboard.WebhookFilter{Limit: in.Limit, Cursor: in.Cursor})
	if err != nil {
		return nil, err
	}
	return &listWebhooksOutput{Body: listBody(p, newWebhookJSON)}, nil
}

type createWebhookInput struct {
	Body struct {
		URL         string   `json:"url" maxLength:"500" example:"https://tickets.example.com/switchboard"`
		Events      []string `json:"events" maxItems:"100" doc:"Event types (task.created), families (task.*: every type that starts with task.) or * for every type."`
		Secret      string   `json:"secret,omitempty" maxLength:"200" doc:"16 to 200 printable ASCII characters; without it a random secret is made."`
		Active      *bool    `json:"active,omitempty" doc:"Whether it receives events; true when left out."`
		Description string   `json:"description,omitempty" maxLength:"500"`
	}
}

type webhookOutput struct {
	ETag string `header:"ETag"`
	Body WebhookJSON
}

type createdWebhookOutput struct {
	Location string `header:"Location"`
	ETag     string `header:"ETag"`
	Body     WebhookJSON
}

func (s *Server) apiCreateWebhook(ctx context.Context, in *createWebhookInput) (*createdWebhookOutput, error) {
	active := in.Body.Active == nil || *in.Body.Active
	w, err := s.Webhooks.CreateWebhook(ctx, switchboard.NewWebhook{URL: in.Body.URL, Events: in.Body.Events, Secret: in.Body.Secret,
		Active: active, Description: in.Body.Description})
	if err != nil {
		return nil, err
	}
	return &createdWebhookOutput{Location: "/api/v1/webhooks/" + w.ID, ETag: etag(w.Version), Body: newWebhookJSON(w)}, nil
}

type webhookIDInput struct {
	ID string `path:"id" maxLength:"64"`
}

func (s *Server) apiGetWebhook(ctx context.Context, in *webhookIDInput) (*webhookOutput, error) {
	w, err := s.Webhooks.FindWebhookByID(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return &webhookOutput{ETag: etag(w.Version), Body: newWebhookJSON(w)}, nil
}

type updateWebhookInput struct {
	ID      string `path:"id" maxLength:"64"`
	IfMatch string `header:"If-Match" doc:"The ETag from a previous read; 412 if the webhook changed since."`
	Body    struct {
		URL          *string   `json:"url,omitempty" maxLength:"500"`
		Events       *[]string `json:"events,omitempty" maxItems:"100" doc:"Replaces the list. Event types (task.created), families (task.*) or *."`
		Active       *bool     `json:"active,omitempty"`
		Description  *string   `json:"description,omitempty" maxLength:"500"`
		Secret       *string   `json:"secret,omitempty" maxLength:"200" doc:"A new secret; the answer shows it."`
		RotateSecret bool      `json:"rotate_secret,omitempty" doc:"Make a new random secret; the answer shows it."`
	}
}

func (s *Server) apiUpdateWebhook(ctx context.Context, in *updateWebhookInput) (*webhookOutput, error) {
	w, err := s.Webhooks.UpdateWebhook(ctx, in.ID, switchboard.WebhookUpdate{URL: in.Body.URL, Events: in.Body.Events,
		Active: in.Body.Active, Description: in.Body.Description, Secret: in.Body.Secret, RotateSecret: in.Body.RotateSecret,
		IfVersion: ifMatchVersion(in.IfMatch)})
	if err != nil {
		return nil, err
	}
	return &webhookOutput{ETag: etag(w.Version), Body: newWebhookJSON(w)}, nil
}

func (s *Server) apiDeleteWebhook(ctx context.Context, in *webhookIDInput) (*struct{}, error) {
	return &struct{}{}, s.Webhooks.DeleteWebhook(ctx, in.ID)
}

type testWebhookOutput struct {
	Body NotificationJSON
}

func (s *Server) apiTestWebhook(ctx context.Context, in *webhookIDInput) (*testWebhookOutput, error) {
	n, err := s.Webhooks.TestWebhook(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return &testWebhookOutput{Body: newNotificationJSON(n)}, nil
}
