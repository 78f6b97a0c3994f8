package delivery

import (
	"context"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// The ready buffer holds notifications claimed ahead of a free slot. A
// webhook at its max_in_flight would otherwise wait for a claim after
// every attempt it finishes (a write transaction, behind every publish on
// SQLite's single writer); with notifications claimed ahead, a finished
// attempt's slot goes straight to the next one.
//
// A webhook may hold up to aheadDepth times its max_in_flight buffered,
// and is claimed for again once half of that is spent: a claim waits for
// the writer (on SQLite behind publish groups and result batches), and a
// buffer of one max_in_flight ran dry within one round of attempts,
// leaving the webhook idle until the claim came back (docs/performance.md,
// "Claims ahead"). Where a single process uses the database (SQLite) the
// store grants what is asked, since the dispatcher's own count is exact
// and a crash repeats only what was sent. Where every live lease counts
// (PostgreSQL, several replicas) a claimer holding every live lease of the
// webhook gets up to that many ahead (ClaimRequest.MaxAhead), one that is
// not alone none (the store's leaseBound), so what all replicas have sent
// and not yet recorded stays within max_in_flight.
//
// Ordered and rate limited webhooks claim only what starts at once: their
// order and their bucket are kept by the queue. Buffered notifications hold
// a lease long enough to wait for attempts ahead of them (bufferedLease);
// one that could no longer finish within its lease is left to run out and
// be claimed again. A webhook with notifications buffered and nothing else
// due is read again at most every bufferCheck: once disabled or deleted,
// its buffer is dropped (the leases run out, as after a crash), and once
// changed, what is buffered goes out with the new settings. Until then,
// and for attempts in flight, it still gets them.

// aheadDepth is how many times its max_in_flight a webhook may hold
// buffered. Four measured 10 to 16% more throughput than one on SQLite and
// 3 to 8% more on PostgreSQL; eight no more than four on SQLite.
const aheadDepth = 4

// bufferCheck is how often a webhook with notifications buffered and none
// due is read again, to stop sending to it once it is disabled or deleted.
const bufferCheck = time.Second

// readyItem is a claimed notification waiting for a slot.
type readyItem struct {
	n     store.Claimed
	until time.Time // its lease's end
}

// prefetches says whether w's claims take more than its free slots, to
// buffer (within a service-wide budget of MaxConcurrency buffered in all).
func prefetches(w *store.Webhook) bool {
	return !w.Config.Ordered && w.Config.RateLimitPerSecond == nil
}

// aheadMax is the most a webhook of max_in_flight maxInFlight that
// prefetches may hold buffered.
func aheadMax(maxInFlight int) int { return aheadDepth * maxInFlight }

// bufferedLease is the lease of notifications of w claimed ahead. On a
// queue of its own they wait for the attempts ahead of them, one timeout
// per max_in_flight buffered at most, then run: every lease is released
// when the process starts again, so a long one delays nothing. Where
// replicas share the queue a lease is also how long a crashed replica's
// work waits to be taken over, so it covers one timeout of waiting; what
// waits longer is left to run out and be claimed again.
func (d *Dispatcher) bufferedLease(w *store.Webhook) time.Duration {
	rounds := time.Duration(aheadDepth + 1)
	if d.cfg.Shared {
		rounds = 2
	}
	return rounds*timeout(w) + leaseMargin
}

// refillAt is how few buffered notifications let a webhook of max_in_flight
// maxInFlight that prefetches be claimed for again: half its buffer.
func refillAt(maxInFlight int) int { return aheadMax(maxInFlight) / 2 }

// buffer keeps claimed notifications that have no slot yet. d.mu is held.
func (d *Dispatcher) buffer(items []store.Claimed, until time.Time) {
	for _, n := range items {
		d.ready[n.WebhookID] = append(d.ready[n.WebhookID], readyItem{n: n, until: until})
	}
	d.buffered += len(items)
}

// startReady starts buffered notifications of the given webhooks (of every
// webhook when none is given) as far as their slots allow, oldest first.
func (d *Dispatcher) startReady(ids ...string) {
	now := d.now()
	var run []store.Claimed
	d.mu.Lock()
	if len(ids) == 0 {
		for id := range d.ready {
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		run = d.takeReady(id, now, run)
	}
	d.mu.Unlock()
	d.start(run)
}

// takeReady moves webhook id's buffered notifications that get a slot to
// run. d.mu is held.
func (d *Dispatcher) takeReady(id string, now time.Time, run []store.Claimed) []store.Claimed {
	q := d.ready[id]
	if len(q) == 0 {
		return run
	}
	t := d.targets[id]
	if t == nil || d.attemptCtx == nil {
		return run // shutting down: the leases are released
	}
	w := &t.Webhook
	i := 0
	for ; i < len(q); i++ {
		if !now.Add(timeout(w) + leaseMargin).Before(q[i].until) {
			continue // could not finish within its lease: claimed again once it runs out
		}
		if !d.slots.tryTake(id, d.maxInFlight(w)) {
			break
		}
		run = append(run, q[i].n)
	}
	d.buffered -= i
	if i == len(q) {
		delete(d.ready, id)
	} else {
		d.ready[id] = q[i:]
	}
	return run
}

// checkBuffers reads again the webhooks that hold a buffer and are not
// among the due ones (whose changes refreshTargets sees), each at most
// every bufferCheck: a disabled or deleted one loses its buffer, a changed
// one is prepared again.
func (d *Dispatcher) checkBuffers(ctx context.Context, versions []store.WebhookVersion, now time.Time) error {
	due := make(map[string]bool, len(versions))
	for _, v := range versions {
		due[v.ID] = true
	}
	var ids []string
	d.mu.Lock()
	for id := range d.ready {
		if t := d.targets[id]; t != nil && !due[id] && now.Sub(t.checked) >= bufferCheck {
			t.checked = now
			ids = append(ids, id)
		}
	}
	d.mu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	hooks, err := d.q.WebhooksByID(ctx, ids)
	if err != nil {
		return err
	}
	live := make(map[string]store.Webhook, len(hooks))
	for _, w := range hooks {
		live[w.ID] = w
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, id := range ids {
		w, ok := live[id]
		if !ok || w.Status != store.WebhookActive {
			d.buffered -= len(d.ready[id])
			delete(d.ready, id)
			d.log.Debug("dropped the buffer of a webhook disabled or deleted", "webhook_id", id)
			continue
		}
		if t := d.targets[id]; t != nil && t.Stale(w.Modified, now) {
			nt, err := NewTarget(w, now)
			if err != nil {
				d.log.Error("prepare webhook", "webhook_id", id, "err", err)
				continue
			}
			d.targets[id] = &target{Target: nt, used: t.used, checked: now}
		}
	}
	return nil
}
