package api_test

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/signature"
)

// signingAnswer is what a create, GET, PUT or rotate answer says about a
// webhook's signing keys.
type signingAnswer struct {
	ID        string  `json:"id"`
	Secret    *string `json:"secret"`
	PublicKey *string `json:"public_key"`
	Config    struct {
		Signature string `json:"signature"`
	} `json:"config"`
	PreviousExpires string `json:"previous_secret_expires_at"`
}

func signingOf(t testing.TB, r heraldtest.Response, status int) signingAnswer {
	t.Helper()
	wantStatus(t, r, status)
	var a signingAnswer
	r.JSON(t, &a)
	return a
}

// lastSignature publishes an event and returns the headers of the delivery
// the receiver got for it (the n-th request).
func deliver(t testing.TB, in *heraldtest.Instance, rc *receiver, n int) received {
	t.Helper()
	publish(t, in, heraldtest.AdminKey, cardEvent)
	heraldtest.Eventually(t, 10*time.Second, "delivery", func() bool { return len(rc.requests()) >= n })
	return rc.requests()[n-1]
}

// entries are the versions of a webhook-signature header's entries.
func entries(h http.Header) []string {
	var out []string
	for _, e := range strings.Fields(h.Get("webhook-signature")) {
		v, _, _ := strings.Cut(e, ",")
		out = append(out, v)
	}
	return out
}

func verifies(t testing.TB, req received, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if err := signature.Verify([]string{k}, req.Header, req.Body, time.Now(), 0); err != nil {
			t.Errorf("delivery signed %q does not verify with %.12s...: %v", req.Header.Get("webhook-signature"), k, err)
		}
	}
}

// An Ed25519 webhook, through the API and real deliveries, on both stores:
// its public key is shown and verifies every delivery and ping, its secret
// key is never shown nor stored in clear, rotation signs with both keys, and
// a change of scheme signs with the old key and the new one for 24 hours.
func TestEd25519Webhook(t *testing.T) {
	onBothStores(t, func(t *testing.T, o heraldtest.Options) {
		if o.DatabaseURL == "" {
			o.DataDir = t.TempDir()
		}
		in := heraldtest.Start(t, o)
		rc := newReceiver(t, http.StatusNoContent)
		body := hookBody(rc.URL)
		body["config"] = map[string]any{"signature": "ed25519"}
		created := signingOf(t, in.Admin(t, "POST", "/webhooks", body), http.StatusCreated)
		if created.Secret != nil || created.PublicKey == nil || !strings.HasPrefix(*created.PublicKey, "whpk_") || created.Config.Signature != "ed25519" {
			t.Fatalf("create answer: secret %v, public key %v, signature %q; want no secret, a whpk_ key, ed25519", created.Secret, created.PublicKey, created.Config.Signature)
		}
		pk1 := *created.PublicKey
		hook := "/webhooks/" + created.ID
		if got := signingOf(t, in.Admin(t, "GET", hook, nil), http.StatusOK); got.PublicKey == nil || *got.PublicKey != pk1 || got.Secret != nil {
			t.Fatalf("GET shows public key %v and secret %v, want %s and none", got.PublicKey, got.Secret, pk1)
		}

		first := deliver(t, in, rc, 1)
		if v := entries(first.Header); len(v) != 1 || v[0] != "v1a" {
			t.Fatalf("signature entries %v, want one v1a", v)
		}
		verifies(t, first, pk1)
		var ping struct {
			Success bool `json:"success"`
		}
		in.Admin(t, "POST", hook+":ping", nil).JSON(t, &ping)
		if !ping.Success {
			t.Fatal("ping failed")
		}
		verifies(t, rc.requests()[1], pk1)

		doc := fetchOpenAPI(t, in)
		doc.checkAnswer(t, "GET", "/webhooks/{id}", in.Admin(t, "GET", hook, nil))
		rotateAnswer := in.Admin(t, "POST", hook+"/secret:rotate", nil)
		doc.checkAnswer(t, "POST", "/webhooks/{id}/secret:rotate", rotateAnswer)
		rotated := signingOf(t, rotateAnswer, http.StatusOK)
		if rotated.Secret != nil || rotated.PublicKey == nil || *rotated.PublicKey == pk1 || !strings.HasPrefix(*rotated.PublicKey, "whpk_") {
			t.Fatalf("rotate answer: secret %v, public key %v; want no secret and a new whpk_ key", rotated.Secret, rotated.PublicKey)
		}
		if until, err := time.Parse(time.RFC3339, rotated.PreviousExpires); err != nil || time.Until(until) < 23*time.Hour {
			t.Fatalf("previous key signs until %q (%v), want about 24 h from now", rotated.PreviousExpires, err)
		}
		pk2 := *rotated.PublicKey
		both := deliver(t, in, rc, 3)
		if v := entries(both.Header); len(v) != 2 || v[0] != "v1a" || v[1] != "v1a" {
			t.Fatalf("after rotation: entries %v, want two v1a", v)
		}
		verifies(t, both, pk1, pk2)

		// Back to HMAC: the new secret is shown once, the Ed25519 key
		// keeps signing alongside it.
		switched := signingOf(t, in.Admin(t, "PUT", hook, map[string]any{"config": map[string]any{"signature": "hmac-sha256"}}), http.StatusOK)
		if switched.Secret == nil || !strings.HasPrefix(*switched.Secret, "whsec_") || switched.PublicKey != nil || switched.Config.Signature != "hmac-sha256" {
			t.Fatalf("switch answer: secret %v, public key %v, signature %q", switched.Secret, switched.PublicKey, switched.Config.Signature)
		}
		mixed := deliver(t, in, rc, 4)
		if v := entries(mixed.Header); len(v) != 2 || v[0] != "v1" || v[1] != "v1a" {
			t.Fatalf("after the switch: entries %v, want v1 then v1a", v)
		}
		verifies(t, mixed, *switched.Secret, pk2)
		if err := signature.Verify([]string{pk1}, mixed.Header, mixed.Body, time.Now(), 0); err == nil {
			t.Error("the key rotated out before the switch still verifies")
		}
		// The same scheme again changes no key and shows no secret.
		again := signingOf(t, in.Admin(t, "PUT", hook, map[string]any{"config": map[string]any{"signature": "hmac-sha256"}}), http.StatusOK)
		if again.Secret != nil {
			t.Fatal("a PUT keeping the scheme shows the secret")
		}
		if got := signingOf(t, in.Admin(t, "GET", hook, nil), http.StatusOK); got.Secret != nil || got.PublicKey != nil {
			t.Fatalf("GET after the switch shows secret %v, public key %v", got.Secret, got.PublicKey)
		}

		for _, bad := range []any{"rsa", "HMAC-SHA256", "", 1, nil} {
			body := hookBody(rc.URL)
			body["config"] = map[string]any{"signature": bad}
			wantError(t, in.Admin(t, "POST", "/webhooks", body), http.StatusBadRequest, "invalid_request", "config.signature")
			wantError(t, in.Admin(t, "PUT", hook, map[string]any{"config": map[string]any{"signature": bad}}), http.StatusBadRequest, "invalid_request", "config.signature")
		}

		if o.DatabaseURL != "" {
			return
		}
		// The secret keys are sealed like every other secret.
		if err := in.Service.Close(); err != nil {
			t.Fatal(err)
		}
		files, _ := filepath.Glob(filepath.Join(o.DataDir, "herald.db*"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte("whsk_")) {
				t.Errorf("%s holds an Ed25519 secret key in clear", filepath.Base(f))
			}
		}
		if len(files) == 0 {
			t.Fatal("no database files")
		}
	})
}
