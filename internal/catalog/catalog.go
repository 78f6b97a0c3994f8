// Package catalog knows the event types Herald accepts: the nCore events and
// the Network International token notification. Publishing an event whose
// name is not here is refused, and webhooks may only subscribe to these names
// (or to Wildcard).
package catalog

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Wildcard subscribes a webhook to every event type.
const Wildcard = "*"

// NITokenNotification is the event name under which Network International
// token notifications (envelope types AC, TC, TD, TE) are published.
const NITokenNotification = "NI_TOKEN_NOTIFICATION"

//go:embed data/catalog.json data/schemas data/samples
var data embed.FS

// Type describes one event type of the catalogue: its JSON Schema, a
// canonical sample, and its named variants.
type Type struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Variants    []Variant       `json:"variants"`
	Schema      json.RawMessage `json:"schema"`
	// Sample is the canonical sample (of the first variant, if any).
	Sample json.RawMessage `json:"sample"`

	schema *jsonschema.Schema
	// tree is the schema decoded, for member path lookups (Path).
	tree map[string]any
	// cacheable: the schema's verdict depends only on a payload's shape.
	cacheable bool
}

// Variant is one documented shape of an event (a TRANSACTION PURCHASE, a
// KYC_RESULT PASS, ...).
type Variant struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Sample      json.RawMessage `json:"sample"`
	// match holds the member paths and values that identify the variant;
	// presentValue means the member only has to be there.
	match map[string]string
}

// presentValue in a variant's match means "this member is present".
const presentValue = "<present>"

// Catalog is the set of known event types. It is immutable and safe for
// concurrent use.
type Catalog struct {
	types  []Type
	byName map[string]*Type
	// values is the trie of paths whose values any schema constrains.
	values *pathNode
	shapes shapeCache
}

// entry is one element of data/catalog.json.
type entry struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Schema      string `json:"schema"`
	Sample      string `json:"sample"`
	Variants    []struct {
		Name        string            `json:"name"`
		Description string            `json:"description"`
		Sample      string            `json:"sample"`
		Match       map[string]string `json:"match"`
	} `json:"variants"`
}

// New loads the embedded catalogue and compiles every schema once.
func New() (*Catalog, error) {
	raw, err := data.ReadFile("data/catalog.json")
	if err != nil {
		return nil, fmt.Errorf("read catalogue: %w", err)
	}
	var entries []entry
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, fmt.Errorf("decode catalogue: %w", err)
	}
	compiler := jsonschema.NewCompiler()
	compiler.DefaultDraft(jsonschema.Draft2020)
	compiler.AssertFormat()
	c := &Catalog{types: make([]Type, 0, len(entries)), byName: make(map[string]*Type, len(entries)), values: &pathNode{}}
	for _, e := range entries {
		t := Type{Name: e.Name, Description: e.Description, Variants: []Variant{}}
		if t.Schema, err = readJSON(e.Schema); err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(t.Schema))
		if err != nil {
			return nil, fmt.Errorf("schema of %s: %w", e.Name, err)
		}
		url := "https://herald.dev/" + e.Schema
		if err := compiler.AddResource(url, doc); err != nil {
			return nil, fmt.Errorf("schema of %s: %w", e.Name, err)
		}
		if t.schema, err = compiler.Compile(url); err != nil {
			return nil, fmt.Errorf("compile schema of %s: %w", e.Name, err)
		}
		var tree map[string]any
		if err := json.Unmarshal(t.Schema, &tree); err != nil {
			return nil, fmt.Errorf("schema of %s: %w", e.Name, err)
		}
		t.tree = tree
		t.cacheable = analyse(tree, tree, nil, c.values, map[string]bool{})
		if t.Sample, err = readJSON(e.Sample); err != nil {
			return nil, err
		}
		for _, v := range e.Variants {
			sample, err := readJSON(v.Sample)
			if err != nil {
				return nil, err
			}
			t.Variants = append(t.Variants, Variant{Name: v.Name, Description: v.Description, Sample: sample, match: v.Match})
		}
		c.types = append(c.types, t)
	}
	for i := range c.types {
		c.byName[c.types[i].Name] = &c.types[i]
	}
	return c, nil
}

func readJSON(path string) (json.RawMessage, error) {
	b, err := data.ReadFile("data/" + path)
	if err != nil {
		return nil, fmt.Errorf("catalogue file %s: %w", path, err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, fmt.Errorf("catalogue file %s: %w", path, err)
	}
	return buf.Bytes(), nil
}

// Types lists the event types in catalogue order.
func (c *Catalog) Types() []Type {
	out := make([]Type, len(c.types))
	for i, t := range c.types {
		out[i] = t
		out[i].Variants = slices.Clone(t.Variants)
	}
	return out
}

// Lookup returns the event type called name.
func (c *Catalog) Lookup(name string) (Type, bool) {
	t, ok := c.byName[name]
	if !ok {
		return Type{}, false
	}
	out := *t
	out.Variants = slices.Clone(t.Variants)
	return out, true
}

// Sample returns the canonical sample of an event type, or of one of its
// variants when variant is not empty.
func (c *Catalog) Sample(name, variant string) (json.RawMessage, error) {
	t, ok := c.byName[name]
	if !ok {
		return nil, fmt.Errorf("unknown event %q", name)
	}
	if variant == "" {
		return t.Sample, nil
	}
	for _, v := range t.Variants {
		if v.Name == variant {
			return v.Sample, nil
		}
	}
	names := make([]string, len(t.Variants))
	for i, v := range t.Variants {
		names[i] = v.Name
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("event %s has no variants", name)
	}
	return nil, fmt.Errorf("event %s has no variant %q (it has %s)", name, variant, strings.Join(names, ", "))
}

// Subscribable reports whether a webhook may subscribe to name.
func (c *Catalog) Subscribable(name string) bool {
	if name == Wildcard {
		return true
	}
	_, ok := c.byName[name]
	return ok
}

// PayloadError says why a payload cannot be published. Field is the JSON path
// of the offending member ("event"), empty when the whole body is at fault.
type PayloadError struct {
	Field   string
	Message string
}

func (e *PayloadError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// EventName reads the event name of a published payload and checks it against
// the catalogue. nCore payloads name themselves in "event"; a Network
// International envelope ({"id", "type", "timestamp", "details"}) with a token
// notification type is NITokenNotification.
func (c *Catalog) EventName(payload []byte) (string, error) {
	top, _, err := scan(payload, nil)
	if err != nil {
		return "", syntaxProblem(err)
	}
	return c.nameFrom(top)
}

func syntaxProblem(err error) *PayloadError {
	if errors.Is(err, errNotObject) {
		return &PayloadError{Message: "the event must be a JSON object"}
	}
	return &PayloadError{Message: "body is not valid JSON: " + err.Error()}
}

// nameFrom names the event from the root object's members (exact names:
// "EVENT" is not "event"; a null member counts as absent).
func (c *Catalog) nameFrom(top topLevel) (string, error) {
	present := func(v []byte) bool { return v != nil && string(v) != "null" }
	if !present(top.event) {
		if present(top.typ) && present(top.details) {
			// "type" is read only for an NI envelope: in an nCore payload it
			// is an ordinary member of any JSON type.
			var typ string
			if err := json.Unmarshal(top.typ, &typ); err != nil {
				return "", &PayloadError{Field: "type", Message: "must be a string"}
			}
			if slices.ContainsFunc(c.byName[NITokenNotification].Variants, func(v Variant) bool { return v.Name == typ }) {
				return NITokenNotification, nil
			}
			return "", &PayloadError{Field: "type", Message: fmt.Sprintf("unknown NI notification type %q", typ)}
		}
		return "", &PayloadError{Field: "event", Message: "is required"}
	}
	var name string
	if err := json.Unmarshal(top.event, &name); err != nil {
		return "", &PayloadError{Field: "event", Message: "must be a string"}
	}
	if name == NITokenNotification {
		return "", &PayloadError{Field: "event", Message: "NI token notifications are published as their envelope, without an event field"}
	}
	if _, ok := c.byName[name]; !ok {
		return "", &PayloadError{Field: "event", Message: fmt.Sprintf("unknown event %q", name)}
	}
	return name, nil
}
