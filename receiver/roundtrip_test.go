package receiver_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/heraldhq/herald/receiver"
)

// TestValidSeeds parses every seed sample that is valid JSON as published,
// and checks the event and variant against the catalogue's reading.
func TestValidSeeds(t *testing.T) {
	c := newCatalog(t)
	for _, s := range validSeeds(t) {
		t.Run(s.name, func(t *testing.T) {
			ev := mustParse(t, s.body)
			// 000_TRANSACTION_1.json: the event is between the source and
			// the count.
			base := strings.TrimSuffix(s.name, ".json")
			want := base[strings.Index(base, "_")+1 : strings.LastIndex(base, "_")]
			eq(t, "EventName", ev.EventName(), want)
			name, err := c.Validate(s.body)
			if err != nil {
				t.Fatalf("catalog.Validate: %v", err)
			}
			eq(t, "catalog event", name, want)
			eq(t, "VariantName", ev.VariantName(), c.Variant(name, s.body))
		})
	}
}

// TestRoundTrip parses, marshals and validates again every canonical sample
// and valid seed: the JSON still validates, names the same event and matches
// the same variant, and parses back to an equal value.
func TestRoundTrip(t *testing.T) {
	c := newCatalog(t)
	for _, set := range []struct {
		name  string
		files []fixture
	}{{"samples", canonicalSamples(t)}, {"seeds", validSeeds(t)}} {
		for _, s := range set.files {
			t.Run(set.name+"/"+s.name, func(t *testing.T) {
				ev := mustParse(t, s.body)
				out := mustMarshal(t, ev)
				name, err := c.Validate(out)
				if err != nil {
					t.Fatalf("marshalled event does not validate: %v\n%s", err, out)
				}
				eq(t, "event", name, ev.EventName())
				eq(t, "catalog variant after round trip", c.Variant(name, out), ev.VariantName())
				eq(t, "catalog variant of the original", c.Variant(name, s.body), ev.VariantName())
				again := mustParse(t, out)
				if !reflect.DeepEqual(again, ev) {
					t.Errorf("parse(marshal(ev)) differs from ev:\n%#v\n%#v", again, ev)
				}
			})
		}
	}
}

// TestRoundTripKeepsSamples checks that marshalling a parsed canonical
// sample gives back the sample itself, member for member and number for
// number (10.00 stays 10.00, "6.0" stays a string, false and 0 and [] are
// kept), except for empty optional strings, which the Go types drop.
func TestRoundTripKeepsSamples(t *testing.T) {
	for _, s := range canonicalSamples(t) {
		t.Run(s.name, func(t *testing.T) {
			out := mustMarshal(t, mustParse(t, s.body))
			want := dropEmptyStrings(generic(t, s.body))
			if got := generic(t, out); !reflect.DeepEqual(got, want) {
				t.Errorf("round trip changed the sample:\ngot  %s\nwant %s", out, s.body)
			}
		})
	}
}

// catalogueEntry is the part of catalog.json that holds the variant rules.
type catalogueEntry struct {
	Name     string `json:"name"`
	Variants []struct {
		Name  string            `json:"name"`
		Match map[string]string `json:"match"`
	} `json:"variants"`
}

func readCatalogueJSON(t *testing.T) []catalogueEntry {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(catalogueDir, "catalog.json"))
	if err != nil {
		t.Fatal(err)
	}
	var entries []catalogueEntry
	if err := json.Unmarshal(b, &entries); err != nil {
		t.Fatal(err)
	}
	return entries
}

// TestVariantRulesMatchCatalogue compares the package's variant rules with
// catalog.json's: same events in the same order, same variants in the same
// order, same "match".
func TestVariantRulesMatchCatalogue(t *testing.T) {
	entries := readCatalogueJSON(t)
	rules := receiver.VariantRules()
	var names []string
	for _, e := range entries {
		names = append(names, e.Name)
		got, ok := rules[e.Name]
		if !ok {
			t.Errorf("no rules for %s", e.Name)
			continue
		}
		want := []receiver.VariantRule{}
		for _, v := range e.Variants {
			want = append(want, receiver.VariantRule{Name: v.Name, Match: v.Match})
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: rules %+v, catalogue %+v", e.Name, got, want)
		}
	}
	if len(rules) != len(entries) {
		t.Errorf("%d events with rules, %d in the catalogue", len(rules), len(entries))
	}
	if got := receiver.KnownEvents(); !reflect.DeepEqual(got, names) {
		t.Errorf("KnownEvents() = %v, catalogue %v", got, names)
	}
}

// setPath sets (or, with del, deletes) a dotted member path of doc.
func setPath(doc map[string]any, path string, value any, del bool) {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := doc[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			doc[p] = next
		}
		doc = next
	}
	if del {
		delete(doc, parts[len(parts)-1])
	} else {
		doc[parts[len(parts)-1]] = value
	}
}

// TestVariantRulesAgreeWithCatalog runs the Go rules and the catalogue's on
// every sample, every valid seed, and payloads made from the samples by
// changing, nulling or removing each member a rule reads (and by combining
// the members of two rules): Parse's VariantName must be catalog.Variant's.
func TestVariantRulesAgreeWithCatalog(t *testing.T) {
	c := newCatalog(t)
	var bodies [][]byte
	for _, s := range append(canonicalSamples(t), validSeeds(t)...) {
		bodies = append(bodies, s.body)
	}
	entries := readCatalogueJSON(t)
	for _, e := range entries {
		for i, v := range e.Variants {
			sample, err := c.Sample(e.Name, v.Name)
			if err != nil {
				t.Fatal(err)
			}
			mutate := func(f func(doc map[string]any)) {
				var doc map[string]any
				if err := json.Unmarshal(sample, &doc); err != nil {
					t.Fatal(err)
				}
				f(doc)
				b, err := json.Marshal(doc)
				if err != nil {
					t.Fatal(err)
				}
				bodies = append(bodies, b)
			}
			for path := range v.Match {
				mutate(func(doc map[string]any) { setPath(doc, path, "OTHER", false) })
				mutate(func(doc map[string]any) { setPath(doc, path, nil, false) })
				mutate(func(doc map[string]any) { setPath(doc, path, "", false) })
				mutate(func(doc map[string]any) { setPath(doc, path, nil, true) })
			}
			// This variant's sample with the next variant's members.
			next := e.Variants[(i+1)%len(e.Variants)]
			mutate(func(doc map[string]any) {
				for path, value := range next.Match {
					setPath(doc, path, value, false)
				}
			})
		}
	}
	for _, body := range bodies {
		ev, err := receiver.Parse(body)
		name, cerr := c.EventName(body)
		if cerr != nil {
			// An NI envelope whose type is no longer AC, TC, TD or TE, or
			// that lost its type: neither side reads it as an event.
			if err == nil {
				t.Errorf("Parse(%s) = %T, but the catalogue refuses it: %v", body, ev, cerr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%s): %v", body, err)
			continue
		}
		if got, want := ev.VariantName(), c.Variant(name, body); got != want {
			t.Errorf("Parse(%s).VariantName() = %q, catalog.Variant = %q", body, got, want)
		}
	}
	if len(bodies) < 150 {
		t.Errorf("only %d bodies compared", len(bodies))
	}
}
