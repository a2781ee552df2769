// Package compose writes the messages that changes send, on every channel,
// from templates: embedded defaults, which an operator may override with
// files of the same names in a directory.
package compose

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode/utf8"

	"github.com/switchboardhq/switchboard"
)

//go:embed templates
var templateFiles embed.FS

// Composer writes the messages of changes from its templates, with links on
// the server's public address.
type Composer struct {
	// BaseURL is the server's public address. Without it no message with
	// a secret link is written, since a link on whatever address a request
	// came to could send its secret anywhere; other messages go without
	// absolute links (in-app ones keep their paths).
	BaseURL *url.URL

	text *texttemplate.Template
	html *htmltemplate.Template
}

var _ switchboard.Composer = (*Composer)(nil)

// New returns a composer with the embedded templates.
func New(baseURL *url.URL) *Composer {
	c, err := Load(baseURL, "")
	if err != nil {
		panic(err) // the embedded templates are checked by the tests
	}
	return c
}

// Load returns a composer with the embedded templates, each replaced by the
// file of the same name in dir when there is one (dir may be empty). Every
// template is parsed and run once on sample data, so that a mistake in an
// override stops the server at start rather than a change later; a file
// in dir that overrides nothing is a mistake too.
func Load(baseURL *url.URL, dir string) (*Composer, error) {
	funcs := texttemplate.FuncMap{"short": short}
	text := texttemplate.New("").Funcs(funcs)
	html := htmltemplate.New("").Funcs(htmltemplate.FuncMap(funcs))
	names, err := fs.Glob(templateFiles, "templates/*")
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, path := range names {
		name := filepath.Base(path)
		known[name] = true
		src, err := fs.ReadFile(templateFiles, path)
		if err != nil {
			return nil, err
		}
		if err := parse(text, html, name, string(src)); err != nil {
			return nil, err
		}
	}
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("templates directory: %w", err)
		}
		for _, e := range entries {
			if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			if !known[e.Name()] {
				return nil, fmt.Errorf("template %s: no such template to override; the templates are %s",
					filepath.Join(dir, e.Name()), strings.Join(slices.Sorted(maps.Keys(known)), ", "))
			}
			src, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				return nil, err
			}
			if err := parse(text, html, e.Name(), string(src)); err != nil {
				return nil, fmt.Errorf("template %s: %w", filepath.Join(dir, e.Name()), err)
			}
		}
	}
	c := &Composer{BaseURL: baseURL, text: text, html: html}
	if err := c.check(); err != nil {
		return nil, err
	}
	return c, nil
}

// parse adds (or replaces) the template of one file: .html files are
// HTML templates, the others text.
func parse(text *texttemplate.Template, html *htmltemplate.Template, name, src string) error {
	if strings.HasSuffix(name, ".html") {
		_, err := html.New(name).Parse(src)
		return err
	}
	_, err := text.New(name).Parse(src)
	return err
}

// check writes every message once, on sample data, so that a template
// that cannot run fails now.
func (c *Composer) check() error {
	expires := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, kind := range []switchboard.InvitationKind{switchboard.KindInvitation, switchboard.KindPasswordReset} {
		inv := &switchboard.Invitation{Kind: kind, Email: "ada@example.com", Name: "Ada", ExpiresAt: expires, Secret: "sample"}
		if _, err := c.invitation(inv, "https://switchboard.example.com"); err != nil {
			return err
		}
	}
	e := &switchboard.Event{Type: "sample", At: expires, Data: map[string]any{"expires_at": expires, "offers": 3,
		"sla_target_seconds": 300, "waiting_seconds": 420}}
	for _, kind := range switchboard.NotificationKinds {
		for _, ch := range switchboard.AgentChannels {
			a := &switchboard.Alert{Kind: kind, Channel: ch, Recipient: "ada@example.com", Name: "Ada", Event: e,
				TaskID: "t1", TaskTitle: "Call back", QueueID: "q1", QueueName: "Support", AgentID: "a1", AgentName: "Bob"}
			for _, origin := range []string{"", "https://switchboard.example.com"} {
				if _, err := c.alert(a, origin); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// origin is the server's public address, or "" when unknown.
func (c *Composer) origin() string {
	if c.BaseURL == nil {
		return ""
	}
	return c.BaseURL.Scheme + "://" + c.BaseURL.Host
}

// linkData is what a template with a secret link reads.
type linkData struct {
	Name    string
	Origin  string // the server's public address
	Link    string
	Expires string
}

// Invitation is the e-mail with an invitation or password reset link.
func (c *Composer) Invitation(inv *switchboard.Invitation) (*switchboard.Notification, error) {
	if c.BaseURL == nil || inv.Secret == "" || inv.Email == "" {
		return nil, nil
	}
	return c.invitation(inv, c.origin())
}

func (c *Composer) invitation(inv *switchboard.Invitation, origin string) (*switchboard.Notification, error) {
	data := linkData{Name: inv.Name, Origin: origin, Link: origin + inv.Path(),
		Expires: inv.ExpiresAt.UTC().Format(time.RFC1123)}
	if data.Name == "" {
		data.Name = inv.Email
	}
	name := "invitation"
	if inv.IsPasswordReset() {
		name = "password_reset"
	}
	return c.email(name, inv.Email, data)
}

// alertData is what the templates of a trigger read.
type alertData struct {
	*switchboard.Alert
	// Origin is the server's public address and URL the page's absolute
	// address: both empty when the address is unknown. Path is the page's
	// path on the server.
	Origin string
	URL    string
	Path   string
	// Expires is when an offer ends; Offers how often the task was
	// offered; Target and Waited the SLA target and the task's wait.
	Expires string
	Offers  int
	Target  string
	Waited  string
}

// maxSMS is the length of one SMS segment; longer messages are cut.
const maxSMS = 160

// Alert writes the message of a trigger on its channel: an e-mail with
// subject, text and HTML; an SMS's text; an in-app subject and text with
// the page's path as its link.
func (c *Composer) Alert(a *switchboard.Alert) (*switchboard.Notification, error) {
	return c.alert(a, c.origin())
}

func (c *Composer) alert(a *switchboard.Alert, origin string) (*switchboard.Notification, error) {
	d := alertData{Alert: a, Origin: origin, Path: a.Path()}
	if origin != "" {
		d.URL = origin + d.Path
	}
	if a.Event != nil {
		if t, ok := a.Event.Data["expires_at"].(time.Time); ok {
			d.Expires = t.UTC().Format("15:04 MST")
		}
		d.Offers = number(a.Event.Data["offers"])
		d.Target = minutes(number(a.Event.Data["sla_target_seconds"]))
		d.Waited = minutes(number(a.Event.Data["waiting_seconds"]))
	}
	name := strings.ReplaceAll(string(a.Kind), ".", "_")
	switch a.Channel {
	case switchboard.ChannelEmail:
		n, err := c.email(name, a.Recipient, d)
		if n != nil {
			n.Link = d.Path
		}
		return n, err
	case switchboard.ChannelSMS:
		var text bytes.Buffer
		if err := c.text.ExecuteTemplate(&text, name+".sms.txt", d); err != nil {
			return nil, err
		}
		body := short(strings.TrimSpace(text.String()), maxSMS)
		return &switchboard.Notification{Channel: a.Channel, Recipient: a.Recipient, Subject: short(body, 60), Text: body, Link: d.Path}, nil
	case switchboard.ChannelInApp:
		var text, subject bytes.Buffer
		if err := c.text.ExecuteTemplate(&text, name+".inapp.txt", d); err != nil {
			return nil, err
		}
		if err := c.text.ExecuteTemplate(&subject, name+".inapp.subject", d); err != nil {
			return nil, err
		}
		return &switchboard.Notification{Channel: a.Channel, Recipient: a.Recipient,
			Subject: strings.TrimSpace(subject.String()), Text: strings.TrimSpace(text.String()), Link: d.Path}, nil
	}
	return nil, fmt.Errorf("no template for channel %q", a.Channel)
}

// number reads an event's number, which is an int in the change that
// records it.
func number(v any) int {
	switch n := v.(type) {
	case int:
		return n
	case int64:
		return int(n)
	case float64:
		return int(n)
	}
	return 0
}

// minutes says a number of seconds for people, to the minute.
func minutes(seconds int) string {
	m := (seconds + 30) / 60
	switch {
	case m < 1:
		return "less than a minute"
	case m < 60:
		return fmt.Sprintf("%d min", m)
	case m%60 == 0:
		return fmt.Sprintf("%d h", m/60)
	}
	return fmt.Sprintf("%d h %d min", m/60, m%60)
}

// short cuts s to at most n characters, ending with "…" when cut.
func short(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}

// email runs the templates of an e-mail: the subject and the text body
// from name.txt (which defines name.subject), the HTML body from name.html.
func (c *Composer) email(name, recipient string, data any) (*switchboard.Notification, error) {
	var text, subject, html bytes.Buffer
	if err := c.text.ExecuteTemplate(&text, name+".txt", data); err != nil {
		return nil, err
	}
	if err := c.text.ExecuteTemplate(&subject, name+".subject", data); err != nil {
		return nil, err
	}
	if err := c.html.ExecuteTemplate(&html, name+".html", data); err != nil {
		return nil, err
	}
	return &switchboard.Notification{Channel: switchboard.ChannelEmail, Recipient: recipient,
		Subject: strings.TrimSpace(subject.String()), Text: text.String(), HTML: html.String()}, nil
}
