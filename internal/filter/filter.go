// Package filter is a webhook's content filter: conditions on the fields of
// an event's payload, such as {"card_transaction.message_type":
// ["AUTHORIZATION"]}. An event passes when every listed path holds one of
// its values; a path the payload does not have, or holds an object or an
// array at, fails.
//
// Values match by JSON kind and value: a string matches an equal string
// (after unescaping: "caf\u00e9" is "café"), a number an equal number
// ("100", 100.0 and 1e2 are one value; integers compare exactly, other
// numbers as 64-bit floats), true, false and null themselves. A string
// never matches a number: where a schema allows both (amounts), list both
// ("100" and 100).
//
// A publish evaluates the filters of all its subscribers with a Plan, which
// reads each payload once however many webhooks filter on it.
package filter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Bounds of one filter, so that a filter costs little to hold (every
// publish of its tenant reads it) and to evaluate.
const (
	MaxPaths      = 16
	MaxValues     = 64 // per path
	MaxPathBytes  = 256
	MaxPathDepth  = 8
	MaxValueBytes = 256 // a value's JSON text
	MaxBytes      = 8192
)

// Filter is a parsed content filter. The zero Filter (no conditions) passes
// everything; a nil *Filter is no filter.
type Filter struct {
	conds []cond // sorted by path
}

// cond is one path and the values it may hold.
type cond struct {
	path string
	segs []string
	// raw are the values as canonical JSON text, in the order given;
	// keys are the same values as matched (see key).
	raw  []string
	keys []string
}

// Error says what is wrong with a filter: Path is the condition at fault
// ("" for the whole filter) and Index the value (-1 for the path itself).
type Error struct {
	Path    string
	Index   int
	Message string
}

func (e *Error) Error() string {
	switch {
	case e.Path == "":
		return e.Message
	case e.Index < 0:
		return e.Path + ": " + e.Message
	default:
		return fmt.Sprintf("%s[%d]: %s", e.Path, e.Index, e.Message)
	}
}

// Parse reads a filter as the API takes it: an object of paths, each with a
// non-empty array of scalar values. An empty object is a filter with no
// conditions (callers treat it as none).
func Parse(raw []byte) (*Filter, error) { return parse(raw, true) }

// parse reads a filter, held to the bounds when bounded (a stored filter is
// read as it was accepted, whatever the bounds are now).
func parse(raw []byte, bounded bool) (*Filter, error) {
	if bounded && len(raw) > MaxBytes {
		return nil, &Error{Message: fmt.Sprintf("is larger than %d bytes", MaxBytes)}
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil || members == nil {
		return nil, &Error{Message: "must be an object of paths, each with an array of values"}
	}
	if bounded && len(members) > MaxPaths {
		return nil, &Error{Message: fmt.Sprintf("has %d paths; at most %d are allowed", len(members), MaxPaths)}
	}
	f := &Filter{conds: make([]cond, 0, len(members))}
	for path, v := range members {
		c, err := parseCond(path, v, bounded)
		if err != nil {
			return nil, err
		}
		f.conds = append(f.conds, c)
	}
	slices.SortFunc(f.conds, func(a, b cond) int { return strings.Compare(a.path, b.path) })
	return f, nil
}

func parseCond(path string, raw json.RawMessage, bounded bool) (cond, error) {
	segs, msg := splitPath(path, bounded)
	if msg != "" {
		return cond{}, &Error{Path: path, Index: -1, Message: msg}
	}
	var values []json.RawMessage
	if err := json.Unmarshal(raw, &values); err != nil {
		return cond{}, &Error{Path: path, Index: -1, Message: "must be an array of values"}
	}
	if len(values) == 0 {
		return cond{}, &Error{Path: path, Index: -1, Message: "must list at least one value"}
	}
	if bounded && len(values) > MaxValues {
		return cond{}, &Error{Path: path, Index: -1, Message: fmt.Sprintf("lists %d values; at most %d are allowed", len(values), MaxValues)}
	}
	c := cond{path: path, segs: segs, raw: make([]string, 0, len(values)), keys: make([]string, 0, len(values))}
	for i, v := range values {
		text, k, err := canonical(v)
		if err != nil {
			return cond{}, &Error{Path: path, Index: i, Message: err.Error()}
		}
		if bounded && len(text) > MaxValueBytes {
			return cond{}, &Error{Path: path, Index: i, Message: fmt.Sprintf("is longer than %d bytes", MaxValueBytes)}
		}
		if slices.Contains(c.keys, k) {
			return cond{}, &Error{Path: path, Index: i, Message: fmt.Sprintf("%s is listed twice", text)}
		}
		c.raw, c.keys = append(c.raw, text), append(c.keys, k)
	}
	return c, nil
}

// splitPath splits a dotted member path, or says what is wrong with it.
func splitPath(path string, bounded bool) ([]string, string) {
	switch {
	case path == "":
		return nil, "a path must not be empty"
	case bounded && len(path) > MaxPathBytes:
		return nil, fmt.Sprintf("is longer than %d bytes", MaxPathBytes)
	case !utf8.ValidString(path):
		return nil, "is not valid UTF-8"
	}
	segs := strings.Split(path, ".")
	if bounded && len(segs) > MaxPathDepth {
		return nil, fmt.Sprintf("is deeper than %d members", MaxPathDepth)
	}
	if slices.Contains(segs, "") {
		return nil, "must be member names joined by '.', with no empty name"
	}
	return segs, ""
}

// errNotScalar: a filter value or payload value is an object or an array.
var errNotScalar = errors.New("must be a string, a number, true, false or null")

// canonical returns a JSON scalar's canonical text (how it is stored and
// shown) and its key (how it is matched: see keyOf).
func canonical(v []byte) (text, k string, err error) {
	v = bytes.TrimSpace(v)
	k, ok := keyOf(v)
	if !ok {
		return "", "", errNotScalar
	}
	switch k[0] {
	case 's':
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(k[1:])
		return strings.TrimSuffix(b.String(), "\n"), k, nil
	case '#':
		return k[1:], k, nil
	default:
		return string(v), k, nil
	}
}

// keyOf returns the key a JSON scalar is matched by: "s" and the decoded
// string, "#" and the canonical number, or the first letter of true, false
// and null. It reports false for anything else.
func keyOf(v []byte) (string, bool) {
	if len(v) == 0 {
		return "", false
	}
	switch v[0] {
	case '"':
		if len(v) >= 2 && v[len(v)-1] == '"' && bytes.IndexByte(v[1:len(v)-1], '\\') < 0 && utf8.Valid(v) {
			return "s" + string(v[1:len(v)-1]), true
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", false
		}
		return "s" + s, true
	case 't', 'f', 'n':
		switch string(v) {
		case "true", "false", "null":
			return string(v[:1]), true
		}
		return "", false
	default:
		n, ok := number(v)
		if !ok {
			return "", false
		}
		return "#" + n, true
	}
}

// number returns a JSON number's canonical text: an integer as written
// (without a sign on zero), anything else as the shortest text of its
// float64 value (integral values below 2^53 without a fraction or an
// exponent, so that 100.0 and 1e2 are 100).
func number(v []byte) (string, bool) {
	if !json.Valid(v) || !(v[0] == '-' || ('0' <= v[0] && v[0] <= '9')) {
		return "", false
	}
	if !bytes.ContainsAny(v, ".eE") {
		if string(v) == "-0" {
			return "0", true
		}
		return string(v), true
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || math.IsInf(f, 0) {
		return "", false
	}
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return strconv.FormatInt(int64(f), 10), true
	}
	return strconv.FormatFloat(f, 'g', -1, 64), true
}

// Paths lists the filter's paths, sorted.
func (f *Filter) Paths() []string {
	out := make([]string, len(f.conds))
	for i, c := range f.conds {
		out[i] = c.path
	}
	return out
}

// Values returns the canonical JSON text of the values a path may hold.
func (f *Filter) Values(path string) []string {
	for _, c := range f.conds {
		if c.path == path {
			return slices.Clone(c.raw)
		}
	}
	return nil
}

// Empty reports a filter with no conditions.
func (f *Filter) Empty() bool { return f == nil || len(f.conds) == 0 }

// MarshalJSON writes the filter as Parse reads it, paths in order.
func (f *Filter) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, c := range f.conds {
		if i > 0 {
			b.WriteByte(',')
		}
		name, err := json.Marshal(c.path)
		if err != nil {
			return nil, fmt.Errorf("encode filter path: %w", err)
		}
		b.Write(name)
		b.WriteString(":[")
		b.WriteString(strings.Join(c.raw, ","))
		b.WriteByte(']')
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads what MarshalJSON wrote (or any filter Parse takes).
func (f *Filter) UnmarshalJSON(raw []byte) error {
	g, err := parse(raw, false)
	if err != nil {
		return fmt.Errorf("decode filter: %w", err)
	}
	*f = *g
	return nil
}

// Kind is the JSON type of a value Values returns: "string", "number",
// "boolean" or "null".
func Kind(value string) string {
	switch {
	case strings.HasPrefix(value, `"`):
		return "string"
	case value == "true" || value == "false":
		return "boolean"
	case value == "null":
		return "null"
	default:
		return "number"
	}
}
