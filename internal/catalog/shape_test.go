package catalog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// uncached is the schema library's verdict alone, without the shape cache.
func uncached(c *Catalog, payload []byte) error {
	name, err := c.EventName(payload)
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(payload))
	if err != nil {
		return err
	}
	return c.byName[name].schema.Validate(inst)
}

func mustCatalog(t testing.TB) *Catalog {
	t.Helper()
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEverySchemaIsCacheable(t *testing.T) {
	c := mustCatalog(t)
	for _, ty := range c.types {
		if !ty.cacheable {
			t.Errorf("schema of %s uses a keyword outside shapeKeywords; its validations are never cached", ty.Name)
		}
	}
	for _, path := range [][]string{{"event"}, {"type"}, {"event_type"}} {
		n := c.values
		for _, p := range path {
			n = n.child(p)
		}
		if n == nil || !n.value {
			t.Errorf("value path %v (const or enum in a schema) is not in the trie", path)
		}
	}
}

// mutations returns variants of doc: each member removed, each value
// replaced by a value of every other kind, and each string value changed.
func mutations(doc any) []any {
	var out []any
	var walk func(v any, set func(any))
	walk = func(v any, set func(any)) {
		switch x := v.(type) {
		case map[string]any:
			for k, child := range x {
				orig := child
				delete(x, k)
				out = append(out, deepCopy(doc))
				x[k] = orig
				walk(child, func(nv any) { x[k] = nv })
			}
		case []any:
			for i, child := range x {
				walk(child, func(nv any) { x[i] = nv })
			}
		}
		for _, alt := range []any{nil, true, "card_created", "account_created", "AC", "ZZ", json.Number("1.5"), json.Number("2"), map[string]any{}, []any{}} {
			set(alt)
			out = append(out, deepCopy(doc))
			set(v)
		}
	}
	walk(doc, func(any) {})
	return out
}

func deepCopy(v any) any {
	b, _ := json.Marshal(v)
	var out any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	_ = d.Decode(&out)
	return out
}

// TestShapeCacheAgreesWithLibrary: after every canonical sample's shape is
// cached, thousands of mutations of each sample (members removed, values of
// every kind, values at const and enum paths changed) get exactly the
// library's verdict.
func TestShapeCacheAgreesWithLibrary(t *testing.T) {
	c := mustCatalog(t)
	var samples []json.RawMessage
	for _, ty := range c.types {
		samples = append(samples, ty.Sample)
		for _, v := range ty.Variants {
			samples = append(samples, v.Sample)
		}
	}
	for _, s := range samples {
		if _, err := c.Validate(s); err != nil {
			t.Fatalf("sample refused: %v", err)
		}
	}
	checked, accepted := 0, 0
	for _, s := range samples {
		var doc any
		d := json.NewDecoder(bytes.NewReader(s))
		d.UseNumber()
		if err := d.Decode(&doc); err != nil {
			t.Fatal(err)
		}
		for _, m := range mutations(doc) {
			body, _ := json.Marshal(m)
			// Twice: the second call may be answered from the cache.
			for range 2 {
				_, got := c.Validate(body)
				want := uncached(c, body)
				if (got == nil) != (want == nil) {
					t.Fatalf("verdicts differ for %s:\ncached path: %v\nlibrary: %v", body, got, want)
				}
				if got == nil {
					accepted++
				}
				checked++
			}
		}
	}
	t.Logf("%d validations compared, %d accepted", checked, accepted)
	if accepted == 0 || accepted == checked {
		t.Fatal("the mutations should include both valid and invalid payloads")
	}
}

func TestScanSyntax(t *testing.T) {
	cases := []string{
		`{}`, `{"a":1}`, `{"a":[1,2,{"b":null}],"c":"x\"y\u00e9\\"}`, ` {"a" : -0.5e+10 } `,
		`{"a":1,}`, `{"a":1`, `{a:1}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":-}`, `{"a":1e}`,
		`{"a":"\x"}`, `{"a":"\u12"}`, "{\"a\":\"\x01\"}", `{"a":tru}`, `{"a":nul}`, `{"a":[1 2]}`,
		`{"a":1}{}`, `{"a":1} x`, `{"a":"unterminated}`, `{"a":[}`, `{"a":{"b":1}`, `{"a" 1}`,
		`{"a":1e5000}`, `{"a":-0}`, `{"a":"\uD800"}`, `{"":1}`,
	}
	for _, tc := range cases {
		_, _, err := scan([]byte(tc), nil)
		if want := json.Valid([]byte(tc)); (err == nil) != want {
			t.Errorf("scan(%q) error = %v, json.Valid = %v", tc, err, want)
		}
	}
	if _, _, err := scan([]byte("{\"a\":\"\xff\"}"), nil); err == nil || !strings.Contains(err.Error(), "UTF-8") {
		t.Errorf("invalid UTF-8 accepted: %v", err)
	}
	deep := strings.Repeat(`{"a":`, maxDepth+1) + "1" + strings.Repeat("}", maxDepth+1)
	if _, _, err := scan([]byte(deep), nil); err == nil || !strings.Contains(err.Error(), "too deep") {
		t.Errorf("nesting beyond %d accepted: %v", maxDepth, err)
	}
	for _, tc := range []string{`[]`, `"x"`, `1`, `null`} {
		if _, _, err := scan([]byte(tc), nil); err != errNotObject {
			t.Errorf("scan(%s) = %v, want errNotObject", tc, err)
		}
	}
}

func TestNumberIntegrality(t *testing.T) {
	for text, want := range map[string]bool{
		"0": true, "-0": true, "7": true, "1.0": true, "1.000": true, "1.5": false, "1e2": true, "1.5e1": true,
		"1.25e1": false, "150e-2": false, "100e-2": true, "0.0": true, "0e-5": true, "12e-1": false,
		"5e-1": false, "1e400": true, "1.5e-400": false, "-3.0e0": true, "10.00": true, "36.70": false,
	} {
		s := scanner{data: []byte(text)}
		got, err := s.number()
		if err != nil || s.pos != len(text) || got != want {
			t.Errorf("number(%s) = %v, %v (consumed %d); want integral %v", text, got, err, s.pos, want)
		}
	}
}

// FuzzValidateAgreesWithLibrary: for any input, Validate (scanner, shape
// cache, library) and the library alone accept or refuse together, and the
// scanner accepts exactly the valid JSON objects in UTF-8.
func FuzzValidateAgreesWithLibrary(f *testing.F) {
	c := mustCatalog(f)
	for _, ty := range c.types {
		f.Add([]byte(ty.Sample))
	}
	f.Add([]byte(`{"event":"SUCCESSFULLY_CREATED","event_type":"account_created"}`))
	f.Add([]byte(`{"id":"1","type":"AC","timestamp":"t","details":{}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _, scanErr := scan(body, c.values)
		validJSON := json.Valid(body) && utf8.Valid(body)
		if validJSON && scanErr != nil && scanErr != errNotObject {
			t.Fatalf("scan refused valid JSON %q: %v", body, scanErr)
		}
		if !validJSON && scanErr == nil {
			t.Fatalf("scan accepted invalid JSON %q", body)
		}
		for range 2 {
			_, got := c.Validate(body)
			want := uncached(c, body)
			if (got == nil) != (want == nil) {
				t.Fatalf("verdicts differ for %q: %v vs library %v", body, got, want)
			}
		}
	})
}

// BenchmarkValidateNewShapes measures validation when every payload has a
// shape not seen before (the schema library runs every time).
func BenchmarkValidateNewShapes(b *testing.B) {
	c := mustCatalog(b)
	sample, _ := c.Sample("TRANSACTION", "PURCHASE")
	bodies := make([][]byte, 4096)
	for i := range bodies {
		bodies[i] = bytes.Replace(sample, []byte(`"event":"TRANSACTION"`), []byte(fmt.Sprintf(`"event":"TRANSACTION","extra_%d":1`, i)), 1)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.shapes = shapeCache{} // forget, so that every call misses
		if _, err := c.Validate(bodies[i%len(bodies)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
