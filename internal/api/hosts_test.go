package api_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestHostsStoredNormalized: the host is stored as it is checked and
// dialled (UTS #46 to lower-case ASCII, IPv6 in its RFC 5952 form), for
// endpoints and token URLs alike.
func TestHostsStoredNormalized(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	for _, tc := range []struct{ sent, stored string }{
		{"https://Client.EXAMPLE/Hooks?A=1", "https://client.example/Hooks?A=1"},
		{"https://bücher.example/hooks", "https://xn--bcher-kva.example/hooks"},
		{"https://ｃｌｉｅｎｔ.example/hooks", "https://client.example/hooks"},
		{"https://client。example/hooks", "https://client.example/hooks"},
		{"https://[2606:4700:4700:0:0:0:0:1111]:8443/hooks", "https://[2606:4700:4700::1111]:8443/hooks"},
		{"https://[2606:4700:4700::ABCD]/hooks", "https://[2606:4700:4700::abcd]/hooks"},
		{"https://１２７.０.０.１:9/hooks", "https://127.0.0.1:9/hooks"}, // allowed here: private targets are on
		{"https://client.example:/hooks", "https://client.example/hooks"},
	} {
		t.Run(tc.sent, func(t *testing.T) {
			w := createHook(t, in, heraldtest.AdminKey, hookBody(tc.sent))
			if w.Endpoint != tc.stored {
				t.Errorf("endpoint %q is stored as %q, want %q", tc.sent, w.Endpoint, tc.stored)
			}
			r := in.Admin(t, "PUT", "/webhooks/"+w.ID, map[string]any{"config": map[string]any{
				"oauth2": map[string]any{"token_url": tc.sent, "client_id": "c", "client_secret": "s"}}})
			wantStatus(t, r, http.StatusOK)
			var got webhook
			r.JSON(t, &got)
			var o struct {
				TokenURL string `json:"token_url"`
			}
			if err := json.Unmarshal(got.Config.OAuth2, &o); err != nil || o.TokenURL != tc.stored {
				t.Errorf("token_url %q is stored as %q (%v), want %q", tc.sent, o.TokenURL, err, tc.stored)
			}
		})
	}
}
