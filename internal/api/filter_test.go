package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// config.filter is validated at registration against the schemas of the
// subscribed events: each refusal a 400 naming the member.
func TestFilterValidation(t *testing.T) {
	in := newStart(t)
	for _, tc := range []struct {
		name   string
		events []string
		filter any
		field  string // "" when accepted
	}{
		{"two paths", []string{"TRANSACTION"}, map[string]any{"card_transaction.message_type": []any{"AUTHORIZATION"}, "card_transaction.transaction_type": []any{"PURCHASE", "REFUND"}}, ""},
		{"amount as number and string", []string{"TRANSACTION"}, map[string]any{"card_transaction.transaction_amount": []any{100, "100"}}, ""},
		{"path of another subscribed event", []string{"TRANSACTION", "CARD_STATUS_CHANGE"}, map[string]any{"card_status_change.new_status": []any{"ACTIVE"}}, ""},
		{"every event", []string{"*"}, map[string]any{"card_status_change.new_status": []any{"ACTIVE"}}, ""},
		{"null", []string{"TRANSACTION"}, nil, ""},
		{"empty", []string{"TRANSACTION"}, map[string]any{}, ""},
		{"path no subscribed event has", []string{"CARD_STATUS_CHANGE"}, map[string]any{"card_transaction.message_type": []any{"AUTHORIZATION"}}, "config.filter.card_transaction.message_type"},
		{"unknown member", []string{"TRANSACTION"}, map[string]any{"card_transaction.colour": []any{"red"}}, "config.filter.card_transaction.colour"},
		{"object, not a value", []string{"TRANSACTION"}, map[string]any{"card_transaction": []any{"x"}}, "config.filter.card_transaction"},
		{"number where only strings are", []string{"TRANSACTION"}, map[string]any{"card_transaction.message_type": []any{"AUTHORIZATION", 5}}, "config.filter.card_transaction.message_type[1]"},
		{"boolean where only strings are", []string{"TRANSACTION"}, map[string]any{"card_transaction.message_type": []any{true}}, "config.filter.card_transaction.message_type[0]"},
		{"no values", []string{"TRANSACTION"}, map[string]any{"card_transaction.message_type": []any{}}, "config.filter.card_transaction.message_type"},
		{"not an array", []string{"TRANSACTION"}, map[string]any{"card_transaction.message_type": "AUTHORIZATION"}, "config.filter.card_transaction.message_type"},
		{"object value", []string{"TRANSACTION"}, map[string]any{"card_transaction.message_type": []any{map[string]any{}}}, "config.filter.card_transaction.message_type[0]"},
		{"value twice", []string{"TRANSACTION"}, map[string]any{"card_transaction.message_type": []any{"API", "API"}}, "config.filter.card_transaction.message_type[1]"},
		{"empty member name", []string{"TRANSACTION"}, map[string]any{"card_transaction..id": []any{"x"}}, "config.filter.card_transaction..id"},
		{"not an object", []string{"TRANSACTION"}, []any{"x"}, "config.filter"},
		{"64 values", []string{"TRANSACTION"}, map[string]any{"card_transaction.message_type": manyValues(64)}, ""},
		{"65 values", []string{"TRANSACTION"}, map[string]any{"card_transaction.message_type": manyValues(65)}, "config.filter.card_transaction.message_type"},
		{"17 paths", []string{"TRANSACTION"}, manyPaths(17), "config.filter"},
		{"long value", []string{"TRANSACTION"}, map[string]any{"card_transaction.id": []any{strings.Repeat("x", 300)}}, "config.filter.card_transaction.id[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := hookBody("https://client.example/hooks", tc.events...)
			body["config"] = map[string]any{"filter": tc.filter}
			r := in.Admin(t, "POST", "/webhooks", body)
			if tc.field == "" {
				wantStatus(t, r, http.StatusCreated)
				return
			}
			wantError(t, r, http.StatusBadRequest, "invalid_request", tc.field)
		})
	}
}

// hookFilter is config.filter of a webhook answer.
func hookFilter(t *testing.T, body []byte) string {
	t.Helper()
	var w struct {
		Config struct {
			Filter json.RawMessage `json:"filter"`
		} `json:"config"`
	}
	if err := json.Unmarshal(body, &w); err != nil {
		t.Fatalf("webhook answer %s: %v", body, err)
	}
	return string(w.Config.Filter)
}

// The filter is shown in canonical form, kept by PUTs that do not send it
// (a GET answer can be PUT back), checked again when events change, and
// removed by null.
func TestFilterUpdates(t *testing.T) {
	in := newStart(t)
	body := hookBody("https://client.example/hooks", "TRANSACTION", "CARD_STATUS_CHANGE")
	body["config"] = map[string]any{"filter": map[string]any{
		"card_transaction.transaction_type": []any{"REFUND", "PURCHASE"}, "card_transaction.transaction_amount": []any{1e2, "100"}}}
	r := in.Admin(t, "POST", "/webhooks", body)
	wantStatus(t, r, http.StatusCreated)
	const canonical = `{"card_transaction.transaction_amount":[100,"100"],"card_transaction.transaction_type":["REFUND","PURCHASE"]}`
	if got := hookFilter(t, r.Body); got != canonical {
		t.Fatalf("created filter %s, want %s", got, canonical)
	}
	id := r.Map(t)["id"].(string)
	path := "/webhooks/" + id

	wantStatus(t, in.Admin(t, "PUT", path, `{"config": {"timeout_seconds": 5}}`), http.StatusOK)
	if got := hookFilter(t, getHook(t, in, heraldtest.AdminKey, id)); got != canonical {
		t.Fatalf("filter after a PUT without it: %s", got)
	}
	// The GET answer PUT back as it is.
	var answer map[string]any
	noErr(t, json.Unmarshal(getHook(t, in, heraldtest.AdminKey, id), &answer))
	put := map[string]any{"endpoint": answer["endpoint"], "events": answer["events"], "config": answer["config"]}
	r = in.Admin(t, "PUT", path, put)
	wantStatus(t, r, http.StatusOK)
	if got := hookFilter(t, r.Body); got != canonical {
		t.Fatalf("filter after the GET answer PUT back: %s", got)
	}
	// Events that lose the filter's paths are refused, naming the path.
	wantError(t, in.Admin(t, "PUT", path, `{"events": ["CARD_STATUS_CHANGE"]}`), http.StatusBadRequest, "invalid_request",
		"config.filter.card_transaction.transaction_amount")
	// Changing events and filter together is checked as a whole.
	r = in.Admin(t, "PUT", path, `{"events": ["CARD_STATUS_CHANGE"], "config": {"filter": {"card_status_change.new_status": ["SUSPENDED"]}}}`)
	wantStatus(t, r, http.StatusOK)
	if got := hookFilter(t, r.Body); got != `{"card_status_change.new_status":["SUSPENDED"]}` {
		t.Fatalf("replaced filter: %s", got)
	}
	r = in.Admin(t, "PUT", path, `{"config": {"filter": null}}`)
	wantStatus(t, r, http.StatusOK)
	if got := hookFilter(t, r.Body); got != "null" {
		t.Fatalf("filter after null: %s", got)
	}
}

// noErr fails the test on an error.
func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Events that do not pass a webhook's filter make no notification for it;
// the others are delivered, through the real HTTP path, on both stores.
func TestFilterPublish(t *testing.T) {
	t.Parallel()
	onBothStores(t, func(t *testing.T, o heraldtest.Options) { filterPublish(t, heraldtest.Start(t, o)) })
}

func filterPublish(t *testing.T, in *heraldtest.Instance) {
	all, purchases := newReceiver(t, http.StatusOK), newReceiver(t, http.StatusOK)
	plain := createHook(t, in, heraldtest.AdminKey, hookBody(all.URL, "TRANSACTION"))
	body := hookBody(purchases.URL, "TRANSACTION")
	body["config"] = map[string]any{"filter": map[string]any{
		"card_transaction.message_type": []any{"AUTHORIZATION"}, "card_transaction.transaction_type": []any{"PURCHASE", "REFUND"}}}
	filtered := createHook(t, in, heraldtest.AdminKey, body)

	txn := func(message, kind string) string {
		return fmt.Sprintf(`{"event": "TRANSACTION", "card_transaction": {"id": "t-%s-%s", "message_type": %q, "transaction_type": %q}}`, message, kind, message, kind)
	}
	for _, tc := range []struct {
		payload string
		hooks   []string
	}{
		{txn("AUTHORIZATION", "PURCHASE"), []string{plain.ID, filtered.ID}},
		{txn("AUTHORIZATION", "REVERSAL"), []string{plain.ID}},
		{txn("API", "REFUND"), []string{plain.ID}},
		{txn("AUTHORIZATION", "REFUND"), []string{plain.ID, filtered.ID}},
	} {
		got := publish(t, in, heraldtest.AdminKey, tc.payload).hookIDs()
		if len(got) != len(tc.hooks) || !got[tc.hooks[0]] || !got[tc.hooks[len(tc.hooks)-1]] {
			t.Fatalf("%s went to %v, want %v", tc.payload, got, tc.hooks)
		}
	}
	// A batch is filtered event by event.
	r := in.Admin(t, "POST", "/events:batch", `{"events": [`+txn("AUTHORIZATION", "PURCHASE")+`, `+txn("API", "WALLET_CREDIT")+`]}`)
	wantStatus(t, r, http.StatusAccepted)
	var batch struct {
		Events []published `json:"events"`
	}
	r.JSON(t, &batch)
	if len(batch.Events) != 2 || len(batch.Events[0].Notifications) != 2 || len(batch.Events[1].Notifications) != 1 {
		t.Fatalf("batch answer %s: want 2 then 1 notifications", r.Body)
	}

	waitFor(t, in, heraldtest.AdminKey, map[string]any{"webhook_id": filtered.ID, "status": "DELIVERED"}, 3)
	waitFor(t, in, heraldtest.AdminKey, map[string]any{"webhook_id": plain.ID, "status": "DELIVERED"}, 6)
	heraldtest.Eventually(t, 10*time.Second, "deliveries received", func() bool {
		return len(purchases.requests()) == 3 && len(all.requests()) == 6
	})
	for _, req := range purchases.requests() {
		var p struct {
			CardTransaction struct {
				MessageType     string `json:"message_type"`
				TransactionType string `json:"transaction_type"`
			} `json:"card_transaction"`
		}
		noErr(t, json.Unmarshal(req.Body, &p))
		if p.CardTransaction.MessageType != "AUTHORIZATION" || (p.CardTransaction.TransactionType != "PURCHASE" && p.CardTransaction.TransactionType != "REFUND") {
			t.Errorf("the filtered webhook received %s", req.Body)
		}
	}
}
