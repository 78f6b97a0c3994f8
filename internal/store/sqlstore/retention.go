package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/store"
)

// Purge batch sizes: the default, and the most one transaction takes (each
// id is a bound parameter; both databases allow well over this many).
const (
	defaultPurgeBatch = 500
	maxPurgeBatch     = 5000
)

// Purge deletes what retention allows (see store.PurgePolicy), a batch per
// transaction, and counts what it deleted. Notifications and events are
// found through their primary keys: their ids are UUIDv7, so the ids of
// everything created before a cutoff sort below the smallest v7 id of the
// cutoff's millisecond, and no index on a time column is needed. Each kind
// is walked once in id order, so a run costs one pass however many rows it
// has to skip (pending notifications, events still referenced). When ctx
// ends, what was committed stays deleted and the counts so far are returned
// with the error.
func (s *Store) Purge(ctx context.Context, p store.PurgePolicy) (store.Purged, error) {
	batch := p.Batch
	if batch <= 0 {
		batch = defaultPurgeBatch
	}
	batch = min(batch, maxPurgeBatch)
	var out store.Purged
	pause := func() error {
		if p.Pause <= 0 {
			return ctx.Err()
		}
		t := time.NewTimer(p.Pause)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return nil
		}
	}
	// batches runs step (one transaction each) until a batch finds fewer
	// rows than the batch size, pausing in between.
	batches := func(step func() (found int, err error)) error {
		for {
			found, err := step()
			if err != nil {
				return err
			}
			if found < batch {
				return nil
			}
			if err := pause(); err != nil {
				return err
			}
		}
	}
	for _, k := range []struct {
		statuses string
		before   time.Time
	}{
		{"'DELIVERED', 'CANCELLED'", p.FinishedBefore},
		{"'EXPIRED'", p.ExpiredBefore},
	} {
		if k.before.IsZero() {
			continue
		}
		after := ""
		if err := batches(func() (int, error) {
			found, n, a, last, err := s.purgeNotifications(ctx, k.statuses, k.before, after, batch)
			out.Notifications += n
			out.Attempts += a
			after = last
			return found, err
		}); err != nil {
			return out, err
		}
	}
	if !p.FinishedBefore.IsZero() {
		after := ""
		if err := batches(func() (int, error) {
			found, n, last, err := s.purgeEvents(ctx, p.FinishedBefore, after, batch)
			out.Events += n
			after = last
			return found, err
		}); err != nil {
			return out, err
		}
	}
	if !p.IdempotencyBefore.IsZero() {
		var cursor *[2]string
		if err := batches(func() (int, error) {
			found, n, last, err := s.purgeIdempotencyKeys(ctx, p.IdempotencyBefore, cursor, batch)
			out.IdempotencyKeys += n
			cursor = last
			return found, err
		}); err != nil {
			return out, err
		}
	}
	return out, nil
}

// purgeNotifications deletes, in one transaction, up to batch notifications
// with one of statuses (a SQL list of literals) created and last modified
// before the cutoff, with id above after, and their attempts. It returns how
// many it found, how many notifications and attempts it deleted and the last
// id it found. Rows another transaction holds are skipped (where the dialect
// locks rows), so that a purge never waits on a delivery or a re-send; the
// next run takes them.
func (s *Store) purgeNotifications(ctx context.Context, statuses string, before time.Time, after string, batch int) (found, notes, attempts int, last string, err error) {
	err = s.write(ctx, func(tx *tx) error {
		found, notes, attempts, last = 0, 0, 0, ""
		rows, err := tx.QueryContext(ctx, `SELECT id FROM notifications WHERE id > ? AND id < ? AND status IN (`+statuses+`)
			AND created_at < ? AND modified_at < ? ORDER BY id LIMIT ?`+s.d.SkipLocked,
			after, v7Floor(before), ms(before), ms(before), batch)
		if err != nil {
			return fmt.Errorf("find notifications to purge: %w", err)
		}
		ids, err := scanIDs(rows)
		if err != nil {
			return fmt.Errorf("find notifications to purge: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		found, last = len(ids), ids[len(ids)-1].(string)
		in := placeholders(len(ids))
		res, err := tx.ExecContext(ctx, `DELETE FROM attempts WHERE notification_id IN (`+in+`)`, ids...)
		if err != nil {
			return fmt.Errorf("purge attempts: %w", err)
		}
		a, _ := res.RowsAffected()
		res, err = tx.ExecContext(ctx, `DELETE FROM notifications WHERE id IN (`+in+`)`, ids...)
		if err != nil {
			return fmt.Errorf("purge notifications: %w", err)
		}
		n, _ := res.RowsAffected()
		notes, attempts = int(n), int(a)
		return nil
	})
	if err != nil {
		return 0, 0, 0, "", err
	}
	return found, notes, attempts, last, nil
}

// purgeEvents deletes, in one transaction, the events among the next batch
// created before the cutoff (ids above after) that no longer have any
// notification. It returns how many it found and deleted, and the last id it
// found.
func (s *Store) purgeEvents(ctx context.Context, before time.Time, after string, batch int) (found, deleted int, last string, err error) {
	err = s.write(ctx, func(tx *tx) error {
		found, deleted, last = 0, 0, ""
		rows, err := tx.QueryContext(ctx, `SELECT e.id FROM events e WHERE e.id > ? AND e.id < ? AND e.created_at < ?
			AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.event_id = e.id) ORDER BY e.id LIMIT ?`,
			after, v7Floor(before), ms(before), batch)
		if err != nil {
			return fmt.Errorf("find events to purge: %w", err)
		}
		ids, err := scanIDs(rows)
		if err != nil {
			return fmt.Errorf("find events to purge: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		found, last = len(ids), ids[len(ids)-1].(string)
		// Checked again: a notification may have been added meanwhile
		// (where the database has more than one writer).
		res, err := tx.ExecContext(ctx, `DELETE FROM events WHERE id IN (`+placeholders(len(ids))+`)
			AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.event_id = events.id)`, ids...)
		if err != nil {
			return fmt.Errorf("purge events: %w", err)
		}
		n, _ := res.RowsAffected()
		deleted = int(n)
		return nil
	})
	if err != nil {
		return 0, 0, "", err
	}
	return found, deleted, last, nil
}

// purgeIdempotencyKeys deletes, in one transaction, the next batch of
// idempotency keys recorded before the cutoff, walking the primary key
// (tenant_id, key) from after (nil: from the start). It returns how many it
// found and deleted, and the last key it found.
func (s *Store) purgeIdempotencyKeys(ctx context.Context, before time.Time, after *[2]string, batch int) (found, deleted int, last *[2]string, err error) {
	err = s.write(ctx, func(tx *tx) error {
		found, deleted, last = 0, 0, nil
		from, args := "", []any{ms(before)}
		if after != nil {
			from, args = " AND (tenant_id, key) > (?, ?)", append(args, after[0], after[1])
		}
		rows, err := tx.QueryContext(ctx, `SELECT tenant_id, key FROM idempotency_keys WHERE created_at < ?`+from+`
			ORDER BY tenant_id, key LIMIT ?`, append(args, batch)...)
		if err != nil {
			return fmt.Errorf("find idempotency keys to purge: %w", err)
		}
		var end [2]string
		n := 0
		for rows.Next() {
			if err := rows.Scan(&end[0], &end[1]); err != nil {
				rows.Close()
				return fmt.Errorf("scan idempotency key: %w", err)
			}
			n++
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("find idempotency keys to purge: %w", err)
		}
		if n == 0 {
			return nil
		}
		// Delete the range just read, in the database's own order of keys.
		args = append(args, end[0], end[1])
		res, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE created_at < ?`+from+`
			AND (tenant_id, key) <= (?, ?)`, args...)
		if err != nil {
			return fmt.Errorf("purge idempotency keys: %w", err)
		}
		d, _ := res.RowsAffected()
		found, deleted, last = n, int(d), &end
		return nil
	})
	if err != nil {
		return 0, 0, nil, err
	}
	return found, deleted, last, nil
}

// scanIDs reads a column of ids, as query arguments.
func scanIDs(rows *sql.Rows) ([]any, error) {
	defer rows.Close()
	var ids []any
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// v7Floor is the smallest UUIDv7 of t's millisecond (all bits after the
// timestamp zero): the ids of everything created before t's millisecond sort
// below it, as text and as bytes, and those created at or after it do not.
func v7Floor(t time.Time) string {
	var u uuid.UUID
	m := max(t.UnixMilli(), 0)
	for i := range 6 {
		u[i] = byte(m >> (40 - 8*i))
	}
	return u.String()
}
