package sqlstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// writeCheckEvery is how long a write check's answer stands: a commit that
// recent proves writes work, and a probe runs at most once in that time, so
// however often /readyz (unauthenticated) is asked, probes add at most one
// small write transaction per interval.
const writeCheckEvery = 2 * time.Second

// writeCheck is what the store knows of whether its writes commit.
type writeCheck struct {
	lastCommit atomic.Int64  // unix nanoseconds of the latest committed write
	commits    chan struct{} // see Commits
	probing    sync.Mutex    // held while a probe runs

	mu       sync.Mutex
	probedAt time.Time
	probeErr error
}

func (h *writeCheck) committed() {
	h.lastCommit.Store(time.Now().UnixNano())
	select {
	case h.commits <- struct{}{}:
	default: // a signal is already waiting
	}
}

// Commits receives a signal after write transactions of the store commit:
// one waiting signal stands for every commit since it was sent, so it has
// exactly one consumer, the SQLite checkpointer, which thus sleeps while
// Herald writes nothing (elsewhere the one slot fills and stays unread).
func (s *Store) Commits() <-chan struct{} { return s.writes.commits }

func (h *writeCheck) lastProbe() (time.Time, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.probedAt, h.probeErr
}

func (h *writeCheck) setProbe(at time.Time, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.probedAt, h.probeErr = at, err
}

// CheckWrites reports whether the store can commit a write: a database that
// answers reads can still refuse every write (a full disk, a read-only
// PostgreSQL after a failover, a lock held elsewhere). A write committed in
// the last writeCheckEvery answers at once; otherwise a probe commits a
// write that leaves nothing behind. While a probe runs, other callers get
// the previous probe's answer rather than queue behind it.
func (s *Store) CheckWrites(ctx context.Context) error {
	h := &s.writes
	if last := h.lastCommit.Load(); time.Since(time.Unix(0, last)) < writeCheckEvery {
		return nil
	}
	if !h.probing.TryLock() {
		_, err := h.lastProbe()
		return err
	}
	defer h.probing.Unlock()
	if at, err := h.lastProbe(); time.Since(at) < writeCheckEvery {
		return err
	}
	err := s.probeWrite(ctx)
	h.setProbe(time.Now(), err)
	return err
}

// probeWrite commits one transaction that inserts and deletes an
// idempotency key of no tenant (tenant ids are never empty), so it writes to
// the database's storage like any publish and leaves no row behind.
func (s *Store) probeWrite(ctx context.Context) error {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	key := "herald-write-probe-" + hex.EncodeToString(b)
	err := s.write(ctx, func(tx *tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (tenant_id, key, request_hash, event_ids, created_at)
			VALUES ('', ?, '', '', 0)`, key); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE tenant_id = '' AND key = ?`, key)
		return err
	})
	if err != nil {
		return fmt.Errorf("write probe: %w", err)
	}
	return nil
}
