package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
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

// DueWebhooks lists the active webhooks that have at least one notification
// due at now and not leased. It returns versions, not whole webhooks: a
// dispatcher reads (and decrypts) a webhook again only when it changed.
func (s *Store) DueWebhooks(ctx context.Context, now time.Time) ([]store.WebhookVersion, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT w.id, w.modified_at FROM webhooks w
		WHERE w.deleted_at IS NULL AND w.status = 'ACTIVE' AND EXISTS (
			SELECT 1 FROM notifications n WHERE n.webhook_id = w.id AND n.status = 'PENDING'
			AND n.next_attempt_at <= ? AND n.lease_expires_at <= ?)`, ms(now), ms(now))
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

// NextDue returns when the earliest pending notification of an active
// webhook falls due after the given time, or an open circuit lets its next
// probe through (zero when neither), so a dispatcher can sleep until then.
func (s *Store) NextDue(ctx context.Context, after time.Time) (time.Time, error) {
	var next sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT min(t) FROM (
			SELECT (SELECT min(n.next_attempt_at) FROM notifications n
				WHERE n.webhook_id = w.id AND n.status = 'PENDING' AND n.next_attempt_at > ?) AS t
			FROM webhooks w WHERE w.deleted_at IS NULL AND w.status = 'ACTIVE'
			UNION ALL
			SELECT circuit_open_until FROM webhooks
			WHERE deleted_at IS NULL AND status = 'ACTIVE' AND circuit_open_until > ?
		) AS due`, ms(after), ms(after)).Scan(&next)
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
		res, err := tx.ExecContext(ctx, `UPDATE notifications SET lease_owner = NULL, lease_token = NULL, lease_expires_at = 0
			WHERE lease_owner IS NOT NULL AND (? = '' OR lease_owner = ?)`, owner, owner)
		if err != nil {
			return fmt.Errorf("release leases: %w", err)
		}
		if n, _ = res.RowsAffected(); n > 0 {
			return s.notify(ctx, tx)
		}
		return nil
	})
	return int(n), err
}

// filterSQL turns a notification filter into a WHERE clause and its args.
func filterSQL(f store.NotificationFilter) (string, []any) {
	where := []string{"n.tenant_id = ?"}
	args := []any{f.TenantID}
	if len(f.NotificationIDs) > 0 {
		where = append(where, "n.id IN ("+placeholders(len(f.NotificationIDs))+")")
		for _, id := range f.NotificationIDs {
			args = append(args, id)
		}
	}
	for _, c := range []struct {
		col, val string
	}{{"n.event_id", f.EventID}, {"n.webhook_id", f.WebhookID}, {"n.event_name", f.EventName}, {"n.status", f.Status}} {
		if c.val != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.val)
		}
	}
	if !f.From.IsZero() {
		where = append(where, "n.created_at >= ?")
		args = append(args, ms(f.From))
	}
	if !f.To.IsZero() {
		where = append(where, "n.created_at <= ?")
		args = append(args, ms(f.To))
	}
	return strings.Join(where, " AND "), args
}

// SearchNotifications lists matching notifications, newest first, each with
// its payload and attempts. Page.After continues below that id.
func (s *Store) SearchNotifications(ctx context.Context, f store.NotificationFilter, p store.Page) ([]store.Notification, store.Paging, error) {
	limit := pageLimit(p)
	where, args := filterSQL(f)
	if p.After != "" {
		where += " AND n.id < ?"
		args = append(args, p.After)
	}
	args = append(args, limit+1)
	rtx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, store.Paging{}, fmt.Errorf("search notifications: %w", err)
	}
	defer rtx.Rollback()
	read := &tx{Tx: rtx, d: s.d}
	rows, err := read.QueryContext(ctx, `SELECT `+prefixed("n.", notificationColumns)+`, e.payload FROM notifications n
		JOIN events e ON e.id = n.event_id WHERE `+where+` ORDER BY n.id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, store.Paging{}, fmt.Errorf("search notifications: %w", err)
	}
	var out []store.Notification
	for rows.Next() {
		var n store.Notification
		var next, created, modified int64
		var payload []byte
		if err := rows.Scan(&n.ID, &n.TenantID, &n.EventID, &n.WebhookID, &n.EventName, &n.Status, &n.Attempts,
			&n.RetryBase, &next, &created, &modified, &payload); err != nil {
			rows.Close()
			return nil, store.Paging{}, fmt.Errorf("scan notification: %w", err)
		}
		n.NextAttemptAt, n.Created, n.Modified, n.Payload = fromMS(next), fromMS(created), fromMS(modified), payload
		out = append(out, n)
	}
	if err := rows.Close(); err != nil {
		return nil, store.Paging{}, fmt.Errorf("search notifications: %w", err)
	}
	out, paging := trim(out, limit, func(n store.Notification) string { return n.ID })
	if err := attachAttempts(ctx, read, out); err != nil {
		return nil, store.Paging{}, err
	}
	return out, paging, nil
}

func attachAttempts(ctx context.Context, tx *tx, notes []store.Notification) error {
	if len(notes) == 0 {
		return nil
	}
	index := make(map[string]int, len(notes))
	args := make([]any, len(notes))
	for i, n := range notes {
		index[n.ID] = i
		args[i] = n.ID
	}
	rows, err := tx.QueryContext(ctx, `SELECT notification_id, number, started_at, duration_us, status_code, response_body, error_kind, error
		FROM attempts WHERE notification_id IN (`+placeholders(len(args))+`) ORDER BY notification_id, number, id`, args...)
	if err != nil {
		return fmt.Errorf("read attempts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a store.Attempt
		var started, dur int64
		if err := rows.Scan(&a.NotificationID, &a.Number, &started, &dur, &a.StatusCode, &a.ResponseBody, &a.ErrorKind, &a.Error); err != nil {
			return fmt.Errorf("scan attempt: %w", err)
		}
		a.Started, a.Duration = fromMS(started), time.Duration(dur)*time.Microsecond
		i := index[a.NotificationID]
		notes[i].AttemptLog = append(notes[i].AttemptLog, a)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read attempts: %w", err)
	}
	return nil
}

// RequeueExpired puts matching EXPIRED notifications of live webhooks back
// to PENDING, due at now, with a fresh retry budget, and says how many it
// moved.
func (s *Store) RequeueExpired(ctx context.Context, f store.NotificationFilter, now time.Time) (int, error) {
	f.Status = store.StatusExpired
	where, args := filterSQL(f)
	var n int64
	err := s.write(ctx, func(tx *tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE notifications AS n SET status = 'PENDING', retry_base = attempts,
			next_attempt_at = ?, modified_at = ? WHERE `+where+`
			AND n.webhook_id IN (SELECT id FROM webhooks WHERE deleted_at IS NULL)`, append([]any{ms(now), ms(now)}, args...)...)
		if err != nil {
			return fmt.Errorf("requeue expired: %w", err)
		}
		if n, _ = res.RowsAffected(); n > 0 {
			return s.notify(ctx, tx)
		}
		return nil
	})
	return int(n), err
}

func prefixed(prefix, columns string) string {
	parts := strings.Split(columns, ", ")
	for i, p := range parts {
		parts[i] = prefix + p
	}
	return strings.Join(parts, ", ")
}
