package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"
)

// CheckpointInterval is how often Checkpoint copies the WAL back into the
// database file. Short, so the WAL stays small (readers search it on every
// page they read) and each pass copies little.
const CheckpointInterval = 50 * time.Millisecond

// walBackstop is the writer's own automatic checkpoint threshold, in WAL
// frames (4 KiB pages): the writer checkpoints only when Checkpoint is not
// running (the CLI) or falls this far behind.
const walBackstop = 10000

// Checkpoint copies committed pages from the WAL into the database file
// every interval, from a connection of its own, until ctx ends.
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
	t := time.NewTicker(interval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
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
