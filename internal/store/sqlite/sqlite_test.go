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

	"github.com/heraldhq/herald/internal/secrets"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlite"
	"github.com/heraldhq/herald/internal/store/sqlstore"
	"github.com/heraldhq/herald/internal/storetest"
)

func TestContract(t *testing.T)               { storetest.Run(t, newSQLiteStore) }
func BenchmarkPublish(b *testing.B)           { storetest.BenchPublish(b, newSQLiteStore) }
func BenchmarkClaimComplete(b *testing.B)     { storetest.BenchClaimComplete(b, newSQLiteStore) }
func BenchmarkPublishFilters(b *testing.B)    { storetest.BenchPublishFilters(b, newSQLiteStore) }
func BenchmarkSearchByCard(b *testing.B)      { storetest.BenchSearchByCard(b, newSQLiteStore) }
func BenchmarkPublishConcurrent(b *testing.B) { storetest.BenchPublishConcurrent(b, newSQLiteStore) }

// TestReplayPlan: a replay walks the tenant's events by index and looks up
// their notifications by index, with no temporary sort.
func TestReplayPlan(t *testing.T) {
	storetest.CheckReplayPlan(t, newSQLiteStore,
		[]string{"USING INDEX events_tenant_created", "USING INDEX notifications_event"},
		[]string{"SCAN e", "SCAN n", "TEMP B-TREE"})
}

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

// openSealed opens the database at path with the keyring spec.
func openSealed(t *testing.T, path, spec string) *sqlite.Store {
	t.Helper()
	k, err := secrets.Parse(spec)
	storetest.NoErr(t, err, "keyring")
	s, err := sqlite.Open(t.Context(), path, sqlstore.WithSealer(k))
	storetest.NoErr(t, err, "open")
	return s
}

// TestResealAfterRotation: webhooks written under one key read under
// "new,old", Reseal rewrites them under the new key, and then the new key
// alone opens them; a store opened with an unrelated key fails CheckSecrets.
func TestResealAfterRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	oldKey, _ := secrets.NewKey()
	newKey, _ := secrets.NewKey()
	open := func(spec string) *sqlite.Store { return openSealed(t, path, spec) }
	s := open(oldKey)
	ten := storetest.MustTenant(t, s)
	var ids []string
	for range 3 {
		w := storetest.MustWebhook(t, s, ten.ID, "*")
		_, err := s.UpdateWebhook(t.Context(), ten.ID, w.ID, func(w *store.Webhook) error {
			w.Config.BasicAuthUsername, w.Config.BasicAuthPassword = "u", "rotate-me"
			return nil
		})
		storetest.NoErr(t, err, "set password")
		ids = append(ids, w.ID)
	}
	storetest.NoErr(t, s.Close(), "close")

	s = open(newKey + "," + oldKey)
	n, err := s.Reseal(t.Context())
	storetest.NoErr(t, err, "reseal")
	if n != 3 {
		t.Fatalf("resealed %d webhooks, want 3", n)
	}
	storetest.NoErr(t, s.Close(), "close")

	s = open(newKey)
	storetest.NoErr(t, s.CheckSecrets(t.Context()), "check secrets with the new key")
	for _, id := range ids {
		w, err := s.Webhook(t.Context(), ten.ID, id)
		storetest.NoErr(t, err, "read after reseal")
		if w.Config.BasicAuthPassword != "rotate-me" {
			t.Errorf("password after reseal = %q", w.Config.BasicAuthPassword)
		}
	}
	storetest.NoErr(t, s.Close(), "close")

	other, _ := secrets.NewKey()
	s = open(other)
	defer s.Close()
	if err := s.CheckSecrets(t.Context()); err == nil || !strings.Contains(err.Error(), "HERALD_ENCRYPTION_KEY") {
		t.Errorf("CheckSecrets with an unrelated key = %v, want an error naming HERALD_ENCRYPTION_KEY", err)
	}
}
