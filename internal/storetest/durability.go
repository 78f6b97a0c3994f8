package storetest

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/policy"
	"github.com/heraldhq/herald/internal/store"
)

// testCrashWhileLeased: a dispatcher leases notifications and its process
// stops before recording any result; after a restart nothing is lost.
func testCrashWhileLeased(t *testing.T, newStore NewStoreFunc) {
	s, reopen := newStore(t)
	ten := MustTenant(t, s)
	w := MustWebhook(t, s, ten.ID, "*")
	ids := PublishTo(t, s, ten.ID, w.ID, 3, T0)
	now := T0.Add(time.Second)
	if got := Claim(t, s, "crashed", now, 10, w.ID); len(got) != 3 {
		t.Fatalf("claimed %d, want 3", len(got))
	}
	NoErr(t, s.Close(), "close")

	s = reopen()
	CheckSurvived(t, s, ten.ID, w.ID, ids, now)
}

// CheckSurvived checks that the leased notifications ids are stored,
// pending and, once every lease is released, claimable.
func CheckSurvived(t *testing.T, s Store, tenantID, hookID string, ids []string, now time.Time) {
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
	if c := Claim(t, s, "new", now, 10, hookID); len(c) != 0 {
		t.Fatalf("claimed %d notifications still leased by the dead process", len(c))
	}
	n, err := s.ReleaseLeases(ctxOf(t), "")
	NoErr(t, err, "release")
	if n != len(ids) {
		t.Fatalf("released %d leases, want %d", n, len(ids))
	}
	c := Claim(t, s, "new", now, 10, hookID)
	if !slices.Equal(claimedIDs(c), ids) {
		t.Fatalf("after release claimed %v, want %v", claimedIDs(c), ids)
	}
	for _, x := range c {
		if x.Attempt != 1 || len(x.Payload) == 0 {
			t.Fatalf("after restart claimed %+v, want attempt 1 with its payload", x)
		}
	}
}

// testConcurrentPublishClaim publishes from several goroutines while others
// claim and complete, on one store: every notification is delivered once.
func testConcurrentPublishClaim(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := ctxOf(t)
	ten := MustTenant(t, s)
	var hooks []string
	for range 3 {
		hooks = append(hooks, MustWebhook(t, s, ten.ID, "*").ID)
	}
	const publishers, perPublisher, claimers = 4, 40, 3
	now := T0.Add(time.Hour) // every event is published before now: all due

	var published sync.Map // notification id -> true
	var completions sync.Map
	var pubWG, claimWG sync.WaitGroup
	var publishing atomic.Bool
	publishing.Store(true)
	errs := make(chan error, publishers+claimers)
	for p := range publishers {
		pubWG.Go(func() {
			for i := range perPublisher {
				at := T0.Add(time.Duration(p*perPublisher+i) * time.Millisecond)
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
				if _, err := s.Complete(ctx, store.Completion{Results: results, Now: now, Health: policy.Policy{}}); err != nil {
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
func BenchPublish(b *testing.B, newStore NewStoreFunc) {
	s, _ := newStore(b)
	ten := MustTenant(b, s)
	MustWebhook(b, s, ten.ID, "*")
	ctx := ctxOf(b)
	b.ReportAllocs()
	for b.Loop() {
		e := newEvent("TRANSACTION", T0)
		// As a TRANSACTION carries them: its card, user and transaction ids.
		e.Subjects = benchSubjects(e.ID)
		if _, err := s.Publish(ctx, store.PublishRequest{TenantID: ten.ID, Events: []store.Event{e}, Now: T0}); err != nil {
			b.Fatal(err)
		}
	}
	catchUpSubjects(b, s)
}

// catchUpSubjects indexes, where a store indexes subject ids after the
// publish (SQLite's subject log), what a served store's indexer would have:
// within a publish benchmark's time, as part of what a publish costs.
func catchUpSubjects(tb testing.TB, s Store) {
	tb.Helper()
	if x, ok := s.(interface{ CatchUpSubjects(context.Context) error }); ok {
		NoErr(tb, x.CatchUpSubjects(ctxOf(tb)), "index subject ids")
	}
}

// BenchPublishConcurrent measures single-event publishes from 64
// goroutines at once, as the publish scenario of herald bench sends them
// (group commit shares each transaction among the publishes queued).
func BenchPublishConcurrent(b *testing.B, newStore NewStoreFunc) {
	s, _ := newStore(b)
	ten := MustTenant(b, s)
	MustWebhook(b, s, ten.ID, "*")
	ctx := ctxOf(b)
	b.ReportAllocs()
	b.SetParallelism(32) // 64 publishers on 2 CPUs
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			e := newEvent("TRANSACTION", T0)
			e.Subjects = benchSubjects(e.ID)
			if _, err := s.Publish(ctx, store.PublishRequest{TenantID: ten.ID, Events: []store.Event{e}, Now: T0}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	catchUpSubjects(b, s)
}

// benchClaimComplete measures claiming a batch of 100 notifications and
// completing them (one op = 100 notifications).
func BenchClaimComplete(b *testing.B, newStore NewStoreFunc) {
	const batch = 100
	s, _ := newStore(b)
	ten := MustTenant(b, s)
	w := MustWebhook(b, s, ten.ID, "*")
	ctx := ctxOf(b)
	now := T0.Add(time.Hour)
	fill := func() {
		events := make([]store.Event, batch)
		for i := range events {
			events[i] = newEvent("TRANSACTION", T0)
		}
		if _, err := s.Publish(ctx, store.PublishRequest{TenantID: ten.ID, Events: events, Now: T0}); err != nil {
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
			r := result(x, store.StatusDelivered, now, time.Time{})
			r.Attempt.RequestHeaders, r.Attempt.ResponseHeaders = deliveryHeaders(r.Attempt) // as a delivery records them
			results = append(results, r)
		}
		if _, err := s.Complete(ctx, store.Completion{Results: results, Now: now, Health: policy.Policy{}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/notification")
}

// benchSubjects are the ids a published benchmark event carries: those of
// the TRANSACTION PURCHASE sample (as herald bench publishes it), or, with
// HERALD_BENCH_DISTINCT_IDS=1, a card, user and transaction of its own (the
// worst case for the indexes: every insert at a random place).
func benchSubjects(eventID string) store.Subjects {
	if os.Getenv("HERALD_BENCH_DISTINCT_IDS") == "1" {
		return store.Subjects{CardID: "card-" + eventID, UserID: "user-" + eventID, TransactionID: eventID}
	}
	return store.Subjects{CardID: "8ac1eba8-9ccd-4cf7-acb1-8666007a9634", UserID: "2f8548e5-f505-491a-aeee-830948fa3046",
		TransactionID: "9829a089-1804-40b6-9920-d31bacc07f17"}
}
