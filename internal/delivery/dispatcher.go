package delivery

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/heraldhq/herald/internal/policy"
	"github.com/heraldhq/herald/internal/store"
)

// Queue is the part of the store the dispatcher works from.
type Queue interface {
	DueWebhooks(ctx context.Context, now time.Time) ([]store.WebhookVersion, error)
	WebhooksByID(ctx context.Context, ids []string) ([]store.Webhook, error)
	NextDue(ctx context.Context, after time.Time) (time.Time, error)
	Claim(ctx context.Context, c store.Claim) ([]store.Claimed, error)
	Complete(ctx context.Context, c store.Completion) ([]store.WebhookChange, error)
	ReleaseLeases(ctx context.Context, owner string) (int, error)
}

// Config tunes a Dispatcher.
type Config struct {
	// Owner names this dispatcher in leases; unique per running replica.
	Owner  string
	Policy policy.Policy
	// MaxConcurrency bounds the attempts in flight in this process, across
	// every webhook (default DefaultMaxConcurrency).
	MaxConcurrency int
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
	// Shared says other replicas share the queue (PostgreSQL): a slot is
	// then given back once its attempt's result is recorded, not when it is
	// queued for recording. What every replica has sent and not recorded
	// is what a crash repeats, and it must stay within max_in_flight; the
	// store's claims count those leases, and a notification claimed ahead
	// (ready.go) may take a slot only on the same terms.
	Shared bool
	// Observer is told of every attempt (metrics); nil: nobody.
	Observer Observer
	// Tracer traces attempts as children of their publish (nil: no tracing).
	Tracer trace.Tracer
	Logger *slog.Logger
	// Now is the clock (default time.Now); tests inject their own.
	Now func() time.Time
}

// Observer watches attempts (the metrics).
type Observer interface {
	AttemptStarted()
	// AttemptFinished reports "delivered" or the error kind, the attempt's
	// duration, and the time since the event was published.
	AttemptFinished(outcome string, took, sincePublish time.Duration)
	// ResultsSetAside reports results the store could not record.
	ResultsSetAside(n int)
}

type noObserver struct{}

func (noObserver) AttemptStarted()                                      {}
func (noObserver) AttemptFinished(string, time.Duration, time.Duration) {}
func (noObserver) ResultsSetAside(int)                                  {}

// DefaultLease is the lease of a Config that sets none.
const DefaultLease = time.Minute

// DefaultMaxConcurrency is the service-wide cap on attempts in flight of a
// Config that sets none. Each attempt holds a goroutine, a socket and its
// payload; 512 keeps those to a few tens of MB and well under the usual
// 1,024-descriptor soft limit with the API's own connections, while 10
// webhooks at the default max_in_flight of 16 use under a third of it.
const DefaultMaxConcurrency = 512

// targetTTL is how long a prepared webhook is kept after its last use, so a
// publish can hand work to it without reading it again.
const targetTTL = time.Minute

// Dispatcher runs attempts: those handed over at publish (see Reserve and
// Take) and those it claims from the queue (retries, backlogs, work of
// other replicas, recovery), at most max_in_flight at once per webhook and
// MaxConcurrency in all, so a slow endpoint only ever occupies its own
// share. Results are recorded in batches by one committer.
type Dispatcher struct {
	q      Queue
	sender *Sender
	cfg    Config
	log    *slog.Logger
	now    func() time.Time

	wake    chan struct{}
	results chan store.AttemptResult
	slots   *slots

	mu       sync.Mutex
	targets  map[string]*target
	ready    map[string][]readyItem // claimed ahead of a free slot (ready.go)
	buffered int                    // notifications in ready
	attempts sync.WaitGroup
	// attemptCtx is the context of attempts (ended when abandoned at
	// shutdown); nil until Run starts and after it stops taking work.
	attemptCtx context.Context
}

// target is a prepared webhook and when it was last used.
type target struct {
	*Target
	used    time.Time
	checked time.Time // when its buffer was last checked against the database (ready.go)
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
	if cfg.MaxConcurrency <= 0 {
		cfg.MaxConcurrency = DefaultMaxConcurrency
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
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Dispatcher{
		q: q, sender: sender, cfg: cfg, log: cfg.Logger, now: cfg.Now,
		wake:    make(chan struct{}, 1),
		results: make(chan store.AttemptResult, cfg.MaxConcurrency),
		slots:   newSlots(cfg.MaxConcurrency),
		targets: make(map[string]*target),
		ready:   make(map[string][]readyItem),
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

// Run dispatches until ctx ends, then stops taking work, lets in-flight
// attempts finish within the shutdown grace, records their results and
// releases whatever it still holds. It returns within the grace plus a few
// seconds even when the database is unreachable.
func (d *Dispatcher) Run(ctx context.Context) error {
	attemptCtx, abandon := context.WithCancel(context.WithoutCancel(ctx))
	defer abandon()
	d.mu.Lock()
	d.attemptCtx = attemptCtx
	d.mu.Unlock()
	// The committer outlives ctx by the grace: results of attempts that
	// finish in time are recorded; past it, its retries give up.
	commitCtx, stopCommit := context.WithCancel(context.WithoutCancel(ctx))
	defer stopCommit()
	committed := make(chan struct{})
	go func() {
		defer close(committed)
		d.commitLoop(commitCtx)
	}()

	timer := time.NewTimer(0)
	defer timer.Stop()
	for ctx.Err() == nil {
		wait := d.cfg.Poll
		if next, err := d.dispatch(ctx); err != nil {
			if ctx.Err() == nil {
				d.log.Error("dispatch", "err", err)
			}
		} else if !next.IsZero() {
			wait = min(wait, max(next.Sub(d.now()), time.Millisecond))
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
		case <-d.wake:
		case <-timer.C:
		}
	}
	d.mu.Lock()
	d.attemptCtx = nil // no more hand-offs
	d.mu.Unlock()

	done := make(chan struct{})
	go func() { d.attempts.Wait(); close(done) }()
	grace := time.NewTimer(d.cfg.ShutdownGrace)
	defer grace.Stop()
	select {
	case <-done:
	case <-grace.C:
		d.log.Warn("shutdown grace over, abandoning in-flight attempts")
		abandon()
		<-done
	}
	close(d.results)
	select {
	case <-committed:
	case <-time.After(shutdownCommit):
		d.log.Error("could not record the last attempt results in time; their leases will run out")
		stopCommit()
		<-committed
	}
	releaseCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownCommit)
	defer cancel()
	n, err := d.q.ReleaseLeases(releaseCtx, d.cfg.Owner)
	if err != nil {
		d.log.Error("release leases at shutdown", "err", err)
		return err
	}
	d.log.Info("dispatcher stopped", "released", n)
	return nil
}

// shutdownCommit bounds each of the last steps of a shutdown: recording the
// last results and releasing the leases.
const shutdownCommit = 3 * time.Second

// dispatch claims what the due webhooks with free slots can take and
// starts those attempts. It returns when to look again, if known.
func (d *Dispatcher) dispatch(ctx context.Context) (time.Time, error) {
	d.startReady()
	now := d.now()
	versions, err := d.q.DueWebhooks(ctx, now)
	if err != nil {
		return time.Time{}, err
	}
	if err := d.refreshTargets(ctx, versions, now); err != nil {
		return time.Time{}, err
	}
	if err := d.checkBuffers(ctx, versions, now); err != nil {
		return time.Time{}, err
	}
	reqs, grants, lease, rateWake := d.plan(versions, now)
	if len(reqs) > 0 {
		until := now.Add(lease)
		claimed, err := d.q.Claim(ctx, store.Claim{Owner: d.cfg.Owner, Now: now, LeaseUntil: until, Requests: reqs})
		if err != nil {
			for id, n := range grants {
				d.slots.release(id, n)
			}
			return time.Time{}, err
		}
		d.start(d.split(claimed, grants, until))
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

// plan shares the free slots among the due webhooks and turns the grants
// worth a claim into claim requests. The granted slots are held until the
// claim returns.
func (d *Dispatcher) plan(versions []store.WebhookVersion, now time.Time) ([]store.ClaimRequest, map[string]int, time.Duration, time.Duration) {
	d.mu.Lock()
	wants := make([]want, 0, len(versions))
	hooks := make([]*Target, 0, len(versions))
	ahead := make([]bool, 0, len(versions))
	budget := d.cfg.MaxConcurrency - d.buffered // what may be claimed ahead in all
	buffered := make([]int, 0, len(versions))
	for _, v := range versions {
		t := d.targets[v.ID]
		if t == nil {
			continue
		}
		limit, pre, held := d.maxInFlight(&t.Webhook), prefetches(&t.Webhook), len(d.ready[v.ID])
		if held > 0 && (!pre || held > refillAt(limit)) {
			continue // runs what it has buffered first (ready.go)
		}
		t.used = now
		wants = append(wants, want{id: v.ID, max: limit})
		hooks = append(hooks, t.Target)
		ahead = append(ahead, pre)
		buffered = append(buffered, held)
	}
	d.evictTargets(now)
	d.mu.Unlock()

	busy := make([]int, len(wants))
	for i, w := range wants {
		busy[i] = d.slots.inFlight(w.id)
	}
	got := d.slots.grant(wants)
	grants := make(map[string]int, len(wants))
	reqs := make([]store.ClaimRequest, 0, len(wants))
	lease, rateWake := d.cfg.Lease, d.cfg.Poll
	for i, w := range wants {
		n := got[i]
		extra := 0
		if ahead[i] {
			extra = max(0, min(aheadMax(w.max)-buffered[i], budget))
		}
		// A busy webhook is topped up a few slots at a time, not one claim
		// per finished attempt: claims are the dearest statements. One
		// that buffers is claimed for whenever its buffer runs low.
		if extra == 0 && (n == 0 || (busy[i] > 0 && 4*n < busy[i]+n)) {
			d.slots.release(w.id, n)
			continue
		}
		wh := &hooks[i].Webhook
		grants[w.id] = n
		lease = max(lease, timeout(wh)+leaseMargin)
		if extra > 0 {
			budget -= extra
			lease = max(lease, d.bufferedLease(wh))
		}
		req := store.ClaimRequest{WebhookID: w.id, Limit: n + extra, MaxInFlight: w.max, Ordered: wh.Config.Ordered}
		if ahead[i] {
			req.MaxAhead = aheadMax(w.max)
		}
		if rl := wh.Config.RateLimitPerSecond; rl != nil {
			req.RateLimit = *rl
			// Tokens come back at this pace: look again then.
			rateWake = min(rateWake, max(time.Duration(float64(time.Second) / *rl), 10*time.Millisecond))
		}
		reqs = append(reqs, req)
	}
	return reqs, grants, lease, rateWake
}

// split returns the claimed notifications that have a granted slot, oldest
// first, buffers the rest (claimed ahead, see ready.go) and gives back the
// slots granted but not used.
func (d *Dispatcher) split(claimed []store.Claimed, grants map[string]int, until time.Time) []store.Claimed {
	run := claimed[:0:0]
	var ahead []store.Claimed
	for _, n := range claimed {
		if grants[n.WebhookID] > 0 {
			grants[n.WebhookID]--
			run = append(run, n)
			continue
		}
		ahead = append(ahead, n)
	}
	for id, n := range grants {
		d.slots.release(id, n) // granted but not claimed
	}
	if len(ahead) > 0 {
		d.mu.Lock()
		d.buffer(ahead, until)
		d.mu.Unlock()
	}
	return run
}

// start runs the attempts of notifications whose slots are held.
func (d *Dispatcher) start(claimed []store.Claimed) {
	if len(claimed) == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, n := range claimed {
		t := d.targets[n.WebhookID]
		if t == nil || d.attemptCtx == nil {
			// Evicted meanwhile (cannot be while a slot is held) or shutting
			// down: the lease is released at shutdown or runs out.
			d.slots.release(n.WebhookID, 1)
			continue
		}
		d.attempts.Add(1)
		go d.attempt(d.attemptCtx, t.Target, n)
	}
}

// evictTargets forgets prepared webhooks unused for targetTTL with nothing
// in flight. d.mu is held.
func (d *Dispatcher) evictTargets(now time.Time) {
	for id, t := range d.targets {
		if now.Sub(t.used) > targetTTL && d.slots.inFlight(id) == 0 && len(d.ready[id]) == 0 {
			delete(d.targets, id)
		}
	}
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
		d.targets[w.ID] = &target{Target: t, used: now}
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
