package bench

import (
	"context"
	"errors"
	"fmt"
)

// Replicas is how many Herald replicas the replicas scenario runs on one
// PostgreSQL database, the bench's own included.
const Replicas = 3

// runReplicas measures what scaling out costs on one machine: the bench's
// in-process Herald and Replicas-1 more started beside it on the same
// PostgreSQL database, each with its own API and dispatcher, share the
// throughput scenario's load (batches of 500 sent to the replicas in turn,
// every event to the configured webhooks), until every notification is
// received and recorded DELIVERED. Targets: at least the throughput
// scenario's figure of this run (the replicas share this machine's CPU, so
// more is not to be expected here, only that coordinating them through the
// database costs nothing), and no duplicate without a crash.
func (b *bench) runReplicas(ctx context.Context, res *ScenarioResult) error {
	if !b.inProcess || b.cfg.DatabaseURL == "" {
		res.Notes = append(res.Notes, "replicas runs only with the in-process Herald on PostgreSQL (--database-url): skipped")
		return nil
	}
	via := []*apiClient{b.api}
	var stops []func() error
	stopAll := func() error {
		var errs []error
		for _, stop := range stops {
			errs = append(errs, stop())
		}
		stops = nil
		return errors.Join(errs...)
	}
	defer func() { // on failure; a success stops them first
		if err := stopAll(); err != nil {
			res.Notes = append(res.Notes, "stopping the replicas failed: "+err.Error())
		}
	}()
	for range Replicas - 1 {
		svc, err := b.startService(ctx)
		if err != nil {
			return fmt.Errorf("start a replica: %w", err)
		}
		stops = append(stops, svc.Close)
		via = append(via, newAPIClient("http://"+svc.Addr(), b.adminKey).forTenant(b.api.tenant))
	}
	res.Details["replicas"] = len(via)
	res.Notes = append(res.Notes, "the CPU shares count the PostgreSQL backends of the replicas stopped at the end as other processes; "+
		"postgres CPU per notification counts them")
	ids, err := b.createWebhooks(ctx, b.cfg.Webhooks, "ok", ScenarioReplicas, webhookSpec{MaxInFlight: defaultMaxInFlight})
	if err != nil {
		return err
	}
	rate, pg, total, err := b.batchThroughput(ctx, res, ScenarioReplicas, ids, via)
	if err != nil {
		return err
	}
	res.Figures = append(res.Figures, rateFigure(fmt.Sprintf("%d replicas throughput", len(via)), rate, "notifications/s", b.ceiling, 0))
	if b.throughput > 0 {
		pct := 100 * rate / b.throughput
		res.Figures = append(res.Figures, Figure{Name: "replicas vs throughput", Value: pct, Unit: "% of throughput",
			Target: ">= 100%", Met: boolp(pct >= 100)})
	} else {
		res.Notes = append(res.Notes, "throughput did not run (or failed) in this run: no one-replica baseline")
	}
	pg.report(ctx, res, total, true)
	// Duplicates are counted once every replica has stopped, so that a
	// late repeat (a lease running out, an attempt finishing during the
	// shutdown) counts too.
	if err := stopAll(); err != nil {
		return fmt.Errorf("stop the replicas: %w", err)
	}
	received, err := b.recv.okCount(ctx, ScenarioReplicas)
	if err != nil {
		return fmt.Errorf("count what the receiver got: %w", err)
	}
	dups := received - total
	res.Details["duplicates"] = dups
	res.Figures = append(res.Figures, Figure{Name: "replicas duplicates", Value: float64(dups), Unit: "notifications",
		Target: "0", Met: boolp(dups == 0)})
	return nil
}
