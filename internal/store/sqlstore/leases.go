package sqlstore

// Where leases live. SQLite keeps a notification's lease in the
// notification's row: an update there rewrites the row in place and
// touches only the index on the lease. A PostgreSQL update writes a new
// version of the row, and unless no indexed column changes (a HOT update)
// an entry for it in each of the table's seven indexes; a lease kept in
// the row, indexed so that max_in_flight can count live leases, made every
// claim such an update (903 buffers touched to claim 32 notifications
// against 148 as a HOT update). With Dialect.LeaseTable the leases are rows
// of their own (table leases: notification_id, webhook_id, lease_owner,
// lease_token, lease_expires_at): a claim inserts one narrow row per
// notification and leaves the notification alone, and a result deletes
// the row in the statement that records the notification's next state.
//
// Both keep the same column names, so that what only reads leases (counts,
// the first to run out) differs by the table's name alone.

// leaseTable is the table holding leases, with columns webhook_id,
// lease_owner (NOT NULL where a lease is held), lease_token and
// lease_expires_at.
func (d *Dialect) leaseTable() string {
	if d.LeaseTable {
		return "leases"
	}
	return "notifications"
}

// unleased is the condition that a row of notifications (unaliased) holds
// no lease, live or run out.
func (d *Dialect) unleased() string {
	if d.LeaseTable {
		// Row by row, as in claims (claimStatements).
		return "(SELECT 1 FROM leases l WHERE l.notification_id = notifications.id) IS NULL"
	}
	return "lease_owner IS NULL"
}

// claimColumns are what a claim returns of each notification it took.
const claimColumns = `id, tenant_id, event_id, webhook_id, event_name, attempts, retry_base, next_attempt_at`

// claimStatements are the claim statements of the dialect: due takes the
// oldest due notifications of a webhook with no live lease, head an ordered
// webhook's oldest pending one when it is due and has no live lease. Both
// take the parameters owner, token, lease end, webhook, now, now, limit and
// return claimColumns.
func (d *Dialect) claimStatements() (due, head string) {
	if !d.LeaseTable {
		due = `UPDATE notifications SET lease_owner = ?, lease_token = ?, lease_expires_at = ?
			WHERE id IN (SELECT id FROM notifications WHERE webhook_id = ? AND status = 'PENDING'
				AND next_attempt_at <= ? AND lease_expires_at <= ? ORDER BY next_attempt_at LIMIT ?` + d.SkipLocked + `)
			RETURNING ` + claimColumns
		head = `UPDATE notifications SET lease_owner = ?, lease_token = ?, lease_expires_at = ?
			WHERE id = (SELECT id FROM notifications WHERE webhook_id = ? AND status = 'PENDING' ORDER BY id LIMIT 1)
				AND next_attempt_at <= ? AND lease_expires_at <= ? AND 0 < ?
			RETURNING ` + claimColumns
		return due, head
	}
	// A lease that ran out is taken over in place (ON CONFLICT). The
	// notifications picked stay locked to the commit, as an update would
	// hold them, so a result being recorded for one is waited for (or, in
	// the due claim, the row skipped). The lease is looked up row by row
	// (a scalar subquery, never an anti-join the planner might run by
	// reading every lease), for the rows the index walk reaches.
	free := `COALESCE((SELECT l.lease_expires_at FROM leases l WHERE l.notification_id = notifications.id), 0) <= $6`
	lease := `, taken AS (INSERT INTO leases (notification_id, webhook_id, lease_owner, lease_token, lease_expires_at)
			SELECT id, $4::text, $1::text, $2::text, $3::bigint FROM picked
			ON CONFLICT (notification_id) DO UPDATE SET lease_owner = excluded.lease_owner,
				lease_token = excluded.lease_token, lease_expires_at = excluded.lease_expires_at)
		SELECT ` + claimColumns + ` FROM picked`
	due = `WITH picked AS (SELECT ` + claimColumns + ` FROM notifications WHERE webhook_id = $4 AND status = 'PENDING'
			AND next_attempt_at <= $5 AND ` + free + ` ORDER BY next_attempt_at LIMIT $7` + d.SkipLocked + `)` + lease
	head = `WITH picked AS (SELECT ` + claimColumns + ` FROM notifications
			WHERE id = (SELECT id FROM notifications WHERE webhook_id = $4 AND status = 'PENDING' ORDER BY id LIMIT 1)
				AND next_attempt_at <= $5 AND ` + free + ` AND 0 < $7` + d.ForUpdate + `)` + lease
	return due, head
}
