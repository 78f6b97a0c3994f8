package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

var printer = message.NewPrinter(language.English)

// Validate checks a payload about to be published: valid JSON, a JSON
// object, a known event, and valid against that event's schema. It returns
// the event name, or a *PayloadError naming the JSON path of the first
// offending member ("card_transaction.transaction_amount").
func (c *Catalog) Validate(payload []byte) (string, error) {
	name, _, err := c.Check(payload)
	return name, err
}

// Check is Validate that also reads the event's subject ids (see
// Subjects), in the same pass over the payload.
func (c *Catalog) Check(payload []byte) (string, Subjects, error) {
	top, shape, err := scan(payload, c.values)
	if err != nil {
		return "", Subjects{}, syntaxProblem(err)
	}
	name, err := c.nameFrom(top)
	if err != nil {
		return "", Subjects{}, err
	}
	t := c.byName[name]
	if t.cacheable && c.shapes.has(shape) {
		return name, top.subj.ids(name), nil
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(payload))
	if err != nil {
		return "", Subjects{}, &PayloadError{Message: "body is not valid JSON: " + err.Error()}
	}
	if err := t.schema.Validate(inst); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return "", Subjects{}, describe(ve)
		}
		return "", Subjects{}, fmt.Errorf("validate %s: %w", name, err)
	}
	if t.cacheable {
		c.shapes.add(shape)
	}
	return name, top.subj.ids(name), nil
}

// describe turns a validation error tree into one PayloadError: the first,
// deepest cause, since that is the member a person has to fix.
func describe(ve *jsonschema.ValidationError) *PayloadError {
	leaf := ve
	for len(leaf.Causes) > 0 {
		leaf = leaf.Causes[0]
	}
	path := leaf.InstanceLocation
	msg := leaf.ErrorKind.LocalizedString(printer)
	switch k := leaf.ErrorKind.(type) {
	case *kind.Required:
		if len(k.Missing) > 0 {
			path = append(append([]string(nil), path...), k.Missing[0])
			msg = "is required"
		}
	case *kind.Type:
		msg = fmt.Sprintf("must be %s, got %s", strings.Join(k.Want, " or "), k.Got)
	case *kind.Const:
		msg = fmt.Sprintf("must be %v", quoteIfString(k.Want))
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = fmt.Sprint(quoteIfString(w))
		}
		msg = "must be one of " + strings.Join(want, ", ")
	}
	return &PayloadError{Field: jsonPath(path), Message: msg}
}

func quoteIfString(v any) any {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return v
}

// jsonPath writes an instance location as a.b[2].c.
func jsonPath(parts []string) string {
	var b strings.Builder
	for _, p := range parts {
		if _, err := strconv.Atoi(p); err == nil && b.Len() > 0 {
			b.WriteString("[" + p + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

// Variant names the documented variant a payload of event name matches
// (PURCHASE, PASS, AC, ...), or "" when the event has no variants or the
// payload matches none of them.
func (c *Catalog) Variant(name string, payload []byte) string {
	t, ok := c.byName[name]
	if !ok || len(t.Variants) == 0 {
		return ""
	}
	var doc map[string]any
	if json.Unmarshal(payload, &doc) != nil {
		return ""
	}
	for _, v := range t.Variants {
		if matches(doc, v.match) {
			return v.Name
		}
	}
	return ""
}

// matches reports whether every dotted path of match holds its value in doc
// (or, for presentValue, exists).
func matches(doc map[string]any, match map[string]string) bool {
	if len(match) == 0 {
		return false
	}
	for path, want := range match {
		var cur any = doc
		for _, part := range strings.Split(path, ".") {
			obj, ok := cur.(map[string]any)
			if !ok {
				return false
			}
			if cur, ok = obj[part]; !ok {
				return false
			}
		}
		if want == presentValue {
			continue
		}
		if s, ok := cur.(string); !ok || s != want {
			return false
		}
	}
	return true
}
