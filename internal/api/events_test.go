package api_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/heraldtest"
)

const niEnvelope = `{"id": "b876d568-8411-4638-bdef-a1a188a4773b", "type": "AC", "timestamp": "2020-07-20T06:49:02.366Z", "details": {"card": {"id": {"value": "99984100133767425304", "type": "externalCardId"}}, "token": {"requestorName": "APPLE PAY", "activationCode": "303241"}}}`

func TestPublishFansOutToSubscribers(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	rc := newReceiver(t, http.StatusOK)
	card := createHook(t, in, heraldtest.AdminKey, hookBody(rc.URL+"/card", "CARD_STATUS_CHANGE", "KYC_RESULT"))
	all := createHook(t, in, heraldtest.AdminKey, hookBody(rc.URL+"/all", "*"))
	txn := createHook(t, in, heraldtest.AdminKey, hookBody(rc.URL+"/txn", "TRANSACTION"))
	ni := createHook(t, in, heraldtest.AdminKey, hookBody(rc.URL+"/ni", "NI_TOKEN_NOTIFICATION"))
	disabled := createHook(t, in, heraldtest.AdminKey, map[string]any{"endpoint": rc.URL + "/off", "events": []string{"CARD_STATUS_CHANGE"}, "status": "DISABLED"})

	cases := []struct {
		name, payload, event string
		want                 []string
	}{
		{"card status change", cardEvent, "CARD_STATUS_CHANGE", []string{card.ID, all.ID, disabled.ID}},
		{"transaction", txnEvent, "TRANSACTION", []string{all.ID, txn.ID}},
		{"user created: only the wildcard", userEvent, "USER_CREATED", []string{all.ID}},
		{"NI envelope", niEnvelope, "NI_TOKEN_NOTIFICATION", []string{all.ID, ni.ID}},
	}
	var delivered int
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := in.Admin(t, "POST", "/events", tc.payload)
			wantStatus(t, r, http.StatusAccepted)
			if got := sortedKeys(r.Map(t)); !slices.Equal(got, []string{"event_id", "notifications"}) {
				t.Errorf("answer members = %v", got)
			}
			if r.Header.Get("Idempotent-Replayed") != "" {
				t.Errorf("first publish says Idempotent-Replayed")
			}
			var p published
			r.JSON(t, &p)
			if _, err := uuid.Parse(p.EventID); err != nil {
				t.Errorf("event_id %q: %v", p.EventID, err)
			}
			var hooks, ids []string
			for _, n := range p.Notifications {
				hooks = append(hooks, n.WebhookID)
				ids = append(ids, n.ID)
			}
			slices.Sort(hooks)
			want := slices.Sorted(slices.Values(tc.want))
			if !slices.Equal(hooks, want) {
				t.Errorf("notified webhooks = %v, want %v", hooks, want)
			}
			if slices.Sort(ids); len(slices.Compact(ids)) != len(p.Notifications) || slices.Contains(ids, "") {
				t.Errorf("notification ids not distinct: %+v", p.Notifications)
			}

			// GET /events/{id}: the event as published, with the same notifications.
			g := in.Admin(t, "GET", "/events/"+p.EventID, nil)
			wantStatus(t, g, http.StatusOK)
			var e struct {
				ID, Event, Created string
				Payload            json.RawMessage
				Notifications      []notification
			}
			g.JSON(t, &e)
			if e.ID != p.EventID || e.Event != tc.event || !sameJSON(t, e.Payload, tc.payload) {
				t.Errorf("event = %s", g.Body)
			}
			if ts, err := time.Parse("2006-01-02T15:04:05.000Z", e.Created); err != nil || time.Since(ts) > time.Minute {
				t.Errorf("created = %q (%v)", e.Created, err)
			}
			got := map[string]string{}
			for _, n := range e.Notifications {
				got[n.ID] = n.WebhookID
				if n.EventID != p.EventID || n.Event != tc.event || (n.Status != "PENDING" && n.Status != "DELIVERED") {
					t.Errorf("notification = %+v", n)
				}
			}
			for _, n := range p.Notifications {
				if got[n.ID] != n.WebhookID {
					t.Errorf("GET /events lacks notification %s for %s: %s", n.ID, n.WebhookID, g.Body)
				}
			}
			if len(got) != len(p.Notifications) {
				t.Errorf("GET /events has %d notifications, publish said %d", len(got), len(p.Notifications))
			}
			for _, n := range p.Notifications {
				if n.WebhookID != disabled.ID {
					delivered++
				}
			}
		})
	}
	// Every active subscriber receives its notification, as published.
	heraldtest.Eventually(t, 5*time.Second, "deliveries", func() bool { return len(rc.requests()) >= delivered })
	time.Sleep(100 * time.Millisecond)
	reqs := rc.requests()
	if len(reqs) != delivered {
		t.Errorf("receiver got %d requests, want %d", len(reqs), delivered)
	}
	byEvent := map[string]int{}
	for _, rq := range reqs {
		var m map[string]any
		if err := json.Unmarshal(rq.Body, &m); err != nil {
			t.Errorf("delivered body %q: %v", rq.Body, err)
		}
		byEvent[rq.Header.Get("Herald-Event")]++
	}
	if byEvent["CARD_STATUS_CHANGE"] != 2 || byEvent["TRANSACTION"] != 2 || byEvent["USER_CREATED"] != 1 || byEvent["NI_TOKEN_NOTIFICATION"] != 2 {
		t.Errorf("deliveries by event = %v", byEvent)
	}
}

func TestPublishWithoutSubscribers(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	createHook(t, in, heraldtest.AdminKey, hookBody("https://a.example/", "TRANSACTION"))
	r := in.Admin(t, "POST", "/events", cardEvent)
	wantStatus(t, r, http.StatusAccepted)
	if !bytes.Contains(r.Body, []byte(`"notifications":[]`)) {
		t.Errorf("answer = %s, want an empty notifications array", r.Body)
	}
	id := r.Map(t)["event_id"].(string)
	g := in.Admin(t, "GET", "/events/"+id, nil)
	wantStatus(t, g, http.StatusOK)
	if !bytes.Contains(g.Body, []byte(`"notifications":[]`)) {
		t.Errorf("GET = %s, want an empty notifications array", g.Body)
	}
	if n := countRows(t, in, `SELECT count(*) FROM events`); n != 1 {
		t.Errorf("events = %d, want 1 (stored even with no subscriber)", n)
	}
	wantError(t, in.Admin(t, "GET", "/events/"+uuid.NewString(), nil), http.StatusNotFound, "not_found", "")
	wantError(t, in.Admin(t, "GET", "/events/nope", nil), http.StatusNotFound, "not_found", "")
}

func TestPublishBatch(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	card := createHook(t, in, heraldtest.AdminKey, hookBody("https://card.example/", "CARD_STATUS_CHANGE"))
	txn := createHook(t, in, heraldtest.AdminKey, hookBody("https://txn.example/", "TRANSACTION"))
	r := in.Admin(t, "POST", "/events:batch", `{"events": [`+cardEvent+`, `+txnEvent+`, `+userEvent+`]}`)
	wantStatus(t, r, http.StatusAccepted)
	var ans struct {
		Events []published `json:"events"`
	}
	r.JSON(t, &ans)
	if len(ans.Events) != 3 {
		t.Fatalf("answer = %s, want 3 events", r.Body)
	}
	for i, want := range [][]string{{card.ID}, {txn.ID}, {}} {
		if got := slices.Sorted(maps.Keys(ans.Events[i].hookIDs())); !slices.Equal(got, want) {
			t.Errorf("events[%d] addressed %v, want %v", i, got, want)
		}
		g := in.Admin(t, "GET", "/events/"+ans.Events[i].EventID, nil)
		wantStatus(t, g, http.StatusOK)
		if ev := g.Map(t)["event"]; ev != []string{"CARD_STATUS_CHANGE", "TRANSACTION", "USER_CREATED"}[i] {
			t.Errorf("events[%d] stored as %v", i, ev)
		}
	}
	if n := countRows(t, in, `SELECT count(*) FROM events`); n != 3 {
		t.Errorf("events = %d, want 3", n)
	}
}

func TestRejectedPublishStoresNothing(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	// A wildcard subscriber: any stored event would make a notification.
	createHook(t, in, heraldtest.AdminKey, hookBody("https://a.example/", "*"))
	batch := func(events ...string) string { return `{"events": [` + strings.Join(events, ", ") + `]}` }
	cases := []struct {
		name, path, body, field string
	}{
		{"unknown event", "/events", `{"event": "CARD_EXPLODED", "card_id": "c"}`, "event"},
		{"missing event", "/events", `{"card_status_change": {"card_id": "c"}}`, "event"},
		{"event not a string", "/events", `{"event": 7}`, "event"},
		{"event null", "/events", `{"event": null}`, "event"},
		{"event in lower case", "/events", `{"event": "card_status_change"}`, "event"},
		{"NI event name published directly", "/events", `{"event": "NI_TOKEN_NOTIFICATION"}`, "event"},
		{"NI envelope of unknown type", "/events", `{"id": "1", "type": "ZZ", "timestamp": "t", "details": {}}`, "type"},
		{"array body", "/events", `[` + cardEvent + `]`, ""},
		{"string body", "/events", `"CARD_STATUS_CHANGE"`, ""},
		{"number body", "/events", `42`, ""},
		{"null body", "/events", `null`, ""},
		{"invalid JSON", "/events", `{"event": "CARD_STATUS_CHANGE"`, ""},
		{"empty body", "/events", ``, ""},
		{"trailing garbage", "/events", cardEvent + ` x`, ""},
		{"two events", "/events", cardEvent + cardEvent, ""},
		{"batch: third event invalid", "/events:batch", batch(cardEvent, txnEvent, `{"event": "NOPE"}`, userEvent), "events[2].event"},
		{"batch: third event without name", "/events:batch", batch(cardEvent, txnEvent, `{"x": 1}`), "events[2].event"},
		{"batch: second event not an object", "/events:batch", batch(cardEvent, `[]`), "events[1]"},
		{"batch: empty", "/events:batch", `{"events": []}`, "events"},
		{"batch: missing events", "/events:batch", `{}`, "events"},
		{"batch: events not an array", "/events:batch", `{"events": {}}`, "events"},
		{"batch: unknown member", "/events:batch", `{"events": [` + cardEvent + `], "mode": "fast"}`, "mode"},
		{"batch: a bare event", "/events:batch", `{"event": "USER_CREATED"}`, "event"},
		{"batch: invalid JSON", "/events:batch", `{"events": [`, ""},
		{"batch: empty body", "/events:batch", ``, ""},
		{"batch: trailing brace", "/events:batch", batch(cardEvent) + `}`, ""},
		{"batch: 1001 events", "/events:batch", batch(slices.Repeat([]string{userEvent}, 1001)...), "events"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, in.Admin(t, "POST", tc.path, tc.body), http.StatusBadRequest, "invalid_request", tc.field)
		})
	}
	if n := countRows(t, in, `SELECT count(*) FROM events`); n != 0 {
		t.Errorf("refused publishes stored %d events", n)
	}
	if n := search(t, in, heraldtest.AdminKey, map[string]any{}).Data; len(n) != 0 {
		t.Errorf("refused publishes made notifications: %+v", n)
	}
	if n := countRows(t, in, `SELECT count(*) FROM notifications`); n != 0 {
		t.Errorf("notifications table holds %d rows", n)
	}
	// 1000 events is the limit, not over it.
	r := in.Admin(t, "POST", "/events:batch", batch(slices.Repeat([]string{userEvent}, 1000)...))
	wantStatus(t, r, http.StatusAccepted)
	if n := countRows(t, in, `SELECT count(*) FROM events`); n != 1000 {
		t.Errorf("events after a 1000-event batch = %d", n)
	}
}

func TestEventTypes(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	r := in.Admin(t, "GET", "/event-types", nil)
	wantStatus(t, r, http.StatusOK)
	var list struct {
		Data []struct {
			Name string `json:"name"`
		} `json:"data"`
	}
	r.JSON(t, &list)
	var names []string
	for _, ty := range list.Data {
		names = append(names, ty.Name)
	}
	want := []string{"CARD_STATUS_CHANGE", "TRANSACTION", "KYC_RESULT", "USER_CREATED", "USER_STATUS_CHANGE", "USER_DOCUMENT_ALERT",
		"IDENTITY_VERIFICATION", "PIN_CHANGE", "EXPIRED_AUTH", "CHARGE_APPLIED", "ACCOUNT_STATUS_CHANGE", "CARD_PROVISIONING",
		"TOKEN_NOTIFICATION", "SUCCESSFULLY_CREATED", "CARD_DELIVERY_PARTNER_ASSIGNED", "CARD_DELIVERY_STATUS_CHANGED", "NI_TOKEN_NOTIFICATION"}
	for _, w := range want {
		if !slices.Contains(names, w) {
			t.Errorf("catalogue lacks %s: %v", w, names)
		}
	}
	if slices.Contains(names, "*") || slices.Contains(names, "PING") {
		t.Errorf("catalogue lists a pseudo event: %v", names)
	}

	for name, variants := range map[string][]string{
		"TRANSACTION":           {"PURCHASE", "CASH_WITHDRAWAL", "BALANCE_INQUIRY", "REFUND", "REVERSAL", "WALLET_CREDIT", "WALLET_DEBIT", "WALLET_TRANSFER"},
		"KYC_RESULT":            {"SUBMITTED", "INCONCLUSIVE", "PASS"},
		"USER_DOCUMENT_ALERT":   {"DOCUMENT_NEAR_EXPIRY", "DOCUMENT_EXPIRED"},
		"SUCCESSFULLY_CREATED":  {"card_created", "account_created"},
		"NI_TOKEN_NOTIFICATION": {"AC", "TC", "TD", "TE"},
		"CARD_STATUS_CHANGE":    nil,
	} {
		r := in.Admin(t, "GET", "/event-types/"+name, nil)
		wantStatus(t, r, http.StatusOK)
		var ty struct {
			Name     string `json:"name"`
			Variants []struct {
				Name   string          `json:"name"`
				Sample json.RawMessage `json:"sample"`
			} `json:"variants"`
		}
		r.JSON(t, &ty)
		if ty.Name != name {
			t.Errorf("GET /event-types/%s name = %q", name, ty.Name)
		}
		var got []string
		for _, v := range ty.Variants {
			got = append(got, v.Name)
			if len(v.Sample) == 0 {
				t.Errorf("%s variant %s has no sample", name, v.Name)
			}
		}
		if !slices.Equal(got, variants) {
			t.Errorf("%s variants = %v, want %v", name, got, variants)
		}
	}
	for _, name := range []string{"NOPE", "card_status_change", "*"} {
		wantError(t, in.Admin(t, "GET", "/event-types/"+name, nil), http.StatusNotFound, "not_found", "")
	}
}

// TestEventTypesCarrySchemaAndSample checks SPEC section 2: GET /event-types
// is "the catalogue, with each type's JSON Schema and a sample".
func TestEventTypesCarrySchemaAndSample(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	r := in.Admin(t, "GET", "/event-types/CARD_STATUS_CHANGE", nil)
	wantStatus(t, r, http.StatusOK)
	m := r.Map(t)
	schema, _ := m["schema"].(map[string]any)
	sample, _ := m["sample"].(map[string]any)
	if schema == nil || sample == nil || sample["event"] != "CARD_STATUS_CHANGE" {
		t.Fatalf("event type = %s, want a schema object and a sample with event CARD_STATUS_CHANGE", r.Body)
	}
	// The sample is publishable as is.
	publish(t, in, heraldtest.AdminKey, jsonString(sample))
}

// TestPublishValidatesAgainstSchema checks SPEC section 4: "a missing
// required field or a wrong type is a 400 naming the field, and nothing is
// stored".
func TestPublishValidatesAgainstSchema(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	for _, body := range []string{
		`{"event": "CARD_STATUS_CHANGE"}`,
		`{"event": "CARD_STATUS_CHANGE", "card_status_change": "ACTIVE"}`,
	} {
		r := in.Admin(t, "POST", "/events", body)
		wantStatus(t, r, http.StatusBadRequest)
		var e struct{ Error apiErr }
		r.JSON(t, &e)
		if e.Error.Code != "invalid_request" || e.Error.Field == nil || !strings.HasPrefix(*e.Error.Field, "card_status_change") {
			t.Errorf("%s: error = %s, want invalid_request naming card_status_change", body, r.Body)
		}
	}
	if n := countRows(t, in, `SELECT count(*) FROM events`); n != 0 {
		t.Errorf("invalid payloads stored %d events", n)
	}
}

// sameJSON reports whether got and want hold the same JSON value.
func sameJSON(t testing.TB, got []byte, want string) bool {
	t.Helper()
	var a, b any
	if err := json.Unmarshal(got, &a); err != nil {
		t.Errorf("%q: %v", got, err)
		return false
	}
	if err := json.Unmarshal([]byte(want), &b); err != nil {
		t.Fatalf("%q: %v", want, err)
	}
	return jsonString(a) == jsonString(b)
}
