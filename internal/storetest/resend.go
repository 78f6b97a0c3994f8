package storetest

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// resender re-sends notifications in any final status.
type resender interface {
	Resend(ctx context.Context, f store.NotificationFilter, now time.Time, max int, dryRun bool) (int, bool, error)
}

// A test event goes to the one webhook named, whatever it subscribes to,
// and is marked as a test on the event and its notification.
func testPublishTest(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := ctxOf(t)
	a, b := MustTenant(t, s), MustTenant(t, s)
	h1 := MustWebhook(t, s, a.ID, "CARD_STATUS_CHANGE")
	MustWebhook(t, s, a.ID, "*")
	hb := MustWebhook(t, s, b.ID, "*")
	e := newEvent("TRANSACTION", T0)
	e.Test = true
	res, err := s.Publish(ctx, store.PublishRequest{TenantID: a.ID, Events: []store.Event{e}, Now: T0, Webhook: h1.ID})
	NoErr(t, err, "test publish")
	if got := res.Events[0].Notifications; len(got) != 1 || got[0].WebhookID != h1.ID {
		t.Fatalf("a test event made notifications %+v, want one for h1", got)
	}
	ev, notes, err := s.Event(ctx, a.ID, e.ID)
	NoErr(t, err, "event")
	if !ev.Test || len(notes) != 1 || !notes[0].Test {
		t.Fatalf("the test event reads back test %v with %+v", ev.Test, notes)
	}
	found := searchAll(t, s, store.NotificationFilter{TenantID: a.ID})
	if len(found) != 1 || !found[0].Test {
		t.Fatalf("search finds %+v, want the one test notification", found)
	}
	// Another tenant's webhook, or a deleted one: not found, nothing stored.
	_, err = s.Publish(ctx, store.PublishRequest{TenantID: a.ID, Events: []store.Event{newEvent("TRANSACTION", T0)}, Now: T0, Webhook: hb.ID})
	wantErr(t, err, store.ErrNotFound, "test event to another tenant's webhook")
	_, err = s.DeleteWebhook(ctx, a.ID, h1.ID, T0)
	NoErr(t, err, "delete")
	_, err = s.Publish(ctx, store.PublishRequest{TenantID: a.ID, Events: []store.Event{newEvent("TRANSACTION", T0)}, Now: T0, Webhook: h1.ID})
	wantErr(t, err, store.ErrNotFound, "test event to a deleted webhook")
	if n := len(searchAll(t, s, store.NotificationFilter{TenantID: a.ID})); n != 1 {
		t.Fatalf("%d notifications after refused test events, want 1", n)
	}
}

// Resend moves notifications in a final status of live webhooks back to
// PENDING with a fresh retry budget, newest first up to a bound; a dry run
// counts them.
func testResend(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	rs, ok := s.(resender)
	if !ok {
		t.Fatalf("store %T does not re-send", s)
	}
	ctx := ctxOf(t)
	ten, other := MustTenant(t, s), MustTenant(t, s)
	h := MustWebhook(t, s, ten.ID, "TRANSACTION")
	gone := MustWebhook(t, s, ten.ID, "KYC_RESULT")
	ho := MustWebhook(t, s, other.ID, "TRANSACTION")
	ids := PublishTo(t, s, ten.ID, h.ID, 5, T0) // 0, 1 delivered; 2 expired; 3, 4 pending
	cancelled := publish(t, s, ten.ID, "KYC_RESULT", T0).Notifications[0].ID
	theirs := publish(t, s, other.ID, "TRANSACTION", T0).Notifications[0].ID
	now := T0.Add(time.Hour)
	for _, c := range Claim(t, s, "d", now, 3, h.ID, ho.ID) {
		status := store.StatusDelivered
		if c.ID == ids[2] {
			status = store.StatusExpired
		}
		complete(t, s, now, result(c, status, now, time.Time{}))
	}
	_, err := s.DeleteWebhook(ctx, ten.ID, gone.ID, now)
	NoErr(t, err, "delete")
	resend := func(f store.NotificationFilter, max int, dry bool, want int, wantMore bool) {
		t.Helper()
		f.TenantID = ten.ID
		n, more, err := rs.Resend(ctx, f, now.Add(time.Minute), max, dry)
		NoErr(t, err, "resend")
		if n != want || more != wantMore {
			t.Fatalf("Resend(%+v, max %d, dry %v) = %d (more %v), want %d (more %v)", f, max, dry, n, more, want, wantMore)
		}
	}
	resend(store.NotificationFilter{NotificationIDs: []string{ids[3], cancelled, theirs}}, 0, false, 0, false) // pending, deleted webhook, other tenant
	resend(store.NotificationFilter{}, 0, true, 3, false)                                                      // a dry run counts 0, 1, 2
	resend(store.NotificationFilter{}, 2, true, 2, true)
	if n := note(t, s, ten.ID, ids[0]); n.Status != store.StatusDelivered {
		t.Fatalf("a dry run moved %s to %s", ids[0], n.Status)
	}
	resend(store.NotificationFilter{NotificationIDs: []string{ids[0]}}, 0, false, 1, false) // DELIVERED, re-sent
	n := note(t, s, ten.ID, ids[0])
	if n.Status != store.StatusPending || n.RetryBase != n.Attempts || n.Attempts != 1 || !n.NextAttemptAt.Equal(now.Add(time.Minute)) {
		t.Fatalf("re-sent notification = %+v", n)
	}
	resend(store.NotificationFilter{}, 1, false, 1, true) // the newest final one: 2
	if n := note(t, s, ten.ID, ids[2]); n.Status != store.StatusPending {
		t.Fatalf("the newest final notification is %s after a bounded re-send", n.Status)
	}
	resend(store.NotificationFilter{Status: store.StatusDelivered}, 0, false, 1, false) // 1
	if got := note(t, s, other.ID, theirs); got.Status != store.StatusDelivered {
		t.Fatalf("another tenant's notification is %s", got.Status)
	}
	due := Claim(t, s, "d", now.Add(2*time.Minute), 10, h.ID)
	if got := claimedIDs(due); !sameSet(got, []string{ids[0], ids[1], ids[2], ids[3], ids[4]}) {
		t.Fatalf("claimed %v after the re-sends", got)
	}
	for _, c := range due {
		if slices.Contains(ids[:3], c.ID) && c.Attempt != 2 {
			t.Fatalf("re-sent %s claimed for attempt %d, want 2", c.ID, c.Attempt)
		}
	}
}

// benchHeaders are an attempt's headers as a delivery records them.
var benchHeaders = struct{ sent, received []store.Header }{
	sent: []store.Header{{Name: "Authorization", Value: "Basic ********"}, {Name: "Content-Type", Value: "application/json"},
		{Name: "Herald-Attempt", Value: "1"}, {Name: "Herald-Event", Value: "TRANSACTION"}, {Name: "User-Agent", Value: "Herald/1.0.0"},
		{Name: "Webhook-Id", Value: "01a2344a-ce29-7a3b-a7ad-ba8dcd8b696c"},
		{Name: "Webhook-Signature", Value: "v1,0tiG5OJcFYt+BaShi2ieOpZRrbCDnLd3EOiprvg5znU="}, {Name: "Webhook-Timestamp", Value: "1796173647"},
		{Name: "X-Api-Key", Value: "********"}},
	received: []store.Header{{Name: "Content-Length", Value: "2"}, {Name: "Content-Type", Value: "text/plain; charset=utf-8"},
		{Name: "Date", Value: "Wed, 02 Dec 2026 01:07:27 GMT"}},
}

// An attempt's headers are kept with it, in order, whatever they hold.
func testAttemptHeaders(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ten := MustTenant(t, s)
	w := MustWebhook(t, s, ten.ID, "*")
	ids := PublishTo(t, s, ten.ID, w.ID, 2, T0)
	now := T0.Add(time.Minute)
	c := Claim(t, s, "d", now, 2, w.ID)
	with := result(c[0], store.StatusDelivered, now, time.Time{})
	odd := []store.Header{{Name: "X-Quote", Value: `"a"\b ü`}, {Name: "X-Empty", Value: ""}}
	with.Attempt.RequestHeaders, with.Attempt.ResponseHeaders = benchHeaders.sent, odd
	derived := result(c[1], store.StatusDelivered, now, time.Time{})
	derived.Attempt.RequestHeaders, derived.Attempt.ResponseHeaders = deliveryHeaders(derived.Attempt)
	complete(t, s, now, with, derived)
	dsent, dreceived := deliveryHeaders(derived.Attempt)
	for i, want := range []struct{ sent, received []store.Header }{{benchHeaders.sent, odd}, {dsent, dreceived}} {
		n := note(t, s, ten.ID, ids[i])
		if len(n.AttemptLog) != 1 {
			t.Fatalf("notification %d has %d attempts", i, len(n.AttemptLog))
		}
		a := n.AttemptLog[0]
		if !slices.Equal(a.RequestHeaders, want.sent) || !slices.Equal(a.ResponseHeaders, want.received) {
			t.Fatalf("attempt %d headers: sent %v, received %v; want %v, %v", i, a.RequestHeaders, a.ResponseHeaders, want.sent, want.received)
		}
	}
}

// deliveryHeaders are the headers a delivery of a sends and receives.
func deliveryHeaders(a store.Attempt) (sent, received []store.Header) {
	sent = slices.Clone(benchHeaders.sent)
	for i, h := range sent {
		switch h.Name {
		case "Herald-Attempt":
			sent[i].Value = strconv.Itoa(a.Number)
		case "Webhook-Id":
			sent[i].Value = a.NotificationID
		case "Webhook-Timestamp":
			sent[i].Value = strconv.FormatInt(a.Started.Unix(), 10)
		}
	}
	return sent, benchHeaders.received
}
