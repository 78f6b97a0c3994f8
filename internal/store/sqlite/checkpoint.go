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
// beat a few big ones (docs/performance.md).
const CheckpointInterval = 50 * time.Millisecond

// walBackstop is the writer's own automatic checkpoint threshold, in WAL
// frames (4 KiB pages): the writer checkpoints only when Checkpoint is not
// running (the CLI) or falls this far behind.
const walBackstop = 10000

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
// never waits for readers or writers; the writer restarts the WAL from its
// start once a pass has copied all of it.
func (s *Store) Checkpoint(ctx context.Context, interval time.Duration, log *slog.Logger) {
	failing := false
	for {
		// A pass follows commits (what other processes such as the CLI
		// write, their own connections checkpoint): an idle Herald makes
		// none, and wakes for none.
		select {
		case <-ctx.Done():
			return
		case <-s.Commits():
		}
		err := checkpoint(ctx, s.ckpt)
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
		// At most one pass per interval: commits meanwhile wait for the
		// next one.
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// checkpoint runs one PASSIVE checkpoint on db.
func checkpoint(ctx context.Context, db *sql.DB) error {
	var busy, frames, copied int
	if err := db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied); err != nil {
		return fmt.Errorf("wal checkpoint: %w", err)
	}
	return nil
}
