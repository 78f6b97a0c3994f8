package source_test

import (
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/brokertest"
	"github.com/heraldhq/herald/internal/heraldtest"
)

// Broker outages: the consumer reconnects by itself, reports the outage
// while it lasts, and every message ends up published exactly once (those
// that were in hand but not acknowledged come again and are recognised by
// their message id).

const backlog = 3000

// TestRabbitMQConnectionClosedByServer: RabbitMQ closes Herald's connection
// in the middle of a backlog, as it does to every client when it restarts.
func TestRabbitMQConnectionClosedByServer(t *testing.T) {
	t.Parallel()
	brokertest.Require(t, brokertest.RabbitMQURL)
	q, err := brokertest.NewRabbitQueue(brokertest.RabbitMQURL, brokertest.Name("herald_restart"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	in := heraldtest.Start(t, heraldtest.Options{})
	id := createSource(t, in, map[string]any{"type": "rabbitmq", "url": brokertest.RabbitMQURL, "tenant": "default", "queue": q.Name})
	heraldtest.Eventually(t, 30*time.Second, "the source to connect", func() bool { return getSource(t, in, id).State.State == "connected" })
	pids, err := brokertest.RabbitMQConnections("source " + id)
	if err != nil {
		t.Fatal(err)
	}
	if len(pids) != 1 {
		t.Fatalf("the source has %d connections, want 1", len(pids))
	}
	// Messages keep coming while RabbitMQ closes the connection, so some
	// are in hand, unacknowledged, when it goes.
	closing := make(chan error, 1)
	go func() { closing <- brokertest.CloseRabbitMQConnection(pids[0]) }()
	sent := 0
	for done := false; !done; {
		wait := time.After(0)
		if sent >= 2*backlog {
			wait = nil // enough in flight: only the close to await
		}
		select {
		case err := <-closing:
			if err != nil {
				t.Fatal(err)
			}
			done = true
		case <-wait:
		}
		if err := q.Publish(t.Context(), cards("r", sent, 200)...); err != nil {
			t.Fatal(err)
		}
		sent += 200
	}
	heraldtest.Eventually(t, 30*time.Second, "the source to report the closed connection and connect again", func() bool {
		s := getSource(t, in, id)
		return s.State.LastError != nil && strings.Contains(*s.State.LastError, "CONNECTION_FORCED") && s.State.State == "connected"
	})
	// Published after the reconnection too.
	if err := q.Publish(t.Context(), cards("r", sent, 200)...); err != nil {
		t.Fatal(err)
	}
	sent += 200
	heraldtest.Eventually(t, 60*time.Second, "every message published once", func() bool {
		return in.Count(t, `SELECT count(*) FROM events`) == sent
	})
	if n := in.Count(t, `SELECT count(*) FROM idempotency_keys`); n != sent {
		t.Errorf("%d idempotency keys, want %d", n, sent)
	}
	s := getSource(t, in, id)
	t.Logf("%d messages sent across the close: published %d, duplicates %d (in hand when the connection closed)", sent, s.State.Published, s.State.Duplicates)
}

// TestNATSServerRestart: a private nats-server is killed in the middle of
// a backlog and started again on the same store; meanwhile the source
// reports reconnecting (in its GET and in /readyz).
func TestNATSServerRestart(t *testing.T) {
	t.Parallel()
	brokertest.Require(t, brokertest.NATSURL) // the machine's brokers are there: so must nats-server be
	srv, err := brokertest.StartNATSServer(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Kill)
	st, err := brokertest.NewNATSStream(t.Context(), srv.URL, "RESTART")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() }) // its client reconnects by itself after the restart
	// Messages in hand at the kill come again after 2 s, not the 30 s of
	// a consumer Herald creates.
	if err := st.CreateDurable(t.Context(), "herald", "", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	in := heraldtest.Start(t, heraldtest.Options{})
	if err := st.Publish(t.Context(), "RESTART.cards", cards("n", 0, backlog)...); err != nil {
		t.Fatal(err)
	}
	id := createSource(t, in, map[string]any{"type": "nats", "url": srv.URL, "tenant": "default", "stream": "RESTART", "durable": "herald"})
	waitConsumed(t, in, id, 300, 0, 0)
	srv.Kill()
	heraldtest.Eventually(t, 30*time.Second, "the source to report the outage", func() bool {
		s := getSource(t, in, id)
		return s.State.State == "reconnecting" && s.State.LastError != nil
	})
	ready := in.Do(t, "", "GET", "/readyz", nil)
	if ready.Status != 200 || !strings.Contains(string(ready.Body), `{"id":"`+id+`","state":"reconnecting"}`) {
		t.Errorf("/readyz during the outage: %d %s", ready.Status, ready.Body)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	heraldtest.Eventually(t, 30*time.Second, "the source to connect again", func() bool {
		return getSource(t, in, id).State.State == "connected"
	})
	if err := st.Publish(t.Context(), "RESTART.cards", cards("n", backlog, 100)...); err != nil {
		t.Fatal(err)
	}
	heraldtest.Eventually(t, 60*time.Second, "every message published once", func() bool {
		return in.Count(t, `SELECT count(*) FROM events`) == backlog+100
	})
	heraldtest.Eventually(t, 30*time.Second, "every message acknowledged", func() bool {
		info, err := st.Consumer(t.Context(), "herald")
		return err == nil && info.NumAckPending == 0 && info.NumPending == 0
	})
	if n := in.Count(t, `SELECT count(*) FROM events`); n != backlog+100 {
		t.Errorf("%d events, want %d: a redelivery was published twice", n, backlog+100)
	}
	s := getSource(t, in, id)
	t.Logf("published %d, duplicates %d (in hand when the server died)", s.State.Published, s.State.Duplicates)
}
