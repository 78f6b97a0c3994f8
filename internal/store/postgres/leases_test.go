package postgres_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/policy"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/storetest"
)

// TestLeaseRows: on PostgreSQL leases are rows of their own. Every way a
// lease ends removes its row (a result, a release, the webhook's
// deletion), a stale result leaves the lease that replaced it alone, and
// a lease that ran out is taken over in place; a row left behind would
// hold a slot of max_in_flight until it ran out.
func TestLeaseRows(t *testing.T) {
	s, url := openPostgres(t)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer db.Close()
	ctx := context.Background()
	leases := func(want int, when string) {
		t.Helper()
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM leases`).Scan(&n); err != nil {
			t.Fatalf("count leases: %v", err)
		}
		if n != want {
			t.Fatalf("%s: %d lease rows, want %d", when, n, want)
		}
	}
	status := func(id string) string {
		t.Helper()
		var st string
		if err := db.QueryRowContext(ctx, `SELECT status FROM notifications WHERE id = $1`, id).Scan(&st); err != nil {
			t.Fatalf("read notification: %v", err)
		}
		return st
	}
	complete := func(at time.Time, c ...store.Claimed) {
		t.Helper()
		var rs []store.AttemptResult
		for _, n := range c {
			rs = append(rs, store.AttemptResult{LeaseToken: n.LeaseToken, WebhookID: n.WebhookID, Status: store.StatusDelivered,
				Attempt: store.Attempt{NotificationID: n.ID, Number: n.Attempt, Started: at, Duration: time.Millisecond, StatusCode: 200}})
		}
		if _, err := s.Complete(ctx, store.Completion{Results: rs, Now: at, Health: policy.Policy{}}); err != nil {
			t.Fatalf("complete: %v", err)
		}
	}

	ten := storetest.MustTenant(t, s)
	w := storetest.MustWebhook(t, s, ten.ID, "TRANSACTION")
	storetest.PublishTo(t, s, ten.ID, w.ID, 8, storetest.T0)
	now := storetest.T0.Add(time.Second)
	a := storetest.Claim(t, s, "a", now, 5, w.ID)
	if len(a) != 5 {
		t.Fatalf("claimed %d, want 5", len(a))
	}
	leases(5, "after a claim of 5")
	complete(now, a[:2]...)
	leases(3, "after 2 results")
	if st := status(a[0].ID); st != store.StatusDelivered {
		t.Fatalf("a result's notification is %s, want DELIVERED", st)
	}

	// a's leases run out (30 s); b takes them over, and the rest.
	later := now.Add(time.Minute)
	b := storetest.Claim(t, s, "b", later, 10, w.ID)
	if len(b) != 6 {
		t.Fatalf("b claimed %d after a's leases ran out, want 6", len(b))
	}
	leases(6, "after b took over a's 3 leases and 3 more")
	complete(later, a[2]) // stale: b holds it now
	leases(6, "after a stale result")
	if st := status(a[2].ID); st != store.StatusPending {
		t.Fatalf("a stale result moved its notification to %s, want it PENDING under b's lease", st)
	}
	if n, err := s.ReleaseLeases(ctx, "b"); err != nil || n != 6 {
		t.Fatalf("release b's leases: %d (err %v), want 6", n, err)
	}
	leases(0, "after b released its leases")

	c := storetest.Claim(t, s, "c", later, 10, w.ID)
	if len(c) != 6 {
		t.Fatalf("c claimed %d, want 6", len(c))
	}
	if n, err := s.DeleteWebhook(ctx, ten.ID, w.ID, later); err != nil || n != 6 {
		t.Fatalf("delete the webhook: %d cancelled (err %v), want 6", n, err)
	}
	leases(0, "after the webhook's deletion")
	complete(later, c[0]) // in flight at the deletion: recorded, not delivered
	if st := status(c[0].ID); st != store.StatusCancelled {
		t.Fatalf("a result after the deletion moved its notification to %s, want CANCELLED", st)
	}
}

// TestStaleResultDuringTakeover: a result whose lease ran out arrives while
// a claim is taking that lease over (the claim holds the notification and
// is about to write the lease). The result waits for the notification
// before it touches the lease, so the claim finishes (the opposite order
// deadlocks), and the result, stale once the claim commits, leaves the
// notification and the new lease alone.
func TestStaleResultDuringTakeover(t *testing.T) {
	s, url := openPostgres(t)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer db.Close()
	ctx := context.Background()
	ten := storetest.MustTenant(t, s)
	w := storetest.MustWebhook(t, s, ten.ID, "TRANSACTION")
	storetest.PublishTo(t, s, ten.ID, w.ID, 1, storetest.T0)
	now := storetest.T0.Add(time.Second)
	a := storetest.Claim(t, s, "a", now, 1, w.ID)
	if len(a) != 1 {
		t.Fatalf("claimed %d, want 1", len(a))
	}
	n := a[0]

	// The claim of b, a minute later, as far as its lock on the notification.
	claim, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	defer claim.Rollback()
	if _, err := claim.ExecContext(ctx, `SELECT id FROM notifications WHERE id = $1 FOR UPDATE`, n.ID); err != nil {
		t.Fatalf("lock the notification: %v", err)
	}
	later := now.Add(time.Minute)
	done := make(chan error, 1)
	go func() {
		_, err := s.Complete(ctx, store.Completion{Now: later, Health: policy.Policy{}, Results: []store.AttemptResult{{
			LeaseToken: n.LeaseToken, WebhookID: w.ID, Status: store.StatusDelivered,
			Attempt: store.Attempt{NotificationID: n.ID, Number: n.Attempt, Started: later, Duration: time.Millisecond, StatusCode: 200}}}})
		done <- err
	}()
	waitFor(t, db, `SELECT count(*) = 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)

	quick, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := claim.ExecContext(quick, `UPDATE leases SET lease_owner = 'b', lease_token = 'b/1', lease_expires_at = $2
		WHERE notification_id = $1`, n.ID, later.Add(30*time.Second).UnixMilli()); err != nil {
		t.Fatalf("the claim's lease write while the stale result waits: %v", err)
	}
	if err := claim.Commit(); err != nil {
		t.Fatalf("commit the claim: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the stale result: %v", err)
	}
	var status, token string
	if err := db.QueryRowContext(ctx, `SELECT n.status, l.lease_token FROM notifications n JOIN leases l ON l.notification_id = n.id
		WHERE n.id = $1`, n.ID).Scan(&status, &token); err != nil {
		t.Fatalf("read the notification and its lease: %v", err)
	}
	if status != store.StatusPending || token != "b/1" {
		t.Fatalf("after the stale result: %s, leased to %q; want PENDING, leased to b/1", status, token)
	}
}

// waitFor polls a query returning one boolean until it is true.
func waitFor(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var ok bool
		if err := db.QueryRow(q).Scan(&ok); err != nil {
			t.Fatalf("wait: %v", err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for: %s", q)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
