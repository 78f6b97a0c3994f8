package delivery

import (
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// The ready buffer holds notifications claimed ahead of a free slot. A
// webhook at its max_in_flight would otherwise wait for a claim after
// every attempt it finishes (a write transaction, behind every publish on
// SQLite's single writer); with up to max_in_flight more claimed ahead, a
// finished attempt's slot goes straight to the next one.
//
// A database that does not count leases against max_in_flight (SQLite, one
// process) grants what is asked; where every live lease counts (PostgreSQL,
// several replicas) a claimer holding every live lease of the webhook gets
// up to max_in_flight ahead, one that is not alone none (the store's
// leaseBound), so what all replicas have sent and not yet recorded stays
// within max_in_flight. Ordered and rate limited
// webhooks claim only what starts at once: their order and their bucket are
// kept by the queue. Buffered notifications hold a lease long enough to
// wait one attempt's timeout and then run their own; one that could no
// longer finish within its lease is left to run out and be claimed again.
// A webhook disabled or changed meanwhile still gets what was buffered, as
// it does the attempts in flight: at most max_in_flight.

// readyItem is a claimed notification waiting for a slot.
type readyItem struct {
	n     store.Claimed
	until time.Time // its lease's end
}

// prefetches says whether w's claims take up to its max_in_flight more than
// its free slots (within a service-wide budget of MaxConcurrency buffered
// in all). d.mu is held.
func (d *Dispatcher) prefetches(w *store.Webhook) bool {
	return !w.Config.Ordered && w.Config.RateLimitPerSecond == nil && len(d.ready[w.ID]) == 0
}

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
