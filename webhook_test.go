package switchboard_test

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/switchboardhq/switchboard"
)

func TestMatchWebhookEvents(t *testing.T) {
	for _, tc := range []struct {
		patterns []string
		event    string
		want     bool
	}{
		{[]string{"*"}, "task.created", true},
		{[]string{"task.*"}, "task.created", true},
		{[]string{"task.*"}, "tasks.created", false},
		{[]string{"task.created"}, "task.created", true},
		{[]string{"task.created"}, "task.assigned", false},
		{[]string{"agent.*", "task.created"}, "task.created", true},
		// Never the outbox's own events, nor a ping to another endpoint.
		{[]string{"*"}, "notification.retried", false},
		{[]string{"*"}, switchboard.EventWebhookTest, false},
		{[]string{"webhook.*"}, switchboard.EventWebhookTest, false},
		// Nor the changes of endpoints, whose URLs may hold credentials.
		{[]string{"*"}, "webhook.created", false},
	} {
		if got := switchboard.MatchWebhookEvents(tc.patterns, tc.event); got != tc.want {
			t.Errorf("MatchWebhookEvents(%v, %s) = %v, want %v", tc.patterns, tc.event, got, tc.want)
		}
	}
}

func TestWebhookEventTypes(t *testing.T) {
	types := switchboard.WebhookEventTypes()
	for _, want := range []string{"task.created", "agent.presence_changed", "auth.signed_in"} {
		if !slices.Contains(types, want) {
			t.Errorf("WebhookEventTypes lacks %s", want)
		}
	}
	for _, never := range []string{"notification.retried", "webhook.test", "webhook.deleted"} {
		if slices.Contains(types, never) {
			t.Errorf("WebhookEventTypes offers %s", never)
		}
	}
	if !slices.IsSorted(types) {
		t.Error("WebhookEventTypes is not sorted")
	}
}

func TestPrivateAddress(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1": true, "10.0.0.1": true, "169.254.169.254": true, "100.64.1.1": true, "::1": true, "fd12::1": true,
		"::ffff:1.2.3.4": true, "fe80::1%eth0": true, "239.1.1.1": true,
		"1.2.3.4": false, "2a00:1450::1": false,
	} {
		if got := switchboard.PrivateAddress(netip.MustParseAddr(addr)); got != want {
			t.Errorf("PrivateAddress(%s) = %v, want %v", addr, got, want)
		}
	}
}
