package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/store"
)

// errIdempotencyRace: another transaction recorded the same idempotency key
// between this one's check and its insert.
var errIdempotencyRace = errors.New("idempotency key recorded concurrently")

// publishTx stores a group of publishes in tx. A call that fails alone
// (idempotency mismatch, fan-out bound) gets its error and writes nothing.
func (s *Store) publishTx(ctx context.Context, tx *tx, group []*publishCall) error {
	subs, own, err := s.subscribers(ctx, tx, group)
	if err != nil {
		return err
	}
	rows := &publishRows{wakes: map[string]int64{}, own: own}
	for _, c := range group {
		c.res, c.err, c.leased, c.fanouts = store.PublishResult{}, nil, nil, nil
		if err := s.publishOne(ctx, tx, c, subs[c.req.TenantID], rows); err != nil {
			return err
		}
	}
	return s.writeGroupRows(ctx, tx, rows, ms(group[0].req.Now))
}

// publishRows are the rows a group writes, in a few statements at its end.
type publishRows struct {
	events []store.Event
	notes  []noteRow
	wakes  map[string]int64
	// queued: some notification was left for a claim (wake other replicas).
	queued bool
	// own: the lease rows of this process's executor (Dialect.LeaseRows),
	// by webhook, as the group found them.
	own map[string]leaseRow
}

type noteRow struct {
	id, tenantID, eventID, webhookID, name string
	created                                int64
	leaseOwner, leaseToken                 string
	leaseUntil                             int64
}

// publishOne adds one call's rows, or sets its own error.
func (s *Store) publishOne(ctx context.Context, tx *tx, c *publishCall, hooks []store.Subscriber, rows *publishRows) error {
	req := c.req
	if req.IdempotencyKey != "" {
		replay, found, err := s.replay(ctx, tx, req)
		if errors.Is(err, store.ErrIdempotencyMismatch) {
			c.err = err
			return nil
		}
		if err != nil || found {
			c.res = replay
			return err
		}
	}
	receivers, fanout := fanOut(req.Events, hooks)
	if req.Webhook != "" {
		if receivers, fanout = testFanOut(req.Events, hooks, req.Webhook); fanout == 0 {
			c.err = fmt.Errorf("webhook %q: %w", req.Webhook, store.ErrNotFound)
			return nil
		}
	}
	if req.MaxFanout > 0 && fanout > req.MaxFanout {
		c.err = fmt.Errorf("%d notifications, over the bound of %d: %w", fanout, req.MaxFanout, store.ErrFanout)
		return nil
	}
	if fanout > s.deferral.Above {
		if err := s.deferPublish(ctx, tx, c, hooks, receivers, rows); err != nil {
			return err
		}
		return s.recordKey(ctx, tx, req, c.res)
	}
	token := ""
	if req.Handoff != nil {
		token = req.Handoff.Owner() + "/" + uuid.NewString()
	}
	for k, e := range req.Events {
		e.TenantID = req.TenantID
		rows.events = append(rows.events, e)
		pe := store.PublishedEvent{Event: e, Notifications: []store.NotificationRef{}}
		for _, i := range receivers[k] {
			h := &hooks[i]
			id, err := uuid.NewV7()
			if err != nil {
				return fmt.Errorf("notification id: %w", err)
			}
			n := noteRow{id: id.String(), tenantID: req.TenantID, eventID: e.ID, webhookID: h.ID, name: e.Name, created: ms(e.Created)}
			if req.Handoff != nil {
				if until, ok := req.Handoff.Reserve(*h, req.Now); ok {
					n.leaseOwner, n.leaseToken, n.leaseUntil = req.Handoff.Owner(), token, ms(until)
					c.leased = append(c.leased, store.Claimed{ID: n.id, TenantID: req.TenantID, EventID: e.ID, WebhookID: h.ID,
						EventName: e.Name, Attempt: 1, Payload: e.Payload, Published: e.Created, LeaseToken: token, TraceParent: e.TraceParent})
				}
			}
			wake := n.leaseUntil // a lease runs out: its webhook must be looked at then
			if n.leaseOwner == "" {
				rows.queued, c.res.Queued = true, true
				wake = n.created
				if h.Health.CircuitOpen() {
					wake = max(wake, ms(h.Health.CircuitOpenUntil))
				}
				// Later notifications of this group now wait behind it.
				h.Due = true
			}
			if t, ok := rows.wakes[h.ID]; !ok || wake < t {
				rows.wakes[h.ID] = wake
			}
			rows.notes = append(rows.notes, n)
			pe.Notifications = append(pe.Notifications, store.NotificationRef{ID: n.id, WebhookID: h.ID})
		}
		c.res.Events = append(c.res.Events, pe)
	}
	return s.recordKey(ctx, tx, req, c.res)
}

// recordKey records req's idempotency key, if it has one, with the events
// it published.
func (s *Store) recordKey(ctx context.Context, tx *tx, req store.PublishRequest, res store.PublishResult) error {
	if req.IdempotencyKey == "" {
		return nil
	}
	ids := make([]string, len(res.Events))
	for i, e := range res.Events {
		ids[i] = e.Event.ID
	}
	idsJSON, _ := json.Marshal(ids)
	if _, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (tenant_id, key, request_hash, event_ids, created_at) VALUES (?, ?, ?, ?, ?)`,
		req.TenantID, req.IdempotencyKey, req.RequestHash, idsJSON, ms(req.Now)); err != nil {
		if s.d.IsUnique(err) {
			return errIdempotencyRace
		}
		return fmt.Errorf("record idempotency key: %w", err)
	}
	return nil
}

func subscribes(events []string, name string) bool {
	for _, e := range events {
		if e == name || e == "*" {
			return true
		}
	}
	return false
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

// subscribers lists, per tenant of the group, the webhooks that may
// receive notifications, disabled ones included (their notifications wait
// for re-enabling). Where rows lock, they are locked in id order, so that
// max_in_flight is counted once across replicas; the leases other
// dispatchers hold are counted for the webhooks that could take work.
func (s *Store) subscribers(ctx context.Context, tx *tx, group []*publishCall) (map[string][]store.Subscriber, map[string]leaseRow, error) {
	var tenants []any
	seen := map[string]bool{}
	handoff := ""
	for _, c := range group {
		if !seen[c.req.TenantID] {
			seen[c.req.TenantID] = true
			tenants = append(tenants, c.req.TenantID)
		}
		if c.req.Handoff != nil {
			handoff = c.req.Handoff.Owner()
		}
	}
	// The rows are locked before the group lowers their wake times or
	// counts their leases: in id order, as every writer of webhook rows
	// takes them, so concurrent publishes and completions never deadlock.
	lock := s.d.ForUpdate
	now := ms(group[0].req.Now)
	rows, err := tx.QueryContext(ctx, `SELECT id, tenant_id, events, status, modified_at, consecutive_failures, circuit_open_until, wake_at, content_filter
		FROM webhooks WHERE tenant_id IN (`+placeholders(len(tenants))+`) AND deleted_at IS NULL ORDER BY id`+lock, tenants...)
	if err != nil {
		return nil, nil, fmt.Errorf("find subscribers: %w", err)
	}
	defer rows.Close()
	out := map[string][]store.Subscriber{}
	var candidates []any
	for rows.Next() {
		var w store.Subscriber
		var tenant string
		var events []byte
		var modified, open, wake int64
		var filter string
		if err := rows.Scan(&w.ID, &tenant, &events, &w.Status, &modified, &w.Health.ConsecutiveFailures, &open, &wake, &filter); err != nil {
			return nil, nil, fmt.Errorf("scan subscriber: %w", err)
		}
		if err := s.decodeEvents(w.ID, modified, events, &w.Events); err != nil {
			return nil, nil, err
		}
		if w.Filter, err = s.subscriberFilter(w.ID, modified, filter); err != nil {
			return nil, nil, err
		}
		w.Modified, w.Health.CircuitOpenUntil, w.Due = fromMS(modified), fromMS(open), wake <= now
		// Due ones too: Reserve hands off to a due webhook as well (half
		// its slots), and what other replicas lease counts for it.
		if handoff != "" && w.Status == store.WebhookActive && !w.Health.CircuitOpen() {
			candidates = append(candidates, w.ID)
		}
		out[tenant] = append(out[tenant], w)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("find subscribers: %w", err)
	}
	rows.Close()
	if s.d.OneProcess || len(candidates) == 0 {
		return out, nil, nil
	}
	own, err := s.countLeases(ctx, tx, out, candidates, handoff, now)
	return out, own, err
}

// countLeases fills Leased of the candidate subscribers: the live leases of
// other dispatchers than owner (the executor counts its own in its slots;
// counting them here too halved what it could be handed). With lease rows
// it also returns the executor's own lease rows, by webhook.
func (s *Store) countLeases(ctx context.Context, tx *tx, subs map[string][]store.Subscriber, ids []any, owner string, now int64) (map[string]leaseRow, error) {
	leased := map[string]int{}
	var own map[string]leaseRow
	if s.d.LeaseRows {
		tallies, err := s.readLeaseRows(ctx, tx, ids, owner, now)
		if err != nil {
			return nil, err
		}
		own = make(map[string]leaseRow, len(tallies))
		for id, t := range tallies {
			leased[id], own[id] = t.others, t.own
		}
	} else if err := s.countLeaseNotes(ctx, tx, ids, owner, now, leased); err != nil {
		return nil, err
	}
	for _, list := range subs {
		for i := range list {
			list[i].Leased = leased[list[i].ID]
		}
	}
	return own, nil
}

// countLeaseNotes counts the live leases of the webhooks ids held by other
// dispatchers than owner into leased.
func (s *Store) countLeaseNotes(ctx context.Context, tx *tx, ids []any, owner string, now int64, leased map[string]int) error {
	rows, err := tx.QueryContext(ctx, `SELECT webhook_id, count(*) FROM notifications WHERE webhook_id IN (`+placeholders(len(ids))+`)
		AND lease_owner IS NOT NULL AND lease_owner <> ? AND lease_expires_at > ? GROUP BY webhook_id`, append(slices.Clip(ids), owner, now)...)
	if err != nil {
		return fmt.Errorf("count leases: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return fmt.Errorf("scan lease count: %w", err)
		}
		leased[id] = n
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("count leases: %w", err)
	}
	return nil
}

// Event returns one of a tenant's events with its notifications.
func (s *Store) Event(ctx context.Context, tenantID, id string) (store.Event, []store.Notification, error) {
	return readEvent(ctx, s.r, tenantID, id)
}

func readEvent(ctx context.Context, q queryer, tenantID, id string) (store.Event, []store.Notification, error) {
	e, err := readEventRow(ctx, q, tenantID, id)
	if err != nil {
		return e, nil, err
	}
	rows, err := q.QueryContext(ctx, `SELECT `+notificationColumns+` FROM notifications WHERE event_id = ? ORDER BY id`, id)
	if err != nil {
		return e, nil, fmt.Errorf("get event notifications: %w", err)
	}
	notes, err := scanNotifications(rows)
	for i := range notes {
		notes[i].Test = e.Test
	}
	return e, notes, err
}

// handedOver is the lease rows of the executor that this group's hand-offs
// bring up to date (Dialect.LeaseRows), by webhook, and that executor.
func handedOver(rows *publishRows, now int64) (string, map[string]leaseRow) {
	owner, until, added := "", int64(0), map[string]int{}
	for _, n := range rows.notes {
		if n.leaseOwner == "" {
			continue
		}
		owner, until = n.leaseOwner, max(until, n.leaseUntil)
		added[n.webhookID]++
	}
	next := make(map[string]leaseRow, len(added))
	for id, n := range added {
		next[id] = rows.own[id].after(n, until, now)
	}
	return owner, next
}
