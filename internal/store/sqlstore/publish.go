package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// Publishing is group-committed: concurrent Publish calls queue up, and a
// publisher takes whatever has queued while it committed the last group
// and stores it in one transaction (SQLite has one writer; PostgreSQL saves
// round trips). Each call returns only once the transaction holding its
// rows has committed. A call that fails on its own (an idempotency key
// reused with another body, a fan-out over its bound) fails alone; when the
// group's transaction fails, each call is tried again in a transaction of
// its own, so one bad request never fails the others.

// Group bounds: a group is committed once it holds this many calls or
// events, so no transaction holds the writer for long.
const (
	groupCalls  = 256
	groupEvents = 500
)

// publishCall is one Publish waiting for its group.
type publishCall struct {
	ctx  context.Context
	req  store.PublishRequest
	res  store.PublishResult
	err  error
	done chan struct{}
	// leased: the notifications handed to req.Handoff, by webhook, to take
	// after the commit or give back after a failure.
	leased []store.Claimed
	// fanouts: the deferred fan-out plans of the call, to write after the
	// commit (deferred.go).
	fanouts []string
}

// publishers runs the group committers of a store.
type publishers struct {
	mu      sync.Mutex
	started bool
	closed  bool
	// calls holds one queue per group committer; a tenant's calls all go
	// to the same one (lanes).
	calls []chan *publishCall
	stop  chan struct{}
	wg    sync.WaitGroup
	// waiting counts the Publish calls not yet answered (deferred fan-out
	// chunks give them the writer first).
	waiting atomic.Int64
	// ctx bounds every group's transaction; Close ends it, so a shutdown
	// never waits on an unreachable database.
	ctx    context.Context
	cancel context.CancelFunc
}

// Publish stores events and fans each one out to every subscribed webhook of
// the tenant, atomically: when it returns nil, every event and notification
// is committed. Event IDs and creation times are the caller's.
func (s *Store) Publish(ctx context.Context, req store.PublishRequest) (store.PublishResult, error) {
	if !s.startPublishers() {
		return store.PublishResult{}, errors.New("publish: store closed")
	}
	s.pub.waiting.Add(1)
	defer s.pub.waiting.Add(-1)
	c := &publishCall{ctx: ctx, req: req, done: make(chan struct{})}
	select {
	case s.pub.calls[lane(req.TenantID, len(s.pub.calls))] <- c:
	case <-ctx.Done():
		return store.PublishResult{}, fmt.Errorf("publish: %w", ctx.Err())
	case <-s.pub.stop:
		return store.PublishResult{}, errors.New("publish: store closed")
	}
	<-c.done
	return c.res, c.err
}

// startPublishers starts the group committers on first use: one where the
// database has a single writer, a few where transactions run side by side.
// It reports false once the store is closed.
func (s *Store) startPublishers() bool {
	s.pub.mu.Lock()
	defer s.pub.mu.Unlock()
	if s.pub.closed {
		return false
	}
	if s.pub.started {
		return true
	}
	s.pub.started = true
	s.pub.stop = make(chan struct{})
	s.pub.ctx, s.pub.cancel = context.WithCancel(context.Background())
	n := 1
	if !s.d.OneProcess {
		n = 4
	}
	for range n {
		calls := make(chan *publishCall)
		s.pub.calls = append(s.pub.calls, calls)
		s.pub.wg.Add(1)
		go func() {
			defer s.pub.wg.Done()
			s.publishLoop(calls)
		}()
	}
	return true
}

// lane is the group committer of a tenant's publishes, of n. A group locks
// the rows of its tenants' webhooks until it commits (where rows lock), so
// two committers taking calls of one tenant would only wait for each other:
// one committer per tenant makes its groups larger instead, while other
// tenants' publishes commit beside it.
func lane(tenantID string, n int) int {
	if n == 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(tenantID))
	return int(h.Sum32() % uint32(n))
}

// stopPublishers ends the group committers (Close).
func (s *Store) stopPublishers() {
	s.pub.mu.Lock()
	started, closed := s.pub.started, s.pub.closed
	s.pub.closed = true
	s.pub.mu.Unlock()
	if !started || closed {
		return
	}
	close(s.pub.stop)
	s.pub.cancel()
	s.pub.wg.Wait()
}

func (s *Store) publishLoop(calls <-chan *publishCall) {
	for {
		var first *publishCall
		select {
		case first = <-calls:
		case <-s.pub.stop:
			return
		}
		group, events := []*publishCall{first}, len(first.req.Events)
	fill:
		for len(group) < groupCalls && events < groupEvents {
			select {
			case c := <-calls:
				group = append(group, c)
				events += len(c.req.Events)
			default:
				break fill
			}
		}
		s.publishGroup(group)
	}
}

// publishGroup commits a group and answers its calls.
func (s *Store) publishGroup(group []*publishCall) {
	live := group[:0:0]
	for _, c := range group {
		if err := c.ctx.Err(); err != nil {
			c.err = fmt.Errorf("publish: %w", err)
			close(c.done)
			continue
		}
		live = append(live, c)
	}
	// A key used twice in one group: the later call goes in a group of its
	// own afterwards, and sees the first one's record.
	now, later := splitRepeatedKeys(live)
	if len(now) > 0 {
		s.commitGroup(now)
	}
	for _, c := range later {
		s.commitGroup([]*publishCall{c})
	}
}

func splitRepeatedKeys(group []*publishCall) (now, later []*publishCall) {
	seen := map[[2]string]bool{}
	for _, c := range group {
		if c.req.IdempotencyKey != "" {
			k := [2]string{c.req.TenantID, c.req.IdempotencyKey}
			if seen[k] {
				later = append(later, c)
				continue
			}
			seen[k] = true
		}
		now = append(now, c)
	}
	return now, later
}

// commitGroup runs a group in one transaction; if it fails, each call runs
// alone.
func (s *Store) commitGroup(group []*publishCall) {
	ctx, cancel := context.WithTimeout(s.pub.ctx, 60*time.Second)
	defer cancel()
	err := s.writeAs(ctx, true, func(tx *tx) error { return s.publishTx(ctx, tx, group) })
	if err != nil {
		for _, c := range group {
			c.release()
		}
		// Alone, each call fails or commits on its own: worth it when a
		// request's rows broke the group, not when the database is away.
		if len(group) > 1 && ctx.Err() == nil && (errors.Is(err, errIdempotencyRace) || s.d.isDataError(err)) {
			for _, c := range group {
				s.commitGroup([]*publishCall{c})
			}
			return
		}
		c := group[0]
		if errors.Is(err, errIdempotencyRace) {
			// A concurrent publish with the same key committed first: the
			// next try returns that publish.
			c.res, c.leased, c.fanouts = store.PublishResult{}, nil, nil
			err = s.writeAs(ctx, true, func(tx *tx) error { return s.publishTx(ctx, tx, group) })
			if err != nil {
				c.release()
			}
		}
		if err != nil {
			// Every call of the group fails with it (the database is
			// away): none may be left waiting.
			for _, c := range group {
				c.res, c.err = store.PublishResult{}, err
				close(c.done)
			}
			return
		}
	}
	for _, c := range group {
		if len(c.leased) > 0 && c.err == nil {
			c.req.Handoff.Take(c.leased)
		}
		if c.err == nil {
			s.enqueueFanouts(c.fanouts...)
			s.cacheQueued(c)
		}
		close(c.done)
	}
}

// cacheQueued keeps the payloads of a committed call's events when some of
// their notifications were left for claims.
func (s *Store) cacheQueued(c *publishCall) {
	if !c.res.Queued || c.res.Replayed {
		return
	}
	for _, e := range c.res.Events {
		s.payloads.put(e.Event.ID, cachedPayload{payload: e.Event.Payload, published: e.Event.Created, traceParent: e.Event.TraceParent}, false)
	}
}

// release gives back the slots the call reserved in a transaction that
// did not commit.
func (c *publishCall) release() {
	if c.req.Handoff == nil {
		c.leased = nil
		return
	}
	n := map[string]int{}
	for _, l := range c.leased {
		n[l.WebhookID]++
	}
	for id, k := range n {
		c.req.Handoff.Release(id, k)
	}
	c.leased = nil
}
