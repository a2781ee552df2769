package switchboard

import (
	"fmt"
	"net/mail"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// The checks and normalisers of input fields that the nouns' Normalize and
// Validate methods share. A check adds what is wrong to a Validation rather
// than returning, so that one answer lists every bad field.

// Validation collects field errors while input is checked, so that the caller
// learns about every bad field at once rather than one per attempt.
type Validation struct {
	fields []FieldError
}

// Add records that field is invalid.
func (v *Validation) Add(field, format string, args ...any) {
	v.fields = append(v.fields, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// AddLine records that field is invalid on a line of a file.
func (v *Validation) AddLine(line int, field, format string, args ...any) {
	v.fields = append(v.fields, FieldError{Line: line, Field: field, Message: fmt.Sprintf(format, args...)})
}

// Merge records the errors of err (if it carries fields) on a line.
func (v *Validation) Merge(line int, err error) {
	for _, f := range ErrorFields(err) {
		f.Line = line
		v.fields = append(v.fields, f)
	}
}

// Len returns the number of errors recorded.
func (v *Validation) Len() int { return len(v.fields) }

// Has reports whether field already has an error.
func (v *Validation) Has(field string) bool {
	for _, f := range v.fields {
		if f.Field == field {
			return true
		}
	}
	return false
}

// Err returns an EINVALID error listing every recorded field (by line, for
// errors from a file), or nil.
func (v *Validation) Err() error {
	if len(v.fields) == 0 {
		return nil
	}
	sort.SliceStable(v.fields, func(i, j int) bool { return v.fields[i].Line < v.fields[j].Line })
	msg := v.fields[0].Message
	switch {
	case v.fields[len(v.fields)-1].Line > 0:
		msg = fmt.Sprintf("The file has %d problem(s); nothing was imported.", len(v.fields))
	case len(v.fields) > 1:
		msg = fmt.Sprintf("%d fields are invalid.", len(v.fields))
	}
	return &Error{Code: EINVALID, Message: msg, Fields: v.fields}
}

// PageLimit validates a requested page size, defaulting 0 to DefaultPageLimit.
func PageLimit(v *Validation, limit int) int {
	switch {
	case limit == 0:
		return DefaultPageLimit
	case limit < 0 || limit > MaxPageLimit:
		v.Add("limit", "Limit must be between 1 and %d.", MaxPageLimit)
		return DefaultPageLimit
	}
	return limit
}

// ValidSort reports whether sort is one of allowed.
func ValidSort(v *Validation, sort string, allowed []string) {
	for _, a := range allowed {
		if sort == a {
			return
		}
	}
	v.Add("sort", "Sort must be one of %v.", allowed)
}

// NormalizeEmail trims an e-mail address and lower-cases it; addresses are
// unique regardless of case.
func NormalizeEmail(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

// ValidateEmail checks that email is a plain address (no display name).
func ValidateEmail(v *Validation, field, email string) {
	switch {
	case email == "":
		v.Add(field, "E-mail address is required.")
	case len(email) > MaxEmailLength:
		v.Add(field, "E-mail address must be at most %d characters.", MaxEmailLength)
	default:
		addr, err := mail.ParseAddress(email)
		if err != nil || addr.Address != email || !strings.Contains(email[strings.LastIndexByte(email, '@')+1:], ".") {
			v.Add(field, "Enter a valid e-mail address, like name@example.com.")
		}
	}
}

// ValidateName checks a display name.
func ValidateName(v *Validation, field, name string) {
	switch {
	case name == "":
		v.Add(field, "Name is required.")
	case utf8.RuneCountInString(name) > MaxNameLength:
		v.Add(field, "Name must be at most %d characters.", MaxNameLength)
	case strings.ContainsFunc(name, isControl):
		v.Add(field, "Name must not contain control characters.")
	case strings.ContainsFunc(name, isBidiControl):
		v.Add(field, bidiMessage)
	}
}

// ValidatePassword checks a new password's length, and that it is not one
// attackers try first (see weakPassword). Length is what makes a password
// strong; composition rules only make it harder to remember.
func ValidatePassword(v *Validation, field, password string) {
	n := utf8.RuneCountInString(password)
	switch {
	case n < MinPasswordLength:
		v.Add(field, "Password must be at least %d characters.", MinPasswordLength)
	case n > MaxPasswordLength:
		v.Add(field, "Password must be at most %d characters.", MaxPasswordLength)
	default:
		if why := weakPassword(password); why != "" {
			v.Add(field, "%s", why)
		}
	}
}

// NormalizePhone removes the spaces, dashes, dots and brackets people write
// in phone numbers, keeping a leading +.
func NormalizePhone(phone string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '.', '(', ')', '\u00a0':
			return -1
		}
		return r
	}, strings.TrimSpace(phone))
}

var e164RE = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// ValidatePhone checks an E.164 number (after NormalizePhone).
func ValidatePhone(v *Validation, field, phone string) {
	if phone != "" && !e164RE.MatchString(phone) {
		v.Add(field, "Phone must be in international E.164 form: + and country code, then the number, like +14155550123.")
	}
}

// NormalizeSkill lower-cases and trims a skill name: "Billing " and
// "billing" are one skill.
func NormalizeSkill(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// NormalizeSkills returns skills with normalized names. Names that become
// one ("Billing" and "billing") keep the highest level, and are reported by
// DuplicateSkills.
func NormalizeSkills(skills map[string]int) map[string]int {
	out := make(map[string]int, len(skills))
	for name, level := range skills {
		n := NormalizeSkill(name)
		if prev, ok := out[n]; !ok || level > prev {
			out[n] = level
		}
	}
	return out
}

// DuplicateSkills returns the normalized names that several of skills share.
func DuplicateSkills(skills map[string]int) []string {
	seen := map[string]int{}
	for name := range skills {
		seen[NormalizeSkill(name)]++
	}
	var dups []string
	for name, n := range seen {
		if n > 1 {
			dups = append(dups, name)
		}
	}
	sort.Strings(dups)
	return dups
}

func reportDuplicateSkills(v *Validation, field string, skills map[string]int) {
	for _, name := range DuplicateSkills(skills) {
		v.Add(field+"."+name, "Skill %q is given more than once, in different cases.", name)
	}
}

var skillNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)

func validSkillName(name string) bool {
	return len(name) <= MaxSkillNameLength && skillNameRE.MatchString(name)
}

// ValidateSkills checks names and levels, reporting each bad one under
// field (like "skills.billing").
func ValidateSkills(v *Validation, field string, skills map[string]int) {
	if len(skills) > MaxSkills {
		v.Add(field, "An agent can have at most %d skills.", MaxSkills)
		return
	}
	for _, name := range sortedKeys(skills) {
		level := skills[name]
		switch {
		case !validSkillName(name):
			v.Add(field+"."+name, "Skill names use lower-case letters, digits, '.', '_' and '-', at most %d characters.", MaxSkillNameLength)
		case level < MinSkillLevel || level > MaxSkillLevel:
			v.Add(field+"."+name, "Skill %q has level %d; levels go from %d to %d.", name, level, MinSkillLevel, MaxSkillLevel)
		}
	}
}

// ValidateCapacity checks an agent's capacity.
func ValidateCapacity(v *Validation, field string, capacity int) {
	if capacity < 1 || capacity > MaxCapacity {
		v.Add(field, "Capacity is the number of tasks the agent handles at once: 1 to %d.", MaxCapacity)
	}
}

// ValidateChannels checks notification channels.
func ValidateChannels(v *Validation, field string, channels []Channel) {
	seen := map[Channel]bool{}
	for _, c := range channels {
		if c != ChannelEmail && c != ChannelSMS && c != ChannelInApp {
			v.Add(field, "Channels are email, sms and inapp; %q is not one.", c)
			return
		}
		if seen[c] {
			v.Add(field, "Channel %q is listed twice.", c)
			return
		}
		seen[c] = true
	}
}

func validateTeamName(v *Validation, name string) {
	switch {
	case name == "":
		v.Add("name", "Name is required.")
	case utf8.RuneCountInString(name) > MaxTeamNameLength:
		v.Add("name", "Name must be at most %d characters.", MaxTeamNameLength)
	case strings.ContainsFunc(name, isControl) || strings.Contains(name, ";"):
		v.Add("name", "Name must not contain control characters or ';' (which separates teams in CSV files).")
	case strings.ContainsFunc(name, isBidiControl):
		v.Add("name", bidiMessage)
	}
}

func validateTeamDescription(v *Validation, d string) {
	if utf8.RuneCountInString(d) > MaxTeamDescriptionLength {
		v.Add("description", "Description must be at most %d characters.", MaxTeamDescriptionLength)
	}
}

// validateSecretLabel checks the name and expiry that label a secret (a
// token or an enrollment key): a name to recognise it by, an expiry ahead.
func validateSecretLabel(v *Validation, what, name string, expiresAt *time.Time, now time.Time) {
	switch {
	case name == "":
		v.Add("name", "Name is required, so that you can recognise the %s later.", what)
	case utf8.RuneCountInString(name) > MaxTokenNameLength:
		v.Add("name", "Name must be at most %d characters.", MaxTokenNameLength)
	case strings.ContainsFunc(name, isControl):
		v.Add("name", "Name must not contain control characters.")
	case strings.ContainsFunc(name, isBidiControl):
		v.Add("name", bidiMessage)
	}
	if expiresAt != nil && !expiresAt.After(now) {
		v.Add("expires_at", "Expiry must be in the future.")
	}
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// isBidiControl reports whether r overrides or isolates the direction of
// the text around it (U+202A–U+202E, U+2066–U+2069). In a name shown in
// lists, the audit log and notifications, such a character makes what is
// read differ from what is stored: "Bob\u202Enimda" reads as "Bobadmin".
// Right-to-left names need none of them; the implicit marks U+200E and
// U+200F, which cannot reorder what follows, stay allowed.
func isBidiControl(r rune) bool { return 0x202A <= r && r <= 0x202E || 0x2066 <= r && r <= 0x2069 }

const bidiMessage = "Name must not contain characters that override the direction of text (U+202A–U+202E, U+2066–U+2069)."

// dedupe trims IDs and drops the empty and repeated ones, keeping the order.
func dedupe(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		id = strings.TrimSpace(id)
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
