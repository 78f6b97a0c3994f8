package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// webhookHealth is one webhook's health row as a completion reads and
// writes it.
type webhookHealth struct {
	id, tenantID, status string
	// wake is the webhook's exact wake time after the batch (ms).
	wake    int64
	h       store.Health
	change  store.WebhookChange
	disable bool
	// folded: a result of this batch was folded in (it is written back).
	folded bool
	// quiet: the batch changes nothing worth writing (lockHealth).
	quiet bool
}

// healthRefresh is how stale a webhook's last success may be left by a
// batch that changes nothing else of its health (quiet).
const healthRefresh = time.Second

// lockHealth reads the health of the webhooks the results belong to. Where
// the dialect locks rows it locks them, in id order (every writer of
// webhook rows locks them first and in that order, so none deadlock), so
// that replicas recording results of one webhook fold them one after the
// other.
//
// A webhook whose results change nothing of its health but its last
// success, recorded less than healthRefresh ago, is left alone: neither
// locked nor written (quiet). That is every batch of a healthy webhook but
// one a second; without it each result batch held the webhook's row until
// its commit, and publishes and claims of that webhook waited behind it
// (on SQLite it saves the single writer a row a batch). A quiet read is a
// snapshot without a lock: a concurrent batch of another replica folding
// failures then counts as recorded after this one.
func (s *Store) lockHealth(ctx context.Context, tx *tx, c store.Completion) (map[string]*webhookHealth, error) {
	var ids []any
	byHook := map[string][]store.AttemptResult{}
	for _, r := range c.Results {
		if r.WebhookID == "" {
			continue
		}
		if _, ok := byHook[r.WebhookID]; !ok {
			ids = append(ids, r.WebhookID)
		}
		byHook[r.WebhookID] = append(byHook[r.WebhookID], r)
	}
	out, err := s.readHealth(ctx, tx, ids, "")
	if err != nil {
		return nil, err
	}
	var busy []any
	for _, id := range ids {
		w := out[id.(string)]
		if w == nil {
			continue
		}
		if w.quiet = quiet(w.h, byHook[w.id], c.Health); !w.quiet {
			busy = append(busy, id)
		}
	}
	if len(busy) == 0 || s.d.ForUpdate == "" {
		return out, nil // nothing to lock, or a single writer
	}
	locked, err := s.readHealth(ctx, tx, busy, s.d.ForUpdate)
	if err != nil {
		return nil, err
	}
	for _, id := range busy {
		if w := locked[id.(string)]; w != nil {
			out[id.(string)] = w
		} else {
			delete(out, id.(string))
		}
	}
	return out, nil
}

// quiet says a webhook's results, folded in order through p, leave its
// health h as it is but for a last success moved by less than
// healthRefresh.
func quiet(h store.Health, results []store.AttemptResult, p store.HealthPolicy) bool {
	after := h
	for _, r := range results {
		var ch store.HealthChange
		if after, ch = p.Record(after, r); ch != (store.HealthChange{}) {
			return false
		}
	}
	moved := after.LastSuccess.Sub(h.LastSuccess)
	after.LastSuccess = h.LastSuccess
	return after == h && moved < healthRefresh
}

// readHealth reads the health rows of ids, in id order, with lock appended
// (the dialect's ForUpdate, or nothing).
func (s *Store) readHealth(ctx context.Context, tx *tx, ids []any, lock string) (map[string]*webhookHealth, error) {
	out := make(map[string]*webhookHealth, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, tenant_id, status, consecutive_failures, failing_since, circuit_open_until,
		last_success_at, last_failure_at FROM webhooks WHERE id IN (`+placeholders(len(ids))+`) ORDER BY id`+lock, ids...)
	if err != nil {
		return nil, fmt.Errorf("read webhook health: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		w := &webhookHealth{}
		var failing, open, success, failure int64
		if err := rows.Scan(&w.id, &w.tenantID, &w.status, &w.h.ConsecutiveFailures, &failing, &open, &success, &failure); err != nil {
			return nil, fmt.Errorf("scan webhook health: %w", err)
		}
		w.h = store.Health{ConsecutiveFailures: w.h.ConsecutiveFailures, FailingSince: fromMS(failing),
			CircuitOpenUntil: fromMS(open), LastSuccess: fromMS(success), LastFailure: fromMS(failure)}
		w.change = store.WebhookChange{WebhookID: w.id, TenantID: w.tenantID}
		out[w.id] = w
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read webhook health: %w", err)
	}
	return out, nil
}

// recordHealth folds the results into their webhooks' health through the
// policy, in order, and writes every webhook's new health in one statement
// (arrays) or one per webhook. It returns the changes worth logging, with
// the notifications the batch marked EXPIRED (by webhook).
func (s *Store) recordHealth(ctx context.Context, tx *tx, c store.Completion, health map[string]*webhookHealth,
	expired map[string]int) ([]store.WebhookChange, error) {
	var order []*webhookHealth
	for _, r := range c.Results {
		w := health[r.WebhookID]
		if w == nil || w.quiet {
			continue // deleted meanwhile, or nothing to write
		}
		if !w.folded {
			w.folded = true
			order = append(order, w)
		}
		var ch store.HealthChange
		w.h, ch = c.Health.Record(w.h, r)
		w.change.Opened = w.change.Opened || ch.Opened
		w.change.Closed = w.change.Closed || ch.Closed
		w.disable = w.disable || (ch.Disable && w.status == store.WebhookActive)
	}
	var changes []store.WebhookChange
	for _, w := range order {
		w.change.Expired = expired[w.id]
		w.change.Failures = w.h.ConsecutiveFailures
		w.change.Disable = w.disable
		if w.change.Opened || w.change.Closed || w.change.Disable || w.change.Expired > 0 {
			changes = append(changes, w.change)
		}
	}
	if err := s.exactWakes(ctx, tx, order, ms(c.Now)); err != nil {
		return nil, err
	}
	if err := s.writeHealth(ctx, tx, order); err != nil {
		return nil, err
	}
	return changes, nil
}

// exactWakes computes each webhook's wake time after the batch: its next
// claimable notification, or its probe time while its circuit stays open.
// The rows are locked (or the writer is single), so the value stands.
func (s *Store) exactWakes(ctx context.Context, tx *tx, hooks []*webhookHealth, now int64) error {
	ids := make([]string, len(hooks))
	for i, w := range hooks {
		ids[i] = w.id
	}
	wakes := make(map[string]int64, len(hooks))
	if err := s.nextWakes(ctx, tx, ids, now, wakes); err != nil {
		return err
	}
	for _, w := range hooks {
		w.wake = wakes[w.id]
		if w.h.CircuitOpen() && w.wake != neverWake {
			w.wake = max(w.wake, ms(w.h.CircuitOpenUntil))
		}
	}
	return nil
}

func (s *Store) writeHealth(ctx context.Context, tx *tx, hooks []*webhookHealth) error {
	if len(hooks) == 0 {
		return nil
	}
	if s.d.Arrays {
		n := len(hooks)
		ids := make([]string, n)
		failures, failing, open, success, failure := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		disable, wake := make([]bool, n), make([]int64, n)
		for i, w := range hooks {
			ids[i], disable[i], wake[i] = w.id, w.disable, w.wake
			failures[i], failing[i], open[i] = int64(w.h.ConsecutiveFailures), ms(w.h.FailingSince), ms(w.h.CircuitOpenUntil)
			success[i], failure[i] = ms(w.h.LastSuccess), ms(w.h.LastFailure)
		}
		_, err := tx.ExecContext(ctx, `UPDATE webhooks AS w SET consecutive_failures = v.failures, failing_since = v.failing,
				circuit_open_until = v.open, last_success_at = v.success, last_failure_at = v.failure,
				status = CASE WHEN v.disable THEN 'DISABLED' ELSE w.status END, wake_at = v.wake
			FROM unnest(?::text[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::boolean[], ?::bigint[])
				AS v(id, failures, failing, open, success, failure, disable, wake)
			WHERE w.id = v.id`, ids, failures, failing, open, success, failure, disable, wake)
		if err != nil {
			return fmt.Errorf("update webhook health: %w", err)
		}
		return nil
	}
	upd, err := tx.prepare(ctx, `UPDATE webhooks SET consecutive_failures = ?, failing_since = ?, circuit_open_until = ?,
		last_success_at = ?, last_failure_at = ?, status = CASE WHEN ? THEN 'DISABLED' ELSE status END, wake_at = ? WHERE id = ?`)
	if err != nil {
		return fmt.Errorf("prepare health update: %w", err)
	}
	defer upd.Close()
	for _, w := range hooks {
		if _, err := upd.ExecContext(ctx, w.h.ConsecutiveFailures, ms(w.h.FailingSince), ms(w.h.CircuitOpenUntil),
			ms(w.h.LastSuccess), ms(w.h.LastFailure), w.disable, w.wake, w.id); err != nil {
			return fmt.Errorf("update webhook health: %w", err)
		}
	}
	return nil
}

// wakeArrays is the statement that sets wake times from arrays, and its
// arguments: where lower, only those it lowers (see lowerWake).
func wakeArrays(wakes map[string]int64, lower bool) (string, []any) {
	ids, at := make([]string, 0, len(wakes)), make([]int64, 0, len(wakes))
	for id, t := range wakes {
		ids, at = append(ids, id), append(at, t)
	}
	cond := ""
	if lower {
		cond = " AND w.wake_at > v.at"
	}
	return `UPDATE webhooks AS w SET wake_at = v.at
		FROM unnest(?::text[], ?::bigint[]) AS v(id, at) WHERE w.id = v.id` + cond, []any{ids, at}
}

// lowerWake makes each webhook's wake time no later than the given time
// (ms): it is the earliest a claim for the webhook may find work, so every
// write that makes work due sooner lowers it. It writes only rows it
// lowers.
func (s *Store) lowerWake(ctx context.Context, tx *tx, wakes map[string]int64) error {
	if len(wakes) == 0 {
		return nil
	}
	if s.d.Arrays {
		sql, args := wakeArrays(wakes, true)
		if _, err := tx.ExecContext(ctx, sql, args...); err != nil {
			return fmt.Errorf("lower wake times: %w", err)
		}
		return nil
	}
	upd, err := tx.prepare(ctx, `UPDATE webhooks SET wake_at = ? WHERE id = ? AND wake_at > ?`)
	if err != nil {
		return fmt.Errorf("prepare wake update: %w", err)
	}
	defer upd.Close()
	for id, t := range wakes {
		if _, err := upd.ExecContext(ctx, t, id, t); err != nil {
			return fmt.Errorf("lower wake time: %w", err)
		}
	}
	return nil
}
