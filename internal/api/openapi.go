package api

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/heraldhq/herald/internal/catalog"
)

// openAPIFiles is the hand-written OpenAPI 3.1 document of this API:
// openapi.json holds everything but components.schemas, which are in
// schemas.json. openAPIDocument adds what comes from the event catalogue.
//
//go:embed openapi/openapi.json openapi/schemas.json
var openAPIFiles embed.FS

// eventSchemaPrefix names the component schema of an event type:
// "event.TRANSACTION" is the catalogue's schema of TRANSACTION.
const eventSchemaPrefix = "event."

// openAPIHandler serves GET /openapi.json (no authentication). The document
// is assembled on first use; cat nil means the embedded catalogue.
func openAPIHandler(cat *catalog.Catalog) http.HandlerFunc {
	doc := sync.OnceValues(func() ([]byte, error) {
		if cat == nil {
			c, err := catalog.New()
			if err != nil {
				return nil, err
			}
			cat = c
		}
		return openAPIDocument(cat)
	})
	return func(w http.ResponseWriter, _ *http.Request) {
		b, err := doc()
		if err != nil {
			writeError(w, &apiError{Status: http.StatusInternalServerError, Code: codeInternal,
				Message: "the OpenAPI document cannot be built: " + err.Error()})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(b)
	}
}

// openAPIDocument assembles the OpenAPI document: openapi.json with the
// schemas of schemas.json, plus from the catalogue one schema per event type
// ("event.<NAME>", the JSON Schema GET /event-types/{name} serves), the
// names EventName and SubscribableEvent may take, and EventPayload as oneOf
// the event types. The answer is indented JSON.
func openAPIDocument(cat *catalog.Catalog) ([]byte, error) {
	var doc, components, schemas map[string]json.RawMessage
	if err := readOpenAPIFile("openapi/openapi.json", &doc); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(doc["components"], &components); err != nil {
		return nil, fmt.Errorf("openapi.json components: %w", err)
	}
	if err := readOpenAPIFile("openapi/schemas.json", &schemas); err != nil {
		return nil, err
	}
	var (
		names []string
		refs  []map[string]string
	)
	for _, t := range cat.Types() {
		key := eventSchemaPrefix + t.Name
		embedded, err := embedSchema(t.Schema, key)
		if err != nil {
			return nil, fmt.Errorf("event type %s: %w", t.Name, err)
		}
		for k, v := range embedded {
			if _, dup := schemas[k]; dup {
				return nil, fmt.Errorf("event type %s: schema %s is defined twice", t.Name, k)
			}
			schemas[k] = v
		}
		names = append(names, t.Name)
		refs = append(refs, map[string]string{"$ref": "#/components/schemas/" + key})
	}
	for name, add := range map[string]map[string]any{
		"EventName":         {"enum": names},
		"SubscribableEvent": {"enum": append(slices.Clone(names), catalog.Wildcard)},
		"EventPayload":      {"oneOf": refs},
	} {
		merged, err := addMembers(schemas[name], add)
		if err != nil {
			return nil, fmt.Errorf("schema %s: %w", name, err)
		}
		schemas[name] = merged
	}
	var err error
	if components["schemas"], err = json.Marshal(schemas); err != nil {
		return nil, err
	}
	if doc["components"], err = json.Marshal(components); err != nil {
		return nil, err
	}
	compact := orderedObject(doc, "openapi", "info", "jsonSchemaDialect", "servers", "security", "tags", "paths", "components")
	var out bytes.Buffer
	if err := json.Indent(&out, compact, "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// embedSchema turns a catalogue schema, a JSON Schema resource of its own
// ($id, $schema, references such as #/$defs/x relative to that $id), into
// component schemas: key itself, and one key.x per member x of its $defs;
// $id and $schema go, and every reference becomes document-level
// (#/components/schemas/key.x). Client generators resolve references
// against the document's root and ignore $id (openapi-typescript stops at
// the first #/$defs reference otherwise), and they would read $defs left
// in place as a member of the payload. Anything that would still depend on
// the resource (a nested $id, anchor or $defs, a reference to another
// document) is refused rather than left broken.
func embedSchema(raw json.RawMessage, key string) (map[string]json.RawMessage, error) {
	if !componentName.MatchString(key) {
		return nil, fmt.Errorf("%q cannot name a component schema", key)
	}
	var root map[string]any
	if err := json.Unmarshal(raw, &root); err != nil {
		return nil, err
	}
	if _, ok := root["definitions"]; ok {
		return nil, fmt.Errorf("definitions is not supported: use $defs")
	}
	defs, _ := root["$defs"].(map[string]any)
	delete(root, "$id")
	delete(root, "$schema")
	delete(root, "$defs")
	parts := map[string]any{key: root}
	for name, def := range defs {
		if !componentName.MatchString(name) {
			return nil, fmt.Errorf("$defs member %q cannot name a component schema", name)
		}
		parts[key+"."+name] = def
	}
	out := make(map[string]json.RawMessage, len(parts))
	for k, part := range parts {
		if err := rebaseRefs(part, key); err != nil {
			return nil, err
		}
		b, err := json.Marshal(part)
		if err != nil {
			return nil, err
		}
		out[k] = b
	}
	return out, nil
}

// componentName is what OpenAPI allows as a key of components.schemas.
var componentName = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// documentRef is the document-level form of ref, a reference within the
// schema resource that became component key: #/$defs/x/... is
// #/components/schemas/key.x/..., any other #/... is
// #/components/schemas/key/....
func documentRef(ref, key string) (string, error) {
	if ref != "#" && !strings.HasPrefix(ref, "#/") {
		return "", fmt.Errorf("$ref %q is not a reference within the schema", ref)
	}
	if rest, ok := strings.CutPrefix(ref, "#/$defs/"); ok {
		name, tail, _ := strings.Cut(rest, "/")
		if tail != "" {
			tail = "/" + tail
		}
		return "#/components/schemas/" + key + "." + name + tail, nil
	}
	return "#/components/schemas/" + key + strings.TrimPrefix(ref, "#"), nil
}

// rebaseRefs rewrites the references of schema v and its subschemas into
// document-level ones (see documentRef). The values of data keywords
// (const, enum, default, examples) are not schemas and are left alone; the
// members of properties and the like are all schemas, whatever their names.
func rebaseRefs(v any, key string) error {
	switch x := v.(type) {
	case map[string]any:
		for _, kw := range []string{"$id", "$anchor", "$dynamicAnchor", "$dynamicRef", "$recursiveRef", "$defs", "definitions"} {
			if _, ok := x[kw]; ok {
				return fmt.Errorf("%s inside an event schema cannot be embedded", kw)
			}
		}
		if ref, ok := x["$ref"].(string); ok {
			doc, err := documentRef(ref, key)
			if err != nil {
				return err
			}
			x["$ref"] = doc
		}
		for k, c := range x {
			switch k {
			case "const", "enum", "default", "examples", "example":
			case "properties", "patternProperties", "dependentSchemas":
				named, _ := c.(map[string]any)
				for _, sub := range named {
					if err := rebaseRefs(sub, key); err != nil {
						return err
					}
				}
			default:
				if err := rebaseRefs(c, key); err != nil {
					return err
				}
			}
		}
	case []any:
		for _, c := range x {
			if err := rebaseRefs(c, key); err != nil {
				return err
			}
		}
	}
	return nil
}

func readOpenAPIFile(name string, dst any) error {
	b, err := openAPIFiles.ReadFile(name)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, dst); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// addMembers sets members of the JSON object raw; an existing member may
// not be overwritten.
func addMembers(raw json.RawMessage, add map[string]any) (json.RawMessage, error) {
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	for k, v := range add {
		if _, ok := obj[k]; ok {
			return nil, fmt.Errorf("member %q is set by Herald and must not be written by hand", k)
		}
		obj[k] = v
	}
	return json.Marshal(obj)
}

// orderedObject encodes obj with the given keys first, in that order, then
// the others sorted (encoding/json would sort them all).
func orderedObject(obj map[string]json.RawMessage, first ...string) []byte {
	keys := make([]string, 0, len(obj))
	for _, k := range first {
		if _, ok := obj[k]; ok {
			keys = append(keys, k)
		}
	}
	var rest []string
	for k := range obj {
		if !slices.Contains(first, k) {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range append(keys, rest...) {
		if i > 0 {
			b.WriteByte(',')
		}
		name, _ := json.Marshal(k)
		b.Write(name)
		b.WriteByte(':')
		b.Write(obj[k])
	}
	b.WriteByte('}')
	return b.Bytes()
}
