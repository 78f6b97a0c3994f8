package delivery

import (
	"context"
	"encoding/json"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/policy"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/tracing"
)

// attempt makes one attempt of n, decides its next state through the
// policy and hands the result to the committer. Its slot is given back once
// the result is queued, or where the queue is shared (Config.Shared) once
// it is recorded.
func (d *Dispatcher) attempt(ctx context.Context, t *Target, n store.Claimed) {
	defer d.attempts.Done()
	queued := false
	defer func() {
		if !queued || !d.cfg.Shared {
			d.finished(n.WebhookID)
		}
	}()
	d.cfg.Observer.AttemptStarted()
	out := d.send(ctx, t, n)
	if ctx.Err() != nil {
		// Abandoned at shutdown: record nothing; the lease is released and
		// the notification is sent again, so this is no outcome of its own.
		d.cfg.Observer.AttemptFinished("abandoned", out.Duration, 0)
		return
	}
	outcome := "delivered"
	if !out.OK() {
		outcome = out.ErrorKind
	}
	d.cfg.Observer.AttemptFinished(outcome, out.Duration, d.now().Sub(n.Published))
	v := d.cfg.Policy.Decide(t.Webhook.Config, policy.Outcome{
		OK: out.OK(), Attempt: n.Attempt - n.RetryBase, RetryAfter: out.RetryAfter, At: out.Started.Add(out.Duration),
	})
	if !out.OK() {
		d.log.Debug("attempt failed", "notification_id", n.ID, "webhook_id", n.WebhookID, "attempt", n.Attempt,
			"kind", out.ErrorKind, "err", out.Error, "next", v.Status)
	}
	res := store.AttemptResult{
		LeaseToken: n.LeaseToken,
		WebhookID:  n.WebhookID,
		Attempt: store.Attempt{
			NotificationID: n.ID, Number: n.Attempt, Started: out.Started, Duration: out.Duration,
			StatusCode: out.StatusCode, ResponseBody: out.ResponseBody, ErrorKind: out.ErrorKind, Error: out.Error,
			RequestHeaders: out.RequestHeaders, ResponseHeaders: out.ResponseHeaders,
		},
		Status: v.Status, NextAttemptAt: v.Next, ProbeAt: v.ProbeAt,
	}
	// The committer may be stuck on an unreachable database with the
	// channel full: an attempt abandoned at shutdown then gives up its
	// result (its lease is released or runs out) instead of blocking.
	select {
	case d.results <- res:
		queued = true
	case <-ctx.Done():
	}
}

// send makes the HTTP request of n, traced as a child of its publish.
func (d *Dispatcher) send(ctx context.Context, t *Target, n store.Claimed) Outcome {
	sctx, span := d.cfg.Tracer.Start(tracing.FromTraceparent(ctx, n.TraceParent), "herald.deliver",
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
			attribute.String("herald.notification_id", n.ID), attribute.String("herald.webhook_id", n.WebhookID),
			attribute.String("herald.event", n.EventName), attribute.Int("herald.attempt", n.Attempt)))
	defer span.End()
	body, err := Body(t.Webhook.Config.Format, n)
	var out Outcome
	if err != nil {
		out = Outcome{Started: d.now(), ErrorKind: ErrKindRequest, Error: err.Error()}
	} else {
		out = d.sender.Send(sctx, t, Message{ID: n.ID, Event: n.EventName, Attempt: n.Attempt, Body: body, Timestamp: d.now()})
	}
	span.SetAttributes(attribute.Int("http.response.status_code", out.StatusCode))
	if !out.OK() {
		span.SetStatus(codes.Error, out.ErrorKind)
		span.SetAttributes(attribute.String("herald.error_kind", out.ErrorKind))
	}
	return out
}

// finished gives back an attempt's slot to the webhook's next buffered
// notification, if any, and looks for more work.
func (d *Dispatcher) finished(webhookID string) {
	d.slots.release(webhookID, 1)
	d.startReady(webhookID)
	d.Wake()
}

// recorded gives back the slots of a batch of results the committer is
// done with (recorded, set aside or given up), where the queue is shared.
func (d *Dispatcher) recorded(batch []store.AttemptResult) {
	if !d.cfg.Shared {
		return
	}
	n := map[string]int{}
	for _, r := range batch {
		n[r.WebhookID]++
	}
	ids := make([]string, 0, len(n))
	for id, k := range n {
		d.slots.release(id, k)
		ids = append(ids, id)
	}
	d.startReady(ids...)
	d.Wake()
}

// Body is what is POSTed for a notification: the payload as published, or
// for a webhook in NI format the NI envelope (NI token notifications are
// already one; other events are wrapped).
func Body(format string, n store.Claimed) ([]byte, error) {
	if format != store.FormatNI || n.EventName == catalog.NITokenNotification {
		return n.Payload, nil
	}
	return json.Marshal(struct {
		ID        string          `json:"id"`
		Type      string          `json:"type"`
		Timestamp string          `json:"timestamp"`
		Details   json.RawMessage `json:"details"`
	}{n.ID, n.EventName, n.Published.UTC().Format(time.RFC3339), n.Payload})
}
