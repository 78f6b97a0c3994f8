package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/brokertest"
)

// TestKillWhileConsuming runs the real binary consuming a RabbitMQ queue,
// kills it with SIGKILL in the middle of the backlog, and checks, with
// Herald dead, that every message RabbitMQ no longer holds (acknowledged)
// has its event committed: none was acknowledged before its commit. The
// messages RabbitMQ gave back are then put in the queue again, and after a
// restart every message is published exactly once.
func TestKillWhileConsuming(t *testing.T) {
	brokertest.Require(t, brokertest.RabbitMQURL)
	q, err := brokertest.NewRabbitQueue(brokertest.RabbitMQURL, brokertest.Name("herald_kill"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	const total = 3000
	msg := func(i int) brokertest.Message {
		return brokertest.Message{ID: fmt.Sprintf("k-%d", i),
			Body: fmt.Appendf(nil, `{"event":"CARD_STATUS_CHANGE","card_status_change":{"card_id":"c-%d"}}`, i)}
	}
	all := make([]brokertest.Message, total)
	for i := range all {
		all[i] = msg(i)
	}
	if err := q.Publish(t.Context(), all...); err != nil {
		t.Fatal(err)
	}

	bin := buildHerald(t)
	data := t.TempDir()
	addr := freeAddr(t)
	first := startHerald(t, bin, addr, "--data", data)
	status, body := call(t, addr, "POST", "/sources", fmt.Sprintf(`{"type": "rabbitmq", "url": %q, "tenant": "default", "queue": %q}`, brokertest.RabbitMQURL, q.Name))
	if status != http.StatusCreated {
		t.Fatalf("create source: %d %s", status, body)
	}
	var src struct{ ID string }
	_ = json.Unmarshal(body, &src)
	waitFor(t, 30*time.Second, "some messages published", func() bool {
		_, body := call(t, addr, "GET", "/sources/"+src.ID, "")
		var s struct {
			State struct{ Published int } `json:"state"`
		}
		_ = json.Unmarshal(body, &s)
		return s.State.Published >= 500
	})
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()

	// RabbitMQ gives the unacknowledged messages back when it sees the
	// connection gone.
	waitFor(t, 30*time.Second, "the dead consumer to leave the queue", func() bool {
		_, consumers, err := q.Stat(q.Name)
		return err == nil && consumers == 0
	})
	returned, err := q.Drain(q.Name)
	if err != nil {
		t.Fatal(err)
	}
	committed := idempotencyKeys(t, filepath.Join(data, "herald.db"))
	back := map[string]bool{}
	for _, id := range returned {
		back[id] = true
	}
	acked := 0
	for _, m := range all {
		if back[m.ID] {
			continue
		}
		acked++
		if !committed[m.ID] {
			t.Errorf("message %s was acknowledged but its event is not committed", m.ID)
		}
	}
	if len(returned) == 0 {
		t.Fatal("the kill came after the whole backlog: nothing was in flight")
	}
	t.Logf("killed with %d messages acknowledged, %d committed, %d given back to the queue", acked, len(committed), len(returned))

	var again []brokertest.Message
	for _, m := range all {
		if back[m.ID] {
			again = append(again, m)
		}
	}
	if err := q.Publish(t.Context(), again...); err != nil {
		t.Fatal(err)
	}
	startHerald(t, bin, addr, "--data", data)
	waitFor(t, 60*time.Second, "every message committed after the restart", func() bool {
		return len(idempotencyKeys(t, filepath.Join(data, "herald.db"))) == total
	})
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "herald.db")+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var events int
	if err := db.QueryRow(`SELECT count(*) FROM events`).Scan(&events); err != nil {
		t.Fatal(err)
	}
	if events != total {
		t.Errorf("%d events for %d messages: a message given back was published twice", events, total)
	}
	waitFor(t, 30*time.Second, "the queue to be empty", func() bool {
		n, err := q.Ready(q.Name)
		return err == nil && n == 0
	})
}

// idempotencyKeys reads the committed idempotency keys of a Herald database.
func idempotencyKeys(t *testing.T, path string) map[string]bool {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT key FROM idempotency_keys`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	keys := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		keys[k] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return keys
}
