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
	walk := func(op, bound, order string) (string, []any) {
		where, args := s.subjectCond(f.Subjects, f.TenantID, evWhere+" AND id "+op+" ?", append(append([]any{}, evArgs...), bound), op, bound, order, 51)
		return where, append(args, 51)
	}
	batchWhere, batchArgs := walk("<", "ffffffff", "DESC")
	olderWhere, olderArgs := walk("<", "ffffffff", "DESC")
	newerWhere, newerArgs := walk(">", cursor, "ASC")
	queries := map[string]struct {
		q    string
		args []any
	}{
		"subject batch": {subjectBatchSQL(batchWhere, "DESC"), batchArgs},
		"events":        {eventsSQL(olderWhere, "id", "DESC"), olderArgs},
		"events newer":  {eventsSQL(newerWhere, "id", "ASC"), newerArgs},
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

// UpdatePlan explains the statement that records the next state of rows
// notifications where the dialect has no arrays.
func UpdatePlan(ctx context.Context, s *Store, rows int) (string, error) {
	args := make([]any, 0, 5*rows+1)
	for i := range rows {
		args = append(args, fmt.Sprintf("n-%d", i), "token", store.StatusDelivered, 1, 0)
	}
	args = append(args, 0)
	plan, err := s.r.QueryContext(ctx, s.d.rebind(s.d.Explain+s.updateSQL(rows)), args...)
	if err != nil {
		return "", fmt.Errorf("explain update: %w", err)
	}
	return planText(plan)
}

// ClaimManyPlan explains the statement that claims for several webhooks at
// once (Dialect.Arrays), in a queue transaction's settings.
func ClaimManyPlan(ctx context.Context, s *Store, hooks []string, limits []int64, now int64) (string, error) {
	t, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return "", err
	}
	defer t.Rollback()
	if _, err := t.ExecContext(ctx, s.d.QueueTx); err != nil {
		return "", err
	}
	rows, err := t.QueryContext(ctx, s.d.rebind(s.d.Explain+s.claimManySQL()), "o", "o/t", now+60000, hooks, limits, now, now)
	if err != nil {
		return "", fmt.Errorf("explain claim: %w", err)
	}
	return planText(rows)
}

// planText reads an EXPLAIN's rows into one string, a line per node: the
// last column of each (SQLite: detail; PostgreSQL: the only one). It closes
// rows.
func planText(rows *sql.Rows) (string, error) {
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", err
	}
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
		lines = append(lines, fmt.Sprint(vals[len(vals)-1]))
	}
	return strings.Join(lines, "\n"), rows.Err()
}

// IndexSubjectsOnce runs one pass of the subject log over at most limit
// events and returns how many it read.
func IndexSubjectsOnce(ctx context.Context, s *Store, limit int) (int, error) {
	return s.indexSubjects(ctx, limit)
}
