package receiver_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/heraldhq/herald/receiver"
)

// sample returns a canonical sample.
func sample(t *testing.T, event, variant string) []byte {
	t.Helper()
	b, err := newCatalog(t).Sample(event, variant)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// seed returns a seed file (under seeds/, or seeds/invalid/).
func seed(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(seedsDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withMember returns body (a TRANSACTION) with card_transaction.member set to
// the JSON value, or removed when value is "".
func withMember(t *testing.T, body []byte, member, value string) []byte {
	t.Helper()
	var doc map[string]json.RawMessage
	var ct map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(doc["card_transaction"], &ct); err != nil {
		t.Fatal(err)
	}
	if value == "" {
		delete(ct, member)
	} else {
		ct[member] = json.RawMessage(value)
	}
	doc["card_transaction"] = mustMarshal(t, ct)
	return mustMarshal(t, doc)
}

// roundTrip marshals ev, checks that the result validates, and returns the
// marshalled card_transaction members.
func roundTrip(t *testing.T, ev receiver.Event) map[string]json.RawMessage {
	t.Helper()
	out := mustMarshal(t, ev)
	if _, err := newCatalog(t).Validate(out); err != nil {
		t.Fatalf("marshalled event does not validate: %v\n%s", err, out)
	}
	var doc struct {
		CardTransaction map[string]json.RawMessage `json:"card_transaction"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.CardTransaction
}

// trailingComma matches a comma before a closing brace or bracket.
var trailingComma = regexp.MustCompile(`,(\s*[}\]])`)

// TestRepairedInvalidSeeds reads the older document's wallet samples, whose
// only defect is a trailing comma: once it is removed they parse into their
// variants, and the WALLET_CREDIT one shows feeDetail with the string
// amount "6.0".
func TestRepairedInvalidSeeds(t *testing.T) {
	for file, want := range map[string]string{
		"000_TRANSACTION_3.json": "WALLET_CREDIT",
		"000_TRANSACTION_4.json": "WALLET_DEBIT",
		"000_TRANSACTION_5.json": "WALLET_TRANSFER",
	} {
		t.Run(file, func(t *testing.T) {
			raw := seed(t, filepath.Join("invalid", file))
			if _, err := receiver.Parse(raw); !errors.Is(err, receiver.ErrInvalidJSON) {
				t.Fatalf("Parse(seed as published) error = %v, want ErrInvalidJSON", err)
			}
			ev := mustParse(t, trailingComma.ReplaceAll(raw, []byte("$1")))
			eq(t, "VariantName", ev.VariantName(), want)
			roundTrip(t, ev)
		})
	}
	tx, _ := receiver.AsTransaction(mustParse(t, trailingComma.ReplaceAll(seed(t, "invalid/000_TRANSACTION_3.json"), []byte("$1"))))
	ct := tx.CardTransaction
	if ct.FeeDetails != nil || len(ct.FeeDetail) != 1 {
		t.Fatalf("fee_details = %+v, feeDetail = %+v; want only feeDetail", ct.FeeDetails, ct.FeeDetail)
	}
	fee := tx.Fees()[0]
	amount(t, "feeDetail[0].amount", fee.Amount, "6.0", true)
	if f, err := fee.Amount.Float64(); err != nil || f != 6 {
		t.Errorf("Float64() = %v, %v; want 6", f, err)
	}
	eq(t, "fee_id", fee.FeeID, "173427")
	out := roundTrip(t, tx)
	eq(t, "marshalled feeDetail", string(out["feeDetail"]), `[{"fee_id":"173427","description":"transaction fee","amount":"6.0","currency":"AED"}]`)
	if _, ok := out["fee_details"]; ok {
		t.Error("marshalled fee_details although the seed has none")
	}
}

// TestInvalidSeedsRefused checks that every seed that is not valid JSON as
// published is refused with ErrInvalidJSON.
func TestInvalidSeedsRefused(t *testing.T) {
	for _, s := range readDir(t, filepath.Join(seedsDir, "invalid")) {
		if ev, err := receiver.Parse(s.body); !errors.Is(err, receiver.ErrInvalidJSON) {
			t.Errorf("%s: Parse = %T, %v; want ErrInvalidJSON", s.name, ev, err)
		}
	}
}

// TestAmountNumberOrString reads amounts as numbers (0.5, 10.00) and strings
// ("6.0", "3.6153"), and writes each back as it came.
func TestAmountNumberOrString(t *testing.T) {
	purchase := sample(t, "TRANSACTION", "PURCHASE")
	for _, tc := range []struct {
		json   string
		text   string
		quoted bool
		value  float64
	}{
		{`0.5`, "0.5", false, 0.5},
		{`"6.0"`, "6.0", true, 6},
		{`10.00`, "10.00", false, 10},
		{`"100"`, "100", true, 100},
		{`1e2`, "1e2", false, 100},
		{`-3.25`, "-3.25", false, -3.25},
	} {
		ev := mustParse(t, withMember(t, purchase, "transaction_amount", tc.json))
		tx, _ := receiver.AsTransaction(ev)
		a := tx.CardTransaction.TransactionAmount
		amount(t, tc.json, a, tc.text, tc.quoted)
		if f, err := a.Float64(); err != nil || f != tc.value {
			t.Errorf("%s: Float64() = %v, %v; want %v", tc.json, f, err, tc.value)
		}
		eq(t, tc.json+" marshalled", string(roundTrip(t, ev)["transaction_amount"]), tc.json)
	}
	// The PURCHASE sample's fee is the number 0.5 in fee_details.
	tx, _ := receiver.AsTransaction(mustParse(t, purchase))
	amount(t, "fee_details[0].amount", tx.Fees()[0].Amount, "0.5", false)
	if !strings.Contains(string(roundTrip(t, tx)["fee_details"]), `"amount":0.5`) {
		t.Error("fee_details amount 0.5 not marshalled as a number")
	}
	// A member that is not a number or a string cannot be an amount.
	if _, err := receiver.Parse(withMember(t, purchase, "transaction_amount", `true`)); err == nil {
		t.Error("Parse accepted a boolean transaction_amount")
	}
}

// TestOriginalAmountBillingNull reads original_amount_billing as the string
// "null" (every sample), JSON null, or an amount.
func TestOriginalAmountBillingNull(t *testing.T) {
	purchase := sample(t, "TRANSACTION", "PURCHASE")
	for _, tc := range []struct {
		json   string
		isNull bool
		text   string
	}{
		{`"null"`, true, "null"},
		{`null`, true, ""},
		{`12.5`, false, "12.5"},
		{`"12.5"`, false, "12.5"},
	} {
		ev := mustParse(t, withMember(t, purchase, "original_amount_billing", tc.json))
		tx, _ := receiver.AsTransaction(ev)
		a := tx.CardTransaction.OriginalAmountBilling
		eq(t, tc.json+" IsNull", a.IsNull(), tc.isNull)
		eq(t, tc.json+" String", a.String(), tc.text)
		if _, err := a.Float64(); tc.isNull != errors.Is(err, receiver.ErrNoAmount) {
			t.Errorf("%s: Float64 error = %v", tc.json, err)
		}
		eq(t, tc.json+" marshalled", string(roundTrip(t, ev)["original_amount_billing"]), tc.json)
	}
	// Absent stays absent.
	ev := mustParse(t, withMember(t, purchase, "original_amount_billing", ""))
	if _, ok := roundTrip(t, ev)["original_amount_billing"]; ok {
		t.Error("absent original_amount_billing marshalled")
	}
}

// TestFeeDetailSpellings reads fees from fee_details or feeDetail.
func TestFeeDetailSpellings(t *testing.T) {
	purchase := sample(t, "TRANSACTION", "PURCHASE")
	const older = `[{"fee_id":"173427","description":"transaction fee","amount":"6.0","currency":"AED"}]`
	for _, tc := range []struct {
		name, feeDetails, feeDetail string
		wantID                      string // of the first fee Fees returns; "" for none
		wantNil                     bool
	}{
		{"fee_details only", `[{"fee_id":"Fee1","amount":0.5}]`, "", "Fee1", false},
		{"feeDetail only", "", older, "173427", false},
		{"both", `[{"fee_id":"Fee1","amount":0.5}]`, older, "Fee1", false},
		{"empty fee_details and feeDetail", `[]`, older, "173427", false},
		{"empty fee_details", `[]`, "", "", false},
		{"neither", "", "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := withMember(t, purchase, "fee_details", tc.feeDetails)
			body = withMember(t, body, "feeDetail", tc.feeDetail)
			ev := mustParse(t, body)
			tx, _ := receiver.AsTransaction(ev)
			fees := tx.Fees()
			switch {
			case tc.wantNil && fees != nil:
				t.Errorf("Fees() = %+v, want nil", fees)
			case tc.wantID == "" && len(fees) != 0:
				t.Errorf("Fees() = %+v, want none", fees)
			case tc.wantID != "" && (len(fees) == 0 || fees[0].FeeID != tc.wantID):
				t.Errorf("Fees() = %+v, want first fee %s", fees, tc.wantID)
			}
			out := roundTrip(t, ev)
			sameJSON(t, "marshalled fee_details", out["fee_details"], tc.feeDetails)
			sameJSON(t, "marshalled feeDetail", out["feeDetail"], tc.feeDetail)
		})
	}
}

// sameJSON checks that got is the JSON want (numbers compared by their
// text); want "" means absent.
func sameJSON(t *testing.T, what string, got json.RawMessage, want string) {
	t.Helper()
	if want == "" || got == nil {
		if want != "" || got != nil {
			t.Errorf("%s = %s, want %s", what, got, want)
		}
		return
	}
	if !reflect.DeepEqual(generic(t, got), generic(t, []byte(want))) {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
}

// TestFlags reads isPreAuth and isCancelled as "Y"/"YES"/"N"/"NO" strings or
// booleans, and writes each back as it came.
func TestFlags(t *testing.T) {
	purchase := sample(t, "TRANSACTION", "PURCHASE")
	tx, _ := receiver.AsTransaction(mustParse(t, purchase))
	eq(t, "sample isPreAuth", tx.CardTransaction.IsPreAuth.String(), "Y")
	eq(t, "sample isCancelled", tx.CardTransaction.IsCancelled.String(), "YES")
	for _, tc := range []struct {
		json        string
		bool, valid bool
	}{
		{`"Y"`, true, true},
		{`"YES"`, true, true},
		{`"yes"`, true, true},
		{`"N"`, false, true},
		{`"NO"`, false, true},
		{`true`, true, true},
		{`false`, false, true},
		{`"MAYBE"`, false, false},
	} {
		for _, member := range []string{"isPreAuth", "isCancelled"} {
			ev := mustParse(t, withMember(t, purchase, member, tc.json))
			tx, _ := receiver.AsTransaction(ev)
			f := tx.CardTransaction.IsPreAuth
			if member == "isCancelled" {
				f = tx.CardTransaction.IsCancelled
			}
			eq(t, member+" "+tc.json+" Bool", f.Bool(), tc.bool)
			eq(t, member+" "+tc.json+" Valid", f.Valid(), tc.valid)
			eq(t, member+" "+tc.json+" IsString", f.IsString(), strings.HasPrefix(tc.json, `"`))
			eq(t, member+" "+tc.json+" marshalled", string(roundTrip(t, ev)[member]), tc.json)
		}
	}
	// Absent or null: not set, and not marshalled.
	for _, value := range []string{"", "null"} {
		ev := mustParse(t, withMember(t, purchase, "isPreAuth", value))
		tx, _ := receiver.AsTransaction(ev)
		if f := tx.CardTransaction.IsPreAuth; !f.IsZero() || f.Bool() || f.Valid() {
			t.Errorf("isPreAuth %q: %+v, want absent", value, f)
		}
		if _, ok := roundTrip(t, ev)["isPreAuth"]; ok {
			t.Errorf("isPreAuth %q marshalled", value)
		}
	}
	if _, err := receiver.Parse(withMember(t, purchase, "isPreAuth", `1`)); err == nil {
		t.Error("Parse accepted a number isPreAuth")
	}
}

// TestAcquirerCountry reads acquirerCountry at card_transaction level (the
// newer BALANCE_INQUIRY sample) or inside token_details (PURCHASE).
func TestAcquirerCountry(t *testing.T) {
	tx, _ := receiver.AsTransaction(mustParse(t, seed(t, "001_TRANSACTION_2.json")))
	eq(t, "card_transaction.acquirerCountry", tx.CardTransaction.AcquirerCountry, "USA")
	eq(t, "ResolvedAcquirerCountry", tx.CardTransaction.ResolvedAcquirerCountry(), "USA")
	eq(t, "marshalled", string(roundTrip(t, tx)["acquirerCountry"]), `"USA"`)

	purchase := sample(t, "TRANSACTION", "PURCHASE")
	tx, _ = receiver.AsTransaction(mustParse(t, purchase))
	eq(t, "card_transaction.acquirerCountry", tx.CardTransaction.AcquirerCountry, "")
	eq(t, "token_details.acquirerCountry", tx.CardTransaction.TokenDetails.AcquirerCountry, "USA")
	eq(t, "ResolvedAcquirerCountry", tx.CardTransaction.ResolvedAcquirerCountry(), "USA")

	tx, _ = receiver.AsTransaction(mustParse(t, withMember(t, purchase, "acquirerCountry", `"ARE"`)))
	eq(t, "both: ResolvedAcquirerCountry", tx.CardTransaction.ResolvedAcquirerCountry(), "ARE")

	tx, _ = receiver.AsTransaction(mustParse(t, sample(t, "TRANSACTION", "WALLET_DEBIT")))
	eq(t, "neither: ResolvedAcquirerCountry", tx.CardTransaction.ResolvedAcquirerCountry(), "")
}

// TestNISpellings reads the v1 NI samples' clintId and the textMessage
// beside card.
func TestNISpellings(t *testing.T) {
	ev := mustParse(t, seed(t, "002_NI_TOKEN_NOTIFICATION_1.json"))
	ni := as[*receiver.NITokenNotificationTC](t, ev)
	eq(t, "clientId", ni.Details.Card.ClientID, "")
	eq(t, "clintId", ni.Details.Card.ClintID, "1234567")
	eq(t, "ResolvedClientID", ni.Details.Card.ResolvedClientID(), "1234567")
	if !strings.Contains(string(mustMarshal(t, ni)), `"clintId":"1234567"`) {
		t.Error("clintId not marshalled back")
	}

	ac := as[*receiver.NITokenNotificationAC](t, mustParse(t, seed(t, "004_NI_TOKEN_NOTIFICATION_1.json")))
	eq(t, "ResolvedTextMessage", strings.HasPrefix(ac.Details.ResolvedTextMessage(), "Thank you"), true)
	eq(t, "tokenEventIndicator", ac.Details.Token.TokenEventIndicator, "3,4,6,7")

	inCard := []byte(`{"id":"1","type":"TC","timestamp":"t","details":{"card":{"textMessage":"hello"}}}`)
	tc := as[*receiver.NITokenNotificationTC](t, mustParse(t, inCard))
	eq(t, "card.textMessage", tc.Details.ResolvedTextMessage(), "hello")
}

// TestStrayMember reads the older PURCHASE sample, whose clearing_count is
// printed "ing_count": the unknown member is ignored, and the marshalled
// event, without it, still validates.
func TestStrayMember(t *testing.T) {
	ev := mustParse(t, seed(t, "000_TRANSACTION_1.json"))
	tx := as[*receiver.TransactionPurchase](t, ev)
	if tx.CardTransaction.ClearingCount != nil {
		t.Errorf("clearing_count = %v, want absent", *tx.CardTransaction.ClearingCount)
	}
	out := roundTrip(t, ev)
	if _, ok := out["ing_count"]; ok {
		t.Error("unknown member ing_count marshalled")
	}
	eq(t, "reversal_count", string(out["reversal_count"]), "0")
	eq(t, "fallback", string(out["fallback"]), "false")
}
