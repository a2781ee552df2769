package switchboard_test

import (
	"os"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/switchboardhq/switchboard"
)

// TestValidatePassword: long enough is not enough when the password is one
// attackers try first; anything else long enough is fine, with no rules on
// what it is made of.
func TestValidatePassword(t *testing.T) {
	for _, tc := range []struct {
		password string
		want     string // part of the message; "" for accepted
	}{
		{"correct horse battery", ""},
		{"twelve chars!", ""},
		{"mot de passe très long", ""},
		{"Tr0ub4dor&3x", ""},
		{"abcdefghijkx", ""},
		{"short", "at least 12 characters"},
		{strings.Repeat("x", switchboard.MaxPasswordLength+1), "at most 256 characters"},
		{strings.Repeat(" ", 12), "only spaces"},
		{" \t  \t  \t   \u00a0", "only spaces"},
		{strings.Repeat("a", 12), "one character repeated"},
		{strings.Repeat("é", 13), "one character repeated"},
		{strings.Repeat("ab", 6), "a few characters repeated"},
		{strings.Repeat("abc", 5), "a few characters repeated"},
		{strings.Repeat("abcd", 3), "a few characters repeated"},
		{"abcdefghijklm", "run of consecutive characters"},
		{"123456789012", "too common"},
		{"zyxwvutsrqpo", "run of consecutive characters"},
		{"qwertyuiopasdfgh", "too common"},
		{"QwertyuiopASDFGH", "too common"},
		{"password1234", "too common"},
		{"Password1234", "too common"},
		{"1qaz2wsx3edc", "too common"},
		{"iloveyou1234", "too common"},
	} {
		var v switchboard.Validation
		switchboard.ValidatePassword(&v, "password", tc.password)
		fields := switchboard.ErrorFields(v.Err())
		switch {
		case tc.want == "" && len(fields) > 0:
			t.Errorf("%q refused: %v", tc.password, fields)
		case tc.want != "" && (len(fields) != 1 || fields[0].Field != "password" || !strings.Contains(fields[0].Message, tc.want)):
			t.Errorf("%q: got %v, want one error on password saying %q", tc.password, fields, tc.want)
		}
	}
}

// The embedded list is what IsCommonPassword's binary search needs: lower
// case, sorted in byte order, without repeats; and it holds only what the
// length rule lets through, since anything shorter is refused anyway.
func TestCommonPasswordList(t *testing.T) {
	b, err := os.ReadFile("commonpasswords.txt")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) < 10_000 {
		t.Errorf("%d passwords, want a list of at least ten thousand", len(lines))
	}
	for i, p := range lines {
		if p != strings.ToLower(p) || utf8.RuneCountInString(p) < switchboard.MinPasswordLength || strings.TrimSpace(p) != p {
			t.Errorf("line %d: %q is not a lower-case password of at least %d characters", i+1, p, switchboard.MinPasswordLength)
		}
		if i > 0 && lines[i-1] >= p {
			t.Fatalf("line %d: %q does not sort after %q", i+1, p, lines[i-1])
		}
	}
	if !slices.ContainsFunc(lines[:1], switchboard.IsCommonPassword) || !switchboard.IsCommonPassword(lines[len(lines)-1]) {
		t.Error("the first or last entry is not found")
	}
}
