package source

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/publish"
	"github.com/heraldhq/herald/internal/store"
)

// Defaults of a Runner.
const (
	// DefaultRefresh is how often a replica re-reads the sources table, so
	// that sources created, paused or deleted through another replica start
	// or stop here too.
	DefaultRefresh = 5 * time.Second
	// DefaultBatch is the most messages taken from a broker at once and
	// published together (the store's group commit holds up to 256 calls).
	DefaultBatch = 256
	// KeepRejected is how many rejected messages the store keeps per
	// source (the newest).
	KeepRejected = 100
)

// Store is what consuming needs of Herald's store.
type Store interface {
	ActiveSources(ctx context.Context) ([]store.Source, error)
	RecordRejected(ctx context.Context, msgs []store.RejectedMessage, keep int) error
	// CheckWrites tells a database outage (keep retrying) from a message
	// the database refuses (reject it).
	CheckWrites(ctx context.Context) error
}

// Metrics is told what each source consumed.
type Metrics interface {
	// SourceMessages counts n messages of a source by outcome: published,
	// duplicate (a message id already published) or rejected.
	SourceMessages(sourceID, outcome string, n int)
	// SourceConnected reports whether a source's broker connection is up
	// (removed reports it gone).
	SourceConnected(sourceID string, connected, removed bool)
}

// Config is what a Runner is built from.
type Config struct {
	Store     Store
	Publisher *publish.Publisher
	// Owner names this replica in broker connection names and consumer
	// tags.
	Owner   string
	Refresh time.Duration // 0: DefaultRefresh
	Batch   int           // 0: DefaultBatch
	Metrics Metrics       // nil: none
	Logger  *slog.Logger
}

// Runner consumes every ACTIVE source, one consumer each, and follows the
// sources table as it changes.
type Runner struct {
	cfg  Config
	kick chan struct{}

	mu      sync.Mutex
	running map[string]*consumer
	wg      sync.WaitGroup
}

// NewRunner returns a Runner; Run starts it.
func NewRunner(cfg Config) *Runner {
	if cfg.Refresh <= 0 {
		cfg.Refresh = DefaultRefresh
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Runner{cfg: cfg, kick: make(chan struct{}, 1), running: map[string]*consumer{}}
}

// Run consumes until ctx ends, then stops every consumer: messages not yet
// committed stay unacknowledged, for the broker to deliver again.
func (r *Runner) Run(ctx context.Context) {
	t := time.NewTicker(r.cfg.Refresh)
	defer t.Stop()
	for {
		r.sync(ctx)
		select {
		case <-ctx.Done():
			r.mu.Lock()
			for id, c := range r.running {
				c.stop()
				delete(r.running, id)
			}
			r.mu.Unlock()
			r.wg.Wait()
			return
		case <-t.C:
		case <-r.kick:
		}
	}
}

// Refresh re-reads the sources now (this replica's API changed one).
func (r *Runner) Refresh() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// sync starts a consumer for every active source not running and stops
// those no longer active (or changed since they started).
func (r *Runner) sync(ctx context.Context) {
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	active, err := r.cfg.Store.ActiveSources(qctx)
	cancel()
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			r.cfg.Logger.Warn("cannot read the sources; the running ones go on", "err", err)
		}
		return
	}
	want := make(map[string]store.Source, len(active))
	for _, s := range active {
		want[s.ID] = s
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, c := range r.running {
		if s, ok := want[id]; !ok || !s.Modified.Equal(c.src.Modified) || s.URL != c.src.URL {
			c.stop()
			delete(r.running, id)
			r.cfg.Logger.Info("source stopped", "source", id)
		}
	}
	if ctx.Err() != nil {
		return
	}
	for id, s := range want {
		if _, ok := r.running[id]; ok {
			continue
		}
		c := newConsumer(r, s)
		r.running[id] = c
		cctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		c.cancel = stop
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			c.run(cctx)
		}()
		r.cfg.Logger.Info("source started", "source", id, "type", s.Type, "url", MaskURL(s.URL))
	}
}

// Status is one source's consumer on this replica.
func (r *Runner) Status(id string) (Status, bool) {
	r.mu.Lock()
	c, ok := r.running[id]
	r.mu.Unlock()
	if !ok {
		return Status{}, false
	}
	return c.snapshot(), true
}

// Statuses are the states of this replica's consumers, by source id.
func (r *Runner) Statuses() map[string]Status {
	r.mu.Lock()
	cs := make([]*consumer, 0, len(r.running))
	for _, c := range r.running {
		cs = append(cs, c)
	}
	r.mu.Unlock()
	out := make(map[string]Status, len(cs))
	for _, c := range cs {
		out[c.src.ID] = c.snapshot()
	}
	return out
}
