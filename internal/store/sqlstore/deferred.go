package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/store"
)

// Deferred fan-out. A publish that creates more than DeferAbove
// notifications would hold SQLite's single writer for seconds (100,000
// notifications take several), and every other tenant's publish with it.
// Such a publish commits its events and its fan-out plan (which webhook gets
// which event, decided at publish with filters applied) in one small
// transaction and is answered; its notifications are then written Chunk at
// a time, each chunk a transaction of its own that takes turns with the
// other publish groups. The plan's cursor moves in the chunk's transaction,
// so a crash resumes where the last chunk committed. Notification ids are
// derived from their event and webhook, so the answer lists them before
// they exist, and a chunk can never be written twice.

// Deferral bounds a Store's fan-out: publishes of more than Above
// notifications are written Chunk at a time after their answer.
type Deferral struct{ Above, Chunk int }

// DefaultDeferral keeps every transaction short on SQLite: a batch of 500
// events to 10 webhooks (5,000) still commits whole, and a chunk is 50
// rows. Another tenant's publish may wait behind a chunk: 1,000 rows took
// 120 to 190 ms on a busy machine; against 250, 50 halved that tenant's
// p50 (33 to 7 ms) and lowered its p99 (260 to 410 ms to 142 ms) in the
// fanout scenario, for a fan-out written in 40 s instead of 30.
var DefaultDeferral = Deferral{Above: 5000, Chunk: 50}

// WithDeferral sets the fan-out deferral (tests use small ones).
func WithDeferral(d Deferral) Option { return func(s *Store) { s.deferral = d } }

// fanoutPlan is what a deferred publish still has to write: for each event,
// the indexes of its receivers among Hooks.
type fanoutPlan struct {
	Hooks  []string       `json:"hooks"`
	Events []plannedEvent `json:"events"`
}

type plannedEvent struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Created   int64  `json:"created"`
	Receivers []int  `json:"receivers"`
}

// total is the number of notifications of the plan.
func (p *fanoutPlan) total() int {
	n := 0
	for _, e := range p.Events {
		n += len(e.Receivers)
	}
	return n
}

// slice returns the notifications from..to of the plan, in plan order.
func (p *fanoutPlan) slice(tenantID string, from, to int) []noteRow {
	var out []noteRow
	i := 0
	for _, e := range p.Events {
		if i+len(e.Receivers) <= from {
			i += len(e.Receivers)
			continue
		}
		for _, r := range e.Receivers {
			if i >= from && i < to {
				hook := p.Hooks[r]
				out = append(out, noteRow{id: noteID(e.ID, hook, e.Created), tenantID: tenantID, eventID: e.ID,
					webhookID: hook, name: e.Name, created: e.Created})
			}
			i++
		}
		if i >= to {
			break
		}
	}
	return out
}

// noteID is a deferred notification's id: a UUIDv7 of its event's creation
// time whose other bits are a hash of its event and webhook, so it sorts
// with the notifications of its time and is the same however often it is
// computed.
func noteID(eventID, webhookID string, created int64) string {
	h := sha256.Sum256([]byte(eventID + "\x00" + webhookID))
	var u uuid.UUID
	copy(u[6:], h[:10])
	for i := range 6 {
		u[i] = byte(created >> (40 - 8*i))
	}
	u[6] = 0x70 | u[6]&0x0f // version 7
	u[8] = 0x80 | u[8]&0x3f // RFC 4122 variant
	return u.String()
}

// deferPublish records the plan of one call's publish and answers it with
// the notifications the plan will write.
func (s *Store) deferPublish(ctx context.Context, tx *tx, c *publishCall, hooks []store.Subscriber, receivers [][]int, rows *publishRows) error {
	req := c.req
	plan := fanoutPlan{Events: make([]plannedEvent, 0, len(req.Events))}
	index := map[string]int{}
	for k, e := range req.Events {
		e.TenantID = req.TenantID
		rows.events = append(rows.events, e)
		pe := plannedEvent{ID: e.ID, Name: e.Name, Created: ms(e.Created)}
		res := store.PublishedEvent{Event: e, Notifications: make([]store.NotificationRef, 0, len(receivers[k]))}
		for _, i := range receivers[k] {
			id := hooks[i].ID
			j, ok := index[id]
			if !ok {
				j = len(plan.Hooks)
				index[id] = j
				plan.Hooks = append(plan.Hooks, id)
			}
			pe.Receivers = append(pe.Receivers, j)
			res.Notifications = append(res.Notifications, store.NotificationRef{ID: noteID(e.ID, id, pe.Created), WebhookID: id})
		}
		plan.Events = append(plan.Events, pe)
		c.res.Events = append(c.res.Events, res)
	}
	raw, err := json.Marshal(plan)
	if err != nil {
		return fmt.Errorf("encode fan-out plan: %w", err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return fmt.Errorf("fan-out id: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO fanouts (id, tenant_id, plan, total, done, created_at, updated_at)
		VALUES (?, ?, ?, ?, 0, ?, ?)`, id.String(), req.TenantID, raw, plan.total(), ms(req.Now), ms(req.Now)); err != nil {
		return fmt.Errorf("record fan-out plan: %w", err)
	}
	c.res.Queued = true
	c.fanouts = append(c.fanouts, id.String())
	return nil
}

// fanouts is the deferred fan-outs this process writes.
type fanouts struct {
	// queue holds the ids of plans to write; WriteFanouts takes them one
	// chunk at a time.
	queue chan string
	mu    sync.Mutex
	plans map[string]*fanoutPlan // decoded plans, by id
}

func newFanouts() fanouts {
	return fanouts{queue: make(chan string, 4096), plans: map[string]*fanoutPlan{}}
}

// enqueueFanouts adds plans to the work of WriteFanouts.
func (s *Store) enqueueFanouts(ids ...string) {
	for _, id := range ids {
		select {
		case s.fan.queue <- id:
		default:
			// Full: the plan stays in the database and is picked up by the
			// next sweep (recoverFanouts).
		}
	}
}

// fanoutSweep is how often a replica looks for plans that another one
// started and stopped moving (it died): those not moved for as long.
const fanoutSweep = 30 * time.Second

// WriteFanouts writes deferred fan-outs until ctx ends: those of this
// process's publishes, those left unwritten at the last stop or crash, and,
// where several processes share the database, those a dead one left. Each
// chunk is a transaction of its own, so publishes, claims and completions
// take turns with it for the writer. wake is called after a chunk commits
// (the dispatcher then looks for work).
func (s *Store) WriteFanouts(ctx context.Context, wake func(), log *slog.Logger) {
	if err := s.recoverFanouts(ctx, 0); err != nil && ctx.Err() == nil {
		log.Error("find unwritten fan-outs", "err", err)
	}
	sweep := time.NewTicker(fanoutSweep)
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sweep.C:
			if s.d.OneProcess {
				continue
			}
			if err := s.recoverFanouts(ctx, fanoutSweep); err != nil && ctx.Err() == nil {
				log.Error("find abandoned fan-outs", "err", err)
			}
		case id := <-s.fan.queue:
			s.yieldToPublishes(ctx)
			if ctx.Err() != nil {
				return // the plan stays in the database for the next start
			}
			more, err := s.fanoutChunk(ctx, id)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				log.Error("write deferred fan-out", "fanout_id", id, "err", err)
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Second):
				}
			}
			if more {
				s.enqueueFanouts(id)
			}
			if err == nil && wake != nil {
				wake()
			}
		}
	}
}

// maxYield bounds how long a chunk waits for publishes to go first, so a
// fan-out still moves under a steady publish load (then at one chunk per
// maxYield).
const maxYield = 100 * time.Millisecond

// yieldToPublishes lets publishes waiting for the writer go before the
// next chunk: a chunk is work already answered, a waiting publish is a
// client waiting for its answer. The writer pool hands a freed connection
// to any waiter, not the oldest, so without this a publish could wait
// behind many chunks.
func (s *Store) yieldToPublishes(ctx context.Context) {
	deadline := time.Now().Add(maxYield)
	for s.pub.waiting.Load() > 0 && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Millisecond):
		}
	}
}

// fanoutChunk writes the next chunk of plan id and reports whether the plan
// has more to write.
func (s *Store) fanoutChunk(ctx context.Context, id string) (more bool, err error) {
	err = s.write(ctx, func(tx *tx) error {
		more = false
		var tenant string
		var raw []byte
		var total, done int
		err := tx.QueryRowContext(ctx, `SELECT tenant_id, plan, total, done FROM fanouts WHERE id = ?`+s.d.ForUpdate, id).
			Scan(&tenant, &raw, &total, &done)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // written to the end by another publisher
		}
		if err != nil {
			return fmt.Errorf("read fan-out plan: %w", err)
		}
		plan, err := s.fanoutPlan(id, raw)
		if err != nil {
			return err
		}
		to := min(done+s.deferral.Chunk, total)
		notes, err := s.liveNotes(ctx, tx, plan.slice(tenant, done, to))
		if err != nil {
			return err
		}
		if err := s.insertNotifications(ctx, tx, notes); err != nil {
			return err
		}
		wakes := map[string]int64{}
		for _, n := range notes {
			if t, ok := wakes[n.webhookID]; !ok || n.created < t {
				wakes[n.webhookID] = n.created
			}
		}
		if err := s.lowerWake(ctx, tx, wakes); err != nil {
			return err
		}
		if to == total {
			_, err = tx.ExecContext(ctx, `DELETE FROM fanouts WHERE id = ?`, id)
		} else {
			_, err = tx.ExecContext(ctx, `UPDATE fanouts SET done = ?, updated_at = ? WHERE id = ?`, to, ms(time.Now()), id)
			more = true
		}
		if err != nil {
			return fmt.Errorf("move fan-out cursor: %w", err)
		}
		if len(notes) > 0 {
			return s.notify(ctx, tx)
		}
		return nil
	})
	if err != nil {
		return true, err
	}
	if !more {
		s.fan.mu.Lock()
		delete(s.fan.plans, id)
		s.fan.mu.Unlock()
	}
	return more, nil
}

// fanoutPlan decodes plan id, once per process.
func (s *Store) fanoutPlan(id string, raw []byte) (*fanoutPlan, error) {
	s.fan.mu.Lock()
	defer s.fan.mu.Unlock()
	if p := s.fan.plans[id]; p != nil {
		return p, nil
	}
	p := new(fanoutPlan)
	if err := json.Unmarshal(raw, p); err != nil {
		return nil, fmt.Errorf("decode fan-out plan %s: %w", id, err)
	}
	s.fan.plans[id] = p
	return p, nil
}

// liveNotes drops the notifications of webhooks deleted since the publish
// and, where rows lock, locks the others' rows in id order, as every
// writer of webhook rows takes them.
func (s *Store) liveNotes(ctx context.Context, tx *tx, notes []noteRow) ([]noteRow, error) {
	var ids []any
	seen := map[string]bool{}
	for _, n := range notes {
		if !seen[n.webhookID] {
			seen[n.webhookID] = true
			ids = append(ids, n.webhookID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT id FROM webhooks WHERE id IN (`+placeholders(len(ids))+`) AND deleted_at IS NULL ORDER BY id`+s.d.ForUpdate, ids...)
	if err != nil {
		return nil, fmt.Errorf("find fan-out webhooks: %w", err)
	}
	defer rows.Close()
	live := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("scan fan-out webhook: %w", err)
		}
		live[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find fan-out webhooks: %w", err)
	}
	return slices.DeleteFunc(notes, func(n noteRow) bool { return !live[n.webhookID] }), nil
}

// recoverFanouts queues the plans left unwritten in the database: at start
// (a crash or a shutdown mid-way) and, where several processes share the
// database, those whose writer has not moved them for staleAfter.
func (s *Store) recoverFanouts(ctx context.Context, staleAfter time.Duration) error {
	rows, err := s.w.QueryContext(ctx, `SELECT id FROM fanouts WHERE updated_at <= ? ORDER BY id`, ms(time.Now().Add(-staleAfter)))
	if err != nil {
		return fmt.Errorf("find unwritten fan-outs: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("scan fan-out: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("find unwritten fan-outs: %w", err)
	}
	s.enqueueFanouts(ids...)
	return nil
}
