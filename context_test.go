package switchboard_test

import (
	"testing"

	"github.com/switchboardhq/switchboard"
)

// An IPv4 address is a client of its own; an IPv6 address counts as its
// /64, which one subscriber holds whole.
func TestRequestInfoNetwork(t *testing.T) {
	for ip, want := range map[string]string{
		"203.0.113.7":              "203.0.113.7",
		"::ffff:203.0.113.7":       "::ffff:203.0.113.7",
		"2001:db8:1:2::1":          "2001:db8:1:2::/64",
		"2001:db8:1:2:aaaa:bbbb::": "2001:db8:1:2::/64",
		"2001:db8:1:3::1":          "2001:db8:1:3::/64",
		"":                         "",
		"not an address":           "not an address",
	} {
		if got := (switchboard.RequestInfo{IP: ip}).Network(); got != want {
			t.Errorf("Network of %q = %q, want %q", ip, got, want)
		}
	}
}
