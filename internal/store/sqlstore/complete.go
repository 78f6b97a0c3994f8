package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/heraldhq/herald/internal/store"
)

// Complete records attempt results in one transaction (group commit), with
// each webhook's health: a success closes its circuit; a failure counts
// towards opening it (store.CircuitThreshold in a row) and, after
// c.DisableAfter of failures without a success, disables the webhook. A
// result whose lease is no longer held (the notification was cancelled, or
// re-leased after the lease ran out) records its attempt and health but
// leaves the notification alone.
func (s *Store) Complete(ctx context.Context, c store.Completion) error {
	if len(c.Results) == 0 {
		return nil
	}
	now := ms(c.Now)
	return s.write(ctx, func(tx *tx) error {
		if err := s.insertAttempts(ctx, tx, c.Results); err != nil {
			return err
		}
		upd, err := s.prepare(ctx, tx, `UPDATE notifications SET status = ?, attempts = ?, next_attempt_at = ?,
			lease_owner = NULL, lease_token = NULL, lease_expires_at = 0, modified_at = ?
			WHERE id = ? AND lease_token = ? AND status = 'PENDING'`)
		if err != nil {
			return fmt.Errorf("prepare notification update: %w", err)
		}
		defer upd.Close()
		ok, err := s.prepare(ctx, tx, `UPDATE webhooks SET consecutive_failures = 0, failing_since = 0,
			circuit_open_until = 0, last_success_at = ? WHERE id = ?`)
		if err != nil {
			return fmt.Errorf("prepare health update: %w", err)
		}
		defer ok.Close()
		// Column references on the right-hand side read the old row.
		failed, err := s.prepare(ctx, tx, `UPDATE webhooks SET consecutive_failures = consecutive_failures + ?,
			failing_since = CASE WHEN failing_since = 0 THEN ? ELSE failing_since END,
			last_failure_at = ?,
			circuit_open_until = CASE WHEN consecutive_failures + ? >= ? THEN ? ELSE circuit_open_until END,
			status = CASE WHEN ? > 0 AND status = 'ACTIVE' AND failing_since <> 0 AND ? - failing_since >= ?
				THEN 'DISABLED' ELSE status END
			WHERE id = ?`)
		if err != nil {
			return fmt.Errorf("prepare health update: %w", err)
		}
		defer failed.Close()
		disableAfter := c.DisableAfter.Milliseconds()
		// Health changes once per webhook per batch: its last result decides
		// success or failure, and every failure in the batch counts.
		type tally struct {
			failures int
			ok       bool
			probeAt  int64
		}
		health := map[string]*tally{}
		var order []string
		for _, r := range c.Results {
			a := r.Attempt
			if _, err := upd.ExecContext(ctx, r.Status, a.Number, ms(r.NextAttemptAt), now, a.NotificationID, r.LeaseToken); err != nil {
				return fmt.Errorf("update notification: %w", err)
			}
			if r.WebhookID == "" {
				continue
			}
			h := health[r.WebhookID]
			if h == nil {
				h = &tally{}
				health[r.WebhookID] = h
				order = append(order, r.WebhookID)
			}
			if r.Status == store.StatusDelivered {
				h.ok, h.failures = true, 0
			} else {
				h.ok = false
				h.failures++
				h.probeAt = ms(r.ProbeAt)
			}
		}
		for _, id := range order {
			h := health[id]
			var err error
			if h.ok {
				_, err = ok.ExecContext(ctx, now, id)
			} else {
				_, err = failed.ExecContext(ctx, h.failures, now, now, h.failures, store.CircuitThreshold, h.probeAt, disableAfter, now, disableAfter, id)
			}
			if err != nil {
				return fmt.Errorf("update webhook health: %w", err)
			}
		}
		return nil
	})
}

// attemptRows is how many attempts one INSERT writes: one statement (one
// round trip to PostgreSQL) per hundred attempts instead of one each.
const attemptRows = 100

// insertAttempts writes the attempt log rows of results, attemptRows per
// statement.
func (s *Store) insertAttempts(ctx context.Context, tx *tx, results []store.AttemptResult) error {
	for start := 0; start < len(results); start += attemptRows {
		chunk := results[start:min(start+attemptRows, len(results))]
		var q strings.Builder
		q.WriteString(`INSERT INTO attempts (notification_id, number, started_at, duration_us, status_code, response_body, error_kind, error) VALUES `)
		args := make([]any, 0, 8*len(chunk))
		for i, r := range chunk {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
			a := r.Attempt
			args = append(args, a.NotificationID, a.Number, ms(a.Started), a.Duration.Microseconds(),
				a.StatusCode, a.ResponseBody, a.ErrorKind, a.Error)
		}
		stmt, err := s.prepare(ctx, tx, q.String())
		if err != nil {
			return fmt.Errorf("prepare attempt insert: %w", err)
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("record attempts: %w", err)
		}
	}
	return nil
}
