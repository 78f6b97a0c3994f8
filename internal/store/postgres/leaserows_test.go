package postgres_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/policy"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/storetest"
)

// TestLeaseColumnsUnindexed: no index of notifications covers a lease
// column, in its keys or its predicate, and its pages keep room for a
// second version of their rows; so a claim's lease update is heap-only.
func TestLeaseColumnsUnindexed(t *testing.T) {
	_, url := openPostgres(t)
	ctx := context.Background()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'notifications'`)
	if err != nil {
		t.Fatalf("list indexes: %v", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			t.Fatalf("scan index: %v", err)
		}
		n++
		if strings.Contains(def, "lease_") {
			t.Errorf("index %s covers a lease column: %s", name, def)
		}
	}
	if err := rows.Err(); err != nil || n < 5 {
		t.Fatalf("read %d indexes of notifications (err %v), want at least 5", n, err)
	}
	var raw string
	if err := db.QueryRowContext(ctx, `SELECT coalesce(array_to_string(reloptions, ','), '') FROM pg_class WHERE relname = 'notifications'`).Scan(&raw); err != nil {
		t.Fatalf("read reloptions: %v", err)
	}
	opts := strings.Split(raw, ",")
	if !slices.Contains(opts, "fillfactor=80") {
		t.Fatalf("notifications reloptions %v, want fillfactor=80", opts)
	}
}

// TestLeaseRows: live leases count across dispatchers from their lease
// rows: hand-offs at publish and claims add to them, recorded results take
// away, a lease that ends without a result stops counting when its
// owner's last lease ends, and released leases count no more.
func TestLeaseRows(t *testing.T) {
	s, _ := openPostgres(t)
	ctx := context.Background()
	ten := storetest.MustTenant(t, s)
	w := storetest.MustWebhook(t, s, ten.ID, "TRANSACTION") // max_in_flight 16
	now := storetest.T0.Add(time.Second)

	// a, the publishing process, takes 10 notifications at publish.
	a := &grantingHandoff{owner: "a", grants: 10, lease: 20 * time.Second}
	for i := range 60 {
		ev := store.Event{ID: uuid.NewString(), Name: "TRANSACTION", Created: storetest.T0.Add(time.Duration(i) * time.Millisecond)}
		ev.Payload = json.RawMessage(fmt.Sprintf(`{"id":%q}`, ev.ID))
		if _, err := s.Publish(ctx, store.PublishRequest{TenantID: ten.ID, Events: []store.Event{ev}, Now: now, Handoff: a}); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	if len(a.taken) != 10 {
		t.Fatalf("a took %d notifications at publish, want 10", len(a.taken))
	}
	claim := func(owner string, at time.Time) []store.Claimed {
		t.Helper()
		got, err := s.Claim(ctx, store.Claim{Owner: owner, Now: at, LeaseUntil: at.Add(time.Minute),
			Requests: []store.ClaimRequest{{WebhookID: w.ID, Limit: 40, MaxInFlight: 16, MaxAhead: 16}}})
		if err != nil {
			t.Fatalf("claim by %s: %v", owner, err)
		}
		return got
	}
	if b := claim("b", now); len(b) != 6 {
		t.Fatalf("b claimed %d beside a's 10 hand-offs, want 6 (16 in all)", len(b))
	}
	var results []store.AttemptResult
	for _, n := range a.taken[:4] {
		results = append(results, store.AttemptResult{LeaseToken: n.LeaseToken, WebhookID: n.WebhookID, Status: store.StatusDelivered,
			Attempt: store.Attempt{NotificationID: n.ID, Number: n.Attempt, Started: now, Duration: time.Millisecond, StatusCode: 200}})
	}
	if _, err := s.Complete(ctx, store.Completion{Results: results, Now: now, Health: policy.Policy{}}); err != nil {
		t.Fatalf("complete: %v", err)
	}
	// The same results again change nothing: they no longer hold a lease.
	if _, err := s.Complete(ctx, store.Completion{Results: results, Now: now, Health: policy.Policy{}}); err != nil {
		t.Fatalf("complete again: %v", err)
	}
	if b := claim("b", now); len(b) != 4 {
		t.Fatalf("b claimed %d after a recorded 4 results, want 4 (a holds 6, b 6)", len(b))
	}

	// Nothing more is recorded. a's leases end 20 s after now, b's a
	// minute after: each row counts until then.
	if c := claim("c", now.Add(59*time.Second)); len(c) != 6 {
		t.Fatalf("c claimed %d while only b's 10 leases are live, want 6", len(c))
	}
	later := now.Add(61 * time.Second)
	if c := claim("c", later); len(c) != 26 {
		t.Fatalf("c claimed %d once b's leases ended too, want 26 (alone with 6: up to 16 and 16 ahead)", len(c))
	}
	if released, err := s.ReleaseLeases(ctx, "c"); err != nil || released != 32 {
		t.Fatalf("release c's leases: %d, %v; want 32", released, err)
	}
	if d := claim("d", later); len(d) != 32 {
		t.Fatalf("d claimed %d after c released its leases, want 32", len(d))
	}
}

// TestHandoffCountsOthersLeases: a publish tells its executor the live
// leases of other dispatchers only; its own it counts in its slots, and
// counting them twice halved what a replica could be handed.
func TestHandoffCountsOthersLeases(t *testing.T) {
	s, _ := openPostgres(t)
	ctx := context.Background()
	ten := storetest.MustTenant(t, s)
	w := storetest.MustWebhook(t, s, ten.ID, "TRANSACTION")
	now := storetest.T0.Add(time.Second)
	publish := func(h *grantingHandoff, n int) {
		t.Helper()
		for i := range n {
			ev := store.Event{ID: uuid.NewString(), Name: "TRANSACTION", Created: storetest.T0.Add(time.Duration(i) * time.Millisecond)}
			ev.Payload = json.RawMessage(fmt.Sprintf(`{"id":%q}`, ev.ID))
			if _, err := s.Publish(ctx, store.PublishRequest{TenantID: ten.ID, Events: []store.Event{ev}, Now: now, Handoff: h}); err != nil {
				t.Fatalf("publish by %s: %v", h.owner, err)
			}
		}
	}
	a := &grantingHandoff{owner: "a", grants: 3, lease: time.Minute}
	publish(a, 3)
	publish(&grantingHandoff{owner: "none", lease: time.Minute}, 5) // queued, for b
	got, err := s.Claim(ctx, store.Claim{Owner: "b", Now: now, LeaseUntil: now.Add(time.Minute),
		Requests: []store.ClaimRequest{{WebhookID: w.ID, Limit: 5, MaxInFlight: 16}}})
	if err != nil || len(got) != 5 {
		t.Fatalf("b claimed %d (%v), want 5", len(got), err)
	}
	a.leased, a.grants = nil, 1
	publish(a, 1)
	b := &grantingHandoff{owner: "b", grants: 1, lease: time.Minute}
	publish(b, 1)
	if !slices.Equal(a.leased, []int{5}) || !slices.Equal(b.leased, []int{4}) {
		t.Fatalf("a saw %v leased, b %v; want b's 5 for a and a's 4 for b, not their own", a.leased, b.leased)
	}
}

// grantingHandoff is a store.Handoff that takes up to grants notifications.
type grantingHandoff struct {
	owner  string
	lease  time.Duration
	mu     sync.Mutex
	grants int
	taken  []store.Claimed
	// leased: Subscriber.Leased at each Reserve.
	leased []int
}

func (h *grantingHandoff) Owner() string { return h.owner }

func (h *grantingHandoff) Reserve(sub store.Subscriber, now time.Time) (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.leased = append(h.leased, sub.Leased)
	if h.grants == 0 {
		return time.Time{}, false
	}
	h.grants--
	return now.Add(h.lease), true
}

func (h *grantingHandoff) Release(string, int) {}

func (h *grantingHandoff) Take(claimed []store.Claimed) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.taken = append(h.taken, claimed...)
}
