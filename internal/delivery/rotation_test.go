package delivery_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/netguard"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/signature"
)

// TestRotationWindow: during the 24 hours after a rotation both secrets
// sign (two webhook-signature entries); after it, only the new one, and a
// target prepared inside the window knows it is stale once it ends.
func TestRotationWindow(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Clone() }))
	defer srv.Close()
	oldSecret, _ := signature.NewSecret()
	newSecret, _ := signature.NewSecret()
	now := time.Now()
	w := store.Webhook{ID: "w1", Endpoint: srv.URL, Secret: newSecret, PreviousSecret: oldSecret,
		PreviousSecretUntil: now.Add(24 * time.Hour), Modified: now}
	sender := delivery.NewSender(netguard.Guard{AllowPrivate: true}, "Herald/test")
	body := []byte(`{"event":"PIN_CHANGE","card_id":"c"}`)

	for _, tc := range []struct {
		name    string
		at      time.Time
		entries int
		verify  map[string]bool // secret -> verifies
	}{
		{"inside the window", now, 2, map[string]bool{oldSecret: true, newSecret: true}},
		{"after the window", now.Add(24*time.Hour + time.Second), 1, map[string]bool{oldSecret: false, newSecret: true}},
	} {
		target, err := delivery.NewTarget(w, tc.at)
		if err != nil {
			t.Fatal(err)
		}
		out := sender.Send(t.Context(), target, delivery.Message{ID: "n1", Event: "PIN_CHANGE", Attempt: 1, Body: body, Timestamp: time.Now()})
		if !out.OK() {
			t.Fatalf("%s: send failed: %+v", tc.name, out)
		}
		if n := len(strings.Fields(got.Get("Webhook-Signature"))); n != tc.entries {
			t.Errorf("%s: %d signature entries, want %d", tc.name, n, tc.entries)
		}
		for secret, want := range tc.verify {
			if err := signature.Verify([]string{secret}, got, body, time.Now(), 0); (err == nil) != want {
				t.Errorf("%s: secret verifies = %v, want %v", tc.name, err == nil, want)
			}
		}
	}
	inside, _ := delivery.NewTarget(w, now)
	if inside.Stale(w.Modified, now.Add(time.Hour)) {
		t.Error("target stale inside the window")
	}
	if !inside.Stale(w.Modified, now.Add(24*time.Hour)) {
		t.Error("target not stale when the previous secret stops signing")
	}
}
