package delivery

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/netguard"
	"github.com/heraldhq/herald/internal/store"
)

// fakeQueue is a queue in memory: each webhook has a count of due
// notifications, claims take from it, completions are recorded (or fail).
type fakeQueue struct {
	mu          sync.Mutex
	hooks       map[string]store.Webhook
	due         map[string]int
	claims      []store.ClaimRequest
	taken       map[string]int
	completed   []store.AttemptResult
	completeErr error
	seq         int
}

func newFakeQueue() *fakeQueue {
	return &fakeQueue{hooks: map[string]store.Webhook{}, due: map[string]int{}, taken: map[string]int{}}
}

func (q *fakeQueue) add(id, endpoint string, due int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.hooks[id] = store.Webhook{ID: id, TenantID: "t", Endpoint: endpoint, Status: store.WebhookActive, Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		Config: store.WebhookConfig{MaxInFlight: 256, TimeoutSeconds: 10}}
	q.due[id] = due
}

func (q *fakeQueue) DueWebhooks(context.Context, time.Time) ([]store.WebhookVersion, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []store.WebhookVersion
	for id, n := range q.due {
		if n > 0 {
			out = append(out, store.WebhookVersion{ID: id, Modified: q.hooks[id].Modified})
		}
	}
	return out, nil
}

func (q *fakeQueue) WebhooksByID(_ context.Context, ids []string) ([]store.Webhook, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []store.Webhook
	for _, id := range ids {
		out = append(out, q.hooks[id])
	}
	return out, nil
}

func (q *fakeQueue) NextDue(context.Context, time.Time) (time.Time, error) { return time.Time{}, nil }

func (q *fakeQueue) Claim(_ context.Context, c store.Claim) ([]store.Claimed, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []store.Claimed
	for _, r := range c.Requests {
		q.claims = append(q.claims, r)
		n := min(r.Limit, q.due[r.WebhookID])
		q.due[r.WebhookID] -= n
		q.taken[r.WebhookID] += n
		for range n {
			q.seq++
			out = append(out, store.Claimed{ID: fmt.Sprint("n", q.seq), TenantID: "t", WebhookID: r.WebhookID, EventName: "TRANSACTION",
				Attempt: 1, Payload: []byte(`{}`), LeaseToken: c.Owner})
		}
	}
	return out, nil
}

func (q *fakeQueue) Complete(_ context.Context, c store.Completion) ([]store.WebhookChange, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.completeErr != nil {
		return nil, q.completeErr
	}
	q.completed = append(q.completed, c.Results...)
	return nil, nil
}

func (q *fakeQueue) ReleaseLeases(context.Context, string) (int, error) { return 0, nil }

func (q *fakeQueue) claimed() map[string]int {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := map[string]int{}
	for id, n := range q.taken {
		out[id] = n
	}
	return out
}

// holdingReceiver answers nothing until released, counting requests.
func holdingReceiver(t *testing.T) (*httptest.Server, *atomic.Int64, chan struct{}) {
	var got atomic.Int64
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
		srv.Close()
	})
	return srv, &got, release
}

func awaitCount(t *testing.T, what string, get func() int64, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for get() != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s = %d, want %d", what, get(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestDispatchSharesTheCapFairly: three webhooks with 256 slots each and a
// deep queue share a cap of 12; a fourth that turns busy while they hold
// every slot above the reserve still gets one at once.
func TestDispatchSharesTheCapFairly(t *testing.T) {
	srv, got, _ := holdingReceiver(t)
	q := newFakeQueue()
	for _, id := range []string{"a", "b", "c"} {
		q.add(id, srv.URL, 100)
	}
	clock := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	d := NewDispatcher(q, NewSender(netguard.Guard{AllowPrivate: true}, "test"), Config{
		Owner: "o", MaxConcurrency: 12, Now: func() time.Time { return clock },
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d.attemptCtx = ctx
	if _, err := d.dispatch(ctx); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, id := range []string{"a", "b", "c"} {
		if n := d.slots.inFlight(id); n < 3 || n > 4 {
			t.Fatalf("%s has %d in flight: want each webhook 3 or 4 of the cap of 12", id, n)
		}
		total += d.slots.inFlight(id)
	}
	if total != 11 {
		t.Fatalf("%d in flight in all, want 11 (the cap less its reserve of 1)", total)
	}
	awaitCount(t, "requests in flight", got.Load, 11)
	// What was claimed beyond the slots waits in the ready buffer, within
	// the budget of MaxConcurrency buffered in all.
	before := q.claimed()
	if b := before["a"] + before["b"] + before["c"] - 11; b != d.buffered || b > 12 {
		t.Fatalf("claimed %v: %d beyond the slots, %d buffered, want equal and at most 12", before, b, d.buffered)
	}

	// Another pass claims nothing more for the busy ones.
	if _, err := d.dispatch(ctx); err != nil {
		t.Fatal(err)
	}
	if c := q.claimed(); c["a"] != before["a"] || c["b"] != before["b"] || c["c"] != before["c"] {
		t.Fatalf("a full service claimed more: %v, before %v", c, before)
	}
	q.add("d", srv.URL, 5)
	if _, err := d.dispatch(ctx); err != nil {
		t.Fatal(err)
	}
	if n := d.slots.inFlight("d"); n != 1 {
		t.Fatalf("the newly busy webhook has %d in flight, want the 1 reserved slot", n)
	}
	awaitCount(t, "requests in flight", got.Load, 12)
	if used := d.slots.used(); used != 12 {
		t.Fatalf("%d slots used, want the cap of 12", used)
	}
}

// TestShutdownIsBoundedWhileTheDatabaseIsDown: results that cannot be
// recorded do not hold a shutdown for a whole lease, even when they fill
// the committer's queue and attempts wait to hand theirs over.
func TestShutdownIsBoundedWhileTheDatabaseIsDown(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	q := newFakeQueue()
	q.completeErr = errors.New("database unreachable")
	q.add("a", srv.URL, 100)
	d := NewDispatcher(q, NewSender(netguard.Guard{AllowPrivate: true}, "test"), Config{
		Owner: "o", Lease: time.Hour, ShutdownGrace: 100 * time.Millisecond, MaxConcurrency: 2,
	})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- d.Run(ctx) }()
	// The committer holds a batch it cannot record and takes no more: the
	// queue of results fills up and two attempts wait with theirs, holding
	// every slot.
	awaitCount(t, "results queued and slots held", func() int64 {
		return int64(len(d.results) + d.slots.used())
	}, 4)
	cancel()
	select {
	case <-stopped:
	case <-time.After(2*shutdownCommit + 5*time.Second):
		t.Fatal("Run did not return within the grace and the shutdown bounds while the database was down")
	}
}
