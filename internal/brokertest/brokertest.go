// Package brokertest gives tests and `herald bench` queues and streams of
// their own on the real RabbitMQ and NATS JetStream servers of the machine:
// uniquely named, filled with messages, inspected, and deleted afterwards,
// so that runs never see each other's messages.
package brokertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	amqp "github.com/rabbitmq/amqp091-go"
)

// The brokers' URLs (the machine's servers unless the environment names
// others).
var (
	RabbitMQURL = env("HERALD_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
	NATSURL     = env("HERALD_TEST_NATS_URL", "nats://127.0.0.1:4222")
)

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// Reachable reports whether a broker URL's server accepts connections.
func Reachable(raw string) error {
	u, err := url.Parse(strings.Split(raw, ",")[0])
	if err != nil {
		return err
	}
	c, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

// TB is the part of testing.TB that Require uses (the bench links this
// package without the testing package).
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
}

// Require skips the test when the broker at raw is unreachable, and fails
// it instead in CI (CI=true), where .ci/run has started the brokers.
func Require(tb TB, raw string) {
	tb.Helper()
	err := Reachable(raw)
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("the broker at %s is unreachable (in CI it must run): %v", raw, err)
	}
	tb.Skipf("the broker at %s is unreachable: %v", raw, err)
}

// Name is a fresh name for a queue or stream: prefix and random hex.
func Name(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

// RabbitQueue is a queue of its own with a dead-letter exchange and the
// queue it routes to.
type RabbitQueue struct {
	Name, Dead string
	conn       *amqp.Connection
	ch         *amqp.Channel
}

// NewRabbitQueue declares a queue named name whose rejected messages go to
// the queue name+"_dead".
func NewRabbitQueue(rawURL, name string) (*RabbitQueue, error) {
	conn, err := amqp.Dial(rawURL)
	if err != nil {
		return nil, fmt.Errorf("connect to rabbitmq: %w", err)
	}
	q := &RabbitQueue{Name: name, Dead: name + "_dead", conn: conn}
	fail := func(err error) (*RabbitQueue, error) {
		conn.Close()
		return nil, err
	}
	if q.ch, err = conn.Channel(); err != nil {
		return fail(err)
	}
	if err := q.ch.ExchangeDeclare(q.Dead, "fanout", false, true, false, false, nil); err != nil {
		return fail(fmt.Errorf("declare dead-letter exchange: %w", err))
	}
	if _, err := q.ch.QueueDeclare(q.Dead, false, false, false, false, nil); err != nil {
		return fail(fmt.Errorf("declare dead-letter queue: %w", err))
	}
	if err := q.ch.QueueBind(q.Dead, "", q.Dead, false, nil); err != nil {
		return fail(fmt.Errorf("bind dead-letter queue: %w", err))
	}
	if _, err := q.ch.QueueDeclare(name, true, false, false, false, amqp.Table{"x-dead-letter-exchange": q.Dead}); err != nil {
		return fail(fmt.Errorf("declare queue: %w", err))
	}
	if err := q.ch.Confirm(false); err != nil {
		return fail(fmt.Errorf("confirm mode: %w", err))
	}
	return q, nil
}

// Message is one message to publish: its id ("" for none) and body.
type Message struct {
	ID   string
	Body []byte
}

// Publish sends msgs (persistent) and waits until the broker confirms
// them all.
func (q *RabbitQueue) Publish(ctx context.Context, msgs ...Message) error {
	confirms := make([]*amqp.DeferredConfirmation, 0, len(msgs))
	for _, m := range msgs {
		c, err := q.ch.PublishWithDeferredConfirmWithContext(ctx, "", q.Name, false, false, amqp.Publishing{
			MessageId: m.ID, Body: m.Body, ContentType: "application/json", DeliveryMode: amqp.Persistent})
		if err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		confirms = append(confirms, c)
	}
	for _, c := range confirms {
		ok, err := c.WaitContext(ctx)
		if err != nil {
			return fmt.Errorf("confirm: %w", err)
		}
		if !ok {
			return errors.New("rabbitmq refused a message")
		}
	}
	return nil
}

// Ready counts the messages ready in queue (not delivered, or delivered
// and returned by a consumer that went away).
func (q *RabbitQueue) Ready(queue string) (int, error) {
	n, _, err := q.Stat(queue)
	return n, err
}

// Stat counts the messages ready in queue and its consumers.
func (q *RabbitQueue) Stat(queue string) (ready, consumers int, err error) {
	st, err := q.ch.QueueDeclarePassive(queue, false, false, false, false, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("inspect queue %s: %w", queue, err)
	}
	return st.Messages, st.Consumers, nil
}

// Drain takes every message ready in queue (acknowledging them) and
// returns their ids.
func (q *RabbitQueue) Drain(queue string) ([]string, error) {
	var ids []string
	for {
		d, ok, err := q.ch.Get(queue, false)
		if err != nil {
			return ids, fmt.Errorf("get from %s: %w", queue, err)
		}
		if !ok {
			return ids, nil
		}
		ids = append(ids, d.MessageId)
		if err := d.Ack(false); err != nil {
			return ids, err
		}
	}
}

// Close deletes the queues and the exchange.
func (q *RabbitQueue) Close() error {
	_, err1 := q.ch.QueueDelete(q.Name, false, false, false)
	_, err2 := q.ch.QueueDelete(q.Dead, false, false, false)
	err3 := q.ch.ExchangeDelete(q.Dead, false, false)
	return errors.Join(err1, err2, err3, q.conn.Close())
}

// NATSStream is a JetStream stream of its own, on subjects Name+".>".
type NATSStream struct {
	Name string
	nc   *nats.Conn
	js   jetstream.JetStream
}

// NewNATSStream creates a file-backed stream named name.
func NewNATSStream(ctx context.Context, rawURL, name string) (*NATSStream, error) {
	nc, err := nats.Connect(rawURL, nats.Timeout(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("connect to nats: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{name + ".>"}, Storage: jetstream.FileStorage}); err != nil {
		nc.Close()
		return nil, fmt.Errorf("create stream: %w", err)
	}
	return &NATSStream{Name: name, nc: nc, js: js}, nil
}

// Publish sends msgs on subject (with Nats-Msg-Id when they have an id)
// and waits until the stream has stored them all.
func (s *NATSStream) Publish(ctx context.Context, subject string, msgs ...Message) error {
	acks := make([]jetstream.PubAckFuture, 0, len(msgs))
	for _, m := range msgs {
		msg := nats.NewMsg(subject)
		msg.Data = m.Body
		if m.ID != "" {
			msg.Header.Set(jetstream.MsgIDHeader, m.ID)
		}
		f, err := s.js.PublishMsgAsync(msg)
		if err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		acks = append(acks, f)
	}
	for _, f := range acks {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("publish: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// CreateDurable creates the durable pull consumer a source will use, with
// its own ack wait (a test's redeliveries then come within seconds).
func (s *NATSStream) CreateDurable(ctx context.Context, durable, subject string, ackWait time.Duration) error {
	_, err := s.js.CreateConsumer(ctx, s.Name, jetstream.ConsumerConfig{Durable: durable, FilterSubject: subject,
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: ackWait, DeliverPolicy: jetstream.DeliverAllPolicy})
	return err
}

// Consumer reads a consumer's state (acknowledged floor, pending counts).
func (s *NATSStream) Consumer(ctx context.Context, durable string) (*jetstream.ConsumerInfo, error) {
	c, err := s.js.Consumer(ctx, s.Name, durable)
	if err != nil {
		return nil, err
	}
	return c.Info(ctx)
}

// Close deletes the stream.
func (s *NATSStream) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.js.DeleteStream(ctx, s.Name)
	s.nc.Close()
	return err
}
