package filter

import (
	"bytes"
	"encoding/json"
)

// Plan evaluates the filters of many webhooks against one payload at a
// time: Read walks the payload once, picking out the values at the union of
// the filters' paths (and skipping every other member without decoding
// it), then Match decides each filter from those values alone. A Plan is
// immutable and safe for concurrent use.
type Plan struct {
	root   *node
	slots  int
	bound  [][]boundCond // by filter; nil: no filter (passes everything)
	active bool          // some filter has a condition
}

// node is one member name of the paths' trie: slot >= 0 where a path ends
// (its value is kept there), children where paths go on.
type node struct {
	children map[string]*node
	slot     int
}

type boundCond struct {
	slot int
	keys []string
}

// NewPlan prepares filters[i] to be matched as Match(i, ...). A nil or
// empty filter passes every payload.
func NewPlan(filters []*Filter) *Plan {
	p := &Plan{root: &node{slot: -1}, bound: make([][]boundCond, len(filters))}
	for i, f := range filters {
		if f.Empty() {
			continue
		}
		p.active = true
		for _, c := range f.conds {
			p.bound[i] = append(p.bound[i], boundCond{slot: p.slot(c.segs), keys: c.keys})
		}
	}
	return p
}

// slot returns the value slot of a path, adding the path to the trie.
func (p *Plan) slot(segs []string) int {
	n := p.root
	for _, s := range segs {
		c := n.children[s]
		if c == nil {
			if n.children == nil {
				n.children = map[string]*node{}
			}
			c = &node{slot: -1}
			n.children[s] = c
		}
		n = c
	}
	if n.slot < 0 {
		n.slot = p.slots
		p.slots++
	}
	return n.slot
}

// Active reports whether any filter of the plan has a condition: when not,
// every payload passes and Read need not be called.
func (p *Plan) Active() bool { return p.active }

// Values are one payload's values at a plan's paths (as matched).
type Values struct {
	keys  []string
	found []bool
}

// Read picks the values of the plan's paths out of payload in one pass. A
// payload that is not a JSON object has none.
func (p *Plan) Read(payload []byte) Values {
	v := Values{keys: make([]string, p.slots), found: make([]bool, p.slots)}
	if !p.active {
		return v
	}
	r := reader{data: payload, out: &v}
	if !r.value(p.root) {
		clear(v.found)
	}
	return v
}

// Match reports whether filter i passes a payload with values v.
func (p *Plan) Match(i int, v Values) bool {
	for _, c := range p.bound[i] {
		if !v.found[c.slot] {
			return false
		}
		ok := false
		for _, k := range c.keys {
			if k == v.keys[c.slot] {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// reader walks a JSON document along a plan's trie. Each method reads one
// value at pos and reports false on a syntax error.
type reader struct {
	data []byte
	pos  int
	out  *Values
}

func (r *reader) space() {
	for r.pos < len(r.data) {
		switch r.data[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

// value reads one value; n is its trie node (nil: nobody wants it).
func (r *reader) value(n *node) bool {
	r.space()
	if r.pos >= len(r.data) {
		return false
	}
	if n != nil && n.slot >= 0 {
		r.out.found[n.slot] = false // a repeated member: the last one counts
	}
	c := r.data[r.pos]
	switch {
	case c == '{' && n != nil && n.children != nil:
		return r.object(n)
	case c == '{' || c == '[':
		return r.skipComposite()
	}
	start := r.pos
	if !r.skipScalar() {
		return false
	}
	if n != nil && n.slot >= 0 {
		k, ok := keyOf(r.data[start:r.pos])
		if !ok {
			return false
		}
		r.out.keys[n.slot], r.out.found[n.slot] = k, true
	}
	return true
}

// object reads an object whose members n's children may want.
func (r *reader) object(n *node) bool {
	r.pos++ // {
	r.space()
	if r.pos < len(r.data) && r.data[r.pos] == '}' {
		r.pos++
		return true
	}
	for {
		r.space()
		start := r.pos
		if r.pos >= len(r.data) || r.data[r.pos] != '"' || !r.skipString() {
			return false
		}
		name, ok := memberName(r.data[start:r.pos])
		if !ok {
			return false
		}
		r.space()
		if r.pos >= len(r.data) || r.data[r.pos] != ':' {
			return false
		}
		r.pos++
		if !r.value(n.children[name]) {
			return false
		}
		r.space()
		if r.pos >= len(r.data) {
			return false
		}
		switch r.data[r.pos] {
		case ',':
			r.pos++
		case '}':
			r.pos++
			return true
		default:
			return false
		}
	}
}

// memberName decodes a quoted member name (without allocating when it has
// no escapes: the map lookup does not keep it).
func memberName(quoted []byte) (string, bool) {
	inner := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner), true
	}
	var s string
	if err := json.Unmarshal(quoted, &s); err != nil {
		return "", false
	}
	return s, true
}

// skipString moves past the string at pos.
func (r *reader) skipString() bool {
	for i := r.pos + 1; i < len(r.data); i++ {
		switch r.data[i] {
		case '\\':
			i++
		case '"':
			r.pos = i + 1
			return true
		}
	}
	return false
}

// skipScalar moves past the string, number or literal at pos.
func (r *reader) skipScalar() bool {
	if r.data[r.pos] == '"' {
		return r.skipString()
	}
	start := r.pos
	for r.pos < len(r.data) {
		switch r.data[r.pos] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return r.pos > start
		}
		r.pos++
	}
	return r.pos > start
}

// skipComposite moves past the object or array at pos, strings and nesting
// included, without decoding anything.
func (r *reader) skipComposite() bool {
	depth := 0
	for r.pos < len(r.data) {
		switch r.data[r.pos] {
		case '"':
			if !r.skipString() {
				return false
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				r.pos++
				return true
			}
		}
		r.pos++
	}
	return false
}
