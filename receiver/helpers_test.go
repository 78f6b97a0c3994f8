package receiver_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/receiver"
)

// Where the catalogue keeps its data and the seed samples.
const (
	catalogueDir = "../internal/catalog/data"
	seedsDir     = "../internal/catalog/testdata/seeds"
)

var loadCatalog = sync.OnceValues(catalog.New)

func newCatalog(t testing.TB) *catalog.Catalog {
	t.Helper()
	c, err := loadCatalog()
	if err != nil {
		t.Fatalf("catalog.New: %v", err)
	}
	return c
}

// fixture is one JSON file of the catalogue or the seeds.
type fixture struct {
	name string // file name
	body []byte
}

// readDir returns the *.json files of dir, sorted by name.
func readDir(t testing.TB, dir string) []fixture {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(paths)
	var out []fixture
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fixture{filepath.Base(p), b})
	}
	if len(out) == 0 {
		t.Fatalf("no *.json files in %s", dir)
	}
	return out
}

// canonicalSamples returns every file of the catalogue's samples directory.
func canonicalSamples(t testing.TB) []fixture {
	return readDir(t, filepath.Join(catalogueDir, "samples"))
}

// validSeeds returns the seed samples that are valid JSON as published.
func validSeeds(t testing.TB) []fixture {
	return readDir(t, seedsDir)
}

// sampleName splits a canonical sample's file name,
// "TRANSACTION.PURCHASE.json", into its event and variant.
func sampleName(file string) (event, variant string) {
	event, variant, _ = strings.Cut(strings.TrimSuffix(file, ".json"), ".")
	return event, variant
}

// mustParse parses body or fails the test.
func mustParse(t testing.TB, body []byte) receiver.Event {
	t.Helper()
	ev, err := receiver.Parse(body)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, body)
	}
	return ev
}

// mustMarshal marshals v or fails the test.
func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("Marshal %T: %v", v, err)
	}
	return b
}

// generic decodes JSON keeping numbers as their text (json.Number), so that
// 10.00 and 10 differ.
func generic(t testing.TB, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

// dropEmptyStrings removes, recursively, the object members whose value is
// "": the Go types do not tell an empty optional string from an absent one.
func dropEmptyStrings(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, m := range v {
			if s, ok := m.(string); ok && s == "" {
				delete(v, k)
				continue
			}
			v[k] = dropEmptyStrings(m)
		}
	case []any:
		for i := range v {
			v[i] = dropEmptyStrings(v[i])
		}
	}
	return v
}
