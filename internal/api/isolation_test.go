package api_test

import (
	"net/http"
	"testing"
)

// TestTenantIsolation: another tenant's resources are 404, never 403, and
// tenant-wide operations never reach them (SPEC section 2).
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	rc := newReceiver(t, http.StatusInternalServerError)
	a := createTenant(t, in, "alpha")
	_, pubA := newKey(t, in, a.ID, "publisher")
	b := createTenant(t, in, "bravo")
	_, pubB := newKey(t, in, b.ID, "publisher")

	hookA := createHook(t, in, a.APIKey, expiring(rc.URL+"/alpha"))
	evA := publish(t, in, pubA, cardEvent)
	notesA := waitFor(t, in, a.APIKey, map[string]any{"status": "EXPIRED"}, 1)
	before := getHook(t, in, a.APIKey, hookA.ID)
	requestsBefore := len(rc.requests())

	// bravo has a webhook and an event of its own, so its lists are not
	// trivially empty. Its endpoint takes the delivery: were it to fail, the
	// notification would expire behind the test's back and bravo's own
	// sendexpired below would find it.
	rcB := newReceiver(t, http.StatusOK)
	hookB := createHook(t, in, b.APIKey, hookBody(rcB.URL+"/bravo", "TRANSACTION"))
	evB := publish(t, in, pubB, txnEvent)

	for _, key := range []struct{ name, key string }{{"bravo client", b.APIKey}, {"bravo publisher", pubB}} {
		for _, c := range []struct {
			method, path string
			body         any
			clientOnly   bool
		}{
			{"GET", "/webhooks/" + hookA.ID, nil, true},
			{"PUT", "/webhooks/" + hookA.ID, map[string]any{"status": "DISABLED", "endpoint": rc.URL + "/stolen"}, true},
			{"DELETE", "/webhooks/" + hookA.ID, nil, true},
			{"POST", "/webhooks/" + hookA.ID + ":ping", nil, true},
			{"POST", "/webhooks/" + hookA.ID + "/secret:rotate", nil, true},
			{"GET", "/events/" + evA.EventID, nil, false},
		} {
			t.Run(key.name+" "+c.method+" "+c.path, func(t *testing.T) {
				r := in.Do(t, key.key, c.method, c.path, c.body)
				if c.clientOnly && key.key == pubB {
					wantError(t, r, http.StatusForbidden, "forbidden", "")
					return
				}
				wantError(t, r, http.StatusNotFound, "not_found", "")
				// Naming the other tenant does not help a tenant key.
				wantError(t, in.Do(t, key.key, c.method, c.path, c.body, "Herald-Tenant", a.ID), http.StatusNotFound, "not_found", "")
			})
		}
	}

	// bravo's search and listings show only bravo's.
	if ids := listHookIDs(t, in, b.APIKey); len(ids) != 1 || ids[0] != hookB.ID {
		t.Errorf("bravo's webhooks = %v", ids)
	}
	for _, f := range []map[string]any{
		{}, {"event_id": evA.EventID}, {"webhook_id": hookA.ID}, {"notification_id": notesA[0].ID}, {"status": "EXPIRED"},
	} {
		for _, n := range search(t, in, b.APIKey, f).Data {
			if n.WebhookID != hookB.ID || n.EventID != evB.EventID {
				t.Errorf("bravo's search %v shows %+v", f, n)
			}
		}
	}
	// bravo's sendexpired does not touch alpha's expired notification;
	// alpha's webhook is unknown to it (404).
	for _, path := range []string{"/webhooks:sendexpired", "/webhooks/sendexpired"} {
		wantError(t, in.Do(t, b.APIKey, "POST", path, map[string]any{"webhook_id": hookA.ID}), http.StatusNotFound, "not_found", "")
	}
	for _, f := range []map[string]any{{}, {"notification_ids": []string{notesA[0].ID}}} {
		for _, path := range []string{"/webhooks:sendexpired", "/webhooks/sendexpired"} {
			r := in.Do(t, b.APIKey, "POST", path, f)
			wantStatus(t, r, http.StatusOK)
			if n := r.Map(t)["requeued"]; n != 0.0 {
				t.Errorf("bravo's %s %v requeued %v", path, f, n)
			}
		}
	}

	// alpha's webhook, event and notification are as they were; bravo's
	// ping never reached the endpoint.
	if after := getHook(t, in, a.APIKey, hookA.ID); string(after) != string(before) {
		t.Errorf("alpha's webhook changed:\nbefore %s\nafter  %s", before, after)
	}
	wantStatus(t, in.Do(t, pubA, "GET", "/events/"+evA.EventID, nil), http.StatusOK)
	if n := search(t, in, a.APIKey, map[string]any{"notification_id": notesA[0].ID}).Data; len(n) != 1 || n[0].Status != "EXPIRED" || n[0].AttemptCount != 1 {
		t.Errorf("alpha's notification = %+v, want EXPIRED after one attempt", n)
	}
	for _, rq := range rc.requests()[requestsBefore:] {
		t.Errorf("alpha's endpoint got a %s request after its notification expired", rq.Header.Get("Herald-Event"))
	}
	// alpha itself can re-send it.
	r := in.Do(t, a.APIKey, "POST", "/webhooks:sendexpired", map[string]any{})
	wantStatus(t, r, http.StatusOK)
	if n := r.Map(t)["requeued"]; n != 1.0 {
		t.Errorf("alpha's sendexpired requeued %v, want 1", n)
	}
}
