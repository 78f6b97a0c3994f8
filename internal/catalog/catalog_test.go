package catalog_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/catalog"
)

// The nCore event names of SPEC section 4.1.
var ncoreEvents = []string{
	"CARD_STATUS_CHANGE",
	"TRANSACTION",
	"KYC_RESULT",
	"USER_CREATED",
	"USER_STATUS_CHANGE",
	"USER_DOCUMENT_ALERT",
	"IDENTITY_VERIFICATION",
	"PIN_CHANGE",
	"EXPIRED_AUTH",
	"CHARGE_APPLIED",
	"ACCOUNT_STATUS_CHANGE",
	"CARD_PROVISIONING",
	"TOKEN_NOTIFICATION",
	"SUCCESSFULLY_CREATED",
	"CARD_DELIVERY_PARTNER_ASSIGNED",
	"CARD_DELIVERY_STATUS_CHANGED",
}

func TestCatalogueContents(t *testing.T) {
	c := newCatalog(t)
	var names []string
	for _, ty := range c.Types() {
		names = append(names, ty.Name)
		if ty.Description == "" {
			t.Errorf("%s has no description", ty.Name)
		}
	}
	want := append(slices.Clone(ncoreEvents), catalog.NITokenNotification)
	if !slices.Equal(names, want) {
		t.Fatalf("catalogue names = %v, want %v", names, want)
	}
	ni, ok := c.Lookup(catalog.NITokenNotification)
	if !ok || !slices.Equal(variantNames(ni), []string{"AC", "TC", "TD", "TE"}) {
		t.Fatalf("Lookup(%s) = %+v, %v; want variants AC TC TD TE", catalog.NITokenNotification, ni, ok)
	}
	tx, ok := c.Lookup("TRANSACTION")
	if !ok || len(tx.Variants) != 8 {
		t.Fatalf("Lookup(TRANSACTION) = %+v, %v; want 8 variants", tx, ok)
	}
	if _, ok := c.Lookup("NOPE"); ok {
		t.Fatal("Lookup(NOPE) found a type")
	}
	if _, ok := c.Lookup(catalog.Wildcard); ok {
		t.Fatal("Lookup(*) found a type: the wildcard is not an event type")
	}
}

func TestEventNameAccepted(t *testing.T) {
	c := newCatalog(t)
	type tc struct {
		name, payload, want string
	}
	var tests []tc
	for _, ev := range ncoreEvents {
		tests = append(tests, tc{ev, `{"event":"` + ev + `","id":"x"}`, ev})
	}
	for _, typ := range []string{"AC", "TC", "TD", "TE"} {
		tests = append(tests, tc{"NI " + typ,
			`{"id":"4f1c","type":"` + typ + `","timestamp":"2024-01-01T00:00:00Z","details":{"card":{"id":"c"},"token":{"id":"t"}}}`,
			catalog.NITokenNotification})
	}
	tests = append(tests,
		tc{"whitespace around object", " \n\t{\"event\": \"PIN_CHANGE\"}\n ", "PIN_CHANGE"},
		tc{"event after other fields", `{"card_id":"c","nested":{"event":"X"},"event":"KYC_RESULT"}`, "KYC_RESULT"},
		tc{"nCore event with a string type field", `{"event":"EXPIRED_AUTH","type":"HOLD"}`, "EXPIRED_AUTH"},
		tc{"nCore event with a details field", `{"event":"USER_DOCUMENT_ALERT","type":"NATIONAL_ID","details":{}}`, "USER_DOCUMENT_ALERT"},
		tc{"nCore event with a non-string type field", `{"event":"TRANSACTION","type":1}`, "TRANSACTION"},
		tc{"nCore event with an object type field", `{"event":"TRANSACTION","type":{"code":"P"}}`, "TRANSACTION"},
		tc{"NI envelope, details first", `{"details":{},"type":"AC"}`, catalog.NITokenNotification},
	)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.EventName([]byte(tc.payload))
			if err != nil || got != tc.want {
				t.Fatalf("EventName(%s) = %q, %v; want %q", tc.payload, got, err, tc.want)
			}
		})
	}
}

func TestEventNameRefused(t *testing.T) {
	c := newCatalog(t)
	tests := []struct {
		name    string
		payload string
		field   string // the PayloadError field
		message string // a substring of the message
	}{
		{"unknown event", `{"event":"CARD_EXPLODED"}`, "event", `unknown event "CARD_EXPLODED"`},
		{"lower-case event", `{"event":"card_status_change"}`, "event", "unknown event"},
		{"empty event", `{"event":""}`, "event", "unknown event"},
		{"wildcard as event", `{"event":"*"}`, "event", "unknown event"},
		{"missing event", `{"card_id":"c1"}`, "event", "required"},
		{"empty object", `{}`, "event", "required"},
		{"null event", `{"event":null}`, "event", "required"},
		{"event key in upper case", `{"EVENT":"PIN_CHANGE"}`, "event", "required"},
		{"NI envelope keys in other case", `{"id":"1","Type":"AC","DETAILS":{}}`, "event", "required"},
		{"numeric event", `{"event":5}`, "event", "must be a string"},
		{"boolean event", `{"event":true}`, "event", "must be a string"},
		{"array event", `{"event":["PIN_CHANGE"]}`, "event", "must be a string"},
		{"object event", `{"event":{"name":"PIN_CHANGE"}}`, "event", "must be a string"},
		{"array body", `[{"event":"PIN_CHANGE"}]`, "", "JSON object"},
		{"string body", `"PIN_CHANGE"`, "", "JSON object"},
		{"number body", `42`, "", "JSON object"},
		{"null body", `null`, "", "JSON object"},
		{"boolean body", `true`, "", "JSON object"},
		{"invalid JSON", `{"event":"PIN_CHANGE"`, "", "not valid JSON"},
		{"trailing comma", `{"event":"PIN_CHANGE",}`, "", "not valid JSON"},
		{"two objects", `{"event":"PIN_CHANGE"}{"event":"PIN_CHANGE"}`, "", "not valid JSON"},
		{"empty body", ``, "", "not valid JSON"},
		{"whitespace body", "  \n", "", "not valid JSON"},
		{"NI unknown type", `{"id":"1","type":"ZZ","timestamp":"t","details":{}}`, "type", `unknown NI notification type "ZZ"`},
		{"NI lower-case type", `{"id":"1","type":"ac","timestamp":"t","details":{}}`, "type", "unknown NI notification type"},
		{"NI non-string type", `{"id":"1","type":5,"timestamp":"t","details":{}}`, "type", "must be a string"},
		{"NI envelope without details", `{"id":"1","type":"AC","timestamp":"t"}`, "event", "required"},
		{"NI envelope with null details", `{"id":"1","type":"AC","timestamp":"t","details":null}`, "event", "required"},
		{"NI envelope without type", `{"id":"1","timestamp":"t","details":{}}`, "event", "required"},
		{"NI event name published directly", `{"event":"NI_TOKEN_NOTIFICATION","id":"1","type":"AC","details":{}}`, "event", "envelope"},
		{"NI event name alone", `{"event":"NI_TOKEN_NOTIFICATION"}`, "event", "envelope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.EventName([]byte(tc.payload))
			if err == nil {
				t.Fatalf("EventName(%s) = %q, nil; want an error", tc.payload, got)
			}
			if got != "" {
				t.Fatalf("EventName(%s) returned name %q with error %v", tc.payload, got, err)
			}
			var pe *catalog.PayloadError
			if !errors.As(err, &pe) {
				t.Fatalf("EventName(%s) error %T %v, want *catalog.PayloadError", tc.payload, err, err)
			}
			if pe.Field != tc.field {
				t.Fatalf("EventName(%s) field = %q, want %q (error %v)", tc.payload, pe.Field, tc.field, err)
			}
			if !strings.Contains(pe.Message, tc.message) {
				t.Fatalf("EventName(%s) message = %q, want it to contain %q", tc.payload, pe.Message, tc.message)
			}
			wantErr := pe.Message
			if tc.field != "" {
				wantErr = tc.field + ": " + pe.Message
			}
			if err.Error() != wantErr {
				t.Fatalf("Error() = %q, want %q", err.Error(), wantErr)
			}
		})
	}
}

func TestSubscribable(t *testing.T) {
	c := newCatalog(t)
	tests := []struct {
		name string
		want bool
	}{
		{"*", true},
		{"CARD_STATUS_CHANGE", true},
		{"TRANSACTION", true},
		{"CARD_DELIVERY_STATUS_CHANGED", true},
		{catalog.NITokenNotification, true},
		{"UNKNOWN_EVENT", false},
		{"", false},
		{"**", false},
		{"card_status_change", false},
		{" TRANSACTION", false},
		{"PING", false},
	}
	for _, ev := range ncoreEvents {
		tests = append(tests, struct {
			name string
			want bool
		}{ev, true})
	}
	for _, tc := range tests {
		if got := c.Subscribable(tc.name); got != tc.want {
			t.Errorf("Subscribable(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestTypesReturnsACopy(t *testing.T) {
	c := newCatalog(t)
	first := c.Types()
	if len(first) == 0 {
		t.Fatal("Types() is empty")
	}
	wantName := first[0].Name
	first[0].Name = "MUTATED"
	first[0].Description = "mutated"
	first = first[:1]
	_ = append(first, catalog.Type{Name: "APPENDED"})

	second := c.Types()
	if second[0].Name != wantName || second[0].Description == "mutated" {
		t.Fatalf("mutating Types() changed the catalogue: first type now %+v", second[0])
	}
	if len(second) != len(ncoreEvents)+1 || second[1].Name == "APPENDED" {
		t.Fatalf("appending to Types() changed the catalogue: %v", second)
	}
	if c.Subscribable("MUTATED") || c.Subscribable("APPENDED") {
		t.Fatal("mutated names became subscribable")
	}
	if _, err := c.EventName([]byte(`{"event":"` + wantName + `"}`)); err != nil {
		t.Fatalf("EventName(%s) after mutating Types(): %v", wantName, err)
	}
	// A second catalogue is not affected either.
	if got := newCatalog(t).Types()[0].Name; got != wantName {
		t.Fatalf("new catalogue's first type = %q, want %q", got, wantName)
	}
}

// Variants is a slice too: mutating the returned variants must not leak back.
func TestTypesVariantsNotShared(t *testing.T) {
	c := newCatalog(t)
	var idx int
	for i, ty := range c.Types() {
		if ty.Name == catalog.NITokenNotification {
			idx = i
		}
	}
	types := c.Types()
	types[idx].Variants[0].Name = "ZZ"
	if _, err := c.EventName([]byte(`{"type":"AC","details":{}}`)); err != nil {
		t.Fatalf("NI type AC refused after mutating Types()[%d].Variants: %v", idx, err)
	}
	if _, err := c.EventName([]byte(`{"type":"ZZ","details":{}}`)); err == nil {
		t.Fatal("NI type ZZ accepted after mutating Types() variants")
	}
	if got := c.Types()[idx].Variants[0].Name; got != "AC" {
		t.Fatalf("Types()[%d].Variants[0] = %q after mutation, want AC", idx, got)
	}
}

func newCatalog(t testing.TB) *catalog.Catalog {
	t.Helper()
	c, err := catalog.New()
	if err != nil {
		t.Fatalf("load catalogue: %v", err)
	}
	return c
}

func variantNames(t catalog.Type) []string {
	out := make([]string, len(t.Variants))
	for i, v := range t.Variants {
		out[i] = v.Name
	}
	return out
}
