package bench

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Batch sizes of the scenarios that publish with POST /events:batch.
const (
	publishBatchSize = 500
	ingestBatchSize  = maxBatchEvents
)

// throughputRatio is the throughput target for the backend.
func (b *bench) throughputRatio() float64 {
	if b.cfg.Backend == BackendPostgres {
		return ThroughputRatioPostgres
	}
	return ThroughputRatioSQLite
}

// runCeiling POSTs the sample straight to the receiver with as many
// keep-alive connections as Herald would use for the webhooks.
func (b *bench) runCeiling(ctx context.Context, res *ScenarioResult) error {
	total := int64(min(b.cfg.Events*b.cfg.Webhooks, maxCeilingRequests))
	conns := b.cfg.Webhooks * defaultMaxInFlight
	var done atomic.Int64
	stop := b.progress(ScenarioCeiling, meter{label: "sent", unit: "requests", total: total, done: done.Load})
	// Headers as Herald sends them; the signature is fixed (computing it is
	// Herald's work, not the receiver's).
	job := loadJob{
		URL: b.recv.url + "/ok/ceiling/0", Body: b.sample, Connections: conns, Requests: total,
		WantStatus: http.StatusOK, IDHeader: "Webhook-Id", MaxFailures: total / 100,
		Headers: map[string]string{
			"Content-Type": "application/json", "User-Agent": "Herald/bench", "Herald-Event": eventName,
			"Herald-Attempt": "1", "Webhook-Timestamp": strconv.FormatInt(time.Now().Unix(), 10),
			"Webhook-Signature": "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
		},
	}
	lr := runLoad(ctx, job, &done)
	stop()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ceiling: %w", err)
	}
	if err := b.recv.discard(ctx); err != nil {
		return err
	}
	res.Details["requests"] = total
	res.Details["connections"] = conns
	res.Details["failed"] = lr.Failed
	res.Details["seconds"] = lr.Seconds
	if lr.Failed > job.MaxFailures || lr.OK == 0 {
		return fmt.Errorf("ceiling: %d of %d requests failed; first: %s", lr.Failed, total, lr.FirstError)
	}
	b.ceiling = lr.rate()
	res.Figures = append(res.Figures, Figure{Name: ScenarioCeiling, Value: b.ceiling, Unit: "requests/s", Ceiling: b.ceiling, RatioPct: 100})
	return nil
}

// runThroughput publishes the events in batches to webhooks that each get
// every one, and measures notifications delivered per second from the
// first publish until every notification is received and recorded
// DELIVERED.
func (b *bench) runThroughput(ctx context.Context, res *ScenarioResult) error {
	ids, err := b.createWebhooks(ctx, b.cfg.Webhooks, "ok", ScenarioThroughput, webhookSpec{MaxInFlight: defaultMaxInFlight})
	if err != nil {
		return err
	}
	rate, pg, total, err := b.batchThroughput(ctx, res, ScenarioThroughput, ids, []*apiClient{b.api})
	if err != nil {
		return err
	}
	b.throughput = rate
	res.Figures = append(res.Figures, rateFigure(ScenarioThroughput, rate, "notifications/s", b.ceiling, b.throughputRatio()))
	pg.report(ctx, res, total, true)
	return nil
}

// batchThroughput publishes the configured events in batches of 500
// through the APIs via (in turn) to the webhooks ids (receiver tag tag) and
// returns the notifications delivered per second, with the PostgreSQL
// window of the run (to report after the caller's figures) and the
// notification count.
func (b *bench) batchThroughput(ctx context.Context, res *ScenarioResult, tag string, ids []string, via []*apiClient) (float64, *pgWindow, int64, error) {
	n, m := b.cfg.Events, len(ids)
	total := int64(n) * int64(m)
	res.Details["events"], res.Details["webhooks"], res.Details["notifications"] = n, m, total
	var published atomic.Int64
	stop := b.progress(tag, meter{label: "published", unit: "events", total: int64(n), done: published.Load},
		b.receivedMeter(ctx, tag, total))
	defer stop()
	pg := b.startPG(ctx)
	start := time.Now()
	var pubTime time.Duration
	end, received, err := b.publishAndDrain(ctx, func(ctx context.Context) error {
		t0 := time.Now()
		defer func() { pubTime = time.Since(t0) }()
		return b.publishBatches(ctx, via, n, publishBatchSize, &published)
	}, tag, total, ids)
	if err != nil {
		return 0, nil, total, err
	}
	elapsed := end.Sub(start)
	res.Details["seconds"] = elapsed.Seconds()
	res.Details["publish_seconds"] = pubTime.Seconds()
	res.Details["publish_events_per_s"] = float64(n) / pubTime.Seconds()
	res.Details["duplicates"] = received - total
	return float64(total) / elapsed.Seconds(), pg, total, nil
}

// publishAndDrain runs publish while waiting for total notifications to be
// delivered to the webhooks ids (receiver tag tag). A failed publish ends
// the wait at once; publish has returned when publishAndDrain does.
func (b *bench) publishAndDrain(ctx context.Context, publish func(context.Context) error, tag string, total int64, ids []string) (end time.Time, received int64, err error) {
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		if err := publish(pctx); err != nil {
			cancel(err)
		}
	}()
	end, received, err = b.awaitDelivered(pctx, tag, total, ids, true)
	if err != nil {
		cancel(err)
	}
	if cause := context.Cause(pctx); err != nil && cause != nil && cause != ctx.Err() {
		err = cause
	}
	<-pubDone
	return end, received, err
}

// runBacklog queues the backlog for disabled webhooks, then enables them
// and measures the drain rate, sampling the resident memory throughout
// (in-process only).
func (b *bench) runBacklog(ctx context.Context, res *ScenarioResult) error {
	m := b.cfg.Webhooks
	events := (b.cfg.Backlog + m - 1) / m
	total := int64(events) * int64(m)
	ids, err := b.createWebhooks(ctx, m, "ok", ScenarioBacklog, webhookSpec{Disabled: true, MaxInFlight: defaultMaxInFlight})
	if err != nil {
		return err
	}
	res.Details["events"], res.Details["webhooks"], res.Details["notifications"] = events, m, total

	var rss *rssSampler
	if b.inProcess {
		runtime.GC()
		debug.FreeOSMemory()
		if !resetPeakRSS() {
			res.Notes = append(res.Notes, "could not reset VmHWM: the peak may predate this scenario")
		}
		rss = startRSSSampler()
		defer rss.stop()
		res.Details["rss_before_mb"] = rss.current()
	} else {
		res.Notes = append(res.Notes, "Herald runs in another process (--target): its RSS is not measured")
	}

	var published atomic.Int64
	stop := b.progress(ScenarioBacklog+" (queue)", meter{label: "published", unit: "events", total: int64(events), done: published.Load})
	pg := b.startPG(ctx)
	pubStart := time.Now()
	err = b.publishBatches(ctx, []*apiClient{b.api}, events, publishBatchSize, &published)
	stop()
	if err != nil {
		return err
	}
	res.Details["publish_seconds"] = time.Since(pubStart).Seconds()
	if rss != nil {
		res.Details["rss_queued_mb"] = rss.current()
		res.Details["peak_rss_queueing_mb"] = rss.peak()
	}
	if err := b.analyze(ctx, res, pg); err != nil {
		return err
	}

	stop = b.progress(ScenarioBacklog+" (drain)", b.receivedMeter(ctx, ScenarioBacklog, total))
	defer stop()
	start := time.Now()
	for _, id := range ids {
		if err := b.api.setStatus(ctx, id, "ACTIVE"); err != nil {
			return err
		}
	}
	end, received, err := b.awaitDelivered(ctx, ScenarioBacklog, total, ids, true)
	if err != nil {
		return err
	}
	elapsed := end.Sub(start)
	res.Details["drain_seconds"] = elapsed.Seconds()
	res.Details["duplicates"] = received - total
	if rss != nil {
		peak := rss.peak()
		res.Details["rss_drained_mb"] = rss.current()
		res.Figures = append(res.Figures, Figure{Name: "backlog peak RSS", Value: peak, Unit: "MB",
			Target: fmt.Sprintf("< %d MB", BacklogRSSMB), Met: boolp(peak < BacklogRSSMB)})
	}
	drain := float64(total) / elapsed.Seconds()
	if b.cfg.Backend == BackendPostgres {
		f := rateFigure("backlog drain", drain, "notifications/s", b.ceiling, 0)
		f.Target, f.Met = fmt.Sprintf(">= %d notifications/s", DrainPostgres), boolp(drain >= DrainPostgres)
		res.Figures = append(res.Figures, f)
	} else {
		res.Figures = append(res.Figures, rateFigure("backlog drain", drain, "notifications/s", b.ceiling, DrainRatioSQLite))
	}
	pg.report(ctx, res, total, true)
	return nil
}

// analyze runs ANALYZE on PostgreSQL after a scenario has loaded its data,
// as a production autovacuum would; its CPU is left out of the window.
func (b *bench) analyze(ctx context.Context, res *ScenarioResult, pg *pgWindow) error {
	if b.pg == nil || b.pg.conn == nil {
		return nil
	}
	pg.pause(ctx)
	took, err := b.pg.analyze(ctx)
	if err != nil {
		return err
	}
	pg.resume(ctx)
	res.Details["analyze_seconds"] = took.Seconds()
	b.logf("ANALYZE took %.1fs", took.Seconds())
	return nil
}

// runIngest publishes the events in batches of 1000 to one disabled
// subscriber (nothing is delivered while it runs) and measures events
// ingested per second.
func (b *bench) runIngest(ctx context.Context, res *ScenarioResult) error {
	n := b.cfg.Events
	if _, err := b.createWebhooks(ctx, 1, "ok", ScenarioIngest, webhookSpec{Disabled: true}); err != nil {
		return err
	}
	var published atomic.Int64
	stop := b.progress(ScenarioIngest, meter{label: "published", unit: "events", total: int64(n), done: published.Load})
	start := time.Now()
	err := b.publishBatches(ctx, []*apiClient{b.api}, n, ingestBatchSize, &published)
	elapsed := time.Since(start)
	stop()
	if err != nil {
		return err
	}
	rate := float64(n) / elapsed.Seconds()
	res.Details["events"], res.Details["batch"], res.Details["publishers"], res.Details["seconds"] = n, ingestBatchSize, b.cfg.Publishers, elapsed.Seconds()
	f := Figure{Name: ScenarioIngest, Value: rate, Unit: "events/s", Ceiling: b.ceiling}
	if b.ceiling > 0 {
		f.RatioPct = 100 * rate / b.ceiling
	}
	if b.cfg.Backend == BackendSQLite {
		f.Target, f.Met = fmt.Sprintf(">= %d events/s", IngestSQLite), boolp(rate >= IngestSQLite)
	} else {
		res.Notes = append(res.Notes, "SPEC 7 sets the ingest target for SQLite only")
	}
	res.Figures = append(res.Figures, f)
	return nil
}

// batchBody is a POST /events:batch body of n copies of sample.
func batchBody(sample []byte, n int) []byte {
	var buf bytes.Buffer
	buf.Grow(n*(len(sample)+1) + 16)
	buf.WriteString(`{"events":[`)
	for i := range n {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(sample)
	}
	buf.WriteString("]}")
	return buf.Bytes()
}

// publishBatches publishes events in batches of size from the configured
// number of concurrent publishers, batch i through via[i % len(via)],
// adding each accepted batch to published. The first failure stops every
// publisher.
func (b *bench) publishBatches(ctx context.Context, via []*apiClient, events, size int, published *atomic.Int64) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	full := batchBody(b.sample, min(size, events))
	batches := int64((events + size - 1) / size)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range b.cfg.Publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < batches && ctx.Err() == nil; i = next.Add(1) - 1 {
				body, count := full, min(size, events)
				if rest := events - int(i)*size; rest < size {
					body, count = batchBody(b.sample, rest), rest
				}
				if err := via[i%int64(len(via))].publishBatch(ctx, body); err != nil {
					cancel(fmt.Errorf("publish batch %d of %d: %w", i+1, batches, err))
					return
				}
				published.Add(int64(count))
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}

// rssSampler samples this process's resident memory every 100ms.
type rssSampler struct {
	mu   sync.Mutex
	max  float64
	quit chan struct{}
	done chan struct{}
}

func startRSSSampler() *rssSampler {
	s := &rssSampler{quit: make(chan struct{}), done: make(chan struct{})}
	s.current()
	go func() {
		defer close(s.done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.quit:
				return
			case <-t.C:
				s.current()
			}
		}
	}()
	return s
}

// current samples the RSS now (MB).
func (s *rssSampler) current() float64 {
	rss, hwm, _ := rssMB()
	s.mu.Lock()
	s.max = max(s.max, rss, hwm)
	s.mu.Unlock()
	return rss
}

// peak is the highest RSS (or VmHWM) seen so far (MB).
func (s *rssSampler) peak() float64 {
	s.current()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.max
}

func (s *rssSampler) stop() {
	select {
	case <-s.quit:
	default:
		close(s.quit)
		<-s.done
	}
}
