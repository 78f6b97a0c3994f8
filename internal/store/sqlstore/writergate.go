package sqlstore

import (
	"context"
	"sync"
	"time"
)

// promoteAfter is how long a transaction other than a publish waits behind
// publishes before it goes first: result batches, claims and fan-out
// chunks keep moving under any publish load.
const promoteAfter = 20 * time.Millisecond

// writerGate orders the transactions waiting for a database with a single
// writer (SQLite): publishes, each with a client waiting for its answer,
// before the rest (result batches, claims, fan-out chunks, configuration),
// except that one of the rest that has waited promoteAfter goes next.
// Without it database/sql hands the one connection to a random waiter, and
// a publish could wait behind many result batches.
type writerGate struct {
	now   func() time.Time
	mu    sync.Mutex
	held  bool
	queue [2][]*gateWaiter // urgent (publishes), then the rest; oldest first
}

type gateWaiter struct {
	ready chan struct{} // closed when the waiter holds the gate
	since time.Time
	gone  bool // its context ended before its turn
}

func newWriterGate() *writerGate { return &writerGate{now: time.Now} }

// enter waits for the writer's turn; urgent is a publish. On success the
// caller holds the gate until it calls leave.
func (g *writerGate) enter(ctx context.Context, urgent bool) error {
	g.mu.Lock()
	if !g.held {
		g.held = true
		g.mu.Unlock()
		return nil
	}
	class := 1
	if urgent {
		class = 0
	}
	w := &gateWaiter{ready: make(chan struct{}), since: g.now()}
	g.queue[class] = append(g.queue[class], w)
	g.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	g.mu.Lock()
	select {
	case <-w.ready:
		g.mu.Unlock()
		g.leave() // its turn came as it gave up: pass it on
	default:
		w.gone = true
		g.mu.Unlock()
	}
	return ctx.Err()
}

// leave gives the writer to the next waiter.
func (g *writerGate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for {
		w := g.next()
		if w == nil {
			g.held = false
			return
		}
		if !w.gone {
			close(w.ready)
			return
		}
	}
}

// next takes the waiter to go next, or nil. g.mu is held.
func (g *writerGate) next() *gateWaiter {
	pop := func(class int) *gateWaiter {
		w := g.queue[class][0]
		g.queue[class][0] = nil
		g.queue[class] = g.queue[class][1:]
		return w
	}
	switch rest := g.queue[1]; {
	case len(rest) > 0 && g.now().Sub(rest[0].since) >= promoteAfter:
		return pop(1)
	case len(g.queue[0]) > 0:
		return pop(0)
	case len(rest) > 0:
		return pop(1)
	}
	return nil
}
