package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/policy"
	"github.com/heraldhq/herald/internal/store"
)

// fakeHandoff is a store.Handoff granting up to grants reservations
// (negative: any number), each leased for lease, that records what the
// store asks of it and gives it.
type fakeHandoff struct {
	owner string
	lease time.Duration
	// onTake, when set, runs in Take (before Publish returns).
	onTake func([]store.Claimed)

	mu       sync.Mutex
	grants   int
	asked    []store.Subscriber
	reserved map[string]int
	released map[string]int
	taken    []store.Claimed
	takes    int
}

func newFakeHandoff(grants int, lease time.Duration) *fakeHandoff {
	return &fakeHandoff{owner: "local", lease: lease, grants: grants, reserved: map[string]int{}, released: map[string]int{}}
}

func (f *fakeHandoff) Owner() string { return f.owner }

func (f *fakeHandoff) Reserve(s store.Subscriber, now time.Time) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, s)
	if f.grants == 0 {
		return time.Time{}, false
	}
	if f.grants > 0 {
		f.grants--
	}
	f.reserved[s.ID]++
	return now.Add(f.lease), true
}

func (f *fakeHandoff) Release(webhookID string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.released[webhookID] += n
}

func (f *fakeHandoff) Take(claimed []store.Claimed) {
	f.mu.Lock()
	f.takes++
	f.taken = append(f.taken, claimed...)
	f.mu.Unlock()
	if f.onTake != nil {
		f.onTake(claimed)
	}
}

// held is, per webhook, the reservations the store kept (not released).
func (f *fakeHandoff) held() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for id, n := range f.reserved {
		if k := n - f.released[id]; k != 0 {
			out[id] = k
		}
	}
	return out
}

// wantNothingKept checks that a failed publish gave back every slot it
// reserved and handed nothing over.
func (f *fakeHandoff) wantNothingKept(tb testing.TB, what string) {
	tb.Helper()
	if held := f.held(); len(held) != 0 || f.takes != 0 {
		tb.Fatalf("%s: reservations kept %v, Take called %d times; want none", what, held, f.takes)
	}
}

const traceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// testHandoff: a publish leases the notifications its hand-off grants to
// the hand-off's owner and hands them over with their payload once
// committed; the rest stay queued. A publish that fails keeps no slot.
func testHandoff(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := ctxOf(t)
	ten := MustTenant(t, s)
	hooks := []store.Webhook{MustWebhook(t, s, ten.ID, "*"), MustWebhook(t, s, ten.ID, "*"), MustWebhook(t, s, ten.ID, "*")}
	const lease = 20 * time.Second
	h := newFakeHandoff(2, lease)
	ev := newEvent("TRANSACTION", T0)
	ev.TraceParent = traceParent
	committed := false
	h.onTake = func([]store.Claimed) {
		_, notes, err := s.Event(ctx, ten.ID, ev.ID)
		committed = err == nil && len(notes) == 3
	}
	res, err := s.Publish(ctx, store.PublishRequest{TenantID: ten.ID, Events: []store.Event{ev}, Now: T0, Handoff: h})
	NoErr(t, err, "publish with a hand-off")
	if h.takes != 1 || len(h.taken) != 2 {
		t.Fatalf("Take called %d times with %d notifications, want once with the 2 granted", h.takes, len(h.taken))
	}
	if !committed {
		t.Fatalf("Take ran before the publish's rows were committed")
	}
	refs := map[string]string{}
	for _, r := range res.Events[0].Notifications {
		refs[r.ID] = r.WebhookID
	}
	for _, c := range h.taken {
		if refs[c.ID] != c.WebhookID || c.TenantID != ten.ID || c.EventID != ev.ID || c.EventName != ev.Name ||
			c.Attempt != 1 || c.RetryBase != 0 || string(c.Payload) != string(ev.Payload) || !c.Published.Equal(T0) ||
			c.LeaseToken == "" || c.TraceParent != traceParent {
			t.Fatalf("handed over %+v, want a notification of %+v, attempt 1, with payload and lease token", c, ev)
		}
		delete(refs, c.ID)
	}
	if held := h.held(); len(held) != 2 || held[h.taken[0].WebhookID] != 1 || held[h.taken[1].WebhookID] != 1 {
		t.Fatalf("reservations kept %v, want one for each webhook handed a notification", held)
	}
	var queued string
	for id := range refs {
		queued = id
	}

	// Only the queued notification's webhook is due; another dispatcher
	// finds only it.
	if due := dueIDs(t, s, T0); len(due) != 1 || due[0] != refs[queued] {
		t.Fatalf("after the publish due %v, want only %s, the webhook of the queued notification", due, refs[queued])
	}
	if got := Claim(t, s, "other", T0, 10, hookIDs(hooks)...); len(got) != 1 || got[0].ID != queued {
		t.Fatalf("another dispatcher claimed %v, want only the queued %s", claimedIDs(got), queued)
	}
	// The lease token handed over is the notification's.
	completeWith(t, s, policy.Policy{}, T0.Add(time.Second), success(h.taken[0], T0))
	wantStatus(t, s, ten.ID, h.taken[0].ID, store.StatusDelivered, 1)
	// The other one is claimable, and its webhook due, when its lease ends.
	end := T0.Add(lease)
	if due := dueIDs(t, s, end.Add(-time.Millisecond)); len(due) != 0 {
		t.Fatalf("due %v while every notification is leased", due)
	}
	wantNextDue(t, s, T0.Add(time.Second), end, "hand-off lease")
	if due := dueIDs(t, s, end); len(due) != 1 || due[0] != h.taken[1].WebhookID {
		t.Fatalf("at the hand-off lease's end due %v, want %s", due, h.taken[1].WebhookID)
	}
	if got := Claim(t, s, "other", end.Add(-time.Millisecond), 10, hookIDs(hooks)...); len(got) != 0 {
		t.Fatalf("claimed %v still leased to the hand-off", claimedIDs(got))
	}
	if got := Claim(t, s, "other", end, 10, hookIDs(hooks)...); len(got) != 1 || got[0].ID != h.taken[1].ID || got[0].Attempt != 1 {
		t.Fatalf("after the hand-off lease claimed %+v, want %s as attempt 1", got, h.taken[1].ID)
	}

	// A publish failing after its reservations gives them all back.
	bad := newFakeHandoff(-1, lease)
	dup := newEvent("TRANSACTION", T0)
	_, err = s.Publish(ctx, store.PublishRequest{TenantID: ten.ID, Events: []store.Event{dup, dup}, Now: T0, Handoff: bad})
	if err == nil {
		t.Fatalf("publishing one event id twice succeeded")
	}
	if len(bad.asked) == 0 {
		t.Fatalf("the failing publish reserved nothing: the case proves nothing")
	}
	bad.wantNothingKept(t, "publish failing in its transaction")
	_, _, err = s.Event(ctx, ten.ID, dup.ID)
	wantErr(t, err, store.ErrNotFound, "event of a failed publish")

	// Failures of one request keep no reservation either.
	_, err = s.Publish(ctx, idem(ten.ID, "k", "h1", T0, newEvent("KYC_RESULT", T0)))
	NoErr(t, err, "keyed publish")
	mismatch := idem(ten.ID, "k", "h2", T0, newEvent("KYC_RESULT", T0))
	fanout := store.PublishRequest{TenantID: ten.ID, Events: []store.Event{newEvent("TRANSACTION", T0)}, Now: T0, MaxFanout: 2}
	for _, c := range []struct {
		name string
		req  store.PublishRequest
		err  error
	}{{"idempotency mismatch", mismatch, store.ErrIdempotencyMismatch}, {"fan-out over its bound", fanout, store.ErrFanout}} {
		f := newFakeHandoff(-1, lease)
		c.req.Handoff = f
		_, err := s.Publish(ctx, c.req)
		wantErr(t, err, c.err, c.name)
		f.wantNothingKept(t, c.name)
	}
}

// testHandoffSubscribers: Reserve sees each subscriber as the publish
// transaction does: its status, its circuit, and whether queued work of it
// is due (which a handed-over notification must not overtake).
func testHandoffSubscribers(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := ctxOf(t)
	ten := MustTenant(t, s)
	fresh, off := MustWebhook(t, s, ten.ID, "*"), MustWebhook(t, s, ten.ID, "*")
	open, queued := MustWebhook(t, s, ten.ID, "*"), MustWebhook(t, s, ten.ID, "TRANSACTION")
	for i := range 5 {
		publish(t, s, ten.ID, "TRANSACTION", T0.Add(time.Duration(i)*time.Millisecond))
	}
	now := T0.Add(time.Second)
	probe := now.Add(time.Hour)
	var results []store.AttemptResult
	for _, c := range Claim(t, s, "d", now, 10, fresh.ID, open.ID) {
		if c.WebhookID == fresh.ID {
			results = append(results, success(c, now))
		} else {
			results = append(results, failure(c, now, store.StatusPending, now.Add(time.Minute), probe))
		}
	}
	completeWith(t, s, policy.Policy{}, now, results...)
	off, err := s.UpdateWebhook(ctx, ten.ID, off.ID, func(w *store.Webhook) error { w.Status = store.WebhookDisabled; return nil })
	NoErr(t, err, "disable")

	h := newFakeHandoff(0, time.Minute)
	_, err = s.Publish(ctx, store.PublishRequest{TenantID: ten.ID, Now: now, Handoff: h,
		Events: []store.Event{newEvent("KYC_RESULT", now), newEvent("TRANSACTION", now)}})
	NoErr(t, err, "publish")
	asked := map[string][]store.Subscriber{}
	for _, sub := range h.asked {
		asked[sub.ID] = append(asked[sub.ID], sub)
	}
	if len(asked[fresh.ID]) != 2 || len(asked[off.ID]) != 2 || len(asked[open.ID]) != 2 || len(asked[queued.ID]) != 1 {
		t.Fatalf("Reserve asked for %+v, want each subscriber of each event", h.asked)
	}
	for _, c := range []struct {
		w      store.Webhook
		status string
		due    bool
		open   bool
	}{{fresh, store.WebhookActive, false, false}, {off, store.WebhookDisabled, true, false},
		{open, store.WebhookActive, false, true}, {queued, store.WebhookActive, true, false}} {
		got := asked[c.w.ID][0]
		if got.Status != c.status || got.Due != c.due || got.Health.CircuitOpen() != c.open ||
			!sameSet(got.Events, c.w.Events) || !got.Modified.Equal(c.w.Modified) {
			t.Fatalf("Reserve saw %+v, want status %s, due %v, circuit open %v", got, c.status, c.due, c.open)
		}
	}
	if got := asked[open.ID][0].Health; got.ConsecutiveFailures != 5 || !got.CircuitOpenUntil.Equal(probe) {
		t.Fatalf("Reserve saw health %+v, want 5 failures, open until %v", got, probe)
	}
	// The first event's notification was left queued: the second waits
	// behind it.
	if !asked[fresh.ID][1].Due {
		t.Fatalf("second notification of a publish not due behind the first one left queued")
	}
}
