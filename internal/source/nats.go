package source

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldhq/herald/internal/store"
)

// natsAckWait is how long JetStream waits for an acknowledgement before it
// delivers a message again (to any replica; its message id keeps the
// repeat from publishing twice).
const natsAckWait = 30 * time.Second

// natsConn consumes one stream through a durable pull consumer that every
// replica shares, so JetStream divides the messages between them.
type natsConn struct {
	nc *nats.Conn
	it jetstream.MessagesContext
	// seqKey prefixes the stream sequence of a message without a
	// Nats-Msg-Id: a redelivery has the same sequence, and the stream's
	// creation time keeps a recreated stream's sequences apart.
	seqKey string
}

func dialNATS(ctx context.Context, src store.Source, name string, batch int) (conn, error) {
	// The client's own reconnection is off: the consumer's loop reconnects
	// with backoff, and reports the outage while it lasts.
	nc, err := nats.Connect(src.URL, nats.Name(name), nats.NoReconnect(), nats.Timeout(dialTimeout),
		nats.PingInterval(10*time.Second), nats.MaxPingsOutstanding(2))
	if err != nil {
		return nil, err
	}
	fail := func(what string, err error) (conn, error) {
		nc.Close()
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return fail("jetstream", err)
	}
	lctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	stream, err := js.Stream(lctx, src.Stream)
	if err != nil {
		return fail("stream "+src.Stream, err)
	}
	cons, err := stream.Consumer(lctx, src.Durable)
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		cons, err = stream.CreateConsumer(lctx, jetstream.ConsumerConfig{
			Durable: src.Durable, FilterSubject: src.Subject, AckPolicy: jetstream.AckExplicitPolicy,
			AckWait: natsAckWait, DeliverPolicy: jetstream.DeliverAllPolicy, MaxAckPending: max(1000, 4*batch),
		})
		if err != nil {
			return fail("create durable consumer "+src.Durable, err)
		}
	case err != nil:
		return fail("durable consumer "+src.Durable, err)
	default:
		if got := cons.CachedInfo().Config.FilterSubject; got != src.Subject {
			return fail("durable consumer "+src.Durable, fmt.Errorf("it exists with filter subject %q, the source has %q", got, src.Subject))
		}
	}
	it, err := cons.Messages(jetstream.PullMaxMessages((inFlight + 1) * batch))
	if err != nil {
		return fail("consume", err)
	}
	created := stream.CachedInfo().Created
	return &natsConn{nc: nc, it: it, seqKey: "nats:" + src.Stream + ":" + strconv.FormatInt(created.UnixNano(), 10) + ":"}, nil
}

func (c *natsConn) Receive(ctx context.Context, max int) ([]message, error) {
	m, err := c.it.Next(jetstream.NextContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("nats: %w", err)
	}
	out := []message{c.toMessage(m)}
	for len(out) < max {
		m, err := c.it.Next(jetstream.NextMaxWait(batchGap))
		if errors.Is(err, nats.ErrTimeout) {
			break
		}
		if err != nil {
			// Unpublished, they come again on the next connection.
			return nil, fmt.Errorf("nats: %w", err)
		}
		out = append(out, c.toMessage(m))
	}
	return out, nil
}

func (c *natsConn) toMessage(m jetstream.Msg) message {
	id := m.Headers().Get(jetstream.MsgIDHeader)
	if id == "" {
		if meta, err := m.Metadata(); err == nil {
			id = c.seqKey + strconv.FormatUint(meta.Sequence.Stream, 10)
		}
	}
	return message{ID: id, Body: m.Data(), tag: m}
}

// Settle acknowledges the committed messages and terminates the invalid
// ones (JetStream never delivers them again and reports them to
// $JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED, the dead-letter path).
func (c *natsConn) Settle(acks []message, rejects []rejection) error {
	for _, r := range rejects {
		// Plain Term: servers before 2.10.4 ignore a Term with a reason
		// (the reason is in Herald's rejected list anyway).
		if err := r.msg.tag.(jetstream.Msg).Term(); err != nil {
			return fmt.Errorf("term: %w", err)
		}
	}
	for _, m := range acks {
		if err := m.tag.(jetstream.Msg).Ack(); err != nil {
			return fmt.Errorf("ack: %w", err)
		}
	}
	return nil
}

func (c *natsConn) Close() {
	c.it.Stop()
	c.nc.Close()
}
