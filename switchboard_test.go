package switchboard_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/switchboardhq/switchboard"
)

func TestErrorHelpers(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", &switchboard.Error{Code: switchboard.ECONFLICT, Message: "Taken."})
	if switchboard.ErrorCode(err) != switchboard.ECONFLICT || switchboard.ErrorMessage(err) != "Taken." {
		t.Errorf("code %q message %q", switchboard.ErrorCode(err), switchboard.ErrorMessage(err))
	}
	plain := errors.New("connection refused to 10.0.0.5")
	if switchboard.ErrorCode(plain) != switchboard.EINTERNAL || strings.Contains(switchboard.ErrorMessage(plain), "10.0.0.5") {
		t.Errorf("internal error leaks: %q", switchboard.ErrorMessage(plain))
	}
	if switchboard.ErrorCode(nil) != "" {
		t.Error("nil has a code")
	}
}

func TestNewUserValidate(t *testing.T) {
	for _, tc := range []struct {
		email string
		ok    bool
	}{
		{"ada@example.com", true}, {"ada.lovelace+ops@mail.example.org", true},
		{"", false}, {"ada", false}, {"ada@localhost", false}, {"Ada <ada@example.com>", false}, {"a@b@example.com", false},
		{strings.Repeat("a", 250) + "@example.com", false},
	} {
		u := switchboard.NewUser{Email: tc.email, Name: "Ada", Role: switchboard.RoleAgent, Password: "twelve chars!"}
		u.Normalize()
		err := u.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("email %q: err %v, want ok=%v", tc.email, err, tc.ok)
		}
	}
	u := switchboard.NewUser{Name: "Bad\x00Name", Role: "x", Password: strings.Repeat("p", 257)}
	fields := map[string]bool{}
	for _, f := range switchboard.ErrorFields(u.Validate()) {
		fields[f.Field] = true
	}
	if len(fields) != 4 {
		t.Errorf("fields %v, want email, name, role, password", fields)
	}
}

func TestSecrets(t *testing.T) {
	a, b := switchboard.NewSecret(switchboard.PersonalTokenPrefix), switchboard.NewSecret(switchboard.PersonalTokenPrefix)
	if a == b || !strings.HasPrefix(a, "sbp_") || len(a) != 4+52 {
		t.Errorf("secrets %q %q", a, b)
	}
	if p := switchboard.SecretPrefix(a); p != a[:12] {
		t.Errorf("prefix %q", p)
	}
	if h := switchboard.HashSecret("x"); len(h) != 64 || h == switchboard.HashSecret("y") {
		t.Errorf("hash %q", h)
	}
}

func TestParseSkills(t *testing.T) {
	got, err := switchboard.ParseSkills("skills", "Billing:7, spanish:5\nfrench: 3;")
	if err != nil || len(got) != 3 || got["billing"] != 7 || got["french"] != 3 {
		t.Fatalf("got %v, %v", got, err)
	}
	if s := switchboard.FormatSkills(got); s != "billing:7, french:3, spanish:5" {
		t.Errorf("FormatSkills = %q", s)
	}
	_, err = switchboard.ParseSkills("skills", "billing, spanish:x")
	if f := switchboard.ErrorFields(err); len(f) != 2 || f[0].Field != "skills" {
		t.Errorf("errors %v", f)
	}
	if got, err := switchboard.ParseSkills("skills", "  "); err != nil || len(got) != 0 {
		t.Errorf("empty: %v, %v", got, err)
	}
}
