package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"strconv"
	"sync"
	"unicode/utf8"
)

// Schema validation is the expensive part of publishing, and most payloads
// of an event type share a handful of shapes: the same members, holding
// values of the same JSON kinds, differing only in values the schemas do not
// look at (ids, amounts, names). So Validate first scans the payload once —
// checking its syntax and hashing its shape — and asks the schema library
// only about shapes it has not seen accepted before.
//
// The shape of a document is the sequence of its member names, its
// structure, and the kind of every value (string, integral number, other
// number, boolean, null), plus the exact text of every value at a path where
// any schema constrains values (const, enum). For schemas built only from
// the keywords in shapeKeywords, two documents with the same shape get the
// same verdict from the library; a schema using any other keyword is never
// cached.

// shapeKeywords are the schema keywords whose outcome depends only on a
// document's shape as defined above (valueKeywords add their paths' values).
var shapeKeywords = map[string]bool{
	"$schema": true, "$id": true, "$comment": true, "title": true, "description": true, "examples": true,
	"default": true, "deprecated": true, "type": true, "properties": true, "required": true, "items": true,
	"$ref": true, "$defs": true, "if": true, "then": true, "else": true, "allOf": true, "anyOf": true,
	"oneOf": true, "not": true, "const": true, "enum": true,
}

var valueKeywords = map[string]bool{"const": true, "enum": true}

// pathNode is a trie of instance paths whose values a schema constrains;
// "[]" stands for any array element.
type pathNode struct {
	children map[string]*pathNode
	value    bool
}

func (n *pathNode) child(name string) *pathNode {
	if n == nil {
		return nil
	}
	return n.children[name]
}

func (n *pathNode) add(path []string) {
	for _, p := range path {
		if n.children == nil {
			n.children = map[string]*pathNode{}
		}
		c := n.children[p]
		if c == nil {
			c = &pathNode{}
			n.children[p] = c
		}
		n = c
	}
	n.value = true
}

// analyse adds to values every instance path where schema (a decoded JSON
// Schema document whose local $refs resolve against root) constrains values,
// and reports whether every keyword it uses is in shapeKeywords.
func analyse(schema, root map[string]any, path []string, values *pathNode, seen map[string]bool) bool {
	for kw, v := range schema {
		if !shapeKeywords[kw] {
			return false
		}
		if valueKeywords[kw] {
			values.add(path)
		}
		switch kw {
		case "properties":
			props, ok := v.(map[string]any)
			if !ok {
				return false
			}
			for name, sub := range props {
				if !analyseSub(sub, root, append(path[:len(path):len(path)], name), values, seen) {
					return false
				}
			}
		case "items":
			if !analyseSub(v, root, append(path[:len(path):len(path)], "[]"), values, seen) {
				return false
			}
		case "if", "then", "else", "not":
			if !analyseSub(v, root, path, values, seen) {
				return false
			}
		case "allOf", "anyOf", "oneOf":
			list, ok := v.([]any)
			if !ok {
				return false
			}
			for _, sub := range list {
				if !analyseSub(sub, root, path, values, seen) {
					return false
				}
			}
		case "$ref":
			ref, ok := v.(string)
			const prefix = "#/$defs/"
			if !ok || len(ref) <= len(prefix) || ref[:len(prefix)] != prefix {
				return false
			}
			defs, _ := root["$defs"].(map[string]any)
			target, ok := defs[ref[len(prefix):]]
			if !ok {
				return false
			}
			key := ref + "@" + fmt.Sprint(path)
			if seen[key] {
				continue // a recursive definition: already being analysed here
			}
			seen[key] = true
			if !analyseSub(target, root, path, values, seen) {
				return false
			}
		}
	}
	return true
}

func analyseSub(sub any, root map[string]any, path []string, values *pathNode, seen map[string]bool) bool {
	switch s := sub.(type) {
	case bool:
		return true
	case map[string]any:
		return analyse(s, root, path, values, seen)
	default:
		return false
	}
}

// shapeKey identifies a document shape (128 bits, seeded per process).
type shapeKey [2]uint64

// shapeCache remembers shapes the schema library accepted.
type shapeCache struct {
	mu    sync.RWMutex
	known map[shapeKey]struct{}
}

// maxShapes bounds the cache; when full it starts afresh.
const maxShapes = 1 << 16

func (c *shapeCache) has(k shapeKey) bool {
	c.mu.RLock()
	_, ok := c.known[k]
	c.mu.RUnlock()
	return ok
}

func (c *shapeCache) add(k shapeKey) {
	c.mu.Lock()
	if len(c.known) >= maxShapes || c.known == nil {
		c.known = make(map[shapeKey]struct{}, 256)
	}
	c.known[k] = struct{}{}
	c.mu.Unlock()
}

// maxDepth bounds nesting, as encoding/json does.
const maxDepth = 1000

// topLevel holds the members of a payload's root object that name its event,
// and the subject ids met on the way (see subjects.go).
type topLevel struct {
	event, typ, details []byte // raw values; nil when absent
	subj                subjectScan
}

// scanner checks a JSON document's syntax in one pass and hashes its shape.
type scanner struct {
	data   []byte
	pos    int
	h1, h2 maphash.Hash
	values *pathNode
	top    topLevel
}

var seed1, seed2 = maphash.MakeSeed(), maphash.MakeSeed()

// errNotObject: the document is JSON but not an object.
var errNotObject = errors.New("not a JSON object")

// syntaxError is what scan reports for a document that is not JSON.
type syntaxError struct {
	msg string
	at  int
}

func (e *syntaxError) Error() string { return fmt.Sprintf("%s at byte %d", e.msg, e.at) }

// scan checks payload and returns its top-level event members and its shape.
func scan(payload []byte, values *pathNode) (topLevel, shapeKey, error) {
	if !utf8.Valid(payload) {
		return topLevel{}, shapeKey{}, &syntaxError{msg: "invalid UTF-8", at: 0}
	}
	s := scanner{data: payload, values: values}
	s.h1.SetSeed(seed1)
	s.h2.SetSeed(seed2)
	s.skipSpace()
	if s.pos >= len(s.data) || s.data[s.pos] != '{' {
		if err := s.value(values, 0, subjNone); err != nil {
			return topLevel{}, shapeKey{}, err
		}
		return topLevel{}, shapeKey{}, errNotObject
	}
	if err := s.object(values, 1, subjRoot); err != nil {
		return topLevel{}, shapeKey{}, err
	}
	s.skipSpace()
	if s.pos != len(s.data) {
		return topLevel{}, shapeKey{}, s.fail("data after the JSON value")
	}
	return s.top, shapeKey{s.h1.Sum64(), s.h2.Sum64()}, nil
}

func (s *scanner) fail(msg string) error { return &syntaxError{msg: msg, at: s.pos} }

func (s *scanner) write(b []byte) {
	s.h1.Write(b)
	s.h2.Write(b)
}

func (s *scanner) mark(c byte) {
	s.h1.WriteByte(c)
	s.h2.WriteByte(c)
}

func (s *scanner) skipSpace() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// value scans one value at the trie node for its path (nil: no value of
// this subtree is constrained); sp is where it stands for subject ids.
func (s *scanner) value(node *pathNode, depth int, sp subjectPath) error {
	if s.pos >= len(s.data) {
		return s.fail("unexpected end of JSON")
	}
	start := s.pos
	var kind byte
	switch c := s.data[s.pos]; {
	case c == '{':
		return s.object(node, depth+1, sp)
	case c == '[':
		return s.array(node, depth+1)
	case c == '"':
		if _, _, _, err := s.str(); err != nil {
			return err
		}
		kind = 's'
	case c == '-' || (c >= '0' && c <= '9'):
		integral, err := s.number()
		if err != nil {
			return err
		}
		kind = 'f'
		if integral {
			kind = 'i'
		}
	case c == 't':
		if err := s.literal("true"); err != nil {
			return err
		}
		kind = 'b'
	case c == 'f':
		if err := s.literal("false"); err != nil {
			return err
		}
		kind = 'b'
	case c == 'n':
		if err := s.literal("null"); err != nil {
			return err
		}
		kind = 'n'
	default:
		return s.fail(fmt.Sprintf("invalid character %q looking for a value", c))
	}
	s.mark(kind)
	if node != nil && node.value {
		s.write(s.data[start:s.pos])
		s.mark(0)
	}
	return nil
}

func (s *scanner) object(node *pathNode, depth int, sp subjectPath) error {
	if depth > maxDepth {
		return s.fail("nesting too deep")
	}
	s.pos++ // {
	s.mark('{')
	s.skipSpace()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		s.mark('}')
		return nil
	}
	for {
		s.skipSpace()
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			return s.fail("expected a member name")
		}
		keyStart := s.pos
		raw, decoded, escaped, err := s.str()
		if err != nil {
			return err
		}
		name := decoded
		if !escaped {
			name = string(raw) // short and not escaping: no allocation
		}
		s.write(s.data[keyStart:s.pos])
		s.skipSpace()
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return s.fail("expected ':' after a member name")
		}
		s.pos++
		s.skipSpace()
		valueStart := s.pos
		var child *pathNode
		if node != nil {
			child = node.children[name]
		}
		if err := s.value(child, depth, sp.child(name)); err != nil {
			return err
		}
		if sp != subjNone {
			s.top.subj.member(sp, name, s.data[valueStart:s.pos])
		}
		if sp == subjRoot {
			switch name {
			case "event":
				s.top.event = s.data[valueStart:s.pos]
			case "type":
				s.top.typ = s.data[valueStart:s.pos]
			case "details":
				s.top.details = s.data[valueStart:s.pos]
			}
		}
		s.skipSpace()
		if s.pos >= len(s.data) {
			return s.fail("unexpected end of JSON in an object")
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case '}':
			s.pos++
			s.mark('}')
			return nil
		default:
			return s.fail("expected ',' or '}' in an object")
		}
	}
}

func (s *scanner) array(node *pathNode, depth int) error {
	if depth > maxDepth {
		return s.fail("nesting too deep")
	}
	s.pos++ // [
	s.mark('[')
	item := node.child("[]")
	s.skipSpace()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		s.mark(']')
		return nil
	}
	for {
		s.skipSpace()
		if err := s.value(item, depth, subjNone); err != nil {
			return err
		}
		s.skipSpace()
		if s.pos >= len(s.data) {
			return s.fail("unexpected end of JSON in an array")
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case ']':
			s.pos++
			s.mark(']')
			return nil
		default:
			return s.fail("expected ',' or ']' in an array")
		}
	}
}

// str scans a string. It returns the raw text between the quotes and, only
// when the string holds escapes (member names rarely do), the decoded text.
func (s *scanner) str() (raw []byte, decoded string, escaped bool, err error) {
	s.pos++ // opening quote
	start := s.pos
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			raw = s.data[start:s.pos]
			s.pos++
			if !escaped {
				return raw, "", false, nil
			}
			return raw, decodeString(s.data[start-1 : s.pos]), true, nil
		case c == '\\':
			escaped = true
			s.pos++
			if s.pos >= len(s.data) {
				return nil, "", false, s.fail("unexpected end of JSON in a string")
			}
			switch s.data[s.pos] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.pos++
			case 'u':
				if s.pos+4 >= len(s.data) {
					return nil, "", false, s.fail("unexpected end of JSON in a string")
				}
				for _, h := range s.data[s.pos+1 : s.pos+5] {
					if !isHex(h) {
						return nil, "", false, s.fail("invalid \\u escape")
					}
				}
				s.pos += 5
			default:
				return nil, "", false, s.fail("invalid escape in a string")
			}
		case c < 0x20:
			return nil, "", false, s.fail("control character in a string")
		default:
			s.pos++
		}
	}
	return nil, "", false, s.fail("unexpected end of JSON in a string")
}

// decodeString decodes a quoted JSON string already checked by str. It is
// apart so that only strings with escapes pay for the decoding.
func decodeString(quoted []byte) string {
	var out string
	_ = json.Unmarshal(quoted, &out)
	return out
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// number scans a number and reports whether its value is an integer
// (exactly, from its digits: 1.0 and 1e2 are, 1.5 is not).
func (s *scanner) number() (bool, error) {
	if s.data[s.pos] == '-' {
		s.pos++
	}
	intStart := s.pos
	switch {
	case s.pos < len(s.data) && s.data[s.pos] == '0':
		s.pos++
	case s.pos < len(s.data) && s.data[s.pos] >= '1' && s.data[s.pos] <= '9':
		s.pos = digits(s.data, s.pos)
	default:
		return false, s.fail("invalid number")
	}
	intDigits := s.data[intStart:s.pos]
	var frac []byte
	if s.pos < len(s.data) && s.data[s.pos] == '.' {
		fs := s.pos + 1
		s.pos = digits(s.data, fs)
		if s.pos == fs {
			return false, s.fail("invalid number")
		}
		frac = s.data[fs:s.pos]
	}
	exp := 0
	if s.pos < len(s.data) && (s.data[s.pos] == 'e' || s.data[s.pos] == 'E') {
		s.pos++
		negative := false
		if s.pos < len(s.data) && (s.data[s.pos] == '+' || s.data[s.pos] == '-') {
			negative = s.data[s.pos] == '-'
			s.pos++
		}
		es := s.pos
		s.pos = digits(s.data, es)
		if s.pos == es {
			return false, s.fail("invalid number")
		}
		e, err := strconv.Atoi(string(s.data[es:s.pos]))
		if err != nil || e > 1<<30 {
			e = 1 << 30 // beyond any payload's digits either way
		}
		exp = e
		if negative {
			exp = -e
		}
	}
	// The value is intDigits.frac × 10^exp: an integer when no non-zero
	// digit falls after the decimal point once it has moved exp places.
	point := len(intDigits) + exp
	all := len(intDigits) + len(frac)
	for i := max(point, 0); i < all; i++ {
		var d byte
		if i < len(intDigits) {
			d = intDigits[i]
		} else {
			d = frac[i-len(intDigits)]
		}
		if d != '0' {
			return false, nil
		}
	}
	return true, nil
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

func (s *scanner) literal(word string) error {
	if len(s.data)-s.pos < len(word) || string(s.data[s.pos:s.pos+len(word)]) != word {
		return s.fail("invalid literal")
	}
	s.pos += len(word)
	return nil
}
