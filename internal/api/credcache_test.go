package api

import (
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

func TestCredentialCache(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	c := newCredentialCache(func() time.Time { return now })
	k := store.APIKey{ID: "k1", TenantID: "t1", Role: store.RoleClient}

	if _, ok := c.key("h1"); ok {
		t.Fatal("an empty cache knew a key")
	}
	c.putKey("h1", k)
	if got, ok := c.key("h1"); !ok || got.ID != "k1" {
		t.Fatalf("key just put: %+v, %v", got, ok)
	}
	now = now.Add(credentialTTL - time.Millisecond)
	if _, ok := c.key("h1"); !ok {
		t.Error("key forgotten before its TTL")
	}
	now = now.Add(time.Millisecond)
	if _, ok := c.key("h1"); ok {
		t.Error("key trusted at its TTL: a key revoked by another process would keep working")
	}

	c.putKey("h1", k)
	c.forgetKeys()
	if _, ok := c.key("h1"); ok {
		t.Error("key kept after forgetKeys (a revocation through this process)")
	}

	for i := range maxCachedCredentials + 1 {
		c.putKey(string(rune(i)), k)
		c.putTenant(string(rune(i)), "t")
	}
	if len(c.keys) > maxCachedCredentials || len(c.tenants) > maxCachedCredentials {
		t.Errorf("cache past its bound: %d keys, %d tenants", len(c.keys), len(c.tenants))
	}
	c.putTenant("acme", "t9")
	if id, ok := c.tenant("acme"); !ok || id != "t9" {
		t.Errorf("tenant: %q, %v", id, ok)
	}
}
