package catalog_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/catalog"
)

func TestCanonicalSamplesValidate(t *testing.T) {
	c := newCatalog(t)
	for _, ty := range c.Types() {
		if len(ty.Schema) == 0 || len(ty.Sample) == 0 {
			t.Errorf("%s has no schema or no sample", ty.Name)
		}
		samples := map[string]json.RawMessage{"": ty.Sample}
		for _, v := range ty.Variants {
			samples[v.Name] = v.Sample
		}
		for variant, sample := range samples {
			name, err := c.Validate(sample)
			if err != nil || name != ty.Name {
				t.Errorf("%s %s sample: Validate = %q, %v", ty.Name, variant, name, err)
			}
			got := c.Variant(ty.Name, sample)
			if variant != "" && got != variant {
				t.Errorf("%s sample of variant %s is recognised as %q", ty.Name, variant, got)
			}
			if variant == "" && len(ty.Variants) > 0 && got != ty.Variants[0].Name {
				t.Errorf("%s default sample is variant %q, want the first variant %s", ty.Name, got, ty.Variants[0].Name)
			}
		}
	}
}

var seedName = regexp.MustCompile(`^\d{3}_([A-Z_]+)_\d+\.json$`)

// TestSeedSamplesValidateUnchanged: every sample of the source documents
// that is valid JSON as published is accepted byte-for-byte.
func TestSeedSamplesValidateUnchanged(t *testing.T) {
	c := newCatalog(t)
	files, err := filepath.Glob("testdata/seeds/*.json")
	if err != nil || len(files) < 40 {
		t.Fatalf("seed samples: %d files, %v", len(files), err)
	}
	for _, f := range files {
		m := seedName.FindStringSubmatch(filepath.Base(f))
		if m == nil {
			t.Fatalf("unexpected seed file name %s", f)
		}
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name, err := c.Validate(body)
		if err != nil || name != m[1] {
			t.Errorf("%s: Validate = %q, %v; want %s", f, name, err, m[1])
		}
	}
}

// TestInvalidSeedSamplesAreRefused: the documents' samples that are not
// JSON (trailing commas, unquoted member names, unclosed arrays) are refused
// as published, with a message saying so; their corrected forms are the
// canonical samples (TestCanonicalSamplesValidate).
func TestInvalidSeedSamplesAreRefused(t *testing.T) {
	c := newCatalog(t)
	files, _ := filepath.Glob("testdata/seeds/invalid/*.json")
	if len(files) == 0 {
		t.Fatal("no invalid seed samples")
	}
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Validate(body)
		var pe *catalog.PayloadError
		if !errors.As(err, &pe) || !strings.Contains(pe.Message, "not valid JSON") {
			t.Errorf("%s: Validate error = %v, want a PayloadError saying the body is not valid JSON", f, err)
		}
	}
}

// mutate returns the canonical sample of name/variant with change applied
// to its decoded form.
func mutate(t *testing.T, c *catalog.Catalog, name, variant string, change func(doc map[string]any)) []byte {
	t.Helper()
	sample, err := c.Sample(name, variant)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(sample, &doc); err != nil {
		t.Fatal(err)
	}
	change(doc)
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func txn(doc map[string]any) map[string]any { return doc["card_transaction"].(map[string]any) }

// TestTolerantReadings: each documented difference between the sources
// (SPEC 4.2) is accepted in every spelling and type the sources show.
func TestTolerantReadings(t *testing.T) {
	c := newCatalog(t)
	fee := map[string]any{"fee_id": "173427", "description": "transaction fee", "amount": "6.0", "currency": "AED"}
	cases := []struct {
		name, event, variant string
		change               func(map[string]any)
	}{
		{"amount as number", "TRANSACTION", "PURCHASE", func(d map[string]any) { txn(d)["transaction_amount"] = 100 }},
		{"amount as string", "TRANSACTION", "PURCHASE", func(d map[string]any) { txn(d)["transaction_amount"] = "100.00" }},
		{"billing amount as string", "TRANSACTION", "PURCHASE", func(d map[string]any) { txn(d)["billing_amount"] = "100" }},
		{`original_amount_billing "null"`, "TRANSACTION", "PURCHASE", func(d map[string]any) { txn(d)["original_amount_billing"] = "null" }},
		{"original_amount_billing null", "TRANSACTION", "PURCHASE", func(d map[string]any) { txn(d)["original_amount_billing"] = nil }},
		{"original_amount_billing number", "TRANSACTION", "PURCHASE", func(d map[string]any) { txn(d)["original_amount_billing"] = 12.5 }},
		{"fee_details (newer name)", "TRANSACTION", "WALLET_CREDIT", func(d map[string]any) { txn(d)["fee_details"] = []any{fee} }},
		{"feeDetail (older name)", "TRANSACTION", "WALLET_CREDIT", func(d map[string]any) {
			delete(txn(d), "fee_details")
			txn(d)["feeDetail"] = []any{fee}
		}},
		{"fee amount as number", "TRANSACTION", "WALLET_CREDIT", func(d map[string]any) {
			txn(d)["fee_details"] = []any{map[string]any{"fee_id": "1", "amount": 0.5, "currency": "AED"}}
		}},
		{"acquirerCountry on the transaction", "TRANSACTION", "BALANCE_INQUIRY", func(d map[string]any) { txn(d)["acquirerCountry"] = "USA" }},
		{"acquirerCountry in token_details", "TRANSACTION", "PURCHASE", func(d map[string]any) {
			txn(d)["token_details"].(map[string]any)["acquirerCountry"] = "USA"
		}},
		{`isPreAuth "Y"`, "TRANSACTION", "PURCHASE", func(d map[string]any) { txn(d)["isPreAuth"] = "Y" }},
		{"isPreAuth true", "TRANSACTION", "PURCHASE", func(d map[string]any) { txn(d)["isPreAuth"] = true }},
		{`isCancelled "YES"`, "TRANSACTION", "PURCHASE", func(d map[string]any) { txn(d)["isCancelled"] = "YES" }},
		{`isCancelled "NO"`, "TRANSACTION", "PURCHASE", func(d map[string]any) { txn(d)["isCancelled"] = "NO" }},
		{"stray ing_count member", "TRANSACTION", "PURCHASE", func(d map[string]any) { txn(d)["ing_count"] = 0 }},
		{"a member the platform added later", "CARD_STATUS_CHANGE", "", func(d map[string]any) { d["program_id"] = "P1" }},
		{"NI clintId spelling", catalog.NITokenNotification, "TC", func(d map[string]any) {
			card := d["details"].(map[string]any)["card"].(map[string]any)
			card["clintId"] = card["clientId"]
			delete(card, "clientId")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := mutate(t, c, tc.event, tc.variant, tc.change)
			if name, err := c.Validate(body); err != nil || name != tc.event {
				t.Fatalf("Validate = %q, %v; want %s accepted: %s", name, err, tc.event, body)
			}
		})
	}
}

// TestCurlyQuotesAreRefused: a sample typed with curly quotes (as the nCore
// search example is) is not JSON; the error says so instead of guessing.
func TestCurlyQuotesAreRefused(t *testing.T) {
	_, err := newCatalog(t).Validate([]byte("{\"event\": \u201cCARD_STATUS_CHANGE\u201d}"))
	var pe *catalog.PayloadError
	if !errors.As(err, &pe) || !strings.Contains(pe.Message, "not valid JSON") {
		t.Fatalf("error = %v, want not valid JSON", err)
	}
}

func TestRejections(t *testing.T) {
	c := newCatalog(t)
	cases := []struct {
		name, event, variant string
		change               func(map[string]any)
		raw                  string // used instead of a mutated sample when set
		field, message       string
	}{
		{name: "missing transaction id", event: "TRANSACTION", variant: "PURCHASE",
			change: func(d map[string]any) { delete(txn(d), "id") }, field: "card_transaction.id", message: "is required"},
		{name: "missing card_transaction", event: "TRANSACTION", variant: "PURCHASE",
			change: func(d map[string]any) { delete(d, "card_transaction") }, field: "card_transaction", message: "is required"},
		{name: "amount of the wrong type", event: "TRANSACTION", variant: "PURCHASE",
			change: func(d map[string]any) { txn(d)["transaction_amount"] = true }, field: "card_transaction.transaction_amount", message: "must be number or string, got boolean"},
		{name: "fee amount of the wrong type", event: "TRANSACTION", variant: "PURCHASE",
			change: func(d map[string]any) { txn(d)["fee_details"].([]any)[0].(map[string]any)["amount"] = []any{} },
			field:  "card_transaction.fee_details[0].amount", message: "must be number or string, got array"},
		{name: "card_status_change not an object", event: "CARD_STATUS_CHANGE",
			change: func(d map[string]any) { d["card_status_change"] = "SUSPENDED" }, field: "card_status_change", message: "must be object, got string"},
		{name: "missing card_id", event: "CARD_STATUS_CHANGE",
			change: func(d map[string]any) { delete(d["card_status_change"].(map[string]any), "card_id") }, field: "card_status_change.card_id", message: "is required"},
		{name: "missing kyc_id", event: "KYC_RESULT", variant: "PASS",
			change: func(d map[string]any) { delete(d, "kyc_id") }, field: "kyc_id", message: "is required"},
		{name: "missing user_id", event: "USER_CREATED",
			change: func(d map[string]any) { delete(d, "user_id") }, field: "user_id", message: "is required"},
		{name: "user_id a number", event: "USER_STATUS_CHANGE",
			change: func(d map[string]any) { d["user_id"] = 42 }, field: "user_id", message: "must be string, got number"},
		{name: "NI type unknown", raw: `{"id":"1","type":"ZZ","timestamp":"t","details":{}}`, field: "type", message: "unknown NI notification type"},
		{name: "NI missing timestamp", event: catalog.NITokenNotification, variant: "AC",
			change: func(d map[string]any) { delete(d, "timestamp") }, field: "timestamp", message: "is required"},
		{name: "unknown event", raw: `{"event":"CARD_EXPLODED"}`, field: "event", message: `unknown event "CARD_EXPLODED"`},
		{name: "missing event", raw: `{"card_status_change":{"card_id":"c"}}`, field: "event", message: "is required"},
		{name: "array body", raw: `[{"event":"PIN_CHANGE"}]`, message: "must be a JSON object"},
		{name: "string body", raw: `"PIN_CHANGE"`, message: "must be a JSON object"},
		{name: "invalid JSON", raw: `{"event":"PIN_CHANGE",}`, message: "not valid JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(tc.raw)
			if tc.raw == "" {
				body = mutate(t, c, tc.event, tc.variant, tc.change)
			}
			_, err := c.Validate(body)
			var pe *catalog.PayloadError
			if !errors.As(err, &pe) {
				t.Fatalf("Validate(%s) = %v, want a *PayloadError", body, err)
			}
			if pe.Field != tc.field || !strings.Contains(pe.Message, tc.message) {
				t.Errorf("error = field %q message %q; want field %q message containing %q", pe.Field, pe.Message, tc.field, tc.message)
			}
		})
	}
}

func TestSampleLookup(t *testing.T) {
	c := newCatalog(t)
	if _, err := c.Sample("TRANSACTION", "WALLET_DEBIT"); err != nil {
		t.Errorf("Sample(TRANSACTION, WALLET_DEBIT): %v", err)
	}
	if _, err := c.Sample("TRANSACTION", "NOPE"); err == nil || !strings.Contains(err.Error(), "PURCHASE") {
		t.Errorf("unknown variant error = %v, want it to list the variants", err)
	}
	if _, err := c.Sample("PIN_CHANGE", "X"); err == nil || !strings.Contains(err.Error(), "no variants") {
		t.Errorf("variant of an event without variants: %v", err)
	}
	if _, err := c.Sample("NOPE", ""); err == nil {
		t.Error("Sample of an unknown event succeeded")
	}
}

// BenchmarkValidatePurchase measures validation of a PURCHASE transaction,
// the largest and most frequent payload (target: 50,000/s per core).
func BenchmarkValidatePurchase(b *testing.B) {
	c := newCatalog(b)
	sample, err := c.Sample("TRANSACTION", "PURCHASE")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(sample)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Validate(sample); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
