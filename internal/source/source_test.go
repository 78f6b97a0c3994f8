package source_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldhq/herald/internal/brokertest"
	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestRabbitMQ: messages of a queue are published as POST /events would
// publish them (fanned out, delivered), a redelivered message id creates
// nothing, invalid messages go to the queue's dead-letter exchange and the
// rejected list, and every message is settled (nothing left unacknowledged
// once the consumer stops).
func TestRabbitMQ(t *testing.T) {
	t.Parallel()
	brokertest.Require(t, brokertest.RabbitMQURL)
	q, err := brokertest.NewRabbitQueue(brokertest.RabbitMQURL, brokertest.Name("herald_test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	in := heraldtest.Start(t, heraldtest.Options{})
	rc := newReceiver(t)
	subscribeAll(t, in, rc)

	msgs := cards("m", 0, 300)
	msgs = append(msgs, brokertest.Message{ID: "ni", Body: niEnvelope(t)}, brokertest.Message{Body: card(1000)}) // no message id
	if err := q.Publish(t.Context(), msgs...); err != nil {
		t.Fatal(err)
	}
	id := createSource(t, in, map[string]any{"type": "rabbitmq", "url": brokertest.RabbitMQURL, "tenant": "default", "queue": q.Name})
	waitConsumed(t, in, id, 302, 0, 0)
	// Once those are published (batches are published concurrently, so
	// which of two messages with one id came first is known only then):
	// redeliveries (same ids, same bodies), invalid messages, and a known id
	// with another body.
	msgs = cards("m", 0, 10)
	for _, bad := range invalid {
		msgs = append(msgs, bad.msg)
	}
	msgs = append(msgs, brokertest.Message{ID: "m-1", Body: card(2000)})
	if err := q.Publish(t.Context(), msgs...); err != nil {
		t.Fatal(err)
	}
	s := waitConsumed(t, in, id, 302, 10, int64(len(invalid)+1))
	if s.State.Published != 302 || s.State.Duplicates != 10 || s.State.Rejected != int64(len(invalid)+1) || s.Rejected != s.State.Rejected {
		t.Fatalf("source state %+v", s)
	}
	if n := in.Count(t, `SELECT count(*) FROM events`); n != 302 {
		t.Errorf("%d events stored, want 302", n)
	}
	if n := in.Count(t, `SELECT count(*) FROM notifications`); n != 302 {
		t.Errorf("%d notifications, want 302 (one per event for the one webhook)", n)
	}
	heraldtest.Eventually(t, 30*time.Second, "every event delivered", func() bool { return rc.count() == 302 })
	metrics := string(in.Do(t, "", "GET", "/metrics", nil).Body)
	for _, want := range []string{
		`herald_source_messages_total{outcome="published",source="` + id + `"} 302`,
		`herald_source_messages_total{outcome="duplicate",source="` + id + `"} 10`,
		`herald_source_messages_total{outcome="rejected",source="` + id + `"} 4`,
		`herald_source_connected{source="` + id + `"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	rej := rejected(t, in, id)
	byID := map[string]string{}
	for _, r := range rej.Data {
		byID[r.MessageID] = r.Field
		if r.Error == "" || r.Size == 0 {
			t.Errorf("rejected %+v: no error or size", r)
		}
	}
	for _, bad := range invalid {
		if field, ok := byID[bad.msg.ID]; !ok || field != bad.field {
			t.Errorf("message %s: rejected %v with field %q, want field %q", bad.msg.ID, ok, field, bad.field)
		}
	}
	if field := byID["m-1"]; field != "message_id" {
		t.Errorf("the reused message id was rejected naming %q, want message_id", field)
	}
	heraldtest.Eventually(t, 10*time.Second, "the rejected messages in the dead-letter queue", func() bool {
		n, err := q.Ready(q.Dead)
		return err == nil && n == len(invalid)+1
	})

	// Paused, the consumer goes away: anything it held unacknowledged
	// would be back in the queue.
	if r := in.Admin(t, "PUT", "/sources/"+id, `{"status": "PAUSED"}`); r.Status != 200 {
		t.Fatalf("pause: %d %s", r.Status, r.Body)
	}
	heraldtest.Eventually(t, 10*time.Second, "the consumer to leave the queue", func() bool {
		n, consumers, err := q.Stat(q.Name)
		if err != nil || consumers != 0 {
			return false
		}
		if n != 0 {
			t.Fatalf("%d messages back in the queue after the consumer left: they were never acknowledged", n)
		}
		return true
	})
	// Resumed, it consumes what arrived meanwhile.
	if err := q.Publish(t.Context(), cards("later", 0, 5)...); err != nil {
		t.Fatal(err)
	}
	if r := in.Admin(t, "PUT", "/sources/"+id, `{"status": "ACTIVE"}`); r.Status != 200 {
		t.Fatalf("resume: %d %s", r.Status, r.Body)
	}
	heraldtest.Eventually(t, 30*time.Second, "the messages sent while paused", func() bool {
		return in.Count(t, `SELECT count(*) FROM events`) == 307
	})
}

// TestNATS: a JetStream stream is consumed through the durable consumer
// named by the source (created when missing, with its subject filter),
// messages with Nats-Msg-Id or without one are published, invalid ones are
// terminated and listed, and nothing is left pending.
func TestNATS(t *testing.T) {
	t.Parallel()
	brokertest.Require(t, brokertest.NATSURL)
	st, err := brokertest.NewNATSStream(t.Context(), brokertest.NATSURL, brokertest.Name("HERALD_TEST"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	in := heraldtest.Start(t, heraldtest.Options{})
	rc := newReceiver(t)
	subscribeAll(t, in, rc)

	subject := st.Name + ".cards"
	msgs := cards("n", 0, 300)
	msgs = append(msgs, brokertest.Message{ID: "ni", Body: niEnvelope(t)})
	for i := range 3 {
		msgs = append(msgs, brokertest.Message{Body: card(1000 + i)}) // no Nats-Msg-Id: keyed by stream sequence
	}
	for _, bad := range invalid {
		msgs = append(msgs, bad.msg)
	}
	if err := st.Publish(t.Context(), subject, msgs...); err != nil {
		t.Fatal(err)
	}
	// Another subject of the stream, outside the source's filter.
	if err := st.Publish(t.Context(), st.Name+".other", cards("other", 0, 5)...); err != nil {
		t.Fatal(err)
	}
	id := createSource(t, in, map[string]any{"type": "nats", "url": brokertest.NATSURL, "tenant": "default",
		"stream": st.Name, "subject": subject, "durable": "herald"})
	s := waitConsumed(t, in, id, 304, 0, int64(len(invalid)))
	if s.State.Published != 304 || s.State.Rejected != int64(len(invalid)) {
		t.Fatalf("source state %+v", s)
	}
	heraldtest.Eventually(t, 30*time.Second, "every event delivered", func() bool { return rc.count() == 304 })
	var info *jetstream.ConsumerInfo
	heraldtest.Eventually(t, 10*time.Second, "every message acknowledged or terminated", func() bool {
		info, err = st.Consumer(t.Context(), "herald")
		if err == nil {
			t.Logf("ack pending %d, pending %d, redelivered %d, ack floor %+v, delivered %+v", info.NumAckPending, info.NumPending, info.NumRedelivered, info.AckFloor, info.Delivered)
		}
		return err == nil && info.NumAckPending == 0 && info.NumPending == 0
	})
	if info.Config.FilterSubject != subject || info.Config.AckPolicy != jetstream.AckExplicitPolicy {
		t.Errorf("durable consumer config %+v", info.Config)
	}
	keys := in.Count(t, `SELECT count(*) FROM idempotency_keys WHERE key LIKE ?`, "nats:"+st.Name+":%")
	if keys != 3 {
		t.Errorf("%d messages keyed by stream sequence, want the 3 without Nats-Msg-Id", keys)
	}
	var fields []string
	for _, r := range rejected(t, in, id).Data {
		fields = append(fields, r.MessageID+"="+r.Field)
	}
	slices.Sort(fields)
	if got := strings.Join(fields, " "); got != "bad-json= not-utf8= unknown-event=event" {
		t.Errorf("rejected %s", got)
	}
}
