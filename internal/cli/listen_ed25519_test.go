package cli

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// An ed25519 webhook's deliveries verify with its public key alone, and a
// listener holding another key refuses them.
func TestListenVerifiesPublicKey(t *testing.T) {
	in := heraldtest.Start(t, heraldtest.Options{})
	out, wrong := &lockedBuffer{}, &lockedBuffer{}
	var h atomic.Value // http.Handler, once the public key is known
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.Load().(http.Handler).ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	resp := in.Admin(t, "POST", "/webhooks", map[string]any{"endpoint": srv.URL, "events": []string{"*"},
		"config": map[string]any{"signature": "ed25519", "max_retries": 0}})
	if resp.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.Status, resp.Body)
	}
	hook := resp.Map(t)
	pk, _ := hook["public_key"].(string)
	keys, err := listenKeys(nil, []string{pk})
	if err != nil {
		t.Fatal(err)
	}
	h.Store(newListenHandler(out, listenOptions{secrets: keys}))
	if r := in.Admin(t, "POST", "/events", listenPurchase); r.Status != http.StatusAccepted {
		t.Fatalf("publish: %d %s", r.Status, r.Body)
	}
	heraldtest.Eventually(t, 10*time.Second, "the delivery", func() bool { return strings.Contains(out.String(), "->") })
	if got := out.String(); !strings.Contains(got, "event=TRANSACTION/PURCHASE signature=verified -> 204") {
		t.Fatalf("listener output:\n%s", got)
	}
	// After a rotation the old public key still verifies (both keys sign).
	if r := in.Admin(t, "POST", "/webhooks/"+hook["id"].(string)+"/secret:rotate", nil); r.Status != http.StatusOK {
		t.Fatalf("rotate: %d %s", r.Status, r.Body)
	}
	other, err := listenKeys([]string{listenSecret}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.Store(newListenHandler(wrong, listenOptions{secrets: other}))
	if r := in.Admin(t, "POST", "/webhooks/"+hook["id"].(string)+":ping", nil); r.Status != http.StatusOK {
		t.Fatalf("ping: %d %s", r.Status, r.Body)
	}
	if got := wrong.String(); !strings.Contains(got, "signature=refused -> 401") {
		t.Fatalf("a listener with an unrelated secret:\n%s", got)
	}
}

func TestListenPublicKeyFlag(t *testing.T) {
	out, _, code := run(t, "listen", "--help")
	if code != 0 || !strings.Contains(out, "--public-key") || !strings.Contains(out, "HERALD_LISTEN_PUBLIC_KEY") {
		t.Fatalf("listen --help lacks --public-key:\n%s", out)
	}
	for _, tc := range []struct{ name, flag, value, want string }{
		{"not base64", "--public-key", "whpk_this is not base64", "--public-key"},
		{"a secret", "--public-key", listenSecret, "--secret"},
		{"short", "--public-key", "whpk_AAAA", "--public-key"},
		{"a public key as secret", "--secret", "whpk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "--public-key"},
	} {
		_, errOut, code := run(t, "listen", "--addr", "127.0.0.1:0", tc.flag, tc.value)
		if code == 0 || !strings.Contains(errOut, tc.want) || strings.Contains(errOut, strings.TrimPrefix(tc.value, "whpk_")) {
			t.Errorf("%s: code %d, stderr %q; want an error naming %s that does not echo the key", tc.name, code, errOut, tc.want)
		}
	}
}
