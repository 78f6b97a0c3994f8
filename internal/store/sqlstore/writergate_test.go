package sqlstore

import (
	"context"
	"errors"
	"testing"
	"time"
)

// entered reports whether w's turn has come.
func entered(w <-chan error) bool {
	select {
	case err := <-w:
		return err == nil
	default:
		return false
	}
}

// TestWriterGateOrder: a publish waiting for the writer goes before the
// transactions that waited longer, until one of those has waited
// promoteAfter; a waiter whose context ends is skipped.
func TestWriterGateOrder(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	g := newWriterGate()
	g.now = func() time.Time { return now }
	ctx := context.Background()
	if err := g.enter(ctx, false); err != nil {
		t.Fatal(err)
	}
	wait := func(ctx context.Context, urgent bool) chan error {
		done := make(chan error, 1)
		queued := func() int { g.mu.Lock(); defer g.mu.Unlock(); return len(g.queue[0]) + len(g.queue[1]) }
		before := queued()
		go func() { done <- g.enter(ctx, urgent) }()
		for queued() == before {
			time.Sleep(time.Millisecond)
		}
		return done
	}
	batch := wait(ctx, false)
	cancelled, cancel := context.WithCancel(ctx)
	gone := wait(cancelled, true)
	cancel()
	if err := <-gone; !errors.Is(err, context.Canceled) {
		t.Fatalf("a waiter whose context ended: %v", err)
	}
	publish := wait(ctx, true)

	g.leave()
	if err := <-publish; err != nil {
		t.Fatal(err)
	}
	if entered(batch) {
		t.Fatal("the result batch went before the waiting publish")
	}
	// Another publish arrives; the batch has now waited promoteAfter.
	late := wait(ctx, true)
	now = now.Add(promoteAfter)
	g.leave()
	if err := <-batch; err != nil {
		t.Fatal(err)
	}
	if entered(late) {
		t.Fatal("the publish went before a batch that had waited promoteAfter")
	}
	g.leave()
	if err := <-late; err != nil {
		t.Fatal(err)
	}
	g.leave()
	if g.held {
		t.Fatal("the gate is held with nobody waiting")
	}
}
