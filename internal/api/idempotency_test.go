package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/heraldtest"
)

func TestIdempotentPublish(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	acme := createTenant(t, in, "acme")
	_, pubA := newKey(t, in, acme.ID, "publisher")
	beta := createTenant(t, in, "beta")
	_, pubB := newKey(t, in, beta.ID, "publisher")
	createHook(t, in, acme.APIKey, hookBody("https://a1.example/", "*"))
	createHook(t, in, acme.APIKey, hookBody("https://a2.example/", "CARD_STATUS_CHANGE"))
	createHook(t, in, beta.APIKey, hookBody("https://b.example/", "*"))
	events := func(tenantID string) int {
		return countRows(t, in, `SELECT count(*) FROM events WHERE tenant_id = ?`, tenantID)
	}

	for _, header := range []string{"Idempotency-Key", "x-nymos-idempotency-key"} {
		t.Run(header, func(t *testing.T) {
			key := "order-42-" + header
			before := events(acme.ID)
			first := in.Do(t, pubA, "POST", "/events", cardEvent, header, key)
			wantStatus(t, first, http.StatusAccepted)
			if first.Header.Get("Idempotent-Replayed") != "" {
				t.Errorf("first answer is marked replayed")
			}
			var p1 published
			first.JSON(t, &p1)
			if len(p1.Notifications) != 2 {
				t.Fatalf("first publish addressed %d webhooks, want 2", len(p1.Notifications))
			}
			for range 2 {
				again := in.Do(t, pubA, "POST", "/events", cardEvent, header, key)
				wantStatus(t, again, http.StatusAccepted)
				if got := again.Header.Get("Idempotent-Replayed"); got != "true" {
					t.Errorf("Idempotent-Replayed = %q, want true", got)
				}
				var p2 published
				again.JSON(t, &p2)
				if jsonString(p2) != jsonString(p1) {
					t.Errorf("replay = %s\nfirst    %s", jsonString(p2), jsonString(p1))
				}
			}
			if n := events(acme.ID) - before; n != 1 {
				t.Errorf("%d events stored, want 1", n)
			}
			if n := search(t, in, acme.APIKey, map[string]any{"event_id": p1.EventID}).Data; len(n) != 2 {
				t.Errorf("notifications of the event = %d, want 2", len(n))
			}
			// Same key, different body: 409, nothing stored.
			r := in.Do(t, pubA, "POST", "/events", txnEvent, header, key)
			wantError(t, r, http.StatusConflict, "idempotency_conflict", "Idempotency-Key")
			if n := events(acme.ID) - before; n != 1 {
				t.Errorf("%d events stored after the conflict, want 1", n)
			}
			// The same body under another key is a new event.
			p3 := publish(t, in, pubA, cardEvent, header, key+"-other")
			if p3.EventID == p1.EventID {
				t.Errorf("another key replayed the first event")
			}
			// Keys are per tenant: beta may use acme's key for its own event.
			rb := in.Do(t, pubB, "POST", "/events", txnEvent, header, key)
			wantStatus(t, rb, http.StatusAccepted)
			var pb published
			rb.JSON(t, &pb)
			if pb.EventID == p1.EventID || rb.Header.Get("Idempotent-Replayed") != "" || len(pb.Notifications) != 1 {
				t.Errorf("beta's publish under acme's key = %s (replayed %q)", rb.Body, rb.Header.Get("Idempotent-Replayed"))
			}
			wantError(t, in.Do(t, pubA, "GET", "/events/"+pb.EventID, nil), http.StatusNotFound, "not_found", "")
		})
	}

	t.Run("both headers: Idempotency-Key wins", func(t *testing.T) {
		p1 := publish(t, in, pubA, userEvent, "Idempotency-Key", "k-both")
		r := in.Do(t, pubA, "POST", "/events", userEvent, "Idempotency-Key", "k-both", "x-nymos-idempotency-key", "k-other")
		wantStatus(t, r, http.StatusAccepted)
		if r.Header.Get("Idempotent-Replayed") != "true" || r.Map(t)["event_id"] != p1.EventID {
			t.Errorf("answer = %s", r.Body)
		}
	})
	t.Run("batch", func(t *testing.T) {
		before := events(acme.ID)
		body := `{"events": [` + cardEvent + `, ` + userEvent + `]}`
		first := in.Do(t, pubA, "POST", "/events:batch", body, "Idempotency-Key", "batch-1")
		wantStatus(t, first, http.StatusAccepted)
		again := in.Do(t, pubA, "POST", "/events:batch", body, "Idempotency-Key", "batch-1")
		wantStatus(t, again, http.StatusAccepted)
		if again.Header.Get("Idempotent-Replayed") != "true" || string(again.Body) != string(first.Body) {
			t.Errorf("batch replay = %s (replayed %q)\nfirst %s", again.Body, again.Header.Get("Idempotent-Replayed"), first.Body)
		}
		wantError(t, in.Do(t, pubA, "POST", "/events:batch", `{"events": [`+cardEvent+`]}`, "Idempotency-Key", "batch-1"),
			http.StatusConflict, "idempotency_conflict", "Idempotency-Key")
		if n := events(acme.ID) - before; n != 2 {
			t.Errorf("%d events stored, want 2", n)
		}
	})
	t.Run("a refused publish does not use up the key", func(t *testing.T) {
		wantError(t, in.Do(t, pubA, "POST", "/events", `{"event": "NOPE"}`, "Idempotency-Key", "k-refused"),
			http.StatusBadRequest, "invalid_request", "event")
		r := in.Do(t, pubA, "POST", "/events", cardEvent, "Idempotency-Key", "k-refused")
		wantStatus(t, r, http.StatusAccepted)
		if r.Header.Get("Idempotent-Replayed") != "" {
			t.Errorf("first valid publish is marked replayed")
		}
	})
	t.Run("key too long", func(t *testing.T) {
		before := events(acme.ID)
		wantError(t, in.Do(t, pubA, "POST", "/events", cardEvent, "Idempotency-Key", strings.Repeat("k", 256)),
			http.StatusBadRequest, "invalid_request", "Idempotency-Key")
		if n := events(acme.ID) - before; n != 0 {
			t.Errorf("%d events stored", n)
		}
		publish(t, in, pubA, cardEvent, "Idempotency-Key", strings.Repeat("k", 255))
	})
	t.Run("admin publishing for a tenant shares its keys", func(t *testing.T) {
		p1 := publish(t, in, pubA, userEvent, "Idempotency-Key", "k-admin")
		r := in.Do(t, heraldtest.AdminKey, "POST", "/events", userEvent, "Idempotency-Key", "k-admin", "Herald-Tenant", "acme")
		wantStatus(t, r, http.StatusAccepted)
		if r.Header.Get("Idempotent-Replayed") != "true" || r.Map(t)["event_id"] != p1.EventID {
			t.Errorf("admin publish for acme with acme's key = %s", r.Body)
		}
	})
}
