package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// portalStore keeps portal links (store.PortalLink).
type portalStore interface {
	sessionStore
	CreatePortalLink(ctx context.Context, l store.PortalLink) error
	PortalLinkLive(ctx context.Context, hash string, now time.Time) error
	RedeemPortalLink(ctx context.Context, hash string, now time.Time, sess store.Session) (store.Session, error)
}

// A portal link opens one session, once, within its life and while its key
// lives; the session has client rights on the link's tenant alone.
func testPortalLinks(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ps, ok := s.(portalStore)
	if !ok {
		t.Fatalf("store %T does not keep portal links", s)
	}
	ctx := ctxOf(t)
	admin, other := MustTenant(t, s), MustTenant(t, s)
	k := newKey(admin.ID, store.RoleAdmin)
	NoErr(t, s.CreateAPIKey(ctx, k), "create key")
	link := func(readOnly bool, expires time.Time) store.PortalLink {
		t.Helper()
		l := store.PortalLink{Hash: hashOf("link-" + newID()), KeyID: k.ID, TenantID: other.ID, ReadOnly: readOnly, Created: T0, Expires: expires}
		NoErr(t, ps.CreatePortalLink(ctx, l), "create link")
		return l
	}
	l := link(true, T0.Add(10*time.Minute))
	wantErr(t, ps.CreatePortalLink(ctx, l), store.ErrConflict, "link with a taken hash")
	wantErr(t, ps.CreatePortalLink(ctx, store.PortalLink{Hash: hashOf("x"), KeyID: newID(), TenantID: other.ID, Created: T0, Expires: T0.Add(time.Hour)}),
		store.ErrNotFound, "link of an unknown key")

	// Looking a link up does not use it up, however often.
	for range 2 {
		NoErr(t, ps.PortalLinkLive(ctx, l.Hash, T0.Add(time.Minute)), "a live link")
	}
	wantErr(t, ps.PortalLinkLive(ctx, hashOf("unknown"), T0), store.ErrNotFound, "an unknown link")
	wantErr(t, ps.PortalLinkLive(ctx, l.Hash, T0.Add(10*time.Minute)), store.ErrNotFound, "a link at its end")

	sess := newSession(k)
	sess.Tenant = "ignored"
	got, err := ps.RedeemPortalLink(ctx, l.Hash, T0.Add(time.Minute), sess)
	NoErr(t, err, "redeem")
	if got.Hash != sess.Hash || got.KeyID != k.ID || got.PortalTenant != other.ID || !got.ReadOnly || got.Tenant != "" {
		t.Fatalf("redeemed session = %+v", got)
	}
	read, key, err := ps.Session(ctx, sess.Hash, T0.Add(2*time.Minute), testIdle)
	NoErr(t, err, "portal session")
	if read.PortalTenant != other.ID || !read.ReadOnly || key.ID != k.ID {
		t.Fatalf("portal session reads back as %+v (key %s)", read, key.ID)
	}
	// Once only.
	_, err = ps.RedeemPortalLink(ctx, l.Hash, T0.Add(time.Minute), newSession(k))
	wantErr(t, err, store.ErrNotFound, "a link redeemed twice")
	wantErr(t, ps.PortalLinkLive(ctx, l.Hash, T0.Add(time.Minute)), store.ErrNotFound, "a redeemed link")
	// Not after its end, and not afterwards either.
	late := link(false, T0.Add(10*time.Minute))
	_, err = ps.RedeemPortalLink(ctx, late.Hash, T0.Add(10*time.Minute), newSession(k))
	wantErr(t, err, store.ErrNotFound, "an expired link")
	_, err = ps.RedeemPortalLink(ctx, late.Hash, T0, newSession(k))
	wantErr(t, err, store.ErrNotFound, "an expired link tried again")
	// A sign-in session is no portal session.
	plain := newSession(k)
	NoErr(t, ps.CreateSession(ctx, plain), "create session")
	if read, _, _ := ps.Session(ctx, plain.Hash, T0, testIdle); read.PortalTenant != "" || read.ReadOnly {
		t.Fatalf("a sign-in session reads back as %+v", read)
	}
	// Purged at its end; revoking the key ends the portal session and
	// makes the key's links useless.
	purge := link(false, T0.Add(time.Minute))
	_, err = ps.PurgeSessions(ctx, T0.Add(time.Minute), testIdle)
	NoErr(t, err, "purge")
	_, err = ps.RedeemPortalLink(ctx, purge.Hash, T0, newSession(k))
	wantErr(t, err, store.ErrNotFound, "a purged link")
	live := link(false, T0.Add(time.Hour))
	NoErr(t, s.RevokeAPIKey(ctx, k.ID, T0.Add(3*time.Minute)), "revoke")
	_, _, err = ps.Session(ctx, sess.Hash, T0.Add(4*time.Minute), testIdle)
	wantErr(t, err, store.ErrNotFound, "a portal session of a revoked key")
	wantErr(t, ps.PortalLinkLive(ctx, live.Hash, T0.Add(4*time.Minute)), store.ErrNotFound, "a live link of a revoked key")
	_, err = ps.RedeemPortalLink(ctx, live.Hash, T0.Add(4*time.Minute), newSession(k))
	wantErr(t, err, store.ErrNotFound, "a link of a revoked key")
}
