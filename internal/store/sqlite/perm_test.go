package sqlite_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/heraldhq/herald/internal/store/sqlite"
)

// TestFilesPrivate: the database, its WAL and its shared-memory file are
// readable by their owner only, whether Open creates them or finds them
// world-readable.
func TestFilesPrivate(t *testing.T) {
	for _, tc := range []struct {
		name     string
		existing fs.FileMode // 0: no file yet
	}{{"new database", 0}, {"database left 0644", 0o644}, {"database left 0640", 0o640}} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "herald.db")
			if tc.existing != 0 {
				if err := os.WriteFile(path, nil, tc.existing); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tc.existing); err != nil { // past the umask
					t.Fatal(err)
				}
			}
			s, err := sqlite.Open(t.Context(), path)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			defer s.Close()
			// The WAL and shared-memory files exist while the store is open.
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatalf("stat %s: %v", p, err)
				}
				if perm := fi.Mode().Perm(); perm != 0o600 {
					t.Errorf("%s has mode %o, want 600", filepath.Base(p), perm)
				}
			}
		})
	}
}
