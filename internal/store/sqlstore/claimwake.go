package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
)

// neverWake is the wake time of a webhook with nothing pending.
const neverWake = int64(1) << 62

// raiseWakes moves the wake times of a claim's webhooks forward where this
// claim showed a webhook has nothing more to claim before then: its circuit
// waits for its probe time (or for the lease of the probe it just took to
// end), its rate bucket for a token (also when this claim emptied it), or
// it took every due notification (then the next one falls due, or a lease
// taken runs out). Each webhook's row is held by this transaction (see
// slots), so no write lowering it meanwhile is lost. With arrays this is
// two statements whatever the number of webhooks.
func (s *Store) raiseWakes(ctx context.Context, tx *tx, taken []slotsFor, claimed []int, now int64) error {
	wakes := make(map[string]int64, len(taken))
	var lookup []string
	for i, sl := range taken {
		wake, find, set := sl.wakeAfter(claimed[i])
		switch {
		case find:
			lookup = append(lookup, sl.webhookID)
		case set:
			wakes[sl.webhookID] = wake
		}
	}
	if err := s.nextWakes(ctx, tx, lookup, now, wakes); err != nil {
		return err
	}
	for id, wake := range wakes {
		if wake <= now {
			delete(wakes, id)
		}
	}
	return s.setWakes(ctx, tx, wakes)
}

// wakeAfter is the wake time a claim that took claimed of sl's slots sets:
// set false where it leaves the wake time alone, find true where that is
// the webhook's next claimable notification (nextWakes).
func (sl slotsFor) wakeAfter(claimed int) (wake int64, find, set bool) {
	if !sl.found || sl.blocked {
		return 0, false, false
	}
	if !sl.wake.IsZero() {
		return ms(sl.wake), false, true
	}
	switch b := sl.bucket.Spend(claimed); {
	case sl.probe && claimed > 0:
		return ms(sl.probeUntil), false, true
	case sl.rate > 0 && b.Whole() < 1:
		return ms(b.NextToken(sl.rate)), false, true
	case claimed >= sl.n && sl.n > 0:
		return 0, false, false // there may be more: look again at once
	default:
		return 0, true, true
	}
}

// setWakes writes the webhooks' wake times: one statement with arrays.
func (s *Store) setWakes(ctx context.Context, tx *tx, wakes map[string]int64) error {
	if len(wakes) == 0 {
		return nil
	}
	if s.d.Arrays {
		sql, args := wakeArrays(wakes, false)
		if _, err := tx.ExecContext(ctx, sql, args...); err != nil {
			return fmt.Errorf("raise wake times: %w", err)
		}
		return nil
	}
	for id, t := range wakes {
		if _, err := tx.ExecContext(ctx, `UPDATE webhooks SET wake_at = ? WHERE id = ?`, t, id); err != nil {
			return fmt.Errorf("raise wake time: %w", err)
		}
	}
	return nil
}

// nextWakes sets into out, for each webhook of ids, the earliest time a
// notification of it may become claimable at now: its first unleased
// pending notification's due time, or the first lease to run out
// (wakeSQL). Each walks an index from its start; with arrays, all in one
// statement.
func (s *Store) nextWakes(ctx context.Context, tx *tx, ids []string, now int64, out map[string]int64) error {
	if len(ids) == 0 {
		return nil
	}
	if !s.d.Arrays {
		for _, id := range ids {
			var due, lease sql.NullInt64
			err := tx.QueryRowContext(ctx, `SELECT `+s.wakeSQL("?"), s.wakeArgs(now, id)...).Scan(&due, &lease)
			if err != nil {
				return fmt.Errorf("next wake time: %w", err)
			}
			out[id] = earliest(due, lease)
		}
		return nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT w.id, `+s.wakeSQL("w.id")+` FROM unnest(?::text[]) AS w(id)`,
		append(s.wakeArgs(now), ids)...)
	if err != nil {
		return fmt.Errorf("next wake times: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var due, lease sql.NullInt64
		if err := rows.Scan(&id, &due, &lease); err != nil {
			return fmt.Errorf("scan next wake time: %w", err)
		}
		out[id] = earliest(due, lease)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("next wake times: %w", err)
	}
	return nil
}

// earliest is the earlier of two optional times (ms), neverWake if neither.
func earliest(a, b sql.NullInt64) int64 {
	wake := neverWake
	if a.Valid {
		wake = min(wake, a.Int64)
	}
	if b.Valid {
		wake = min(wake, b.Int64)
	}
	return wake
}
