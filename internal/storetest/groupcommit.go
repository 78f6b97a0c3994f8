package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// testGroupCommit: many publishes at once all commit, each answered with
// its own events; the ones failing on their own (an idempotency key reused
// with another body, a fan-out over its bound, an event id given twice)
// fail alone and store nothing, and keep no hand-off reservation.
func testGroupCommit(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := ctxOf(t)
	ten := MustTenant(t, s)
	all, txn := MustWebhook(t, s, ten.ID, "*"), MustWebhook(t, s, ten.ID, "TRANSACTION")
	_, err := s.Publish(ctx, idem(ten.ID, "used", "h1", T0, newEvent("KYC_RESULT", T0)))
	NoErr(t, err, "first use of a key")

	const n = 50
	const mismatch, fanout, twice = 15, 12, 21 // each also hands off
	h := newFakeHandoff(-1, time.Minute)
	reqs := make([]store.PublishRequest, n)
	for i := range reqs {
		at := T0.Add(time.Duration(i) * time.Millisecond)
		r := store.PublishRequest{TenantID: ten.ID, Now: at,
			Events: []store.Event{newEvent("TRANSACTION", at), newEvent("KYC_RESULT", at)}} // 3 notifications
		if i%2 == 0 {
			r.IdempotencyKey, r.RequestHash, r.IdempotencyWindow = fmt.Sprintf("key-%d", i), "h", time.Hour
		}
		if i%3 == 0 {
			r.Handoff = h
		}
		switch i {
		case mismatch:
			r.IdempotencyKey, r.RequestHash, r.IdempotencyWindow = "used", "h2", time.Hour
		case fanout:
			r.MaxFanout = 2
		case twice:
			r.Events[1] = r.Events[0]
		}
		reqs[i] = r
	}
	results, errs := make([]store.PublishResult, n), make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errs[i] = s.Publish(ctx, reqs[i])
		}()
	}
	close(start)
	wg.Wait()

	wantErr(t, errs[mismatch], store.ErrIdempotencyMismatch, "key reused with another body")
	wantErr(t, errs[fanout], store.ErrFanout, "fan-out over its bound")
	if errs[twice] == nil || errors.Is(errs[twice], store.ErrIdempotencyMismatch) || errors.Is(errs[twice], store.ErrFanout) {
		t.Fatalf("event id given twice: err = %v, want the insert's failure", errs[twice])
	}
	stored := 1 // the first use of "used"
	refs := map[string]bool{}
	wantTaken := 0
	for i, r := range reqs {
		if i == mismatch || i == fanout || i == twice {
			for _, e := range r.Events {
				_, _, err := s.Event(ctx, ten.ID, e.ID)
				wantErr(t, err, store.ErrNotFound, fmt.Sprintf("event of failed publish %d", i))
			}
			continue
		}
		NoErr(t, errs[i], fmt.Sprintf("publish %d", i))
		res := results[i]
		if res.Replayed || len(res.Events) != len(r.Events) {
			t.Fatalf("publish %d: %+v, want its %d events", i, res, len(r.Events))
		}
		for j, pe := range res.Events {
			want := []string{all.ID}
			if pe.Event.Name == "TRANSACTION" {
				want = append(want, txn.ID)
			}
			if pe.Event.ID != r.Events[j].ID || !sameSet(hooksOf(pe), want) {
				t.Fatalf("publish %d event %d: %s to %v, want its own %s to %v", i, j, pe.Event.ID, hooksOf(pe), r.Events[j].ID, want)
			}
			_, notes, err := s.Event(ctx, ten.ID, pe.Event.ID)
			NoErr(t, err, "read event")
			if !sameSet(noteIDs(notes), refIDs(pe)) {
				t.Fatalf("publish %d event %d stored %v, answered %v", i, j, noteIDs(notes), refIDs(pe))
			}
			for _, id := range refIDs(pe) {
				refs[id] = true
			}
			stored += len(pe.Notifications)
			if r.Handoff != nil {
				wantTaken += len(pe.Notifications)
			}
		}
	}
	if got := searchAll(t, s, store.NotificationFilter{TenantID: ten.ID}); len(got) != stored {
		t.Fatalf("%d notifications stored, the answers name %d", len(got), stored)
	}

	// The hand-off got exactly the notifications of the committed
	// publishes that carried it, and kept no slot of the failed ones.
	if len(h.taken) != wantTaken {
		t.Fatalf("handed over %d notifications, want %d", len(h.taken), wantTaken)
	}
	perHook := map[string]int{}
	for _, c := range h.taken {
		if !refs[c.ID] {
			t.Fatalf("handed over %s, not a notification of a committed publish (or twice)", c.ID)
		}
		delete(refs, c.ID)
		perHook[c.WebhookID]++
	}
	if held := h.held(); len(held) != len(perHook) || held[all.ID] != perHook[all.ID] || held[txn.ID] != perHook[txn.ID] {
		t.Fatalf("reservations kept %v, want those handed over %v", held, perHook)
	}

	again, err := s.Publish(ctx, idem(ten.ID, "key-0", "h", T0.Add(time.Minute), newEvent("TRANSACTION", T0)))
	NoErr(t, err, "repeat of a grouped publish")
	if !again.Replayed {
		t.Fatalf("repeat of a grouped publish not replayed")
	}
	sameResult(t, again, results[0])
}
