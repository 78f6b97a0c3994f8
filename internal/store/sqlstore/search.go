package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

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

func prefixed(prefix, columns string) string {
	parts := strings.Split(columns, ", ")
	for i, p := range parts {
		parts[i] = prefix + p
	}
	return strings.Join(parts, ", ")
}
