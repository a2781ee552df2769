package switchboard_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/switchboardhq/switchboard"
)

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{
		"0190a5c2-7b1e-7c3d-9f00-1234567890ab": true,
		"0190A5C2-7B1E-7C3D-9F00-1234567890AB": true,
		"":                                     false,
		"nope":                                 false,
		"é":                                    false,
		"0190a5c2-7b1e-7c3d-9f00-1234567890a\x00": false,
		"0190a5c2-7b1e-7c3d-9f00-1234567890aé":    false,
		"0190a5c2x7b1e-7c3d-9f00-1234567890ab":    false,
		"0190a5c2-7b1e-7c3d-9f00-1234567890ag":    false,
	} {
		if got := switchboard.ValidID(id); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestValidTextAndTime(t *testing.T) {
	if !switchboard.ValidText("Zoë 🙂") || switchboard.ValidText("a\x00b") || switchboard.ValidText("\xff") {
		t.Error("ValidText")
	}
	for _, tc := range []struct {
		at   time.Time
		want bool
	}{
		{time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{time.Date(999, 12, 31, 0, 0, 0, 0, time.UTC), false},
		{time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), true},
		{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), false},
	} {
		if got := switchboard.ValidTime(tc.at); got != tc.want {
			t.Errorf("ValidTime(%v) = %v, want %v", tc.at, got, tc.want)
		}
	}
}

func TestCheckJSON(t *testing.T) {
	for _, tc := range []struct {
		json  string
		field string // "" = accepted
	}{
		{`{"a":1,"b":{"c":[1,"x",{"d":null}]}}`, ""},
		{`{"":1}`, ""},
		{`{"a":1,"a":2}`, "a"},
		{`{"a":{"b":1,"b":2}}`, "a.b"},
		{`{"a":[{"x":1},{"x":1,"x":2}]}`, "a[1].x"},
		{`{"a":{"b":1},"c":{"b":2}}`, ""}, // one key per object, not per document
		{`{"a":"x\u0000y"}`, "a"},
		{`{"a":["ok","\u0000"]}`, "a[1]"},
		{`{"k\u0000":1}`, "k\x00"},
		{`[{"a":1},{"a":1}]`, ""},
		{`{"a":`, ""}, // malformed: the decoder reports it
	} {
		err := switchboard.CheckJSON("", []byte(tc.json))
		fields := switchboard.ErrorFields(err)
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: %v, want accepted", tc.json, err)
		case tc.field != "" && (switchboard.ErrorCode(err) != switchboard.EINVALID || len(fields) != 1 || fields[0].Field != tc.field):
			t.Errorf("%s: %v, want EINVALID at %q", tc.json, err, tc.field)
		}
	}
	fields := switchboard.ErrorFields(switchboard.CheckJSON("attributes", []byte(`{"region":"a","region":"b"}`)))
	if len(fields) != 1 || fields[0].Field != "attributes.region" || !strings.Contains(fields[0].Message, `"region" is given twice`) {
		t.Errorf("fields %+v", fields)
	}
}

func TestParseJSONObject(t *testing.T) {
	obj, err := switchboard.ParseJSONObject("attributes", `{"id": 9007199254740993, "ratio": 0.1}`)
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := obj["id"].(json.Number); !ok || n.String() != "9007199254740993" {
		t.Errorf("id = %#v, want the exact json.Number", obj["id"])
	}
	if b, _ := json.Marshal(obj); string(b) != `{"id":9007199254740993,"ratio":0.1}` {
		t.Errorf("round trip %s", b)
	}
	for _, bad := range []string{`[1]`, `null`, `{"a":1} {}`, `{"a":1,"a":2}`, `{"a":"\u0000"}`, `{`} {
		if _, err := switchboard.ParseJSONObject("attributes", bad); switchboard.ErrorCode(err) != switchboard.EINVALID {
			t.Errorf("%s: %v, want EINVALID", bad, err)
		} else if f := switchboard.ErrorFields(err); !strings.HasPrefix(f[0].Field, "attributes") {
			t.Errorf("%s: field %q", bad, f[0].Field)
		}
	}
}

func TestValidateJSONObject(t *testing.T) {
	nest := func(depth int) map[string]any {
		var v any = "leaf"
		for range depth - 1 {
			v = []any{v}
		}
		return map[string]any{"a": v}
	}
	for _, tc := range []struct {
		name string
		obj  map[string]any
		want string // part of the message; "" = valid
	}{
		{"Flat", map[string]any{"region": "emea", "n": json.Number("1")}, ""},
		{"Depth16", nest(16), ""},
		{"Depth17", nest(17), "16 levels"},
		{"Depth8100", nest(8100), "16 levels"},
		{"EmptyKey", map[string]any{" ": 1}, "empty"},
		{"NULInValue", map[string]any{"a": []any{"x\x00"}}, "NUL"},
		{"NULInKey", map[string]any{"a\x00": 1}, "NUL"},
		{"TooBig", map[string]any{"a": strings.Repeat("x", 200)}, "at most 100 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v switchboard.Validation
			switchboard.ValidateJSONObject(&v, "attributes", tc.obj, 100)
			fields := wantOneProblem(t, &v, "attributes", tc.want)
			// The same object as JSON text gets the same answer.
			raw, err := json.Marshal(tc.obj)
			if err != nil {
				t.Fatal(err)
			}
			var rv switchboard.Validation
			compact := switchboard.ValidateRawJSONObject(&rv, "attributes", raw, 100)
			if rawFields := switchboard.ErrorFields(rv.Err()); !reflect.DeepEqual(rawFields, fields) {
				t.Errorf("as text: errors %+v, want %+v", rawFields, fields)
			}
			if (compact == nil) != (tc.want != "") {
				t.Errorf("as text: returned %s", compact)
			}
		})
	}
}

// wantOneProblem checks that v holds no problem (want "") or one, on
// field, whose message contains want, and returns what it holds.
func wantOneProblem(t *testing.T, v *switchboard.Validation, field, want string) []switchboard.FieldError {
	t.Helper()
	fields := switchboard.ErrorFields(v.Err())
	switch {
	case want == "" && len(fields) > 0:
		t.Errorf("errors %+v, want none", fields)
	case want != "" && (len(fields) != 1 || fields[0].Field != field || !strings.Contains(fields[0].Message, want)):
		t.Errorf("errors %+v, want one on %s about %q", fields, field, want)
	}
	return fields
}

// What only JSON text can be: null, not an object, spaced out, or with
// text that looks like an escaped NUL.
func TestValidateRawJSONObject(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		want      string // the object returned, compacted
		problem   string // part of the message; "" = valid
	}{
		{"Null", `null`, "", ""},
		{"Array", `[1]`, "", "JSON object"},
		{"Text", `"x"`, "", "JSON object"},
		{"Spaced", "{ \"a\" : [ 1, 2 ],\n \"b\": {\"c\": \"d e\"} }", `{"a":[1,2],"b":{"c":"d e"}}`, ""},
		{"EscapedBackslash", `{"a":"\\u0000"}`, `{"a":"\\u0000"}`, ""},
		{"KeyOfSpaces", `{"a":{"\u0020":1}}`, "", "empty (at a)"},
		{"DeepKeyed", strings.Repeat(`{"a":`, 17) + "1" + strings.Repeat("}", 17), "", "16 levels"},
		{"SizeAfterCompaction", `{"a":   "` + strings.Repeat("x", 90) + `"}`, `{"a":"` + strings.Repeat("x", 90) + `"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v switchboard.Validation
			got := switchboard.ValidateRawJSONObject(&v, "metadata", []byte(tc.raw), 100)
			wantOneProblem(t, &v, "metadata", tc.problem)
			if string(got) != tc.want {
				t.Errorf("returned %s, want %s", got, tc.want)
			}
		})
	}
}

func TestEachJSONMember(t *testing.T) {
	var got []string
	isObject, err := switchboard.EachJSONMember([]byte(`{"b": [1, {"x": 2}], "a": "\u00e9", "c": null}`), func(name string, value jsontext.Value) {
		got = append(got, name+"="+string(value))
	})
	if want := []string{`b=[1, {"x": 2}]`, `a="\u00e9"`, `c=null`}; err != nil || !isObject || !reflect.DeepEqual(got, want) {
		t.Errorf("members %q (object %v, %v), want %q", got, isObject, err, want)
	}
	for _, notObject := range []string{`[]`, `null`, `"{}"`, `3`} {
		if isObject, err := switchboard.EachJSONMember([]byte(notObject), func(string, jsontext.Value) { t.Error("a member of", notObject) }); isObject || err != nil {
			t.Errorf("%s: object %v, %v", notObject, isObject, err)
		}
	}
}

// Names refuse the characters that reorder the text around them, and keep
// right-to-left scripts and the implicit direction marks.
func TestNamesRefuseBidiControls(t *testing.T) {
	now := time.Now()
	check := func(name string) []switchboard.FieldError {
		var errs []switchboard.FieldError
		a := switchboard.NewAgent{Name: name, Kind: switchboard.MachineAgent}
		a.Normalize()
		errs = append(errs, switchboard.ErrorFields(a.Validate())...)
		u := switchboard.NewUser{Name: name, Email: "u@example.com", Role: switchboard.RoleAgent, Password: "correct horse battery"}
		errs = append(errs, switchboard.ErrorFields(u.Validate())...)
		team := switchboard.NewTeam{Name: name}
		errs = append(errs, switchboard.ErrorFields(team.Validate())...)
		key := switchboard.NewEnrollmentKey{Name: name}
		errs = append(errs, switchboard.ErrorFields(key.Validate(now))...)
		return errs
	}
	for _, r := range []rune{0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069} {
		if errs := check("Bob" + string(r) + "nimda"); len(errs) != 4 {
			t.Errorf("U+%04X: errors %+v, want one per noun", r, errs)
		}
	}
	for _, ok := range []string{"מוקד תמיכה", "Ada\u200F Lovelace", "Zoë"} {
		if errs := check(ok); len(errs) != 0 {
			t.Errorf("%q: errors %+v", ok, errs)
		}
	}
}

// FuzzJSONObject: whatever is sent as a free-form object, checking it does
// not panic; it is refused with EINVALID naming the field, or it is an
// object within every limit that writes and reads back the same.
func FuzzJSONObject(f *testing.F) {
	f.Fuzz(func(t *testing.T, text string) {
		// CheckJSON's quick path accepts only what its precise walk does.
		if switchboard.WellFormedJSON([]byte(text)) {
			if err := switchboard.WalkJSON("attributes", []byte(text)); err != nil {
				t.Fatalf("the quick check accepts what the walk refuses: %v", err)
			}
		}
		obj, err := switchboard.ParseJSONObject("attributes", text)
		if err == nil {
			var v switchboard.Validation
			switchboard.ValidateJSONObject(&v, "attributes", obj, switchboard.MaxAttributesBytes)
			err = v.Err()
		}
		if err != nil {
			fields := switchboard.ErrorFields(err)
			if switchboard.ErrorCode(err) != switchboard.EINVALID || len(fields) == 0 {
				t.Fatalf("error %v, want EINVALID with fields", err)
			}
			for _, fe := range fields {
				if fe.Field != "attributes" && !strings.HasPrefix(fe.Field, "attributes.") && !strings.HasPrefix(fe.Field, "attributes[") {
					t.Fatalf("error on %q, not on attributes", fe.Field)
				}
			}
			return
		}
		if obj == nil {
			t.Fatal("no object and no error")
		}
		if d := depth(obj); d > switchboard.MaxJSONDepth {
			t.Fatalf("accepted an object %d levels deep", d)
		}
		b, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > switchboard.MaxAttributesBytes || strings.Contains(string(b), `\u0000`) {
			t.Fatalf("accepted %s", b)
		}
		again, err := switchboard.ParseJSONObject("attributes", string(b))
		if err != nil || !reflect.DeepEqual(again, obj) {
			t.Fatalf("written as %s, read back as %#v (%v), want %#v", b, again, err, obj)
		}
	})
}

func depth(v any) int {
	d := 0
	switch t := v.(type) {
	case map[string]any:
		for _, e := range t {
			d = max(d, depth(e))
		}
		return d + 1
	case []any:
		for _, e := range t {
			d = max(d, depth(e))
		}
		return d + 1
	}
	return 0
}
