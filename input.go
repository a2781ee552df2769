package switchboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// The rules that every input meets before it reaches storage, so that each
// engine gets only what all three store and compare alike. Without them the
// same bad input is accepted by one engine and is an internal error on
// another: PostgreSQL refuses NUL in text and \u0000 in JSONB, and years
// outside its range; MariaDB fails to compare non-ASCII text with the ASCII
// columns that hold IDs, and to nest JSON deeply.

// MaxJSONDepth bounds how deep the objects and arrays of a free-form JSON
// value (an agent's attributes, an enrollment's metadata) may nest. Deep
// nesting serves no purpose of ours, and every reader of the value (engines'
// JSON functions, renderers, clients) pays for it.
const MaxJSONDepth = 16

// ValidText reports whether s can be stored and searched as text on every
// engine: valid UTF-8 without NUL characters.
func ValidText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// ValidateText checks that a text field is ValidText.
func ValidateText(v *Validation, field, s string) {
	if !ValidText(s) {
		v.Add(field, "Must be text without NUL characters.")
	}
}

// ValidID reports whether id has the shape of the IDs Switchboard makes:
// a UUID written as 36 hexadecimal digits and dashes. Anything else names
// nothing, and is answered without asking the database.
func ValidID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// ValidateID checks an optional ID field.
func ValidateID(v *Validation, field, id string) {
	if id != "" && !ValidID(id) {
		v.Add(field, "%q does not exist: IDs look like 0190a5c2-7b1e-7c3d-9f00-1234567890ab.", clipText(id))
	}
}

// ValidateIDs checks a list of IDs, reporting the first that is malformed.
func ValidateIDs(v *Validation, field string, ids []string) {
	for _, id := range ids {
		if !ValidID(id) {
			v.Add(field, "%q does not exist: IDs look like 0190a5c2-7b1e-7c3d-9f00-1234567890ab.", clipText(id))
			return
		}
	}
}

// The range of times every engine stores: MariaDB's DATETIME is the
// narrowest (PostgreSQL has no year 0, which Go's times allow).
var (
	MinTime = time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
)

// ValidTime reports whether t is within the range every engine stores.
func ValidTime(t time.Time) bool {
	return !t.Before(MinTime) && !t.After(MaxTime)
}

// ValidateTime checks an optional time.
func ValidateTime(v *Validation, field string, t *time.Time) {
	if t != nil && !ValidTime(*t) {
		v.Add(field, "Times must be between the years %d and %d.", MinTime.Year(), MaxTime.Year())
	}
}

// clipText shortens input quoted back in a message: it may be long, and it
// is shown to the caller who sent it, but is no use beyond its start.
func clipText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if utf8.RuneCountInString(s) > 40 {
		return string([]rune(s)[:40]) + "…"
	}
	return s
}

// CheckJSON finds what decoding JSON into Go values would hide or pass on
// to the engines: a key given twice in one object (the decoder keeps the
// last, silently dropping the other), and NUL characters in keys or strings.
// The error is EINVALID with one field: the path of the key or value at
// fault, under field when one is given ("attributes.tags[2]"). JSON that does
// not parse is not its business: it returns nil, and the decoder reports it.
func CheckJSON(field string, data []byte) error {
	// Most JSON has neither fault, and a validating scanner that knows
	// duplicate keys proves it in one pass, without a token allocated:
	// checking every API request body costs close to nothing. A NUL can
	// only be written escaped in JSON text. The walk below, slow but
	// precise about the path, runs only for the rest.
	if wellFormedJSON(data) {
		return nil
	}
	return walkJSON(field, data)
}

// wellFormedJSON reports whether data is one JSON value with no key given
// twice in an object and no NUL character: one that CheckJSON accepts.
func wellFormedJSON(data []byte) bool {
	return !bytes.Contains(data, []byte(`\u0000`)) && jsontext.Value(data).IsValid()
}

// walkJSON is CheckJSON token by token, to name the path at fault.
func walkJSON(field string, data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	// One frame per open object or array: the keys an object has shown
	// so far, and where the next value goes.
	type frame struct {
		object  bool
		keys    map[string]bool
		wantKey bool   // an object's next token is a key (or its end)
		key     string // the key whose value comes next, in an object
		index   int    // the index of the next value, in an array
		path    string
	}
	var stack []*frame
	fail := func(path, format string, args ...any) error {
		var v Validation
		v.Add(path, format, args...)
		return v.Err()
	}
	// next returns the path of the value about to be read, and moves the
	// enclosing container on past it.
	next := func() string {
		if len(stack) == 0 {
			return field
		}
		top := stack[len(stack)-1]
		if top.object {
			top.wantKey = true
			return joinPath(top.path, top.key)
		}
		p := top.path + "[" + strconv.Itoa(top.index) + "]"
		top.index++
		return p
	}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return nil // malformed: the decoder will say how
		}
		if len(stack) > 0 {
			if top := stack[len(stack)-1]; top.object && top.wantKey {
				if d, ok := tok.(json.Delim); ok && d == '}' {
					stack = stack[:len(stack)-1]
					continue
				}
				key, _ := tok.(string)
				path := joinPath(top.path, key)
				switch {
				case !ValidText(key):
					return fail(path, "Keys must not contain NUL characters.")
				case top.keys[key]:
					return fail(path, "The key %q is given twice; give each key once.", clipText(key))
				}
				top.keys[key] = true
				top.key, top.wantKey = key, false
				continue
			}
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				stack = append(stack, &frame{object: true, keys: map[string]bool{}, wantKey: true, path: next()})
			case '[':
				stack = append(stack, &frame{path: next()})
			default: // ']': '}' was handled with keys
				stack = stack[:len(stack)-1]
			}
		case string:
			if path := next(); !ValidText(t) {
				return fail(path, "Must be text without NUL characters.")
			}
		default:
			next()
		}
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// ParseJSONObject reads text typed into a form or a file as one JSON object:
// numbers stay exact (as json.Number, not float64, which would round
// integers above 2^53), and duplicate keys and NUL characters are refused as
// CheckJSON does. Problems are reported under field.
func ParseJSONObject(field, text string) (map[string]any, error) {
	if err := CheckJSON(field, []byte(text)); err != nil {
		return nil, err
	}
	var obj map[string]any
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	err := dec.Decode(&obj)
	if err == nil {
		if _, end := dec.Token(); !errors.Is(end, io.EOF) {
			err = errors.New("data after the object")
		}
	}
	if err != nil || obj == nil {
		var v Validation
		v.Add(field, "%s must be a JSON object, like {\"region\": \"emea\"}.", capitalize(field))
		return nil, v.Err()
	}
	return obj, nil
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return strings.ToUpper(string(r)) + s[n:]
}

// ValidateJSONObject checks a free-form object: nested at most MaxJSONDepth
// deep, keys not empty, no NUL characters in keys or strings, and at most
// max bytes of JSON.
func ValidateJSONObject(v *Validation, field string, obj map[string]any, max int) {
	if obj == nil {
		return
	}
	if problem := checkJSONValue(obj, 1, ""); problem != "" {
		v.Add(field, "%s", problem)
		return // too deep to measure, or not to be stored
	}
	b, err := json.Marshal(obj)
	switch {
	case err != nil:
		v.Add(field, "Must be a JSON object.")
	case len(b) > max:
		v.Add(field, "Must be at most %d bytes of JSON; this is %d.", max, len(b))
	}
}

// ValidateRawJSONObject is ValidateJSONObject for an object still in its
// JSON text, which it checks in one pass over the tokens, without decoding
// it: the way to check what arrives often and is only stored. It returns
// the object compacted, which is what max bounds; nil for null or when
// there is a problem. The text must be one valid JSON value, as CheckJSON
// accepts.
func ValidateRawJSONObject(v *Validation, field string, raw []byte, max int) []byte {
	switch jsontext.Value(raw).Kind() {
	case 'n':
		return nil
	case '{':
	default:
		v.Add(field, "Must be a JSON object.")
		return nil
	}
	compact := jsontext.Value(bytes.Clone(raw))
	if err := compact.Compact(); err != nil {
		v.Add(field, "Must be a JSON object.")
		return nil
	}
	if !plainJSONObject(compact) {
		// Say what is wrong as ValidateJSONObject does, path and all:
		// this is rare, and may be slow.
		var obj map[string]any
		dec := json.NewDecoder(bytes.NewReader(compact))
		dec.UseNumber()
		if err := dec.Decode(&obj); err != nil {
			v.Add(field, "Must be a JSON object.")
			return nil
		}
		if problem := checkJSONValue(obj, 1, ""); problem != "" {
			v.Add(field, "%s", problem)
			return nil
		}
		// Nothing after all: the text \u0000, escaped, looks like NUL.
	}
	if len(compact) > max {
		v.Add(field, "Must be at most %d bytes of JSON; this is %d.", max, len(compact))
		return nil
	}
	return compact
}

// plainJSONObject reports whether a compacted JSON object breaks none of
// the rules of checkJSONValue: nested at most MaxJSONDepth deep, no empty
// keys, no NUL characters.
func plainJSONObject(compact []byte) bool {
	if bytes.Contains(compact, []byte(`\u0000`)) {
		return false
	}
	dec := tokenDecoders.Get().(*jsontext.Decoder)
	defer tokenDecoders.Put(dec)
	// Read from a bytes.Buffer, the decoder works on compact itself
	// rather than on a copy.
	dec.Reset(bytes.NewBuffer(compact))
	for {
		tok, err := dec.ReadToken()
		switch {
		case err == io.EOF:
			return true
		case err != nil:
			return false
		}
		switch tok.Kind() {
		case '{', '[':
			if dec.StackDepth() > MaxJSONDepth {
				return false
			}
		case '"':
			// In an object, every other token is a key: the odd ones.
			if kind, n := dec.StackIndex(dec.StackDepth()); kind == '{' && n%2 == 1 && strings.TrimSpace(tok.String()) == "" {
				return false
			}
		}
	}
}

// EachJSONMember calls member with the name and value of each member of a
// JSON object, in order, and reports whether data was an object at all.
// A value is valid until member returns. data must be one valid JSON
// value, as CheckJSON accepts.
func EachJSONMember(data []byte, member func(name string, value jsontext.Value)) (bool, error) {
	dec := tokenDecoders.Get().(*jsontext.Decoder)
	defer tokenDecoders.Put(dec)
	dec.Reset(bytes.NewBuffer(data))
	if dec.PeekKind() != '{' {
		return false, nil
	}
	if _, err := dec.ReadToken(); err != nil {
		return false, err
	}
	for dec.PeekKind() == '"' {
		tok, err := dec.ReadToken()
		if err != nil {
			return true, err
		}
		name := tok.String() // before the next read voids tok
		value, err := dec.ReadValue()
		if err != nil {
			return true, err
		}
		member(name, value)
	}
	_, err := dec.ReadToken() // the closing brace
	return true, err
}

// tokenDecoders keep the decoders of plainJSONObject and EachJSONMember,
// which are costly to make and cheap to reset.
var tokenDecoders = sync.Pool{New: func() any { return jsontext.NewDecoder(bytes.NewReader(nil)) }}

// checkJSONValue walks a decoded JSON value at depth (1 for the object
// itself), and describes its first problem. It stops at MaxJSONDepth, so its
// cost does not depend on how deep the value goes.
func checkJSONValue(val any, depth int, path string) string {
	at := func() string {
		if path == "" {
			return ""
		}
		return " (at " + clipText(path) + ")"
	}
	switch t := val.(type) {
	case map[string]any:
		if depth > MaxJSONDepth {
			return fmt.Sprintf("Objects and arrays may nest at most %d levels deep.", MaxJSONDepth)
		}
		for _, k := range sortedKeys(t) {
			p := joinPath(path, k)
			switch {
			case strings.TrimSpace(k) == "":
				return "Keys must not be empty" + at() + "."
			case !ValidText(k):
				return "Keys must not contain NUL characters" + at() + "."
			}
			if problem := checkJSONValue(t[k], depth+1, p); problem != "" {
				return problem
			}
		}
	case []any:
		if depth > MaxJSONDepth {
			return fmt.Sprintf("Objects and arrays may nest at most %d levels deep.", MaxJSONDepth)
		}
		for i, e := range t {
			if problem := checkJSONValue(e, depth+1, path+"["+strconv.Itoa(i)+"]"); problem != "" {
				return problem
			}
		}
	case string:
		if !ValidText(t) {
			return "Text must not contain NUL characters" + at() + "."
		}
	}
	return ""
}
