package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

const notificationColumns = `id, tenant_id, event_id, webhook_id, event_name, status, attempts, retry_base, next_attempt_at, created_at, modified_at`

func scanNotifications(rows *sql.Rows) ([]store.Notification, error) {
	defer rows.Close()
	var out []store.Notification
	for rows.Next() {
		var n store.Notification
		var next, created, modified int64
		if err := rows.Scan(&n.ID, &n.TenantID, &n.EventID, &n.WebhookID, &n.EventName, &n.Status, &n.Attempts,
			&n.RetryBase, &next, &created, &modified); err != nil {
			return nil, fmt.Errorf("scan notification: %w", err)
		}
		n.NextAttemptAt = fromMS(next)
		n.Created = fromMS(created)
		n.Modified = fromMS(modified)
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("scan notifications: %w", err)
	}
	return out, nil
}

// DueWebhooks lists the active webhooks whose wake time has come: those
// that may have a notification due at now and not leased, a circuit ready
// for its probe, or rate-limit tokens back. It walks the wake-time index, so
// its cost follows the webhooks due, not the webhooks registered. It returns
// versions, not whole webhooks: a dispatcher reads (and decrypts) a webhook
// again only when it changed.
func (s *Store) DueWebhooks(ctx context.Context, now time.Time) ([]store.WebhookVersion, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, modified_at FROM webhooks
		WHERE deleted_at IS NULL AND status = 'ACTIVE' AND wake_at <= ?`, ms(now))
	if err != nil {
		return nil, fmt.Errorf("find due webhooks: %w", err)
	}
	defer rows.Close()
	var out []store.WebhookVersion
	for rows.Next() {
		var v store.WebhookVersion
		var modified int64
		if err := rows.Scan(&v.ID, &modified); err != nil {
			return nil, fmt.Errorf("scan due webhook: %w", err)
		}
		v.Modified = fromMS(modified)
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find due webhooks: %w", err)
	}
	return out, nil
}

// WebhooksByID reads the webhooks with the given ids (of any tenant;
// deleted ones are left out).
func (s *Store) WebhooksByID(ctx context.Context, ids []string) ([]store.Webhook, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE deleted_at IS NULL AND id IN (`+placeholders(len(ids))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("read webhooks: %w", err)
	}
	return s.scanWebhooks(rows)
}

// NextDue returns the earliest wake time of an active webhook after the
// given time (zero when none), so a dispatcher can sleep until then.
func (s *Store) NextDue(ctx context.Context, after time.Time) (time.Time, error) {
	var next sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT min(wake_at) FROM webhooks
		WHERE deleted_at IS NULL AND status = 'ACTIVE' AND wake_at > ? AND wake_at < ?`, ms(after), neverWake).Scan(&next)
	if err != nil {
		return time.Time{}, fmt.Errorf("next due notification: %w", err)
	}
	return fromMS(next.Int64), nil
}

// ReleaseLeases hands back every notification leased by owner (all leases
// when owner is empty) so it can be claimed again at once.
func (s *Store) ReleaseLeases(ctx context.Context, owner string) (int, error) {
	var n int64
	err := s.write(ctx, func(tx *tx) error {
		// No index covers the lease columns where leases are counted in
		// lease rows: the pending notifications are walked, of the webhooks
		// the owner's rows name (all of them when releasing every lease).
		scope, args := "", []any{}
		switch {
		case s.d.LeaseRows && owner == "":
			scope = `status = 'PENDING' AND `
		case s.d.LeaseRows:
			scope, args = `webhook_id IN (SELECT webhook_id FROM webhook_leases WHERE owner = ?) AND status = 'PENDING' AND `, []any{owner}
		}
		args = append(args, owner, owner)
		where := `WHERE ` + scope + `lease_owner IS NOT NULL AND (? = '' OR lease_owner = ?)`
		if _, err := tx.ExecContext(ctx, `UPDATE webhooks SET wake_at = 0 WHERE id IN (SELECT DISTINCT webhook_id FROM notifications `+where+`)`, args...); err != nil {
			return fmt.Errorf("wake webhooks of released leases: %w", err)
		}
		res, err := tx.ExecContext(ctx, `UPDATE notifications SET lease_owner = NULL, lease_token = NULL, lease_expires_at = 0 `+where, args...)
		if err != nil {
			return fmt.Errorf("release leases: %w", err)
		}
		if s.d.LeaseRows {
			for _, table := range []string{"webhook_leases", "webhook_lease_ends"} {
				if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE ? = '' OR owner = ?`, owner, owner); err != nil {
					return fmt.Errorf("forget released leases: %w", err)
				}
			}
		}
		if n, _ = res.RowsAffected(); n > 0 {
			return s.notify(ctx, tx)
		}
		return nil
	})
	return int(n), err
}

// RequeueExpired puts matching EXPIRED notifications of live webhooks back
// to PENDING, due at now, with a fresh retry budget, and says how many it
// moved.
func (s *Store) RequeueExpired(ctx context.Context, f store.NotificationFilter, now time.Time) (int, error) {
	f.Status = store.StatusExpired
	return s.requeue(ctx, f, now)
}

// requeue puts the notifications matching f (a filter of final statuses)
// of live webhooks back to PENDING, due at now, with a fresh retry budget.
func (s *Store) requeue(ctx context.Context, f store.NotificationFilter, now time.Time) (int, error) {
	where, args := s.filterSQL(f)
	var n int64
	err := s.write(ctx, func(tx *tx) error {
		// Only the webhooks whose notifications go back to the queue wake
		// (the others of the tenant have nothing new to claim), before the
		// update (which the filter no longer matches). Their rows are
		// locked first, in id order, as every writer of webhook rows does.
		hooks := `SELECT n.webhook_id FROM notifications AS n WHERE ` + where
		if s.d.ForUpdate != "" {
			if _, err := tx.ExecContext(ctx, `SELECT id FROM webhooks WHERE id IN (`+hooks+`) ORDER BY id`+s.d.ForUpdate, args...); err != nil {
				return fmt.Errorf("lock requeued webhooks: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE webhooks SET wake_at = ? WHERE wake_at > ? AND deleted_at IS NULL AND id IN (`+hooks+`)`,
			append([]any{ms(now), ms(now)}, args...)...); err != nil {
			return fmt.Errorf("wake requeued webhooks: %w", err)
		}
		res, err := tx.ExecContext(ctx, `UPDATE notifications AS n SET status = 'PENDING', retry_base = attempts,
			next_attempt_at = ?, modified_at = ? WHERE `+where+`
			AND n.webhook_id IN (SELECT id FROM webhooks WHERE deleted_at IS NULL)`, append([]any{ms(now), ms(now)}, args...)...)
		if err != nil {
			return fmt.Errorf("requeue expired: %w", err)
		}
		if n, _ = res.RowsAffected(); n == 0 {
			return nil
		}
		return s.notify(ctx, tx)
	})
	return int(n), err
}
