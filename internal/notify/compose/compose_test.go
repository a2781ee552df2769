package compose_test

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/notify/compose"
)

func TestComposer(t *testing.T) {
	base, _ := url.Parse("https://switchboard.example.com")
	c := compose.New(base)
	expires := time.Date(2026, 3, 8, 9, 0, 0, 0, time.UTC)
	t.Run("Invitation", func(t *testing.T) {
		inv := &switchboard.Invitation{Kind: switchboard.KindInvitation, UserID: "u1", Email: "ada@example.com", Name: "Ada <Lovelace>", ExpiresAt: expires, Secret: "sbi_secret"}
		n, err := c.Invitation(inv)
		if err != nil {
			t.Fatal(err)
		}
		link := "https://switchboard.example.com/invite/sbi_secret"
		if n.Channel != switchboard.ChannelEmail || n.Recipient != "ada@example.com" || n.Subject != "You are invited to Switchboard" {
			t.Errorf("got %s to %s %q", n.Channel, n.Recipient, n.Subject)
		}
		if !strings.Contains(n.Text, link) || !strings.Contains(n.HTML, `href="`+link+`"`) {
			t.Errorf("bodies lack the link %s:\n%s\n%s", link, n.Text, n.HTML)
		}
		if !strings.Contains(n.HTML, "Ada &lt;Lovelace&gt;") || strings.Contains(n.HTML, "<Lovelace>") {
			t.Errorf("HTML body does not escape the name:\n%s", n.HTML)
		}
	})
	t.Run("PasswordReset", func(t *testing.T) {
		inv := &switchboard.Invitation{Kind: switchboard.KindPasswordReset, Email: "ada@example.com", ExpiresAt: expires, Secret: "sbr_secret"}
		n, err := c.Invitation(inv)
		if err != nil {
			t.Fatal(err)
		}
		if n.Subject != "Reset your Switchboard password" || !strings.Contains(n.Text, "https://switchboard.example.com/reset/sbr_secret") {
			t.Errorf("got %q:\n%s", n.Subject, n.Text)
		}
	})
	t.Run("NoBaseURL", func(t *testing.T) {
		n, err := compose.New(nil).Invitation(&switchboard.Invitation{Email: "ada@example.com", Secret: "sbi_x"})
		if n != nil || err != nil {
			t.Errorf("got %v, %v; want no message", n, err)
		}
	})
}

func offerAlert(ch switchboard.Channel, recipient string) *switchboard.Alert {
	expires := time.Date(2026, 3, 8, 9, 5, 0, 0, time.UTC)
	return &switchboard.Alert{Kind: switchboard.NotifyTaskOffered, Channel: ch, Recipient: recipient, Name: "Ada <Lovelace>",
		Event:  &switchboard.Event{Type: switchboard.AuditTaskOffered, Data: map[string]any{"expires_at": expires}},
		TaskID: "t1", TaskTitle: "Call <Mrs> Smith back about the order that never arrived, twice, in the rain, again and again"}
}

func TestComposer_Alert(t *testing.T) {
	base, _ := url.Parse("https://switchboard.example.com")
	c := compose.New(base)
	t.Run("Email", func(t *testing.T) {
		n, err := c.Alert(offerAlert(switchboard.ChannelEmail, "ada@example.com"))
		if err != nil {
			t.Fatal(err)
		}
		if n.Channel != switchboard.ChannelEmail || n.Recipient != "ada@example.com" || !strings.HasPrefix(n.Subject, "Task offered to you: Call <Mrs> Smith") {
			t.Errorf("got %s to %s %q", n.Channel, n.Recipient, n.Subject)
		}
		link := "https://switchboard.example.com/my-work"
		if !strings.Contains(n.Text, link) || !strings.Contains(n.HTML, `href="`+link+`"`) || !strings.Contains(n.Text, "09:05 UTC") {
			t.Errorf("bodies lack the link %s or the deadline:\n%s\n%s", link, n.Text, n.HTML)
		}
		if !strings.Contains(n.HTML, "Call &lt;Mrs&gt; Smith") {
			t.Errorf("HTML body does not escape the title:\n%s", n.HTML)
		}
	})
	t.Run("SMS", func(t *testing.T) {
		n, err := c.Alert(offerAlert(switchboard.ChannelSMS, "+15550001111"))
		if err != nil {
			t.Fatal(err)
		}
		if utf8.RuneCountInString(n.Text) > 160 || !strings.Contains(n.Text, "https://switchboard.example.com/my-work") {
			t.Errorf("SMS of %d characters: %q", utf8.RuneCountInString(n.Text), n.Text)
		}
	})
	t.Run("InApp", func(t *testing.T) {
		n, err := c.Alert(offerAlert(switchboard.ChannelInApp, "u1"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(n.Subject, "Task offered: Call <Mrs>") || n.Link != "/my-work" || n.HTML != "" || strings.Contains(n.Text, "https://") {
			t.Errorf("got subject %q, link %q, text %q", n.Subject, n.Link, n.Text)
		}
	})
	t.Run("EveryKindAndChannel", func(t *testing.T) {
		for _, kind := range switchboard.NotificationKinds {
			for _, ch := range switchboard.AgentChannels {
				a := &switchboard.Alert{Kind: kind, Channel: ch, Recipient: "x", Name: "Ada", TaskID: "t1", TaskTitle: "Refund",
					QueueID: "q1", QueueName: "Billing", AgentID: "a1", AgentName: "Bot 7",
					Event: &switchboard.Event{Data: map[string]any{"offers": 3, "sla_target_seconds": 300, "waiting_seconds": 3900}}}
				n, err := c.Alert(a)
				if err != nil {
					t.Fatalf("%s %s: %v", kind, ch, err)
				}
				if n.Subject == "" || strings.TrimSpace(n.Text) == "" || n.Link != a.Path() {
					t.Errorf("%s %s: subject %q, text %q, link %q", kind, ch, n.Subject, n.Text, n.Link)
				}
			}
		}
	})
	t.Run("NoBaseURL", func(t *testing.T) {
		// Messages still go, without absolute links.
		n, err := compose.New(nil).Alert(offerAlert(switchboard.ChannelEmail, "ada@example.com"))
		if err != nil || n == nil {
			t.Fatalf("got %v, %v", n, err)
		}
		if strings.Contains(n.Text, "http") || strings.Contains(n.HTML, "href") {
			t.Errorf("bodies have a link without a public address:\n%s\n%s", n.Text, n.HTML)
		}
	})
}

func TestLoad_Overrides(t *testing.T) {
	write := func(t *testing.T, files map[string]string) string {
		dir := t.TempDir()
		for name, src := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	t.Run("OK", func(t *testing.T) {
		dir := write(t, map[string]string{"task_offered.sms.txt": "New task: {{.TaskTitle}}",
			"task_offered.txt": `{{define "task_offered.subject"}}Work for you{{end}}Take it.`})
		c, err := compose.Load(nil, dir)
		if err != nil {
			t.Fatal(err)
		}
		sms, _ := c.Alert(offerAlert(switchboard.ChannelSMS, "+15550001111"))
		mail, _ := c.Alert(offerAlert(switchboard.ChannelEmail, "ada@example.com"))
		if !strings.HasPrefix(sms.Text, "New task: Call") || mail.Subject != "Work for you" || mail.Text != "Take it." {
			t.Errorf("got SMS %q, e-mail %q %q", sms.Text, mail.Subject, mail.Text)
		}
		// The others keep their defaults.
		n, _ := c.Alert(&switchboard.Alert{Kind: switchboard.NotifyAgentOffline, Channel: switchboard.ChannelInApp, AgentName: "Bot"})
		if n.Subject != "Agent offline: Bot" {
			t.Errorf("default subject %q", n.Subject)
		}
	})
	for name, files := range map[string]map[string]string{
		"ErrUnknownFile": {"task_lost.txt": "hello"},
		"ErrSyntax":      {"task_offered.sms.txt": "{{.TaskTitle"},
		"ErrNoSuchField": {"agent_offline.inapp.txt": `{{define "agent_offline.inapp.subject"}}x{{end}}{{.Nonsense}}`},
	} {
		t.Run(name, func(t *testing.T) {
			dir := write(t, files)
			_, err := compose.Load(nil, dir)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			if name != "ErrNoSuchField" && !strings.Contains(err.Error(), dir) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
	if _, err := compose.Load(nil, filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Load of a missing directory succeeded")
	}
}
