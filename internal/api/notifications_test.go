package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// expiring is a webhook body that expires its notifications after one
// failed attempt.
func expiring(endpoint string) map[string]any {
	return map[string]any{"endpoint": endpoint, "events": []string{"CARD_STATUS_CHANGE"}, "config": map[string]any{"max_retries": 0}}
}

func TestSearchNotifications(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	ok := newReceiver(t, http.StatusOK)
	failing := newReceiver(t, http.StatusInternalServerError)
	good := createHook(t, in, heraldtest.AdminKey, hookBody(ok.URL, "CARD_STATUS_CHANGE"))
	bad := createHook(t, in, heraldtest.AdminKey, expiring(failing.URL))
	var events []published
	for range 3 {
		events = append(events, publish(t, in, heraldtest.AdminKey, cardEvent))
	}
	waitFor(t, in, heraldtest.AdminKey, map[string]any{"status": "DELIVERED"}, 3)
	waitFor(t, in, heraldtest.AdminKey, map[string]any{"status": "EXPIRED"}, 3)

	all := search(t, in, heraldtest.AdminKey, map[string]any{})
	if len(all.Data) != 6 || all.Paging.HasMore || all.Paging.After != nil {
		t.Fatalf("search {} = %d notifications, paging %+v", len(all.Data), all.Paging)
	}
	if !slices.IsSortedFunc(all.Data, func(a, b notification) int { return strings.Compare(b.ID, a.ID) }) {
		t.Errorf("search is not newest first")
	}
	for _, n := range all.Data {
		if n.Event != "CARD_STATUS_CHANGE" || n.AttemptCount != 1 || len(n.Attempts) != 1 || n.Attempts[0].Attempt != 1 {
			t.Errorf("notification = %+v", n)
			continue
		}
		switch n.WebhookID {
		case good.ID:
			if n.Status != "DELIVERED" || n.Attempts[0].StatusCode != 200 || n.Attempts[0].Error != "" {
				t.Errorf("delivered notification = %+v", n)
			}
		case bad.ID:
			if n.Status != "EXPIRED" || n.Attempts[0].StatusCode != 500 || n.Attempts[0].Error == "" {
				t.Errorf("expired notification = %+v", n)
			}
		default:
			t.Errorf("notification of unknown webhook: %+v", n)
		}
	}
	// Empty body is the same as {}.
	if r := in.Admin(t, "POST", "/webhooks:search", nil); r.Status != 200 || len(mustSearch(t, r).Data) != 6 {
		t.Errorf("search with no body = %d %s", r.Status, r.Body)
	}

	first := events[0].Notifications[0]
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	for _, c := range []struct {
		name   string
		filter map[string]any
		want   int
		check  func(n notification) bool
	}{
		{"by webhook", map[string]any{"webhook_id": bad.ID}, 3, func(n notification) bool { return n.WebhookID == bad.ID }},
		{"by webhook and status", map[string]any{"webhook_id": good.ID, "status": "DELIVERED"}, 3, func(n notification) bool { return n.Status == "DELIVERED" }},
		{"by status", map[string]any{"status": "EXPIRED"}, 3, func(n notification) bool { return n.WebhookID == bad.ID }},
		{"no match of status", map[string]any{"webhook_id": good.ID, "status": "EXPIRED"}, 0, nil},
		{"pending", map[string]any{"status": "PENDING"}, 0, nil},
		{"by event id", map[string]any{"event_id": events[1].EventID}, 2, func(n notification) bool { return n.EventID == events[1].EventID }},
		{"by notification id", map[string]any{"notification_id": first.ID}, 1, func(n notification) bool { return n.ID == first.ID }},
		{"by event name", map[string]any{"event": "CARD_STATUS_CHANGE"}, 6, nil},
		{"other event name", map[string]any{"event": "TRANSACTION"}, 0, nil},
		{"unknown webhook", map[string]any{"webhook_id": unknownID}, 0, nil},
		{"from the past", map[string]any{"from": past}, 6, nil},
		{"from the future", map[string]any{"from": future}, 0, nil},
		{"to the past", map[string]any{"to": past}, 0, nil},
		{"window", map[string]any{"from": past, "to": future}, 6, nil},
		{"nulls", map[string]any{"event": nil, "status": nil, "limit": nil}, 6, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := search(t, in, heraldtest.AdminKey, c.filter).Data
			if len(got) != c.want {
				t.Fatalf("%d notifications, want %d", len(got), c.want)
			}
			for _, n := range got {
				if c.check != nil && !c.check(n) {
					t.Errorf("unexpected notification %+v", n)
				}
			}
		})
	}

	// Paging walks every notification once.
	var walked []string
	after := ""
	for page := 0; ; page++ {
		f := map[string]any{"limit": 4}
		if after != "" {
			f["after"] = after
		}
		s := search(t, in, heraldtest.AdminKey, f)
		for _, n := range s.Data {
			walked = append(walked, n.ID)
		}
		if !s.Paging.HasMore {
			if page != 1 || len(s.Data) != 2 || s.Paging.After != nil {
				t.Errorf("last page %d: %d items, after %v", page, len(s.Data), s.Paging.After)
			}
			break
		}
		if len(s.Data) != 4 || s.Paging.After == nil || *s.Paging.After != s.Data[3].ID {
			t.Fatalf("page %d: %d items, after %v", page, len(s.Data), s.Paging.After)
		}
		after = *s.Paging.After
	}
	var allIDs []string
	for _, n := range all.Data {
		allIDs = append(allIDs, n.ID)
	}
	if !slices.Equal(walked, allIDs) {
		t.Errorf("paged walk = %v, want %v", walked, allIDs)
	}

	for _, c := range []struct {
		name, body, field string
	}{
		{"bogus status", `{"status": "FAILED"}`, "status"},
		{"lower-case status", `{"status": "expired"}`, "status"},
		{"unknown event", `{"event": "NOPE"}`, "event"},
		{"bad from", `{"from": "yesterday"}`, "from"},
		{"bad to", `{"to": "2026-13-01T00:00:00Z"}`, "to"},
		{"limit 0", `{"limit": 0}`, "limit"},
		{"limit 1001", `{"limit": 1001}`, "limit"},
		{"limit string", `{"limit": "10"}`, "limit"},
		{"webhook_id wrong type", `{"webhook_id": 5}`, "webhook_id"},
		// Malformed filters are errors, not searches that match nothing.
		{"webhook_id not an id", `{"webhook_id": "nope"}`, "webhook_id"},
		{"webhook_id upper case", `{"webhook_id": "0190C2A8-7D3E-7B1A-9F0E-5C6D7E8F9A0B"}`, "webhook_id"},
		{"webhook_id with NUL", `{"webhook_id": "a\u0000"}`, "webhook_id"},
		{"notification_id not an id", `{"notification_id": "x"}`, "notification_id"},
		{"event_id not an id", `{"event_id": "urn:uuid:0190c2a8-7d3e-7b1a-9f0e-5c6d7e8f9a0b"}`, "event_id"},
		{"after garbage", `{"after": "garbage"}`, "after"},
		{"from later than to", `{"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}`, "from"},
		{"unknown field", `{"colour": "red"}`, "colour"},
		{"invalid JSON", `{"status": `, ""},
		{"array", `[]`, ""},
	} {
		t.Run("invalid "+c.name, func(t *testing.T) {
			wantError(t, in.Admin(t, "POST", "/webhooks:search", c.body), http.StatusBadRequest, "invalid_request", c.field)
		})
	}
}

func TestSendExpired(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	rc := newReceiver(t, http.StatusServiceUnavailable)
	hookA := createHook(t, in, heraldtest.AdminKey, expiring(rc.URL+"/a"))
	hookB := createHook(t, in, heraldtest.AdminKey, expiring(rc.URL+"/b"))

	// Nothing expired yet: every route and form requeues nothing.
	for _, path := range []string{"/webhooks:sendexpired", "/webhooks/sendexpired"} {
		for _, body := range []any{nil, `{}`, map[string]any{"webhook_id": hookA.ID}, map[string]any{"notification_ids": []string{unknownID}}} {
			r := in.Admin(t, "POST", path, body)
			wantStatus(t, r, http.StatusOK)
			if got := r.Map(t); len(got) != 1 || got["requeued"] != 0.0 {
				t.Errorf("POST %s %v = %s, want {\"requeued\": 0}", path, body, r.Body)
			}
		}
	}

	p1 := publish(t, in, heraldtest.AdminKey, cardEvent)
	p2 := publish(t, in, heraldtest.AdminKey, cardEvent)
	expired := waitFor(t, in, heraldtest.AdminKey, map[string]any{"status": "EXPIRED"}, 4)
	if len(expired) != 4 {
		t.Fatal("want 4 expired notifications")
	}
	rc.status.Store(http.StatusOK)
	requeue := func(path string, body any) int {
		t.Helper()
		r := in.Admin(t, "POST", path, body)
		wantStatus(t, r, http.StatusOK)
		return int(r.Map(t)["requeued"].(float64))
	}
	// Filters that match nothing.
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)
	if n := requeue("/webhooks:sendexpired", map[string]any{"from": future}); n != 0 {
		t.Errorf("requeued %d from the future", n)
	}
	if n := requeue("/webhooks:sendexpired", map[string]any{"notification_ids": []string{unknownID}}); n != 0 {
		t.Errorf("requeued %d by an unknown id", n)
	}
	// An unknown webhook is 404, as for ping; so is another tenant's.
	other := createTenant(t, in, "other")
	for _, key := range []string{heraldtest.AdminKey, other.APIKey} {
		wantError(t, in.Do(t, key, "POST", "/webhooks:sendexpired", map[string]any{"webhook_id": unknownID}), http.StatusNotFound, "not_found", "")
	}
	wantError(t, in.Do(t, other.APIKey, "POST", "/webhooks:sendexpired", map[string]any{"webhook_id": hookA.ID}), http.StatusNotFound, "not_found", "")
	// An empty list would mean every expired notification: refused.
	wantError(t, in.Admin(t, "POST", "/webhooks:sendexpired", `{"notification_ids": []}`), http.StatusBadRequest, "invalid_request", "notification_ids")
	if n := len(search(t, in, heraldtest.AdminKey, map[string]any{"status": "EXPIRED"}).Data); n != 4 {
		t.Fatalf("%d expired after refused re-sends, want 4", n)
	}

	// One notification by id, through the alias.
	one := idFor(p1, hookA.ID)
	if n := requeue("/webhooks/sendexpired", map[string]any{"notification_ids": []string{one}}); n != 1 {
		t.Fatalf("requeued %d by id, want 1", n)
	}
	got := waitFor(t, in, heraldtest.AdminKey, map[string]any{"notification_id": one, "status": "DELIVERED"}, 1)
	if got[0].AttemptCount != 2 || len(got[0].Attempts) != 2 || got[0].Attempts[1].StatusCode != 200 {
		t.Errorf("re-sent notification = %+v, want a second, successful attempt", got[0])
	}
	// By webhook: B's two.
	if n := requeue("/webhooks:sendexpired", map[string]any{"webhook_id": hookB.ID}); n != 2 {
		t.Errorf("requeued %d of webhook B, want 2", n)
	}
	waitFor(t, in, heraldtest.AdminKey, map[string]any{"webhook_id": hookB.ID, "status": "DELIVERED"}, 2)
	// The rest (A's second), with an empty body.
	if n := requeue("/webhooks:sendexpired", nil); n != 1 {
		t.Errorf("requeued %d with an empty body, want 1", n)
	}
	waitFor(t, in, heraldtest.AdminKey, map[string]any{"event_id": p2.EventID, "status": "DELIVERED"}, 2)
	if n := requeue("/webhooks:sendexpired", `{}`); n != 0 {
		t.Errorf("requeued %d after all were delivered", n)
	}

	// A deleted webhook's expired notifications are not re-sent.
	rc.status.Store(http.StatusServiceUnavailable)
	gone := createHook(t, in, heraldtest.AdminKey, expiring(rc.URL+"/gone"))
	p3 := publish(t, in, heraldtest.AdminKey, cardEvent)
	waitFor(t, in, heraldtest.AdminKey, map[string]any{"status": "EXPIRED"}, 3)
	wantStatus(t, in.Admin(t, "DELETE", "/webhooks/"+gone.ID, nil), http.StatusNoContent)
	if n := requeue("/webhooks:sendexpired", map[string]any{"notification_ids": []string{idFor(p3, gone.ID)}}); n != 0 {
		t.Errorf("requeued %d of a deleted webhook", n)
	}
	wantError(t, in.Admin(t, "POST", "/webhooks:sendexpired", map[string]any{"webhook_id": gone.ID}), http.StatusNotFound, "not_found", "")

	for _, c := range []struct{ name, body, field string }{
		{"bad from", `{"from": "soon"}`, "from"},
		{"bad to", `{"to": 5}`, "to"},
		{"ids not an array", `{"notification_ids": "x"}`, "notification_ids"},
		{"ids empty", `{"notification_ids": []}`, "notification_ids"},
		{"second id not an id", `{"notification_ids": ["` + unknownID + `", "nope"]}`, "notification_ids[1]"},
		{"empty id", `{"notification_ids": [""]}`, "notification_ids[0]"},
		{"webhook_id not an id", `{"webhook_id": "nope"}`, "webhook_id"},
		{"from later than to", `{"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T23:59:59Z"}`, "from"},
		{"unknown field", `{"status": "EXPIRED"}`, "status"},
		{"invalid JSON", `{`, ""},
	} {
		for _, path := range []string{"/webhooks:sendexpired", "/webhooks/sendexpired"} {
			wantError(t, in.Admin(t, "POST", path, c.body), http.StatusBadRequest, "invalid_request", c.field)
		}
	}
}

// unknownID is well-formed but names nothing.
const unknownID = "0190c2a8-7d3e-7b1a-9f0e-5c6d7e8f9a0b"

func idFor(p published, webhookID string) string {
	for _, n := range p.Notifications {
		if n.WebhookID == webhookID {
			return n.ID
		}
	}
	return ""
}

func mustSearch(t testing.TB, r heraldtest.Response) searchAnswer {
	t.Helper()
	var s searchAnswer
	r.JSON(t, &s)
	return s
}
