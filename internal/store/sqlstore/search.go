package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// filterSQL turns a notification filter into a WHERE clause and its args.
func (s *Store) filterSQL(f store.NotificationFilter) (string, []any) {
	where := []string{"n.tenant_id = ?"}
	args := []any{f.TenantID}
	if len(f.NotificationIDs) > 0 {
		where = append(where, "n.id IN ("+placeholders(len(f.NotificationIDs))+")")
		for _, id := range f.NotificationIDs {
			args = append(args, id)
		}
	}
	for _, c := range []struct {
		col, val string
	}{{"n.event_id", f.EventID}, {"n.webhook_id", f.WebhookID}, {"n.event_name", f.EventName}, {"n.status", f.Status}} {
		if c.val != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.val)
		}
	}
	if !f.From.IsZero() {
		where = append(where, "n.created_at >= ?")
		args = append(args, ms(f.From))
	}
	if !f.To.IsZero() {
		where = append(where, "n.created_at <= ?")
		args = append(args, ms(f.To))
	}
	if f.Status == "" && f.Final {
		where = append(where, "n.status <> 'PENDING'")
	}
	if !f.Subjects.IsZero() {
		cond, sargs := subjectSQL(f.Subjects)
		cond, sargs = "tenant_id = ? AND "+cond, append([]any{f.TenantID}, sargs...)
		if s.d.SubjectLog {
			ids, idArgs := subjectIDs(f.Subjects, f.TenantID, cond, sargs, "", "", "", 0)
			where, args = append(where, "n.event_id IN ("+ids+")"), append(args, idArgs...)
		} else {
			where, args = append(where, "n.event_id IN (SELECT id FROM events WHERE "+cond+")"), append(args, sargs...)
		}
	}
	return strings.Join(where, " AND "), args
}

// SearchNotifications lists matching notifications, newest first, each with
// its attempts and, when the page asks for them, its payload. Page.After
// continues below that id.
//
// Payloads are read only for the notifications the page keeps: their sizes
// come first (length() reads no payload bytes), the page ends where the next
// payload would pass Page.MaxPayloadBytes, and each distinct event's payload
// is then read once and shared by its notifications. A page in memory is so
// bounded by its limit and the payload budget, whatever the events weigh.
func (s *Store) SearchNotifications(ctx context.Context, f store.NotificationFilter, p store.Page) ([]store.Notification, store.Paging, error) {
	limit := pageLimit(p)
	read, end, err := s.listTx(ctx)
	if err != nil {
		return nil, store.Paging{}, fmt.Errorf("search notifications: %w", err)
	}
	defer end()
	var (
		out    []store.Notification
		sizes  []int64
		paging store.Paging
	)
	if f.Subjects.IsZero() {
		out, sizes, paging, err = s.tenantWalk(ctx, read, f, p, limit)
	} else {
		out, sizes, paging, err = s.subjectWalk(ctx, read, f, p, limit)
	}
	if err != nil {
		return nil, store.Paging{}, err
	}
	if p.Payloads {
		out, paging = withinBudget(out, sizes, p.MaxPayloadBytes, paging)
		if err := attachEventPayloads(ctx, read, out); err != nil {
			return nil, store.Paging{}, err
		}
	}
	if err := attachAttempts(ctx, read, out); err != nil {
		return nil, store.Paging{}, err
	}
	return out, paging, nil
}

// tenantWalk reads a page of the tenant's notifications in id order, newest
// first (from the newest, below Page.After or just above Page.Before), with
// the size of each one's payload.
func (s *Store) tenantWalk(ctx context.Context, read *tx, f store.NotificationFilter, p store.Page, limit int) ([]store.Notification, []int64, store.Paging, error) {
	where, args := s.filterSQL(f)
	order := "DESC"
	switch {
	case p.Before != "":
		where += " AND n.id > ?"
		args, order = append(args, p.Before), "ASC"
	case p.After != "":
		where += " AND n.id < ?"
		args = append(args, p.After)
	}
	args = append(args, limit+1)
	rows, err := read.QueryContext(ctx, `SELECT `+prefixed("n.", notificationColumns)+`, length(e.payload), e.test FROM notifications n
		JOIN events e ON e.id = n.event_id WHERE `+where+` ORDER BY n.id `+order+` LIMIT ?`, args...)
	if err != nil {
		return nil, nil, store.Paging{}, fmt.Errorf("search notifications: %w", err)
	}
	var (
		out   []store.Notification
		sizes []int64
	)
	for rows.Next() {
		n, size, err := scanSearched(rows)
		if err != nil {
			rows.Close()
			return nil, nil, store.Paging{}, err
		}
		out, sizes = append(out, n), append(sizes, size)
	}
	if err := rows.Close(); err != nil {
		return nil, nil, store.Paging{}, fmt.Errorf("search notifications: %w", err)
	}
	out, sizes, paging := pageOf(out, sizes, p, limit, notificationID)
	return out, sizes, paging, nil
}

// scanSearched scans a notification row of a search: notificationColumns,
// then its payload's size and its event's test mark.
func scanSearched(rows *sql.Rows) (store.Notification, int64, error) {
	var n store.Notification
	var next, created, modified, size int64
	var test int
	if err := rows.Scan(&n.ID, &n.TenantID, &n.EventID, &n.WebhookID, &n.EventName, &n.Status, &n.Attempts,
		&n.RetryBase, &next, &created, &modified, &size, &test); err != nil {
		return n, 0, fmt.Errorf("scan notification: %w", err)
	}
	n.NextAttemptAt, n.Created, n.Modified, n.Test = fromMS(next), fromMS(created), fromMS(modified), test != 0
	return n, size, nil
}

// pageOf turns up to limit+1 items read in walk order (newest first, or
// oldest first for Page.Before) into a page, newest first, and its paging;
// sizes (nil, or one per item) follow the items.
func pageOf[T any](items []T, sizes []int64, p store.Page, limit int, id func(T) string) ([]T, []int64, store.Paging) {
	cut := func(n int) {
		items = items[:n]
		if sizes != nil {
			sizes = sizes[:n]
		}
	}
	if p.Before == "" {
		before := ""
		if p.After != "" && len(items) > 0 {
			before = id(items[0])
		}
		var paging store.Paging
		items, paging = trim(items, limit, id)
		cut(len(items))
		paging.Before = before
		return items, sizes, paging
	}
	newer := len(items) > limit
	if newer {
		cut(limit)
	}
	slices.Reverse(items)
	slices.Reverse(sizes)
	paging := store.Paging{HasMore: true}
	if len(items) > 0 {
		paging.After = id(items[len(items)-1])
		if newer {
			paging.Before = id(items[0])
		}
	}
	return items, sizes, paging
}

// notificationID is a notification's paging id.
func notificationID(n store.Notification) string { return n.ID }

// withinBudget keeps the leading notifications whose payloads (sizes[i]
// bytes each) add up to at most budget (0: no budget), and at least the
// first, so that paging always moves on. A page cut short has more after it.
func withinBudget(notes []store.Notification, sizes []int64, budget int, paging store.Paging) ([]store.Notification, store.Paging) {
	if budget <= 0 {
		return notes, paging
	}
	var total int64
	for i := range notes {
		total += sizes[i]
		if i > 0 && total > int64(budget) {
			return notes[:i], store.Paging{After: notes[i-1].ID, HasMore: true}
		}
	}
	return notes, paging
}

// attachEventPayloads reads the payload of each notification's event, once per
// event: the notifications of one event share the bytes.
func attachEventPayloads(ctx context.Context, tx *tx, notes []store.Notification) error {
	if len(notes) == 0 {
		return nil
	}
	var ids []any
	seen := map[string]bool{}
	for _, n := range notes {
		if !seen[n.EventID] {
			seen[n.EventID] = true
			ids = append(ids, n.EventID)
		}
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, payload FROM events WHERE id IN (`+placeholders(len(ids))+`)`, ids...)
	if err != nil {
		return fmt.Errorf("read payloads: %w", err)
	}
	defer rows.Close()
	payloads := make(map[string][]byte, len(ids))
	for rows.Next() {
		var id string
		var payload []byte
		if err := rows.Scan(&id, &payload); err != nil {
			return fmt.Errorf("scan payload: %w", err)
		}
		payloads[id] = payload
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read payloads: %w", err)
	}
	for i := range notes {
		notes[i].Payload = payloads[notes[i].EventID]
	}
	return nil
}

func attachAttempts(ctx context.Context, tx *tx, notes []store.Notification) error {
	if len(notes) == 0 {
		return nil
	}
	index := make(map[string]int, len(notes))
	args := make([]any, len(notes))
	for i, n := range notes {
		index[n.ID] = i
		args[i] = n.ID
	}
	rows, err := tx.QueryContext(ctx, `SELECT notification_id, number, started_at, duration_us, status_code, response_body, error_kind, error, headers
		FROM attempts WHERE notification_id IN (`+placeholders(len(args))+`) ORDER BY notification_id, number, id`, args...)
	if err != nil {
		return fmt.Errorf("read attempts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a store.Attempt
		var started, dur int64
		var headers string
		if err := rows.Scan(&a.NotificationID, &a.Number, &started, &dur, &a.StatusCode, &a.ResponseBody, &a.ErrorKind, &a.Error, &headers); err != nil {
			return fmt.Errorf("scan attempt: %w", err)
		}
		a.Started, a.Duration = fromMS(started), time.Duration(dur)*time.Microsecond
		i := index[a.NotificationID]
		decodeHeaders(headers, &a, notes[i].EventName) // after Started: the timestamp header derives from it
		notes[i].AttemptLog = append(notes[i].AttemptLog, a)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read attempts: %w", err)
	}
	return nil
}

func prefixed(prefix, columns string) string {
	parts := strings.Split(columns, ", ")
	for i, p := range parts {
		parts[i] = prefix + p
	}
	return strings.Join(parts, ", ")
}
