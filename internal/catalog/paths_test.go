package catalog

import (
	"slices"
	"testing"
)

func TestPath(t *testing.T) {
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		event, path string
		declared    bool
		types       []string // nil: any
		scalar      bool
	}{
		{"TRANSACTION", "card_transaction.message_type", true, []string{"string"}, true},
		{"TRANSACTION", "card_transaction.transaction_amount", true, []string{"number", "string"}, true},
		{"TRANSACTION", "card_transaction", true, []string{"object"}, false},
		{"TRANSACTION", "event", true, []string{"string"}, true},
		{"TRANSACTION", "card_transaction.nope", false, nil, true},
		{"TRANSACTION", "card_status_change.new_status", false, nil, true},
		{"CARD_STATUS_CHANGE", "card_status_change.new_status", true, []string{"string"}, true},
		{"EXPIRED_AUTH", "card_transaction.message_type", true, []string{"string"}, true},
		{"NOPE", "event", false, nil, true},
	} {
		got := c.Path(tc.event, Segments(tc.path))
		slices.Sort(got.Types)
		if got.Declared != tc.declared || !slices.Equal(got.Types, tc.types) || got.Scalar() != tc.scalar {
			t.Errorf("Path(%s, %s) = %+v (scalar %v), want declared %v types %v scalar %v", tc.event, tc.path, got, got.Scalar(), tc.declared, tc.types, tc.scalar)
		}
	}
	amount := c.Path("TRANSACTION", Segments("card_transaction.transaction_amount"))
	if !amount.Allows("number") || !amount.Allows("string") || amount.Allows("boolean") {
		t.Errorf("transaction_amount allows %v", amount.Types)
	}
	// Every event type declares its own paths under if/then too.
	for _, ty := range c.Types() {
		if !c.Path(ty.Name, Segments(firstMember(t, c, ty.Name))).Declared {
			t.Errorf("%s does not declare its first member", ty.Name)
		}
	}
}

// firstMember is some member of the root properties of an event's schema.
func firstMember(t *testing.T, c *Catalog, name string) string {
	props, _ := c.byName[name].tree["properties"].(map[string]any)
	for k := range props {
		return k
	}
	t.Fatalf("%s has no properties", name)
	return ""
}
