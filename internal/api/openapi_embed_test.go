package api

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
)

// TestEmbedSchema: a catalogue schema embedded in the OpenAPI document
// loses $id and $schema, its $defs become component schemas of their own,
// and its references become document-level; data keywords are left alone;
// what cannot be embedded is refused.
func TestEmbedSchema(t *testing.T) {
	in := `{"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "https://herald.dev/schemas/X.json",
		"type": "object",
		"properties": {
			"a": {"$ref": "#/$defs/a"},
			"default": {"$ref": "#/$defs/b/anyOf/0"},
			"self": {"$ref": "#"},
			"sibling": {"$ref": "#/properties/a"}
		},
		"enum": [{"$ref": "#/$defs/a"}],
		"examples": [{"$ref": "#/data"}],
		"$defs": {
			"a": {"type": "object", "properties": {"b": {"$ref": "#/$defs/b"}}},
			"b": {"anyOf": [{"type": "string"}, {"$ref": "#/$defs/a"}]}
		}}`
	got, err := embedSchema(json.RawMessage(in), "event.X")
	if err != nil {
		t.Fatal(err)
	}
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, []string{"event.X", "event.X.a", "event.X.b"}) {
		t.Fatalf("components %v, want event.X and one per $defs member", keys)
	}
	const c = "#/components/schemas/"
	for key, want := range map[string][]string{
		"event.X": {
			`"a":{"$ref":"` + c + `event.X.a"}`,
			`"default":{"$ref":"` + c + `event.X.b/anyOf/0"}`,
			`"self":{"$ref":"` + c + `event.X"}`,
			`"sibling":{"$ref":"` + c + `event.X/properties/a"}`,
			`"enum":[{"$ref":"#/$defs/a"}]`,
			`"examples":[{"$ref":"#/data"}]`,
		},
		"event.X.a": {`"b":{"$ref":"` + c + `event.X.b"}`},
		"event.X.b": {`{"$ref":"` + c + `event.X.a"}`},
	} {
		for _, w := range want {
			if !strings.Contains(string(got[key]), w) {
				t.Errorf("%s lacks %s:\n%s", key, w, got[key])
			}
		}
	}
	for _, k := range []string{"$id", "$schema", "$defs"} {
		if strings.Contains(string(got["event.X"]), `"`+k+`"`) {
			t.Errorf("event.X keeps %s: %s", k, got["event.X"])
		}
	}
	for _, bad := range []string{
		`{"properties": {"a": {"$ref": "other.json#/$defs/a"}}}`,
		`{"properties": {"a": {"$ref": "#a"}}}`,
		`{"properties": {"a": {"$id": "https://x/a.json"}}}`,
		`{"properties": {"a": {"$defs": {"b": {}}}}}`,
		`{"$defs": {"a": {"$anchor": "a"}}}`,
		`{"$defs": {"a b": {}}}`,
		`{"definitions": {"a": {}}}`,
		`{"items": {"$dynamicRef": "#meta"}}`,
	} {
		if _, err := embedSchema(json.RawMessage(bad), "event.X"); err == nil {
			t.Errorf("embedSchema(%s) accepted", bad)
		}
	}
}
