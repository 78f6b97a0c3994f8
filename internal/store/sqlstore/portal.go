package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// Portal links (store.PortalLink) open dashboard sessions: a link is
// redeemed once, within its life, and only while the key that made it is
// unrevoked; redeeming it deletes it in the transaction that stores the
// session it opens.

// CreatePortalLink stores a link made by an unrevoked key; a key unknown or
// revoked (even since the caller checked it) is store.ErrNotFound.
func (s *Store) CreatePortalLink(ctx context.Context, l store.PortalLink) error {
	return s.write(ctx, func(tx *tx) error {
		return insertForKey(ctx, tx, "create portal link", l.KeyID, `INSERT INTO portal_links
			(hash, key_id, tenant_id, read_only, created_at, expires_at)
			SELECT ?, id, ?, ?, ?, ? FROM api_keys WHERE id = ? AND revoked_at IS NULL`,
			l.Hash, l.TenantID, testFlag(l.ReadOnly), ms(l.Created), ms(l.Expires), l.KeyID)
	})
}

// PortalLinkLive reports whether the link whose token hashes to hash could
// be redeemed at now: nil if so, store.ErrNotFound when it is unknown,
// already redeemed, past its end or its key is revoked. It only reads, so
// that opening a link (a previewer's GET included) never uses it up; the
// answer may be stale by the time RedeemPortalLink runs, which decides.
func (s *Store) PortalLinkLive(ctx context.Context, hash string, now time.Time) error {
	var one int
	err := s.r.QueryRowContext(ctx, `SELECT 1 FROM portal_links l JOIN api_keys k ON k.id = l.key_id
		WHERE l.hash = ? AND l.expires_at > ? AND k.revoked_at IS NULL`, hash, ms(now)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("portal link: %w", store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("read portal link: %w", err)
	}
	return nil
}

// RedeemPortalLink deletes the link whose token hashes to hash and stores
// the session it opens: sess with the link's key, tenant and rights. A link
// unknown, already redeemed, past its end at now, or whose key is revoked
// is store.ErrNotFound (and is gone either way).
func (s *Store) RedeemPortalLink(ctx context.Context, hash string, now time.Time, sess store.Session) (store.Session, error) {
	expired := false
	err := s.write(ctx, func(tx *tx) error {
		var readOnly int
		var expires int64
		err := tx.QueryRowContext(ctx, `DELETE FROM portal_links WHERE hash = ? RETURNING key_id, tenant_id, read_only, expires_at`, hash).
			Scan(&sess.KeyID, &sess.PortalTenant, &readOnly, &expires)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("portal link: %w", store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("redeem portal link: %w", err)
		}
		if expired = expires <= ms(now); expired {
			return nil // the deletion commits: the link is of no use to anyone
		}
		sess.ReadOnly, sess.Tenant = readOnly != 0, ""
		return insertSession(ctx, tx, sess)
	})
	if err == nil && expired {
		err = fmt.Errorf("portal link expired: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Session{}, err
	}
	return sess, nil
}
