package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlite"
)

func TestCrashWhileLeased(t *testing.T)       { testCrashWhileLeased(t, newSQLiteStore) }
func TestConcurrentPublishClaim(t *testing.T) { testConcurrentPublishClaim(t, newSQLiteStore) }
func BenchmarkPublish(b *testing.B)           { benchPublish(b, newSQLiteStore) }
func BenchmarkClaimComplete(b *testing.B)     { benchClaimComplete(b, newSQLiteStore) }

// testCrashWhileLeased: a dispatcher leases notifications and its process
// stops before recording any result; after a restart nothing is lost.
func testCrashWhileLeased(t *testing.T, newStore newStoreFunc) {
	s, reopen := newStore(t)
	ten := mustTenant(t, s)
	w := mustWebhook(t, s, ten.ID, "*")
	ids := publishTo(t, s, ten.ID, w.ID, 3, t0)
	now := t0.Add(time.Second)
	if got := claim(t, s, "crashed", now, 10, w.ID); len(got) != 3 {
		t.Fatalf("claimed %d, want 3", len(got))
	}
	noErr(t, s.Close(), "close")

	s = reopen()
	checkSurvived(t, s, ten.ID, w.ID, ids, now)
}

// checkSurvived checks that the leased notifications ids are stored,
// pending and, once every lease is released, claimable.
func checkSurvived(t *testing.T, s testStore, tenantID, hookID string, ids []string, now time.Time) {
	t.Helper()
	got := searchAll(t, s, store.NotificationFilter{TenantID: tenantID})
	if !sameSet(noteIDs(got), ids) {
		t.Fatalf("after restart found %v, want %v", noteIDs(got), ids)
	}
	for _, n := range got {
		if n.Status != store.StatusPending || n.Attempts != 0 || len(n.Payload) == 0 {
			t.Fatalf("after restart %+v, want PENDING with no attempts", n)
		}
	}
	if c := claim(t, s, "new", now, 10, hookID); len(c) != 0 {
		t.Fatalf("claimed %d notifications still leased by the dead process", len(c))
	}
	n, err := s.ReleaseLeases(ctxOf(t), "")
	noErr(t, err, "release")
	if n != len(ids) {
		t.Fatalf("released %d leases, want %d", n, len(ids))
	}
	c := claim(t, s, "new", now, 10, hookID)
	if !slices.Equal(claimedIDs(c), ids) {
		t.Fatalf("after release claimed %v, want %v", claimedIDs(c), ids)
	}
	for _, x := range c {
		if x.Attempt != 1 || len(x.Payload) == 0 {
			t.Fatalf("after restart claimed %+v, want attempt 1 with its payload", x)
		}
	}
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
	noErr(t, err, "reopen")
	defer s.Close()
	checkSurvived(t, s, tenantID, hookID, ids, t0.Add(time.Second))
}

func killedChild(t *testing.T, path string) {
	s, err := sqlite.Open(context.Background(), path)
	noErr(t, err, "open")
	ten := mustTenant(t, s)
	w := mustWebhook(t, s, ten.ID, "*")
	ids := publishTo(t, s, ten.ID, w.ID, 3, t0)
	if got := claim(t, s, "crashed", t0.Add(time.Second), 10, w.ID); len(got) != 3 {
		t.Fatalf("child claimed %d", len(got))
	}
	fmt.Printf("ids %s %s %s\n", ten.ID, w.ID, strings.Join(ids, " "))
	os.Stdout.Sync()
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	time.Sleep(time.Minute)
}

// testConcurrentPublishClaim publishes from several goroutines while others
// claim and complete, on one store: every notification is delivered once.
func testConcurrentPublishClaim(t *testing.T, newStore newStoreFunc) {
	s, _ := newStore(t)
	ctx := ctxOf(t)
	ten := mustTenant(t, s)
	var hooks []string
	for range 3 {
		hooks = append(hooks, mustWebhook(t, s, ten.ID, "*").ID)
	}
	const publishers, perPublisher, claimers = 4, 40, 3
	now := t0.Add(time.Hour) // every event is published before now: all due

	var published sync.Map // notification id -> true
	var completions sync.Map
	var pubWG, claimWG sync.WaitGroup
	var publishing atomic.Bool
	publishing.Store(true)
	errs := make(chan error, publishers+claimers)
	for p := range publishers {
		pubWG.Go(func() {
			for i := range perPublisher {
				at := t0.Add(time.Duration(p*perPublisher+i) * time.Millisecond)
				events := []store.Event{newEvent("TRANSACTION", at)}
				if i%4 == 0 {
					events = append(events, newEvent("KYC_RESULT", at))
				}
				res, err := s.Publish(ctx, store.PublishRequest{TenantID: ten.ID, Events: events, Now: at})
				if err != nil {
					errs <- fmt.Errorf("publish: %w", err)
					return
				}
				for _, pe := range res.Events {
					for _, r := range pe.Notifications {
						published.Store(r.ID, true)
					}
				}
			}
		})
	}
	for c := range claimers {
		claimWG.Go(func() {
			owner := fmt.Sprintf("claimer-%d", c)
			for {
				done := !publishing.Load()
				req := store.Claim{Owner: owner, Now: now, LeaseUntil: now.Add(time.Hour)}
				for _, h := range hooks {
					req.Requests = append(req.Requests, store.ClaimRequest{WebhookID: h, Limit: 7})
				}
				got, err := s.Claim(ctx, req)
				if err != nil {
					errs <- fmt.Errorf("claim: %w", err)
					return
				}
				if len(got) == 0 {
					if done {
						return
					}
					time.Sleep(time.Millisecond)
					continue
				}
				results := make([]store.AttemptResult, len(got))
				for i, x := range got {
					if n, _ := completions.LoadOrStore(x.ID, new(atomic.Int32)); n.(*atomic.Int32).Add(1) != 1 {
						errs <- fmt.Errorf("notification %s claimed twice", x.ID)
						return
					}
					results[i] = result(x, store.StatusDelivered, now, time.Time{})
				}
				if err := s.Complete(ctx, results, now); err != nil {
					errs <- fmt.Errorf("complete: %w", err)
					return
				}
			}
		})
	}
	pubWG.Wait()
	publishing.Store(false)
	claimWG.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	var want []string
	published.Range(func(k, _ any) bool { want = append(want, k.(string)); return true })
	if n := 3 * (publishers*perPublisher + publishers*perPublisher/4); len(want) != n {
		t.Fatalf("publishes named %d notifications, want %d", len(want), n)
	}
	all := searchAll(t, s, store.NotificationFilter{TenantID: ten.ID})
	if !sameSet(noteIDs(all), want) {
		t.Fatalf("stored %d notifications, published %d", len(all), len(want))
	}
	for _, n := range all {
		if n.Status != store.StatusDelivered || n.Attempts != 1 || len(n.AttemptLog) != 1 {
			t.Fatalf("notification %s: %s, %d attempts, %d logged; want DELIVERED once", n.ID, n.Status, n.Attempts, len(n.AttemptLog))
		}
		if c, ok := completions.Load(n.ID); !ok || c.(*atomic.Int32).Load() != 1 {
			t.Fatalf("notification %s completed %v times, want once", n.ID, c)
		}
	}
	if d := searchAll(t, s, store.NotificationFilter{TenantID: ten.ID, Status: store.StatusDelivered}); len(d) != len(want) {
		t.Fatalf("%d DELIVERED, want %d", len(d), len(want))
	}
}

// benchPublish measures one publish of one event with one subscriber.
func benchPublish(b *testing.B, newStore newStoreFunc) {
	s, _ := newStore(b)
	ten := mustTenant(b, s)
	mustWebhook(b, s, ten.ID, "*")
	ctx := ctxOf(b)
	b.ReportAllocs()
	for b.Loop() {
		e := newEvent("TRANSACTION", t0)
		if _, err := s.Publish(ctx, store.PublishRequest{TenantID: ten.ID, Events: []store.Event{e}, Now: t0}); err != nil {
			b.Fatal(err)
		}
	}
}

// benchClaimComplete measures claiming a batch of 100 notifications and
// completing them (one op = 100 notifications).
func benchClaimComplete(b *testing.B, newStore newStoreFunc) {
	const batch = 100
	s, _ := newStore(b)
	ten := mustTenant(b, s)
	w := mustWebhook(b, s, ten.ID, "*")
	ctx := ctxOf(b)
	now := t0.Add(time.Hour)
	fill := func() {
		events := make([]store.Event, batch)
		for i := range events {
			events[i] = newEvent("TRANSACTION", t0)
		}
		if _, err := s.Publish(ctx, store.PublishRequest{TenantID: ten.ID, Events: events, Now: t0}); err != nil {
			b.Fatal(err)
		}
	}
	results := make([]store.AttemptResult, 0, batch)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		fill()
		b.StartTimer()
		got, err := s.Claim(ctx, store.Claim{Owner: "bench", Now: now, LeaseUntil: now.Add(time.Minute),
			Requests: []store.ClaimRequest{{WebhookID: w.ID, Limit: batch}}})
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != batch {
			b.Fatalf("claimed %d, want %d", len(got), batch)
		}
		results = results[:0]
		for _, x := range got {
			results = append(results, result(x, store.StatusDelivered, now, time.Time{}))
		}
		if err := s.Complete(ctx, results, now); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/notification")
}

// TestSQLiteOddPath is SQLite-specific: the database file is where it was
// asked to be, whatever characters its directory name holds.
func TestSQLiteOddPath(t *testing.T) {
	for _, name := range []string{"with space", "hash#dir", "question?dir", "percent%41dir"} {
		dir := filepath.Join(t.TempDir(), name)
		noErr(t, os.Mkdir(dir, 0o755), "mkdir")
		path := filepath.Join(dir, "herald.db")
		s, err := sqlite.Open(t.Context(), path)
		noErr(t, err, "open "+path)
		ten := mustTenant(t, s)
		noErr(t, s.Close(), "close")
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("database for %q not created at %s: %v", name, path, err)
		}
		s, err = sqlite.Open(t.Context(), path)
		noErr(t, err, "reopen "+path)
		_, err = s.Tenant(t.Context(), ten.ID)
		_ = s.Close()
		noErr(t, err, "tenant after reopening "+path)
	}
}
