package server_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
)

// TestBrowserFormErrors: an agent edit with four mistakes comes back with
// four messages, each beside its field, which is marked invalid, tells
// assistive technology where its message is, and shows the error border.
func TestBrowserFormErrors(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite)
	ts.setUp(t)
	a, _, err := sqlstore.NewAgentService(ts.db).CreateAgent(systemCtx(), switchboard.NewAgent{Name: "router-7", Kind: "machine"})
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowserSession(t, ts.URL)
	b.signIn(t, "admin@example.com")

	b.do(t,
		chromedp.Navigate(ts.URL+"/agents/"+a.ID+"/edit"),
		chromedp.WaitVisible(chromedp.ID("f-name")),
	)
	// Type the mistakes as a person would, over what the fields hold.
	for field, value := range map[string]string{"name": "", "phone": "12", "skills": "linux", "capacity": "0"} {
		b.do(t, chromedp.Evaluate[chromedp.Void](`document.getElementById("f-`+field+`").select()`))
		if value == "" {
			b.do(t, chromedp.SendKeys(chromedp.ID("f-"+field), "\b"))
		} else {
			b.do(t, chromedp.SendKeys(chromedp.ID("f-"+field), value))
		}
	}
	b.do(t,
		chromedp.Submit(chromedp.CSS("main form")),
		chromedp.WaitVisible(chromedp.CSS(".error-summary")),
	)

	// For each field: its state, the text of what describes it, and its
	// border colour.
	type fieldState struct {
		Invalid     string `json:"invalid"`
		DescribedBy string `json:"describedBy"`
		Message     string `json:"message"`
		Border      string `json:"border"`
		Width       string `json:"width"`
	}
	js := `JSON.stringify(Object.fromEntries(["name", "phone", "skills", "capacity"].map(name => {
		const el = document.getElementById("f-" + name);
		const ids = (el.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
		const message = ids.map(id => document.getElementById(id)).filter(e => e && e.classList.contains("field-error")).map(e => e.textContent.trim()).join(" ");
		const style = getComputedStyle(el);
		return [name, {invalid: el.getAttribute("aria-invalid") || "", describedBy: ids.join(" "), message, border: style.borderTopColor, width: style.borderTopWidth}];
	})))`
	raw, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]fieldState
	if err := json.Unmarshal([]byte(raw), &fields); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	danger := "rgb(180, 35, 24)" // --danger in the light scheme, #b42318
	for name, want := range map[string]string{
		"name":     "Name is required",
		"phone":    "E.164",
		"skills":   "Write each skill as name:level",
		"capacity": "Capacity is the number of tasks",
	} {
		f := fields[name]
		if f.Invalid != "true" {
			t.Errorf("%s: aria-invalid = %q, want true", name, f.Invalid)
		}
		if !strings.Contains(f.Message, want) {
			t.Errorf("%s: described by %q saying %q, want a message with %q", name, f.DescribedBy, f.Message, want)
		}
		if f.Border != danger || f.Width != "2px" {
			t.Errorf("%s: border %s %s, want 2px %s", name, f.Width, f.Border, danger)
		}
	}
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("main .field-error").length`))
	if err != nil || n != 4 {
		t.Errorf("%d messages beside fields (%v), want 4", n, err)
	}
	items, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll(".error-summary li").length`))
	if err != nil || items != 4 {
		t.Errorf("%d problems in the summary (%v), want 4", items, err)
	}

	// Where the menu is always shown, its toggle is no tab stop.
	display, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`getComputedStyle(document.getElementById("nav-toggle")).display`))
	if err != nil || display != "none" {
		t.Errorf("menu toggle on a wide screen: display %q (%v), want none", display, err)
	}

	time.Sleep(200 * time.Millisecond) // let the last console messages arrive
	for _, p := range b.problems() {
		if strings.Contains(p, "status of 422") {
			continue // the answer to the form, as it should be
		}
		t.Errorf("browser console: %s", p)
	}
}
