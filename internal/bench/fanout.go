package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// The shape of the fanout scenario (issue 13 item 9).
const (
	// fanoutOtherRate is the other tenant's single-event publishes per
	// second.
	fanoutOtherRate = 100
	// fanoutSettle is how long the other tenant publishes before the big
	// batch is sent (its baseline) and after the batch's last notification
	// is written.
	fanoutSettle = time.Second
	// fanoutProbes is how many of the batch's events the wait reads, in
	// turn, to follow the writing of its notifications, and fanoutPoll how
	// often at most: the reads compete for Herald's CPU with the writing
	// they wait for and with the other tenant's publishes.
	fanoutProbes = 20
	fanoutPoll   = 100 * time.Millisecond
)

// runFanout measures what one publish at the fan-out bound costs the other
// tenants (issue 13 item 9). The bench's tenant gets FanoutWebhooks webhooks
// and a second tenant one; the second tenant publishes one event per POST
// /events at 100/s throughout, while the bench's tenant sends one POST
// /events:batch of FanoutEvents events, each to every webhook (100,000
// notifications by default). Herald answers such a batch once its events
// and fan-out plan commit, and writes the notifications afterwards, a
// chunk per transaction taking turns with other publishes. The figures are
// the other tenant's publish round trips answered from the sending of the
// batch until a second after its last notification was written, the
// batch's answer time and the time until every notification exists.
// Deliveries are not waited for (see Scenarios).
func (b *bench) runFanout(ctx context.Context, res *ScenarioResult) error {
	m, n := b.cfg.FanoutWebhooks, b.cfg.FanoutEvents
	total := int64(m) * int64(n)
	res.Details["webhooks"], res.Details["events"], res.Details["notifications"] = m, n, total
	res.Details["other_events_per_s"] = fanoutOtherRate
	if _, err := b.createWebhooks(ctx, m, "ok", ScenarioFanout, webhookSpec{MaxInFlight: defaultMaxInFlight}); err != nil {
		return err
	}
	otherID, err := b.api.createTenant(ctx, b.tenantName(ScenarioFanout))
	if err != nil {
		return err
	}
	other := b.api.forTenant(otherID)
	spec := webhookSpec{Endpoint: fmt.Sprintf("%s/ok/%s-other/0", b.recv.url, ScenarioFanout), MaxInFlight: defaultMaxInFlight}
	if _, err := b.createWebhook(ctx, other, spec); err != nil {
		return err
	}
	body := batchBody(b.sample, n)

	until := make(chan struct{})
	loaded := make(chan struct{})
	var run *pacedRun
	var loadErr error
	go func() {
		defer close(loaded)
		run, loadErr = b.publishLoadPaced(ctx, ScenarioFanout+" (other tenant)", pacedLoad{api: other, rate: fanoutOtherRate, until: until})
	}()
	stopLoad := sync.OnceFunc(func() {
		close(until)
		<-loaded
	})
	defer stopLoad()
	if err := sleep(ctx, fanoutSettle); err != nil {
		return fmt.Errorf("baseline of the other tenant: %w", err)
	}

	sent := time.Now()
	ans, err := b.api.publishBatchAnswer(ctx, body)
	answered := time.Since(sent)
	if err != nil {
		return fmt.Errorf("the batch of %d events to %d webhooks: %w", n, m, err)
	}
	if len(ans.Events) != n || int64(ans.notifications()) != total {
		return fmt.Errorf("the batch was answered with %d events and %d notifications, want %d and %d", len(ans.Events), ans.notifications(), n, total)
	}
	ids := make([]string, n)
	for i, e := range ans.Events {
		ids[i] = e.EventID
	}
	if err := b.awaitWritten(ctx, ids, m); err != nil {
		return err
	}
	written := time.Since(sent)
	if err := sleep(ctx, fanoutSettle); err != nil {
		return fmt.Errorf("the other tenant after the batch: %w", err)
	}
	stopLoad()
	if loadErr != nil {
		return fmt.Errorf("the other tenant's publishes: %w", loadErr)
	}

	from := sent.UnixNano()
	during := summarize(run.roundTrips(func(p pubTimes) bool { return p.acked >= from }))
	before := summarize(run.roundTrips(func(p pubTimes) bool { return p.acked < from }))
	if during.Count == 0 {
		return fmt.Errorf("the other tenant had no publish answered while the batch was written")
	}
	res.Details["other_publishes"], res.Details["other_publish_max_ms"] = during.Count, ms(during.Max)
	res.Details["other_publish_p90_ms"] = ms(during.P90)
	res.Details["other_baseline_publishes"], res.Details["other_baseline_p99_ms"] = before.Count, ms(before.P99)
	res.Details["other_achieved_events_per_s"] = float64(run.published) / run.elapsed.Seconds()
	res.Details["write_notifications_per_s"] = float64(total) / max(written-answered, time.Millisecond).Seconds()
	if got, err := b.recv.okCount(ctx, ScenarioFanout); err == nil {
		res.Details["delivered_by_end"] = got
	}
	res.Notes = append(res.Notes, fmt.Sprintf("the other tenant's publishes are those answered from the batch's sending until %s after its last notification was written; "+
		"other_baseline_* are those of the %s before it; the batch's deliveries are not waited for, and the cleanup cancels those still pending", fanoutSettle, fanoutSettle))
	res.Figures = append(res.Figures,
		latencyFigure("fanout other-tenant publish p50", during.P50, 0),
		latencyFigure("fanout other-tenant publish p99", during.P99, FanoutOtherP99),
		Figure{Name: "fanout batch answer", Value: ms(answered), Unit: "ms"},
		Figure{Name: "fanout notifications written", Value: ms(written), Unit: "ms"})
	return nil
}

// awaitWritten waits until each event of ids lists per notifications (GET
// /events/{id}). A deferred fan-out writes them in the batch's order, event
// by event, so the wait reads a few probe events in turn, the last one
// included, and counts the notifications up to the last complete probe.
// The receiver's records are dropped meanwhile (only counts matter).
func (b *bench) awaitWritten(ctx context.Context, ids []string, per int) error {
	probes := probeIndexes(len(ids), fanoutProbes)
	total := int64(len(ids)) * int64(per)
	var written atomic.Int64
	stop := b.progress(ScenarioFanout+" (write)", meter{label: "written", unit: "notifications", total: total, done: written.Load})
	defer stop()
	next := 0
	var read time.Time
	_, err := b.awaitCount(ctx, "the batch's notifications to be written", total, func(ctx context.Context) (int64, error) {
		if time.Since(read) < fanoutPoll {
			return written.Load(), nil
		}
		read = time.Now()
		for next < len(probes) {
			got, err := b.api.eventNotifications(ctx, ids[probes[next]])
			if err != nil {
				return written.Load(), err
			}
			if got < per {
				break
			}
			written.Store(int64(probes[next]+1) * int64(per))
			next++
		}
		return written.Load(), nil
	}, b.discardRecords(ctx))
	return err
}

// probeIndexes are k indexes spread evenly over 0..n-1, ending with n-1
// (fewer when n < k).
func probeIndexes(n, k int) []int {
	var out []int
	for i := 1; i <= k; i++ {
		j := i*n/k - 1
		if j >= 0 && (len(out) == 0 || j > out[len(out)-1]) {
			out = append(out, j)
		}
	}
	return out
}
