package web_test

import (
	"html"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/pkitest"
)

// The webhook page shows the signature scheme with an ed25519 webhook's
// public key, and a client certificate's expiry with a warning when it is
// close; never the key.
func TestWebhookPageShowsKeysAndCertificate(t *testing.T) {
	in, b := startHerald(t)
	ca := pkitest.NewCA(t, "client CA")
	soon := ca.Client(t, "herald", pkitest.Options{NotAfter: time.Now().Add(10 * 24 * time.Hour)})
	later := ca.Client(t, "herald", pkitest.Options{NotAfter: time.Now().Add(200 * 24 * time.Hour)})
	tlsOf := func(c pkitest.Issued) map[string]any {
		return map[string]any{"client_certificate": c.CertPEM, "client_key": c.KeyPEM, "server_name": "hooks.bank.example"}
	}
	edID := createWebhook(t, in, "https://127.0.0.1:1/hooks", map[string]any{"signature": "ed25519", "tls": tlsOf(soon)})
	plainID := createWebhook(t, in, "https://127.0.0.1:1/hooks", map[string]any{"tls": tlsOf(later)})
	var ed struct {
		PublicKey string `json:"public_key"`
	}
	in.Admin(t, http.MethodGet, "/webhooks/"+edID, nil).JSON(t, &ed)
	b.mustSignIn(heraldtest.AdminKey, "")

	page := html.UnescapeString(b.mustPage("/ui/webhooks/"+edID, http.StatusOK))
	for _, want := range []string{"ed25519, public key", ed.PublicKey, "presented on every request", "hooks.bank.example",
		soon.Cert.NotAfter.UTC().Format("2006-01-02 15:04:05"), "renew it"} {
		if !strings.Contains(page, want) {
			t.Errorf("ed25519 webhook page lacks %q", want)
		}
	}
	page = html.UnescapeString(b.mustPage("/ui/webhooks/"+plainID, http.StatusOK))
	if !strings.Contains(page, "hmac-sha256") || strings.Contains(page, "public key") || strings.Contains(page, "renew it") {
		t.Error("hmac webhook page: wrong signature line or a warning for a certificate valid for months")
	}
	for _, key := range []string{soon.KeyPEM[40:80], later.KeyPEM[40:80], "********"} {
		if strings.Contains(page, key) {
			t.Errorf("the page shows %q", key)
		}
	}
}
