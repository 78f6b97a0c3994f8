package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store/sqlite"
	"github.com/heraldhq/herald/internal/store/storetest"
)

func TestContract(t *testing.T)           { storetest.Run(t, newSQLiteStore) }
func BenchmarkPublish(b *testing.B)       { storetest.BenchPublish(b, newSQLiteStore) }
func BenchmarkClaimComplete(b *testing.B) { storetest.BenchClaimComplete(b, newSQLiteStore) }

// newSQLiteStore is the SQLite constructor: a real database file in a
// temporary directory.
func newSQLiteStore(tb testing.TB) (storetest.Store, func() storetest.Store) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "herald.db")
	open := func() storetest.Store {
		tb.Helper()
		s, err := sqlite.Open(context.Background(), path)
		if err != nil {
			tb.Fatalf("open %s: %v", path, err)
		}
		tb.Cleanup(func() { _ = s.Close() })
		return s
	}
	return open(), open
}

const killEnv = "HERALD_SQLITE_KILL_TEST_DB"

// TestSQLiteKilled is SQLite-specific: a child process publishes, claims and
// is killed with SIGKILL, without closing the database (its writes are only
// in the WAL). The parent then opens the file.
func TestSQLiteKilled(t *testing.T) {
	if path := os.Getenv(killEnv); path != "" {
		killedChild(t, path)
		return
	}
	path := filepath.Join(t.TempDir(), "herald.db")
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestSQLiteKilled$", "-test.count=1")
	cmd.Env = append(os.Environ(), killEnv+"="+path)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || !strings.Contains(exit.String(), "killed") {
		t.Fatalf("child: %v, want it killed\n%s", err, out)
	}
	var tenantID, hookID string
	var ids []string
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "ids "); ok {
			f := strings.Fields(rest)
			tenantID, hookID, ids = f[0], f[1], f[2:]
		}
	}
	if len(ids) != 3 {
		t.Fatalf("child did not report its notifications:\n%s", out)
	}
	s, err := sqlite.Open(t.Context(), path)
	storetest.NoErr(t, err, "reopen")
	defer s.Close()
	storetest.CheckSurvived(t, s, tenantID, hookID, ids, storetest.T0.Add(time.Second))
}

func killedChild(t *testing.T, path string) {
	s, err := sqlite.Open(context.Background(), path)
	storetest.NoErr(t, err, "open")
	ten := storetest.MustTenant(t, s)
	w := storetest.MustWebhook(t, s, ten.ID, "*")
	ids := storetest.PublishTo(t, s, ten.ID, w.ID, 3, storetest.T0)
	if got := storetest.Claim(t, s, "crashed", storetest.T0.Add(time.Second), 10, w.ID); len(got) != 3 {
		t.Fatalf("child claimed %d", len(got))
	}
	fmt.Printf("ids %s %s %s\n", ten.ID, w.ID, strings.Join(ids, " "))
	os.Stdout.Sync()
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	time.Sleep(time.Minute)
}

// TestSQLiteOddPath is SQLite-specific: the database file is where it was
// asked to be, whatever characters its directory name holds.
func TestSQLiteOddPath(t *testing.T) {
	for _, name := range []string{"with space", "hash#dir", "question?dir", "percent%41dir"} {
		dir := filepath.Join(t.TempDir(), name)
		storetest.NoErr(t, os.Mkdir(dir, 0o755), "mkdir")
		path := filepath.Join(dir, "herald.db")
		s, err := sqlite.Open(t.Context(), path)
		storetest.NoErr(t, err, "open "+path)
		ten := storetest.MustTenant(t, s)
		storetest.NoErr(t, s.Close(), "close")
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("database for %q not created at %s: %v", name, path, err)
		}
		s, err = sqlite.Open(t.Context(), path)
		storetest.NoErr(t, err, "reopen "+path)
		_, err = s.Tenant(t.Context(), ten.ID)
		_ = s.Close()
		storetest.NoErr(t, err, "tenant after reopening "+path)
	}
}
