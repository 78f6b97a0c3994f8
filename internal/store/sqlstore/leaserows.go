package sqlstore

import (
	"context"
	"fmt"
	"maps"
	"slices"
)

// Lease rows (Dialect.LeaseRows, PostgreSQL) count each webhook's live
// leases per dispatcher, so that max_in_flight holds across replicas
// without an index over the notifications' lease columns: with one, every
// claim wrote a new version of each leased notification into all seven of
// its indexes; without, a claim is a heap-only update on the row's page.
//
// A dispatcher's leases of a webhook are taken - ended: webhook_leases
// counts what its claims and hand-offs at publish leased (taken) and when
// its last lease ends (until_at); webhook_lease_ends counts the results
// recorded under its leases (ended). The two are rows of their own so that
// result batches, which write ended, never wait for a publish or a claim
// holding the other. Taken is written only under the webhook's row lock
// (claims and publishes hold it), so no count is lost between replicas.
//
// A lease that ends without a recorded result (it ran out, or was
// released) stays counted until the row's end: the count errs high, so the
// bound holds, and a crashed dispatcher's count stops when its last lease
// ends. A row whose end has passed counts nothing, and the dispatcher's
// next lease starts it again from its results so far.
//
// Rows are locked in webhook id order, after any webhook row a transaction
// locks, as every writer of webhook rows takes them, so that claims,
// publishes and result batches never deadlock.

// leaseRow is one dispatcher's count of one webhook's leases.
type leaseRow struct {
	taken, ended, until int64
}

// live is how many leases the row counts at now (ms).
func (r leaseRow) live(now int64) int {
	if r.until <= now || r.taken <= r.ended {
		return 0
	}
	return int(r.taken - r.ended)
}

// after is the row once added more leases are taken, the last until until.
func (r leaseRow) after(added int, until, now int64) leaseRow {
	if r.until <= now {
		r.taken = r.ended // a new count: what ended before does not count
	}
	r.taken += int64(added)
	r.until = max(r.until, until)
	return r
}

// leaseTally is what the lease rows of one webhook say.
type leaseTally struct {
	leased, others int
	// own is the claimer's (or publisher's) row.
	own leaseRow
}

// readLeaseRows reads the lease rows of the webhooks ids and tallies them
// at now for owner.
func (s *Store) readLeaseRows(ctx context.Context, tx *tx, ids []any, owner string, now int64) (map[string]leaseTally, error) {
	in := placeholders(len(ids))
	rows, err := tx.QueryContext(ctx, `SELECT webhook_id, owner, taken, 0, until_at FROM webhook_leases WHERE webhook_id IN (`+in+`)
		UNION ALL SELECT webhook_id, owner, 0, ended, 0 FROM webhook_lease_ends WHERE webhook_id IN (`+in+`)`,
		append(slices.Clip(ids), ids...)...)
	if err != nil {
		return nil, fmt.Errorf("read lease counts: %w", err)
	}
	defer rows.Close()
	type key struct{ webhook, owner string }
	byOwner := map[key]leaseRow{}
	for rows.Next() {
		var k key
		var r leaseRow
		if err := rows.Scan(&k.webhook, &k.owner, &r.taken, &r.ended, &r.until); err != nil {
			return nil, fmt.Errorf("scan lease count: %w", err)
		}
		got := byOwner[k]
		got.taken, got.ended, got.until = got.taken+r.taken, got.ended+r.ended, got.until+r.until
		byOwner[k] = got
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read lease counts: %w", err)
	}
	out := make(map[string]leaseTally, len(ids))
	for k, r := range byOwner {
		t := out[k.webhook]
		t.leased += r.live(now)
		if k.owner == owner {
			t.own = r
		} else {
			t.others += r.live(now)
		}
		out[k.webhook] = t
	}
	return out, nil
}

// writeLeaseRows writes owner's rows of the webhooks it leased more of.
func (s *Store) writeLeaseRows(ctx context.Context, tx *tx, owner string, rows map[string]leaseRow) error {
	if len(rows) == 0 {
		return nil
	}
	sql, args := leaseRowsTaken(owner, rows)
	if _, err := tx.ExecContext(ctx, sql, args...); err != nil {
		return fmt.Errorf("count leases taken: %w", err)
	}
	return nil
}

// leaseRowsTaken is the statement that writes owner's lease rows, in
// webhook order (as every writer takes rows), and its arguments.
func leaseRowsTaken(owner string, rows map[string]leaseRow) (string, []any) {
	ids := slices.Sorted(maps.Keys(rows))
	taken, until := make([]int64, len(ids)), make([]int64, len(ids))
	for i, id := range ids {
		taken[i], until[i] = rows[id].taken, rows[id].until
	}
	return `INSERT INTO webhook_leases (webhook_id, owner, taken, until_at)
		SELECT id, ?, taken, until FROM unnest(?::text[], ?::bigint[], ?::bigint[]) WITH ORDINALITY AS v(id, taken, until, i) ORDER BY i
		ON CONFLICT (webhook_id, owner) DO UPDATE SET taken = excluded.taken, until_at = excluded.until_at`,
		[]any{owner, ids, taken, until}
}

// leaseRowsEnded is the statement of a result batch's CTE u (its recorded
// notifications with their webhook_id and lease token) that counts them
// as ended for their dispatchers.
const leaseRowsEnded = `INSERT INTO webhook_lease_ends (webhook_id, owner, ended)
	SELECT webhook_id, left(token, length(token) - 37), count(*) FROM u GROUP BY 1, 2 ORDER BY 1, 2
	ON CONFLICT (webhook_id, owner) DO UPDATE SET ended = webhook_lease_ends.ended + excluded.ended`

// wakeSQL selects a webhook's two candidates for its next wake time (see
// nextWake): its first pending notification not under a live lease, by
// due time, and the first end of a live lease. webhook is an expression or
// a placeholder; wakeArgs gives the arguments. With lease rows, the second
// is the end of the first dispatcher's last lease (a webhook whose leases
// run out is looked at then, a little after its first lease's end), and
// the first takes in notifications whose lease has run out.
func (s *Store) wakeSQL(webhook string) string {
	if s.d.LeaseRows {
		return `(SELECT next_attempt_at FROM notifications WHERE webhook_id = ` + webhook + ` AND status = 'PENDING' AND lease_expires_at <= ?
				ORDER BY next_attempt_at LIMIT 1),
			(SELECT min(l.until_at) FROM webhook_leases l WHERE l.webhook_id = ` + webhook + ` AND l.until_at > ?
				AND l.taken > coalesce((SELECT e.ended FROM webhook_lease_ends e WHERE e.webhook_id = l.webhook_id AND e.owner = l.owner), 0))`
	}
	return `(SELECT next_attempt_at FROM notifications WHERE webhook_id = ` + webhook + ` AND status = 'PENDING' AND lease_owner IS NULL
				ORDER BY next_attempt_at LIMIT 1),
			(SELECT lease_expires_at FROM notifications WHERE webhook_id = ` + webhook + ` AND lease_owner IS NOT NULL
				ORDER BY lease_expires_at LIMIT 1)`
}

// wakeArgs are the arguments of wakeSQL at now (ms), webhook being the
// webhook's id where wakeSQL has a placeholder for it (none for an
// expression).
func (s *Store) wakeArgs(now int64, webhook ...any) []any {
	one := webhook
	if s.d.LeaseRows {
		one = append(slices.Clip(webhook), now)
	}
	return append(slices.Clip(one), one...)
}
