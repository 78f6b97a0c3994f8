package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"
)

// CheckpointInterval is how often, at most, Checkpoint copies the WAL back
// into the database file while Herald writes. Short: the fsyncs of a pass
// slow the writer's appends for as long as they last, so many small passes
// beat a few big ones; on a disk slow to flush, 25 ms rather than 50 halved
// publish latency's p99 at 1,000 events/s, while 10 ms slowed backlog drains
// by a sixth (docs/performance.md, "Checkpoint interval").
const CheckpointInterval = 25 * time.Millisecond

// walBackstop is the writer's own automatic checkpoint threshold, in WAL
// frames: 40 MB of pageSize pages (20 MB in a database created with 4 KiB
// pages before pageSize was raised). SQLite restarts the WAL from its
// start only when a write begins after a pass copied all of it, so under a
// sustained write load the WAL still reaches this size now and then; the
// writer's pass then finds little left to copy. Without Checkpoint (the
// CLI) it is the only checkpoint.
const walBackstop = 5000

// retries bounds the passes that follow an incomplete one without a new
// commit: a reader's snapshot or another connection's checkpoint can stop
// a pass short, and the rest should not wait for the next write.
const retries = 20

// Checkpoint copies committed pages from the WAL into the database file
// after the store's commits, at most once per interval, from a connection
// of its own, until ctx ends.
//
// SQLite's automatic checkpoint runs inside the commit that crosses its
// threshold, on the committing connection. Herald writes through one
// connection, so every publish group and result batch queued behind that
// commit waited for the copy of up to 40 MB and its two fsyncs: that was
// the tail of publish latency. A PASSIVE checkpoint here runs beside the
// writer (SQLite lets one checkpointer and one writer work at once) and
// never waits for readers or writers.
func (s *Store) Checkpoint(ctx context.Context, interval time.Duration, log *slog.Logger) {
	failing, again := false, 0
	for {
		// A pass follows commits of this store, or an incomplete pass: an
		// idle Herald makes none and wakes for none. (Another process's
		// writes, the CLI's, are copied by the pass after Herald's next
		// commit, or by that process's own backstop.)
		if again == 0 {
			select {
			case <-ctx.Done():
				return
			case <-s.Commits():
			}
		}
		done, err := checkpoint(ctx, s.ckpt)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			// Once per failing spell: the writer's backstop keeps the
			// WAL bounded meanwhile, and nothing committed is at risk.
			log.Warn("checkpoint failed; the writer checkpoints instead", "err", err)
			failing = true
		case err == nil && failing:
			log.Info("checkpoints resumed")
			failing = false
		}
		switch {
		case done || err != nil:
			again = 0
		case again == 0:
			again = retries
		default:
			again--
		}
		// At most one pass per interval: commits meanwhile wait for the
		// next one.
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// checkpoint runs one PASSIVE checkpoint on db and reports whether it
// copied the whole WAL.
func checkpoint(ctx context.Context, db *sql.DB) (bool, error) {
	var busy, frames, copied int
	if err := db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied); err != nil {
		return false, fmt.Errorf("wal checkpoint: %w", err)
	}
	return busy == 0 && copied >= frames, nil
}
