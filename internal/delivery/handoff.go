package delivery

import (
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// Owner names this dispatcher in leases (store.Handoff).
func (d *Dispatcher) Owner() string { return d.cfg.Owner }

// Reserve takes a slot for a notification of s being published now, when
// it can be run at once by this process: the dispatcher is running, the
// webhook is active, prepared and unchanged, its circuit is closed, it is
// neither ordered nor rate limited (those go through the queue, which
// keeps their order and their shared bucket), and it and the service have
// free slots. While its queue holds work, hand-offs use at most half of
// its slots, so neither path starves the other.
func (d *Dispatcher) Reserve(s store.Subscriber, now time.Time) (time.Time, bool) {
	if s.Status != store.WebhookActive || s.Health.CircuitOpen() {
		return time.Time{}, false
	}
	d.mu.Lock()
	t := d.targets[s.ID]
	running := d.attemptCtx != nil
	due := s.Due || len(d.ready[s.ID]) > 0
	d.mu.Unlock()
	if !running || t == nil || t.Stale(s.Modified, now) {
		return time.Time{}, false
	}
	w := &t.Webhook
	if w.Config.Ordered || w.Config.RateLimitPerSecond != nil {
		return time.Time{}, false
	}
	// Where leases are counted (several processes), other replicas' live
	// leases take slots too, so max_in_flight bounds what a crash of any
	// replica can repeat. This process's own are its slots: with a shared
	// queue a slot is held until its result is recorded.
	limit := d.maxInFlight(w) - s.Leased
	if due {
		// The queue holds work of this webhook: new work may use only half
		// its slots, the claims the other half, so the queue drains while
		// fresh notifications still go out at once.
		limit /= 2
	}
	if !d.slots.tryTake(s.ID, limit) {
		return time.Time{}, false
	}
	return now.Add(max(d.cfg.Lease, timeout(w)+leaseMargin)), true
}

// Release gives back slots reserved by a publish that did not commit.
func (d *Dispatcher) Release(webhookID string, n int) { d.slots.release(webhookID, n) }

// Take runs the notifications a committed publish reserved slots for.
func (d *Dispatcher) Take(claimed []store.Claimed) {
	now := d.now()
	d.mu.Lock()
	for _, n := range claimed {
		if t := d.targets[n.WebhookID]; t != nil {
			t.used = now
		}
	}
	d.mu.Unlock()
	d.start(claimed)
}
