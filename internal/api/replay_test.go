package api_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// replayWindow is a replay body for the window around now.
func replayWindow(extra map[string]any) map[string]any {
	now := time.Now().UTC()
	body := map[string]any{"from": now.Add(-time.Hour).Format(time.RFC3339Nano), "to": now.Add(time.Hour).Format(time.RFC3339Nano)}
	for k, v := range extra {
		body[k] = v
	}
	return body
}

// replayed runs a replay that must succeed and returns what it queued.
func replayed(t *testing.T, in *heraldtest.Instance, key, hookID string, body any) int {
	t.Helper()
	r := in.Do(t, key, "POST", "/webhooks/"+hookID+":replay", body)
	wantStatus(t, r, http.StatusAccepted)
	var out struct {
		Queued *int `json:"queued"`
	}
	r.JSON(t, &out)
	if out.Queued == nil {
		t.Fatalf("replay answer %s has no queued", r.Body)
	}
	return *out.Queued
}

// A client that registered late gets the events it missed, delivered
// through the real HTTP path, once; its filter applies; include_delivered
// sends them again; on both stores.
func TestReplay(t *testing.T) {
	t.Parallel()
	onBothStores(t, func(t *testing.T, o heraldtest.Options) { replayLate(t, heraldtest.Start(t, o)) })
}

func replayLate(t *testing.T, in *heraldtest.Instance) {
	admin := heraldtest.AdminKey
	txn := func(message, kind string) string {
		return fmt.Sprintf(`{"event": "TRANSACTION", "card_transaction": {"id": "r-%s-%s", "message_type": %q, "transaction_type": %q}}`, message, kind, message, kind)
	}
	publish(t, in, admin, txn("AUTHORIZATION", "PURCHASE"))
	publish(t, in, admin, txn("API", "WALLET_CREDIT"))
	publish(t, in, admin, cardEvent)
	publish(t, in, admin, userEvent) // not subscribed

	rc, frc := newReceiver(t, http.StatusOK), newReceiver(t, http.StatusOK)
	hook := createHook(t, in, admin, hookBody(rc.URL, "TRANSACTION", "CARD_STATUS_CHANGE"))
	body := hookBody(frc.URL, "*")
	body["config"] = map[string]any{"filter": map[string]any{"card_transaction.message_type": []any{"AUTHORIZATION"}}}
	filtered := createHook(t, in, admin, body)
	// Published after registration: it has its notification already.
	publish(t, in, admin, txn("AUTHORIZATION", "REFUND"))
	waitFor(t, in, admin, map[string]any{"webhook_id": hook.ID, "status": "DELIVERED"}, 1)

	if n := replayed(t, in, admin, hook.ID, replayWindow(nil)); n != 3 {
		t.Fatalf("replay queued %d, want 3", n)
	}
	waitFor(t, in, admin, map[string]any{"webhook_id": hook.ID, "status": "DELIVERED"}, 4)
	if n := replayed(t, in, admin, hook.ID, replayWindow(nil)); n != 0 {
		t.Fatalf("second replay queued %d, want 0", n)
	}
	if n := replayed(t, in, admin, filtered.ID, replayWindow(nil)); n != 1 {
		t.Fatalf("filtered replay queued %d, want 1 (AUTHORIZATION PURCHASE; the REFUND has its own)", n)
	}
	if n := replayed(t, in, admin, hook.ID, replayWindow(map[string]any{"events": []string{"CARD_STATUS_CHANGE"}, "include_delivered": true})); n != 1 {
		t.Fatalf("replay of CARD_STATUS_CHANGE including delivered queued %d, want 1", n)
	}
	waitFor(t, in, admin, map[string]any{"webhook_id": hook.ID, "status": "DELIVERED"}, 5)
	heraldtest.Eventually(t, 10*time.Second, "replayed deliveries received", func() bool {
		return len(rc.requests()) == 5 && len(frc.requests()) == 2
	})
}

// Replay requests are validated, held to the fan-out bound and to
// retention, and confined to the caller's tenant and role.
func TestReplayRefusals(t *testing.T) {
	in := heraldtest.Start(t, heraldtest.Options{MaxFanout: 2, Retention: 24 * time.Hour})
	admin := heraldtest.AdminKey
	rc := newReceiver(t, http.StatusOK)
	for _, status := range []string{"ACTIVE", "SUSPENDED", "CLOSED"} {
		publish(t, in, admin, fmt.Sprintf(`{"event": "CARD_STATUS_CHANGE", "card_status_change": {"card_id": "c1", "new_status": %q}}`, status))
	}
	hook := createHook(t, in, admin, hookBody(rc.URL, "CARD_STATUS_CHANGE"))
	path := "/webhooks/" + hook.ID + ":replay"
	now := time.Now().UTC()
	ts := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339Nano) }
	for _, tc := range []struct {
		name  string
		body  any
		field string
	}{
		{"no body", nil, ""},
		{"no from", map[string]any{"to": ts(0)}, "from"},
		{"no to", map[string]any{"from": ts(-time.Minute)}, "to"},
		{"from not a time", map[string]any{"from": "yesterday", "to": ts(0)}, "from"},
		{"to not a time", map[string]any{"from": ts(-time.Minute), "to": 5}, "to"},
		{"from after to", map[string]any{"from": ts(0), "to": ts(-time.Minute)}, "from"},
		{"empty window", map[string]any{"from": ts(0), "to": ts(0)}, "to"},
		{"before retention", map[string]any{"from": ts(-25 * time.Hour), "to": ts(0)}, "from"},
		{"no events", replayWindow(map[string]any{"events": []string{}}), "events"},
		{"unknown event", replayWindow(map[string]any{"events": []string{"NOPE"}}), "events[0]"},
		{"event not subscribed", replayWindow(map[string]any{"events": []string{"CARD_STATUS_CHANGE", "TRANSACTION"}}), "events[1]"},
		{"event twice", replayWindow(map[string]any{"events": []string{"CARD_STATUS_CHANGE", "CARD_STATUS_CHANGE"}}), "events[1]"},
		{"include_delivered not a boolean", replayWindow(map[string]any{"include_delivered": "yes"}), "include_delivered"},
		{"unknown member", replayWindow(map[string]any{"webhook_id": hook.ID}), "webhook_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, in.Admin(t, "POST", path, tc.body), http.StatusBadRequest, "invalid_request", tc.field)
		})
	}
	// Three events over a bound of two: nothing is queued.
	wantError(t, in.Admin(t, "POST", path, replayWindow(nil)), http.StatusRequestEntityTooLarge, "fanout_too_large", "")
	if got := search(t, in, admin, map[string]any{"webhook_id": hook.ID}).Data; len(got) != 0 {
		t.Fatalf("a refused replay left %d notifications", len(got))
	}
	// What a filter rejects does not count: two of three are within it.
	body := hookBody(rc.URL, "CARD_STATUS_CHANGE")
	body["config"] = map[string]any{"filter": map[string]any{"card_status_change.new_status": []any{"ACTIVE", "SUSPENDED"}}}
	if n := replayed(t, in, admin, createHook(t, in, admin, body).ID, replayWindow(nil)); n != 2 {
		t.Fatalf("filtered replay queued %d, want 2", n)
	}

	// Another tenant's client key sees no such webhook; a publisher key may
	// not replay; an unknown webhook is 404; GET is not a replay.
	other := createTenant(t, in, "replay-other")
	wantError(t, in.Do(t, other.APIKey, "POST", path, replayWindow(nil)), http.StatusNotFound, "not_found", "")
	_, publisher := newKey(t, in, other.ID, "publisher")
	wantError(t, in.Do(t, publisher, "POST", path, replayWindow(nil)), http.StatusForbidden, "forbidden", "")
	wantError(t, in.Admin(t, "POST", "/webhooks/00000000-0000-7000-8000-000000000000:replay", replayWindow(nil)), http.StatusNotFound, "not_found", "")
	wantError(t, in.Admin(t, "GET", path, nil), http.StatusMethodNotAllowed, "method_not_allowed", "")
}
