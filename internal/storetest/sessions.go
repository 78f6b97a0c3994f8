package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// sessionStore is the dashboard's session store (store.Session).
type sessionStore interface {
	CreateSession(ctx context.Context, s store.Session) error
	Session(ctx context.Context, hash string, now time.Time, idle time.Duration) (store.Session, store.APIKey, error)
	TouchSession(ctx context.Context, hash string, now time.Time) error
	SetSessionTenant(ctx context.Context, hash, tenant string) error
	DeleteSession(ctx context.Context, hash string) error
	PurgeSessions(ctx context.Context, now time.Time, idle time.Duration) (int, error)
}

func sessionsOf(t *testing.T, s Store) sessionStore {
	t.Helper()
	ss, ok := s.(sessionStore)
	if !ok {
		t.Fatalf("store %T does not keep dashboard sessions", s)
	}
	return ss
}

const testIdle = time.Hour

func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// newSession is a session of key k started at T0, ending 12 hours later.
func newSession(k store.APIKey) store.Session {
	return store.Session{Hash: hashOf("session-" + newID()), KeyID: k.ID, Created: T0, LastSeen: T0, Expires: T0.Add(12 * time.Hour)}
}

func testSessions(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ss := sessionsOf(t, s)
	ctx := ctxOf(t)
	ten := MustTenant(t, s)
	k := newKey(ten.ID, store.RoleAdmin)
	NoErr(t, s.CreateAPIKey(ctx, k), "create key")

	sess := newSession(k)
	sess.Tenant = "acme"
	NoErr(t, ss.CreateSession(ctx, sess), "create session")
	wantErr(t, ss.CreateSession(ctx, sess), store.ErrConflict, "session with a taken hash")
	got, key, err := ss.Session(ctx, sess.Hash, T0.Add(time.Minute), testIdle)
	NoErr(t, err, "get session")
	if got.Hash != sess.Hash || got.KeyID != k.ID || got.Tenant != "acme" || !got.Created.Equal(T0) ||
		!got.LastSeen.Equal(T0) || !got.Expires.Equal(sess.Expires) {
		t.Fatalf("Session = %+v, want %+v", got, sess)
	}
	if key.ID != k.ID || key.TenantID != ten.ID || key.Role != store.RoleAdmin || key.Prefix != k.Prefix || key.Hash != k.Hash {
		t.Fatalf("Session key = %+v, want %+v", key, k)
	}
	_, _, err = ss.Session(ctx, hashOf("unknown"), T0, testIdle)
	wantErr(t, err, store.ErrNotFound, "unknown session")

	// A key that is unknown or revoked gets no session.
	wantErr(t, ss.CreateSession(ctx, store.Session{Hash: hashOf("x"), KeyID: newID(), Created: T0, LastSeen: T0, Expires: T0.Add(time.Hour)}),
		store.ErrNotFound, "session of an unknown key")

	NoErr(t, ss.SetSessionTenant(ctx, sess.Hash, ""), "set tenant")
	if got, _, _ := ss.Session(ctx, sess.Hash, T0, testIdle); got.Tenant != "" {
		t.Fatalf("tenant after SetSessionTenant: %q", got.Tenant)
	}
	wantErr(t, ss.SetSessionTenant(ctx, hashOf("unknown"), "x"), store.ErrNotFound, "set tenant of an unknown session")

	// Sign-out ends it, twice without error; another session of the key lives on.
	other := newSession(k)
	NoErr(t, ss.CreateSession(ctx, other), "create second session")
	NoErr(t, ss.DeleteSession(ctx, sess.Hash), "delete session")
	NoErr(t, ss.DeleteSession(ctx, sess.Hash), "delete session again")
	_, _, err = ss.Session(ctx, sess.Hash, T0, testIdle)
	wantErr(t, err, store.ErrNotFound, "deleted session")
	if _, _, err := ss.Session(ctx, other.Hash, T0, testIdle); err != nil {
		t.Fatalf("the key's other session ended with the first: %v", err)
	}

	// Revoking the key ends its sessions, and a revoked key gets no new one.
	NoErr(t, s.RevokeAPIKey(ctx, k.ID, T0.Add(time.Minute)), "revoke key")
	_, _, err = ss.Session(ctx, other.Hash, T0.Add(2*time.Minute), testIdle)
	wantErr(t, err, store.ErrNotFound, "session of a revoked key")
	wantErr(t, ss.CreateSession(ctx, newSession(k)), store.ErrNotFound, "session of a revoked key")
}

func testSessionExpiry(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ss := sessionsOf(t, s)
	ctx := ctxOf(t)
	ten := MustTenant(t, s)
	k := newKey(ten.ID, store.RoleClient)
	NoErr(t, s.CreateAPIKey(ctx, k), "create key")
	sess := newSession(k)
	NoErr(t, ss.CreateSession(ctx, sess), "create session")

	live := func(at time.Time) bool {
		t.Helper()
		_, _, err := ss.Session(ctx, sess.Hash, at, testIdle)
		if err != nil {
			wantErr(t, err, store.ErrNotFound, "session at "+at.String())
		}
		return err == nil
	}
	// Idle: it lives until an hour after it was last seen.
	if !live(T0.Add(testIdle-time.Millisecond)) || live(T0.Add(testIdle)) {
		t.Fatal("the idle timeout does not end the session an hour after it was last seen")
	}
	// Activity moves the idle timeout, never back.
	at := T0.Add(50 * time.Minute)
	NoErr(t, ss.TouchSession(ctx, sess.Hash, at), "touch")
	NoErr(t, ss.TouchSession(ctx, sess.Hash, T0), "touch with an older time")
	if got, _, _ := ss.Session(ctx, sess.Hash, at, testIdle); !got.LastSeen.Equal(at) {
		t.Fatalf("last seen %v after touches at %v and earlier, want %v", got.LastSeen, at, at)
	}
	if !live(at.Add(testIdle-time.Millisecond)) || live(at.Add(testIdle)) {
		t.Fatal("the idle timeout does not count from the last activity")
	}
	// Absolute: however active, it ends 12 hours after sign-in.
	for at := T0; at.Before(sess.Expires); at = at.Add(50 * time.Minute) {
		NoErr(t, ss.TouchSession(ctx, sess.Hash, at), "touch")
	}
	NoErr(t, ss.TouchSession(ctx, sess.Hash, sess.Expires.Add(-time.Minute)), "touch")
	if !live(sess.Expires.Add(-time.Millisecond)) || live(sess.Expires) {
		t.Fatal("an active session outlives its absolute lifetime")
	}

	// Purging removes exactly the sessions that cannot be used any more.
	fresh := newSession(k)
	fresh.Created, fresh.LastSeen, fresh.Expires = sess.Expires, sess.Expires, sess.Expires.Add(12*time.Hour)
	NoErr(t, ss.CreateSession(ctx, fresh), "create fresh session")
	idleOne := newSession(k) // not past its end, but idle for 61 minutes
	idleOne.Created, idleOne.LastSeen, idleOne.Expires = T0.Add(11*time.Hour), T0.Add(11*time.Hour), T0.Add(23*time.Hour)
	NoErr(t, ss.CreateSession(ctx, idleOne), "create idle session")
	revokedKey := newKey(ten.ID, store.RoleClient)
	NoErr(t, s.CreateAPIKey(ctx, revokedKey), "create key")
	ofRevoked := newSession(revokedKey)
	ofRevoked.Created, ofRevoked.LastSeen, ofRevoked.Expires = fresh.Created, fresh.LastSeen, fresh.Expires
	NoErr(t, ss.CreateSession(ctx, ofRevoked), "create session")
	NoErr(t, s.RevokeAPIKey(ctx, revokedKey.ID, sess.Expires), "revoke")

	n, err := ss.PurgeSessions(ctx, sess.Expires.Add(time.Minute), testIdle)
	NoErr(t, err, "purge")
	if n != 3 {
		t.Fatalf("purged %d sessions, want 3 (expired, idle, of a revoked key)", n)
	}
	if _, _, err := ss.Session(ctx, fresh.Hash, sess.Expires.Add(time.Minute), testIdle); err != nil {
		t.Fatalf("purge removed a live session: %v", err)
	}
	if n, err := ss.PurgeSessions(ctx, sess.Expires.Add(time.Minute), testIdle); err != nil || n != 0 {
		t.Fatalf("second purge: %d, %v", n, err)
	}
}
