package postgres_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/heraldhq/herald/internal/policy"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/postgres"
	"github.com/heraldhq/herald/internal/store/postgres/pgtest"
	"github.com/heraldhq/herald/internal/storetest"
)

// newPostgresStore opens a store on a fresh database of its own.
func newPostgresStore(tb testing.TB) (storetest.Store, func() storetest.Store) {
	tb.Helper()
	url := pgtest.Database(tb)
	open := func() storetest.Store {
		tb.Helper()
		s, err := postgres.Open(context.Background(), url)
		if err != nil {
			tb.Fatalf("open postgres: %v", err)
		}
		tb.Cleanup(func() { _ = s.Close() })
		return s
	}
	return open(), open
}

func TestContract(t *testing.T)            { storetest.Run(t, newPostgresStore) }
func BenchmarkPublish(b *testing.B)        { storetest.BenchPublish(b, newPostgresStore) }
func BenchmarkClaimComplete(b *testing.B)  { storetest.BenchClaimComplete(b, newPostgresStore) }
func BenchmarkPublishFilters(b *testing.B) { storetest.BenchPublishFilters(b, newPostgresStore) }
func BenchmarkSearchByCard(b *testing.B)   { storetest.BenchSearchByCard(b, newPostgresStore) }

// TestReplayPlan: without statistics (autovacuum off, no ANALYZE), a
// replay still walks the tenant's events in events_tenant_created and looks
// up each one's notifications in notifications_event: no sequential scan,
// bitmap, hash or sort of either table.
func TestReplayPlan(t *testing.T) {
	storetest.CheckReplayPlan(t, newPostgresStore,
		[]string{"events_tenant_created", "notifications_event", "Nested Loop Anti Join"},
		[]string{"Seq Scan", "Bitmap", "Hash", "Sort", "Merge"})
}

// openPostgres opens a store on a fresh database and returns its URL.
func openPostgres(t *testing.T) (*postgres.Store, string) {
	t.Helper()
	url := pgtest.Database(t)
	s, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, url
}

// TestQuietCompletionTakesNoLock: a result batch that changes nothing of a
// healthy webhook's health but a recent last success neither locks nor
// writes the webhook's row, so it is recorded while another transaction (a
// publish group, a claim) holds that row; a failure waits for the row.
func TestQuietCompletionTakesNoLock(t *testing.T) {
	s, url := openPostgres(t)
	ten := storetest.MustTenant(t, s)
	w := storetest.MustWebhook(t, s, ten.ID, "TRANSACTION")
	storetest.PublishTo(t, s, ten.ID, w.ID, 3, storetest.T0)
	now := storetest.T0.Add(time.Second)
	c := storetest.Claim(t, s, "d", now, 3, w.ID)
	if len(c) != 3 {
		t.Fatalf("claimed %d, want 3", len(c))
	}
	result := func(n store.Claimed, at time.Time, failed bool) store.Completion {
		r := store.AttemptResult{LeaseToken: n.LeaseToken, WebhookID: n.WebhookID, Status: store.StatusDelivered,
			Attempt: store.Attempt{NotificationID: n.ID, Number: n.Attempt, Started: at, Duration: time.Millisecond, StatusCode: 200}}
		if failed {
			r.Status, r.NextAttemptAt, r.ProbeAt = store.StatusPending, at.Add(time.Hour), at.Add(time.Hour)
			r.Attempt.StatusCode, r.Attempt.ErrorKind, r.Attempt.Error = 503, "http_status", "HTTP 503"
		}
		return store.Completion{Results: []store.AttemptResult{r}, Now: at, Health: policy.Policy{}}
	}
	ctx := context.Background()
	if _, err := s.Complete(ctx, result(c[0], now, false)); err != nil {
		t.Fatalf("first success: %v", err)
	}

	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer db.Close()
	hold, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	defer hold.Rollback()
	if _, err := hold.ExecContext(ctx, `SELECT id FROM webhooks WHERE id = $1 FOR UPDATE`, w.ID); err != nil {
		t.Fatalf("lock the webhook row: %v", err)
	}

	quick, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := s.Complete(quick, result(c[1], now.Add(100*time.Millisecond), false)); err != nil {
		t.Fatalf("a quiet success while the webhook's row is held: %v", err)
	}
	var status string
	if err := db.QueryRowContext(ctx, `SELECT status FROM notifications WHERE id = $1`, c[1].ID).Scan(&status); err != nil || status != store.StatusDelivered {
		t.Fatalf("notification %s after its success (err %v), want DELIVERED", status, err)
	}

	failed := make(chan error, 1)
	go func() {
		_, err := s.Complete(ctx, result(c[2], now.Add(200*time.Millisecond), true))
		failed <- err
	}()
	select {
	case err := <-failed:
		t.Fatalf("a failure was recorded (err %v) while the webhook's row was held", err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := hold.Rollback(); err != nil {
		t.Fatalf("release the webhook row: %v", err)
	}
	if err := <-failed; err != nil {
		t.Fatalf("the failure once the row is free: %v", err)
	}
	got, err := s.Webhook(ctx, ten.ID, w.ID)
	if err != nil || got.Health.ConsecutiveFailures != 1 {
		t.Fatalf("after the failure: %d consecutive failures (err %v), want 1", got.Health.ConsecutiveFailures, err)
	}
}

// TestClaimAhead: where every live lease counts against max_in_flight, a
// claimer holding every lease of a webhook may take up to MaxAhead more
// ahead of its free slots (delivery's ready buffer), none without it;
// another dispatcher then gets nothing until the leases fall under
// max_in_flight, and then at most what is left under it; and a claimer
// that is not alone takes no more than max_in_flight in all.
func TestClaimAhead(t *testing.T) {
	s, _ := openPostgres(t)
	ten := storetest.MustTenant(t, s)
	w := storetest.MustWebhook(t, s, ten.ID, "TRANSACTION") // max_in_flight 16
	storetest.PublishTo(t, s, ten.ID, w.ID, 60, storetest.T0)
	now := storetest.T0.Add(time.Second)
	claimAhead := func(owner string, limit, ahead int) []store.Claimed {
		t.Helper()
		c := store.Claim{Owner: owner, Now: now, LeaseUntil: now.Add(time.Minute),
			Requests: []store.ClaimRequest{{WebhookID: w.ID, Limit: limit, MaxInFlight: 16, MaxAhead: ahead}}}
		got, err := s.Claim(context.Background(), c)
		if err != nil {
			t.Fatalf("claim by %s: %v", owner, err)
		}
		return got
	}
	claim := func(owner string, limit int) []store.Claimed { t.Helper(); return claimAhead(owner, limit, 16) }
	a := claimAhead("a", 40, 0)
	if len(a) != 16 {
		t.Fatalf("a, alone and asking for none ahead, claimed %d, want 16", len(a))
	}
	a = append(a, claim("a", 40)...)
	if len(a) != 32 {
		t.Fatalf("a, alone, claimed %d in all, want 32 (16 and 16 ahead)", len(a))
	}
	if b := claim("b", 40); len(b) != 0 {
		t.Fatalf("b claimed %d while a holds 32 leases, want 0", len(b))
	}
	var results []store.AttemptResult
	for _, n := range a[:20] {
		results = append(results, store.AttemptResult{LeaseToken: n.LeaseToken, WebhookID: n.WebhookID, Status: store.StatusDelivered,
			Attempt: store.Attempt{NotificationID: n.ID, Number: n.Attempt, Started: now, Duration: time.Millisecond, StatusCode: 200}})
	}
	if _, err := s.Complete(context.Background(), store.Completion{Results: results, Now: now, Health: policy.Policy{}}); err != nil {
		t.Fatalf("complete: %v", err)
	}
	if b := claim("b", 40); len(b) != 4 {
		t.Fatalf("b claimed %d while a holds 12 leases, want 4 (up to 16 in all)", len(b))
	}
	if more := claim("a", 40); len(more) != 0 {
		t.Fatalf("a claimed %d more beside b's leases with 16 live, want 0", len(more))
	}
}
