package source

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldhq/herald/internal/store"
)

// dialTimeout bounds a broker's TCP connect and handshake.
const dialTimeout = 10 * time.Second

// rabbitConn consumes one RabbitMQ queue with manual acknowledgements. The
// queue is the platform's: Herald neither declares nor binds it, so its
// arguments (a dead-letter exchange, say) stay as the platform set them.
type rabbitConn struct {
	conn       *amqp.Connection
	ch         *amqp.Channel
	deliveries <-chan amqp.Delivery
	closed     chan *amqp.Error // the channel's close (the connection's too)
}

func dialRabbitMQ(ctx context.Context, src store.Source, name string, batch int) (conn, error) {
	cfg := amqp.Config{
		Properties: amqp.NewConnectionProperties(),
		Heartbeat:  10 * time.Second,
		Locale:     "en_US",
		Dial: func(network, addr string) (net.Conn, error) {
			d := net.Dialer{Timeout: dialTimeout}
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			// Cleared by the client once the AMQP handshake is done.
			if err := c.SetDeadline(time.Now().Add(dialTimeout)); err != nil {
				c.Close()
				return nil, err
			}
			return c, nil
		},
	}
	cfg.Properties.SetClientConnectionName(name)
	c, err := amqp.DialConfig(src.URL, cfg)
	if err != nil {
		return nil, err
	}
	rc := &rabbitConn{conn: c}
	fail := func(what string, err error) (conn, error) {
		c.Close()
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if rc.ch, err = c.Channel(); err != nil {
		return fail("open channel", err)
	}
	// The batches in flight and the next one in hand.
	if err := rc.ch.Qos((inFlight+1)*batch, 0, false); err != nil {
		return fail("set prefetch", err)
	}
	rc.closed = rc.ch.NotifyClose(make(chan *amqp.Error, 1))
	tag := make([]byte, 6)
	_, _ = rand.Read(tag)
	rc.deliveries, err = rc.ch.Consume(src.Queue, "herald-"+hex.EncodeToString(tag), false, false, false, false, nil)
	if err != nil {
		return fail("consume queue "+src.Queue, err)
	}
	return rc, nil
}

func (rc *rabbitConn) Receive(ctx context.Context, max int) ([]message, error) {
	var first amqp.Delivery
	select {
	case d, ok := <-rc.deliveries:
		if !ok {
			return nil, rc.closeErr()
		}
		first = d
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	out := []message{toMessage(first)}
	// The client hands deliveries over one by one: the batch ends when
	// none has come for batchGap, not at the first empty look.
	gap := time.NewTimer(batchGap)
	defer gap.Stop()
	for len(out) < max {
		select {
		case d, ok := <-rc.deliveries:
			if !ok {
				// Unpublished, they come again on the next connection.
				return nil, rc.closeErr()
			}
			out = append(out, toMessage(d))
			gap.Reset(batchGap)
			continue
		case <-gap.C:
		}
		break
	}
	return out, nil
}

func toMessage(d amqp.Delivery) message {
	return message{ID: d.MessageId, Body: d.Body, tag: d.DeliveryTag}
}

// closeErr says why the deliveries ended.
func (rc *rabbitConn) closeErr() error {
	return rc.broken(errors.New("rabbitmq: the consumer was cancelled or the connection closed"))
}

// broken explains a failure of the channel by the reason RabbitMQ gave when
// it closed it (CONNECTION_FORCED at a restart, say), when it gave one.
func (rc *rabbitConn) broken(err error) error {
	select {
	case reason, ok := <-rc.closed:
		if ok && reason != nil {
			return fmt.Errorf("rabbitmq closed the channel: %w", reason)
		}
	case <-time.After(time.Second):
	}
	return err
}

// Settle acknowledges the committed messages, all at once when the batch
// holds nothing else (this channel has no other unacknowledged message
// before the last), and rejects the invalid ones without requeueing them:
// RabbitMQ dead-letters them when the queue has a dead-letter exchange.
func (rc *rabbitConn) Settle(acks []message, rejects []rejection) error {
	for _, r := range rejects {
		if err := rc.ch.Reject(r.msg.tag.(uint64), false); err != nil {
			return fmt.Errorf("reject: %w", rc.broken(err))
		}
	}
	if len(acks) == 0 {
		return nil
	}
	if len(rejects) == 0 {
		last := acks[0].tag.(uint64)
		for _, m := range acks[1:] {
			last = max(last, m.tag.(uint64))
		}
		if err := rc.ch.Ack(last, true); err != nil {
			return fmt.Errorf("ack: %w", rc.broken(err))
		}
		return nil
	}
	for _, m := range acks {
		if err := rc.ch.Ack(m.tag.(uint64), false); err != nil {
			return fmt.Errorf("ack: %w", rc.broken(err))
		}
	}
	return nil
}

func (rc *rabbitConn) Close() {
	_ = rc.conn.CloseDeadline(time.Now().Add(2 * time.Second))
}
