package api_test

import (
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
