package switchboard

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Error codes. Every error that leaves a service carries one of these; the
// HTTP layer maps each to a status with a single table and the CLI prints the
// message. Codes are stable strings so that logs can be searched for them.
const (
	ECONFLICT       = "conflict"        // the change clashes with current state (duplicate, invalid transition)
	EFORBIDDEN      = "forbidden"       // the actor is known but may not do this
	EINTERNAL       = "internal"        // a bug or an outage; the message is never shown to users
	EINVALID        = "invalid"         // the input is malformed or fails validation
	ENOTFOUND       = "not_found"       // no such object, or the actor may not know it exists
	EPRECONDITION   = "precondition"    // an If-Match precondition did not hold
	ERATELIMIT      = "rate_limited"    // too many attempts; RetryAfter says when to come back
	EUNAUTHORIZED   = "unauthorized"    // no valid credentials
	ENOTIMPLEMENTED = "not_implemented" // a feature this engine or configuration does not offer
)

// Error is the domain's error. Message is safe to show to the caller for every
// code but EINTERNAL. Fields names the input fields at fault, so that a form or
// a problem document can point at them.
type Error struct {
	Code    string
	Message string
	Fields  []FieldError

	// RetryAfter is set with ERATELIMIT: how long until a new attempt may succeed.
	RetryAfter time.Duration
	// State is set with ECONFLICT when a lifecycle transition was refused.
	State *StateConflict
}

// FieldError is one invalid input field. Field is the field's name as the
// caller sent it (snake_case JSON name or form field name). Line is set for
// input read from a file, like a CSV import: the line the field is on.
type FieldError struct {
	Field   string
	Message string
	Line    int
}

// StateConflict details an ECONFLICT about a lifecycle transition.
type StateConflict struct {
	Current   string
	Requested string
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return fmt.Sprintf("switchboard error: code=%s message=%s", e.Code, e.Message)
	}
	return fmt.Sprintf("switchboard error: code=%s message=%s fields=%v", e.Code, e.Message, e.Fields)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code string, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrTransition is the error for a lifecycle transition that is not allowed.
func ErrTransition(what string, from, to string, allowed []string) *Error {
	msg := fmt.Sprintf("The %s is %s and cannot become %s", what, from, to)
	if len(allowed) > 0 {
		msg += fmt.Sprintf("; from %s it can become %s.", from, strings.Join(allowed, " or "))
	} else {
		msg += fmt.Sprintf("; %s is final.", from)
	}
	return &Error{Code: ECONFLICT, Message: msg, State: &StateConflict{Current: from, Requested: to}}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err. Internal errors get a
// generic message so that no detail of an outage or a bug leaks.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Code != EINTERNAL {
		return e.Message
	}
	return "An internal error has occurred."
}

// ErrorFields returns the field errors carried by err, if any.
func ErrorFields(err error) []FieldError {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}
