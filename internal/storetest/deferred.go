package storetest

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// fanoutWriter is the store's writer of deferred fan-outs (run by the
// service beside the dispatcher).
type fanoutWriter interface {
	WriteFanouts(ctx context.Context, wake func(), log *slog.Logger)
}

// deferredBatch publishes 500 events to the tenant's webhooks: with 11 of
// them, 5,500 notifications, over the store's default deferral of 5,000.
func deferredBatch(t *testing.T, s Store, tenantID string, at time.Time) store.PublishResult {
	t.Helper()
	events := make([]store.Event, 500)
	for i := range events {
		events[i] = newEvent("TRANSACTION", at)
	}
	res, err := s.Publish(ctxOf(t), store.PublishRequest{TenantID: tenantID, Events: events, Now: at})
	NoErr(t, err, "publish a deferred fan-out")
	return res
}

// runWriter runs s's fan-out writer until the test ends, stop is called
// or, when stopAfter is positive, it has committed that many chunks; each
// committed chunk is counted.
func runWriter(t *testing.T, s Store, stopAfter int) (chunks func() int, stop func()) {
	t.Helper()
	w, ok := s.(fanoutWriter)
	if !ok {
		t.Fatal("the store writes no deferred fan-outs")
	}
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	n := 0
	done := make(chan struct{})
	wake := func() {
		mu.Lock()
		defer mu.Unlock()
		if n++; n == stopAfter {
			cancel()
		}
	}
	go func() {
		defer close(done)
		w.WriteFanouts(ctx, wake, slog.New(slog.DiscardHandler))
	}()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return func() int { mu.Lock(); defer mu.Unlock(); return n }, stop
}

// awaitFanout waits until every event of res has want notifications, and
// returns them by event.
func awaitFanout(t *testing.T, s Store, tenantID string, res store.PublishResult, want int) map[string][]store.Notification {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got, complete := map[string][]store.Notification{}, true
		for _, pe := range res.Events {
			_, notes, err := s.Event(ctxOf(t), tenantID, pe.Event.ID)
			NoErr(t, err, "read event")
			got[pe.Event.ID] = notes
			if len(notes) > want {
				t.Fatalf("event %s has %d notifications, want %d", pe.Event.ID, len(notes), want)
			}
			complete = complete && len(notes) == want
		}
		if complete {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("the deferred fan-out did not complete within 60 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testDeferredFanout: a publish of more notifications than one transaction
// should hold the writer for is answered with every notification it will
// create, its events stored at once; the notifications are written in
// chunks afterwards with exactly the ids of the answer, except for a
// webhook deleted meanwhile.
func testDeferredFanout(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ten := MustTenant(t, s)
	var hooks []store.Webhook
	for range 11 {
		hooks = append(hooks, MustWebhook(t, s, ten.ID, "*"))
	}
	res := deferredBatch(t, s, ten.ID, T0)
	if len(res.Events) != 500 || !res.Queued {
		t.Fatalf("answer: %d events, queued %v; want 500, queued", len(res.Events), res.Queued)
	}
	for _, pe := range res.Events {
		if len(pe.Notifications) != 11 {
			t.Fatalf("event %s answered with %d notifications, want 11", pe.Event.ID, len(pe.Notifications))
		}
	}
	first := res.Events[0].Event.ID
	_, notes, err := s.Event(ctxOf(t), ten.ID, first)
	NoErr(t, err, "the event is stored with its answer")
	if len(notes) != 0 {
		t.Fatalf("%d notifications written before the fan-out writer ran, want them deferred", len(notes))
	}
	gone := hooks[10]
	_, err = s.DeleteWebhook(ctxOf(t), ten.ID, gone.ID, T0)
	NoErr(t, err, "delete a webhook before its notifications are written")

	chunks, _ := runWriter(t, s, 0)
	got := awaitFanout(t, s, ten.ID, res, 10)
	if c := chunks(); c < 5 {
		t.Errorf("written in %d chunks, want at least 5 (5,000 notifications in chunks of at most 1,000)", c)
	}
	seen := map[string]bool{}
	for _, pe := range res.Events {
		answered := map[string]string{}
		for _, ref := range pe.Notifications {
			answered[ref.WebhookID] = ref.ID
		}
		for _, n := range got[pe.Event.ID] {
			if n.WebhookID == gone.ID {
				t.Fatalf("a notification was written for the deleted webhook")
			}
			if answered[n.WebhookID] != n.ID || seen[n.ID] {
				t.Fatalf("notification %s of webhook %s: answered %s (seen before: %v)", n.ID, n.WebhookID, answered[n.WebhookID], seen[n.ID])
			}
			seen[n.ID] = true
			if n.Status != store.StatusPending {
				t.Fatalf("notification %s is %s, want PENDING", n.ID, n.Status)
			}
		}
	}
	// They are due like any other: a claim finds them.
	claimed, err := s.Claim(ctxOf(t), store.Claim{Owner: "d", Now: T0.Add(time.Second), LeaseUntil: T0.Add(time.Minute),
		Requests: []store.ClaimRequest{{WebhookID: hooks[0].ID, Limit: 10, MaxInFlight: 10}}})
	NoErr(t, err, "claim")
	if len(claimed) != 10 {
		t.Fatalf("claimed %d of the deferred notifications, want 10", len(claimed))
	}
}

// testDeferredFanoutResumes: a store stopped after the first chunk of a
// deferred fan-out (a shutdown or a crash) writes the rest when opened
// again, without writing any notification twice.
func testDeferredFanoutResumes(t *testing.T, newStore NewStoreFunc) {
	s, reopen := newStore(t)
	ten := MustTenant(t, s)
	for range 11 {
		MustWebhook(t, s, ten.ID, "*")
	}
	res := deferredBatch(t, s, ten.ID, T0)
	chunks, stop := runWriter(t, s, 1)
	deadline := time.Now().Add(30 * time.Second)
	for chunks() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no chunk written within 30 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	// The writer stopped after one chunk: some, not all, of 5,500 written.
	written := 0
	for _, pe := range res.Events {
		_, notes, err := s.Event(ctxOf(t), ten.ID, pe.Event.ID)
		NoErr(t, err, "read event")
		written += len(notes)
	}
	if written == 0 || written >= 5500 {
		t.Fatalf("%d notifications written by one chunk, want some of the 5,500", written)
	}

	s2 := reopen()
	runWriter(t, s2, 0)
	got := awaitFanout(t, s2, ten.ID, res, 11)
	seen := map[string]bool{}
	for _, notes := range got {
		for _, n := range notes {
			if seen[n.ID] {
				t.Fatalf("notification %s written twice", n.ID)
			}
			seen[n.ID] = true
		}
	}
	if len(seen) != 5500 {
		t.Fatalf("%d notifications, want 5,500", len(seen))
	}
}
