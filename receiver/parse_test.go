package receiver_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/heraldhq/herald/receiver"
)

// TestParseErrors checks the errors of bodies that are not events.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       error
	}{
		{"empty body", ``, receiver.ErrInvalidJSON},
		{"invalid JSON", `{"event": "PIN_CHANGE",`, receiver.ErrInvalidJSON},
		{"trailing comma", `{"event": "PIN_CHANGE", "card_id": "c",}`, receiver.ErrInvalidJSON},
		{"two values", `{"event": "PIN_CHANGE"} {}`, receiver.ErrInvalidJSON},
		{"array", `[{"event": "PIN_CHANGE", "card_id": "c"}]`, receiver.ErrNotObject},
		{"empty array", `[]`, receiver.ErrNotObject},
		{"string", `"PIN_CHANGE"`, receiver.ErrNotObject},
		{"number", `42`, receiver.ErrNotObject},
		{"null", `null`, receiver.ErrNotObject},
		{"empty object", `{}`, receiver.ErrNoEvent},
		{"missing event", `{"card_id": "c", "user_id": "u"}`, receiver.ErrNoEvent},
		{"null event", `{"event": null, "card_id": "c"}`, receiver.ErrNoEvent},
		{"event not a string", `{"event": 42}`, receiver.ErrNoEvent},
		{"NI envelope without details", `{"id": "1", "type": "AC", "timestamp": "t"}`, receiver.ErrNoEvent},
		{"NI envelope with a non-string type", `{"id": "1", "type": 1, "timestamp": "t", "details": {}}`, receiver.ErrNoEvent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := receiver.Parse([]byte(tc.body))
			if !errors.Is(err, tc.want) || ev != nil {
				t.Errorf("Parse(%s) = %v, %v; want %v", tc.body, ev, err, tc.want)
			}
		})
	}
}

// TestParseUnknownEvent checks *UnknownEventError.
func TestParseUnknownEvent(t *testing.T) {
	for _, tc := range []struct {
		body     string
		name     string
		envelope bool
	}{
		{`{"event": "NOPE", "card_id": "c"}`, "NOPE", false},
		{`{"event": "transaction", "card_transaction": {"id": "x"}}`, "transaction", false},
		{`{"event": "NI_TOKEN_NOTIFICATION", "id": "1"}`, "NI_TOKEN_NOTIFICATION", false},
		{`{"id": "1", "type": "XX", "timestamp": "t", "details": {}}`, "XX", true},
	} {
		_, err := receiver.Parse([]byte(tc.body))
		var unknown *receiver.UnknownEventError
		if !errors.As(err, &unknown) || unknown.Name != tc.name || unknown.Envelope != tc.envelope {
			t.Errorf("Parse(%s) error = %v, want UnknownEventError{%q, %v}", tc.body, err, tc.name, tc.envelope)
			continue
		}
		if !strings.Contains(err.Error(), tc.name) {
			t.Errorf("error %q does not name %q", err, tc.name)
		}
	}
}

// TestParseDecodeError checks that a member the Go type cannot hold is an
// error naming the event.
func TestParseDecodeError(t *testing.T) {
	for _, body := range []string{
		`{"event": "TRANSACTION", "card_transaction": {"id": 42}}`,
		`{"event": "TRANSACTION", "card_transaction": {"id": "x", "transaction_amount": {}}}`,
		`{"event": "TRANSACTION", "card_transaction": {"id": "x", "fallback": "no"}}`,
		`{"event": "KYC_RESULT", "kyc_id": "k", "user_id": "u", "status": ["PASS"]}`,
		`{"id": "1", "type": "AC", "timestamp": "t", "details": []}`,
	} {
		ev, err := receiver.Parse([]byte(body))
		var unknown *receiver.UnknownEventError
		if err == nil || errors.As(err, &unknown) || errors.Is(err, receiver.ErrNoEvent) || errors.Is(err, receiver.ErrInvalidJSON) {
			t.Errorf("Parse(%s) = %v, %v; want a decode error", body, ev, err)
		}
	}
}

// TestParseUnknownVariant checks that an event whose variant is not
// recognised comes as its base type, with VariantName "".
func TestParseUnknownVariant(t *testing.T) {
	for _, tc := range []struct {
		body  string
		check func(receiver.Event) bool
	}{
		{`{"event": "TRANSACTION", "card_transaction": {"id": "x", "message_type": "AUTHORIZATION", "transaction_type": "CHARGEBACK"}}`,
			func(ev receiver.Event) bool { _, ok := ev.(*receiver.Transaction); return ok }},
		{`{"event": "TRANSACTION", "card_transaction": {"id": "x", "message_type": "API", "transaction_type": "PURCHASE"}}`,
			func(ev receiver.Event) bool { _, ok := ev.(*receiver.Transaction); return ok }},
		{`{"event": "TRANSACTION", "card_transaction": {"id": "x"}}`,
			func(ev receiver.Event) bool { _, ok := ev.(*receiver.Transaction); return ok }},
		{`{"event": "KYC_RESULT", "kyc_id": "k", "user_id": "u", "status": "FAIL"}`,
			func(ev receiver.Event) bool { _, ok := ev.(*receiver.KYCResult); return ok }},
		{`{"event": "USER_DOCUMENT_ALERT", "user_id": "u", "identification_id": "i"}`,
			func(ev receiver.Event) bool { _, ok := ev.(*receiver.UserDocumentAlert); return ok }},
		{`{"event": "IDENTITY_VERIFICATION", "user_id": "u", "applicant_id": "a", "status": "ACTIVE"}`,
			func(ev receiver.Event) bool { _, ok := ev.(*receiver.IdentityVerification); return ok }},
		{`{"event": "SUCCESSFULLY_CREATED", "event_type": "user_created"}`,
			func(ev receiver.Event) bool { _, ok := ev.(*receiver.SuccessfullyCreated); return ok }},
	} {
		ev := mustParse(t, []byte(tc.body))
		if !tc.check(ev) || ev.VariantName() != "" {
			t.Errorf("Parse(%s) = %T with variant %q, want the base type and no variant", tc.body, ev, ev.VariantName())
		}
	}
}

// TestParseVariantByPresence checks IDENTITY_VERIFICATION's rules, which
// test whether a member is present rather than its value, and that an empty
// sdk_token survives a round trip.
func TestParseVariantByPresence(t *testing.T) {
	both := `{"event": "IDENTITY_VERIFICATION", "user_id": "u", "applicant_id": "a", "sdk_token": "", "old_status_reason_code": "I0"}`
	ev := mustParse(t, []byte(both))
	uc := as[*receiver.IdentityVerificationUserCreation](t, ev)
	if uc.SDKToken == nil || *uc.SDKToken != "" {
		t.Errorf("sdk_token = %v, want present and empty", uc.SDKToken)
	}
	c := newCatalog(t)
	out := mustMarshal(t, ev)
	eq(t, "catalog variant after round trip", c.Variant(receiver.EventIdentityVerification, out), "USER_CREATION")
}

// TestParseNIEnvelopeOfNCoreEvent checks that an nCore event delivered to a
// format ni webhook (wrapped in the NI envelope) parses as the event.
func TestParseNIEnvelopeOfNCoreEvent(t *testing.T) {
	wrap := func(typ string, payload []byte) []byte {
		return mustMarshal(t, map[string]any{"id": "msg_1", "type": typ, "timestamp": "2024-01-01T00:00:00Z", "details": json.RawMessage(payload)})
	}
	pass := sample(t, "KYC_RESULT", "PASS")
	k := as[*receiver.KYCResultPass](t, mustParse(t, wrap("KYC_RESULT", pass)))
	eq(t, "kyc_id", k.KYCID, "a0b896ef-ba81-43fc-ab23-b3d53359fe30")

	ping := mustParse(t, wrap("PING", []byte(`{"event": "PING", "webhook_id": "wh_1", "timestamp": "2024-01-01T00:00:00Z"}`)))
	eq(t, "webhook_id", as[*receiver.Ping](t, ping).WebhookID, "wh_1")

	for name, body := range map[string][]byte{
		"type and event differ":   wrap("PIN_CHANGE", pass),
		"details without event":   wrap("KYC_RESULT", []byte(`{"kyc_id": "k"}`)),
		"details not an object":   wrap("KYC_RESULT", []byte(`"x"`)),
		"envelope in an envelope": wrap("KYC_RESULT", wrap("KYC_RESULT", pass)),
	} {
		if ev, err := receiver.Parse(body); err == nil {
			t.Errorf("%s: Parse = %T, want an error", name, ev)
		}
	}
}

// TestParsePing checks Herald's test request.
func TestParsePing(t *testing.T) {
	ev := mustParse(t, []byte(`{"event": "PING", "webhook_id": "wh_1", "timestamp": "2024-01-01T00:00:00Z"}`))
	p := as[*receiver.Ping](t, ev)
	eq(t, "EventName", p.EventName(), receiver.EventPing)
	eq(t, "VariantName", p.VariantName(), "")
	eq(t, "timestamp", p.Timestamp, "2024-01-01T00:00:00Z")
}

// TestAsHelpers checks that the As* functions return the base struct of
// every variant, and nothing for another event.
func TestAsHelpers(t *testing.T) {
	pin := mustParse(t, sample(t, "PIN_CHANGE", ""))
	for _, s := range canonicalSamples(t) {
		ev := mustParse(t, s.body)
		event, _ := sampleName(s.name)
		got := map[string]bool{}
		if tx, ok := receiver.AsTransaction(ev); ok {
			got["TRANSACTION"] = tx.CardTransaction.ID != ""
		}
		if k, ok := receiver.AsKYCResult(ev); ok {
			got["KYC_RESULT"] = k.KYCID != ""
		}
		if u, ok := receiver.AsUserDocumentAlert(ev); ok {
			got["USER_DOCUMENT_ALERT"] = u.IdentificationID != ""
		}
		if v, ok := receiver.AsIdentityVerification(ev); ok {
			got["IDENTITY_VERIFICATION"] = v.ApplicantID != ""
		}
		if sc, ok := receiver.AsSuccessfullyCreated(ev); ok {
			got["SUCCESSFULLY_CREATED"] = sc.EventType != ""
		}
		if ni, ok := receiver.AsNITokenNotification(ev); ok {
			got["NI_TOKEN_NOTIFICATION"] = ni.ID != ""
		}
		switch event {
		case "TRANSACTION", "KYC_RESULT", "USER_DOCUMENT_ALERT", "IDENTITY_VERIFICATION", "SUCCESSFULLY_CREATED", "NI_TOKEN_NOTIFICATION":
			if len(got) != 1 || !got[event] {
				t.Errorf("%s: As* gave %v, want only %s with its fields", s.name, got, event)
			}
		default:
			if len(got) != 0 {
				t.Errorf("%s: As* gave %v, want nothing", s.name, got)
			}
		}
	}
	if _, ok := receiver.AsTransaction(pin); ok {
		t.Error("AsTransaction(PIN_CHANGE) succeeded")
	}
	base := mustParse(t, []byte(`{"event": "TRANSACTION", "card_transaction": {"id": "x"}}`))
	if tx, ok := receiver.AsTransaction(base); !ok || tx != base {
		t.Error("AsTransaction(*Transaction) does not return the event itself")
	}
}

// TestAmountAPI checks Amount's constructors and edge cases.
func TestAmountAPI(t *testing.T) {
	a, err := receiver.NewAmount("10.00")
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "NewAmount marshalled", string(mustMarshal(t, a)), "10.00")
	for _, bad := range []string{"", "abc", "1.", "01", "NaN", "1 2", `"1"`} {
		if _, err := receiver.NewAmount(bad); err == nil {
			t.Errorf("NewAmount(%q) succeeded", bad)
		}
	}
	s := receiver.StringAmount("6.0")
	eq(t, "StringAmount marshalled", string(mustMarshal(t, s)), `"6.0"`)
	if f, err := s.Float64(); err != nil || f != 6 {
		t.Errorf("StringAmount Float64 = %v, %v", f, err)
	}
	if _, err := receiver.StringAmount("six").Float64(); err == nil || errors.Is(err, receiver.ErrNoAmount) {
		t.Errorf("Float64 of \"six\" = %v, want a parse error", err)
	}
	var zero receiver.Amount
	if _, err := zero.Float64(); !errors.Is(err, receiver.ErrNoAmount) {
		t.Errorf("zero Amount Float64 error = %v", err)
	}
	eq(t, "zero Amount marshalled", string(mustMarshal(t, zero)), "null")
	eq(t, "zero Amount IsZero", zero.IsZero(), true)
	for _, bad := range []string{`true`, `{}`, `[]`, `"unterminated`} {
		var a receiver.Amount
		if err := json.Unmarshal([]byte(bad), &a); err == nil {
			t.Errorf("Unmarshal(%s) into Amount succeeded", bad)
		}
	}
	// Escapes in a string amount are decoded, and encoded again.
	var esc receiver.Amount
	if err := json.Unmarshal([]byte(`"\u0036.0"`), &esc); err != nil || esc.String() != "6.0" {
		t.Errorf("escaped string amount = %q, %v", esc.String(), err)
	}
}

// TestFlagAPI checks Flag's constructors.
func TestFlagAPI(t *testing.T) {
	eq(t, "BoolFlag(true)", string(mustMarshal(t, receiver.BoolFlag(true))), "true")
	eq(t, "BoolFlag(false).Bool", receiver.BoolFlag(false).Bool(), false)
	eq(t, "StringFlag(Y)", string(mustMarshal(t, receiver.StringFlag("Y"))), `"Y"`)
	eq(t, "StringFlag(Y).Bool", receiver.StringFlag("Y").Bool(), true)
	eq(t, "StringFlag( no ).Valid", receiver.StringFlag(" no ").Valid(), true)
	var zero receiver.Flag
	eq(t, "zero Flag marshalled", string(mustMarshal(t, zero)), "null")
	for _, bad := range []string{`1`, `{}`, `[]`} {
		var f receiver.Flag
		if err := json.Unmarshal([]byte(bad), &f); err == nil {
			t.Errorf("Unmarshal(%s) into Flag succeeded", bad)
		}
	}
}

// TestEventNameConstants checks the constants against the catalogue.
func TestEventNameConstants(t *testing.T) {
	consts := []string{
		receiver.EventCardStatusChange, receiver.EventTransaction, receiver.EventKYCResult,
		receiver.EventUserCreated, receiver.EventUserStatusChange, receiver.EventUserDocumentAlert,
		receiver.EventIdentityVerification, receiver.EventPINChange, receiver.EventExpiredAuth,
		receiver.EventChargeApplied, receiver.EventAccountStatusChange, receiver.EventCardProvisioning,
		receiver.EventTokenNotification, receiver.EventSuccessfullyCreated,
		receiver.EventCardDeliveryPartnerAssigned, receiver.EventCardDeliveryStatusChanged,
		receiver.EventNITokenNotification,
	}
	var names []string
	for _, ty := range newCatalog(t).Types() {
		names = append(names, ty.Name)
	}
	if strings.Join(consts, ",") != strings.Join(names, ",") {
		t.Errorf("constants %v, catalogue %v", consts, names)
	}
}
