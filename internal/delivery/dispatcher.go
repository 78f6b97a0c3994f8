package delivery

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/tracing"
)

// Queue is the part of the store the dispatcher works from.
type Queue interface {
	DueWebhooks(ctx context.Context, now time.Time) ([]store.WebhookVersion, error)
	WebhooksByID(ctx context.Context, ids []string) ([]store.Webhook, error)
	NextDue(ctx context.Context, after time.Time) (time.Time, error)
	Claim(ctx context.Context, c store.Claim) ([]store.Claimed, error)
	Complete(ctx context.Context, c store.Completion) error
	ReleaseLeases(ctx context.Context, owner string) (int, error)
}

// Config tunes a Dispatcher.
type Config struct {
	// Owner names this dispatcher in leases; unique per running replica.
	Owner  string
	Policy Policy
	// Lease is how long a claimed notification stays reserved: a dead
	// replica's work is taken over after it. Each claim's lease is raised to
	// outlast the longest timeout among its webhooks.
	Lease time.Duration
	// Poll is the longest the dispatcher sleeps without being woken.
	Poll time.Duration
	// ShutdownGrace is how long in-flight attempts may run after Run's
	// context ends before they are abandoned (and their leases released).
	ShutdownGrace time.Duration
	// DefaultMaxInFlight applies to webhooks that set no max_in_flight.
	DefaultMaxInFlight int
	// DisableAfter disables a webhook that has failed without a single
	// success for this long (0: never).
	DisableAfter time.Duration
	// Observer is told of every attempt (metrics); nil: nobody.
	Observer Observer
	// Tracer traces attempts as children of their publish (nil: no tracing).
	Tracer trace.Tracer
	Logger *slog.Logger
}

// Observer watches attempts (the metrics).
type Observer interface {
	AttemptStarted()
	// AttemptFinished reports "delivered" or the error kind, the attempt's
	// duration, and the time since the event was published.
	AttemptFinished(outcome string, took, sincePublish time.Duration)
}

type noObserver struct{}

func (noObserver) AttemptStarted()                                      {}
func (noObserver) AttemptFinished(string, time.Duration, time.Duration) {}

// DefaultLease is the lease of a Config that sets none.
const DefaultLease = time.Minute

// Dispatcher claims due notifications in batches and runs their attempts,
// at most max_in_flight at once per webhook, so a slow endpoint only ever
// occupies its own slots. Results are recorded in batches by one committer.
type Dispatcher struct {
	q      Queue
	sender *Sender
	cfg    Config
	log    *slog.Logger

	wake    chan struct{}
	results chan store.AttemptResult

	mu       sync.Mutex
	inflight map[string]int
	targets  map[string]*Target
	attempts sync.WaitGroup
}

// NewDispatcher returns a dispatcher working q through sender.
func NewDispatcher(q Queue, sender *Sender, cfg Config) *Dispatcher {
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.DefaultMaxInFlight <= 0 {
		cfg.DefaultMaxInFlight = 16
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Observer == nil {
		cfg.Observer = noObserver{}
	}
	if cfg.Tracer == nil {
		cfg.Tracer = noop.NewTracerProvider().Tracer("")
	}
	return &Dispatcher{
		q: q, sender: sender, cfg: cfg, log: cfg.Logger,
		wake:     make(chan struct{}, 1),
		results:  make(chan store.AttemptResult, 1024),
		inflight: make(map[string]int),
		targets:  make(map[string]*Target),
	}
}

// Wake asks the dispatcher to look for due work now (after a publish or a
// re-send). It never blocks.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run dispatches until ctx ends, then stops claiming, lets in-flight
// attempts finish within the shutdown grace, records their results and
// releases whatever it still holds.
func (d *Dispatcher) Run(ctx context.Context) error {
	attemptCtx, abandon := context.WithCancel(context.WithoutCancel(ctx))
	defer abandon()
	committed := make(chan struct{})
	go func() {
		defer close(committed)
		d.commitLoop()
	}()

	timer := time.NewTimer(0)
	defer timer.Stop()
	for ctx.Err() == nil {
		wait := d.cfg.Poll
		if next, err := d.dispatch(ctx, attemptCtx); err != nil {
			if ctx.Err() == nil {
				d.log.Error("dispatch", "err", err)
			}
		} else if !next.IsZero() {
			wait = min(wait, max(time.Until(next), time.Millisecond))
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
		case <-d.wake:
		case <-timer.C:
		}
	}

	done := make(chan struct{})
	go func() { d.attempts.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d.cfg.ShutdownGrace):
		d.log.Warn("shutdown grace over, abandoning in-flight attempts")
		abandon()
		<-done
	}
	close(d.results)
	<-committed
	releaseCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	n, err := d.q.ReleaseLeases(releaseCtx, d.cfg.Owner)
	if err != nil {
		d.log.Error("release leases at shutdown", "err", err)
		return err
	}
	d.log.Info("dispatcher stopped", "released", n)
	return nil
}

// dispatch claims what the webhooks with free slots can take and starts
// those attempts. It returns when the next retry falls due, if known.
func (d *Dispatcher) dispatch(ctx, attemptCtx context.Context) (time.Time, error) {
	now := time.Now()
	versions, err := d.q.DueWebhooks(ctx, now)
	if err != nil {
		return time.Time{}, err
	}
	if err := d.refreshTargets(ctx, versions, now); err != nil {
		return time.Time{}, err
	}
	reqs := make([]store.ClaimRequest, 0, len(versions))
	due := make(map[string]bool, len(versions))
	lease := d.cfg.Lease
	rateWake := d.cfg.Poll
	d.mu.Lock()
	for _, v := range versions {
		due[v.ID] = true
		t := d.targets[v.ID]
		if t == nil {
			continue // could not be prepared (logged)
		}
		w := &t.Webhook
		maxInFlight, busy := d.maxInFlight(w), d.inflight[w.ID]
		free := maxInFlight - busy
		// A busy webhook is topped up a few slots at a time, not one claim
		// per finished attempt: claims are the dearest statements.
		if free <= 0 || (busy > 0 && free < max(1, maxInFlight/4)) {
			continue
		}
		lease = max(lease, timeout(w)+leaseMargin)
		req := store.ClaimRequest{WebhookID: w.ID, Limit: free, MaxInFlight: maxInFlight, Ordered: w.Config.Ordered}
		if rl := w.Config.RateLimitPerSecond; rl != nil {
			req.RateLimit = *rl
			// Tokens come back at this pace: look again then.
			rateWake = min(rateWake, max(time.Duration(float64(time.Second) / *rl), 10*time.Millisecond))
		}
		reqs = append(reqs, req)
	}
	for id := range d.targets {
		if !due[id] && d.inflight[id] == 0 {
			delete(d.targets, id) // rebuilt from fresh data when it has work again
		}
	}
	d.mu.Unlock()
	if len(reqs) > 0 {
		claimed, err := d.q.Claim(ctx, store.Claim{Owner: d.cfg.Owner, Now: now, LeaseUntil: now.Add(lease), Requests: reqs})
		if err != nil {
			return time.Time{}, err
		}
		d.mu.Lock()
		for _, n := range claimed {
			d.inflight[n.WebhookID]++
			d.attempts.Add(1)
			go d.attempt(attemptCtx, d.targets[n.WebhookID], n)
		}
		d.mu.Unlock()
	}
	next, err := d.q.NextDue(ctx, now)
	if err != nil {
		return time.Time{}, err
	}
	if rateWake < d.cfg.Poll && (next.IsZero() || now.Add(rateWake).Before(next)) {
		next = now.Add(rateWake)
	}
	return next, nil
}

// refreshTargets reads (and prepares) the due webhooks that changed since
// they were prepared, or were never prepared.
func (d *Dispatcher) refreshTargets(ctx context.Context, versions []store.WebhookVersion, now time.Time) error {
	var stale []string
	d.mu.Lock()
	for _, v := range versions {
		if t := d.targets[v.ID]; t == nil || t.Stale(v.Modified, now) {
			stale = append(stale, v.ID)
		}
	}
	d.mu.Unlock()
	if len(stale) == 0 {
		return nil
	}
	hooks, err := d.q.WebhooksByID(ctx, stale)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, w := range hooks {
		t, err := NewTarget(w, now)
		if err != nil {
			d.log.Error("prepare webhook", "webhook_id", w.ID, "err", err)
			continue
		}
		d.targets[w.ID] = t
	}
	return nil
}

// leaseMargin is the least time a lease outlasts its attempt's timeout, to
// record the result.
const leaseMargin = 5 * time.Second

func timeout(w *store.Webhook) time.Duration {
	if w.Config.TimeoutSeconds > 0 {
		return time.Duration(w.Config.TimeoutSeconds) * time.Second
	}
	return DefaultTimeout
}

func (d *Dispatcher) maxInFlight(w *store.Webhook) int {
	if w.Config.Ordered {
		return 1
	}
	if w.Config.MaxInFlight > 0 {
		return w.Config.MaxInFlight
	}
	return d.cfg.DefaultMaxInFlight
}

// attempt makes one attempt of n and hands its result to the committer.
func (d *Dispatcher) attempt(ctx context.Context, t *Target, n store.Claimed) {
	defer d.attempts.Done()
	d.cfg.Observer.AttemptStarted()
	sctx, span := d.cfg.Tracer.Start(tracing.FromTraceparent(ctx, n.TraceParent), "herald.deliver",
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
			attribute.String("herald.notification_id", n.ID), attribute.String("herald.webhook_id", n.WebhookID),
			attribute.String("herald.event", n.EventName), attribute.Int("herald.attempt", n.Attempt)))
	body, err := Body(t.Webhook.Config.Format, n)
	var out Outcome
	if err != nil {
		out = Outcome{Started: time.Now(), ErrorKind: ErrKindRequest, Error: err.Error()}
	} else {
		out = d.sender.Send(sctx, t, Message{ID: n.ID, Event: n.EventName, Attempt: n.Attempt, Body: body, Timestamp: time.Now()})
	}
	span.SetAttributes(attribute.Int("http.response.status_code", out.StatusCode))
	if !out.OK() {
		span.SetStatus(codes.Error, out.ErrorKind)
		span.SetAttributes(attribute.String("herald.error_kind", out.ErrorKind))
	}
	span.End()
	if ctx.Err() != nil {
		// Abandoned at shutdown: record nothing; the lease is released and
		// the notification is sent again, so this is no outcome of its own.
		d.cfg.Observer.AttemptFinished("abandoned", out.Duration, 0)
		d.finished(n.WebhookID)
		return
	}
	outcome := "delivered"
	if !out.OK() {
		outcome = out.ErrorKind
	}
	d.cfg.Observer.AttemptFinished(outcome, out.Duration, time.Since(n.Published))
	res := store.AttemptResult{
		LeaseToken: n.LeaseToken,
		WebhookID:  n.WebhookID,
		Attempt: store.Attempt{
			NotificationID: n.ID, Number: n.Attempt, Started: out.Started, Duration: out.Duration,
			StatusCode: out.StatusCode, ResponseBody: out.ResponseBody, ErrorKind: out.ErrorKind, Error: out.Error,
		},
		Status: store.StatusDelivered,
	}
	if !out.OK() {
		wait, ok := d.cfg.Policy.Next(t.Webhook.Config, n.Attempt-n.RetryBase, out.RetryAfter)
		if ok {
			res.Status, res.NextAttemptAt = store.StatusPending, time.Now().Add(wait)
		} else {
			res.Status = store.StatusExpired
			wait = d.cfg.Policy.Probe(t.Webhook.Config)
		}
		// An open circuit probes again after the wait this failure earned.
		res.ProbeAt = time.Now().Add(wait)
		d.log.Debug("attempt failed", "notification_id", n.ID, "webhook_id", n.WebhookID, "attempt", n.Attempt,
			"kind", out.ErrorKind, "err", out.Error, "next", res.Status)
	}
	d.results <- res
	d.finished(n.WebhookID)
}

func (d *Dispatcher) finished(webhookID string) {
	d.mu.Lock()
	if d.inflight[webhookID]--; d.inflight[webhookID] <= 0 {
		delete(d.inflight, webhookID)
	}
	d.mu.Unlock()
	d.Wake()
}

// commitLoop records results in batches: whatever has queued up while the
// previous batch committed goes in the next transaction.
func (d *Dispatcher) commitLoop() {
	batch := make([]store.AttemptResult, 0, 512)
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
		d.commit(batch)
	}
}

// commit retries a failed batch with backoff for a while; if the database
// stays away, the leases run out and the notifications are tried again.
func (d *Dispatcher) commit(batch []store.AttemptResult) {
	backoff := 50 * time.Millisecond
	deadline := time.Now().Add(d.cfg.Lease)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := d.q.Complete(ctx, store.Completion{Results: batch, Now: time.Now(), DisableAfter: d.cfg.DisableAfter})
		cancel()
		if err == nil {
			d.Wake() // the leases just ended free slots for more claims
			return
		}
		if time.Now().After(deadline) {
			d.log.Error("giving up recording attempt results; their leases will run out", "count", len(batch), "err", err)
			return
		}
		d.log.Warn("record attempt results", "count", len(batch), "err", err)
		time.Sleep(backoff)
		backoff = min(backoff*2, 5*time.Second)
	}
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
