package sqlstore

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// decodedJSON returns v as unmarshalJSON would decode it from what
// json.Marshal makes of it: objects as map[string]any, arrays as []any,
// numbers as json.Number, strings, booleans and nil as they are. ok is
// false for what it cannot tell without encoding: a float (its text), a
// value with an encoding of its own (other than a time), a struct, bytes,
// a map whose keys are not strings, a string that is not UTF-8 (the
// encoder replaces its bytes), a time the encoder refuses. The caller
// then encodes and decodes, as it would have anyway.
func decodedJSON(v any) (any, bool) { return decoded(v, 0) }

// maxDecodedDepth is the deepest decodedJSON goes into nested values: a
// value that holds itself would take it down for ever, where the encoder
// refuses it.
const maxDecodedDepth = 64

// decoded is decodedJSON for a value depth levels down.
func decoded(v any, depth int) (any, bool) {
	if depth > maxDecodedDepth {
		return nil, false
	}
	switch v := v.(type) {
	case nil:
		return nil, true
	case string:
		return v, utf8.ValidString(v)
	case bool:
		return v, true
	case json.Number:
		return nil, false // written as it is, if it is a number
	case int:
		return json.Number(strconv.Itoa(v)), true
	case time.Time:
		b, err := v.MarshalJSON()
		if err != nil {
			return nil, false
		}
		return string(b[1 : len(b)-1]), true // quoted, with nothing to escape
	case map[string]any:
		if v == nil {
			return nil, true
		}
		out := make(map[string]any, len(v))
		for k, e := range v {
			d, ok := decoded(e, depth+1)
			if !ok || !utf8.ValidString(k) {
				return nil, false
			}
			out[k] = d
		}
		return out, true
	}
	return decodedValue(reflect.ValueOf(v), depth)
}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
	// encoders holds encodesItself's answers, by type: looking a type's
	// methods up costs more than the rest of decodedJSON.
	encoders sync.Map
)

// encodesItself reports whether the encoder lets values of type t (or
// pointers to them) encode themselves.
func encodesItself(t reflect.Type) bool {
	if known, ok := encoders.Load(t); ok {
		return known.(bool)
	}
	p := reflect.PointerTo(t)
	does := t.Implements(jsonMarshaler) || t.Implements(textMarshaler) || p.Implements(jsonMarshaler) || p.Implements(textMarshaler)
	encoders.Store(t, does)
	return does
}

// decodedValue is decoded for what its type switch leaves: pointers,
// named types of the basic kinds, and slices and maps of other element
// types.
func decodedValue(rv reflect.Value, depth int) (any, bool) {
	t := rv.Type()
	if t.Kind() == reflect.Pointer {
		// nil is null, marshaler or not; else the value it points to,
		// with the methods of both (checked below, for the value).
		if rv.IsNil() {
			return nil, true
		}
		return decoded(rv.Elem().Interface(), depth+1)
	}
	if encodesItself(t) {
		return nil, false // a time does, but the type switch took it
	}
	switch t.Kind() {
	case reflect.String:
		return rv.String(), utf8.ValidString(rv.String())
	case reflect.Bool:
		return rv.Bool(), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return json.Number(strconv.FormatInt(rv.Int(), 10)), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return json.Number(strconv.FormatUint(rv.Uint(), 10)), true
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return nil, false // bytes go as base64
		}
		if t.Kind() == reflect.Slice && rv.IsNil() {
			return nil, true
		}
		out := make([]any, rv.Len())
		for i := range out {
			d, ok := decoded(rv.Index(i).Interface(), depth+1)
			if !ok {
				return nil, false
			}
			out[i] = d
		}
		return out, true
	case reflect.Map:
		if t.Key() != reflect.TypeFor[string]() {
			return nil, false // keys of other types have encodings of their own
		}
		if rv.IsNil() {
			return nil, true
		}
		out := make(map[string]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			d, ok := decoded(it.Value().Interface(), depth+1)
			if !ok || !utf8.ValidString(it.Key().String()) {
				return nil, false
			}
			out[it.Key().String()] = d
		}
		return out, true
	}
	return nil, false // floats, structs, functions, channels, complex numbers
}
