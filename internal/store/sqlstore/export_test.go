package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/heraldhq/herald/internal/store"
)

// Hooks for the tests of package sqlstore_test; none of this is in the binary.

// SearchPlans explains, as the database plans them now, the queries a search
// by f.Subjects and GET /events with them run: the subject walk's first
// batch and the events page. Each plan is one string, a line per node.
func SearchPlans(ctx context.Context, s *Store, f store.NotificationFilter) (map[string]string, error) {
	evWhere, evArgs := eventSQL(store.EventFilter{TenantID: f.TenantID, Subjects: f.Subjects})
	cursor := "01a2d3e4-0000-7000-8000-000000000000"
	queries := map[string]struct {
		q    string
		args []any
	}{
		"subject batch": {subjectBatchSQL(evWhere+" AND id < ?", "DESC"), append(append([]any{}, evArgs...), "ffffffff", 51)},
		"events":        {eventsSQL(evWhere+" AND id < ?", "id", "DESC"), append(append([]any{}, evArgs...), "ffffffff", 51)},
		"events newer":  {eventsSQL(evWhere+" AND id > ?", "id", "ASC"), append(append([]any{}, evArgs...), cursor, 51)},
		"tenant events": {eventsSQL("tenant_id = ? AND (created_at, id) < (?, ?)", "created_at DESC, id", "DESC"), []any{f.TenantID, int64(1) << 50, "ffffffff", 51}},
		"tenant search": {`SELECT n.id, length(e.payload), e.test FROM notifications n JOIN events e ON e.id = n.event_id
			WHERE n.tenant_id = ? AND n.id > ? ORDER BY n.id ASC LIMIT ?`, []any{f.TenantID, cursor, 51}},
	}
	explain := s.d.Explain
	out := map[string]string{}
	for name, q := range queries {
		read, end, err := s.listTx(ctx)
		if err != nil {
			return nil, err
		}
		rows, err := read.Tx.QueryContext(ctx, s.d.rebind(explain+q.q), q.args...)
		if err != nil {
			end()
			return nil, fmt.Errorf("explain %s: %w", name, err)
		}
		plan, err := planText(rows)
		end()
		if err != nil {
			return nil, fmt.Errorf("explain %s: %w", name, err)
		}
		out[name] = plan
	}
	return out, nil
}

// ClaimPlans explains a claim's statements for a webhook at now (ms), as a
// claim's transaction plans them (with Dialect.QueueTx): "due" and "head"
// (an ordered webhook's). Each plan is one string, a line per node.
func ClaimPlans(ctx context.Context, s *Store, webhookID string, now int64) (map[string]string, error) {
	due, head := s.d.claimStatements()
	args := []any{"owner", "owner/token", now + 30_000, webhookID, now, now, 32}
	out := map[string]string{}
	for name, q := range map[string]string{"due": due, "head": head} {
		t, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			return nil, err
		}
		plan, err := explainIn(ctx, s, s.w.tx(t), q, args)
		_ = t.Rollback()
		if err != nil {
			return nil, fmt.Errorf("explain %s: %w", name, err)
		}
		out[name] = plan
	}
	return out, nil
}

func explainIn(ctx context.Context, s *Store, tx *tx, q string, args []any) (string, error) {
	if err := s.queueTx(ctx, tx); err != nil {
		return "", err
	}
	rows, err := tx.QueryContext(ctx, s.d.Explain+q, args...)
	if err != nil {
		return "", err
	}
	return planText(rows)
}

// planText reads a plan's rows into one string, a line per node, and
// closes them.
func planText(rows *sql.Rows) (string, error) {
	defer rows.Close()
	cols, _ := rows.Columns()
	var lines []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return "", err
		}
		lines = append(lines, fmt.Sprint(vals[len(vals)-1])) // the plan text (SQLite: detail)
	}
	return strings.Join(lines, "\n"), rows.Err()
}
