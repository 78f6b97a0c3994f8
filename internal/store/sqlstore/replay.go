package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/filter"
	"github.com/heraldhq/herald/internal/store"
)

// A replay runs in two steps, so that reading a long window never holds the
// writer (SQLite) or the webhook's row, which every publish of the tenant
// locks (PostgreSQL):
//
//  1. In a read transaction, walk the tenant's events of the window in the
//     events_tenant_created index, skipping those the webhook already has
//     a notification for (through notifications_event), and keep those
//     that pass its filter: their ids only, each payload read once.
//  2. In a write transaction, lock the webhook's row (concurrent replays of
//     one webhook take turns), check that it did not change meanwhile, and
//     insert the notifications in one set-based statement (PostgreSQL:
//     unnest; SQLite: multi-row) that checks again for a notification made
//     since step 1, then lower the webhook's wake time.

// errWebhookChanged: the webhook changed between the two steps (its events
// or filter may have), so the first is run again.
var errWebhookChanged = errors.New("webhook changed during the replay")

// replayTries bounds how often a replay starts again after its webhook
// changed under it.
const replayTries = 3

// replayEvent is an event a replay makes a notification for.
type replayEvent struct{ id, name string }

// Replay creates notifications of req.WebhookID for the tenant's events
// published in [req.From, req.To) that it subscribes to (narrowed to
// req.Events) and that pass its filter, skipping those it already has a
// notification for (see store.ReplayRequest), and returns how many it
// created. They are due at once, in publish order. An unknown or deleted
// webhook is store.ErrNotFound; more than req.MaxFanout notifications is
// store.ErrFanout, with nothing created.
func (s *Store) Replay(ctx context.Context, req store.ReplayRequest) (int, error) {
	for try := 1; ; try++ {
		w, err := s.getWebhook(ctx, s.r, req.TenantID, req.WebhookID, "")
		if err != nil {
			return 0, err
		}
		events, err := s.replayEvents(ctx, req, w)
		if err != nil {
			return 0, err
		}
		if req.MaxFanout > 0 && len(events) > req.MaxFanout {
			return 0, fmt.Errorf("replay of more than %d notifications: %w", req.MaxFanout, store.ErrFanout)
		}
		n, err := s.insertReplay(ctx, req, w, events)
		if errors.Is(err, errWebhookChanged) && try < replayTries {
			continue
		}
		return n, err
	}
}

// replayQuery is the statement that finds a replay's events, and its
// arguments. withPayload reads the payloads too (for a filter).
func replayQuery(req store.ReplayRequest, w store.Webhook, withPayload bool) (string, []any) {
	var q strings.Builder
	q.WriteString(`SELECT e.id, e.name`)
	if withPayload {
		q.WriteString(`, e.payload`)
	}
	// A test event (POST /webhooks/{id}:test) was meant for its one
	// webhook: a replay never sends it again.
	q.WriteString(` FROM events e WHERE e.tenant_id = ? AND e.created_at >= ? AND e.created_at < ? AND e.test = 0`)
	args := []any{req.TenantID, ms(req.From), ms(req.To)}
	names := req.Events
	if names == nil && !slices.Contains(w.Events, "*") {
		names = w.Events
	}
	if names != nil {
		q.WriteString(` AND e.name IN (` + placeholders(len(names)) + `)`)
		for _, n := range names {
			args = append(args, n)
		}
	}
	q.WriteString(` AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.event_id = e.id AND n.webhook_id = ?` + skipped(req) + `)
		ORDER BY e.created_at, e.id`)
	args = append(args, w.ID)
	if !withPayload && req.MaxFanout > 0 {
		// Without a filter every row found is a notification: one more
		// than the bound says it is passed.
		q.WriteString(` LIMIT ?`)
		args = append(args, req.MaxFanout+1)
	}
	return q.String(), args
}

// skipped narrows the existing notifications that make a replay skip an
// event: any, or with IncludeDelivered only a pending one. The status is
// tested as status || ” so that no planner answers it from the partial
// indexes of pending notifications (notifications_head, notifications_due):
// those would walk the webhook's whole queue for every event, where
// notifications_event finds the event's few notifications.
func skipped(req store.ReplayRequest) string {
	if req.IncludeDelivered {
		return ` AND n.status || '' = 'PENDING'`
	}
	return ""
}

// replayEvents finds a replay's events (step 1), in publish order, at most
// one more than req.MaxFanout.
func (s *Store) replayEvents(ctx context.Context, req store.ReplayRequest, w store.Webhook) ([]replayEvent, error) {
	f := w.Config.Filter
	var plan *filter.Plan
	if !f.Empty() {
		plan = filter.NewPlan([]*filter.Filter{f})
	}
	t, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("replay: begin: %w", err)
	}
	defer func() { _ = t.Rollback() }() // it only reads
	rtx := s.r.tx(t)
	if err := s.scanTx(ctx, rtx); err != nil {
		return nil, err
	}
	q, args := replayQuery(req, w, plan != nil)
	rows, err := rtx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("replay: find events: %w", err)
	}
	defer rows.Close()
	var out []replayEvent
	for rows.Next() {
		var e replayEvent
		var payload sql.RawBytes
		dst := []any{&e.id, &e.name}
		if plan != nil {
			dst = append(dst, &payload)
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("replay: scan event: %w", err)
		}
		if plan != nil && !plan.Match(0, plan.Read(payload)) {
			continue
		}
		out = append(out, e)
		if req.MaxFanout > 0 && len(out) > req.MaxFanout {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("replay: find events: %w", err)
	}
	return out, nil
}

// insertReplay creates the notifications of a replay (step 2).
func (s *Store) insertReplay(ctx context.Context, req store.ReplayRequest, w store.Webhook, events []replayEvent) (int, error) {
	ids := make([]string, len(events))
	for i := range events {
		id, err := uuid.NewV7() // in publish order: an ordered webhook gets them so
		if err != nil {
			return 0, fmt.Errorf("notification id: %w", err)
		}
		ids[i] = id.String()
	}
	created := 0
	err := s.write(ctx, func(tx *tx) error {
		created = 0
		var modified, openUntil int64
		var failures int
		err := tx.QueryRowContext(ctx, `SELECT modified_at, consecutive_failures, circuit_open_until FROM webhooks
			WHERE id = ? AND tenant_id = ? AND deleted_at IS NULL`+s.d.ForUpdate, w.ID, req.TenantID).Scan(&modified, &failures, &openUntil)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("webhook %q: %w", w.ID, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("replay: lock webhook: %w", err)
		}
		if modified != ms(w.Modified) {
			return errWebhookChanged
		}
		owed, err := s.owedEvents(ctx, tx, req.TenantID, w.ID)
		if err != nil {
			return err
		}
		if len(owed) > 0 {
			var keep []replayEvent
			var keepIDs []string
			for i, e := range events {
				if !owed[e.id] {
					keep, keepIDs = append(keep, e), append(keepIDs, ids[i])
				}
			}
			events, ids = keep, keepIDs
		}
		if len(events) == 0 {
			return nil
		}
		if err := s.scanTx(ctx, tx); err != nil {
			return err
		}
		n, err := s.insertReplayRows(ctx, tx, req, w.ID, ids, events)
		if err != nil {
			return err
		}
		created = n
		if n == 0 {
			return nil
		}
		wake := ms(req.Now)
		if failures >= store.CircuitThreshold {
			wake = max(wake, openUntil)
		}
		if err := s.lowerWake(ctx, tx, map[string]int64{w.ID: wake}); err != nil {
			return err
		}
		return s.notify(ctx, tx)
	})
	if err != nil {
		return 0, err
	}
	return created, nil
}

// owedEvents lists the events that the tenant's deferred fan-outs have yet
// to write a notification of the webhook for (see deferred.go): a replay
// leaves them to the fan-out, or the webhook would get two. The webhook's
// row is locked, and fan-out chunks lock it too, so none is written
// meanwhile.
func (s *Store) owedEvents(ctx context.Context, tx *tx, tenantID, hookID string) (map[string]bool, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, plan FROM fanouts WHERE tenant_id = ?`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("replay: read fan-out plans: %w", err)
	}
	defer rows.Close()
	owed := map[string]bool{}
	for rows.Next() {
		var id string
		var raw []byte
		if err := rows.Scan(&id, &raw); err != nil {
			return nil, fmt.Errorf("replay: read fan-out plan: %w", err)
		}
		plan, err := s.fanoutPlan(id, raw)
		if err != nil {
			return nil, err
		}
		hook := slices.Index(plan.Hooks, hookID)
		if hook < 0 {
			continue
		}
		for _, e := range plan.Events {
			if slices.Contains(e.Receivers, hook) {
				owed[e.ID] = true
			}
		}
	}
	return owed, rows.Err()
}

// insertReplayRows inserts the notifications of events (ids[i] for
// events[i]) but for events that got one of the webhook since they were
// found, and returns how many it inserted.
func (s *Store) insertReplayRows(ctx context.Context, tx *tx, req store.ReplayRequest, hookID string, ids []string, events []replayEvent) (int, error) {
	const head = `INSERT INTO notifications (id, tenant_id, event_id, webhook_id, event_name, status, next_attempt_at, created_at, modified_at) `
	now := ms(req.Now)
	recheck := `NOT EXISTS (SELECT 1 FROM notifications n WHERE n.event_id = v.event AND n.webhook_id = ?` + skipped(req) + `)`
	if s.d.Arrays {
		eventIDs, names := make([]string, len(events)), make([]string, len(events))
		for i, e := range events {
			eventIDs[i], names[i] = e.id, e.name
		}
		res, err := tx.ExecContext(ctx, head+`SELECT v.id, ?::text, v.event, ?::text, v.name, 'PENDING', ?::bigint, ?::bigint, ?::bigint
			FROM unnest(?::text[], ?::text[], ?::text[]) AS v(id, event, name) WHERE `+recheck,
			req.TenantID, hookID, now, now, now, ids, eventIDs, names, hookID)
		if err != nil {
			return 0, fmt.Errorf("replay: insert notifications: %w", err)
		}
		n, _ := res.RowsAffected()
		return int(n), nil
	}
	total := 0
	for start := 0; start < len(events); start += rowsPerInsert {
		chunk := events[start:min(start+rowsPerInsert, len(events))]
		args := make([]any, 0, 6+3*len(chunk))
		args = append(args, req.TenantID, hookID, now, now, now)
		for i, e := range chunk {
			args = append(args, ids[start+i], e.id, e.name)
		}
		args = append(args, hookID)
		values := strings.TrimSuffix(strings.Repeat("(?, ?, ?),", len(chunk)), ",")
		res, err := tx.ExecContext(ctx, head+`SELECT v.id, ?, v.event, ?, v.name, 'PENDING', ?, ?, ?
			FROM (SELECT column1 AS id, column2 AS event, column3 AS name FROM (VALUES `+values+`)) AS v WHERE `+recheck, args...)
		if err != nil {
			return 0, fmt.Errorf("replay: insert notifications: %w", err)
		}
		n, _ := res.RowsAffected()
		total += int(n)
	}
	return total, nil
}

// scanTx runs the dialect's planner settings for a replay's statements.
func (s *Store) scanTx(ctx context.Context, t *tx) error {
	if s.d.ScanTx == "" {
		return nil
	}
	if _, err := t.ExecContext(ctx, s.d.ScanTx); err != nil {
		return fmt.Errorf("replay transaction settings: %w", err)
	}
	return nil
}

// ExplainReplay returns the database's plan of the statement that finds a
// replay's events, as Replay runs it (with its planner settings, reading
// payloads when the webhook filters): tests check that it stays
// index-driven whatever the statistics.
func (s *Store) ExplainReplay(ctx context.Context, req store.ReplayRequest) (string, error) {
	w, err := s.getWebhook(ctx, s.r, req.TenantID, req.WebhookID, "")
	if err != nil {
		return "", err
	}
	t, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("explain: begin: %w", err)
	}
	defer func() { _ = t.Rollback() }()
	rtx := s.r.tx(t)
	if err := s.scanTx(ctx, rtx); err != nil {
		return "", err
	}
	q, args := replayQuery(req, w, !w.Config.Filter.Empty())
	rows, err := rtx.QueryContext(ctx, s.d.Explain+q, args...)
	if err != nil {
		return "", fmt.Errorf("explain: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", fmt.Errorf("explain: %w", err)
	}
	var plan strings.Builder
	for rows.Next() {
		cells := make([]any, len(cols))
		var detail string
		for i := range cells {
			cells[i] = new(any)
		}
		cells[len(cells)-1] = &detail // the plan line is the last column
		if err := rows.Scan(cells...); err != nil {
			return "", fmt.Errorf("explain: %w", err)
		}
		plan.WriteString(detail + "\n")
	}
	return plan.String(), rows.Err()
}
