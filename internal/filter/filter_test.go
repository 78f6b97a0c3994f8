package filter

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func mustParse(t testing.TB, raw string) *Filter {
	t.Helper()
	f, err := Parse([]byte(raw))
	if err != nil {
		t.Fatalf("Parse(%s): %v", raw, err)
	}
	return f
}

func TestParseErrors(t *testing.T) {
	many := func(n int, f func(i int) string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = f(i)
		}
		return strings.Join(parts, ",")
	}
	for _, tc := range []struct {
		name, raw string
		path      string
		index     int
		msg       string
	}{
		{"not an object", `["a"]`, "", 0, "must be an object"},
		{"null", `null`, "", 0, "must be an object"},
		{"values not an array", `{"a": "x"}`, "a", -1, "must be an array"},
		{"no values", `{"a": []}`, "a", -1, "at least one value"},
		{"object value", `{"a": [{"b": 1}]}`, "a", 0, "must be a string, a number"},
		{"array value", `{"a": ["x", [1]]}`, "a", 1, "must be a string, a number"},
		{"empty path", `{"": ["x"]}`, "", -1, "must not be empty"},
		{"empty member", `{"a..b": ["x"]}`, "a..b", -1, "no empty name"},
		{"trailing dot", `{"a.": ["x"]}`, "a.", -1, "no empty name"},
		{"too deep", `{"a.b.c.d.e.f.g.h.i": ["x"]}`, "a.b.c.d.e.f.g.h.i", -1, "deeper than 8"},
		{"long path", `{"` + strings.Repeat("a", 257) + `": ["x"]}`, strings.Repeat("a", 257), -1, "longer than 256"},
		{"twice", `{"a": ["x", "y", "x"]}`, "a", 2, `"x" is listed twice`},
		{"twice as numbers", `{"a": [100, 1e2]}`, "a", 1, "100 is listed twice"},
		{"long value", `{"a": ["` + strings.Repeat("v", 255) + `"]}`, "a", 0, "longer than 256"},
		{"too many paths", `{` + many(17, func(i int) string { return fmt.Sprintf(`"p%d": [1]`, i) }) + `}`, "", 0, "at most 16"},
		{"too many values", `{"a": [` + many(65, func(i int) string { return fmt.Sprint(i) }) + `]}`, "a", -1, "at most 64"},
		{"too large", `{"a": [` + many(2000, func(i int) string { return fmt.Sprint(i) }) + `]}`, "", 0, "larger than 8192"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.raw))
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("Parse = %v, want an *Error", err)
			}
			if fe.Path != tc.path || (tc.path != "" && fe.Index != tc.index) || !strings.Contains(fe.Message, tc.msg) {
				t.Fatalf("Parse = path %q index %d %q; want path %q index %d containing %q", fe.Path, fe.Index, fe.Message, tc.path, tc.index, tc.msg)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	f := mustParse(t, `{"b.c": ["x\u00e9<", 1.50, 1e2, -0, true, null], "a": [false]}`)
	got, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"a":[false],"b.c":["xé\u003c",1.5,100,0,true,null]}` // encoding/json escapes HTML characters
	if string(got) != want {
		t.Fatalf("Marshal = %s, want %s", got, want)
	}
	var back Filter
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	again, _ := json.Marshal(&back)
	if string(again) != want {
		t.Fatalf("round trip = %s, want %s", again, want)
	}
	if p := f.Paths(); len(p) != 2 || p[0] != "a" || p[1] != "b.c" {
		t.Fatalf("Paths = %v", p)
	}
}

func TestMatch(t *testing.T) {
	const txn = `{"event": "TRANSACTION", "card_transaction": {"id": "t1", "message_type": "AUTHORIZATION",
		"transaction_type": "PURCHASE", "transaction_amount": 100.0, "mcc": "7386", "flag": true, "note": null,
		"tags": ["a", "b"], "merchant": {"country": "ARE", "name": "caf\u00e9 \"x\""}}}`
	for _, tc := range []struct {
		name, filter string
		want         bool
	}{
		{"one path, one value", `{"card_transaction.message_type": ["AUTHORIZATION"]}`, true},
		{"one of its values", `{"card_transaction.transaction_type": ["REFUND", "PURCHASE"]}`, true},
		{"every path must hold", `{"card_transaction.message_type": ["AUTHORIZATION"], "card_transaction.transaction_type": ["REFUND"]}`, false},
		{"both hold", `{"card_transaction.message_type": ["AUTHORIZATION"], "card_transaction.transaction_type": ["REFUND", "PURCHASE"]}`, true},
		{"missing path", `{"card_transaction.network": ["VISA"]}`, false},
		{"missing parent", `{"card_status_change.new_status": ["ACTIVE"]}`, false},
		{"top-level member", `{"event": ["TRANSACTION"]}`, true},
		{"number by value", `{"card_transaction.transaction_amount": [100]}`, true},
		{"number by value, other spelling", `{"card_transaction.transaction_amount": [1e2]}`, true},
		{"number is not a string", `{"card_transaction.transaction_amount": ["100"]}`, false},
		{"string is not a number", `{"card_transaction.mcc": [7386]}`, false},
		{"string", `{"card_transaction.mcc": ["7386"]}`, true},
		{"boolean", `{"card_transaction.flag": [true]}`, true},
		{"boolean is not a string", `{"card_transaction.flag": ["true"]}`, false},
		{"null", `{"card_transaction.note": [null]}`, true},
		{"escaped value", `{"card_transaction.merchant.name": ["café \"x\""]}`, true},
		{"deeper", `{"card_transaction.merchant.country": ["ARE", "USA"]}`, true},
		{"object is not a value", `{"card_transaction.merchant": ["ARE"]}`, false},
		{"array is not a value", `{"card_transaction.tags": ["a"]}`, false},
		{"case matters", `{"card_transaction.message_type": ["authorization"]}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPlan([]*Filter{mustParse(t, tc.filter)})
			if got := p.Match(0, p.Read([]byte(txn))); got != tc.want {
				t.Fatalf("Match = %v, want %v", got, tc.want)
			}
		})
	}
}

// One plan holds many filters, with shared and nested paths, and reads a
// payload once for all of them.
func TestPlanManyFilters(t *testing.T) {
	filters := []*Filter{
		nil, // no filter: passes
		mustParse(t, `{"a.b": ["x"]}`),
		mustParse(t, `{"a.b": ["y"]}`),
		mustParse(t, `{"a": ["x"]}`),             // a is an object here
		mustParse(t, `{"a.b": ["x"], "c": [1]}`), // c is 1.0
		{},                                       // empty: passes
		mustParse(t, `{"d": ["last"]}`),          // repeated member: the last counts
	}
	p := NewPlan(filters)
	if !p.Active() {
		t.Fatal("plan with filters is not active")
	}
	v := p.Read([]byte(`{"d": "first", "a": {"b": "x", "z": [{"b": "y"}]}, "c": 1.0, "d": "last"}`))
	want := []bool{true, true, false, false, true, true, true}
	for i, w := range want {
		if got := p.Match(i, v); got != w {
			t.Errorf("filter %d: Match = %v, want %v", i, got, w)
		}
	}
	if NewPlan([]*Filter{nil, {}}).Active() {
		t.Error("a plan without conditions is active")
	}
}

func TestMalformedPayloads(t *testing.T) {
	p := NewPlan([]*Filter{mustParse(t, `{"a": ["x"]}`)})
	for _, payload := range []string{``, `"x"`, `[{"a": "x"}]`, `{"a": "x"`, `{"a" "x"}`, `{"a": "x",}`, `{"a": "x" "b"}`, `{"b": {"c": "x"`, `{"a": "x\`} {
		if p.Match(0, p.Read([]byte(payload))) {
			t.Errorf("%q matches", payload)
		}
	}
	if !p.Match(0, p.Read([]byte(` { "b" : [1, {"a": "y"}] , "a" : "x" } `))) {
		t.Error("spaced payload does not match")
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"a": {"b": "x"}, "c": [1, 2]}`))
	f.Add([]byte(`{"a": "x\"y"}`))
	p := NewPlan([]*Filter{mustParse(f, `{"a.b": ["x"], "a": ["x"], "c": [1]}`)})
	f.Fuzz(func(t *testing.T, payload []byte) {
		v := p.Read(payload) // never panics
		if p.Match(0, v) && !json.Valid(payload) {
			// Read is not a validator, but it only finds values in
			// well-formed members; nothing to assert beyond no panic.
			return
		}
	})
}

// BenchmarkRead is one payload read for 100 filters of two paths each.
func BenchmarkRead(b *testing.B) {
	payload := []byte(`{"event": "TRANSACTION", "card_transaction": {"id": "6f2c", "message_type": "AUTHORIZATION",
		"transaction_type": "PURCHASE", "merchant_name": "Shop", "transaction_amount": 12.5, "fee_details": [{"a": 1}, {"b": 2}]}}`)
	filters := make([]*Filter, 100)
	for i := range filters {
		filters[i] = mustParse(b, fmt.Sprintf(`{"card_transaction.message_type": ["AUTHORIZATION"], "card_transaction.transaction_type": ["T%d", "PURCHASE"]}`, i))
	}
	p := NewPlan(filters)
	b.ReportAllocs()
	for b.Loop() {
		v := p.Read(payload)
		for i := range filters {
			p.Match(i, v)
		}
	}
}
