package delivery

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/netguard"
	"github.com/heraldhq/herald/internal/store"
)

// readyDispatcher is a dispatcher over q whose clock the test moves.
func readyDispatcher(t *testing.T, q *fakeQueue, clock *atomic.Int64) (*Dispatcher, context.Context) {
	t.Helper()
	return readyDispatcherWith(t, q, clock, Config{})
}

// readyDispatcherWith is readyDispatcher with cfg's other settings.
func readyDispatcherWith(t *testing.T, q *fakeQueue, clock *atomic.Int64, cfg Config) (*Dispatcher, context.Context) {
	t.Helper()
	cfg.Owner, cfg.MaxConcurrency, cfg.Now = "o", 64, func() time.Time { return time.UnixMilli(clock.Load()) }
	d := NewDispatcher(q, NewSender(netguard.Guard{AllowPrivate: true}, "test"), cfg)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	d.attemptCtx = ctx
	return d, ctx
}

// configureHook changes webhook id itself.
func (q *fakeQueue) configureHook(id string, f func(w *store.Webhook)) {
	q.mu.Lock()
	defer q.mu.Unlock()
	w := q.hooks[id]
	f(&w)
	q.hooks[id] = w
}

func (q *fakeQueue) configure(id string, f func(c *store.WebhookConfig)) {
	q.mu.Lock()
	defer q.mu.Unlock()
	w := q.hooks[id]
	f(&w.Config)
	q.hooks[id] = w
}

// TestReadyBufferFeedsFreedSlots: a webhook at its max_in_flight claims
// aheadDepth times as many again ahead; each finished attempt starts a
// buffered one at once, with no claim in between.
func TestReadyBufferFeedsFreedSlots(t *testing.T) {
	srv, got, release := holdingReceiver(t)
	q := newFakeQueue()
	q.add("a", srv.URL, 10)
	q.configure("a", func(c *store.WebhookConfig) { c.MaxInFlight = 2 })
	var clock atomic.Int64
	clock.Store(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC).UnixMilli())
	d, ctx := readyDispatcher(t, q, &clock)

	if _, err := d.dispatch(ctx); err != nil {
		t.Fatal(err)
	}
	awaitCount(t, "requests in flight", got.Load, 2)
	if n := d.slots.inFlight("a"); n != 2 {
		t.Fatalf("%d in flight, want max_in_flight 2", n)
	}
	if len(q.claims) != 1 || q.claims[0].Limit != 10 || d.buffered != 8 {
		t.Fatalf("claims %+v, %d buffered: want one claim of 2 slots and 8 ahead", q.claims, d.buffered)
	}
	close(release)
	awaitCount(t, "requests", got.Load, 10)
	awaitCount(t, "results queued", func() int64 { return int64(len(d.results)) }, 10)
	if len(q.claims) != 1 || d.buffered != 0 || d.slots.used() != 0 {
		t.Fatalf("after the attempts: %d claims, %d buffered, %d slots held; want the buffered two run with no claim",
			len(q.claims), d.buffered, d.slots.used())
	}
}

// TestReadyBufferRefillsAtHalf: a webhook is claimed for again once half
// its buffer is spent, up to the full buffer, and not before; its claims
// tell the store how many it may hold ahead (where leases count, the store
// bounds them by it).
func TestReadyBufferRefillsAtHalf(t *testing.T) {
	tokens := make(chan struct{})
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		select {
		case <-tokens:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	var closeTokens sync.Once
	t.Cleanup(func() { closeTokens.Do(func() { close(tokens) }) }) // before srv.Close: it waits for the handlers
	q := newFakeQueue()
	q.add("a", srv.URL, 30)
	q.configure("a", func(c *store.WebhookConfig) { c.MaxInFlight = 2 })
	var clock atomic.Int64
	clock.Store(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC).UnixMilli())
	d, ctx := readyDispatcher(t, q, &clock)
	buffered := func() int64 {
		d.mu.Lock()
		defer d.mu.Unlock()
		return int64(d.buffered)
	}
	dispatch := func() {
		t.Helper()
		if _, err := d.dispatch(ctx); err != nil {
			t.Fatal(err)
		}
	}
	finish := func(n int) {
		t.Helper()
		for range n {
			select {
			case tokens <- struct{}{}:
			case <-time.After(10 * time.Second):
				t.Fatal("no request waiting to finish")
			}
		}
	}

	dispatch()
	awaitCount(t, "requests in flight", got.Load, 2)
	if len(q.claims) != 1 || q.claims[0].Limit != 10 || q.claims[0].MaxAhead != 8 || buffered() != 8 {
		t.Fatalf("claims %+v, %d buffered: want one claim of 2 slots and 8 ahead", q.claims, buffered())
	}
	finish(3) // each finished attempt starts a buffered one: 5 left
	awaitCount(t, "requests", got.Load, 5)
	awaitCount(t, "buffered", buffered, 5)
	dispatch()
	if len(q.claims) != 1 {
		t.Fatalf("claims %+v with 5 of 8 buffered: want none until half is spent", q.claims)
	}
	finish(1)
	awaitCount(t, "buffered", buffered, 4)
	dispatch()
	if len(q.claims) != 2 || q.claims[1].Limit != 4 || buffered() != 8 {
		t.Fatalf("claims %+v, %d buffered: want a second claim of the 4 the buffer lacks", q.claims, buffered())
	}
	closeTokens.Do(func() { close(tokens) })

	t.Run("shared", func(t *testing.T) {
		srv, got, _ := holdingReceiver(t)
		q := newFakeQueue()
		q.add("a", srv.URL, 30)
		q.configure("a", func(c *store.WebhookConfig) { c.MaxInFlight = 2 })
		d, ctx := readyDispatcherWith(t, q, &clock, Config{Shared: true})
		for range 2 {
			if _, err := d.dispatch(ctx); err != nil {
				t.Fatal(err)
			}
		}
		awaitCount(t, "requests in flight", got.Load, 2)
		if len(q.claims) != 1 || q.claims[0].Limit != 10 || q.claims[0].MaxAhead != 8 {
			t.Fatalf("claims %+v: want one claim of 2 slots and 8 ahead, none while they are buffered", q.claims)
		}
	})
}

// TestSharedSlotsWaitForRecording: where other replicas share the queue, a
// finished attempt's slot goes to a buffered notification only once its
// result is recorded, so what is sent and not recorded stays within
// max_in_flight (what a crash repeats).
func TestSharedSlotsWaitForRecording(t *testing.T) {
	srv, got, release := holdingReceiver(t)
	q := newFakeQueue()
	q.add("a", srv.URL, 10)
	q.configure("a", func(c *store.WebhookConfig) { c.MaxInFlight = 2 })
	var clock atomic.Int64
	clock.Store(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC).UnixMilli())
	d, ctx := readyDispatcherWith(t, q, &clock, Config{Shared: true})

	if _, err := d.dispatch(ctx); err != nil {
		t.Fatal(err)
	}
	awaitCount(t, "requests in flight", got.Load, 2)
	close(release)
	awaitCount(t, "results queued", func() int64 { return int64(len(d.results)) }, 2)
	d.mu.Lock()
	buffered := d.buffered
	d.mu.Unlock()
	if got.Load() != 2 || buffered != 8 || d.slots.inFlight("a") != 2 {
		t.Fatalf("before recording: %d requests, %d buffered, %d slots held; want 2, 8 and 2", got.Load(), buffered, d.slots.inFlight("a"))
	}
	batch := []store.AttemptResult{<-d.results, <-d.results}
	d.commit(ctx, batch)
	d.recorded(batch)
	awaitCount(t, "requests", got.Load, 4)
}

// TestReadyBufferDropsWhatItsLeaseCannotCover: a buffered notification
// whose lease would run out before its attempt's timeout is not started;
// it is claimed again once the lease has run out.
func TestReadyBufferDropsWhatItsLeaseCannotCover(t *testing.T) {
	srv, got, release := holdingReceiver(t)
	q := newFakeQueue()
	q.add("a", srv.URL, 10)
	q.configure("a", func(c *store.WebhookConfig) { c.MaxInFlight = 2 })
	var clock atomic.Int64
	start := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	clock.Store(start.UnixMilli())
	d, ctx := readyDispatcher(t, q, &clock)
	if _, err := d.dispatch(ctx); err != nil {
		t.Fatal(err)
	}
	awaitCount(t, "requests in flight", got.Load, 2)
	// The lease is a minute; the timeout 10 s and its margin 5 s: at 46 s a
	// buffered attempt could outlive its lease.
	clock.Store(start.Add(46 * time.Second).UnixMilli())
	close(release)
	awaitCount(t, "results queued", func() int64 { return int64(len(d.results)) }, 2)
	awaitCount(t, "slots held", func() int64 { return int64(d.slots.used()) }, 0)
	d.mu.Lock()
	buffered := d.buffered
	d.mu.Unlock()
	if got.Load() != 2 || buffered != 0 {
		t.Fatalf("%d requests, %d still buffered: want the two buffered dropped, not sent", got.Load(), buffered)
	}
}

// TestNoReadyBufferForOrderedOrRateLimited: ordered and rate limited
// webhooks claim only what starts at once (the queue keeps their order and
// their shared bucket).
func TestNoReadyBufferForOrderedOrRateLimited(t *testing.T) {
	srv, _, _ := holdingReceiver(t)
	q := newFakeQueue()
	q.add("o", srv.URL, 10)
	q.configure("o", func(c *store.WebhookConfig) { c.Ordered = true })
	q.add("r", srv.URL, 10)
	rate := 1000.0
	q.configure("r", func(c *store.WebhookConfig) { c.MaxInFlight = 4; c.RateLimitPerSecond = &rate })
	var clock atomic.Int64
	clock.Store(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC).UnixMilli())
	d, ctx := readyDispatcher(t, q, &clock)
	if _, err := d.dispatch(ctx); err != nil {
		t.Fatal(err)
	}
	for _, r := range q.claims {
		want := map[string]int{"o": 1, "r": 4}[r.WebhookID]
		if r.Limit != want || r.MaxAhead != 0 {
			t.Errorf("claim for %s asked %d with %d ahead, want %d and none (no more than its free slots)", r.WebhookID, r.Limit, r.MaxAhead, want)
		}
	}
	if d.buffered != 0 {
		t.Errorf("%d buffered, want none", d.buffered)
	}
}

// TestReadyBufferDroppedWhenWebhookGoes: a webhook disabled or deleted
// while it holds a buffer gets only the attempts already in flight once
// its buffer is checked again; one that is still active keeps its buffer.
func TestReadyBufferDroppedWhenWebhookGoes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(q *fakeQueue)
		keep   bool
	}{
		{"disabled", func(q *fakeQueue) { q.configureHook("a", func(w *store.Webhook) { w.Status = store.WebhookDisabled }) }, false},
		{"deleted", func(q *fakeQueue) { q.mu.Lock(); delete(q.hooks, "a"); q.mu.Unlock() }, false},
		{"active", func(*fakeQueue) {}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, got, release := holdingReceiver(t)
			q := newFakeQueue()
			q.add("a", srv.URL, 10)
			q.configure("a", func(c *store.WebhookConfig) { c.MaxInFlight = 2 })
			var clock atomic.Int64
			start := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
			clock.Store(start.UnixMilli())
			d, ctx := readyDispatcher(t, q, &clock)
			if _, err := d.dispatch(ctx); err != nil {
				t.Fatal(err)
			}
			awaitCount(t, "requests in flight", got.Load, 2)
			if d.buffered != 8 {
				t.Fatalf("%d buffered, want 8", d.buffered)
			}
			tc.change(q) // nothing else is due: the webhook is not among the due ones
			for _, at := range []time.Duration{0, bufferCheck} {
				clock.Store(start.Add(at).UnixMilli())
				if _, err := d.dispatch(ctx); err != nil {
					t.Fatal(err)
				}
			}
			want := 0
			if tc.keep {
				want = 8
			}
			d.mu.Lock()
			buffered := d.buffered
			d.mu.Unlock()
			if buffered != want {
				t.Fatalf("%d buffered after the check, want %d", buffered, want)
			}
			close(release)
			awaitCount(t, "results queued", func() int64 { return int64(len(d.results)) }, int64(2+want))
			if n := got.Load(); n != int64(2+want) {
				t.Fatalf("%d requests, want %d", n, 2+want)
			}
		})
	}
}
