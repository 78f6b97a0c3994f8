package receiver_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/heraldhq/herald/receiver"
)

var (
	amountType = reflect.TypeFor[receiver.Amount]()
	flagType   = reflect.TypeFor[receiver.Flag]()
)

// goField is one JSON member of a Go struct.
type goField struct {
	typ      reflect.Type
	omit     bool // omitempty or omitzero
	goName   string
	embedded string // the embedded struct it comes from, if any
}

// jsonFields lists the JSON members of struct type typ, with the members of
// embedded structs flattened as encoding/json does.
func jsonFields(t *testing.T, typ reflect.Type) map[string]goField {
	t.Helper()
	out := map[string]goField{}
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct && f.Tag.Get("json") == "" {
			for name, inner := range jsonFields(t, f.Type) {
				if _, dup := out[name]; dup {
					t.Errorf("%s: member %s defined twice", typ, name)
				}
				inner.embedded = f.Name
				out[name] = inner
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" || name == "-" {
			t.Errorf("%s.%s has no json name (tag %q)", typ, f.Name, tag)
			continue
		}
		if _, dup := out[name]; dup {
			t.Errorf("%s: member %s defined twice", typ, name)
		}
		omit := slices.Contains(strings.Split(opts, ","), "omitempty") || slices.Contains(strings.Split(opts, ","), "omitzero")
		out[name] = goField{typ: f.Type, omit: omit, goName: f.Name}
	}
	return out
}

// schemaTypes returns a schema's "type" as a sorted list.
func schemaTypes(s map[string]any) []string {
	switch v := s["type"].(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, x.(string))
		}
		sort.Strings(out)
		return out
	}
	return nil
}

// resolve follows a local "$ref".
func resolve(t *testing.T, root, s map[string]any) map[string]any {
	t.Helper()
	ref, ok := s["$ref"].(string)
	if !ok {
		return s
	}
	cur := any(root)
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		cur = cur.(map[string]any)[part]
	}
	return cur.(map[string]any)
}

// checkObject checks that Go type typ holds every member of the object
// schema s, with a Go type that fits the member's schema, and no member the
// schema does not have.
func checkObject(t *testing.T, path string, root, s map[string]any, typ reflect.Type) {
	t.Helper()
	s = resolve(t, root, s)
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	props, _ := s["properties"].(map[string]any)
	if len(props) == 0 {
		if typ.Kind() != reflect.Map {
			t.Errorf("%s: free-form object held by %s, want a map", path, typ)
		}
		return
	}
	if typ.Kind() != reflect.Struct {
		t.Errorf("%s: object held by %s, want a struct", path, typ)
		return
	}
	fields := jsonFields(t, typ)
	var required []string
	for _, r := range asSlice(s["required"]) {
		required = append(required, r.(string))
	}
	for name, raw := range props {
		member := path + "." + name
		f, ok := fields[name]
		if !ok {
			t.Errorf("%s: no field of %s has json name %q", member, typ, name)
			continue
		}
		ms := resolve(t, root, raw.(map[string]any))
		if slices.Contains(required, name) && f.omit {
			t.Errorf("%s: required, but %s.%s is omitted when empty", member, typ, f.goName)
		}
		checkMember(t, member, root, ms, f.typ, slices.Contains(required, name))
	}
	for name, f := range fields {
		if _, ok := props[name]; !ok {
			t.Errorf("%s: field %s.%s (json %q) is not in the schema", path, typ, f.goName, name)
		}
	}
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// checkMember checks the Go type of one member against its schema.
func checkMember(t *testing.T, member string, root, s map[string]any, typ reflect.Type, required bool) {
	t.Helper()
	types := strings.Join(schemaTypes(s), ",")
	switch types {
	case "string":
		if typ.Kind() != reflect.String && (typ.Kind() != reflect.Pointer || typ.Elem().Kind() != reflect.String) {
			t.Errorf("%s: string held by %s", member, typ)
		}
	case "boolean":
		if typ != reflect.TypeFor[*bool]() {
			t.Errorf("%s: boolean held by %s, want *bool", member, typ)
		}
	case "integer":
		if typ != reflect.TypeFor[*int]() {
			t.Errorf("%s: integer held by %s, want *int", member, typ)
		}
	case "number,string", "null,number,string":
		if typ != amountType {
			t.Errorf("%s: %s held by %s, want Amount", member, types, typ)
		}
	case "boolean,string":
		if typ != flagType {
			t.Errorf("%s: %s held by %s, want Flag", member, types, typ)
		}
	case "object":
		if required && typ.Kind() == reflect.Pointer {
			t.Errorf("%s: required object held by a pointer", member)
		}
		checkObject(t, member, root, s, typ)
	case "array":
		if typ.Kind() != reflect.Slice {
			t.Errorf("%s: array held by %s", member, typ)
			return
		}
		items := resolve(t, root, s["items"].(map[string]any))
		checkMember(t, member+"[]", root, items, typ.Elem(), false)
	default:
		t.Errorf("%s: schema type %q not handled by the test", member, types)
	}
}

// TestTypesFollowSchemas checks every event's Go type against its JSON
// Schema: every member of the schema is a field with that json name and a
// fitting Go type (string, *bool, *int, Amount, Flag, struct, slice, map),
// nested objects included, required members are never omitted, and no field
// is outside the schema.
func TestTypesFollowSchemas(t *testing.T) {
	for _, ty := range newCatalog(t).Types() {
		t.Run(ty.Name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(catalogueDir, "schemas", ty.Name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var schema map[string]any
			if err := json.Unmarshal(b, &schema); err != nil {
				t.Fatal(err)
			}
			// The base type, and every variant type, must hold the schema.
			samples := []json.RawMessage{ty.Sample}
			for _, v := range ty.Variants {
				samples = append(samples, v.Sample)
			}
			for _, sample := range samples {
				ev := mustParse(t, sample)
				checkObject(t, ty.Name, schema, schema, reflect.TypeOf(ev))
			}
		})
	}
}
