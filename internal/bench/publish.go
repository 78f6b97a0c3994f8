package bench

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"
)

// Connections of the scenarios that publish one event per POST /events.
const (
	// publishConnections is the publish scenario's keep-alive connections.
	publishConnections = 64
	// singlePublishers is throughput-single's concurrent publishers.
	singlePublishers = 16
)

// publishJob is a load of n single-event POST /events to the bench's
// tenant from conns connections.
func (b *bench) publishJob(n int64, conns int) loadJob {
	return loadJob{
		URL: b.api.base + "/events", Body: b.sample, Connections: conns, Requests: n, WantStatus: http.StatusAccepted,
		Headers: map[string]string{"apikey": b.api.key, "Herald-Tenant": b.api.tenant, "Content-Type": "application/json"},
	}
}

// publishLoad runs job in a load generator process and fails unless every
// request was acknowledged.
func (b *bench) publishLoad(ctx context.Context, job loadJob, done *atomic.Int64) (loadRun, error) {
	run, err := b.runLoadProc(ctx, job, done)
	if err != nil {
		return run, fmt.Errorf("publish: %w", err)
	}
	if run.Failed > 0 || run.OK != job.Requests {
		return run, fmt.Errorf("publish: %d of %d requests failed; first: %s", run.Failed, job.Requests, run.FirstError)
	}
	return run, nil
}

// runPublish publishes the events one per POST /events from 64 keep-alive
// connections of a load generator process, to one healthy subscriber, and
// measures events acknowledged per second and Herald's CPU time per
// publish (the bench process's rusage over the publishing, which holds no
// client work).
func (b *bench) runPublish(ctx context.Context, res *ScenarioResult) error {
	n := int64(b.cfg.Events)
	if err := b.publishBare(ctx, res, n); err != nil {
		return err
	}
	ids, err := b.createWebhooks(ctx, 1, "ok", ScenarioPublish, webhookSpec{MaxInFlight: defaultMaxInFlight})
	if err != nil {
		return err
	}
	res.Details["events"], res.Details["connections"], res.Details["subscribers"] = n, publishConnections, 1
	var done atomic.Int64
	stop := b.progress(ScenarioPublish, meter{label: "published", unit: "events", total: n, done: done.Load})
	pg := b.startPG(ctx)
	cpu0, cpuOK := b.heraldCPU()
	run, err := b.publishLoad(ctx, b.publishJob(n, publishConnections), &done)
	cpu1, _ := b.heraldCPU()
	stop()
	if err != nil {
		return err
	}
	if got, err := b.recv.okCount(ctx, ScenarioPublish); err == nil {
		res.Details["delivered_during_publish"] = got
	}
	res.Details["seconds"] = run.Seconds
	b.publishRate = run.rate()
	res.Details["publish_p50_ms"], res.Details["publish_p99_ms"] = run.P50Ms, run.P99Ms
	res.Details["loadgen_cpu_us_per_request"] = micros(run.cpu) / float64(n)
	res.Figures = append(res.Figures, rateFigure(ScenarioPublish, run.rate(), "events/s", b.ceiling, PublishRatio))
	if cpuOK {
		res.Figures = append(res.Figures, publishCPUFigure("publish CPU", cpu1-cpu0, n))
		res.Notes = append(res.Notes, "publish CPU is Herald's CPU time while the events were published, over their count; "+
			"it includes the subscriber's deliveries made meanwhile (delivered_during_publish); "+
			"herald_cpu_us_per_event_delivered runs on until every notification is delivered")
	} else {
		res.Notes = append(res.Notes, "Herald runs in another process (--target): its CPU is not measured")
	}

	stop = b.progress(ScenarioPublish+" (deliver)", b.receivedMeter(ctx, ScenarioPublish, n))
	_, received, err := b.awaitDelivered(ctx, ScenarioPublish, n, ids, true)
	stop()
	if err != nil {
		return err
	}
	if cpu2, ok := b.heraldCPU(); ok && cpuOK {
		res.Details["herald_cpu_us_per_event_delivered"] = micros(cpu2-cpu0) / float64(n)
	}
	res.Details["duplicates"] = received - n
	pg.report(ctx, res, n, false)
	return nil
}

// publishBare publishes n events one per POST /events from 64 keep-alive
// connections before the scenario's subscriber exists (the cleanup of the
// scenarios before left the bench's tenant without webhooks): the rate and
// CPU of publishing alone, the "no subscriber" figures, where the
// figures after them include the subscriber's deliveries.
func (b *bench) publishBare(ctx context.Context, res *ScenarioResult, n int64) error {
	const name = ScenarioPublish + " (no subscriber)"
	var done atomic.Int64
	stop := b.progress(name, meter{label: "published", unit: "events", total: n, done: done.Load})
	cpu0, cpuOK := b.heraldCPU()
	run, err := b.publishLoad(ctx, b.publishJob(n, publishConnections), &done)
	cpu1, _ := b.heraldCPU()
	stop()
	if err != nil {
		return fmt.Errorf("no subscriber: %w", err)
	}
	res.Details["no_subscriber_p50_ms"], res.Details["no_subscriber_p99_ms"] = run.P50Ms, run.P99Ms
	res.Figures = append(res.Figures, rateFigure(name, run.rate(), "events/s", b.ceiling, PublishRatio))
	if cpuOK {
		res.Figures = append(res.Figures, publishCPUFigure("publish CPU (no subscriber)", cpu1-cpu0, n))
	}
	return nil
}

// publishCPUFigure is Herald's CPU time used over n publishes, per publish.
func publishCPUFigure(name string, used time.Duration, n int64) Figure {
	per := micros(used) / float64(n)
	return Figure{Name: name, Value: per, Unit: "µs/publish",
		Target: fmt.Sprintf("<= %d µs", PublishCPU/time.Microsecond), Met: boolp(per <= micros(PublishCPU))}
}

// runThroughputSingle publishes a quarter of the events one per POST
// /events from 16 concurrent publishers (a load generator process) to the
// webhooks, each getting every event, and measures notifications
// delivered per second from the first publish until every notification is
// received and recorded DELIVERED.
func (b *bench) runThroughputSingle(ctx context.Context, res *ScenarioResult) error {
	const tag = ScenarioThroughputSingle
	n, m := int64(max(1, b.cfg.Events/4)), b.cfg.Webhooks
	total := n * int64(m)
	ids, err := b.createWebhooks(ctx, m, "ok", tag, webhookSpec{MaxInFlight: defaultMaxInFlight})
	if err != nil {
		return err
	}
	res.Details["events"], res.Details["webhooks"], res.Details["notifications"], res.Details["publishers"] = n, m, total, singlePublishers
	var done atomic.Int64
	stop := b.progress(tag, meter{label: "published", unit: "events", total: n, done: done.Load},
		b.receivedMeter(ctx, tag, total))
	defer stop()
	pg := b.startPG(ctx)
	cpu0, cpuOK := b.heraldCPU()
	start := time.Now()
	var run loadRun
	end, received, err := b.publishAndDrain(ctx, func(ctx context.Context) error {
		var err error
		run, err = b.publishLoad(ctx, b.publishJob(n, singlePublishers), &done)
		return err
	}, tag, total, ids)
	if err != nil {
		return err
	}
	elapsed := end.Sub(start)
	res.Details["seconds"] = elapsed.Seconds()
	res.Details["publish_seconds"] = run.Seconds
	res.Details["publish_events_per_s"] = run.rate()
	res.Details["publish_p50_ms"], res.Details["publish_p99_ms"] = run.P50Ms, run.P99Ms
	res.Details["duplicates"] = received - total
	if cpu1, ok := b.heraldCPU(); ok && cpuOK {
		res.Details["herald_cpu_us_per_notification"] = micros(cpu1-cpu0) / float64(total)
	}
	ratio := ThroughputSingleRatioSQLite
	if b.cfg.Backend != BackendSQLite {
		ratio = 0
		res.Notes = append(res.Notes, "the issue sets the one-event-per-request throughput target for SQLite only")
	}
	res.Figures = append(res.Figures, rateFigure(tag, float64(total)/elapsed.Seconds(), "notifications/s", b.ceiling, ratio))
	pg.report(ctx, res, total, true)
	return nil
}

// micros is a duration in microseconds.
func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
