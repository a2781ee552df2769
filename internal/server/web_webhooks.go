package server

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/switchboardhq/switchboard"
)

// webhookDeliveriesShown is how many recent deliveries an endpoint's page
// lists.
const webhookDeliveriesShown = 20

type webhooksData struct {
	Page   *switchboard.Page[*switchboard.Webhook]
	Cursor string
}

func (s *Server) webWebhooks(w http.ResponseWriter, r *http.Request) {
	cursor := r.URL.Query().Get("cursor")
	p, cursor, err := findFromCursor(cursor, func(cursor string) (*switchboard.Page[*switchboard.Webhook], error) {
		return s.Webhooks.FindWebhooks(r.Context(), switchboard.WebhookFilter{Cursor: cursor})
	})
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "webhooks", page{Title: "Webhooks", Section: "webhooks", Data: &webhooksData{Page: p, Cursor: cursor}})
}

// webhookFormData is what the new and edit forms read besides the form.
type webhookFormData struct {
	EventTypes []string
}

func (s *Server) webNewWebhook(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "webhook_new", page{Title: "New webhook", Section: "webhooks",
		Form: newForm(url.Values{"active": {"on"}}), Data: &webhookFormData{EventTypes: switchboard.WebhookEventTypes()}})
}

// formEvents reads the events field: types separated by commas, spaces or
// lines.
func formEvents(f *form) []string {
	return strings.FieldsFunc(f.Get("events"), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

// webhookFields are the fields of the webhook forms, in page order.
var webhookFields = []string{"url", "events", "description", "secret", "active"}

func (s *Server) webCreateWebhook(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	hook, err := s.Webhooks.CreateWebhook(r.Context(), switchboard.NewWebhook{URL: f.Get("url"), Events: formEvents(f),
		Secret: strings.TrimSpace(f.Get("secret")), Active: f.Get("active") != "", Description: f.Get("description")})
	if err != nil {
		status := s.fail(r, f, err)
		f.sortErrors(webhookFields...)
		// The secret is not sent back: it would sit in the page.
		f.Values.Del("secret")
		s.render(w, r, status, "webhook_new", page{Title: "New webhook", Section: "webhooks", Form: f,
			Data: &webhookFormData{EventTypes: switchboard.WebhookEventTypes()}})
		return
	}
	s.setFlash(r, "success", "The webhook has been created.")
	s.revealSecret(w, r, hook, "")
}

// revealSecret redirects to the webhook's page, which shows its new secret
// once: reloading that page makes no other secret.
// With place, the secret shows in that part of the page, where the action
// was.
func (s *Server) revealSecret(w http.ResponseWriter, r *http.Request, hook *switchboard.Webhook, place string) {
	fragment := ""
	if place != "" {
		fragment = "#" + place
	}
	target, err := s.stashReveal(r, "/webhooks/"+hook.ID, fragment, &webhookReveal{Secret: hook.Secret, Place: place})
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	seeOther(w, r, target)
}

type webhookReveal struct {
	Secret string `json:"secret"`
	Place  string `json:"place,omitempty"`
}

type webhookData struct {
	Webhook    *switchboard.Webhook
	EventTypes []string
	// Secret is set right after it was made: the only time it is shown.
	Secret     webhookReveal
	Deliveries []*switchboard.Notification
}

// webhookForm is the edit form filled in with the endpoint as it is.
func webhookForm(hook *switchboard.Webhook) *form {
	f := newForm(url.Values{"url": {hook.URL}, "events": {strings.Join(hook.Events, ", ")}, "description": {hook.Description},
		"version": {strconv.Itoa(hook.Version)}})
	if hook.Active {
		f.Values.Set("active", "on")
	}
	return f
}

func (s *Server) webWebhook(w http.ResponseWriter, r *http.Request) {
	hook, err := s.Webhooks.FindWebhookByID(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		s.loadFailed(w, r, err)
		return
	}
	var secret webhookReveal
	s.takeReveal(r, &secret)
	s.renderWebhook(w, r, http.StatusOK, hook, webhookForm(hook), secret)
}

func (s *Server) renderWebhook(w http.ResponseWriter, r *http.Request, status int, hook *switchboard.Webhook, f *form, secret webhookReveal) {
	deliveries, err := s.Notifications.FindNotifications(r.Context(), switchboard.NotificationFilter{WebhookID: hook.ID, Limit: webhookDeliveriesShown})
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.render(w, r, status, "webhook", page{Title: hook.URL, Section: "webhooks", Form: f, Data: &webhookData{
		Webhook: hook, EventTypes: switchboard.WebhookEventTypes(), Secret: secret, Deliveries: deliveries.Items}})
}

func (s *Server) webUpdateWebhook(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	id := chi.URLParam(r, "id")
	rawURL, description, events, active := f.Get("url"), f.Get("description"), formEvents(f), f.Get("active") != ""
	hook, err := s.Webhooks.UpdateWebhook(ctx, id, switchboard.WebhookUpdate{URL: &rawURL, Events: &events, Description: &description,
		Active: &active, IfVersion: f.Version()})
	if err != nil {
		current, ferr := s.Webhooks.FindWebhookByID(ctx, id)
		if ferr != nil {
			s.loadFailed(w, r, ferr)
			return
		}
		status := s.fail(r, f, err)
		f.sortErrors(webhookFields...)
		if switchboard.ErrorCode(err) == switchboard.EPRECONDITION {
			f = webhookForm(current)
			f.Summary = "Someone else changed this webhook while you were editing. The page now shows their version; make your change again."
		}
		s.renderWebhook(w, r, status, current, f, webhookReveal{})
		return
	}
	s.setFlash(r, "success", "Changes to the webhook have been saved.")
	seeOther(w, r, "/webhooks/"+hook.ID)
}

// confirmWebhookChange reports whether the change f asks of the endpoint
// in the path was confirmed; if not, it has answered with the question c
// (or a 404 for an endpoint the actor may not see). A Cancel that is a
// fragment, like "#secret", is a part of the endpoint's page.
func (s *Server) confirmWebhookChange(w http.ResponseWriter, r *http.Request, f *form, c confirmation) bool {
	id := chi.URLParam(r, "id")
	if _, err := s.Webhooks.FindWebhookByID(r.Context(), id); err != nil {
		s.loadFailed(w, r, err)
		return false
	}
	c.Cancel, c.Section = "/webhooks/"+id+c.Cancel, "webhooks"
	return s.confirmed(w, r, f, c)
}

// webhookAction runs a button's change of an endpoint and says how it
// went on the endpoint's page.
// With place, the message shows in that part of the page.
func (s *Server) webhookAction(w http.ResponseWriter, r *http.Request, place string, ask func(*form) *confirmation, do func(id string) (string, error)) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	id := chi.URLParam(r, "id")
	if c := ask(f); c != nil && !s.confirmWebhookChange(w, r, f, *c) {
		return
	}
	done, err := do(id)
	switch switchboard.ErrorCode(err) {
	case "":
		s.setFlashAt(r, "success", place, done)
	case switchboard.ENOTFOUND:
		s.notFound(w, r)
		return
	case switchboard.EFORBIDDEN:
		s.renderError(w, r, http.StatusForbidden, switchboard.ErrorMessage(err))
		return
	case switchboard.EINVALID, switchboard.ECONFLICT, switchboard.EPRECONDITION:
		s.setFlashAt(r, "error", place, switchboard.ErrorMessage(err))
	default:
		s.internalError(w, r, err)
		return
	}
	if place != "" {
		id += "#" + place
	}
	seeOther(w, r, "/webhooks/"+id)
}

func (s *Server) webSetWebhookActive(w http.ResponseWriter, r *http.Request) {
	ask := func(f *form) *confirmation {
		if f.Get("active") == "true" {
			return nil
		}
		return &confirmation{Title: "Deactivate this webhook?", Question: "Deactivate this webhook? It receives no events until it " +
			"is activated again, and deliveries still waiting are given up.", Button: "Deactivate", Danger: true}
	}
	s.webhookAction(w, r, "", ask, func(id string) (string, error) {
		active := r.PostForm.Get("active") == "true"
		_, err := s.Webhooks.UpdateWebhook(r.Context(), id, switchboard.WebhookUpdate{Active: &active})
		if active {
			return "The webhook is active: it receives the events it subscribes to from now on.", err
		}
		return "The webhook is inactive: it receives no events, and deliveries still waiting are given up.", err
	})
}

func (s *Server) webTestWebhook(w http.ResponseWriter, r *http.Request) {
	s.webhookAction(w, r, "deliveries", func(*form) *confirmation { return nil }, func(id string) (string, error) {
		_, err := s.Webhooks.TestWebhook(r.Context(), id)
		return "A webhook.test event is on its way; its delivery is listed below.", err
	})
}

func (s *Server) webRotateWebhookSecret(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	if !s.confirmWebhookChange(w, r, f, confirmation{Title: "Make a new secret?", Question: "Make a new secret for this webhook? Deliveries " +
		"are signed with it at once, retries too: the receiver must switch to it.", Button: "Make a new secret", Danger: true,
		Cancel: "#secret"}) {
		return
	}
	hook, err := s.Webhooks.UpdateWebhook(r.Context(), chi.URLParam(r, "id"), switchboard.WebhookUpdate{RotateSecret: true})
	if err != nil {
		s.loadFailed(w, r, err)
		return
	}
	s.setFlashAt(r, "success", "secret", "The webhook has a new secret; deliveries are signed with it from now on.")
	s.revealSecret(w, r, hook, "secret")
}

func (s *Server) webDeleteWebhook(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r)
	if !ok {
		return
	}
	if !s.confirmWebhookChange(w, r, f, confirmation{Title: "Delete this webhook?", Question: "Delete this webhook? It receives no more " +
		"events; its deliveries stay in the delivery log, and those still waiting are given up. This cannot be undone.",
		Button: "Delete the webhook", Danger: true}) {
		return
	}
	if err := s.Webhooks.DeleteWebhook(r.Context(), chi.URLParam(r, "id")); err != nil {
		s.loadFailed(w, r, err)
		return
	}
	s.setFlash(r, "success", "The webhook has been deleted. Its deliveries stay in the delivery log.")
	seeOther(w, r, "/webhooks")
}
