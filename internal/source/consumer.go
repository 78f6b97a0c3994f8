package source

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// Consumer states, as GET /sources/{id} and /readyz report them.
const (
	StateConnecting   = "connecting"
	StateConnected    = "connected"
	StateReconnecting = "reconnecting"
)

// Status is a source's consumer on one replica: its connection state and
// what it consumed since this process started.
type Status struct {
	State string
	// Since is when the consumer entered State.
	Since time.Time
	// LastError is the newest failure (credentials scrubbed), kept after
	// a reconnect so that a flapping broker shows why; "" for none.
	LastError   string
	LastErrorAt time.Time
	// Published counts messages published, Duplicates those whose message
	// id had been published already (a redelivery), Rejected those
	// dead-lettered.
	Published, Duplicates, Rejected int64
	LastMessageAt                   time.Time
}

// message is one broker message in hand, not yet settled.
type message struct {
	// ID is the idempotency key: the broker's message id ("" when the
	// message has none).
	ID   string
	Body []byte
	// tag is the broker's handle for settling it.
	tag any
}

// rejection is a message to dead-letter, with why.
type rejection struct {
	msg   message
	field string
	err   string
}

// conn is one connection to a broker, consuming one source.
type conn interface {
	// Receive waits for a message, then takes the ones already delivered,
	// up to max in all. It fails when the connection breaks.
	Receive(ctx context.Context, max int) ([]message, error)
	// Settle acknowledges acks and dead-letters rejects.
	Settle(acks []message, rejects []rejection) error
	Close()
}

// dial connects to a source's broker; name names the connection there.
func dial(ctx context.Context, src store.Source, name string, batch int) (conn, error) {
	switch src.Type {
	case store.SourceRabbitMQ:
		return dialRabbitMQ(ctx, src, name, batch)
	case store.SourceNATS:
		return dialNATS(ctx, src, name, batch)
	}
	return nil, fmt.Errorf("unknown source type %q", src.Type)
}

// Reconnection backoff: doubling from the first wait to the last, with
// jitter so that replicas do not knock on a restarted broker together.
const (
	backoffFirst = 200 * time.Millisecond
	backoffMax   = 5 * time.Second
)

func backoff(attempt int) time.Duration {
	d := backoffFirst << min(attempt, 10)
	d = min(d, backoffMax)
	return d/2 + rand.N(d/2+1)
}

// sleep waits d or until ctx ends, reporting whether the wait ran out.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// consumer runs one source on this replica.
type consumer struct {
	r      *Runner
	src    store.Source
	cancel context.CancelFunc

	mu     sync.Mutex
	status Status
}

func newConsumer(r *Runner, src store.Source) *consumer {
	return &consumer{r: r, src: src, status: Status{State: StateConnecting, Since: time.Now().UTC()}}
}

func (c *consumer) stop() {
	c.cancel()
	if m := c.r.cfg.Metrics; m != nil {
		m.SourceConnected(c.src.ID, false, true)
	}
}

func (c *consumer) snapshot() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

func (c *consumer) setState(state string) {
	c.mu.Lock()
	if c.status.State != state {
		c.status.State, c.status.Since = state, time.Now().UTC()
	}
	c.mu.Unlock()
	if m := c.r.cfg.Metrics; m != nil {
		m.SourceConnected(c.src.ID, state == StateConnected, false)
	}
}

// fail records err as the source's last error.
func (c *consumer) fail(err error) {
	msg := scrub(err.Error(), c.src.URL)
	c.mu.Lock()
	c.status.LastError, c.status.LastErrorAt = msg, time.Now().UTC()
	c.mu.Unlock()
	c.r.cfg.Logger.Warn("source", "source", c.src.ID, "err", msg)
}

func (c *consumer) counted(published, duplicates, rejected int) {
	c.mu.Lock()
	c.status.Published += int64(published)
	c.status.Duplicates += int64(duplicates)
	c.status.Rejected += int64(rejected)
	c.status.LastMessageAt = time.Now().UTC()
	c.mu.Unlock()
	if m := c.r.cfg.Metrics; m != nil {
		for outcome, n := range map[string]int{"published": published, "duplicate": duplicates, "rejected": rejected} {
			if n > 0 {
				m.SourceMessages(c.src.ID, outcome, n)
			}
		}
	}
}

// run connects, consumes until the connection breaks, and reconnects with
// backoff, until ctx ends.
func (c *consumer) run(ctx context.Context) {
	name := "herald " + c.r.cfg.Owner + " source " + c.src.ID
	for attempt := 0; ctx.Err() == nil; attempt++ {
		cn, err := dial(ctx, c.src, name, c.r.cfg.Batch)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.fail(fmt.Errorf("connect: %w", err))
			c.setState(StateReconnecting)
			sleep(ctx, backoff(attempt))
			continue
		}
		c.setState(StateConnected)
		attempt = -1
		err = c.consume(ctx, cn)
		cn.Close()
		if ctx.Err() != nil {
			return
		}
		c.setState(StateReconnecting)
		c.fail(err)
		sleep(ctx, backoff(0))
	}
}

// batchGap ends a batch: no message for this long after the last one.
const batchGap = time.Millisecond

// inFlight is how many batches a consumer publishes at once: the next one
// is checked and queued for the group commit while the last one commits,
// so the database never waits for the broker.
const inFlight = 2

// batch is one batch on its way: published by its own goroutine, settled
// by the consumer's settler in the order the batches were received (so an
// AMQP acknowledgement of "everything up to this tag" is right).
type batch struct {
	acks    []message
	rejects []rejection
	err     error
	done    chan struct{}
}

// consume takes batches of messages, publishes them and settles them, until
// the connection or ctx ends. Whatever is not settled by then is delivered
// again by the broker.
func (c *consumer) consume(ctx context.Context, cn conn) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	queue := make(chan *batch, inFlight-1)
	settled := make(chan struct{})
	go func() {
		defer close(settled)
		failed := false
		for b := range queue {
			<-b.done
			// A committed batch is settled even when the consumer is
			// stopping, so it does not come again; once one batch is left
			// unsettled, so are those after it (an AMQP acknowledgement
			// of everything up to a tag would take the unsettled with it).
			if failed || b.err != nil {
				failed = true
				cancel(b.err)
				continue
			}
			if err := cn.Settle(b.acks, b.rejects); err != nil {
				failed = true
				cancel(fmt.Errorf("settle messages with the broker: %w", err))
			}
		}
	}()
	var err error
	for err == nil {
		var msgs []message
		if msgs, err = cn.Receive(ctx, c.r.cfg.Batch); err != nil {
			break
		}
		b := &batch{done: make(chan struct{})}
		go func() {
			defer close(b.done)
			b.acks, b.rejects, b.err = c.handle(ctx, msgs)
		}()
		select {
		case queue <- b:
		case <-ctx.Done():
			<-b.done
			err = ctx.Err()
		}
	}
	// The batches still publishing stop too: the broken connection could
	// not settle them anyway.
	cancel(err)
	close(queue)
	<-settled
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause // the settler's failure explains the end
	}
	return err
}
