package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

func testTenants(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := ctxOf(t)
	id := newID()
	ten := store.Tenant{ID: id, Name: "acme", Created: T0}
	k1, k2 := newKey(id, store.RoleAdmin), newKey(id, store.RolePublisher)
	NoErr(t, s.CreateTenant(ctx, ten, k1, k2), "create tenant")

	for _, q := range []string{ten.ID, ten.Name} {
		got, err := s.Tenant(ctx, q)
		NoErr(t, err, "tenant "+q)
		if got.ID != ten.ID || got.Name != ten.Name || !got.Created.Equal(T0) {
			t.Fatalf("Tenant(%q) = %+v, want %+v", q, got, ten)
		}
	}
	_, err := s.Tenant(ctx, "no-such-tenant")
	wantErr(t, err, store.ErrNotFound, "unknown tenant")
	_, err = s.Tenant(ctx, newID())
	wantErr(t, err, store.ErrNotFound, "unknown tenant id")

	// Both keys were stored with the tenant.
	for _, k := range []store.APIKey{k1, k2} {
		got, err := s.APIKeyByHash(ctx, k.Hash)
		NoErr(t, err, "key by hash")
		if got.ID != k.ID || got.TenantID != id || got.Role != k.Role || got.Hash != k.Hash ||
			got.Prefix != k.Prefix || !got.Created.Equal(T0) || got.Revoked != nil {
			t.Fatalf("APIKeyByHash = %+v, want %+v", got, k)
		}
	}
	keys, err := s.APIKeys(ctx, id)
	NoErr(t, err, "list keys")
	if len(keys) != 2 {
		t.Fatalf("APIKeys: %d keys, want 2", len(keys))
	}

	// A second tenant with the same name is a conflict, and nothing of it
	// (not even its keys) is stored.
	dupID := newID()
	dupKey := newKey(dupID, store.RoleClient)
	err = s.CreateTenant(ctx, store.Tenant{ID: dupID, Name: "acme", Created: T0}, dupKey)
	wantErr(t, err, store.ErrConflict, "duplicate tenant name")
	_, err = s.Tenant(ctx, dupID)
	wantErr(t, err, store.ErrNotFound, "tenant of failed create")
	_, err = s.APIKeyByHash(ctx, dupKey.Hash)
	wantErr(t, err, store.ErrNotFound, "key of failed create")
	got, err := s.Tenant(ctx, "acme")
	NoErr(t, err, "tenant by name after conflict")
	if got.ID != id {
		t.Fatalf("tenant acme has id %s after conflict, want %s", got.ID, id)
	}

	// A key that fails makes the whole tenant fail.
	badID := newID()
	err = s.CreateTenant(ctx, store.Tenant{ID: badID, Name: "other", Created: T0}, newKey(badID, store.RoleClient), store.APIKey{
		ID: newID(), TenantID: badID, Role: store.RoleClient, Hash: k1.Hash, Prefix: "x", Created: T0})
	wantErr(t, err, store.ErrConflict, "tenant with a taken key hash")
	_, err = s.Tenant(ctx, "other")
	wantErr(t, err, store.ErrNotFound, "tenant whose key failed")
}

func testTenantsPaging(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := ctxOf(t)
	var want []string
	for range 7 {
		want = append(want, MustTenant(t, s).ID)
	}

	all, paging, err := s.Tenants(ctx, store.Page{})
	NoErr(t, err, "list tenants")
	if got := tenantIDs(all); !slices.Equal(got, want) {
		t.Fatalf("Tenants() = %v, want %v (creation order)", got, want)
	}
	if paging.HasMore {
		t.Fatalf("Tenants(): HasMore with every tenant listed")
	}

	var got []string
	p := store.Page{Limit: 3}
	for i, wantLen := range []int{3, 3, 1} {
		page, paging, err := s.Tenants(ctx, p)
		NoErr(t, err, "list tenants page")
		if len(page) != wantLen {
			t.Fatalf("page %d: %d tenants, want %d", i, len(page), wantLen)
		}
		if wantMore := i < 2; paging.HasMore != wantMore {
			t.Fatalf("page %d: HasMore = %v, want %v", i, paging.HasMore, wantMore)
		}
		if paging.HasMore && paging.After != page[len(page)-1].ID {
			t.Fatalf("page %d: After = %q, want the last id %q", i, paging.After, page[len(page)-1].ID)
		}
		got = append(got, tenantIDs(page)...)
		p.After = paging.After
	}
	if !slices.Equal(got, want) {
		t.Fatalf("pages = %v, want %v", got, want)
	}

	// A page that ends exactly at the last tenant has no more.
	page, paging, err := s.Tenants(ctx, store.Page{Limit: 7})
	NoErr(t, err, "list 7 tenants")
	if len(page) != 7 || paging.HasMore {
		t.Fatalf("Tenants(Limit 7) = %d tenants, HasMore %v; want 7, false", len(page), paging.HasMore)
	}
	page, paging, err = s.Tenants(ctx, store.Page{Limit: 2, After: want[6]})
	NoErr(t, err, "list after the last tenant")
	if len(page) != 0 || paging.HasMore {
		t.Fatalf("Tenants(After last) = %d tenants, HasMore %v; want none", len(page), paging.HasMore)
	}
}

func tenantIDs(ts []store.Tenant) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

func testAPIKeys(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := ctxOf(t)
	ten := MustTenant(t, s)

	err := s.CreateAPIKey(ctx, newKey(newID(), store.RoleClient))
	wantErr(t, err, store.ErrNotFound, "key of an unknown tenant")

	k := newKey(ten.ID, store.RoleClient)
	NoErr(t, s.CreateAPIKey(ctx, k), "create key")
	got, err := s.APIKeyByHash(ctx, k.Hash)
	NoErr(t, err, "key by hash")
	if got.ID != k.ID || got.TenantID != ten.ID || got.Role != store.RoleClient || got.Prefix != k.Prefix {
		t.Fatalf("APIKeyByHash = %+v, want %+v", got, k)
	}
	_, err = s.APIKeyByHash(ctx, "0000")
	wantErr(t, err, store.ErrNotFound, "unknown hash")

	// The same hash twice is a conflict.
	dup := newKey(ten.ID, store.RolePublisher)
	dup.Hash = k.Hash
	wantErr(t, s.CreateAPIKey(ctx, dup), store.ErrConflict, "duplicate key hash")

	other := MustTenant(t, s)
	ok := newKey(other.ID, store.RolePublisher)
	NoErr(t, s.CreateAPIKey(ctx, ok), "create key of another tenant")
	keys, err := s.APIKeys(ctx, ten.ID)
	NoErr(t, err, "list keys")
	if len(keys) != 1 || keys[0].ID != k.ID {
		t.Fatalf("APIKeys(tenant) = %+v, want only %s", keys, k.ID)
	}
}

func testAPIKeyRevocation(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := ctxOf(t)
	ten := MustTenant(t, s)
	k1, k2 := newKey(ten.ID, store.RoleClient), newKey(ten.ID, store.RoleClient)
	NoErr(t, s.CreateAPIKey(ctx, k1), "create key 1")
	NoErr(t, s.CreateAPIKey(ctx, k2), "create key 2")

	revokedAt := T0.Add(time.Hour)
	NoErr(t, s.RevokeAPIKey(ctx, k1.ID, revokedAt), "revoke")
	_, err := s.APIKeyByHash(ctx, k1.Hash)
	wantErr(t, err, store.ErrNotFound, "revoked key by hash")
	if _, err := s.APIKeyByHash(ctx, k2.Hash); err != nil {
		t.Fatalf("the other key stopped working: %v", err)
	}

	// Revoking again is not an error and keeps the first revocation time.
	NoErr(t, s.RevokeAPIKey(ctx, k1.ID, revokedAt.Add(time.Hour)), "revoke twice")
	keys, err := s.APIKeys(ctx, ten.ID)
	NoErr(t, err, "list keys")
	found := false
	for _, k := range keys {
		switch k.ID {
		case k1.ID:
			found = true
			if k.Revoked == nil || !k.Revoked.Equal(revokedAt) {
				t.Fatalf("revoked key lists Revoked = %v, want %v", k.Revoked, revokedAt)
			}
		case k2.ID:
			if k.Revoked != nil {
				t.Fatalf("unrevoked key lists Revoked = %v", k.Revoked)
			}
		}
	}
	if !found {
		t.Fatalf("revoked key missing from APIKeys: %+v", keys)
	}

	wantErr(t, s.RevokeAPIKey(ctx, newID(), revokedAt), store.ErrNotFound, "revoke unknown key")
}
