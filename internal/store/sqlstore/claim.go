package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/policy"
	"github.com/heraldhq/herald/internal/store"
)

// Claim leases due notifications, oldest first, up to each request's limit,
// in one transaction. A notification stays leased until its result is
// recorded, its lease runs out, or its owner releases it. Each webhook's
// circuit, max_in_flight, order and rate limit are honoured across every
// dispatcher sharing the database (see slots).
func (s *Store) Claim(ctx context.Context, c store.Claim) ([]store.Claimed, error) {
	var out []store.Claimed
	err := s.write(ctx, func(tx *tx) error {
		out = out[:0]
		if err := s.claimTx(ctx, tx); err != nil {
			return err
		}
		token := c.Owner + "/" + uuid.NewString()
		due, err := tx.prepare(ctx, `UPDATE`+s.d.OrRollback+` notifications SET lease_owner = ?, lease_token = ?, lease_expires_at = ?
			WHERE id IN (SELECT id FROM notifications WHERE webhook_id = ? AND status = 'PENDING'
				AND next_attempt_at <= ? AND lease_expires_at <= ? ORDER BY next_attempt_at LIMIT ?`+s.d.SkipLocked+`)
			RETURNING id, tenant_id, event_id, webhook_id, event_name, attempts, retry_base, next_attempt_at`)
		if err != nil {
			return fmt.Errorf("prepare claim: %w", err)
		}
		defer due.Close()
		// An ordered webhook's head: its oldest pending notification, taken
		// only when due and not leased (the rest wait behind it).
		head, err := tx.prepare(ctx, `UPDATE`+s.d.OrRollback+` notifications SET lease_owner = ?, lease_token = ?, lease_expires_at = ?
			WHERE id = (SELECT id FROM notifications WHERE webhook_id = ? AND status = 'PENDING' ORDER BY id LIMIT 1)
				AND next_attempt_at <= ? AND lease_expires_at <= ? AND 0 < ?
			RETURNING id, tenant_id, event_id, webhook_id, event_name, attempts, retry_base, next_attempt_at`)
		if err != nil {
			return fmt.Errorf("prepare ordered claim: %w", err)
		}
		defer head.Close()
		// Webhook rows are locked in id order, as every writer takes them.
		reqs := slices.SortedFunc(slices.Values(c.Requests), func(a, b store.ClaimRequest) int {
			return strings.Compare(a.WebhookID, b.WebhookID)
		})
		states, err := s.claimStates(ctx, tx, reqs, c.Owner, c.Now)
		if err != nil {
			return err
		}
		taken, claimed := make([]slotsFor, len(reqs)), make([]int, len(reqs))
		for i, r := range reqs {
			taken[i] = slots(r, c, states[r.WebhookID], s.d.OneProcess)
		}
		// With arrays, every unordered webhook's notifications in one
		// statement; else, and for ordered heads, one each.
		var many [][]store.Claimed
		if s.d.Arrays {
			if many, err = s.claimMany(ctx, tx, c, token, reqs, taken); err != nil {
				return err
			}
		}
		added := make(map[string]int, len(reqs))
		for i, r := range reqs {
			sl := taken[i]
			start := len(out)
			switch {
			case many != nil && !r.Ordered:
				out = append(out, many[i]...)
			case sl.n > 0:
				stmt := due
				if r.Ordered {
					stmt = head
				}
				if out, err = claimRows(ctx, stmt, out, c, token, r.WebhookID, sl.n); err != nil {
					return err
				}
			}
			if err := sl.spend(ctx, tx, len(out)-start); err != nil {
				return err
			}
			claimed[i] = len(out) - start
			added[r.WebhookID] += claimed[i]
		}
		// Counted before the wake times: a lease's end is one.
		if s.d.LeaseRows {
			next := make(map[string]leaseRow, len(added))
			for id, n := range added {
				if n > 0 {
					next[id] = states[id].own.after(n, ms(c.LeaseUntil), ms(c.Now))
				}
			}
			if err := s.writeLeaseRows(ctx, tx, c.Owner, next); err != nil {
				return err
			}
		}
		if err := s.raiseWakes(ctx, tx, taken, claimed, ms(c.Now)); err != nil {
			return err
		}
		return s.attachPayloads(ctx, tx, out)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// claimRows runs one webhook's claim statement and appends what it took to
// out, oldest due first.
func claimRows(ctx context.Context, stmt txStmt, out []store.Claimed, c store.Claim, token, webhookID string, n int) ([]store.Claimed, error) {
	rows, err := stmt.QueryContext(ctx, c.Owner, token, ms(c.LeaseUntil), webhookID, ms(c.Now), ms(c.Now), n)
	if err != nil {
		return out, fmt.Errorf("claim notifications: %w", err)
	}
	// RETURNING yields rows in no particular order; put them back in the
	// order they were chosen: oldest due first.
	var dueAt []int64
	start := len(out)
	for rows.Next() {
		var n store.Claimed
		var next int64
		if err := rows.Scan(&n.ID, &n.TenantID, &n.EventID, &n.WebhookID, &n.EventName, &n.Attempt, &n.RetryBase, &next); err != nil {
			rows.Close()
			return out, fmt.Errorf("scan claim: %w", err)
		}
		n.Attempt++
		n.LeaseToken = token
		out = append(out, n)
		dueAt = append(dueAt, next)
	}
	if err := rows.Close(); err != nil {
		return out, fmt.Errorf("claim notifications: %w", err)
	}
	sort.Sort(byDue{out[start:], dueAt})
	return out, nil
}

// claimMany leases the due notifications of every unordered request with
// slots in one statement (Dialect.Arrays): a walk of notifications_due per
// webhook, each to its own limit, under FOR UPDATE SKIP LOCKED as one
// webhook's claim. The rows are looked up by primary key from the array
// the walks make, whatever the statistics say. It returns each request's
// notifications, oldest due first; a webhook asked for twice gets its
// notifications in its first request.
func (s *Store) claimMany(ctx context.Context, tx *tx, c store.Claim, token string, reqs []store.ClaimRequest, sl []slotsFor) ([][]store.Claimed, error) {
	out := make([][]store.Claimed, len(reqs))
	first := map[string]int{}
	var hooks []string
	var limits []int64
	for i, r := range reqs {
		if r.Ordered || sl[i].n <= 0 {
			continue
		}
		if _, ok := first[r.WebhookID]; !ok {
			first[r.WebhookID] = i
			hooks, limits = append(hooks, r.WebhookID), append(limits, int64(sl[i].n))
		}
	}
	if len(hooks) == 0 {
		return out, nil
	}
	rows, err := tx.QueryContext(ctx, s.claimManySQL(), c.Owner, token, ms(c.LeaseUntil), hooks, limits, ms(c.Now), ms(c.Now))
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	defer rows.Close()
	dueAt := make([][]int64, len(reqs))
	for rows.Next() {
		var n store.Claimed
		var next int64
		if err := rows.Scan(&n.ID, &n.TenantID, &n.EventID, &n.WebhookID, &n.EventName, &n.Attempt, &n.RetryBase, &next); err != nil {
			return nil, fmt.Errorf("scan claim: %w", err)
		}
		n.Attempt++
		n.LeaseToken = token
		i := first[n.WebhookID]
		out[i], dueAt[i] = append(out[i], n), append(dueAt[i], next)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	for i := range out {
		sort.Sort(byDue{out[i], dueAt[i]})
	}
	return out, nil
}

// claimManySQL is claimMany's statement. Its arguments: owner, token,
// lease end, webhook ids, their limits, now and now.
func (s *Store) claimManySQL() string {
	return `UPDATE notifications SET lease_owner = ?, lease_token = ?, lease_expires_at = ?
		WHERE id = ANY(ARRAY(SELECT p.id FROM unnest(?::text[], ?::bigint[]) AS r(webhook_id, n)
			CROSS JOIN LATERAL (SELECT id FROM notifications WHERE webhook_id = r.webhook_id AND status = 'PENDING'
				AND next_attempt_at <= ? AND lease_expires_at <= ? ORDER BY next_attempt_at LIMIT r.n` + s.d.SkipLocked + `) AS p))
		RETURNING id, tenant_id, event_id, webhook_id, event_name, attempts, retry_base, next_attempt_at`
}

// byDue sorts claimed notifications by due time, then id.
type byDue struct {
	c   []store.Claimed
	due []int64
}

func (b byDue) Len() int { return len(b.c) }
func (b byDue) Less(i, j int) bool {
	if b.due[i] != b.due[j] {
		return b.due[i] < b.due[j]
	}
	return b.c[i].ID < b.c[j].ID
}
func (b byDue) Swap(i, j int) {
	b.c[i], b.c[j] = b.c[j], b.c[i]
	b.due[i], b.due[j] = b.due[j], b.due[i]
}

// slotsFor is what one claim request may take, and what taking it costs.
type slotsFor struct {
	n         int
	webhookID string
	// found: the webhook's row was read (and, where rows lock, locked).
	found bool
	// probe: the circuit is open and this claim is its one probe.
	probe      bool
	probeUntil time.Time
	// rate: the token bucket to charge, when rate limited.
	rate   float64
	bucket policy.Bucket
	// wake, when set, is when the webhook may next have work to claim
	// (its probe time, or its next rate-limit token).
	wake time.Time
	// blocked: its max_in_flight is taken by leases of other dispatchers.
	blocked bool
}

// claimState is what a claim reads of a webhook: its row (locked, where
// rows lock) and its live leases.
type claimState struct {
	health store.Health
	bucket policy.Bucket
	leased int // live leases, where counted
	// others: the live leases held by other dispatchers than the claimer.
	others int
	// own: the claimer's lease row (Dialect.LeaseRows).
	own   leaseRow
	found bool
}

// claimStates reads, in two statements whatever the number of webhooks,
// the rows of the requested webhooks and the live leases of those whose
// max_in_flight counts leases. Where the dialect locks rows, the webhook
// rows are locked in id order for the rest of the transaction (waiting for
// a publish or another claim holding them), so that two replicas never
// count the same free slots or tokens and no write lowering a wake time is
// lost. reqs are sorted by webhook id.
func (s *Store) claimStates(ctx context.Context, tx *tx, reqs []store.ClaimRequest, owner string, now time.Time) (map[string]claimState, error) {
	ids := make([]any, 0, len(reqs))
	for _, r := range reqs {
		if r.Limit > 0 {
			ids = append(ids, r.WebhookID)
		}
	}
	out := make(map[string]claimState, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, consecutive_failures, circuit_open_until, rate_tokens, rate_updated_at
		FROM webhooks WHERE id IN (`+placeholders(len(ids))+`) ORDER BY id`+s.d.ForUpdate, ids...)
	if err != nil {
		return nil, fmt.Errorf("read webhooks for claim: %w", err)
	}
	for rows.Next() {
		var id string
		var st claimState
		var openUntil, refilled int64
		if err := rows.Scan(&id, &st.health.ConsecutiveFailures, &openUntil, &st.bucket.Tokens, &refilled); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan webhook for claim: %w", err)
		}
		st.found = true
		st.health.CircuitOpenUntil, st.bucket.Refilled = fromMS(openUntil), fromMS(refilled)
		out[id] = st
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read webhooks for claim: %w", err)
	}
	// Leases count where several processes share the queue, and for probes
	// and ordered webhooks everywhere (one in flight at most).
	var counted []any
	for _, r := range reqs {
		st, ok := out[r.WebhookID]
		if !ok || r.Limit <= 0 {
			continue
		}
		if !s.d.OneProcess || r.Ordered || policy.Circuit(st.health, now).Probe {
			counted = append(counted, r.WebhookID)
		}
	}
	if len(counted) == 0 {
		return out, nil
	}
	// Every live lease counts, the claimer's own included: a lease whose
	// result is still being recorded is an attempt that a crash would
	// repeat, so at most max_in_flight of them exist across replicas.
	if s.d.LeaseRows {
		tallies, err := s.readLeaseRows(ctx, tx, counted, owner, ms(now))
		if err != nil {
			return nil, err
		}
		for id, t := range tallies {
			if st, ok := out[id]; ok {
				st.leased, st.others, st.own = t.leased, t.others, t.own
				out[id] = st
			}
		}
		return out, nil
	}
	rows, err = tx.QueryContext(ctx, `SELECT webhook_id, count(*), sum(CASE WHEN lease_owner <> ? THEN 1 ELSE 0 END)
		FROM notifications WHERE webhook_id IN (`+placeholders(len(counted))+`)
		AND lease_owner IS NOT NULL AND lease_expires_at > ? GROUP BY webhook_id`, append(append([]any{owner}, counted...), ms(now))...)
	if err != nil {
		return nil, fmt.Errorf("count leases: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var n, others int
		if err := rows.Scan(&id, &n, &others); err != nil {
			return nil, fmt.Errorf("scan lease count: %w", err)
		}
		st := out[id]
		st.leased, st.others = n, others
		out[id] = st
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count leases: %w", err)
	}
	return out, nil
}

// slots is how many notifications of r's webhook may be claimed now, given
// its state. It starts from r.Limit and then:
//   - the circuit (policy.Circuit) allows nothing until its probe time,
//     then one probe with nothing in flight;
//   - MaxInFlight counts every live lease, whoever holds it, so the bound
//     holds across replicas (an ordered webhook has one slot; a claimer
//     alone may take more ahead, see leaseBound); a database
//     one process uses (oneProcess) counts only for probes and ordered
//     webhooks, the dispatcher's own count being exact otherwise;
//   - a rate limit spends tokens of a bucket (policy.Bucket) kept in the
//     webhook's row.
//
// An ordered webhook's claim statement only needs the limit to be positive.
func slots(r store.ClaimRequest, c store.Claim, st claimState, oneProcess bool) slotsFor {
	sl := slotsFor{webhookID: r.WebhookID, rate: r.RateLimit, bucket: st.bucket}
	if r.Limit <= 0 || !st.found {
		return sl
	}
	sl.found = true
	n := r.Limit
	maxInFlight := r.MaxInFlight
	if r.Ordered {
		maxInFlight = 1
	}
	gate := policy.Circuit(st.health, c.Now)
	switch {
	case !gate.Closed && !gate.Probe:
		sl.wake = gate.Wake
		return sl
	case gate.Probe:
		n, maxInFlight = 1, 1
		sl.probe, sl.probeUntil = true, c.LeaseUntil
	}
	if maxInFlight > 0 && (!oneProcess || sl.probe || r.Ordered) {
		n = min(n, leaseBound(maxInFlight, r.MaxAhead, st, sl.probe || r.Ordered)-st.leased)
		sl.blocked = n <= 0
	}
	if sl.rate > 0 {
		sl.bucket = sl.bucket.Refill(sl.rate, c.Now)
		if whole := sl.bucket.Whole(); whole < n {
			n = whole
			if n <= 0 {
				sl.wake = sl.bucket.NextToken(sl.rate)
			}
		}
	}
	sl.n = max(n, 0)
	return sl
}

// leaseBound is how many live leases of a webhook a claim may bring it to,
// where every live lease counts. At most maxInFlight sent attempts of a
// webhook may wait for their results across replicas (what a crash may
// repeat), and a dispatcher sends at most maxInFlight of its own at once.
// So a claimer that holds every live lease of the webhook may take up to
// ahead more (delivery's ready buffer): while it holds maxInFlight or more,
// another replica's claims and hand-offs get nothing, and once it holds
// fewer, they take at most what it leaves, and it cannot take more without
// a claim that counts theirs. One webhook's deliveries then no longer wait
// for a claim after each attempt, only once its buffer runs low. Probes
// and ordered webhooks (one at a time) never claim ahead.
func leaseBound(maxInFlight, ahead int, st claimState, single bool) int {
	if single || st.others > 0 {
		return maxInFlight
	}
	return maxInFlight + max(ahead, 0)
}

// spend records what a claim took: the probe time of an open circuit (no
// other probe until this one's lease ends) and the rate limit's tokens.
func (sl slotsFor) spend(ctx context.Context, tx *tx, claimed int) error {
	if sl.probe && claimed > 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE webhooks SET circuit_open_until = ? WHERE id = ?`, ms(sl.probeUntil), sl.webhookID); err != nil {
			return fmt.Errorf("record probe: %w", err)
		}
	}
	if sl.rate > 0 && !sl.bucket.Refilled.IsZero() {
		b := sl.bucket.Spend(claimed)
		if _, err := tx.ExecContext(ctx, `UPDATE webhooks SET rate_tokens = ?, rate_updated_at = ? WHERE id = ?`,
			b.Tokens, ms(b.Refilled), sl.webhookID); err != nil {
			return fmt.Errorf("spend rate tokens: %w", err)
		}
	}
	return nil
}

// attachPayloads sets each claimed notification's event payload, from the
// payload cache or else read in one statement (and cached).
func (s *Store) attachPayloads(ctx context.Context, tx *tx, claimed []store.Claimed) error {
	byEvent := make(map[string][]int, len(claimed))
	args := make([]any, 0, len(claimed))
	for i, n := range claimed {
		if p, ok := s.payloads.get(n.EventID); ok {
			claimed[i].Payload, claimed[i].Published, claimed[i].TraceParent = p.payload, p.published, p.traceParent
			continue
		}
		if _, ok := byEvent[n.EventID]; !ok {
			args = append(args, n.EventID)
		}
		byEvent[n.EventID] = append(byEvent[n.EventID], i)
	}
	if len(args) == 0 {
		return nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, payload, created_at, trace_parent FROM events WHERE id IN (`+placeholders(len(args))+`)`, args...)
	if err != nil {
		return fmt.Errorf("read claimed payloads: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var p cachedPayload
		var created int64
		if err := rows.Scan(&id, &p.payload, &created, &p.traceParent); err != nil {
			return fmt.Errorf("scan claimed payload: %w", err)
		}
		p.published = fromMS(created)
		for _, i := range byEvent[id] {
			claimed[i].Payload, claimed[i].Published, claimed[i].TraceParent = p.payload, p.published, p.traceParent
		}
		// The transaction may yet fail, but the event is committed: claims
		// only read events whose notifications exist.
		s.payloads.put(id, p, true)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read claimed payloads: %w", err)
	}
	return nil
}
