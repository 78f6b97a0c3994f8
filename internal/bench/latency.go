package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// pacedWorkers is how many POST /events may be in flight at once in the
// paced scenarios, so that one slow answer does not hold up the pace.
const pacedWorkers = 64

// pacedRun is what a paced publishing run recorded.
type pacedRun struct {
	published int64
	elapsed   time.Duration
	// acks maps the notification ids of the measured webhooks to when their
	// publish was sent and acknowledged.
	acks map[string]pubTimes
	// publishes are when each POST /events was sent and answered.
	publishes []pubTimes
}

// roundTrips are the POST /events round trips of the publishes keep
// accepts (nil: all of them).
func (r *pacedRun) roundTrips(keep func(pubTimes) bool) []time.Duration {
	out := make([]time.Duration, 0, len(r.publishes))
	for _, p := range r.publishes {
		if keep == nil || keep(p) {
			out = append(out, time.Duration(p.acked-p.sent))
		}
	}
	return out
}

// pubTimes are when a POST /events was sent and when its answer arrived
// (Unix nanoseconds).
type pubTimes struct{ sent, acked int64 }

// pacedLoad is a paced publishing run: one event per POST /events through
// api (acting on its tenant) at rate per second, count of them, or with
// count 0 until until is closed.
type pacedLoad struct {
	api   *apiClient
	rate  float64
	count int
	until <-chan struct{}
	// measured are the webhooks whose notifications are recorded with
	// their publish's times.
	measured map[string]bool
}

// publishPaced publishes one event at a time with POST /events, count of
// them at rate per second through the bench's tenant, from a pool of
// workers. Notifications to the measured webhooks are recorded with the
// acknowledgement time.
func (b *bench) publishPaced(ctx context.Context, name string, rate float64, count int, measured map[string]bool) (*pacedRun, error) {
	return b.publishLoadPaced(ctx, name, pacedLoad{api: b.api, rate: rate, count: count, measured: measured})
}

// publishLoadPaced runs l from a pool of workers.
func (b *bench) publishLoadPaced(ctx context.Context, name string, l pacedLoad) (*pacedRun, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	run := &pacedRun{acks: make(map[string]pubTimes, l.count*len(l.measured))}
	var mu sync.Mutex
	var published atomic.Int64
	jobs := make(chan struct{})
	workers := pacedWorkers
	if l.count > 0 {
		workers = min(workers, l.count)
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			type ack struct {
				id string
				t  pubTimes
			}
			var acks []ack
			var pubs []pubTimes
			for range jobs {
				start := time.Now()
				p, err := l.api.publish(ctx, b.sample)
				if err != nil {
					cancel(fmt.Errorf("publish: %w", err))
					break
				}
				t := pubTimes{start.UnixNano(), time.Now().UnixNano()}
				pubs = append(pubs, t)
				for _, n := range p.Notifications {
					if l.measured[n.WebhookID] {
						acks = append(acks, ack{n.ID, t})
					}
				}
				published.Add(1)
			}
			mu.Lock()
			for _, a := range acks {
				run.acks[a.id] = a.t
			}
			run.publishes = append(run.publishes, pubs...)
			mu.Unlock()
		}()
	}
	stop := b.progress(name, meter{label: "published", unit: "events", total: int64(l.count), done: published.Load})
	start := time.Now()
	interval := float64(time.Second) / l.rate
pace:
	for i := 0; l.count == 0 || i < l.count; i++ {
		if d := time.Until(start.Add(time.Duration(float64(i) * interval))); d > 0 {
			select {
			case <-time.After(d):
			case <-l.until:
				break pace
			case <-ctx.Done():
				break pace
			}
		}
		select {
		case jobs <- struct{}{}:
		case <-l.until:
			break pace
		case <-ctx.Done():
			break pace
		}
	}
	close(jobs)
	wg.Wait()
	stop()
	run.elapsed = time.Since(start)
	run.published = published.Load()
	if err := context.Cause(ctx); err != nil {
		return run, err
	}
	return run, nil
}

// latencyStats summarises latencies.
type latencyStats struct {
	Count              int
	P50, P90, P99, Max time.Duration
	// BeforeAck counts deliveries received before the publish
	// acknowledgement arrived (counted as 0).
	BeforeAck int
	// FromSend is the latency from sending the publish request instead.
	FromSend *latencyStats
}

// summarize computes percentiles (nearest rank) of lats, which it sorts.
func summarize(lats []time.Duration) latencyStats {
	s := latencyStats{Count: len(lats)}
	if len(lats) == 0 {
		return s
	}
	slices.Sort(lats)
	at := func(p float64) time.Duration {
		i := int(p*float64(len(lats))+0.999999) - 1
		return lats[max(0, min(i, len(lats)-1))]
	}
	s.P50, s.P90, s.P99, s.Max = at(0.50), at(0.90), at(0.99), lats[len(lats)-1]
	return s
}

// measure waits until the receiver has every measured notification of the
// run under tag and returns the latencies from publish acknowledgement to
// receipt.
func (b *bench) measure(ctx context.Context, run *pacedRun, tag string) (latencyStats, error) {
	want := int64(len(run.acks))
	stop := b.progress(tag+" (wait)", b.receivedMeter(ctx, tag, want))
	_, err := b.awaitCount(ctx, "the receiver to get every measured notification", want, func(ctx context.Context) (int64, error) {
		return b.recv.okCount(ctx, tag)
	}, nil)
	stop()
	if err != nil {
		return latencyStats{}, err
	}
	recs, err := b.recv.drain(ctx)
	if err != nil {
		return latencyStats{}, err
	}
	first := make(map[string]int64, len(run.acks))
	for _, r := range recs {
		if _, ok := run.acks[r.ID]; !ok {
			continue
		}
		if t, seen := first[r.ID]; !seen || r.At < t {
			first[r.ID] = r.At
		}
	}
	lats := make([]time.Duration, 0, len(run.acks))
	fromSend := make([]time.Duration, 0, len(run.acks))
	before := 0
	for id, t := range run.acks {
		got, ok := first[id]
		if !ok {
			continue
		}
		d := time.Duration(got - t.acked)
		if d < 0 {
			before++
			d = 0
		}
		lats = append(lats, d)
		fromSend = append(fromSend, time.Duration(got-t.sent))
	}
	if len(lats) < len(run.acks) {
		return latencyStats{}, fmt.Errorf("%d of %d measured notifications were counted but not recorded by the receiver", len(run.acks)-len(lats), len(run.acks))
	}
	st := summarize(lats)
	st.BeforeAck = before
	sent := summarize(fromSend)
	st.FromSend = &sent
	return st, nil
}

// paced publishes at rate events/s for the configured duration to the
// measured webhooks and measures their latencies; details are added under
// prefix.
func (b *bench) paced(ctx context.Context, res *ScenarioResult, tag, prefix string, rate float64, measured []string) (latencyStats, error) {
	set := make(map[string]bool, len(measured))
	for _, id := range measured {
		set[id] = true
	}
	if err := b.recv.discard(ctx); err != nil {
		return latencyStats{}, err
	}
	count := max(1, int(rate*b.cfg.Duration.Seconds()))
	run, err := b.publishPaced(ctx, tag, rate, count, set)
	if err != nil {
		return latencyStats{}, err
	}
	st, err := b.measure(ctx, run, tag)
	if err != nil {
		return st, err
	}
	pub := summarize(run.roundTrips(nil))
	res.Details[prefix+"events"] = run.published
	res.Details[prefix+"achieved_events_per_s"] = float64(run.published) / run.elapsed.Seconds()
	res.Details[prefix+"p50_ms"], res.Details[prefix+"p90_ms"] = ms(st.P50), ms(st.P90)
	res.Details[prefix+"p99_ms"], res.Details[prefix+"max_ms"] = ms(st.P99), ms(st.Max)
	res.Details[prefix+"delivered_before_ack"] = st.BeforeAck
	if s := st.FromSend; s != nil {
		res.Details[prefix+"from_send_p50_ms"], res.Details[prefix+"from_send_p99_ms"] = ms(s.P50), ms(s.P99)
	}
	res.Details[prefix+"publish_p50_ms"], res.Details[prefix+"publish_p99_ms"] = ms(pub.P50), ms(pub.P99)
	return st, nil
}

// runLatency publishes one event at a time at the configured rate to one
// healthy webhook and measures the latency to receipt from the start of
// the publish request (the targets) and from its acknowledgement.
func (b *bench) runLatency(ctx context.Context, res *ScenarioResult) error {
	ids, err := b.createWebhooks(ctx, 1, "ok", ScenarioLatency, webhookSpec{MaxInFlight: defaultMaxInFlight})
	if err != nil {
		return err
	}
	st, err := b.paced(ctx, res, ScenarioLatency, "", b.cfg.Rate, ids)
	if err != nil {
		return err
	}
	b.latencyP99 = st.P99
	req := st.FromSend
	if req == nil {
		req = &latencyStats{}
	}
	p50, p99 := LatencyP50SQLite, LatencyP99SQLite
	if b.cfg.Backend == BackendPostgres {
		p50, p99 = 0, LatencyP99Postgres
	}
	res.Figures = append(res.Figures,
		latencyFigure("latency p50 from request", req.P50, p50),
		latencyFigure("latency p90 from request", req.P90, 0),
		latencyFigure("latency p99 from request", req.P99, p99),
		latencyFigure("latency max from request", req.Max, 0),
		latencyFigure("latency p50 from ack", st.P50, 0),
		latencyFigure("latency p99 from ack", st.P99, 0))
	if st.BeforeAck > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d of %d notifications reached the receiver before their publish was acknowledged (counted as 0 ms from ack)",
			st.BeforeAck, st.Count))
	}
	return nil
}

// latencyFigure is a latency in ms; a positive bound sets a target.
func latencyFigure(name string, d, bound time.Duration) Figure {
	f := Figure{Name: name, Value: ms(d), Unit: "ms"}
	if bound > 0 {
		f.Target, f.Met = fmt.Sprintf("< %g ms", ms(bound)), boolp(d < bound)
	}
	return f
}

// runIsolation runs two phases with the same webhooks count, each event
// going to every webhook, at rate/webhooks events/s (so notifications
// flow at the configured rate, as in latency): first all healthy, then
// with 10% hanging past a 1s timeout and 10% answering 500. The figure is
// the healthy webhooks' p99 in the second phase over the all-healthy p99.
func (b *bench) runIsolation(ctx context.Context, res *ScenarioResult) error {
	m := max(b.cfg.Webhooks, 3)
	faulty := max(1, m/10)
	healthy := m - 2*faulty
	rate := b.cfg.Rate / float64(m)
	res.Details["webhooks"], res.Details["hanging"], res.Details["failing"], res.Details["events_per_s"] = m, faulty, faulty, rate

	tagA, tagB := ScenarioIsolation+"-healthy", ScenarioIsolation+"-faulty"
	all, err := b.createWebhooks(ctx, m, "ok", tagA, webhookSpec{MaxInFlight: defaultMaxInFlight})
	if err != nil {
		return err
	}
	base, err := b.paced(ctx, res, tagA, "all_healthy_", rate, all)
	if err != nil {
		return fmt.Errorf("all-healthy phase: %w", err)
	}
	b.cleanup(ctx)

	good, err := b.createWebhooks(ctx, healthy, "ok", tagB, webhookSpec{MaxInFlight: defaultMaxInFlight})
	if err != nil {
		return err
	}
	if _, err := b.createWebhooks(ctx, faulty, "hang", tagB, webhookSpec{MaxInFlight: defaultMaxInFlight, TimeoutSeconds: 1}); err != nil {
		return err
	}
	if _, err := b.createWebhooks(ctx, faulty, "fail", tagB, webhookSpec{MaxInFlight: defaultMaxInFlight}); err != nil {
		return err
	}
	before, err := b.recv.stats(ctx)
	if err != nil {
		return err
	}
	st, err := b.paced(ctx, res, tagB, "healthy_", rate, good)
	if err != nil {
		return fmt.Errorf("faulty phase: %w", err)
	}
	if after, err := b.recv.stats(ctx); err == nil {
		res.Details["hang_requests"], res.Details["fail_requests"] = after.Hang-before.Hang, after.Fail-before.Fail
	}
	ratio := float64(st.P99) / float64(max(base.P99, time.Microsecond))
	note := fmt.Sprintf("the ratio is against this scenario's all-healthy phase (same %d webhooks, same rate: p99 %.2f ms)", m, ms(base.P99))
	if b.latencyP99 > 0 {
		res.Details["p99_vs_latency_scenario"] = float64(st.P99) / float64(b.latencyP99)
		note += fmt.Sprintf("; against the latency scenario's p99 (one webhook, %.0f events/s) it is %.2fx", b.cfg.Rate, float64(st.P99)/float64(b.latencyP99))
	}
	res.Notes = append(res.Notes, note)
	res.Figures = append(res.Figures,
		Figure{Name: "isolation healthy p50", Value: ms(st.P50), Unit: "ms"},
		Figure{Name: "isolation healthy p99", Value: ms(st.P99), Unit: "ms"},
		Figure{Name: "isolation p99 ratio", Value: ratio, Unit: "x all-healthy", Target: fmt.Sprintf("<= %.1fx", IsolationRatio), Met: boolp(ratio <= IsolationRatio)})
	return nil
}
