package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/filter"
	"github.com/heraldhq/herald/internal/store"
)

// mustFilter parses a content filter for a test.
func mustFilter(tb testing.TB, raw string) *filter.Filter {
	tb.Helper()
	f, err := filter.Parse([]byte(raw))
	if err != nil {
		tb.Fatalf("filter %s: %v", raw, err)
	}
	return f
}

// MustFilteredWebhook creates an active webhook of tenantID subscribed to
// events with the content filter raw.
func MustFilteredWebhook(tb testing.TB, s Store, tenantID, raw string, events ...string) store.Webhook {
	tb.Helper()
	w := newWebhook(tenantID, events...)
	w.Config.Filter = mustFilter(tb, raw)
	if err := s.CreateWebhook(ctxOf(tb), w, 0); err != nil {
		tb.Fatalf("create webhook: %v", err)
	}
	return w
}

// txnEvent is a TRANSACTION event of one message and transaction type.
func txnEvent(at time.Time, messageType, transactionType string, amount any) store.Event {
	id := newID()
	body, _ := json.Marshal(map[string]any{"event": "TRANSACTION", "card_transaction": map[string]any{
		"id": id, "message_type": messageType, "transaction_type": transactionType, "transaction_amount": amount}})
	return store.Event{ID: id, Name: "TRANSACTION", Created: at, Payload: body}
}

// setFilter replaces a webhook's filter (nil: removes it), as a PUT does.
func setFilter(tb testing.TB, s Store, tenantID, id string, f *filter.Filter) store.Webhook {
	tb.Helper()
	w, err := s.UpdateWebhook(ctxOf(tb), tenantID, id, func(h *store.Webhook) error {
		h.Config.Filter = f
		h.Modified = h.Modified.Add(time.Second)
		return nil
	})
	NoErr(tb, err, "change filter")
	return w
}

func filterJSON(tb testing.TB, f *filter.Filter) string {
	tb.Helper()
	if f == nil {
		return "null"
	}
	return jsonOf(tb, f)
}

// Filters are stored with the webhook, read back, changed and removed.
func testWebhookFilter(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := ctxOf(t)
	ten := MustTenant(t, s)
	const raw = `{"card_transaction.message_type": ["AUTHORIZATION"], "card_transaction.transaction_amount": [100, "100"]}`
	w := MustFilteredWebhook(t, s, ten.ID, raw, "TRANSACTION")
	got, err := s.Webhook(ctx, ten.ID, w.ID)
	NoErr(t, err, "read webhook")
	if g, want := filterJSON(t, got.Config.Filter), filterJSON(t, w.Config.Filter); g != want {
		t.Fatalf("stored filter %s, want %s", g, want)
	}
	plain := MustWebhook(t, s, ten.ID, "TRANSACTION")
	hooks, _, err := s.Webhooks(ctx, ten.ID, store.Page{})
	NoErr(t, err, "list webhooks")
	for _, h := range hooks {
		if want := map[string]string{w.ID: filterJSON(t, w.Config.Filter), plain.ID: "null"}[h.ID]; filterJSON(t, h.Config.Filter) != want {
			t.Fatalf("listed webhook %s has filter %s, want %s", h.ID, filterJSON(t, h.Config.Filter), want)
		}
	}
	next := mustFilter(t, `{"card_transaction.transaction_type": ["REFUND"]}`)
	updated := setFilter(t, s, ten.ID, w.ID, next)
	got, err = s.Webhook(ctx, ten.ID, w.ID)
	NoErr(t, err, "read webhook")
	if filterJSON(t, got.Config.Filter) != filterJSON(t, next) || filterJSON(t, updated.Config.Filter) != filterJSON(t, next) {
		t.Fatalf("changed filter %s, want %s", filterJSON(t, got.Config.Filter), filterJSON(t, next))
	}
	setFilter(t, s, ten.ID, w.ID, nil)
	got, err = s.Webhook(ctx, ten.ID, w.ID)
	NoErr(t, err, "read webhook")
	if got.Config.Filter != nil {
		t.Fatalf("removed filter reads back as %s", filterJSON(t, got.Config.Filter))
	}
}

// A publish makes notifications only for the webhooks whose filter the
// payload passes, in single publishes, batches and concurrent groups, and
// a filter's change applies to the next publish.
func testPublishFilters(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := ctxOf(t)
	ten := MustTenant(t, s)
	plain := MustWebhook(t, s, ten.ID, "TRANSACTION")
	auth := MustFilteredWebhook(t, s, ten.ID, `{"card_transaction.message_type": ["AUTHORIZATION"]}`, "TRANSACTION")
	refunds := MustFilteredWebhook(t, s, ten.ID, `{"card_transaction.message_type": ["AUTHORIZATION"], "card_transaction.transaction_type": ["REFUND", "REVERSAL"]}`, "TRANSACTION")
	hundred := MustFilteredWebhook(t, s, ten.ID, `{"card_transaction.transaction_amount": [100]}`, "*")
	cards := MustFilteredWebhook(t, s, ten.ID, `{"event": ["CARD_STATUS_CHANGE"]}`, "*")

	type tc struct {
		event store.Event
		hooks []string
	}
	cases := []tc{
		{txnEvent(T0, "AUTHORIZATION", "PURCHASE", 12.5), []string{plain.ID, auth.ID}},
		{txnEvent(T0, "AUTHORIZATION", "REFUND", 100.0), []string{plain.ID, auth.ID, refunds.ID, hundred.ID}},
		{txnEvent(T0, "API", "REFUND", "100"), []string{plain.ID}}, // "100" is a string, not the number 100
		{newEvent("CARD_STATUS_CHANGE", T0), []string{cards.ID}},
		{newEvent("PIN_CHANGE", T0), nil},
	}
	check := func(what string, res store.PublishResult, cs []tc) {
		t.Helper()
		if len(res.Events) != len(cs) {
			t.Fatalf("%s: %d events answered, want %d", what, len(res.Events), len(cs))
		}
		for i, c := range cs {
			var hooks []string
			for _, r := range res.Events[i].Notifications {
				hooks = append(hooks, r.WebhookID)
			}
			_, notes, err := s.Event(ctx, ten.ID, c.event.ID)
			NoErr(t, err, "read event")
			stored := make([]string, len(notes))
			for j, n := range notes {
				stored[j] = n.WebhookID
			}
			if !sameSet(hooks, c.hooks) || !sameSet(stored, c.hooks) {
				t.Fatalf("%s: event %d went to %v (stored %v), want %v", what, i, hooks, stored, c.hooks)
			}
		}
	}
	fresh := func(cs []tc) []tc {
		out := slices.Clone(cs)
		for i := range out {
			id := newID()
			var body map[string]any
			NoErr(t, json.Unmarshal(out[i].event.Payload, &body), "payload")
			body["id"] = id
			out[i].event.ID = id
			out[i].event.Payload, _ = json.Marshal(body)
		}
		return out
	}
	events := func(cs []tc) []store.Event {
		out := make([]store.Event, len(cs))
		for i, c := range cs {
			out[i] = c.event
		}
		return out
	}

	// One event a publish.
	for i, c := range cases {
		res, err := s.Publish(ctx, store.PublishRequest{TenantID: ten.ID, Events: []store.Event{c.event}, Now: T0})
		NoErr(t, err, "publish")
		check(fmt.Sprintf("single publish %d", i), res, []tc{c})
	}
	// One batch.
	batch := fresh(cases)
	res, err := s.Publish(ctx, store.PublishRequest{TenantID: ten.ID, Events: events(batch), Now: T0})
	NoErr(t, err, "publish batch")
	check("batch", res, batch)
	// Concurrent publishes, committed in groups.
	var wg sync.WaitGroup
	results := make([]store.PublishResult, 8)
	sets := make([][]tc, 8)
	errs := make([]error, 8)
	for i := range sets {
		sets[i] = fresh(cases)
		wg.Go(func() {
			results[i], errs[i] = s.Publish(ctx, store.PublishRequest{TenantID: ten.ID, Events: events(sets[i]), Now: T0})
		})
	}
	wg.Wait()
	for i := range sets {
		NoErr(t, errs[i], "concurrent publish")
		check(fmt.Sprintf("concurrent publish %d", i), results[i], sets[i])
	}

	// The bound counts only the notifications the filters let through:
	// 4 subscribers of which 2 pass.
	res, err = s.Publish(ctx, store.PublishRequest{TenantID: ten.ID, Events: []store.Event{txnEvent(T0, "AUTHORIZATION", "PURCHASE", 1)}, Now: T0, MaxFanout: 2})
	NoErr(t, err, "publish within the bound")
	if n := len(res.Events[0].Notifications); n != 2 {
		t.Fatalf("publish within the bound made %d notifications, want 2", n)
	}

	// A changed filter applies to the next publish.
	setFilter(t, s, ten.ID, auth.ID, mustFilter(t, `{"card_transaction.message_type": ["API"]}`))
	e := txnEvent(T0, "API", "WALLET_CREDIT", 5)
	res, err = s.Publish(ctx, store.PublishRequest{TenantID: ten.ID, Events: []store.Event{e}, Now: T0})
	NoErr(t, err, "publish after the change")
	check("after the change", res, []tc{{e, []string{plain.ID, auth.ID}}})
}

// BenchPublishFilters measures a publish fanning out to 100 webhooks that
// each have a content filter the event passes, against the same publish to
// 100 webhooks without filters. The two alternate within one loop, so that
// a noisy machine slows both alike; "ratio" is filtered over unfiltered.
// The event is the catalogue's TRANSACTION PURCHASE sample (2 KB).
func BenchPublishFilters(b *testing.B, newStore NewStoreFunc) {
	const hooks = 100
	cat, err := catalog.New()
	NoErr(b, err, "catalogue")
	payload, err := cat.Sample("TRANSACTION", "PURCHASE")
	NoErr(b, err, "sample")
	s, _ := newStore(b)
	plain, filtered := MustTenant(b, s), MustTenant(b, s)
	for i := range hooks {
		MustWebhook(b, s, plain.ID, "TRANSACTION")
		MustFilteredWebhook(b, s, filtered.ID, fmt.Sprintf(`{"card_transaction.message_type": ["AUTHORIZATION"],
			"card_transaction.transaction_type": ["T%d", "PURCHASE", "REFUND"]}`, i), "TRANSACTION")
	}
	ctx := ctxOf(b)
	publish := func(tenant string) time.Duration {
		e := store.Event{ID: newID(), Name: "TRANSACTION", Created: T0, Payload: payload}
		start := time.Now()
		res, err := s.Publish(ctx, store.PublishRequest{TenantID: tenant, Events: []store.Event{e}, Now: T0})
		d := time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		if n := len(res.Events[0].Notifications); n != hooks {
			b.Fatalf("publish made %d notifications, want %d", n, hooks)
		}
		return d
	}
	publish(plain.ID) // warm statement caches
	publish(filtered.ID)
	var tPlain, tFiltered time.Duration
	b.ReportAllocs()
	odd := false
	for b.Loop() {
		// Each goes first in turn, so neither pays more often for what a
		// publish leaves the next one (a checkpoint, a cold cache).
		if odd = !odd; odd {
			tPlain += publish(plain.ID)
			tFiltered += publish(filtered.ID)
		} else {
			tFiltered += publish(filtered.ID)
			tPlain += publish(plain.ID)
		}
	}
	b.ReportMetric(float64(tPlain.Nanoseconds())/float64(b.N), "unfiltered-ns/publish")
	b.ReportMetric(float64(tFiltered.Nanoseconds())/float64(b.N), "filtered-ns/publish")
	b.ReportMetric(float64(tFiltered)/float64(tPlain), "ratio")
}
