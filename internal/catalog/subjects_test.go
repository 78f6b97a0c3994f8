package catalog_test

import (
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/catalog"
)

// Every catalogue sample yields the ids it carries.
func TestSubjectsOfSamples(t *testing.T) {
	c := newCatalog(t)
	for _, tc := range []struct {
		event, variant string
		want           catalog.Subjects
	}{
		{"CARD_STATUS_CHANGE", "", catalog.Subjects{CardID: "eef930c7-6e44-4846-948a-dfd7855484b6"}},
		{"TRANSACTION", "PURCHASE", catalog.Subjects{CardID: "8ac1eba8-9ccd-4cf7-acb1-8666007a9634", UserID: "2f8548e5-f505-491a-aeee-830948fa3046", TransactionID: "9829a089-1804-40b6-9920-d31bacc07f17"}},
		{"TRANSACTION", "WALLET_CREDIT", catalog.Subjects{UserID: "0d7f87bf-0390-40a2-988a-c5cb0187066a", TransactionID: "wqwrhsDfEGGJn"}},
		{"TRANSACTION", "WALLET_TRANSFER", catalog.Subjects{UserID: "hkuser282", TransactionID: "b90e1563-7438-42b7-a997-9b871ad64ffb"}},
		{"KYC_RESULT", "PASS", catalog.Subjects{UserID: "0d7f87bf-0390-40a2-988a-c5cb0187066a"}},
		{"PIN_CHANGE", "", catalog.Subjects{CardID: "77779999999999999212", UserID: "hkuser282"}},
		// card_transaction.id is a transaction id only in a TRANSACTION.
		{"EXPIRED_AUTH", "", catalog.Subjects{CardID: "59e056c2-0645-48fb-890f-ef08ba1a7ff9", UserID: "users1285"}},
		{"CHARGE_APPLIED", "", catalog.Subjects{CardID: "3198413a-0083-4dbc-92cf-77f47f1ee23b", AccountID: "43b1a6d8-6cf2-4abe-ac01-52d5c50753e8"}},
		{"ACCOUNT_STATUS_CHANGE", "", catalog.Subjects{AccountID: "0a8735ca-2c2d-4a5f-bfd3-79b20c60ea14"}},
		{"TOKEN_NOTIFICATION", "", catalog.Subjects{CardID: "145236599", UserID: "cf2de83b-ac68-441b-bc54-21de60014d57"}},
		{"SUCCESSFULLY_CREATED", "card_created", catalog.Subjects{CardID: "d7c5451f-d381-409e-a9dc-05ea557c3dfd", UserID: "Buiness_user_for_MSRQ_bank"}},
		{"SUCCESSFULLY_CREATED", "account_created", catalog.Subjects{UserID: "Buiness_user_for_MSRQ_bank", AccountID: "0a8735ca-2c2d-4a5f-bfd3-79b20c60ea14"}},
		{"NI_TOKEN_NOTIFICATION", "AC", catalog.Subjects{CardID: "99984100133767425304"}},
		{"NI_TOKEN_NOTIFICATION", "TD", catalog.Subjects{CardID: "52913582186153682368"}},
	} {
		sample, err := c.Sample(tc.event, tc.variant)
		if err != nil {
			t.Fatal(err)
		}
		name, got, err := c.Check(sample)
		if err != nil || name != tc.event || got != tc.want {
			t.Errorf("%s %s: Check = %s, %+v, %v; want %+v", tc.event, tc.variant, name, got, err, tc.want)
		}
	}
}

// Where ids are read and what counts as one.
func TestSubjectsRules(t *testing.T) {
	c := newCatalog(t)
	const head = `{"event": "CARD_STATUS_CHANGE", "card_status_change": {"card_id": "c1"}`
	for _, tc := range []struct {
		name, payload string
		want          catalog.Subjects
	}{
		{"escaped string", `{"event": "CARD_STATUS_CHANGE", "card_status_change": {"card_id": "c\u0031"}}`, catalog.Subjects{CardID: "c1"}},
		{"number", head + `, "user_id": 12345}`, catalog.Subjects{CardID: "c1", UserID: "12345"}},
		{"first met wins", `{"event": "CARD_STATUS_CHANGE", "card_id": "c0", "card_status_change": {"card_id": "c1"}}`, catalog.Subjects{CardID: "c0"}},
		{"not in arrays", head + `, "list": [{"user_id": "u1"}]}`, catalog.Subjects{CardID: "c1"}},
		{"not below the second level", head + `, "a": {"b": {"user_id": "u1"}}}`, catalog.Subjects{CardID: "c1"}},
		{"an object is not an id", head + `, "user_id": {"id": "u1"}}`, catalog.Subjects{CardID: "c1"}},
		{"null", head + `, "user_id": null, "account_id": "null"}`, catalog.Subjects{CardID: "c1"}},
		{"empty", head + `, "user_id": ""}`, catalog.Subjects{CardID: "c1"}},
		{"control character", head + `, "user_id": "u\u0000"}`, catalog.Subjects{CardID: "c1"}},
		{"too long", head + `, "user_id": "` + strings.Repeat("u", catalog.MaxSubjectLen+1) + `"}`, catalog.Subjects{CardID: "c1"}},
		{"longest", head + `, "user_id": "` + strings.Repeat("u", catalog.MaxSubjectLen) + `"}`, catalog.Subjects{CardID: "c1", UserID: strings.Repeat("u", catalog.MaxSubjectLen)}},
		{"transaction id only in card_transaction", `{"event": "TRANSACTION", "id": "x", "card_transaction": {"id": "t1", "message_type": "API", "transaction_type": "WALLET_CREDIT", "user_id": "u1"}}`,
			catalog.Subjects{UserID: "u1", TransactionID: "t1"}},
	} {
		_, got, err := c.Check([]byte(tc.payload))
		if err != nil || got != tc.want {
			t.Errorf("%s: Check = %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
	if _, got, err := c.Check([]byte(`{"event": "CARD_STATUS_CHANGE", "card_id": "c1"`)); err == nil || got != (catalog.Subjects{}) {
		t.Errorf("invalid JSON: Check = %+v, %v; want an error and no ids", got, err)
	}
}
