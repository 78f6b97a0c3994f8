package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/store"
)

// Publish stores events and fans each one out to every subscribed webhook of
// the tenant, all in one transaction: when it returns nil, every event and
// notification is committed. Event IDs and creation times are the caller's.
func (s *Store) Publish(ctx context.Context, req store.PublishRequest) (store.PublishResult, error) {
	res, err := s.publish(ctx, req)
	if errors.Is(err, errIdempotencyRace) {
		// A concurrent publish with the same key committed first: this
		// attempt rolled back, and the next one returns that publish.
		res, err = s.publish(ctx, req)
	}
	return res, err
}

// errIdempotencyRace: another transaction recorded the same idempotency key
// between this one's check and its insert.
var errIdempotencyRace = errors.New("idempotency key recorded concurrently")

func (s *Store) publish(ctx context.Context, req store.PublishRequest) (store.PublishResult, error) {
	var res store.PublishResult
	err := s.write(ctx, func(tx *tx) error {
		res = store.PublishResult{}
		if req.IdempotencyKey != "" {
			replay, found, err := s.replay(ctx, tx, req)
			if err != nil || found {
				res = replay
				return err
			}
		}
		hooks, err := subscribers(ctx, tx, req.TenantID)
		if err != nil {
			return err
		}
		insEvent, err := s.prepare(ctx, tx, `INSERT INTO events (id, tenant_id, name, payload, created_at, trace_parent) VALUES (?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return fmt.Errorf("prepare event insert: %w", err)
		}
		defer insEvent.Close()
		insNote, err := s.prepare(ctx, tx, `INSERT INTO notifications (id, tenant_id, event_id, webhook_id, event_name, status,
			next_attempt_at, created_at, modified_at) VALUES (?, ?, ?, ?, ?, 'PENDING', ?, ?, ?)`)
		if err != nil {
			return fmt.Errorf("prepare notification insert: %w", err)
		}
		defer insNote.Close()
		ids := make([]string, 0, len(req.Events))
		for _, e := range req.Events {
			created := ms(e.Created)
			if _, err := insEvent.ExecContext(ctx, e.ID, req.TenantID, e.Name, []byte(e.Payload), created, e.TraceParent); err != nil {
				return fmt.Errorf("insert event: %w", err)
			}
			pe := store.PublishedEvent{Event: e, Notifications: []store.NotificationRef{}}
			for _, h := range hooks {
				if !h.Subscribes(e.Name) {
					continue
				}
				id, err := uuid.NewV7()
				if err != nil {
					return fmt.Errorf("notification id: %w", err)
				}
				if _, err := insNote.ExecContext(ctx, id.String(), req.TenantID, e.ID, h.ID, e.Name, created, created, created); err != nil {
					return fmt.Errorf("insert notification: %w", err)
				}
				pe.Notifications = append(pe.Notifications, store.NotificationRef{ID: id.String(), WebhookID: h.ID})
			}
			res.Events = append(res.Events, pe)
			ids = append(ids, e.ID)
		}
		if err := s.notify(ctx, tx); err != nil {
			return err
		}
		if req.IdempotencyKey != "" {
			idsJSON, _ := json.Marshal(ids)
			if _, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (tenant_id, key, request_hash, event_ids, created_at) VALUES (?, ?, ?, ?, ?)`,
				req.TenantID, req.IdempotencyKey, req.RequestHash, idsJSON, ms(req.Now)); err != nil {
				if s.d.IsUnique(err) {
					return errIdempotencyRace
				}
				return fmt.Errorf("record idempotency key: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return store.PublishResult{}, err
	}
	return res, nil
}

// replay returns the earlier answer for req's idempotency key when one was
// recorded within the window; an older record is forgotten.
func (s *Store) replay(ctx context.Context, tx *tx, req store.PublishRequest) (store.PublishResult, bool, error) {
	var hash string
	var idsJSON []byte
	var created int64
	err := tx.QueryRowContext(ctx, `SELECT request_hash, event_ids, created_at FROM idempotency_keys WHERE tenant_id = ? AND key = ?`,
		req.TenantID, req.IdempotencyKey).Scan(&hash, &idsJSON, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return store.PublishResult{}, false, nil
	}
	if err != nil {
		return store.PublishResult{}, false, fmt.Errorf("read idempotency key: %w", err)
	}
	if fromMS(created).Add(req.IdempotencyWindow).Before(req.Now) {
		if _, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE tenant_id = ? AND key = ?`, req.TenantID, req.IdempotencyKey); err != nil {
			return store.PublishResult{}, false, fmt.Errorf("forget idempotency key: %w", err)
		}
		return store.PublishResult{}, false, nil
	}
	if hash != req.RequestHash {
		return store.PublishResult{}, false, store.ErrIdempotencyMismatch
	}
	var ids []string
	if err := json.Unmarshal(idsJSON, &ids); err != nil {
		return store.PublishResult{}, false, fmt.Errorf("decode idempotency record: %w", err)
	}
	res := store.PublishResult{Replayed: true}
	for _, id := range ids {
		e, notes, err := readEvent(ctx, tx, req.TenantID, id)
		if err != nil {
			return store.PublishResult{}, false, err
		}
		pe := store.PublishedEvent{Event: e, Notifications: []store.NotificationRef{}}
		for _, n := range notes {
			pe.Notifications = append(pe.Notifications, store.NotificationRef{ID: n.ID, WebhookID: n.WebhookID})
		}
		res.Events = append(res.Events, pe)
	}
	return res, true, nil
}

// subscribers lists the tenant's webhooks that may receive notifications,
// disabled ones included (their notifications wait for re-enabling).
func subscribers(ctx context.Context, tx *tx, tenantID string) ([]store.Webhook, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, events FROM webhooks WHERE tenant_id = ? AND deleted_at IS NULL ORDER BY id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("find subscribers: %w", err)
	}
	defer rows.Close()
	var out []store.Webhook
	for rows.Next() {
		var w store.Webhook
		var events []byte
		if err := rows.Scan(&w.ID, &events); err != nil {
			return nil, fmt.Errorf("scan subscriber: %w", err)
		}
		if err := json.Unmarshal(events, &w.Events); err != nil {
			return nil, fmt.Errorf("decode subscriber %s: %w", w.ID, err)
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find subscribers: %w", err)
	}
	return out, nil
}

// Event returns one of a tenant's events with its notifications.
func (s *Store) Event(ctx context.Context, tenantID, id string) (store.Event, []store.Notification, error) {
	return readEvent(ctx, s.r, tenantID, id)
}

func readEvent(ctx context.Context, q queryer, tenantID, id string) (store.Event, []store.Notification, error) {
	var e store.Event
	var created int64
	var payload []byte
	err := q.QueryRowContext(ctx, `SELECT id, tenant_id, name, payload, created_at FROM events WHERE id = ? AND tenant_id = ?`, id, tenantID).
		Scan(&e.ID, &e.TenantID, &e.Name, &payload, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return e, nil, fmt.Errorf("event %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return e, nil, fmt.Errorf("get event: %w", err)
	}
	e.Payload = payload
	e.Created = fromMS(created)
	rows, err := q.QueryContext(ctx, `SELECT `+notificationColumns+` FROM notifications WHERE event_id = ? ORDER BY id`, id)
	if err != nil {
		return e, nil, fmt.Errorf("get event notifications: %w", err)
	}
	notes, err := scanNotifications(rows)
	return e, notes, err
}
