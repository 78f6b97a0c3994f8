package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/heraldhq/herald/internal/store"
)

// subscription is a webhook's decoded event list as of a modification.
type subscription struct {
	modified int64
	events   []string
}

// decodeEvents decodes a webhook's stored event list, once per
// modification of the webhook: publishes read it for every subscriber.
func (s *Store) decodeEvents(id string, modified int64, raw []byte, out *[]string) error {
	if v, ok := s.subs.Load(id); ok && v.(subscription).modified == modified {
		*out = v.(subscription).events
		return nil
	}
	var events []string
	if err := json.Unmarshal(raw, &events); err != nil {
		return fmt.Errorf("decode subscriber %s: %w", id, err)
	}
	s.subs.Store(id, subscription{modified: modified, events: events})
	*out = events
	return nil
}

// rowsPerInsert bounds the rows of one multi-row INSERT where the dialect
// has no arrays (SQLite allows 32,766 parameters a statement).
const rowsPerInsert = 400

// insertEvents writes a group's events rowsPerInsert a statement, where
// the dialect has no arrays (with arrays, writeGroupRows writes them).
func (s *Store) insertEvents(ctx context.Context, tx *tx, events []store.Event) error {
	from := int64(-1) // where the subject ids are indexed now (subjectlog.go)
	if s.d.SubjectLog && len(events) >= subjectSyncEvents {
		var err error
		if from, err = subjectMarkAtEnd(ctx, tx); err != nil {
			return err
		}
	}
	for start := 0; start < len(events); start += rowsPerInsert {
		chunk := events[start:min(start+rowsPerInsert, len(events))]
		args := make([]any, 0, 11*len(chunk))
		for _, e := range chunk {
			args = append(args, e.ID, e.TenantID, e.Name, []byte(e.Payload), ms(e.Created), e.TraceParent)
			args = appendSubjects(args, e)
		}
		if err := s.execRows(ctx, tx, `INSERT`+s.d.OrRollback+` INTO events (id, tenant_id, name, payload, created_at, trace_parent, `+subjectColumns+`) VALUES `,
			"(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", len(chunk), args); err != nil {
			return fmt.Errorf("insert events: %w", err)
		}
	}
	if from >= 0 {
		return indexSubjectsAfter(ctx, tx, from)
	}
	// The pass it wakes waits for the writer, so it runs after this
	// transaction has committed or rolled back.
	s.subjectsPublished()
	return nil
}

// eventArrays is the statement that writes events from arrays, and its
// arguments.
func eventArrays(events []store.Event) (string, []any) {
	n := len(events)
	ids, tenants, names, traces := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	payloads, created := make([][]byte, n), make([]int64, n)
	subj := newSubjectArrays(n)
	for i, e := range events {
		ids[i], tenants[i], names[i], traces[i], payloads[i], created[i] = e.ID, e.TenantID, e.Name, e.TraceParent, e.Payload, ms(e.Created)
		subj.set(i, e)
	}
	return `INSERT INTO events (id, tenant_id, name, payload, created_at, trace_parent, ` + subjectColumns + `)
		SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::bytea[], ?::bigint[], ?::text[], ` + subjectArrayTypes + `)`,
		append([]any{ids, tenants, names, payloads, created, traces}, subj.args()...)
}

// insertNotifications writes notifications, leased to the hand-off or
// not: one statement with arrays, else rowsPerInsert a statement.
func (s *Store) insertNotifications(ctx context.Context, tx *tx, notes []noteRow) error {
	if s.d.Arrays && len(notes) > 0 {
		sql, args := noteArrays(notes)
		if _, err := tx.ExecContext(ctx, sql, args...); err != nil {
			return fmt.Errorf("insert notifications: %w", err)
		}
		return nil
	}
	for start := 0; start < len(notes); start += rowsPerInsert {
		chunk := notes[start:min(start+rowsPerInsert, len(notes))]
		args := make([]any, 0, 11*len(chunk))
		for _, r := range chunk {
			var owner, token any
			if r.leaseOwner != "" {
				owner, token = r.leaseOwner, r.leaseToken
			}
			args = append(args, r.id, r.tenantID, r.eventID, r.webhookID, r.name, r.created, r.created, r.created, owner, token, r.leaseUntil)
		}
		if err := s.execRows(ctx, tx, `INSERT`+s.d.OrRollback+` INTO notifications (id, tenant_id, event_id, webhook_id, event_name, status,
			next_attempt_at, created_at, modified_at, lease_owner, lease_token, lease_expires_at) VALUES `,
			"(?, ?, ?, ?, ?, 'PENDING', ?, ?, ?, ?, ?, ?)", len(chunk), args); err != nil {
			return fmt.Errorf("insert notifications: %w", err)
		}
	}
	return nil
}

// noteArrays is the statement that writes notifications from arrays, and
// its arguments.
func noteArrays(notes []noteRow) (string, []any) {
	n := len(notes)
	ids, tenants, events, hooks, names := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	owners, tokens := make([]*string, n), make([]*string, n)
	created, until := make([]int64, n), make([]int64, n)
	for i, r := range notes {
		ids[i], tenants[i], events[i], hooks[i], names[i] = r.id, r.tenantID, r.eventID, r.webhookID, r.name
		created[i], until[i] = r.created, r.leaseUntil
		if r.leaseOwner != "" {
			owners[i], tokens[i] = &notes[i].leaseOwner, &notes[i].leaseToken
		}
	}
	return `INSERT INTO notifications (id, tenant_id, event_id, webhook_id, event_name, status,
			next_attempt_at, created_at, modified_at, lease_owner, lease_token, lease_expires_at)
		SELECT id, tenant, event, hook, name, 'PENDING', created, created, created, owner, token, until
		FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::text[], ?::text[], ?::bigint[])
			AS v(id, tenant, event, hook, name, created, owner, token, until)`,
		[]any{ids, tenants, events, hooks, names, created, owners, tokens, until}
}

// writeGroupRows writes what a group adds (events, notifications, lowered
// wake times, hand-offs counted in lease rows) and wakes other replicas
// when it queued work: where the dialect has arrays, in one statement of
// data-modifying CTEs, so a publish transaction is three round trips and
// its commit, not seven; else a few statements each.
func (s *Store) writeGroupRows(ctx context.Context, tx *tx, rows *publishRows, now int64) error {
	if !s.d.Arrays {
		if err := s.insertEvents(ctx, tx, rows.events); err != nil {
			return err
		}
		if err := s.insertNotifications(ctx, tx, rows.notes); err != nil {
			return err
		}
		if err := s.lowerWake(ctx, tx, rows.wakes); err != nil {
			return err
		}
		if s.d.LeaseRows {
			owner, taken := handedOver(rows, now)
			if err := s.writeLeaseRows(ctx, tx, owner, taken); err != nil {
				return err
			}
		}
		if rows.queued {
			return s.notify(ctx, tx)
		}
		return nil
	}
	var q strings.Builder
	var args []any
	parts := 0
	add := func(sql string, a []any) {
		sep := ", "
		if parts == 0 {
			sep = "WITH "
		}
		parts++
		fmt.Fprintf(&q, "%sw%d AS (%s)", sep, parts, sql)
		args = append(args, a...)
	}
	if len(rows.events) > 0 {
		add(eventArrays(rows.events))
	}
	if len(rows.notes) > 0 {
		add(noteArrays(rows.notes))
	}
	if len(rows.wakes) > 0 {
		add(wakeArrays(rows.wakes, true))
	}
	if s.d.LeaseRows {
		if owner, taken := handedOver(rows, now); len(taken) > 0 {
			add(leaseRowsTaken(owner, taken))
		}
	}
	if q.Len() == 0 && !rows.queued {
		return nil
	}
	final := "SELECT 1"
	if rows.queued && s.d.Notify != "" {
		final = s.d.Notify
	}
	q.WriteString(" " + final)
	if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
		return fmt.Errorf("write published rows: %w", err)
	}
	return nil
}

// execRows runs a multi-row INSERT of n rows of the tuple shape, prepared
// once per row count.
func (s *Store) execRows(ctx context.Context, tx *tx, head, tuple string, n int, args []any) error {
	stmt, err := tx.prepare(ctx, head+tuples(tuple, n))
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	_, err = stmt.ExecContext(ctx, args...)
	return err
}

// tuples is n copies of tuple, comma-separated: the rows of a multi-row
// statement.
func tuples(tuple string, n int) string {
	var q strings.Builder
	for i := range n {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteString(tuple)
	}
	return q.String()
}
