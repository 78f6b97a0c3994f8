package sqlite_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store/sqlite"
	"github.com/heraldhq/herald/internal/storetest"
)

// TestCheckpointCopiesWAL: the writer leaves small WALs to the
// checkpointer (its own threshold is 40 MB), so what Open's migrations and
// a tenant wrote reaches the database file only through Checkpoint, woken
// by the tenant's commit (the migrations commit outside the store); it
// returns once its context ends.
func TestCheckpointCopiesWAL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	s, err := sqlite.Open(t.Context(), path)
	storetest.NoErr(t, err, "open")
	t.Cleanup(func() { _ = s.Close() })
	storetest.MustTenant(t, s)
	before := fileSize(t, path)
	wal := fileSize(t, path+"-wal")
	if wal == 0 {
		t.Fatal("the migrations left nothing in the WAL")
	}

	ctx, stop := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Checkpoint(ctx, time.Millisecond, slog.New(slog.DiscardHandler))
	}()
	deadline := time.Now().Add(10 * time.Second)
	for fileSize(t, path) == before {
		if time.Now().After(deadline) {
			t.Fatalf("database file still %d bytes after 10 s with a %d-byte WAL: nothing checkpointed", before, wal)
		}
		time.Sleep(time.Millisecond)
	}
	stop()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Checkpoint did not return after its context ended")
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	storetest.NoErr(t, err, "stat")
	return fi.Size()
}
