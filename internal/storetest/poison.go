package storetest

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald/internal/policy"
	"github.com/heraldhq/herald/internal/store"
)

// testPoisonResults: answers and errors that no text column takes as they
// are (a NUL byte, invalid UTF-8, a long non-ASCII text cut inside a
// character) are recorded with the rest of their batch, stored as valid
// UTF-8 with U+FFFD in place of what was not, and their notifications go on
// to retry as usual.
func testPoisonResults(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ten, other := MustTenant(t, s), MustTenant(t, s)
	w := MustWebhook(t, s, ten.ID, "*")
	healthy := MustWebhook(t, s, other.ID, "*")
	ids := PublishTo(t, s, ten.ID, w.ID, 3, T0)
	publish(t, s, other.ID, "TRANSACTION", T0)
	now := T0.Add(time.Second)
	claimed := Claim(t, s, "d", now, 10, w.ID, healthy.ID)
	if len(claimed) != 4 {
		t.Fatalf("claimed %d, want 4", len(claimed))
	}
	long := strings.Repeat("é€", 1200) // 6,000 bytes of 2- and 3-byte characters
	cases := []struct {
		name      string
		body, err string
		// want are the stored texts (see storedText for cut ones).
		wantBody, wantErr string
		cut               bool
	}{
		{name: "NUL", body: "a\x00b", err: "HTTP 500 \x00", wantBody: "a\uFFFDb", wantErr: "HTTP 500 \uFFFD"},
		{name: "invalid UTF-8", body: "\xff\xfe{}", err: "bad \xc3\x28 byte", wantBody: "\uFFFD{}", wantErr: "bad \uFFFD( byte"},
		{name: "cut inside a character", body: long[:4096], err: long[:4094], cut: true,
			wantBody: long[:4095], wantErr: long[:4092]},
	}
	retry := now.Add(time.Minute)
	var results []store.AttemptResult
	byID := map[string]int{}
	for _, c := range claimed {
		if c.WebhookID == healthy.ID {
			results = append(results, success(c, now))
			continue
		}
		i := len(byID)
		byID[c.ID] = i
		r := failure(c, now, store.StatusPending, retry, retry)
		r.Attempt.ResponseBody, r.Attempt.Error = cases[i].body, cases[i].err
		results = append(results, r)
	}
	completeWith(t, s, policy.Policy{}, now, results...)

	for _, id := range ids {
		c := cases[byID[id]]
		n := wantStatus(t, s, ten.ID, id, store.StatusPending, 1)
		if len(n.AttemptLog) != 1 {
			t.Fatalf("%s: %d attempts logged, want 1", c.name, len(n.AttemptLog))
		}
		a := n.AttemptLog[0]
		storedText(t, c.name+" body", a.ResponseBody, c.wantBody, c.cut)
		storedText(t, c.name+" error", a.Error, c.wantErr, c.cut)
		if a.StatusCode != 503 || a.ErrorKind != "http_status" {
			t.Fatalf("%s: attempt %+v lost its other fields", c.name, a)
		}
	}
	got := searchAll(t, s, store.NotificationFilter{TenantID: other.ID})
	if len(got) != 1 || got[0].Status != store.StatusDelivered || len(got[0].AttemptLog) != 1 || got[0].AttemptLog[0].ResponseBody != "ok" {
		t.Fatalf("the healthy webhook's notification %+v, want delivered with its answer", got)
	}
	// The poisoned notifications retry as usual.
	again := Claim(t, s, "d", retry, 10, w.ID)
	if !sameSet(claimedIDs(again), ids) {
		t.Fatalf("at the retry time claimed %v, want %v", claimedIDs(again), ids)
	}
	for _, c := range again {
		if c.Attempt != 2 {
			t.Fatalf("retry claimed as attempt %d, want 2", c.Attempt)
		}
	}
}

// storedText checks a stored text: valid UTF-8 without NUL and equal to
// want, or, for a text cut inside a character, to want (its complete
// characters) followed by the partial one replaced or dropped.
func storedText(tb testing.TB, what, got, want string, cut bool) {
	tb.Helper()
	if !utf8.ValidString(got) || strings.ContainsRune(got, 0) {
		tb.Fatalf("%s stored as %q: not valid UTF-8 without NUL", what, short(got))
	}
	if got != want && (!cut || got != want+"\uFFFD") {
		tb.Fatalf("%s stored as %q (%d bytes), want %q (%d bytes)", what, short(got), len(got), short(want), len(want))
	}
}

func short(s string) string {
	if len(s) > 40 {
		return "..." + s[len(s)-40:]
	}
	return s
}
