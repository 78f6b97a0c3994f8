package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/heraldtest"
)

// testAnswer is a POST /webhooks/{id}:test or :resend answer.
type testAnswer struct {
	ID        string `json:"id"`
	EventID   string `json:"event_id"`
	WebhookID string `json:"webhook_id"`
	Event     string `json:"event"`
	Test      bool   `json:"test"`
	Status    string `json:"status"`
}

// A test event is a real notification to the webhook named alone, of any
// catalogue event, marked as a test.
func TestTestEvent(t *testing.T) {
	in := newStart(t)
	cat, err := catalog.New()
	if err != nil {
		t.Fatal(err)
	}
	rc, all := newReceiver(t, http.StatusOK), newReceiver(t, http.StatusOK)
	admin := heraldtest.AdminKey
	hook := createHook(t, in, admin, hookBody(rc.URL)) // CARD_STATUS_CHANGE only
	createHook(t, in, admin, hookBody(all.URL, "*"))
	send := func(body any, status int) testAnswer {
		t.Helper()
		r := in.Admin(t, "POST", "/webhooks/"+hook.ID+":test", body)
		wantStatus(t, r, status)
		var a testAnswer
		r.JSON(t, &a)
		return a
	}
	a := send(map[string]any{"event": "TRANSACTION", "variant": "PURCHASE"}, http.StatusAccepted)
	if !a.Test || a.WebhookID != hook.ID || a.Event != "TRANSACTION" || a.ID == "" {
		t.Fatalf("test answer %+v", a)
	}
	waitFor(t, in, admin, map[string]any{"notification_id": a.ID, "status": "DELIVERED"}, 1)
	sample, _ := cat.Sample("TRANSACTION", "PURCHASE")
	reqs := rc.requests()
	if len(reqs) != 1 || string(reqs[0].Body) != string(sample) || reqs[0].Header.Get("Herald-Event") != "TRANSACTION" {
		t.Fatalf("the webhook received %d requests (%v)", len(reqs), reqs)
	}
	if n := len(all.requests()); n != 0 {
		t.Fatalf("another webhook received %d requests of a test event", n)
	}
	var ev struct {
		Test          bool `json:"test"`
		Notifications []struct {
			Test bool `json:"test"`
		} `json:"notifications"`
	}
	in.Admin(t, "GET", "/events/"+a.EventID, nil).JSON(t, &ev)
	if !ev.Test || len(ev.Notifications) != 1 || !ev.Notifications[0].Test {
		t.Fatalf("GET /events/{id} of the test event: %+v", ev)
	}
	// A payload of one's own, validated as a publish is.
	own := `{"event": "CARD_STATUS_CHANGE", "card_status_change": {"card_id": "c-test", "old_status": "ACTIVE", "new_status": "SUSPENDED"}}`
	b := send(map[string]any{"event": "CARD_STATUS_CHANGE", "payload": json.RawMessage(own)}, http.StatusAccepted)
	waitFor(t, in, admin, map[string]any{"notification_id": b.ID, "status": "DELIVERED"}, 1)
	if got := search(t, in, admin, map[string]any{"card_id": "c-test"}).Data; len(got) != 1 || got[0].ID != b.ID {
		t.Fatalf("the test event is not found by its card: %+v", got)
	}
	for _, tc := range []struct {
		name  string
		body  any
		field string
	}{
		{"no event", map[string]any{}, "event"},
		{"unknown event", map[string]any{"event": "NOPE"}, "event"},
		{"unknown variant", map[string]any{"event": "TRANSACTION", "variant": "NOPE"}, "variant"},
		{"variant and payload", map[string]any{"event": "CARD_STATUS_CHANGE", "variant": "x", "payload": json.RawMessage(own)}, "variant"},
		{"another event's payload", map[string]any{"event": "TRANSACTION", "payload": json.RawMessage(own)}, "payload"},
		{"invalid payload", map[string]any{"event": "CARD_STATUS_CHANGE", "payload": json.RawMessage(`{"event": "CARD_STATUS_CHANGE", "card_status_change": {"card_id": 7}}`)}, "payload.card_status_change.card_id"},
		{"not an object", map[string]any{"event": "CARD_STATUS_CHANGE", "payload": "x"}, "payload"},
	} {
		r := in.Admin(t, "POST", "/webhooks/"+hook.ID+":test", tc.body)
		wantError(t, r, http.StatusBadRequest, "invalid_request", tc.field)
	}
	wantError(t, in.Admin(t, "POST", "/webhooks/"+hook.ID+":test", nil), http.StatusBadRequest, "invalid_request", "")
	other := createTenant(t, in, "other")
	wantError(t, in.Do(t, other.APIKey, "POST", "/webhooks/"+hook.ID+":test", map[string]any{"event": "TRANSACTION"}), http.StatusNotFound, "not_found", "")
	wantError(t, in.Admin(t, "POST", "/webhooks/01a2d3e4-0000-7000-8000-000000000000:test", map[string]any{"event": "TRANSACTION"}), http.StatusNotFound, "not_found", "")
	if got := len(rc.requests()); got != 2 {
		t.Errorf("the webhook received %d requests, want the 2 test events", got)
	}
}

// Any final notification can be re-sent, one or a filtered set.
func TestResend(t *testing.T) {
	in := newStart(t)
	rc := newReceiver(t, http.StatusOK)
	admin := heraldtest.AdminKey
	createHook(t, in, admin, hookBody(rc.URL))
	id := publish(t, in, admin, cardEvent).Notifications[0].ID
	waitFor(t, in, admin, map[string]any{"notification_id": id, "status": "DELIVERED"}, 1)
	r := in.Admin(t, "POST", "/notifications/"+id+":resend", nil)
	wantStatus(t, r, http.StatusAccepted)
	var a testAnswer
	r.JSON(t, &a)
	if a.ID != id || a.Test {
		t.Fatalf("resend answer %+v", a)
	}
	got := waitFor(t, in, admin, map[string]any{"notification_id": id, "status": "DELIVERED"}, 1)
	heraldtest.Eventually(t, 10*time.Second, "the second delivery", func() bool { return len(rc.requests()) == 2 })
	reqs := rc.requests()
	if reqs[1].Header.Get("webhook-id") != id || reqs[1].Header.Get("Herald-Attempt") != "2" || got[0].AttemptCount < 1 {
		t.Fatalf("the re-sent delivery: webhook-id %q, attempt %q", reqs[1].Header.Get("webhook-id"), reqs[1].Header.Get("Herald-Attempt"))
	}
	wantError(t, in.Admin(t, "POST", "/notifications/01a2d3e4-0000-7000-8000-000000000000:resend", nil), http.StatusNotFound, "not_found", "")
	wantError(t, in.Admin(t, "POST", "/notifications/x:resend", nil), http.StatusNotFound, "not_found", "")
	wantError(t, in.Admin(t, "POST", "/notifications/"+id+":bogus", nil), http.StatusNotFound, "not_found", "")
	other := createTenant(t, in, "other")
	wantError(t, in.Do(t, other.APIKey, "POST", "/notifications/"+id+":resend", nil), http.StatusNotFound, "not_found", "")

	// A filtered set: counted first, then re-sent.
	publish(t, in, admin, cardEvent)
	waitFor(t, in, admin, map[string]any{"status": "DELIVERED"}, 2)
	count := func(body map[string]any) (n int, more bool) {
		t.Helper()
		r := in.Admin(t, "POST", "/notifications:resend", body)
		wantStatus(t, r, http.StatusOK)
		var out struct {
			Count   int  `json:"count"`
			HasMore bool `json:"has_more"`
			DryRun  bool `json:"dry_run"`
		}
		r.JSON(t, &out)
		if out.DryRun != (body["dry_run"] == true) {
			t.Fatalf("dry_run %v in %s", out.DryRun, r.Body)
		}
		return out.Count, out.HasMore
	}
	if n, more := count(map[string]any{"card_id": "eef930c7-6e44-4846-948a-dfd7855484b6", "dry_run": true}); n != 2 || more {
		t.Fatalf("dry run counts %d (more %v), want 2", n, more)
	}
	if n, _ := count(map[string]any{"status": "PENDING"}); n != 0 {
		t.Fatalf("%d PENDING notifications re-sent", n)
	}
	if n, _ := count(map[string]any{"event": "CARD_STATUS_CHANGE"}); n != 2 {
		t.Fatalf("re-sent %d, want 2", n)
	}
	heraldtest.Eventually(t, 10*time.Second, "the re-sent set delivered", func() bool { return len(rc.requests()) == 5 })
	wantError(t, in.Admin(t, "POST", "/notifications:resend", map[string]any{"status": "LOST"}), http.StatusBadRequest, "invalid_request", "status")
	if !strings.Contains(string(in.Admin(t, "POST", "/notifications:resend", map[string]any{"bogus": 1}).Body), "bogus") {
		t.Error("an unknown member is not named")
	}
}
