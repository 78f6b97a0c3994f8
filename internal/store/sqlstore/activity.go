package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"

	"github.com/heraldhq/herald/internal/store"
)

// maxActivityPages bounds the notification pages WebhookActivity reads.
const maxActivityPages = 10

// WebhookActivity returns a webhook of tenantID's newest attempts (at most
// n, newest first, whichever notifications they belong to) and its count of
// PENDING notifications (at most pendingCap). An unknown or deleted webhook,
// or one of another tenant, is store.ErrNotFound.
//
// The attempts are found through the webhook's notifications in order of
// last change (index notifications_attempted): an attempt is recorded with
// its notification's change, so no attempt is newer than its notification's
// modified_at, and the read stops at the first page whose notifications all
// changed before the n-th newest attempt found so far.
func (s *Store) WebhookActivity(ctx context.Context, tenantID, webhookID string, n, pendingCap int) (store.WebhookActivity, error) {
	var act store.WebhookActivity
	rtx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return act, fmt.Errorf("webhook activity: %w", err)
	}
	read := s.r.tx(rtx)
	defer read.end(ctx) // after the rollback below has let go of the connection
	defer rtx.Rollback()
	var one int
	err = read.QueryRowContext(ctx, `SELECT 1 FROM webhooks WHERE id = ? AND tenant_id = ? AND deleted_at IS NULL`,
		webhookID, tenantID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return act, fmt.Errorf("webhook %q: %w", webhookID, store.ErrNotFound)
	}
	if err != nil {
		return act, fmt.Errorf("webhook activity: %w", err)
	}
	if n > 0 {
		if act.Attempts, err = newestAttempts(ctx, read, webhookID, n); err != nil {
			return act, err
		}
	}
	if pendingCap > 0 {
		var count int
		if err := read.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM notifications
			WHERE webhook_id = ? AND status = 'PENDING' LIMIT ?) AS p`, webhookID, pendingCap+1).Scan(&count); err != nil {
			return act, fmt.Errorf("count pending notifications: %w", err)
		}
		act.Pending, act.PendingCapped = min(count, pendingCap), count > pendingCap
	}
	return act, nil
}

// newestAttempts reads the n newest attempts of a webhook (see
// WebhookActivity).
func newestAttempts(ctx context.Context, read *tx, webhookID string, n int) ([]store.Attempt, error) {
	var top []store.Attempt
	var afterModified int64
	afterID := ""
	for range maxActivityPages {
		q := `SELECT id, modified_at FROM notifications WHERE webhook_id = ? AND attempts > 0`
		args := []any{webhookID}
		if afterID != "" {
			q += ` AND modified_at <= ? AND (modified_at < ? OR id < ?)`
			args = append(args, afterModified, afterModified, afterID)
		}
		ids, lastModified, err := notificationPage(ctx, read, q+` ORDER BY modified_at DESC, id DESC LIMIT ?`, append(args, n)...)
		if err != nil {
			return nil, err
		}
		if len(ids) == 0 {
			break
		}
		notes := make([]store.Notification, len(ids))
		for i, id := range ids {
			notes[i].ID = id
		}
		if err := attachAttempts(ctx, read, notes); err != nil {
			return nil, err
		}
		for _, nt := range notes {
			top = append(top, nt.AttemptLog...)
		}
		sort.SliceStable(top, func(i, j int) bool { return newerAttempt(top[i], top[j]) })
		if len(top) > n {
			top = top[:n]
		}
		afterModified, afterID = lastModified, ids[len(ids)-1]
		// Every later notification changed at or before lastModified, so
		// its attempts are no newer: once that is older than the n-th
		// newest attempt, none of them can be among the n.
		if len(ids) < n || (len(top) == n && lastModified < ms(top[n-1].Started)) {
			break
		}
	}
	return top, nil
}

// newerAttempt orders attempts newest first (the same start: the higher
// number first).
func newerAttempt(a, b store.Attempt) bool {
	if !a.Started.Equal(b.Started) {
		return a.Started.After(b.Started)
	}
	if a.NotificationID != b.NotificationID {
		return a.NotificationID > b.NotificationID
	}
	return a.Number > b.Number
}

// notificationPage runs q, which selects (id, modified_at), and returns the
// ids and the last modified_at.
func notificationPage(ctx context.Context, read *tx, q string, args ...any) ([]string, int64, error) {
	rows, err := read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("read attempted notifications: %w", err)
	}
	defer rows.Close()
	var ids []string
	var last int64
	for rows.Next() {
		var id string
		if err := rows.Scan(&id, &last); err != nil {
			return nil, 0, fmt.Errorf("read attempted notifications: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("read attempted notifications: %w", err)
	}
	return ids, last, nil
}
