package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// This file keeps the dashboard's sessions (store.Session). A session is
// only as good as its API key: every read joins the key and refuses a
// revoked one, so revoking a key ends its sessions on every replica at once.

// CreateSession stores a new session for an unrevoked key; a key that is
// unknown or revoked (even one revoked since the caller checked it) is
// store.ErrNotFound.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	return s.write(ctx, func(tx *tx) error {
		return insertSession(ctx, tx, sess)
	})
}

// insertSession stores a session for an unrevoked key in tx.
func insertSession(ctx context.Context, tx *tx, sess store.Session) error {
	return insertForKey(ctx, tx, "create session", sess.KeyID, `INSERT INTO sessions
		(hash, key_id, tenant, created_at, last_seen_at, expires_at, portal_tenant, read_only)
		SELECT ?, id, ?, ?, ?, ?, ?, ? FROM api_keys WHERE id = ? AND revoked_at IS NULL`,
		sess.Hash, sess.Tenant, ms(sess.Created), ms(sess.LastSeen), ms(sess.Expires), sess.PortalTenant, testFlag(sess.ReadOnly), sess.KeyID)
}

// insertForKey runs an INSERT ... SELECT ... FROM api_keys that inserts a
// row only for the unrevoked key keyID: a taken primary key is
// store.ErrConflict, and a key unknown or revoked store.ErrNotFound.
func insertForKey(ctx context.Context, tx *tx, what, keyID, q string, args ...any) error {
	res, err := tx.ExecContext(ctx, q, args...)
	if tx.d.IsUnique(err) {
		return fmt.Errorf("%s: %w", what, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("api key %q: %w", keyID, store.ErrNotFound)
	}
	return nil
}

// Session returns the live session whose id hashes to hash, with its API
// key's record. A session past its absolute end, idle for idle or longer at
// now, or whose key is revoked is store.ErrNotFound.
func (s *Store) Session(ctx context.Context, hash string, now time.Time, idle time.Duration) (store.Session, store.APIKey, error) {
	var sess store.Session
	var k store.APIKey
	var role string
	var created, seen, expires, keyCreated int64
	var readOnly int
	err := s.r.QueryRowContext(ctx, `SELECT s.hash, s.key_id, s.tenant, s.created_at, s.last_seen_at, s.expires_at,
			s.portal_tenant, s.read_only, k.tenant_id, k.role, k.hash, k.prefix, k.created_at
		FROM sessions s JOIN api_keys k ON k.id = s.key_id
		WHERE s.hash = ? AND s.expires_at > ? AND s.last_seen_at > ? AND k.revoked_at IS NULL`,
		hash, ms(now), ms(now.Add(-idle))).Scan(&sess.Hash, &sess.KeyID, &sess.Tenant, &created, &seen, &expires,
		&sess.PortalTenant, &readOnly, &k.TenantID, &role, &k.Hash, &k.Prefix, &keyCreated)
	sess.ReadOnly = readOnly != 0
	if errors.Is(err, sql.ErrNoRows) {
		return sess, k, fmt.Errorf("session: %w", store.ErrNotFound)
	}
	if err != nil {
		return sess, k, fmt.Errorf("get session: %w", err)
	}
	sess.Created, sess.LastSeen, sess.Expires = fromMS(created), fromMS(seen), fromMS(expires)
	k.ID, k.Role, k.Created = sess.KeyID, store.Role(role), fromMS(keyCreated)
	return sess, k, nil
}

// TouchSession records activity of a session at now (the idle timeout
// counts from the latest); it never moves the time back.
func (s *Store) TouchSession(ctx context.Context, hash string, now time.Time) error {
	return s.write(ctx, func(tx *tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE sessions SET last_seen_at = ? WHERE hash = ? AND last_seen_at < ?`,
			ms(now), hash, ms(now)); err != nil {
			return fmt.Errorf("touch session: %w", err)
		}
		return nil
	})
}

// SetSessionTenant changes the tenant an admin session acts on; an unknown
// session is store.ErrNotFound.
func (s *Store) SetSessionTenant(ctx context.Context, hash, tenant string) error {
	return s.write(ctx, func(tx *tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE sessions SET tenant = ? WHERE hash = ?`, tenant, hash)
		if err != nil {
			return fmt.Errorf("set session tenant: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("session: %w", store.ErrNotFound)
		}
		return nil
	})
}

// DeleteSession ends a session (sign-out); ending it twice is not an error.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	return s.write(ctx, func(tx *tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE hash = ?`, hash); err != nil {
			return fmt.Errorf("delete session: %w", err)
		}
		return nil
	})
}

// PurgeSessions deletes every session that can no longer be used at now
// (past its end, idle for idle or longer, or of a revoked key) and says how
// many went. Session refuses them anyway; this only keeps the table small.
func (s *Store) PurgeSessions(ctx context.Context, now time.Time, idle time.Duration) (int, error) {
	var n int64
	err := s.write(ctx, func(tx *tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ? OR last_seen_at <= ?
			OR key_id IN (SELECT id FROM api_keys WHERE revoked_at IS NOT NULL)`, ms(now), ms(now.Add(-idle)))
		if err != nil {
			return fmt.Errorf("purge sessions: %w", err)
		}
		n, _ = res.RowsAffected()
		// Portal links past their end go too (they could not be redeemed).
		if _, err := tx.ExecContext(ctx, `DELETE FROM portal_links WHERE expires_at <= ?`, ms(now)); err != nil {
			return fmt.Errorf("purge portal links: %w", err)
		}
		return nil
	})
	return int(n), err
}
