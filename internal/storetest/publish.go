package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

func testPublishFanOut(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := ctxOf(t)
	ten, other := MustTenant(t, s), MustTenant(t, s)
	cards := MustWebhook(t, s, ten.ID, "CARD_STATUS_CHANGE")
	all := MustWebhook(t, s, ten.ID, "*")
	txns := MustWebhook(t, s, ten.ID, "TRANSACTION", "KYC_RESULT")
	_, err := s.UpdateWebhook(ctx, ten.ID, txns.ID, func(w *store.Webhook) error {
		w.Status = store.WebhookDisabled
		return nil
	})
	NoErr(t, err, "disable webhook")
	gone := MustWebhook(t, s, ten.ID, "*")
	_, err = s.DeleteWebhook(ctx, ten.ID, gone.ID, T0)
	NoErr(t, err, "delete webhook")
	foreign := MustWebhook(t, s, other.ID, "*")

	cases := []struct {
		event string
		hooks []string
	}{
		{"CARD_STATUS_CHANGE", []string{cards.ID, all.ID}},
		{"TRANSACTION", []string{all.ID, txns.ID}}, // disabled webhooks still get notifications
		{"USER_CREATED", []string{all.ID}},
	}
	var published []string
	for i, c := range cases {
		at := T0.Add(time.Duration(i) * time.Second)
		e := newEvent(c.event, at)
		res, err := s.Publish(ctx, store.PublishRequest{TenantID: ten.ID, Events: []store.Event{e}, Now: at})
		NoErr(t, err, "publish "+c.event)
		if res.Replayed || len(res.Events) != 1 || res.Events[0].Event.ID != e.ID {
			t.Fatalf("publish %s: result %+v", c.event, res)
		}
		refs := res.Events[0].Notifications
		var hooks []string
		for _, r := range refs {
			hooks = append(hooks, r.WebhookID)
			if r.ID == "" {
				t.Fatalf("publish %s: notification without id", c.event)
			}
		}
		if !sameSet(hooks, c.hooks) {
			t.Fatalf("publish %s went to %v, want %v", c.event, hooks, c.hooks)
		}
		published = append(published, refIDs(res.Events[0])...)

		// The event reads back with its notifications, all queued.
		got, notes, err := s.Event(ctx, ten.ID, e.ID)
		NoErr(t, err, "read event")
		if got.ID != e.ID || got.TenantID != ten.ID || got.Name != c.event || string(got.Payload) != string(e.Payload) || !got.Created.Equal(at) {
			t.Fatalf("Event = %+v, want %+v", got, e)
		}
		if !sameSet(noteIDs(notes), refIDs(res.Events[0])) {
			t.Fatalf("Event notifications %v, want %v", noteIDs(notes), refIDs(res.Events[0]))
		}
		for _, n := range notes {
			if n.Status != store.StatusPending || n.Attempts != 0 || n.RetryBase != 0 || n.EventID != e.ID ||
				n.EventName != c.event || n.TenantID != ten.ID || !n.NextAttemptAt.Equal(at) || !n.Created.Equal(at) {
				t.Fatalf("new notification %+v: want PENDING, no attempts, due at %v", n, at)
			}
		}
		_, _, err = s.Event(ctx, other.ID, e.ID)
		wantErr(t, err, store.ErrNotFound, "event read by another tenant")
	}

	// An event nobody subscribes to is stored with no notifications.
	lonely := newEvent("PIN_CHANGE", T0)
	res, err := s.Publish(ctx, store.PublishRequest{TenantID: other.ID, Events: []store.Event{lonely}, Now: T0})
	NoErr(t, err, "publish to the other tenant")
	if !slices.Equal(hooksOf(res.Events[0]), []string{foreign.ID}) {
		t.Fatalf("other tenant's publish went to %v, want only its own webhook", hooksOf(res.Events[0]))
	}
	quiet := MustTenant(t, s)
	MustWebhook(t, s, quiet.ID, "KYC_RESULT")
	res, err = s.Publish(ctx, store.PublishRequest{TenantID: quiet.ID, Events: []store.Event{newEvent("PIN_CHANGE", T0)}, Now: T0})
	NoErr(t, err, "publish unsubscribed event")
	if n := res.Events[0].Notifications; n == nil || len(n) != 0 {
		t.Fatalf("unsubscribed event: notifications %#v, want an empty list", n)
	}
	if _, notes, err := s.Event(ctx, quiet.ID, res.Events[0].Event.ID); err != nil || len(notes) != 0 {
		t.Fatalf("unsubscribed event read back: %d notifications, err %v; want stored with none", len(notes), err)
	}

	stored := searchAll(t, s, store.NotificationFilter{TenantID: ten.ID})
	if !sameSet(noteIDs(stored), published) {
		t.Fatalf("tenant has notifications %v, want exactly %v", noteIDs(stored), published)
	}
	for _, n := range stored {
		if n.WebhookID == gone.ID || n.WebhookID == foreign.ID {
			t.Fatalf("notification %s for webhook %s, which must get none", n.ID, n.WebhookID)
		}
	}
}

func hooksOf(pe store.PublishedEvent) []string {
	var out []string
	for _, r := range pe.Notifications {
		out = append(out, r.WebhookID)
	}
	return out
}

func testPublishBatch(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := ctxOf(t)
	ten := MustTenant(t, s)
	a := MustWebhook(t, s, ten.ID, "*")
	b := MustWebhook(t, s, ten.ID, "TRANSACTION")
	events := []store.Event{newEvent("TRANSACTION", T0), newEvent("KYC_RESULT", T0), newEvent("TRANSACTION", T0)}
	res, err := s.Publish(ctx, store.PublishRequest{TenantID: ten.ID, Events: events, Now: T0})
	NoErr(t, err, "publish batch")
	if len(res.Events) != 3 {
		t.Fatalf("batch of 3: %d events in result", len(res.Events))
	}
	wantHooks := [][]string{{a.ID, b.ID}, {a.ID}, {a.ID, b.ID}}
	total := 0
	for i, pe := range res.Events {
		if pe.Event.ID != events[i].ID {
			t.Fatalf("result event %d is %s, want %s (request order)", i, pe.Event.ID, events[i].ID)
		}
		if !sameSet(hooksOf(pe), wantHooks[i]) {
			t.Fatalf("event %d went to %v, want %v", i, hooksOf(pe), wantHooks[i])
		}
		_, notes, err := s.Event(ctx, ten.ID, pe.Event.ID)
		NoErr(t, err, "read batch event")
		if !sameSet(noteIDs(notes), refIDs(pe)) {
			t.Fatalf("event %d stored notifications %v, want %v", i, noteIDs(notes), refIDs(pe))
		}
		total += len(pe.Notifications)
	}
	if n := len(searchAll(t, s, store.NotificationFilter{TenantID: ten.ID})); n != total || total != 5 {
		t.Fatalf("%d notifications stored, result names %d, want 5", n, total)
	}
}

// testPublishAtomic: a batch that fails part-way stores nothing.
func testPublishAtomic(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := ctxOf(t)
	ten := MustTenant(t, s)
	MustWebhook(t, s, ten.ID, "*")
	good := newEvent("TRANSACTION", T0)
	dup := good // the same event id twice cannot be stored
	dup.Name = "KYC_RESULT"
	_, err := s.Publish(ctx, store.PublishRequest{TenantID: ten.ID, Events: []store.Event{good, dup}, Now: T0,
		IdempotencyKey: "k", RequestHash: "h", IdempotencyWindow: time.Hour})
	if err == nil {
		t.Fatalf("publishing one event id twice succeeded")
	}
	_, _, err = s.Event(ctx, ten.ID, good.ID)
	wantErr(t, err, store.ErrNotFound, "first event of a failed batch")
	if n := searchAll(t, s, store.NotificationFilter{TenantID: ten.ID}); len(n) != 0 {
		t.Fatalf("failed batch left %d notifications", len(n))
	}
	// Nor was its idempotency key recorded.
	res, err := s.Publish(ctx, store.PublishRequest{TenantID: ten.ID, Events: []store.Event{newEvent("TRANSACTION", T0)}, Now: T0,
		IdempotencyKey: "k", RequestHash: "other", IdempotencyWindow: time.Hour})
	NoErr(t, err, "reuse the key of a failed publish")
	if res.Replayed {
		t.Fatalf("key of a failed publish replayed")
	}
}

func idem(tenantID, key, hash string, at time.Time, events ...store.Event) store.PublishRequest {
	return store.PublishRequest{TenantID: tenantID, Events: events, IdempotencyKey: key, RequestHash: hash,
		IdempotencyWindow: 24 * time.Hour, Now: at}
}

func testPublishIdempotency(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := ctxOf(t)
	ten := MustTenant(t, s)
	MustWebhook(t, s, ten.ID, "*")
	MustWebhook(t, s, ten.ID, "TRANSACTION")

	first, err := s.Publish(ctx, idem(ten.ID, "key-1", "hash-1", T0, newEvent("TRANSACTION", T0), newEvent("KYC_RESULT", T0)))
	NoErr(t, err, "first publish")
	if first.Replayed {
		t.Fatalf("first publish reported Replayed")
	}
	count := func() int { return len(searchAll(t, s, store.NotificationFilter{TenantID: ten.ID})) }
	if n := count(); n != 3 {
		t.Fatalf("first publish stored %d notifications, want 3", n)
	}

	// A repeat within the window (with new event ids, as a retrying
	// client's request would get) returns the first answer.
	at := T0.Add(23 * time.Hour)
	retryEvents := []store.Event{newEvent("TRANSACTION", at), newEvent("KYC_RESULT", at)}
	again, err := s.Publish(ctx, idem(ten.ID, "key-1", "hash-1", at, retryEvents...))
	NoErr(t, err, "repeat publish")
	if !again.Replayed {
		t.Fatalf("repeat publish not Replayed")
	}
	sameResult(t, again, first)
	for _, e := range retryEvents {
		_, _, err := s.Event(ctx, ten.ID, e.ID)
		wantErr(t, err, store.ErrNotFound, "event of a replayed publish")
	}
	if n := count(); n != 3 {
		t.Fatalf("after a replay %d notifications, want 3", n)
	}

	// The same key with another body is refused and stores nothing.
	mismatch := newEvent("TRANSACTION", at)
	_, err = s.Publish(ctx, idem(ten.ID, "key-1", "hash-2", at, mismatch))
	wantErr(t, err, store.ErrIdempotencyMismatch, "key reused with another body")
	_, _, err = s.Event(ctx, ten.ID, mismatch.ID)
	wantErr(t, err, store.ErrNotFound, "event of a mismatched publish")
	if n := count(); n != 3 {
		t.Fatalf("after a mismatch %d notifications, want 3", n)
	}
	// The refused reuse did not replace the record.
	again, err = s.Publish(ctx, idem(ten.ID, "key-1", "hash-1", at, newEvent("TRANSACTION", at)))
	NoErr(t, err, "repeat after a mismatch")
	if !again.Replayed {
		t.Fatalf("repeat after a mismatch not Replayed")
	}
	sameResult(t, again, first)

	// After the window the key is forgotten: a new publish happens, even
	// with another body, and the key then names the new publish.
	late := T0.Add(25 * time.Hour)
	fresh := newEvent("TRANSACTION", late)
	res, err := s.Publish(ctx, idem(ten.ID, "key-1", "hash-3", late, fresh))
	NoErr(t, err, "publish after the window")
	if res.Replayed || len(res.Events) != 1 || res.Events[0].Event.ID != fresh.ID {
		t.Fatalf("publish after the window: %+v, want a new publish of %s", res, fresh.ID)
	}
	if _, _, err := s.Event(ctx, ten.ID, fresh.ID); err != nil {
		t.Fatalf("event published after the window not stored: %v", err)
	}
	if n := count(); n != 5 {
		t.Fatalf("after a publish past the window %d notifications, want 5", n)
	}
	again, err = s.Publish(ctx, idem(ten.ID, "key-1", "hash-3", late.Add(time.Minute), newEvent("TRANSACTION", late)))
	NoErr(t, err, "repeat of the new publish")
	if !again.Replayed {
		t.Fatalf("repeat of the new publish not Replayed")
	}
	sameResult(t, again, res)
	_, err = s.Publish(ctx, idem(ten.ID, "key-1", "hash-1", late.Add(time.Minute), newEvent("TRANSACTION", late)))
	wantErr(t, err, store.ErrIdempotencyMismatch, "first body after the key was re-recorded")

	// Without a key every publish is new.
	for range 2 {
		res, err := s.Publish(ctx, store.PublishRequest{TenantID: ten.ID, Events: []store.Event{newEvent("KYC_RESULT", late)},
			RequestHash: "hash-3", IdempotencyWindow: 24 * time.Hour, Now: late})
		NoErr(t, err, "publish without a key")
		if res.Replayed {
			t.Fatalf("publish without a key Replayed")
		}
	}
	if n := count(); n != 7 {
		t.Fatalf("after two publishes without a key %d notifications, want 7", n)
	}
}

// sameResult checks that a replay names the same events and notifications.
func sameResult(t *testing.T, got, want store.PublishResult) {
	t.Helper()
	if len(got.Events) != len(want.Events) {
		t.Fatalf("replay has %d events, want %d", len(got.Events), len(want.Events))
	}
	for i := range want.Events {
		g, w := got.Events[i], want.Events[i]
		if g.Event.ID != w.Event.ID || g.Event.Name != w.Event.Name || string(g.Event.Payload) != string(w.Event.Payload) {
			t.Fatalf("replayed event %d = %s %s, want %s %s", i, g.Event.ID, g.Event.Name, w.Event.ID, w.Event.Name)
		}
		if !sameSet(refIDs(g), refIDs(w)) || !sameSet(hooksOf(g), hooksOf(w)) {
			t.Fatalf("replayed event %d notifications %+v, want %+v", i, g.Notifications, w.Notifications)
		}
		for _, r := range g.Notifications {
			i := slices.IndexFunc(w.Notifications, func(x store.NotificationRef) bool { return x.ID == r.ID })
			if i < 0 || w.Notifications[i].WebhookID != r.WebhookID {
				t.Fatalf("replayed notification %s for webhook %s, not in the first answer", r.ID, r.WebhookID)
			}
		}
	}
}

func testIdempotencyPerTenant(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := ctxOf(t)
	a, b := MustTenant(t, s), MustTenant(t, s)
	MustWebhook(t, s, a.ID, "*")
	hb := MustWebhook(t, s, b.ID, "*")
	ra, err := s.Publish(ctx, idem(a.ID, "shared", "h", T0, newEvent("TRANSACTION", T0)))
	NoErr(t, err, "tenant a publish")
	eb := newEvent("TRANSACTION", T0)
	rb, err := s.Publish(ctx, idem(b.ID, "shared", "h", T0, eb))
	NoErr(t, err, "tenant b publish with the same key")
	if rb.Replayed || rb.Events[0].Event.ID != eb.ID {
		t.Fatalf("tenant b got tenant a's answer: %+v", rb)
	}
	if !slices.Equal(hooksOf(rb.Events[0]), []string{hb.ID}) {
		t.Fatalf("tenant b publish went to %v", hooksOf(rb.Events[0]))
	}
	_, err = s.Publish(ctx, idem(b.ID, "shared", "other", T0, newEvent("TRANSACTION", T0)))
	wantErr(t, err, store.ErrIdempotencyMismatch, "tenant b reuses its own key")
	again, err := s.Publish(ctx, idem(a.ID, "shared", "h", T0.Add(time.Minute), newEvent("TRANSACTION", T0)))
	NoErr(t, err, "tenant a repeat")
	if !again.Replayed {
		t.Fatalf("tenant a repeat not Replayed")
	}
	sameResult(t, again, ra)
}
