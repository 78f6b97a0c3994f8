package delivery

import (
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/store"
)

func TestSentHeadersMaskCredentials(t *testing.T) {
	w := &store.Webhook{Config: store.WebhookConfig{CustomHeaders: []store.Header{{Name: "x-api-key", Value: "k1"}}}}
	h := http.Header{}
	h.Set("Authorization", "Basic dXNlcjpwYXNz")
	h.Add("X-Api-Key", "k1")
	h.Add("X-Api-Key", "k2")
	h.Set("Webhook-Signature", "v1,abc=")
	h.Set("Content-Type", "application/json")
	got := sentHeaders(h, w)
	want := []store.Header{{Name: "Authorization", Value: "Basic ********"}, {Name: "Content-Type", Value: "application/json"},
		{Name: "Webhook-Signature", Value: "v1,abc="}, {Name: "X-Api-Key", Value: "********"}, {Name: "X-Api-Key", Value: "********"}}
	if len(got) != len(want) {
		t.Fatalf("sentHeaders = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("sentHeaders = %v, want %v", got, want)
		}
	}
	if sentHeaders(nil, w) != nil {
		t.Error("no request, no headers")
	}
}

func TestReceivedHeadersBounded(t *testing.T) {
	h := http.Header{}
	h.Set("Set-Cookie", "session=secret")
	h.Set("X-Long", strings.Repeat("v", 1000))
	h.Set("X-Bad", "a\x00b\xff")
	for i := range 100 {
		h.Set("X-N"+strings.Repeat("n", i%5)+string(rune('a'+i%26))+string(rune('a'+i/26)), "v")
	}
	got := receivedHeaders(h)
	sum := 0
	for _, x := range got {
		sum += len(x.Name) + len(x.Value)
		switch x.Name {
		case "Set-Cookie":
			if x.Value != "********" {
				t.Errorf("Set-Cookie kept as %q", x.Value)
			}
		case "X-Long":
			if len(x.Value) > maxResponseHeaderLen+3 {
				t.Errorf("a long value kept whole (%d bytes)", len(x.Value))
			}
		case "X-Bad":
			if strings.ContainsRune(x.Value, 0) || !strings.Contains(x.Value, "\uFFFD") {
				t.Errorf("X-Bad kept as %q", x.Value)
			}
		}
	}
	if len(got) > maxResponseHeaders || sum > maxResponseHeaderSum || len(got) == 0 {
		t.Errorf("%d headers, %d bytes kept", len(got), sum)
	}
}
