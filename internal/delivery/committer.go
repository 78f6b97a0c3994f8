package delivery

import (
	"context"
	"errors"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// commitBatch is the most results recorded in one transaction.
const commitBatch = 512

// commitLoop records results in batches: whatever has queued up while the
// previous batch committed goes in the next transaction (group commit).
// It returns when the results channel is closed and drained, or ctx ends.
func (d *Dispatcher) commitLoop(ctx context.Context) {
	batch := make([]store.AttemptResult, 0, commitBatch)
	for r := range d.results {
		batch = append(batch[:0], r)
	drain:
		for len(batch) < cap(batch) {
			select {
			case r, ok := <-d.results:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		d.commit(ctx, batch)
		d.recorded(batch)
	}
}

// commit records one batch, retrying with backoff while the database is
// away, for at most a lease (then the leases have run out and the
// notifications are tried again anyway) or until ctx ends. Results the
// store set aside (they fail even alone) are logged and counted, never
// retried: they would block the batches behind them.
func (d *Dispatcher) commit(ctx context.Context, batch []store.AttemptResult) {
	backoff := 50 * time.Millisecond
	deadline := d.now().Add(d.cfg.Lease)
	for {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		changes, err := d.q.Complete(cctx, store.Completion{Results: batch, Now: d.now(), Health: d.cfg.Policy})
		cancel()
		d.logChanges(changes)
		var inc *store.IncompleteError
		if errors.As(err, &inc) {
			batch = inc.Results // the others are recorded
		}
		var aside *store.SetAsideError
		if errors.As(err, &aside) {
			d.cfg.Observer.ResultsSetAside(len(aside.Results))
			for i, r := range aside.Results {
				d.log.Error("attempt result set aside: it cannot be recorded; the notification is tried again when its lease runs out",
					"notification_id", r.Attempt.NotificationID, "webhook_id", r.WebhookID, "err", aside.Errs[i])
			}
			err = nil
		}
		if err == nil {
			d.Wake() // the leases just ended free slots for more claims
			return
		}
		if ctx.Err() != nil || d.now().After(deadline) {
			d.log.Error("giving up recording attempt results; their leases will run out", "count", len(batch), "err", err)
			return
		}
		d.log.Warn("record attempt results", "count", len(batch), "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// logChanges logs at INFO what recorded results did to their webhooks.
func (d *Dispatcher) logChanges(changes []store.WebhookChange) {
	for _, c := range changes {
		attrs := []any{"webhook_id", c.WebhookID, "tenant_id", c.TenantID}
		if c.Opened {
			d.log.Info("circuit opened", append(attrs, "consecutive_failures", c.Failures)...)
		}
		if c.Closed {
			d.log.Info("circuit closed", attrs...)
		}
		if c.Disable {
			d.log.Info("webhook disabled after failing too long", append(attrs, "disable_after", d.cfg.Policy.DisableAfter)...)
		}
		if c.Expired > 0 {
			d.log.Info("notifications expired", append(attrs, "count", c.Expired)...)
		}
	}
}
