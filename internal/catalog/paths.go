package catalog

import "strings"

// Member paths are how content filters name payload fields: member names
// joined by "." from the payload's root ("card_transaction.message_type").
// A path never crosses an array.

// PathInfo is what an event type's schema declares at a member path.
type PathInfo struct {
	// Declared: the schema names every member of the path (through
	// properties, $ref, allOf/anyOf/oneOf and if/then/else).
	Declared bool
	// Types are the JSON types a value there may have ("string", "number",
	// "integer", "boolean", "null", "object", "array"); nil when the schema
	// does not restrict them.
	Types []string
}

// Scalar reports whether a value at the path may be a string, a number, a
// boolean or null (a content filter can match only those).
func (p PathInfo) Scalar() bool {
	if p.Types == nil {
		return true
	}
	for _, t := range p.Types {
		if t != "object" && t != "array" {
			return true
		}
	}
	return false
}

// Allows reports whether a value of JSON type kind ("string", "number",
// "boolean" or "null") may be at the path.
func (p PathInfo) Allows(kind string) bool {
	if p.Types == nil {
		return true
	}
	for _, t := range p.Types {
		if t == kind || (kind == "number" && t == "integer") {
			return true
		}
	}
	return false
}

// Path says what the schema of event type name declares at path (member
// names as Segments gives them). An unknown event type declares nothing.
func (c *Catalog) Path(name string, segs []string) PathInfo {
	t, ok := c.byName[name]
	if !ok || len(segs) == 0 {
		return PathInfo{}
	}
	var at []map[string]any
	collect(t.tree, t.tree, segs, &at, 0)
	if len(at) == 0 {
		return PathInfo{}
	}
	info := PathInfo{Declared: true}
	seen := map[string]bool{}
	for _, s := range at {
		types, ok := typesOf(s, t.tree, 0)
		if !ok {
			return PathInfo{Declared: true} // one branch allows anything
		}
		for _, ty := range types {
			if !seen[ty] {
				seen[ty] = true
				info.Types = append(info.Types, ty)
			}
		}
	}
	return info
}

// Segments splits a member path into its member names.
func Segments(path string) []string { return strings.Split(path, ".") }

// maxRefs bounds how many $refs one lookup follows (the schemas may be
// recursive).
const maxRefs = 32

// collect appends to out the subschemas of schema that describe the value
// at segs (relative to schema).
func collect(schema, root map[string]any, segs []string, out *[]map[string]any, refs int) {
	if schema == nil || refs > maxRefs {
		return
	}
	if len(segs) == 0 {
		*out = append(*out, schema)
		return
	}
	if props, ok := schema["properties"].(map[string]any); ok {
		if sub, ok := props[segs[0]].(map[string]any); ok {
			collect(sub, root, segs[1:], out, refs)
		}
	}
	for _, sub := range branches(schema, root) {
		collect(sub, root, segs, out, refs+1)
	}
}

// branches are the subschemas that apply to the same instance as schema:
// its $ref target and its allOf, anyOf, oneOf, then and else members.
func branches(schema, root map[string]any) []map[string]any {
	var out []map[string]any
	if ref, ok := schema["$ref"].(string); ok {
		if name, ok := strings.CutPrefix(ref, "#/$defs/"); ok {
			defs, _ := root["$defs"].(map[string]any)
			if target, ok := defs[name].(map[string]any); ok {
				out = append(out, target)
			}
		}
	}
	for _, kw := range []string{"allOf", "anyOf", "oneOf"} {
		list, _ := schema[kw].([]any)
		for _, sub := range list {
			if m, ok := sub.(map[string]any); ok {
				out = append(out, m)
			}
		}
	}
	for _, kw := range []string{"then", "else"} {
		if m, ok := schema[kw].(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// typesOf returns the JSON types schema allows, or false when it does not
// restrict them.
func typesOf(schema, root map[string]any, refs int) ([]string, bool) {
	switch t := schema["type"].(type) {
	case string:
		return []string{t}, true
	case []any:
		var out []string
		for _, v := range t {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
		return out, true
	}
	if refs > maxRefs {
		return nil, false
	}
	subs := branches(schema, root)
	if len(subs) == 0 {
		return nil, false
	}
	var out []string
	for _, sub := range subs {
		types, ok := typesOf(sub, root, refs+1)
		if !ok {
			return nil, false
		}
		out = append(out, types...)
	}
	return out, true
}
