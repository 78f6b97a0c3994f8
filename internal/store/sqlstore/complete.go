package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/heraldhq/herald/internal/store"
)

// Complete records a batch of attempt results in one transaction (group
// commit) in a constant number of statements where the dialect has arrays:
// the attempt rows, the notifications' next states and the health of each
// webhook, folded result by result through c.Health in the order given. A
// result whose lease is no longer held (the notification was cancelled, or
// re-leased after the lease ran out) records its attempt and health but
// leaves the notification alone.
//
// When the batch fails as a whole, each result is tried again in a
// transaction of its own, so that one bad row never blocks the others: the
// results that still fail are returned in a *store.SetAsideError, and their
// leases run out as after a crash.
func (s *Store) Complete(ctx context.Context, c store.Completion) ([]store.WebhookChange, error) {
	if len(c.Results) == 0 {
		return nil, nil
	}
	if c.Health == nil {
		return nil, errors.New("complete: no health policy")
	}
	c.Results = storable(c.Results)
	changes, err := s.completeTx(ctx, c)
	if err == nil || len(c.Results) == 1 || ctx.Err() != nil {
		return changes, err
	}
	return s.completeEach(ctx, c, err)
}

func (s *Store) completeTx(ctx context.Context, c store.Completion) ([]store.WebhookChange, error) {
	var changes []store.WebhookChange
	err := s.write(ctx, func(tx *tx) error {
		if err := s.queueTx(ctx, tx); err != nil {
			return err
		}
		health, err := s.lockHealth(ctx, tx, c)
		if err != nil {
			return err
		}
		if !s.d.Arrays { // with arrays, in updateNotifications' statement
			if err := s.insertAttempts(ctx, tx, c.Results); err != nil {
				return err
			}
		}
		expired, err := s.updateNotifications(ctx, tx, c)
		if err != nil {
			return err
		}
		changes, err = s.recordHealth(ctx, tx, c, health, expired)
		return err
	})
	return changes, err
}

// completeEach records the results of a failed batch one at a time.
func (s *Store) completeEach(ctx context.Context, c store.Completion, batchErr error) ([]store.WebhookChange, error) {
	if !s.d.isDataError(batchErr) {
		return nil, batchErr // the database, not a row: retried whole
	}
	var changes []store.WebhookChange
	aside := &store.SetAsideError{}
	for i, r := range c.Results {
		one := c
		one.Results = []store.AttemptResult{r}
		ch, err := s.completeTx(ctx, one)
		if err != nil && !s.d.isDataError(err) {
			// The database failed meanwhile: the results not yet recorded
			// are to be retried, the others are in.
			return changes, &store.IncompleteError{Results: c.Results[i:], Err: err}
		}
		if err != nil {
			aside.Results = append(aside.Results, r)
			aside.Errs = append(aside.Errs, err)
			continue
		}
		changes = append(changes, ch...)
	}
	switch {
	case len(aside.Results) == len(c.Results):
		return nil, batchErr // nothing went in: the database, not a row
	case len(aside.Results) > 0:
		return changes, aside
	}
	return changes, nil
}

// rowsPerUpdate bounds the results of one UPDATE where the dialect has no
// arrays.
const rowsPerUpdate = 64

// updateChunk records the next state of up to rowsPerUpdate notifications
// in one statement, counting the expired ones per webhook. The rows go in
// as many as the next power of two, padded with rows that match nothing
// (a NULL id), so that the statement has one of seven shapes, each
// prepared once.
func (s *Store) updateChunk(ctx context.Context, tx *tx, results []store.AttemptResult, now int64, expired map[string]int) error {
	rows := 1
	for rows < len(results) {
		rows *= 2
	}
	args := make([]any, 0, 5*rows+1)
	for _, r := range results {
		args = append(args, r.Attempt.NotificationID, r.LeaseToken, r.Status, r.Attempt.Number, ms(r.NextAttemptAt))
	}
	for range rows - len(results) {
		args = append(args, nil, nil, nil, nil, nil)
	}
	args = append(args, now)
	stmt, err := tx.prepare(ctx, s.updateSQL(rows))
	if err != nil {
		return fmt.Errorf("prepare notification update: %w", err)
	}
	defer stmt.Close()
	rs, err := stmt.QueryContext(ctx, args...)
	if err != nil {
		return fmt.Errorf("update notifications: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var hook, status string
		if err := rs.Scan(&hook, &status); err != nil {
			return fmt.Errorf("update notifications: %w", err)
		}
		if status == store.StatusExpired {
			expired[hook]++
		}
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("update notifications: %w", err)
	}
	return nil
}

// updateSQL is the statement of updateChunk for rows rows. It walks from
// each row of v to its notification by the primary key.
func (s *Store) updateSQL(rows int) string {
	return `WITH v(id, token, status, attempts, next) AS (VALUES ` + tuples("(?, ?, ?, ?, ?)", rows) + `)
		UPDATE` + s.d.OrRollback + ` notifications SET status = v.status, attempts = v.attempts,
		next_attempt_at = v.next, lease_owner = NULL, lease_token = NULL, lease_expires_at = 0, modified_at = ?
		FROM v WHERE notifications.id = v.id AND notifications.lease_token = v.token AND notifications.status = 'PENDING'
		RETURNING notifications.webhook_id, notifications.status`
}

// storable returns results whose texts every backend stores: valid UTF-8
// without NUL (PostgreSQL refuses both in text columns).
func storable(results []store.AttemptResult) []store.AttemptResult {
	var out []store.AttemptResult
	for i, r := range results {
		body, msg := cleanText(r.Attempt.ResponseBody), cleanText(r.Attempt.Error)
		if body == r.Attempt.ResponseBody && msg == r.Attempt.Error {
			continue
		}
		if out == nil {
			out = append([]store.AttemptResult(nil), results...)
		}
		out[i].Attempt.ResponseBody, out[i].Attempt.Error = body, msg
	}
	if out == nil {
		return results
	}
	return out
}

// cleanText replaces invalid UTF-8 and NUL with U+FFFD.
func cleanText(s string) string {
	if utf8.ValidString(s) && !strings.ContainsRune(s, 0) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// attemptRows is the statement that writes the attempt log rows of
// results from arrays, and its arguments.
func attemptRows(results []store.AttemptResult) (string, []any) {
	n := len(results)
	ids, bodies, kinds, msgs := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	numbers, started, durations, codes := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	headers := make([]string, n)
	for i, r := range results {
		a := r.Attempt
		ids[i], bodies[i], kinds[i], msgs[i] = a.NotificationID, a.ResponseBody, a.ErrorKind, a.Error
		numbers[i], started[i], durations[i], codes[i] = int64(a.Number), ms(a.Started), a.Duration.Microseconds(), int64(a.StatusCode)
		headers[i] = encodeHeaders(a)
	}
	return `INSERT INTO attempts (notification_id, number, started_at, duration_us, status_code, response_body, error_kind, error, headers)
		SELECT * FROM unnest(?::text[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[])`,
		[]any{ids, numbers, started, durations, codes, bodies, kinds, msgs, headers}
}

// insertAttempts writes the attempt log rows of results, rowsPerInsert a
// statement (with arrays they go in updateNotifications' statement).
func (s *Store) insertAttempts(ctx context.Context, tx *tx, results []store.AttemptResult) error {
	for start := 0; start < len(results); start += rowsPerInsert {
		chunk := results[start:min(start+rowsPerInsert, len(results))]
		args := make([]any, 0, 9*len(chunk))
		for _, r := range chunk {
			a := r.Attempt
			args = append(args, a.NotificationID, a.Number, ms(a.Started), a.Duration.Microseconds(),
				a.StatusCode, a.ResponseBody, a.ErrorKind, a.Error, encodeHeaders(a))
		}
		if err := s.execRows(ctx, tx, `INSERT`+s.d.OrRollback+` INTO attempts (notification_id, number, started_at, duration_us, status_code, response_body, error_kind, error, headers) VALUES `,
			"(?, ?, ?, ?, ?, ?, ?, ?, ?)", len(chunk), args); err != nil {
			return fmt.Errorf("record attempts: %w", err)
		}
	}
	return nil
}

// updateNotifications writes each notification's next state and ends its
// lease, where the lease is still the result's. It returns, by webhook, how
// many notifications it marked EXPIRED (a stale result marks none).
func (s *Store) updateNotifications(ctx context.Context, tx *tx, c store.Completion) (map[string]int, error) {
	now := ms(c.Now)
	expired := map[string]int{}
	if s.d.Arrays {
		ids, tokens, statuses := make([]string, len(c.Results)), make([]string, len(c.Results)), make([]string, len(c.Results))
		attempts, next := make([]int64, len(c.Results)), make([]int64, len(c.Results))
		for i, r := range c.Results {
			ids[i], tokens[i], statuses[i] = r.Attempt.NotificationID, r.LeaseToken, r.Status
			attempts[i], next[i] = int64(r.Attempt.Number), ms(r.NextAttemptAt)
		}
		// The attempt log rows go in the same statement, and with lease
		// rows the leases ended are counted for their dispatchers: one
		// round trip for the batch.
		logged, args := attemptRows(c.Results)
		ended := ""
		if s.d.LeaseRows {
			ended = `, l AS (` + leaseRowsEnded + `)`
		}
		rows, err := tx.QueryContext(ctx, `WITH u AS (UPDATE notifications AS n SET status = v.status, attempts = v.attempts,
				next_attempt_at = v.next, lease_owner = NULL, lease_token = NULL, lease_expires_at = 0, modified_at = ?
			FROM unnest(?::text[], ?::text[], ?::text[], ?::bigint[], ?::bigint[]) AS v(id, token, status, attempts, next)
			WHERE n.id = v.id AND n.lease_token = v.token AND n.status = 'PENDING'
			RETURNING n.webhook_id, n.status, v.token), a AS (`+logged+`)`+ended+`
			SELECT webhook_id, count(*) FROM u WHERE status = 'EXPIRED' GROUP BY webhook_id`,
			append([]any{now, ids, tokens, statuses, attempts, next}, args...)...)
		if err != nil {
			return nil, fmt.Errorf("update notifications: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			var n int
			if err := rows.Scan(&id, &n); err != nil {
				return nil, fmt.Errorf("scan expired count: %w", err)
			}
			expired[id] = n
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("update notifications: %w", err)
		}
		return expired, nil
	}
	for start := 0; start < len(c.Results); start += rowsPerUpdate {
		if err := s.updateChunk(ctx, tx, c.Results[start:min(start+rowsPerUpdate, len(c.Results))], now, expired); err != nil {
			return nil, err
		}
	}
	return expired, nil
}
