package bench

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// pollInterval is how often waits look at the receiver and at Herald.
const pollInterval = 20 * time.Millisecond

// meter is one count shown on the progress lines.
type meter struct {
	label string
	unit  string
	// total is the count awaited (0: open-ended).
	total int64
	// done returns the count so far (negative: unknown just now).
	done func() int64
}

// progress prints a line per second for the scenario until stop is called.
func (b *bench) progress(name string, meters ...meter) (stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		start := time.Now()
		last := make([]int64, len(meters))
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
			}
			parts := make([]string, 0, len(meters))
			for i, m := range meters {
				n := m.done()
				if n < 0 {
					n = last[i]
				}
				of := ""
				if m.total > 0 {
					of = fmt.Sprintf("/%d", m.total)
				}
				parts = append(parts, fmt.Sprintf("%s %d%s %s (%d/s)", m.label, n, of, m.unit, n-last[i]))
				last[i] = n
			}
			fmt.Fprintf(b.cfg.Progress, "bench: %s %4.0fs: %s\n", name, time.Since(start).Seconds(), strings.Join(parts, ", "))
		}
	}()
	return func() {
		close(quit)
		wg.Wait()
	}
}

// receivedMeter counts the receiver's /ok/ requests under tag.
func (b *bench) receivedMeter(ctx context.Context, tag string, total int64) meter {
	return meter{label: "received", unit: "notifications", total: total, done: func() int64 {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		n, err := b.recv.okCount(cctx, tag)
		if err != nil {
			return -1
		}
		return n
	}}
}

// awaitCount polls count until it reaches total. It fails when the count
// has not moved for the stall timeout; it returns the last count.
func (b *bench) awaitCount(ctx context.Context, what string, total int64, count func(context.Context) (int64, error), every func()) (int64, error) {
	var n int64 = -1
	moved := time.Now()
	lastEvery := time.Now()
	for {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		got, err := count(cctx)
		cancel()
		if err != nil {
			return n, fmt.Errorf("waiting for %s: %w", what, err)
		}
		if got >= total {
			return got, nil
		}
		if got != n {
			n, moved = got, time.Now()
		} else if time.Since(moved) > b.cfg.StallTimeout {
			return n, fmt.Errorf("waiting for %s: stuck at %d of %d for %s", what, n, total, b.cfg.StallTimeout)
		}
		if every != nil && time.Since(lastEvery) >= time.Second {
			every()
			lastEvery = time.Now()
		}
		if err := sleep(ctx, pollInterval); err != nil {
			return n, fmt.Errorf("waiting for %s: %w", what, err)
		}
	}
}

// awaitDelivered waits until the receiver has seen total /ok/ requests
// under tag and Herald holds no PENDING notification for the webhooks. It
// returns when both held and how many requests arrived (duplicates
// included). With discard, the receiver's records are dropped every second
// (the scenario needs only counts).
func (b *bench) awaitDelivered(ctx context.Context, tag string, total int64, ids []string, discard bool) (time.Time, int64, error) {
	var every func()
	if discard {
		every = b.discardRecords(ctx)
	}
	received, err := b.awaitCount(ctx, "the receiver to get every notification", total, func(ctx context.Context) (int64, error) {
		return b.recv.okCount(ctx, tag)
	}, every)
	if err != nil {
		return time.Time{}, received, err
	}
	deadline := time.Now().Add(b.cfg.StallTimeout)
	for {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		pending, err := b.api.anyPending(cctx, ids)
		cancel()
		if err != nil {
			return time.Time{}, received, err
		}
		if !pending {
			end := time.Now()
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if n, err := b.recv.okCount(cctx, tag); err == nil {
				received = n
			}
			return end, received, nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, received, fmt.Errorf("every notification was received but Herald still reports PENDING ones after %s", b.cfg.StallTimeout)
		}
		if err := sleep(ctx, pollInterval); err != nil {
			return time.Time{}, received, fmt.Errorf("waiting for Herald to record every delivery: %w", err)
		}
	}
}

// discardRecords returns a function that drops the receiver's records,
// for waits that need only its counts.
func (b *bench) discardRecords(ctx context.Context) func() {
	return func() {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_ = b.recv.discard(cctx)
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
