package email

import (
	"bytes"
	"embed"
	htmltemplate "html/template"
	"net/url"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/switchboardhq/switchboard"
)

//go:embed templates
var templateFiles embed.FS

// Composer writes the e-mails that changes send, from the embedded
// templates, with links on the server's public address.
type Composer struct {
	// BaseURL is the server's public address; without it no e-mail with a
	// link is written, since a link on whatever address a request came to
	// could send its secret anywhere.
	BaseURL *url.URL

	text *texttemplate.Template
	html *htmltemplate.Template
}

var _ switchboard.Composer = (*Composer)(nil)

// NewComposer parses the templates.
func NewComposer(baseURL *url.URL) *Composer {
	return &Composer{
		BaseURL: baseURL,
		text:    texttemplate.Must(texttemplate.New("").ParseFS(templateFiles, "templates/*.txt")),
		html:    htmltemplate.Must(htmltemplate.New("").ParseFS(templateFiles, "templates/*.html")),
	}
}

// linkData is what a template with a link reads.
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
	origin := c.BaseURL.Scheme + "://" + c.BaseURL.Host
	data := linkData{Name: inv.Name, Origin: origin, Link: origin + inv.Path(),
		Expires: inv.ExpiresAt.UTC().Format(time.RFC1123)}
	if data.Name == "" {
		data.Name = inv.Email
	}
	name := "invitation"
	if inv.IsPasswordReset() {
		name = "password_reset"
	}
	return c.compose(name, inv.Email, data)
}

// compose runs the templates of a message: the subject and the text body
// from name.txt (which defines name.subject), the HTML body from name.html.
func (c *Composer) compose(name, recipient string, data any) (*switchboard.Notification, error) {
	var text, subject, html bytes.Buffer
	t := c.text.Lookup(name + ".txt")
	if err := t.Execute(&text, data); err != nil {
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
