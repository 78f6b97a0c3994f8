package storetest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// publishEvent stores one prepared event of a tenant.
func publishEvent(tb testing.TB, s Store, tenantID string, e store.Event) store.PublishedEvent {
	tb.Helper()
	res, err := s.Publish(ctxOf(tb), store.PublishRequest{TenantID: tenantID, Events: []store.Event{e}, Now: e.Created})
	NoErr(tb, err, "publish "+e.Name)
	return res.Events[0]
}

// replay runs a replay and returns how many it queued.
func replay(tb testing.TB, s Store, req store.ReplayRequest) int {
	tb.Helper()
	n, err := s.Replay(ctxOf(tb), req)
	NoErr(tb, err, "replay")
	return n
}

// hookNotes lists a webhook's notifications by event, in id order.
func hookNotes(tb testing.TB, s Store, tenantID, hookID string) []store.Notification {
	tb.Helper()
	notes := searchAll(tb, s, store.NotificationFilter{TenantID: tenantID, WebhookID: hookID})
	slices.SortFunc(notes, func(a, b store.Notification) int { return strings.Compare(a.ID, b.ID) })
	return notes
}

func noteEvents(ns []store.Notification) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.EventID
	}
	return out
}

// A replay makes notifications for the events of its window that the
// webhook subscribes to, passes and has none for; they are due at once, in
// publish order; a second replay finds nothing more; another tenant's
// events and webhooks are out of reach.
func testReplay(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := ctxOf(t)
	ten, other := MustTenant(t, s), MustTenant(t, s)
	at := func(m int) time.Time { return T0.Add(time.Duration(m) * time.Minute) }
	// Published before the webhooks exist (a client that registered late).
	e1 := publishEvent(t, s, ten.ID, txnEvent(at(1), "AUTHORIZATION", "PURCHASE", 10)).Event
	e2 := publishEvent(t, s, ten.ID, txnEvent(at(2), "API", "WALLET_CREDIT", 20)).Event
	e3 := publishEvent(t, s, ten.ID, newEvent("CARD_STATUS_CHANGE", at(3))).Event
	publishEvent(t, s, ten.ID, newEvent("PIN_CHANGE", at(3)))                               // not subscribed
	e4 := publishEvent(t, s, ten.ID, txnEvent(at(10), "AUTHORIZATION", "REFUND", 30)).Event // the window's end
	publishEvent(t, s, other.ID, txnEvent(at(1), "AUTHORIZATION", "PURCHASE", 10))          // another tenant's
	plain := MustWebhook(t, s, ten.ID, "TRANSACTION", "CARD_STATUS_CHANGE")
	auth := MustFilteredWebhook(t, s, ten.ID, `{"card_transaction.message_type": ["AUTHORIZATION"]}`, "*")
	now := at(20)
	window := store.ReplayRequest{TenantID: ten.ID, WebhookID: plain.ID, From: at(1), To: at(10), Now: now}

	if n := replay(t, s, window); n != 3 {
		t.Fatalf("replay queued %d, want 3", n)
	}
	notes := hookNotes(t, s, ten.ID, plain.ID)
	if got, want := noteEvents(notes), []string{e1.ID, e2.ID, e3.ID}; !slices.Equal(got, want) {
		t.Fatalf("replayed events %v, want %v in publish order", got, want)
	}
	for _, n := range notes {
		if n.Status != store.StatusPending || n.Attempts != 0 || !n.NextAttemptAt.Equal(now) || !n.Created.Equal(now) || n.TenantID != ten.ID {
			t.Fatalf("replayed notification %+v: want PENDING, created and due at %v", n, now)
		}
	}
	if !slices.Contains(dueIDs(t, s, now), plain.ID) {
		t.Fatal("the replayed webhook is not due")
	}
	if c := Claim(t, s, "d", now, 10, plain.ID); !sameSet(claimedIDs(c), noteIDs(notes)) {
		t.Fatalf("claimed %v, want the replayed %v", claimedIDs(c), noteIDs(notes))
	}
	// Again: everything in the window has a notification now.
	if n := replay(t, s, window); n != 0 {
		t.Fatalf("second replay queued %d, want 0", n)
	}
	// The window ended before To (the event at 10 was left out above); a
	// window to 11 takes it in.
	wide := window
	wide.From, wide.To = at(2), at(11)
	if n := replay(t, s, wide); n != 1 {
		t.Fatalf("replay to 11 queued %d, want 1 (the event at 10)", n)
	}
	// The filter applies; events narrows.
	filtered := window
	filtered.WebhookID, filtered.To = auth.ID, at(11)
	filtered.Events = []string{"CARD_STATUS_CHANGE"}
	if n := replay(t, s, filtered); n != 0 {
		t.Fatalf("replay of CARD_STATUS_CHANGE through an AUTHORIZATION filter queued %d, want 0", n)
	}
	filtered.Events = nil
	if n := replay(t, s, filtered); n != 2 {
		t.Fatalf("filtered replay queued %d, want 2", n)
	}
	if got, want := noteEvents(hookNotes(t, s, ten.ID, auth.ID)), []string{e1.ID, e4.ID}; !slices.Equal(got, want) {
		t.Fatalf("filtered replay made %v, want %v", got, want)
	}

	// Another tenant cannot replay the webhook, nor reach a deleted one.
	foreign := window
	foreign.TenantID = other.ID
	_, err := s.Replay(ctx, foreign)
	wantErr(t, err, store.ErrNotFound, "replay of another tenant's webhook")
	gone := MustWebhook(t, s, ten.ID, "*")
	_, err = s.DeleteWebhook(ctx, ten.ID, gone.ID, now)
	NoErr(t, err, "delete webhook")
	deleted := window
	deleted.WebhookID = gone.ID
	_, err = s.Replay(ctx, deleted)
	wantErr(t, err, store.ErrNotFound, "replay of a deleted webhook")
	// The other tenant's own webhook gets only its own event.
	theirs := MustWebhook(t, s, other.ID, "*")
	if n := replay(t, s, store.ReplayRequest{TenantID: other.ID, WebhookID: theirs.ID, From: at(0), To: at(30), Now: now}); n != 1 {
		t.Fatalf("the other tenant's replay queued %d, want 1", n)
	}
}

// include_delivered replays events whose notifications of the webhook are
// finished (delivered, expired), never one still pending.
func testReplayIncludeDelivered(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ten := MustTenant(t, s)
	hook := MustWebhook(t, s, ten.ID, "TRANSACTION")
	at := func(m int) time.Time { return T0.Add(time.Duration(m) * time.Minute) }
	var events []string
	for m := range 3 {
		events = append(events, publishEvent(t, s, ten.ID, txnEvent(at(m), "AUTHORIZATION", "PURCHASE", m)).Event.ID)
	}
	now := at(10)
	c := Claim(t, s, "d", now, 2, hook.ID) // the first two
	complete(t, s, now, result(c[0], store.StatusDelivered, now, time.Time{}), result(c[1], store.StatusExpired, now, time.Time{}))
	req := store.ReplayRequest{TenantID: ten.ID, WebhookID: hook.ID, From: at(0), To: at(5), Now: now}
	if n := replay(t, s, req); n != 0 {
		t.Fatalf("replay without include_delivered queued %d, want 0", n)
	}
	req.IncludeDelivered = true
	if n := replay(t, s, req); n != 2 {
		t.Fatalf("replay with include_delivered queued %d, want 2 (delivered and expired, not pending)", n)
	}
	var pending []string
	for _, n := range hookNotes(t, s, ten.ID, hook.ID) {
		if n.Status == store.StatusPending {
			pending = append(pending, n.EventID)
		}
	}
	if !sameSet(pending, events) {
		t.Fatalf("pending notifications are of %v, want one of each %v", pending, events)
	}
	if n := replay(t, s, req); n != 0 {
		t.Fatalf("repeated replay with include_delivered queued %d, want 0", n)
	}
}

// A replay is held to the fan-out bound as a publish is: over it, nothing
// is created; the filter's rejects do not count.
func testReplayBound(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ten := MustTenant(t, s)
	at := func(m int) time.Time { return T0.Add(time.Duration(m) * time.Minute) }
	for m := range 4 {
		publishEvent(t, s, ten.ID, txnEvent(at(m), "AUTHORIZATION", "PURCHASE", m))
		publishEvent(t, s, ten.ID, txnEvent(at(m), "API", "WALLET_DEBIT", m))
	}
	plain := MustWebhook(t, s, ten.ID, "TRANSACTION")
	auth := MustFilteredWebhook(t, s, ten.ID, `{"card_transaction.message_type": ["AUTHORIZATION"]}`, "TRANSACTION")
	req := store.ReplayRequest{TenantID: ten.ID, WebhookID: plain.ID, From: at(0), To: at(5), Now: at(10), MaxFanout: 7}
	_, err := s.Replay(ctxOf(t), req)
	wantErr(t, err, store.ErrFanout, "replay of 8 over a bound of 7")
	if n := len(hookNotes(t, s, ten.ID, plain.ID)); n != 0 {
		t.Fatalf("a refused replay left %d notifications", n)
	}
	req.MaxFanout = 8
	if n := replay(t, s, req); n != 8 {
		t.Fatalf("replay at the bound queued %d, want 8", n)
	}
	req.WebhookID, req.MaxFanout = auth.ID, 4
	if n := replay(t, s, req); n != 4 {
		t.Fatalf("filtered replay of 4 of 8 within a bound of 4 queued %d", n)
	}
}

// explainer is a store that shows the plan of a replay's query.
type explainer interface {
	ExplainReplay(ctx context.Context, req store.ReplayRequest) (string, error)
}

// CheckReplayPlan fills a store with a few thousand events of several
// tenants, half of them with notifications of the webhook replayed, and
// checks that the plans of a replay's query (with and without a filter)
// mention every string of want and none of refuse. No statistics are
// gathered: the plan must not depend on them.
func CheckReplayPlan(t *testing.T, newStore NewStoreFunc, want, refuse []string) {
	s, _ := newStore(t)
	x, ok := s.(explainer)
	if !ok {
		t.Fatalf("%T does not explain replays", s)
	}
	ctx := ctxOf(t)
	var tenants []store.Tenant
	for range 3 {
		tenants = append(tenants, MustTenant(t, s))
	}
	ten := tenants[0]
	plain := MustWebhook(t, s, ten.ID, "TRANSACTION")
	filtered := MustFilteredWebhook(t, s, ten.ID, `{"card_transaction.message_type": ["AUTHORIZATION"]}`, "TRANSACTION", "PIN_CHANGE")
	for round := range 2 {
		for _, tn := range tenants {
			events := make([]store.Event, 1000)
			for i := range events {
				events[i] = txnEvent(T0.Add(time.Duration(round*1000+i)*time.Second), "AUTHORIZATION", "PURCHASE", i)
			}
			_, err := s.Publish(ctx, store.PublishRequest{TenantID: tn.ID, Events: events, Now: T0})
			NoErr(t, err, "publish")
		}
		if round == 0 {
			// The second round's events come before the webhooks' time.
			_, err := s.DeleteWebhook(ctx, ten.ID, MustWebhook(t, s, ten.ID, "*").ID, T0)
			NoErr(t, err, "delete webhook")
		}
	}
	for _, hook := range []store.Webhook{plain, filtered} {
		for _, include := range []bool{false, true} {
			plan, err := x.ExplainReplay(ctx, store.ReplayRequest{TenantID: ten.ID, WebhookID: hook.ID,
				From: T0.Add(10 * time.Minute), To: T0.Add(20 * time.Minute), IncludeDelivered: include, Now: T0, MaxFanout: 100000})
			NoErr(t, err, "explain replay")
			for _, w := range want {
				if !strings.Contains(plan, w) {
					t.Errorf("replay plan (filter %v, include_delivered %v) lacks %q:\n%s", !hook.Config.Filter.Empty(), include, w, plan)
				}
			}
			for _, r := range refuse {
				if strings.Contains(plan, r) {
					t.Errorf("replay plan (filter %v, include_delivered %v) has %q:\n%s", !hook.Config.Filter.Empty(), include, r, plan)
				}
			}
		}
	}
}

// A replay leaves to a deferred fan-out the notifications it has yet to
// write: the webhook gets each event once.
func testReplayDeferred(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ten := MustTenant(t, s)
	var hooks []store.Webhook
	for range 11 {
		hooks = append(hooks, MustWebhook(t, s, ten.ID, "TRANSACTION"))
	}
	res := deferredBatch(t, s, ten.ID, T0) // its plan is not written: no writer runs yet
	req := store.ReplayRequest{TenantID: ten.ID, WebhookID: hooks[3].ID, From: T0, To: T0.Add(time.Second), Now: T0.Add(time.Minute)}
	if n := replay(t, s, req); n != 0 {
		t.Fatalf("replay during a deferred fan-out queued %d, want 0", n)
	}
	runWriter(t, s, 0)
	awaitFanout(t, s, ten.ID, res, 11) // fails on a twelfth notification
	if n := replay(t, s, req); n != 0 {
		t.Fatalf("replay after the fan-out queued %d, want 0", n)
	}
}

// testReplaySkipsTestEvents: a test event (POST /webhooks/{id}:test) was
// sent to one webhook only: a replay of another webhook sends the tenant's
// real events of the window, never the test.
func testReplaySkipsTestEvents(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := ctxOf(t)
	ten := MustTenant(t, s)
	tested := MustWebhook(t, s, ten.ID, "*")
	real := publishEvent(t, s, ten.ID, newEvent("TRANSACTION", T0.Add(time.Minute))).Event
	e := newEvent("TRANSACTION", T0.Add(2*time.Minute))
	e.Test = true
	_, err := s.Publish(ctx, store.PublishRequest{TenantID: ten.ID, Events: []store.Event{e}, Now: e.Created, Webhook: tested.ID})
	NoErr(t, err, "test publish")
	late := MustWebhook(t, s, ten.ID, "*")
	now := T0.Add(time.Hour)
	if n := replay(t, s, store.ReplayRequest{TenantID: ten.ID, WebhookID: late.ID, From: T0, To: now, Now: now}); n != 1 {
		t.Fatalf("replay queued %d, want 1 (the real event only)", n)
	}
	if got := noteEvents(hookNotes(t, s, ten.ID, late.ID)); !slices.Equal(got, []string{real.ID}) {
		t.Fatalf("the replayed webhook has notifications for %v, want only the real event %s", got, real.ID)
	}
}
