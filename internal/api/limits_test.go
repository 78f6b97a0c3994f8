package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// userEventOfSize is a valid USER_CREATED payload of exactly n bytes (the
// catalogue allows members it does not know, so a "note" pads it).
func userEventOfSize(t testing.TB, n int) string {
	t.Helper()
	const head = `{"event": "USER_CREATED", "user_id": "ea27ae20-82a6-4940-a361-bc52c3147d7f", "new_status": "PENDINGKYB", "user_type": "BUSINESS", "note": "`
	const tail = `"}`
	pad := n - len(head) - len(tail)
	if pad < 0 {
		t.Fatalf("an event cannot be as small as %d bytes", n)
	}
	return head + strings.Repeat("x", pad) + tail
}

// TestBatchHoldsEachEventToThePublishLimit: POST /events:batch takes up to
// 16 MiB in all, but each of its events is held to the 1 MiB of POST
// /events; an oversized one is 413 naming it, and nothing is stored.
func TestBatchHoldsEachEventToThePublishLimit(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	createHook(t, in, heraldtest.AdminKey, hookBody("https://a.example/", "*"))
	const limit = 1 << 20
	atLimit, overLimit := userEventOfSize(t, limit), userEventOfSize(t, limit+1)

	wantError(t, in.Admin(t, "POST", "/events", overLimit), http.StatusRequestEntityTooLarge, "payload_too_large", "")
	for _, body := range []string{
		`{"events": [` + overLimit + `]}`,
		`{"events": [` + userEvent + `, ` + atLimit + `, ` + overLimit + `]}`,
	} {
		r := in.Admin(t, "POST", "/events:batch", body)
		field := "events[0]"
		if strings.Count(body, `"USER_CREATED"`) == 3 {
			field = "events[2]"
		}
		wantError(t, r, http.StatusRequestEntityTooLarge, "payload_too_large", field)
	}
	if n := countRows(t, in, `SELECT count(*) FROM events`); n != 0 {
		t.Fatalf("refused batches stored %d events", n)
	}
	// Exactly the limit passes, as it does for POST /events.
	wantStatus(t, in.Admin(t, "POST", "/events:batch", `{"events": [`+atLimit+`, `+userEvent+`]}`), http.StatusAccepted)
	wantStatus(t, in.Admin(t, "POST", "/events", atLimit), http.StatusAccepted)
	if n := countRows(t, in, `SELECT count(*) FROM events`); n != 3 {
		t.Fatalf("events = %d, want 3", n)
	}
}

// payloadPage is a search answer with its payloads.
type payloadPage struct {
	Data []struct {
		ID      string          `json:"id"`
		EventID string          `json:"event_id"`
		Payload json.RawMessage `json:"payload"`
	} `json:"data"`
	Paging struct {
		After   *string `json:"after"`
		HasMore bool    `json:"has_more"`
	} `json:"paging"`
}

// TestSearchPayloadsOnlyWhenAsked: a search answer carries no payloads
// unless include_payload asks for them; GET /events/{id} always has it.
func TestSearchPayloadsOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	rc := newReceiver(t, http.StatusOK)
	createHook(t, in, heraldtest.AdminKey, hookBody(rc.URL, "*"))
	html := `{"event": "USER_CREATED", "user_id": "u", "new_status": "ACTIVE", "user_type": "INDIVIDUAL", "note": "<b>&amp;</b>"}`
	ev := publish(t, in, heraldtest.AdminKey, html)

	for _, body := range []any{map[string]any{}, map[string]any{"include_payload": false}, ""} {
		r := in.Admin(t, "POST", "/webhooks:search", body)
		wantStatus(t, r, http.StatusOK)
		if bytes.Contains(r.Body, []byte(`"payload"`)) || bytes.Contains(r.Body, []byte("&amp;")) {
			t.Fatalf("search %v carries the payload: %s", body, r.Body)
		}
		if len(search(t, in, heraldtest.AdminKey, body).Data) != 1 {
			t.Fatalf("search %v does not find the notification: %s", body, r.Body)
		}
	}
	r := in.Admin(t, "POST", "/webhooks:search", map[string]any{"include_payload": true})
	wantStatus(t, r, http.StatusOK)
	if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
	}
	var page payloadPage
	r.JSON(t, &page)
	if len(page.Data) != 1 || !sameJSON(t, page.Data[0].Payload, html) {
		t.Fatalf("include_payload answer %s, want the payload as published", r.Body)
	}
	// Shown as published: no \u003c escapes.
	if !bytes.Contains(r.Body, []byte(`"<b>&amp;</b>"`)) {
		t.Errorf("payload re-escaped in %s", r.Body)
	}
	var event struct {
		Payload json.RawMessage `json:"payload"`
	}
	g := in.Admin(t, "GET", "/events/"+ev.EventID, nil)
	wantStatus(t, g, http.StatusOK)
	g.JSON(t, &event)
	if !sameJSON(t, event.Payload, html) {
		t.Fatalf("GET /events/{id} payload = %s", event.Payload)
	}
	wantError(t, in.Admin(t, "POST", "/webhooks:search", `{"include_payload": "yes"}`), http.StatusBadRequest, "invalid_request", "include_payload")
}

// TestSearchAnswerBounded: thirty webhooks and events of a whole MiB (the
// case that took Herald to 1.4 GB of RSS) give answers of at most 8 MiB of
// payloads, paged with has_more; without include_payload the answer is small.
func TestSearchAnswerBounded(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	rc := newReceiver(t, http.StatusOK)
	const hooks = 30
	for range hooks {
		createHook(t, in, heraldtest.AdminKey, hookBody(rc.URL, "USER_CREATED"))
	}
	const mib = 1 << 20
	big := userEventOfSize(t, mib)
	publish(t, in, heraldtest.AdminKey, big)

	r := in.Admin(t, "POST", "/webhooks:search", map[string]any{"limit": hooks})
	wantStatus(t, r, http.StatusOK)
	if len(r.Body) > 64<<10 {
		t.Fatalf("a search without payloads answered %d bytes", len(r.Body))
	}

	seen := map[string]bool{}
	q := map[string]any{"limit": hooks, "include_payload": true}
	for pages := 1; ; pages++ {
		r := in.Admin(t, "POST", "/webhooks:search", q)
		wantStatus(t, r, http.StatusOK)
		if len(r.Body) > 8*mib+64<<10 {
			t.Fatalf("page %d is %d bytes, over the 8 MiB payload budget", pages, len(r.Body))
		}
		var page payloadPage
		r.JSON(t, &page)
		for _, n := range page.Data {
			if seen[n.ID] || len(n.Payload) == 0 || len(n.Payload) > mib {
				t.Fatalf("page %d: notification %s repeated or with a %d-byte payload", pages, n.ID, len(n.Payload))
			}
			seen[n.ID] = true
		}
		// Payloads of exactly 1 MiB: eight fit a page, a ninth would not.
		if want := min(8, hooks-len(seen)+len(page.Data)); len(page.Data) != want {
			t.Fatalf("page %d holds %d notifications, want %d", pages, len(page.Data), want)
		}
		if page.Paging.HasMore != (len(seen) < hooks) {
			t.Fatalf("page %d: has_more %v with %d of %d seen", pages, page.Paging.HasMore, len(seen), hooks)
		}
		if !page.Paging.HasMore {
			if pages != 4 {
				t.Errorf("%d pages, want 4 (8+8+8+6)", pages)
			}
			break
		}
		q["after"] = *page.Paging.After
	}
}
