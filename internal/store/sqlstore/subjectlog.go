package sqlstore

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// The subject log (Dialect.SubjectLog, SQLite) indexes events' subject ids
// outside the publish commit. A publish writes the ids in the event's own
// columns only. IndexSubjects then copies them, in batches, into
// event_subjects (tenant, kind, value, event id), for the events past the
// rowid in subject_mark, and moves the mark in the same transaction. So a
// crash loses no entry: the next pass starts from the mark. A publish of
// many events indexes its own when nothing waits for a pass
// (subjectSyncEvents).
//
// Why: under single-event publishes a commit holds one or two events, and a
// partial index per id on events was a page more written to the WAL per
// commit and per id. That cost `publish` 5 to 15% (docs/performance.md). A
// batch writes each index page once.
//
// A search stays exact: it walks event_subjects for the events up to the
// mark, and reads the events past it (a few passes' worth, by rowid) for
// the rest (subjectIDs).

// Subject log passes: at most one per subjectInterval after a publish, each
// of up to subjectBatch events; a full batch is followed by the next at once.
const (
	subjectInterval = 100 * time.Millisecond
	subjectBatch    = 2000
)

// subjectKinds are the events columns of subject ids and their kinds in
// event_subjects, in store.Subjects order (values).
var subjectKinds = []struct {
	kind   int
	column string
}{{1, "card_id"}, {2, "user_id"}, {3, "account_id"}, {4, "transaction_id"}}

// values are s's ids in subjectKinds order.
func values(s store.Subjects) []string {
	return []string{s.CardID, s.UserID, s.AccountID, s.TransactionID}
}

// subjectSyncEvents is the least number of events in one publish
// transaction whose subject ids it indexes itself, when nothing before
// them waits for a pass: such a commit writes each index page once for
// many events anyway, and a pass would read them again (indexing the
// batches of 1,000 of `ingest` in passes made it 4 to 18% slower).
const subjectSyncEvents = 100

// subjectMarkAtEnd returns the largest rowid of events when the mark is at
// it (nothing waits for a pass), else -1.
func subjectMarkAtEnd(ctx context.Context, tx *tx) (int64, error) {
	var upto, last int64
	if err := tx.QueryRowContext(ctx, `SELECT upto, (SELECT coalesce(max(rowid), 0) FROM events) FROM subject_mark`).Scan(&upto, &last); err != nil {
		return 0, fmt.Errorf("read subject mark: %w", err)
	}
	if upto != last {
		return -1, nil
	}
	return last, nil
}

// indexSubjectsAfter indexes, in a publish transaction, the events it
// wrote past rowid from (subjectMarkAtEnd's), and moves the mark past them.
func indexSubjectsAfter(ctx context.Context, tx *tx, from int64) error {
	var last int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(rowid), 0) FROM events`).Scan(&last); err != nil {
		return fmt.Errorf("index subject ids: %w", err)
	}
	return indexRange(ctx, tx, from, last)
}

// indexRange copies the subject ids of the events in rowids (from, to]
// into event_subjects and moves the mark to to.
func indexRange(ctx context.Context, tx *tx, from, to int64) error {
	// OR IGNORE: after checkSubjectMark starts the log again from the
	// first event, passes meet the entries already there.
	if _, err := tx.ExecContext(ctx, indexSubjectsSQL, from, to); err != nil {
		return fmt.Errorf("index subject ids: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE subject_mark SET upto = ?`, to); err != nil {
		return fmt.Errorf("move subject mark: %w", err)
	}
	return nil
}

// subjectsPublished tells IndexSubjects that events were written; a
// publish group calls it.
func (s *Store) subjectsPublished() {
	if !s.d.SubjectLog {
		return
	}
	select {
	case s.subjects <- struct{}{}:
	default:
	}
}

// IndexSubjects runs the subject log's passes (a first one at once, to
// catch up after a restart) until ctx ends; where the dialect has no
// subject log it returns at once. After a failed pass it tries again
// within a second, publishes or not: meanwhile searches read the events
// past the mark, so nothing is missed, only slower to find.
func (s *Store) IndexSubjects(ctx context.Context, log *slog.Logger) {
	if !s.d.SubjectLog {
		return
	}
	if err := s.checkSubjectMark(ctx); err != nil && ctx.Err() == nil {
		log.Warn("check subject mark", "err", err)
	}
	failing := false
	for ctx.Err() == nil {
		n, err := s.indexSubjects(ctx, subjectBatch)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			log.Warn("index subject ids", "err", err) // once per failing spell
			failing = true
		case err == nil && failing:
			log.Info("subject ids indexed again")
			failing = false
		}
		if err == nil && n == subjectBatch {
			continue
		}
		if err == nil {
			select {
			case <-ctx.Done():
				return
			case <-s.subjects:
			}
		}
		wait := subjectInterval
		if err != nil {
			wait = subjectRetry
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// subjectRetry is the wait after a failed pass.
const subjectRetry = time.Second

// checkSubjectMark starts the log again from the first event when the mark
// is past the last one. No delete leaves it so (the migration's trigger
// brings it down), but a copy of the database that numbers the rows anew
// (a dump and restore) does, and new events would then never be indexed.
// Passes insert OR IGNORE, so entries already there stay as they are.
func (s *Store) checkSubjectMark(ctx context.Context) error {
	return s.write(ctx, func(tx *tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE subject_mark SET upto = 0 WHERE upto > (SELECT coalesce(max(rowid), 0) FROM events)`); err != nil {
			return fmt.Errorf("check subject mark: %w", err)
		}
		return nil
	})
}

// CatchUpSubjects indexes the subject ids of every event published so far,
// for a store used without IndexSubjects running (a benchmark's); it
// returns at once where the dialect has no subject log.
func (s *Store) CatchUpSubjects(ctx context.Context) error {
	for s.d.SubjectLog && ctx.Err() == nil {
		n, err := s.indexSubjects(ctx, subjectBatch)
		if err != nil || n < subjectBatch {
			return err
		}
	}
	return ctx.Err()
}

// indexSubjectsSQL copies the subject ids of the events in a rowid range
// into event_subjects, inside the database: per entry, binding its values
// from Go cost more than the b-tree insert. Each event is read once (the
// kinds are the inner loop of a CROSS JOIN).
var indexSubjectsSQL = func() string {
	kinds, value := make([]string, len(subjectKinds)), "CASE k.kind"
	for i, k := range subjectKinds {
		kinds[i] = fmt.Sprintf("SELECT %d AS kind", k.kind)
		value += fmt.Sprintf(" WHEN %d THEN e.%s", k.kind, k.column)
	}
	value += " END"
	return `INSERT OR IGNORE INTO event_subjects (subject_tenant, subject_kind, subject_value, event_id)
		SELECT e.tenant_id, k.kind, ` + value + `, e.id FROM events e CROSS JOIN (` + strings.Join(kinds, " UNION ALL ") + `) k
		WHERE e.rowid > ? AND e.rowid <= ? AND ` + value + ` IS NOT NULL`
}()

// indexSubjects runs one pass over at most limit events past the mark and
// returns how many it read.
func (s *Store) indexSubjects(ctx context.Context, limit int) (int, error) {
	var read int
	err := s.write(ctx, func(tx *tx) error {
		var upto, last int64
		if err := tx.QueryRowContext(ctx, `SELECT upto FROM subject_mark`).Scan(&upto); err != nil {
			return fmt.Errorf("read subject mark: %w", err)
		}
		if err := tx.QueryRowContext(ctx, `SELECT count(*), coalesce(max(rowid), 0) FROM
			(SELECT rowid FROM events WHERE rowid > ? ORDER BY rowid LIMIT ?)`, upto, limit).Scan(&read, &last); err != nil {
			return fmt.Errorf("find events to index: %w", err)
		}
		if read == 0 {
			return nil
		}
		return indexRange(ctx, tx, upto, last)
	})
	return read, err
}

// subjectIDs is, for the subject log, a query of the ids of the events
// of tenant that carry subj and match where (a condition on events, args
// its arguments, subj's columns included). With limit > 0 it gives the
// first limit in id order (order ASC or DESC) past bound (op its
// comparison, "" for none), for the caller to take the first of again.
//
// Its first part walks event_subjects by the first id subj sets, in the
// order asked, joining each entry's event by its primary key (CROSS JOIN
// keeps that order whatever the planner's statistics). Its second reads the
// events past the mark by rowid (NOT INDEXED: no tenant index may look
// cheaper), a few passes' worth at most.
func subjectIDs(subj store.Subjects, tenant, where string, args []any, op, bound, order string, limit int) (string, []any) {
	kind, value := 0, ""
	for i, v := range values(subj) {
		if v != "" {
			kind, value = subjectKinds[i].kind, v
			break
		}
	}
	var q strings.Builder
	qargs := []any{tenant, kind, value}
	q.WriteString(`SELECT id FROM (SELECT s.event_id AS id FROM event_subjects s CROSS JOIN events ON events.id = s.event_id
		WHERE s.subject_tenant = ? AND s.subject_kind = ? AND s.subject_value = ?`)
	if op != "" {
		q.WriteString(` AND s.event_id ` + op + ` ?`)
		qargs = append(qargs, bound)
	}
	q.WriteString(` AND ` + where)
	qargs = append(qargs, args...)
	if limit > 0 {
		q.WriteString(` ORDER BY s.event_id ` + order + ` LIMIT ?`)
		qargs = append(qargs, limit)
	}
	q.WriteString(`) UNION ALL SELECT id FROM events NOT INDEXED WHERE rowid > (SELECT upto FROM subject_mark) AND ` + where)
	return q.String(), append(qargs, args...)
}
