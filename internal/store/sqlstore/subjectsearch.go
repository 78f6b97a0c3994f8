package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/store"
)

// Searches by card, user, account or transaction id walk the events that
// carry the id, newest first, through that id's partial index (tenant_id,
// <id>, id) on PostgreSQL, or SQLite's subject log (subjectlog.go:
// event_subjects, and the events past its mark), and read each event's
// notifications through
// notifications_event. Both walks have one index that gives them their
// rows and their order, whatever the planner's statistics say: the events
// are a LIMITed subquery, and the notifications are joined on event_id
// alone (their other filters are applied here, not in SQL, so no other
// index of notifications can look cheaper to a planner without statistics).
//
// Such a search is ordered by event, newest first, and by notification
// within an event: the notifications of one event are listed together.

// subjectSQL is the condition (on the events table, unqualified) matching
// every id set in s.
func subjectSQL(s store.Subjects) (string, []any) {
	var where []string
	var args []any
	for i, v := range values(s) {
		if v != "" {
			where = append(where, subjectKinds[i].column+" = ?")
			args = append(args, v)
		}
	}
	return strings.Join(where, " AND "), args
}

// eventSQL is the condition on the events table matching an event filter.
func eventSQL(f store.EventFilter) (string, []any) {
	where := []string{"tenant_id = ?"}
	args := []any{f.TenantID}
	if !f.Subjects.IsZero() {
		cond, sargs := subjectSQL(f.Subjects)
		where, args = append(where, cond), append(args, sargs...)
	}
	if f.Name != "" {
		where, args = append(where, "name = ?"), append(args, f.Name)
	}
	if !f.From.IsZero() {
		where, args = append(where, "created_at >= ?"), append(args, ms(f.From))
	}
	if !f.To.IsZero() {
		where, args = append(where, "created_at <= ?"), append(args, ms(f.To))
	}
	return strings.Join(where, " AND "), args
}

// Event batches of a subject walk: the first holds a page's worth, each
// next one twice as many up to the last size, so a filter that skips most
// notifications costs a few statements, not one per page.
const maxSubjectBatch = 1000

// subjectWalk reads a page of the notifications of the events carrying
// f.Subjects (see above), with the size of each one's payload.
func (s *Store) subjectWalk(ctx context.Context, read *tx, f store.NotificationFilter, p store.Page, limit int) ([]store.Notification, []int64, store.Paging, error) {
	// A notification's created_at is its event's: the time window and the
	// event filters select events.
	ev := store.EventFilter{TenantID: f.TenantID, Name: f.EventName, From: f.From, To: f.To, Subjects: f.Subjects}
	evWhere, evArgs := eventSQL(ev)
	if f.EventID != "" {
		evWhere, evArgs = evWhere+" AND id = ?", append(evArgs, f.EventID)
	}
	keep := notificationMatcher(f)
	newer := p.Before != ""
	cursor := p.After
	cmp, order := "<", "DESC"
	if newer {
		cursor, cmp, order = p.Before, ">", "ASC"
	}
	// The cursor's event bounds the walk; its own notifications continue
	// after the cursor. A cursor whose notification is gone (purged) bounds
	// the walk by its id alone: ids are ordered by time.
	bound, tie := "", ""
	if cursor != "" {
		var eventID string
		err := read.QueryRowContext(ctx, `SELECT event_id FROM notifications WHERE id = ? AND tenant_id = ?`, cursor, f.TenantID).Scan(&eventID)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			bound = cursor
		case err != nil:
			return nil, nil, store.Paging{}, fmt.Errorf("search notifications: cursor: %w", err)
		default:
			bound, tie = eventID, eventID
		}
	}
	var (
		out   []store.Notification
		sizes []int64
	)
	for batch := limit + 1; ; batch = min(2*batch, maxSubjectBatch) {
		where, args := evWhere, slices.Clone(evArgs)
		op := ""
		if bound != "" {
			op = cmp
			if tie != "" {
				op += "=" // the cursor's event, for its notifications after the cursor
			}
			where, args = where+" AND id "+op+" ?", append(args, bound)
		}
		where, args = s.subjectCond(f.Subjects, f.TenantID, where, args, op, bound, order, batch)
		args = append(args, batch)
		rows, err := read.QueryContext(ctx, subjectBatchSQL(where, order), args...)
		if err != nil {
			return nil, nil, store.Paging{}, fmt.Errorf("search notifications: %w", err)
		}
		events, last := 0, ""
		for rows.Next() {
			var n store.Notification
			var eventID string
			var size, next, created, modified int64
			var test int
			if err := rows.Scan(&eventID, &size, &test, &n.ID, &n.TenantID, &n.EventID, &n.WebhookID, &n.EventName, &n.Status,
				&n.Attempts, &n.RetryBase, &next, &created, &modified); err != nil {
				rows.Close()
				return nil, nil, store.Paging{}, fmt.Errorf("scan notification: %w", err)
			}
			if eventID != last {
				events, last = events+1, eventID
			}
			if n.ID == "" || !keep(n) || (eventID == tie && !beyond(n.ID, cursor, newer)) {
				continue
			}
			n.NextAttemptAt, n.Created, n.Modified, n.Test = fromMS(next), fromMS(created), fromMS(modified), test != 0
			out, sizes = append(out, n), append(sizes, size)
		}
		if err := rows.Close(); err != nil {
			return nil, nil, store.Paging{}, fmt.Errorf("search notifications: %w", err)
		}
		if len(out) > limit || events < batch {
			break
		}
		bound, tie = last, ""
	}
	out, sizes, paging := pageOf(out, sizes, p, limit, notificationID)
	return out, sizes, paging, nil
}

// subjectCond is where (a condition on events that includes subj's, args
// its arguments) for a walk of at most limit events in id order past bound
// (op its comparison, "" for none), in the form that keeps the walk on an
// index of subject ids: where itself with the partial indexes of events,
// the subject log's walk with it (subjectIDs).
func (s *Store) subjectCond(subj store.Subjects, tenant, where string, args []any, op, bound, order string, limit int) (string, []any) {
	if !s.d.SubjectLog {
		return where, args
	}
	ids, idArgs := subjectIDs(subj, tenant, where, args, op, bound, order, limit)
	return "id IN (" + ids + ")", idArgs
}

// subjectBatchSQL is the query of one batch of a subject walk: the next
// events matching where (LIMIT ?) in the given order, each with its
// notifications (or one row of zeros without any).
func subjectBatchSQL(where, order string) string {
	return `SELECT e.id, e.size, e.test, ` + nullableNotificationColumns + `
		FROM (SELECT id, length(payload) AS size, test FROM events WHERE ` + where + ` ORDER BY id ` + order + ` LIMIT ?) e
		LEFT JOIN notifications n ON n.event_id = e.id
		ORDER BY e.id ` + order + `, n.id ` + order
}

// eventsSQL is the query of a page of events matching where (LIMIT ?),
// ordered by key (one or more columns) in order.
func eventsSQL(where, key, order string) string {
	return `SELECT ` + eventColumns + ` FROM events WHERE ` + where + ` ORDER BY ` + key + ` ` + order + ` LIMIT ?`
}

// beyond reports whether id comes after the cursor in the walk's direction.
func beyond(id, cursor string, newer bool) bool {
	if newer {
		return id > cursor
	}
	return id < cursor
}

// nullableNotificationColumns are notificationColumns of a LEFT JOIN's n,
// with "" and 0 for a row without a notification.
const nullableNotificationColumns = `COALESCE(n.id, ''), COALESCE(n.tenant_id, ''), COALESCE(n.event_id, ''),
	COALESCE(n.webhook_id, ''), COALESCE(n.event_name, ''), COALESCE(n.status, ''), COALESCE(n.attempts, 0),
	COALESCE(n.retry_base, 0), COALESCE(n.next_attempt_at, 0), COALESCE(n.created_at, 0), COALESCE(n.modified_at, 0)`

// notificationMatcher is the part of a filter a subject walk applies to
// each notification of the events it reads.
func notificationMatcher(f store.NotificationFilter) func(store.Notification) bool {
	return func(n store.Notification) bool {
		switch {
		case len(f.NotificationIDs) > 0 && !slices.Contains(f.NotificationIDs, n.ID):
			return false
		case f.WebhookID != "" && n.WebhookID != f.WebhookID:
			return false
		case f.Status != "" && n.Status != f.Status:
			return false
		case f.Status == "" && f.Final && n.Status == store.StatusPending:
			return false
		}
		return true
	}
}

// Events lists a tenant's events, newest first: with an id filter in id
// order through that id's index, else in (created_at, id) order through
// events_tenant_created. Payloads are not read.
func (s *Store) Events(ctx context.Context, f store.EventFilter, p store.Page) ([]store.Event, store.Paging, error) {
	limit := pageLimit(p)
	where, args := eventSQL(f)
	read, end, err := s.listTx(ctx)
	if err != nil {
		return nil, store.Paging{}, fmt.Errorf("list events: %w", err)
	}
	defer end()
	cursor, cmp, order := p.After, "<", "DESC"
	if p.Before != "" {
		cursor, cmp, order = p.Before, ">", "ASC"
	}
	key := "id"
	if f.Subjects.IsZero() {
		key = "created_at " + order + ", id"
		if cursor != "" {
			at, err := s.eventTime(ctx, read, f.TenantID, cursor)
			if err != nil {
				return nil, store.Paging{}, err
			}
			where, args = where+" AND (created_at, id) "+cmp+" (?, ?)", append(args, at, cursor)
		}
	} else {
		op := ""
		if cursor != "" {
			op = cmp
			where, args = where+" AND id "+cmp+" ?", append(args, cursor)
		}
		where, args = s.subjectCond(f.Subjects, f.TenantID, where, args, op, cursor, order, limit+1)
	}
	rows, err := read.QueryContext(ctx, eventsSQL(where, key, order), append(args, limit+1)...)
	if err != nil {
		return nil, store.Paging{}, fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, store.Paging{}, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, store.Paging{}, fmt.Errorf("list events: %w", err)
	}
	out, _, paging := pageOf(out, nil, p, limit, func(e store.Event) string { return e.ID })
	return out, paging, nil
}

// eventTime is the publish time (ms) of a paging cursor's event: stored,
// or, for an event gone (purged), the time in its id (ids are UUIDv7).
func (s *Store) eventTime(ctx context.Context, q queryer, tenantID, id string) (int64, error) {
	var at int64
	err := q.QueryRowContext(ctx, `SELECT created_at FROM events WHERE id = ? AND tenant_id = ?`, id, tenantID).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		u, perr := uuid.Parse(id)
		if perr != nil {
			return 0, fmt.Errorf("cursor %q: %w", id, store.ErrNotFound)
		}
		sec, nsec := u.Time().UnixTime()
		return sec*1000 + nsec/1e6, nil
	}
	if err != nil {
		return 0, fmt.Errorf("list events: cursor: %w", err)
	}
	return at, nil
}

// eventColumns are an event's columns but its payload.
const eventColumns = `id, tenant_id, name, created_at, COALESCE(card_id, ''), COALESCE(user_id, ''), COALESCE(account_id, ''),
	COALESCE(transaction_id, ''), test`

type scanner interface{ Scan(dest ...any) error }

func scanEvent(row scanner) (store.Event, error) {
	var e store.Event
	var created int64
	var test int
	s := &e.Subjects
	if err := row.Scan(&e.ID, &e.TenantID, &e.Name, &created, &s.CardID, &s.UserID, &s.AccountID, &s.TransactionID, &test); err != nil {
		return e, fmt.Errorf("scan event: %w", err)
	}
	e.Created, e.Test = fromMS(created), test != 0
	return e, nil
}

// readEventRow reads one of a tenant's events with its payload.
func readEventRow(ctx context.Context, q queryer, tenantID, id string) (store.Event, error) {
	var payload []byte
	row := q.QueryRowContext(ctx, `SELECT `+eventColumns+`, payload FROM events WHERE id = ? AND tenant_id = ?`, id, tenantID)
	e, err := scanEvent(payloadScanner{row, &payload})
	if errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("event %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return e, fmt.Errorf("get event: %w", err)
	}
	e.Payload = payload
	return e, nil
}

// payloadScanner scans eventColumns and then the payload.
type payloadScanner struct {
	row     scanner
	payload *[]byte
}

func (p payloadScanner) Scan(dest ...any) error { return p.row.Scan(append(dest, p.payload)...) }
