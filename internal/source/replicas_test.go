package source_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/brokertest"
	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/store/postgres/pgtest"
)

// pgCount runs a count query on a PostgreSQL database.
func pgCount(t *testing.T, dbURL, query string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var n int
	if err := c.QueryRow(ctx, query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// lists reports whether the instance's /readyz names the source.
func lists(t *testing.T, in *heraldtest.Instance, id string) bool {
	t.Helper()
	return strings.Contains(string(in.Do(t, "", "GET", "/readyz", nil).Body), `"id":"`+id+`"`)
}

// TestReplicasShareSource: two replicas on one PostgreSQL database both
// consume a source created through one of them (RabbitMQ divides the
// messages), and each follows a pause, a resume and a deletion made through
// the other.
func TestReplicasShareSource(t *testing.T) {
	t.Parallel()
	brokertest.Require(t, brokertest.RabbitMQURL)
	dbURL := pgtest.Database(t)
	q, err := brokertest.NewRabbitQueue(brokertest.RabbitMQURL, brokertest.Name("herald_replicas"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	refresh := 200 * time.Millisecond
	a := heraldtest.Start(t, heraldtest.Options{DatabaseURL: dbURL, SourceRefresh: refresh})
	b := heraldtest.Start(t, heraldtest.Options{DatabaseURL: dbURL, DataDir: a.DataDir, SourceRefresh: refresh}) // the same encryption key
	id := createSource(t, a, map[string]any{"type": "rabbitmq", "url": brokertest.RabbitMQURL, "tenant": "default", "queue": q.Name})
	heraldtest.Eventually(t, 30*time.Second, "both replicas to consume", func() bool {
		_, consumers, err := q.Stat(q.Name)
		return err == nil && consumers == 2
	})
	if err := q.Publish(t.Context(), cards("s", 0, 1000)...); err != nil {
		t.Fatal(err)
	}
	heraldtest.Eventually(t, 60*time.Second, "every message published", func() bool {
		return pgCount(t, dbURL, `SELECT count(*) FROM events`) == 1000
	})
	sa, sb := getSource(t, a, id), getSource(t, b, id)
	if sa.State.Published == 0 || sb.State.Published == 0 || sa.State.Published+sb.State.Published != 1000 {
		t.Errorf("replicas published %d and %d, want both some and 1000 in all", sa.State.Published, sb.State.Published)
	}

	if r := b.Admin(t, "PUT", "/sources/"+id, `{"status": "PAUSED"}`); r.Status != 200 {
		t.Fatalf("pause: %d %s", r.Status, r.Body)
	}
	heraldtest.Eventually(t, 30*time.Second, "both replicas to stop consuming", func() bool {
		_, consumers, err := q.Stat(q.Name)
		return err == nil && consumers == 0 && !lists(t, a, id) && !lists(t, b, id)
	})
	if err := q.Publish(t.Context(), cards("s", 1000, 10)...); err != nil {
		t.Fatal(err)
	}
	if n, err := q.Ready(q.Name); err != nil || n != 10 {
		t.Fatalf("%d messages wait in the queue of the paused source (%v), want 10", n, err)
	}
	if r := a.Admin(t, "PUT", "/sources/"+id, `{"status": "ACTIVE"}`); r.Status != 200 {
		t.Fatalf("resume: %d %s", r.Status, r.Body)
	}
	heraldtest.Eventually(t, 30*time.Second, "the messages sent while paused", func() bool {
		return pgCount(t, dbURL, `SELECT count(*) FROM events`) == 1010
	})
	heraldtest.Eventually(t, 30*time.Second, "both replicas to consume again", func() bool {
		return lists(t, a, id) && lists(t, b, id)
	})
	if r := b.Admin(t, "DELETE", "/sources/"+id, nil); r.Status != 204 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	heraldtest.Eventually(t, 30*time.Second, "the deleted source to stop on both replicas", func() bool {
		_, consumers, err := q.Stat(q.Name)
		return err == nil && consumers == 0 && !lists(t, a, id) && !lists(t, b, id)
	})
}

// TestDatabaseOutage: while the database refuses writes, the source holds
// its messages unacknowledged and retries them (reporting why); none is
// rejected, and once writes work again every message is published.
func TestDatabaseOutage(t *testing.T) {
	t.Parallel()
	brokertest.Require(t, brokertest.RabbitMQURL)
	dbURL := pgtest.Database(t)
	q, err := brokertest.NewRabbitQueue(brokertest.RabbitMQURL, brokertest.Name("herald_outage"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	in := heraldtest.Start(t, heraldtest.Options{DatabaseURL: dbURL})
	id := createSource(t, in, map[string]any{"type": "rabbitmq", "url": brokertest.RabbitMQURL, "tenant": "default", "queue": q.Name})
	if err := q.Publish(t.Context(), cards("o", 0, 100)...); err != nil {
		t.Fatal(err)
	}
	waitConsumed(t, in, id, 100, 0, 0)

	admin := func(setting string) { pgtest.AlterDatabase(t, dbURL, setting) }
	admin("SET default_transaction_read_only = on")
	if err := q.Publish(t.Context(), cards("o", 100, 200)...); err != nil {
		t.Fatal(err)
	}
	heraldtest.Eventually(t, 30*time.Second, "the source to report the refused publishes", func() bool {
		r := in.Admin(t, "GET", "/sources/"+id, nil)
		if r.Status != 200 {
			return false // the first read after the terminated sessions may fail
		}
		var s sourceState
		r.JSON(t, &s)
		return s.State.LastError != nil && strings.Contains(*s.State.LastError, "publish")
	})
	if n, err := q.Ready(q.Name); err != nil || n != 0 {
		t.Fatalf("%d messages ready in the queue (%v): the consumer should hold them", n, err)
	}
	admin("RESET default_transaction_read_only")
	heraldtest.Eventually(t, 60*time.Second, "every message published once writes work again", func() bool {
		return pgCount(t, dbURL, `SELECT count(*) FROM events`) == 300
	})
	if s := getSource(t, in, id); s.State.Rejected != 0 || s.Rejected != 0 {
		t.Errorf("%d messages rejected during the outage, want none", s.State.Rejected)
	}
	heraldtest.Eventually(t, 30*time.Second, "every message acknowledged", func() bool {
		n, err := q.Ready(q.Name)
		return err == nil && n == 0 && pgCount(t, dbURL, `SELECT count(*) FROM idempotency_keys`) == 300
	})
}
