package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlite"
	"github.com/heraldhq/herald/internal/store/sqlstore"
	"github.com/heraldhq/herald/internal/storetest"
)

// The subject log (SQLite) finds every event by its ids whatever part of
// them it has indexed: none, some, or all; across a restart; and after the
// newest events are deleted, which brings new rowids below the old mark.
func TestSubjectLog(t *testing.T) {
	ctx := t.Context()
	f := newLogStore(t)
	f.publish(0, 6)
	check := func(when string, subj store.Subjects, want ...int) {
		t.Helper()
		var wantIDs []string
		for _, n := range slices.Backward(want) {
			wantIDs = append(wantIDs, eventID(n))
		}
		// A page of one at a time, so that the walk crosses from the
		// events past the mark to the indexed ones.
		var got []string
		p := store.Page{Limit: 1}
		for {
			events, paging, err := f.s.Events(ctx, store.EventFilter{TenantID: f.tenant, Subjects: subj}, p)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range events {
				got = append(got, e.ID)
			}
			if !paging.HasMore {
				break
			}
			p.After = paging.After
		}
		if !slices.Equal(got, wantIDs) {
			t.Errorf("%s: events of %+v: %v, want %v", when, subj, got, wantIDs)
		}
		notes, _, err := f.s.SearchNotifications(ctx, store.NotificationFilter{TenantID: f.tenant, Subjects: subj}, store.Page{Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		var events []string
		for _, n := range notes {
			events = append(events, n.EventID)
		}
		if !slices.Equal(events, wantIDs) {
			t.Errorf("%s: notifications of %+v are of events %v, want %v", when, subj, events, wantIDs)
		}
	}
	all := func(when string) {
		t.Helper()
		check(when, store.Subjects{CardID: "c0"}, 0, 2, 4)
		check(when, store.Subjects{CardID: "c1", UserID: "u"}, 1, 3, 5)
		check(when, store.Subjects{UserID: "u"}, 0, 1, 2, 3, 4, 5)
		check(when, store.Subjects{TransactionID: "t3"}, 3)
		check(when, store.Subjects{CardID: "c1", TransactionID: "t2"})
	}
	all("nothing indexed")
	pass := func(limit, want int) {
		t.Helper()
		if n, err := sqlstore.IndexSubjectsOnce(ctx, f.s, limit); err != nil || n != want {
			t.Fatalf("a pass of %d read %d events (%v), want %d", limit, n, err, want)
		}
	}
	pass(4, 4)
	all("four events indexed")
	pass(4, 2)
	pass(4, 0)
	all("all indexed")
	if got := f.entries(); got != 18 {
		t.Errorf("event_subjects holds %d rows, want 18 (a card, a user and a transaction id per event)", got)
	}

	// The mark survives a restart.
	f.reopen()
	pass(4, 0)
	all("after a restart")

	// The newest events deleted (as retention or an operator might): their
	// entries go, the mark comes down, and the next events are found and
	// indexed though their rowids were used before.
	f.exec(`DELETE FROM notifications WHERE event_id >= '`+eventID(3)+`'`, `DELETE FROM events WHERE id >= '`+eventID(3)+`'`)
	if got := f.entries(); got != 9 {
		t.Errorf("event_subjects holds %d rows after deleting half the events, want 9", got)
	}
	f.reopen()
	check("newest deleted", store.Subjects{UserID: "u"}, 0, 1, 2)
	f.publish(6, 8)
	check("published after", store.Subjects{CardID: "c0"}, 0, 2, 6)
	pass(10, 2)
	check("indexed after", store.Subjects{CardID: "c0"}, 0, 2, 6)
	check("indexed after", store.Subjects{UserID: "u"}, 0, 1, 2, 6, 7)

	// A publish of many events indexes them itself when nothing waits for a
	// pass, and leaves them to the pass when something does.
	rows := f.entries()
	f.publish(100, 220)
	pass(1000, 0)
	if got := f.entries(); got != rows+360 {
		t.Errorf("a publish of 120 events left %d entries, want %d", got-rows, 360)
	}
	check("indexed at publish", store.Subjects{TransactionID: "t150"}, 150)
	f.publish(300, 301)
	f.publish(301, 420)
	pass(1000, 120)
	check("indexed by a pass", store.Subjects{TransactionID: "t400"}, 400)
}

func eventID(n int) string { return fmt.Sprintf("01a2d3e4-0000-7000-8000-%012x", n) }

// logStore is a SQLite store in a file of its own, with a tenant and a
// webhook subscribed to everything, for the subject log's tests.
type logStore struct {
	t      *testing.T
	path   string
	tenant string
	s      *sqlstore.Store
}

func newLogStore(t *testing.T) *logStore {
	f := &logStore{t: t, path: t.TempDir() + "/herald.db", tenant: "01a2d3e4-0000-7000-8000-0000000000bb"}
	f.s = openSQLite(t, f.path)
	if err := f.s.CreateTenant(t.Context(), store.Tenant{ID: f.tenant, Name: "log", Created: storetest.T0}); err != nil {
		t.Fatal(err)
	}
	storetest.MustWebhook(t, f.s, f.tenant, "*")
	return f
}

// publish publishes events from to to-1 in one call: event n a TRANSACTION
// of card c0 or c1 (n even or odd), user u and transaction tn.
func (f *logStore) publish(from, to int) {
	f.t.Helper()
	var events []store.Event
	for n := from; n < to; n++ {
		events = append(events, store.Event{ID: eventID(n), Name: "TRANSACTION", Created: storetest.T0.Add(time.Duration(n) * time.Millisecond),
			Payload:  []byte(`{"event":"TRANSACTION"}`),
			Subjects: store.Subjects{CardID: fmt.Sprintf("c%d", n%2), UserID: "u", TransactionID: fmt.Sprintf("t%d", n)}})
	}
	if _, err := f.s.Publish(f.t.Context(), store.PublishRequest{TenantID: f.tenant, Events: events, Now: storetest.T0}); err != nil {
		f.t.Fatal(err)
	}
}

// reopen closes the store and opens its file again, as a restart does.
func (f *logStore) reopen() {
	f.t.Helper()
	f.s.Close()
	f.s = openSQLite(f.t, f.path)
}

// exec runs statements on the file through a connection of its own, as an
// operator's tool would.
func (f *logStore) exec(statements ...string) {
	f.t.Helper()
	raw, err := sql.Open("sqlite", f.path)
	if err != nil {
		f.t.Fatal(err)
	}
	defer raw.Close()
	for _, q := range statements {
		if _, err := raw.ExecContext(f.t.Context(), q); err != nil {
			f.t.Fatal(err)
		}
	}
}

// entries counts the rows of event_subjects.
func (f *logStore) entries() int {
	f.t.Helper()
	raw, err := sql.Open("sqlite", f.path)
	if err != nil {
		f.t.Fatal(err)
	}
	defer raw.Close()
	var n int
	if err := raw.QueryRowContext(f.t.Context(), `SELECT count(*) FROM event_subjects`).Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

func openSQLite(t *testing.T, path string) *sqlstore.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.Store
}

// The indexer stops at once when its context ends, whatever is left to
// index; and it starts the log again from the first event when the mark
// is past the last one (a dump and restore numbers the rows anew).
func TestSubjectLogStopsAndRestarts(t *testing.T) {
	ctx := t.Context()
	f := newLogStore(t)
	// One small publish leaves its event to a pass, and so the big one
	// after it too: 4,101 events wait, more than two passes' worth.
	f.publish(0, 1)
	f.publish(1, 4101)
	stopped, cancel := context.WithCancel(ctx)
	cancel()
	done := make(chan struct{})
	go func() {
		f.s.IndexSubjects(stopped, slog.New(slog.DiscardHandler))
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("IndexSubjects did not return after its context ended")
	}
	if n, err := sqlstore.IndexSubjectsOnce(ctx, f.s, 10000); err != nil || n != 4101 {
		t.Fatalf("after a stopped indexer a pass read %d events (%v), want all 4101", n, err)
	}
	entries := f.entries()

	// The mark past the last event, as after a dump and restore.
	f.exec(`UPDATE subject_mark SET upto = 1000000`)
	f.s.IndexSubjects(stopped, slog.New(slog.DiscardHandler)) // checks the mark, then stops
	if n, err := sqlstore.IndexSubjectsOnce(ctx, f.s, 10000); err != nil || n != 4101 {
		t.Fatalf("after the mark came back, a pass read %d events (%v), want all 4101 again", n, err)
	}
	if got := f.entries(); got != entries {
		t.Errorf("indexing again made %d entries of %d", got, entries)
	}
	f.publish(5000, 5001)
	check := func() {
		t.Helper()
		events, _, err := f.s.Events(ctx, store.EventFilter{TenantID: f.tenant, Subjects: store.Subjects{TransactionID: "t5000"}}, store.Page{Limit: 5})
		if err != nil || len(events) != 1 {
			t.Fatalf("the event published after: %d found (%v), want 1", len(events), err)
		}
	}
	check()
	if n, err := sqlstore.IndexSubjectsOnce(ctx, f.s, 10000); err != nil || n != 1 {
		t.Fatalf("a pass read %d events (%v), want the one published after", n, err)
	}
	check()
}
