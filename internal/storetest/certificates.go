package storetest

import (
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// testClientCertificateCounts: Counts reports the client certificates of
// live webhooks that have expired and that expire within
// store.CertificateWarning, as the stored configs say after creates,
// updates and deletes.
func testClientCertificateCounts(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := ctxOf(t)
	ten := MustTenant(t, s)
	now := time.Now()
	withCert := func(expires time.Time) store.Webhook {
		w := newWebhook(ten.ID, "*")
		w.Config.TLS = &store.TLSConfig{ClientCertificate: "cert", ClientKey: "key", ClientCertificateExpires: expires}
		NoErr(t, s.CreateWebhook(ctx, w, 0), "create webhook with a client certificate")
		return w
	}
	withCert(now.Add(-time.Hour))          // expired
	withCert(now.Add(10 * 24 * time.Hour)) // expiring
	renewed := withCert(now.Add(20 * 24 * time.Hour))
	removed := withCert(now.Add(20 * 24 * time.Hour))
	deleted := withCert(now.Add(-24 * time.Hour))
	withCert(now.Add(store.CertificateWarning + 24*time.Hour)) // valid for long enough
	MustWebhook(t, s, ten.ID, "*")                             // no certificate
	added := MustWebhook(t, s, ten.ID, "*")

	_, err := s.UpdateWebhook(ctx, ten.ID, renewed.ID, func(h *store.Webhook) error {
		h.Config.TLS.ClientCertificateExpires = now.Add(365 * 24 * time.Hour)
		return nil
	})
	NoErr(t, err, "renew a certificate")
	_, err = s.UpdateWebhook(ctx, ten.ID, removed.ID, func(h *store.Webhook) error {
		h.Config.TLS = nil
		return nil
	})
	NoErr(t, err, "remove a certificate")
	_, err = s.UpdateWebhook(ctx, ten.ID, added.ID, func(h *store.Webhook) error {
		h.Config.TLS = &store.TLSConfig{ClientCertificate: "cert", ClientKey: "key", ClientCertificateExpires: now.Add(29 * 24 * time.Hour)}
		return nil
	})
	NoErr(t, err, "add a certificate")
	_, err = s.DeleteWebhook(ctx, ten.ID, deleted.ID, T0)
	NoErr(t, err, "delete a webhook")

	c, err := s.Counts(ctx)
	NoErr(t, err, "counts")
	if c.CertificatesExpired != 1 || c.CertificatesExpiring != 2 {
		t.Fatalf("Counts: %d certificates expired and %d expiring, want 1 and 2", c.CertificatesExpired, c.CertificatesExpiring)
	}
}
