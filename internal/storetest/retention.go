package storetest

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// Purger is a store that applies retention (SPEC section 3).
type Purger interface {
	Purge(ctx context.Context, p store.PurgePolicy) (store.Purged, error)
}

// retentionCutoff returns a time strictly after the millisecond of
// everything made before the call and strictly before the millisecond of
// everything made after it. Retention compares the store's v7 ids, which
// carry the wall clock, so this test runs on the wall clock, not on T0.
func retentionCutoff() time.Time {
	time.Sleep(3 * time.Millisecond)
	c := time.Now().UTC()
	time.Sleep(3 * time.Millisecond)
	return c
}

// attemptOne claims the due notification id of hook now, records the
// outcome of one attempt, and releases whatever else the claim took.
func attemptOne(t *testing.T, s Store, hook, id, status string, next time.Time) {
	t.Helper()
	now := time.Now().UTC()
	var found bool
	for _, c := range Claim(t, s, "retention", now, 100, hook) {
		if c.ID == id {
			found = true
			complete(t, s, now, result(c, status, now, next))
		}
	}
	_, err := s.ReleaseLeases(ctxOf(t), "retention")
	NoErr(t, err, "release")
	if !found {
		t.Fatalf("notification %s of webhook %s was not claimed", id, hook)
	}
}

func onlyRef(t *testing.T, pe store.PublishedEvent, hook string) string {
	t.Helper()
	for _, r := range pe.Notifications {
		if r.WebhookID == hook {
			return r.ID
		}
	}
	t.Fatalf("event %s has no notification for webhook %s", pe.Event.ID, hook)
	return ""
}

func testRetention(t *testing.T, newStore NewStoreFunc) {
	st, _ := newStore(t)
	s, ok := st.(interface {
		Store
		Purger
	})
	if !ok {
		t.Fatalf("%T has no Purge method", st)
	}
	ctx := ctxOf(t)
	a, b, c := MustTenant(t, s), MustTenant(t, s), MustTenant(t, s) // b and c have no webhooks
	main := MustWebhook(t, s, a.ID, "TRANSACTION")
	exp := MustWebhook(t, s, a.ID, "USER_CREATED")
	gone := MustWebhook(t, s, a.ID, "PIN_CHANGE")
	keep := MustWebhook(t, s, a.ID, "PIN_CHANGE", "KYC_RESULT")
	now := func() time.Time { return time.Now().UTC() }
	deliver := func(hook, id string) {
		t.Helper()
		attemptOne(t, s, hook, id, store.StatusDelivered, time.Time{})
	}
	fail := func(hook, id, status string, next time.Time) {
		t.Helper()
		attemptOne(t, s, hook, id, status, next)
	}
	idem := func(tenant, key, hash string) (store.PublishResult, error) {
		at := now()
		return s.Publish(ctx, store.PublishRequest{TenantID: tenant, Events: []store.Event{newEvent("USER_STATUS_CHANGE", at)},
			IdempotencyKey: key, RequestHash: hash, IdempotencyWindow: 24 * time.Hour, Now: at})
	}

	// Before ExpiredBefore: an expired and a delivered notification.
	e1 := publish(t, s, a.ID, "USER_CREATED", now())
	n1 := onlyRef(t, e1, exp.ID)
	fail(exp.ID, n1, store.StatusExpired, time.Time{})
	e1b := publish(t, s, a.ID, "TRANSACTION", now())
	n1b := onlyRef(t, e1b, main.ID)
	deliver(main.ID, n1b)
	expiredBefore := retentionCutoff()

	// Between ExpiredBefore and FinishedBefore.
	e2 := publish(t, s, a.ID, "TRANSACTION", now()) // delivered on its second attempt
	n2 := onlyRef(t, e2, main.ID)
	fail(main.ID, n2, store.StatusPending, now())
	deliver(main.ID, n2)
	e3 := publish(t, s, a.ID, "PIN_CHANGE", now()) // one notification cancelled, one pending
	n3gone, n3keep := onlyRef(t, e3, gone.ID), onlyRef(t, e3, keep.ID)
	_, err := s.DeleteWebhook(ctx, a.ID, gone.ID, now())
	NoErr(t, err, "delete webhook")
	e4 := publish(t, s, a.ID, "USER_CREATED", now()) // expired, but not long enough
	n4 := onlyRef(t, e4, exp.ID)
	fail(exp.ID, n4, store.StatusExpired, time.Time{})
	e5 := publish(t, s, a.ID, "KYC_RESULT", now()) // pending, retried later
	n5 := onlyRef(t, e5, keep.ID)
	fail(keep.ID, n5, store.StatusPending, now().Add(time.Hour))
	const batch = 5
	var bulk []store.PublishedEvent // delivered, more than two batches
	var e5b store.PublishedEvent    // pending, never attempted, among them
	for i := range 2*batch + 3 {
		if i == batch+1 {
			e5b = publish(t, s, a.ID, "KYC_RESULT", now())
		}
		bulk = append(bulk, publish(t, s, a.ID, "TRANSACTION", now()))
	}
	var results []store.AttemptResult
	at := now()
	for _, c := range Claim(t, s, "bulk", at, 100, main.ID) {
		results = append(results, result(c, store.StatusDelivered, at, time.Time{}))
	}
	if len(results) != len(bulk) {
		t.Fatalf("claimed %d of the %d bulk notifications", len(results), len(bulk))
	}
	complete(t, s, at, results...)
	e6 := publish(t, s, a.ID, "KYC_RESULT", now()) // delivered after FinishedBefore
	n6 := onlyRef(t, e6, keep.ID)
	orphanOld := publish(t, s, b.ID, "USER_STATUS_CHANGE", now()) // never had a notification
	idemOld := map[string]string{}                                // event id -> tenant; keys k-old-0, ... in two tenants
	for i := range 2*batch + 1 {
		tenant := []string{b.ID, c.ID}[i%2]
		res, err := idem(tenant, fmt.Sprintf("k-old-%d", i), "h1")
		NoErr(t, err, "publish with an idempotency key")
		idemOld[res.Events[0].Event.ID] = tenant
	}
	finishedBefore := retentionCutoff()

	// After FinishedBefore.
	e7 := publish(t, s, a.ID, "TRANSACTION", now())
	n7 := onlyRef(t, e7, main.ID)
	deliver(main.ID, n7)
	deliver(keep.ID, n6)
	orphanNew := publish(t, s, b.ID, "USER_STATUS_CHANGE", now())
	idemNew, err := idem(b.ID, "k-new", "h1")
	NoErr(t, err, "publish with k-new")

	got, err := s.Purge(ctx, store.PurgePolicy{FinishedBefore: finishedBefore, ExpiredBefore: expiredBefore,
		IdempotencyBefore: finishedBefore, Batch: batch, Pause: time.Millisecond})
	NoErr(t, err, "purge")
	want := store.Purged{
		Notifications:   4 + len(bulk),                // n1, n1b, n2, n3gone and the bulk
		Attempts:        4 + len(bulk),                // n1: 1, n1b: 1, n2: 2, n3gone: 0, the bulk: 1 each
		Events:          4 + len(bulk) + len(idemOld), // e1, e1b, e2, orphanOld, the bulk and those with k-old-*
		IdempotencyKeys: len(idemOld),
	}
	if got != want {
		t.Fatalf("Purge = %+v, want %+v", got, want)
	}

	left := searchAll(t, s, store.NotificationFilter{TenantID: a.ID})
	kept := map[string]int{n3keep: 0, n4: 1, n5: 1, onlyRef(t, e5b, keep.ID): 0, n6: 1, n7: 1} // id -> attempts
	if !sameSet(noteIDs(left), []string{n3keep, n4, n5, onlyRef(t, e5b, keep.ID), n6, n7}) {
		t.Fatalf("after the purge %v are left, want %v", noteIDs(left), kept)
	}
	for _, n := range left {
		if len(n.AttemptLog) != kept[n.ID] {
			t.Errorf("notification %s (%s) has %d attempts left, want %d", n.ID, n.Status, len(n.AttemptLog), kept[n.ID])
		}
	}
	for _, id := range []string{n1, n1b, n2, n3gone} {
		if got := searchAll(t, s, store.NotificationFilter{TenantID: a.ID, NotificationIDs: []string{id}}); len(got) != 0 {
			t.Errorf("notification %s (%s) survived the purge", id, got[0].Status)
		}
	}

	goneEvents := map[string]string{e1.Event.ID: a.ID, e1b.Event.ID: a.ID, e2.Event.ID: a.ID,
		orphanOld.Event.ID: b.ID}
	for _, pe := range bulk {
		goneEvents[pe.Event.ID] = a.ID
	}
	maps.Copy(goneEvents, idemOld)
	for id, tenant := range goneEvents {
		_, _, err := s.Event(ctx, tenant, id)
		wantErr(t, err, store.ErrNotFound, "event "+id+" after the purge")
	}
	for id, tenant := range map[string]string{e3.Event.ID: a.ID, e4.Event.ID: a.ID, e5.Event.ID: a.ID, e5b.Event.ID: a.ID,
		e6.Event.ID: a.ID, e7.Event.ID: a.ID, orphanNew.Event.ID: b.ID, idemNew.Events[0].Event.ID: b.ID} {
		_, _, err := s.Event(ctx, tenant, id)
		NoErr(t, err, "event "+id+" kept by the purge")
	}

	// k-old-* are forgotten: reusing them with another body publishes anew;
	// k-new is remembered.
	for i := range 2*batch + 1 {
		res, err := idem([]string{b.ID, c.ID}[i%2], fmt.Sprintf("k-old-%d", i), "h2")
		NoErr(t, err, "reuse a purged key")
		if res.Replayed {
			t.Fatalf("k-old-%d replayed after the purge", i)
		}
	}
	_, err = idem(b.ID, "k-new", "h2")
	wantErr(t, err, store.ErrIdempotencyMismatch, "reuse k-new with another body")

	// Nothing more to do, with the default batch too.
	for _, batch := range []int{batch, 0} {
		again, err := s.Purge(ctx, store.PurgePolicy{FinishedBefore: finishedBefore, ExpiredBefore: expiredBefore,
			IdempotencyBefore: finishedBefore, Batch: batch})
		NoErr(t, err, "purge again")
		if again != (store.Purged{}) {
			t.Fatalf("second purge (batch %d) = %+v, want nothing", batch, again)
		}
	}
	// Zero cutoffs purge nothing, even what is old.
	none, err := s.Purge(ctx, store.PurgePolicy{})
	NoErr(t, err, "purge with no cutoffs")
	if none != (store.Purged{}) {
		t.Fatalf("purge with no cutoffs = %+v", none)
	}
	// Once old enough, the young expired notification goes too.
	got, err = s.Purge(ctx, store.PurgePolicy{ExpiredBefore: finishedBefore})
	NoErr(t, err, "purge expired")
	if want := (store.Purged{Notifications: 1, Attempts: 1}); got != want {
		t.Fatalf("purge of the expired = %+v, want %+v", got, want)
	}
}
