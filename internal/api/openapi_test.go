package api_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/heraldhq/herald/internal/api"
	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/heraldtest"
)

// The OpenAPI document (internal/api/openapi/) must describe the router and
// the answers exactly: these tests fail when either drifts.

// openAPIBase is the URL the document is compiled under.
const openAPIBase = "https://herald.dev/openapi.json"

// httpMethods are the operations a path item may hold.
var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// pathParam matches a {param} of a documented path.
var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

// openAPIDoc is the document, decoded, with its schemas compiled strictly:
// every object schema of components/schemas (the catalogue's event schemas
// aside) that lists properties and says nothing of others gets
// unevaluatedProperties false, so that an answer with an undocumented
// member fails validation.
type openAPIDoc struct {
	raw      []byte
	doc      map[string]any
	compiler *jsonschema.Compiler
	compiled map[string]*jsonschema.Schema
}

func loadOpenAPI(t *testing.T, raw []byte) *openAPIDoc {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("the OpenAPI document is not valid JSON: %v", err)
	}
	strict, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range member(strict, "components", "schemas").(map[string]any) {
		if !strings.HasPrefix(name, "event.") {
			closeObjects(s)
		}
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(openAPIBase, strict); err != nil {
		t.Fatal(err)
	}
	return &openAPIDoc{raw: raw, doc: doc, compiler: c, compiled: map[string]*jsonschema.Schema{}}
}

// closeObjects adds unevaluatedProperties false to every schema under v
// that has properties and no additionalProperties.
func closeObjects(v any) {
	switch x := v.(type) {
	case map[string]any:
		_, hasProps := x["properties"].(map[string]any)
		_, open := x["additionalProperties"]
		if hasProps && !open {
			x["unevaluatedProperties"] = false
		}
		for _, child := range x {
			closeObjects(child)
		}
	case []any:
		for _, child := range x {
			closeObjects(child)
		}
	}
}

// member follows keys down a decoded JSON document (nil when absent).
func member(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// pointer is the URI fragment of a JSON pointer to keys.
func pointer(keys ...string) string {
	var b strings.Builder
	for _, k := range keys {
		k = strings.NewReplacer("~", "~0", "/", "~1").Replace(k)
		b.WriteString("/" + url.PathEscape(k))
	}
	return b.String()
}

// validate checks a JSON value against the schema at fragment.
func (d *openAPIDoc) validate(t *testing.T, fragment string, body []byte) error {
	t.Helper()
	s, ok := d.compiled[fragment]
	if !ok {
		var err error
		if s, err = d.compiler.Compile(openAPIBase + "#" + fragment); err != nil {
			t.Fatalf("compile %s: %v", fragment, err)
		}
		d.compiled[fragment] = s
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return err
	}
	return s.Validate(v)
}

// schemaRef is the fragment of components/schemas/name.
func schemaRef(name string) string { return pointer("components", "schemas", name) }

// properties lists the properties and required members of a component
// schema, following allOf.
func (d *openAPIDoc) properties(name string) (props, required []string) {
	s, _ := member(d.doc, "components", "schemas", name).(map[string]any)
	subs, _ := s["allOf"].([]any)
	for _, sub := range subs {
		ref, _ := member(sub, "$ref").(string)
		p, r := d.properties(strings.TrimPrefix(ref, "#/components/schemas/"))
		props, required = append(props, p...), append(required, r...)
	}
	own, _ := s["properties"].(map[string]any)
	props = append(props, slices.Collect(maps.Keys(own))...)
	req, _ := s["required"].([]any)
	for _, r := range req {
		required = append(required, r.(string))
	}
	slices.Sort(props)
	slices.Sort(required)
	return slices.Compact(props), slices.Compact(required)
}

// operations lists every documented method and path.
func (d *openAPIDoc) operations() [][2]string {
	var ops [][2]string
	for path, item := range d.doc["paths"].(map[string]any) {
		for _, m := range httpMethods {
			if member(item, m) != nil {
				ops = append(ops, [2]string{strings.ToUpper(m), path})
			}
		}
	}
	slices.SortFunc(ops, func(a, b [2]string) int { return strings.Compare(a[1]+a[0], b[1]+b[0]) })
	return ops
}

// checkAnswer checks an answer against the documented responses of the
// operation: its status is documented (or covered by default), its body
// matches the documented schema (or is empty when none is documented), and
// required headers are there.
func (d *openAPIDoc) checkAnswer(t *testing.T, method, path string, r heraldtest.Response) {
	t.Helper()
	op := member(d.doc, "paths", path, strings.ToLower(method))
	if op == nil {
		t.Fatalf("%s %s is not documented", method, path)
	}
	code := strconv.Itoa(r.Status)
	where := []string{"paths", path, strings.ToLower(method), "responses", code}
	resp := member(op, "responses", code)
	if resp == nil {
		where[4], resp = "default", member(op, "responses", "default")
	}
	if resp == nil {
		t.Errorf("%s %s answered %d, which is not documented: %s", method, path, r.Status, r.Body)
		return
	}
	if ref, ok := member(resp, "$ref").(string); ok {
		where = strings.Split(strings.TrimPrefix(ref, "#/"), "/")
		resp = member(d.doc, where...)
	}
	headers, _ := member(resp, "headers").(map[string]any)
	for name, h := range headers {
		if member(h, "required") == true && r.Header.Get(name) == "" {
			t.Errorf("%s %s %d lacks the documented header %s", method, path, r.Status, name)
		}
	}
	if member(resp, "content") == nil {
		if len(bytes.TrimSpace(r.Body)) > 0 {
			t.Errorf("%s %s %d: documented without a body, answered %s", method, path, r.Status, r.Body)
		}
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s %s %d: Content-Type %q, want application/json", method, path, r.Status, ct)
	}
	fragment := pointer(append(where, "content", "application/json", "schema")...)
	if err := d.validate(t, fragment, r.Body); err != nil {
		t.Errorf("%s %s %d: the answer does not match the document: %v\nanswer: %s", method, path, r.Status, err, r.Body)
	}
}

func servedDocument(t *testing.T) []byte {
	t.Helper()
	cat, err := catalog.New()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := api.OpenAPIDocument(cat)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// The document is valid JSON, OpenAPI 3.1, every $ref resolves, every
// schema compiles, and it has the security schemes and headers of the API.
func TestOpenAPIDocumentIsValid(t *testing.T) {
	d := loadOpenAPI(t, servedDocument(t))
	if v, _ := d.doc["openapi"].(string); !regexp.MustCompile(`^3\.1\.\d+$`).MatchString(v) {
		t.Errorf("openapi = %q, want 3.1.x", v)
	}
	var refs func(v any)
	refs = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			// Generators resolve every reference against the document
			// root: no schema may be a resource of its own.
			if id, resource := x["$id"]; resource {
				t.Errorf("a schema keeps $id %v: its references would not resolve against the document", id)
			}
			if ref, ok := x["$ref"].(string); ok && (!strings.HasPrefix(ref, "#/") || member(d.doc, strings.Split(ref[2:], "/")...) == nil) {
				t.Errorf("$ref %s does not resolve within the document", ref)
			}
			for _, c := range x {
				refs(c)
			}
		case []any:
			for _, c := range x {
				refs(c)
			}
		}
	}
	refs(d.doc)
	// Rules of the OpenAPI 3.1 schema that hand edits break most easily.
	var responses []any
	for _, op := range d.operations() {
		for _, r := range member(d.doc, "paths", op[1], strings.ToLower(op[0]), "responses").(map[string]any) {
			responses = append(responses, r)
		}
	}
	for _, r := range member(d.doc, "components", "responses").(map[string]any) {
		responses = append(responses, r)
	}
	for _, r := range responses {
		if _, ref := member(r, "$ref").(string); !ref && member(r, "description") == nil {
			t.Errorf("a response has no description: %v", r)
		}
	}
	var params []any
	for _, item := range d.doc["paths"].(map[string]any) {
		ps, _ := member(item, "parameters").([]any)
		params = append(params, ps...)
	}
	for _, p := range member(d.doc, "components", "parameters").(map[string]any) {
		params = append(params, p)
	}
	for _, p := range params {
		if _, ref := member(p, "$ref").(string); ref {
			continue
		}
		if member(p, "name") == nil || member(p, "schema") == nil || (member(p, "in") == "path") != (member(p, "required") == true) {
			t.Errorf("parameter %v: name and schema are required, and required is true exactly for path parameters", p)
		}
	}
	for name := range member(d.doc, "components", "schemas").(map[string]any) {
		if _, err := d.compiler.Compile(openAPIBase + "#" + schemaRef(name)); err != nil {
			t.Errorf("schema %s does not compile: %v", name, err)
		}
	}
	for scheme, want := range map[string]map[string]any{
		"apiKey": {"type": "apiKey", "in": "header", "name": "apikey"},
		"bearer": {"type": "http", "scheme": "bearer"},
	} {
		for k, v := range want {
			if got := member(d.doc, "components", "securitySchemes", scheme, k); got != v {
				t.Errorf("security scheme %s: %s = %v, want %v", scheme, k, got, v)
			}
		}
	}
	headers := map[string]bool{}
	for _, p := range member(d.doc, "components", "parameters").(map[string]any) {
		if member(p, "in") == "header" {
			headers[member(p, "name").(string)] = true
		}
	}
	for _, h := range []string{"Herald-Tenant", "Idempotency-Key", "x-nymos-idempotency-key"} {
		if !headers[h] {
			t.Errorf("header parameter %s is not documented", h)
		}
	}
	ids := map[string]bool{}
	for _, op := range d.operations() {
		id, _ := member(d.doc, "paths", op[1], strings.ToLower(op[0]), "operationId").(string)
		if id == "" || ids[id] {
			t.Errorf("%s %s: operationId %q is missing or not unique", op[0], op[1], id)
		}
		ids[id] = true
	}
	// Every catalogue sample is an EventPayload (exactly one of the
	// event types' schemas), and a payload of no known type is not.
	cat, _ := catalog.New()
	for _, ty := range cat.Types() {
		samples := []json.RawMessage{ty.Sample}
		for _, v := range ty.Variants {
			samples = append(samples, v.Sample)
		}
		for _, s := range samples {
			if err := d.validate(t, schemaRef("EventPayload"), s); err != nil {
				t.Errorf("sample of %s is not a documented EventPayload: %v", ty.Name, err)
			}
		}
	}
	if d.validate(t, schemaRef("EventPayload"), []byte(`{"event": "NOPE"}`)) == nil {
		t.Errorf("EventPayload accepts an unknown event")
	}
}

// Every route of the router is documented with its method and path
// parameters, and every documented operation is a route. /webhooks/{id}:ping
// is served by the route /webhooks/{id} (chi cannot route on a suffix), so a
// documented ":verb" must be one the handler knows.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	router, ok := api.New(api.Config{}).(chi.Routes)
	if !ok {
		t.Fatal("api.New does not return a chi router")
	}
	type route struct{ method, pattern string }
	routes := map[route]bool{}
	if err := chi.Walk(router, func(method, pattern string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routes[route{method, pattern}] = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	d := loadOpenAPI(t, servedDocument(t))
	documented := map[route]bool{}
	for _, op := range d.operations() {
		method, path := op[0], op[1]
		rctx := chi.NewRouteContext()
		pattern := router.Find(rctx, method, pathParam.ReplaceAllString(path, "x1"))
		if pattern == "" {
			t.Errorf("%s %s is documented but the router has no such route", method, path)
			continue
		}
		if pattern != path {
			verb, ok := strings.CutPrefix(path, pattern+":")
			if !ok || !api.Verbs[pattern][verb] {
				t.Errorf("%s %s is documented, but the router serves it as %s, which knows no verb %q", method, path, pattern, verb)
			}
		}
		documented[route{method, pattern}] = true
		var want []string
		for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
			want = append(want, m[1])
		}
		if got := rctx.URLParams.Keys; !slices.Equal(got, want) {
			t.Errorf("%s %s: path parameters %v, the route %s has %v", method, path, want, pattern, got)
		}
		var declared []string
		for _, where := range []any{member(d.doc, "paths", path), member(d.doc, "paths", path, strings.ToLower(method))} {
			params, _ := member(where, "parameters").([]any)
			for _, p := range params {
				if ref, ok := member(p, "$ref").(string); ok {
					p = member(d.doc, strings.Split(ref[2:], "/")...)
				}
				if member(p, "in") == "path" {
					declared = append(declared, member(p, "name").(string))
				}
			}
		}
		if !slices.Equal(declared, want) {
			t.Errorf("%s %s declares path parameters %v, want %v", method, path, declared, want)
		}
	}
	for r := range routes {
		switch {
		case documented[r]:
		case r.pattern == "/metrics" || r.pattern == "/ui" || strings.HasPrefix(r.pattern, "/ui/"):
			t.Logf("%s %s is not documented (exempt)", r.method, r.pattern)
		default:
			t.Errorf("route %s %s is not documented in internal/api/openapi/openapi.json", r.method, r.pattern)
		}
	}
}

// The documented properties of every schema are the members of the Go type
// encoded into (or decoded from) it, and the required ones of an answer are
// the members always present.
func TestOpenAPISchemasMatchGoTypes(t *testing.T) {
	d := loadOpenAPI(t, servedDocument(t))
	check := func(name string, typ reflect.Type, response bool) {
		var members, always []string
		for _, f := range reflect.VisibleFields(typ) { // an embedded struct's members are the type's own
			tag, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || f.Anonymous || tag == "-" {
				continue
			}
			if tag == "" {
				tag = f.Name
			}
			members = append(members, tag)
			if !strings.Contains(opts, "omitempty") {
				always = append(always, tag)
			}
		}
		slices.Sort(members)
		slices.Sort(always)
		props, required := d.properties(name)
		if !slices.Equal(props, members) {
			t.Errorf("schema %s documents %v; the Go type %s has %v", name, props, typ, members)
		}
		if response && !slices.Equal(required, always) {
			t.Errorf("schema %s requires %v; the Go type %s always has %v", name, required, typ, always)
		}
	}
	for name, typ := range api.OpenAPIResponseTypes {
		check(name, typ, true)
	}
	for name, typ := range api.OpenAPIRequestTypes {
		check(name, typ, false)
	}
}
