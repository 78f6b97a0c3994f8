package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald/internal/brokertest"
)

// The source scenario's brokers and how it fills them.
const (
	sourceRabbitMQ = "rabbitmq"
	sourceNATS     = "nats"
	// sourceFillChunk is how many messages are sent to a broker before
	// waiting for its confirmations.
	sourceFillChunk = 2000
)

// runSource fills a RabbitMQ queue and a NATS JetStream stream of their own
// with the events, each a message with an id, then registers each as a
// source of the bench's tenant (one healthy subscriber, as in publish) and
// measures events/s from the source's creation until Herald has committed
// them all. The target is the single-event POST /events rate,
// measured in the same run: publish's, or, when publish did not run, a
// load of the same kind measured here first.
func (b *bench) runSource(ctx context.Context, res *ScenarioResult) error {
	n := int64(b.cfg.Events)
	if _, err := b.createWebhooks(ctx, 1, "ok", ScenarioSource, webhookSpec{MaxInFlight: defaultMaxInFlight}); err != nil {
		return err
	}
	baseline := b.publishRate
	if baseline == 0 {
		var done atomic.Int64
		stop := b.progress(ScenarioSource+" (POST /events)", meter{label: "published", unit: "events", total: n, done: done.Load})
		run, err := b.publishLoad(ctx, b.publishJob(n, publishConnections), &done)
		stop()
		if err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		baseline = run.rate()
		res.Figures = append(res.Figures, rateFigure("source baseline: POST /events", baseline, "events/s", b.ceiling, 0))
		res.Notes = append(res.Notes, "the publish scenario did not run: the baseline is a load of the same kind (single-event POST /events from 64 connections, one subscriber) measured in this scenario")
	}
	res.Details["events"], res.Details["subscribers"], res.Details["publish_events_per_s"] = n, 1, baseline
	var failed []error
	for _, broker := range []string{sourceRabbitMQ, sourceNATS} {
		rate, err := b.sourceRun(ctx, broker, n, res)
		if err != nil {
			failed = append(failed, fmt.Errorf("%s: %w", broker, err))
			continue
		}
		f := rateFigure("source "+broker, rate, "events/s", b.ceiling, 0)
		f.Target, f.Met = fmt.Sprintf(">= POST /events (%s/s)", formatNumber(baseline)), boolp(rate >= baseline)
		res.Figures = append(res.Figures, f)
		res.Details[broker+"_vs_publish"] = rate / baseline
	}
	return errors.Join(failed...)
}

// sourceRun measures one broker: fill, register the source, await the
// commits, delete the source and the queue or stream.
func (b *bench) sourceRun(ctx context.Context, broker string, n int64, res *ScenarioResult) (float64, error) {
	run := randomHex(4)
	msgs := make([]brokertest.Message, 0, sourceFillChunk)
	fill := func(send func([]brokertest.Message) error) error {
		for i := int64(0); i < n; {
			msgs = msgs[:0]
			for ; i < n && len(msgs) < sourceFillChunk; i++ {
				msgs = append(msgs, brokertest.Message{ID: fmt.Sprintf("bench-%s-%d", run, i), Body: b.sample})
			}
			if err := send(msgs); err != nil {
				return err
			}
		}
		return nil
	}
	var source map[string]any
	fillStart := time.Now()
	switch broker {
	case sourceRabbitMQ:
		q, err := brokertest.NewRabbitQueue(b.cfg.RabbitMQURL, "herald_bench_"+run)
		if err != nil {
			return 0, err
		}
		defer q.Close()
		if err := fill(func(m []brokertest.Message) error { return q.Publish(ctx, m...) }); err != nil {
			return 0, err
		}
		source = map[string]any{"type": sourceRabbitMQ, "url": b.cfg.RabbitMQURL, "queue": q.Name}
	case sourceNATS:
		st, err := brokertest.NewNATSStream(ctx, b.cfg.NATSURL, "HERALD_BENCH_"+run)
		if err != nil {
			return 0, err
		}
		defer st.Close()
		if err := fill(func(m []brokertest.Message) error { return st.Publish(ctx, st.Name+".events", m...) }); err != nil {
			return 0, err
		}
		source = map[string]any{"type": sourceNATS, "url": b.cfg.NATSURL, "stream": st.Name, "durable": "herald-bench"}
	}
	res.Details[broker+"_fill_seconds"] = time.Since(fillStart).Seconds()
	source["tenant"] = b.api.tenant
	body, _ := json.Marshal(source)
	var created struct {
		ID string `json:"id"`
	}
	start := time.Now()
	if err := b.api.do(ctx, http.MethodPost, "/sources", body, http.StatusCreated, &created); err != nil {
		return 0, err
	}
	defer func() {
		if err := b.api.do(context.WithoutCancel(ctx), http.MethodDelete, "/sources/"+created.ID, nil, http.StatusNoContent, nil); err != nil {
			b.logf("%s: delete source: %v", ScenarioSource, err)
		}
	}()
	var published atomic.Int64
	count := func(ctx context.Context) (int64, error) {
		var s struct {
			State struct {
				Published  int64 `json:"published"`
				Duplicates int64 `json:"duplicates"`
				Rejected   int64 `json:"rejected"`
			} `json:"state"`
		}
		if err := b.api.do(ctx, http.MethodGet, "/sources/"+created.ID, nil, http.StatusOK, &s); err != nil {
			return 0, err
		}
		if s.State.Rejected > 0 {
			return 0, fmt.Errorf("the source rejected %d messages", s.State.Rejected)
		}
		published.Store(s.State.Published + s.State.Duplicates)
		return s.State.Published + s.State.Duplicates, nil
	}
	stop := b.progress(ScenarioSource+" ("+broker+")", meter{label: "committed", unit: "events", total: n, done: published.Load})
	_, err := b.awaitCount(ctx, "the "+broker+" source to commit every message", n, count, func() {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_ = b.recv.discard(cctx)
	})
	stop()
	if err != nil {
		return 0, err
	}
	elapsed := time.Since(start)
	res.Details[broker+"_seconds"] = elapsed.Seconds()
	return float64(n) / elapsed.Seconds(), nil
}
