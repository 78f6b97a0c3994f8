package bench

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// The shape of the scale scenario.
const (
	// scaleTenants is how many tenants hold its webhooks, the bench's own
	// (with the busy ones) included.
	scaleTenants = 100
	// circuitDriveEvents is how many events each failing webhook gets so
	// that its circuit opens (it does after 5 consecutive failures).
	circuitDriveEvents = 6
	// driveEvent is the event only the failing webhooks subscribe to, so
	// that driving them leaves the idle ones idle.
	driveEvent = "CARD_STATUS_CHANGE"
)

// scaleHooks are the webhooks scale registers besides the busy ones.
type scaleHooks struct {
	// tenants are clients of the other tenants.
	tenants []*apiClient
	// failing are the webhooks aimed at /fail/, with their tenants'
	// clients.
	failing           []createdWebhook
	idle, disabled    int
	registerPerSecond float64
}

// runScale registers the configured number of webhooks over 100 tenants:
// the busy ones in the bench's tenant, and of the others in the other
// tenants a third idle, a third failing (answered 500, driven until their
// circuits open) and a third disabled. It then measures the busy ones'
// throughput as the throughput scenario does, and the idle Herald's CPU
// use with every webhook still registered.
func (b *bench) runScale(ctx context.Context, res *ScenarioResult) error {
	busy := b.cfg.Webhooks
	others := b.cfg.ScaleWebhooks - busy
	tenants := max(1, min(scaleTenants-1, others/3))
	res.Details["registered_webhooks"], res.Details["tenants"] = b.cfg.ScaleWebhooks, tenants+1
	hooks, err := b.registerScale(ctx, tenants, others)
	if err != nil {
		return err
	}
	res.Details["idle"], res.Details["failing"], res.Details["disabled"] = hooks.idle, len(hooks.failing), hooks.disabled
	res.Details["register_per_s"] = hooks.registerPerSecond
	ids, err := b.createWebhooks(ctx, busy, "ok", ScenarioScale, webhookSpec{MaxInFlight: defaultMaxInFlight})
	if err != nil {
		return err
	}
	driveStart := time.Now()
	if err := b.openCircuits(ctx, hooks); err != nil {
		return err
	}
	res.Details["open_circuits_seconds"] = time.Since(driveStart).Seconds()
	if err := b.analyze(ctx, res, nil); err != nil {
		return err
	}

	rate, pg, total, err := b.batchThroughput(ctx, res, ScenarioScale, ids, []*apiClient{b.api})
	if err != nil {
		return err
	}
	res.Figures = append(res.Figures, rateFigure("scale throughput", rate, "notifications/s", b.ceiling, 0))
	if b.throughput > 0 {
		pct := 100 * rate / b.throughput
		res.Figures = append(res.Figures, Figure{Name: "scale vs throughput", Value: pct, Unit: "% of throughput",
			Target: fmt.Sprintf(">= %.0f%%", 100*ScaleRatio), Met: boolp(pct >= 100*ScaleRatio)})
	} else {
		res.Notes = append(res.Notes, "throughput did not run (or failed) in this run: no baseline for the 80% target")
	}
	pg.report(ctx, res, total, true)
	return b.measureIdle(ctx, res)
}

// registerScale creates tenants other tenants and others webhooks in them,
// concurrently.
func (b *bench) registerScale(ctx context.Context, tenants, others int) (*scaleHooks, error) {
	h := &scaleHooks{tenants: make([]*apiClient, tenants)}
	var registered atomic.Int64
	stop := b.progress(ScenarioScale+" (register)", meter{label: "registered", unit: "webhooks", total: int64(others), done: registered.Load})
	defer stop()
	start := time.Now()
	err := forEach(ctx, tenants, apiWorkers, func(ctx context.Context, i int) error {
		id, err := b.api.createTenant(ctx, b.tenantName(fmt.Sprintf("scale-%d", i)))
		h.tenants[i] = b.api.forTenant(id)
		return err
	})
	if err != nil {
		return nil, err
	}
	failing := make([]string, others)
	err = forEach(ctx, others, apiWorkers, func(ctx context.Context, k int) error {
		api := h.tenants[k%tenants]
		spec := webhookSpec{MaxInFlight: defaultMaxInFlight}
		switch k % 3 {
		case 0:
			spec.Endpoint = fmt.Sprintf("%s/ok/%s-idle/%d", b.recv.url, ScenarioScale, k)
		case 1:
			spec.Endpoint, spec.Event = fmt.Sprintf("%s/fail/%s/%d", b.recv.url, ScenarioScale, k), driveEvent
		default:
			spec.Endpoint, spec.Disabled = fmt.Sprintf("%s/ok/%s-disabled/%d", b.recv.url, ScenarioScale, k), true
		}
		id, err := b.createWebhook(ctx, api, spec)
		if err != nil {
			return err
		}
		if k%3 == 1 {
			failing[k] = id
		}
		registered.Add(1)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("register the scale webhooks (%d of %d done): %w", registered.Load(), others, err)
	}
	h.registerPerSecond = float64(others+tenants) / time.Since(start).Seconds()
	for k, id := range failing {
		switch {
		case id != "":
			h.failing = append(h.failing, createdWebhook{api: h.tenants[k%tenants], id: id})
		case k%3 == 0:
			h.idle++
		default:
			h.disabled++
		}
	}
	return h, nil
}

// openCircuits publishes events to the failing webhooks, each tenant's
// failing ones getting circuitDriveEvents each, and waits until every one
// of their circuits is open.
func (b *bench) openCircuits(ctx context.Context, h *scaleHooks) error {
	sample, err := b.cat.Sample(driveEvent, "")
	if err != nil {
		return fmt.Errorf("load the %s sample: %w", driveEvent, err)
	}
	body := batchBody(sample, circuitDriveEvents)
	err = forEach(ctx, len(h.tenants), apiWorkers, func(ctx context.Context, i int) error {
		return h.tenants[i].publishBatch(ctx, body)
	})
	if err != nil {
		return fmt.Errorf("publish to the failing webhooks: %w", err)
	}
	remaining := h.failing
	var opened atomic.Int64
	stop := b.progress(ScenarioScale+" (open circuits)", meter{label: "open", unit: "circuits", total: int64(len(h.failing)), done: opened.Load})
	defer stop()
	_, err = b.awaitCount(ctx, "the failing webhooks' circuits to open", int64(len(h.failing)), func(ctx context.Context) (int64, error) {
		open := make([]bool, len(remaining))
		err := forEach(ctx, len(remaining), apiWorkers, func(ctx context.Context, i int) error {
			c, err := remaining[i].api.circuit(ctx, remaining[i].id)
			open[i] = c == "open"
			return err
		})
		if err != nil {
			return opened.Load(), err
		}
		var still []createdWebhook
		for i, w := range remaining {
			if !open[i] {
				still = append(still, w)
			}
		}
		remaining = still
		opened.Store(int64(len(h.failing) - len(remaining)))
		return opened.Load(), nil
	}, nil)
	return err
}

// measureIdle reads the in-process Herald's CPU time over the idle
// window, every webhook still registered, and its share of one core.
func (b *bench) measureIdle(ctx context.Context, res *ScenarioResult) error {
	cpu0, ok := b.heraldCPU()
	if !ok {
		res.Notes = append(res.Notes, "Herald runs in another process (--target): its idle CPU is not measured")
		return nil
	}
	before, err := b.recv.stats(ctx)
	if err != nil {
		return err
	}
	b.logf("%s: idle for %s", ScenarioScale, b.cfg.IdleWindow)
	pg := b.startPG(ctx)
	start := time.Now()
	if err := sleep(ctx, b.cfg.IdleWindow); err != nil {
		return fmt.Errorf("idle window: %w", err)
	}
	cpu1, _ := b.heraldCPU()
	window := time.Since(start)
	pct := 100 * float64(cpu1-cpu0) / float64(window)
	res.Details["idle_seconds"] = window.Seconds()
	if after, err := b.recv.stats(ctx); err == nil {
		res.Details["idle_receiver_requests"] = after.total() - before.total()
	}
	if cpu, ok := pg.total(ctx); ok {
		res.Details["postgres_idle_cpu_pct"] = 100 * float64(cpu) / float64(window)
	}
	res.Figures = append(res.Figures, Figure{Name: "scale idle CPU", Value: pct, Unit: "% of a core",
		Target: fmt.Sprintf("< %d%%", ScaleIdleCPUPct), Met: boolp(pct < ScaleIdleCPUPct)})
	return nil
}
