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
	path := t.TempDir() + "/herald.db"
	s := openSQLite(t, path)
	ten := store.Tenant{ID: "01a2d3e4-0000-7000-8000-0000000000bb", Name: "log", Created: storetest.T0}
	if err := s.CreateTenant(ctx, ten); err != nil {
		t.Fatal(err)
	}
	storetest.MustWebhook(t, s, ten.ID, "*")
	// Events 0 to 5: cards c0, c1, c0, c1, c0, c1, each with user u and,
	// for TRANSACTION, a transaction id.
	publish := func(s *sqlstore.Store, from, to int) {
		t.Helper()
		var events []store.Event
		for n := from; n < to; n++ {
			events = append(events, store.Event{ID: eventID(n), Name: "TRANSACTION", Created: storetest.T0.Add(time.Duration(n) * time.Millisecond),
				Payload:  []byte(`{"event":"TRANSACTION"}`),
				Subjects: store.Subjects{CardID: fmt.Sprintf("c%d", n%2), UserID: "u", TransactionID: fmt.Sprintf("t%d", n)}})
		}
		if _, err := s.Publish(ctx, store.PublishRequest{TenantID: ten.ID, Events: events, Now: storetest.T0}); err != nil {
			t.Fatal(err)
		}
	}
	publish(s, 0, 6)
	check := func(s *sqlstore.Store, when string, subj store.Subjects, want ...int) {
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
			events, paging, err := s.Events(ctx, store.EventFilter{TenantID: ten.ID, Subjects: subj}, p)
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
		notes, _, err := s.SearchNotifications(ctx, store.NotificationFilter{TenantID: ten.ID, Subjects: subj}, store.Page{Limit: 50})
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
	all := func(s *sqlstore.Store, when string) {
		t.Helper()
		check(s, when, store.Subjects{CardID: "c0"}, 0, 2, 4)
		check(s, when, store.Subjects{CardID: "c1", UserID: "u"}, 1, 3, 5)
		check(s, when, store.Subjects{UserID: "u"}, 0, 1, 2, 3, 4, 5)
		check(s, when, store.Subjects{TransactionID: "t3"}, 3)
		check(s, when, store.Subjects{CardID: "c1", TransactionID: "t2"})
	}
	all(s, "nothing indexed")
	pass := func(s *sqlstore.Store, limit, want int) {
		t.Helper()
		if n, err := sqlstore.IndexSubjectsOnce(ctx, s, limit); err != nil || n != want {
			t.Fatalf("a pass of %d read %d events (%v), want %d", limit, n, err, want)
		}
	}
	pass(s, 4, 4)
	all(s, "four events indexed")
	pass(s, 4, 2)
	pass(s, 4, 0)
	all(s, "all indexed")
	if got := countRows(t, path, `SELECT count(*) FROM event_subjects`); got != 18 {
		t.Errorf("event_subjects holds %d rows, want 18 (a card, a user and a transaction id per event)", got)
	}

	// The mark survives a restart.
	s.Close()
	s = openSQLite(t, path)
	pass(s, 4, 0)
	all(s, "after a restart")

	// The newest events deleted (as retention or an operator might): their
	// entries go, the mark comes down, and the next events are found and
	// indexed though their rowids were used before.
	s.Close()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.ExecContext(ctx, `DELETE FROM notifications WHERE event_id >= ?`, eventID(3)); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.ExecContext(ctx, `DELETE FROM events WHERE id >= ?`, eventID(3)); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if got := countRows(t, path, `SELECT count(*) FROM event_subjects`); got != 9 {
		t.Errorf("event_subjects holds %d rows after deleting half the events, want 9", got)
	}
	s = openSQLite(t, path)
	check(s, "newest deleted", store.Subjects{UserID: "u"}, 0, 1, 2)
	publish(s, 6, 8)
	check(s, "published after", store.Subjects{CardID: "c0"}, 0, 2, 6)
	pass(s, 10, 2)
	check(s, "indexed after", store.Subjects{CardID: "c0"}, 0, 2, 6)
	check(s, "indexed after", store.Subjects{UserID: "u"}, 0, 1, 2, 6, 7)

	// A publish of many events indexes them itself when nothing waits for a
	// pass, and leaves them to the pass when something does.
	rows := countRows(t, path, `SELECT count(*) FROM event_subjects`)
	publish(s, 100, 220)
	pass(s, 1000, 0)
	if got := countRows(t, path, `SELECT count(*) FROM event_subjects`); got != rows+360 {
		t.Errorf("a publish of 120 events left %d entries, want %d", got-rows, 360)
	}
	check(s, "indexed at publish", store.Subjects{TransactionID: "t150"}, 150)
	publish(s, 300, 301)
	publish(s, 301, 420)
	pass(s, 1000, 120)
	check(s, "indexed by a pass", store.Subjects{TransactionID: "t400"}, 400)
}

func eventID(n int) string { return fmt.Sprintf("01a2d3e4-0000-7000-8000-%012x", n) }

func openSQLite(t *testing.T, path string) *sqlstore.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.Store
}

func countRows(t *testing.T, path, query string) int {
	t.Helper()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var n int
	if err := raw.QueryRowContext(t.Context(), query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// The indexer stops at once when its context ends, whatever is left to
// index; and it starts the log again from the first event when the mark
// is past the last one (a dump and restore numbers the rows anew).
func TestSubjectLogStopsAndRestarts(t *testing.T) {
	ctx := t.Context()
	path := t.TempDir() + "/herald.db"
	s := openSQLite(t, path)
	ten := store.Tenant{ID: "01a2d3e4-0000-7000-8000-0000000000cc", Name: "log", Created: storetest.T0}
	if err := s.CreateTenant(ctx, ten); err != nil {
		t.Fatal(err)
	}
	publish := func(from, to int) {
		t.Helper()
		var events []store.Event
		for n := from; n < to; n++ {
			events = append(events, store.Event{ID: eventID(n), Name: "TRANSACTION", Created: storetest.T0,
				Payload: []byte(`{"event":"TRANSACTION"}`), Subjects: store.Subjects{CardID: "c", TransactionID: fmt.Sprintf("t%d", n)}})
		}
		if _, err := s.Publish(ctx, store.PublishRequest{TenantID: ten.ID, Events: events, Now: storetest.T0}); err != nil {
			t.Fatal(err)
		}
	}
	// One small publish leaves its event to a pass, and so the big one
	// after it too: 4,101 events wait, more than two passes' worth.
	publish(0, 1)
	publish(1, 4101)
	stopped, cancel := context.WithCancel(ctx)
	cancel()
	done := make(chan struct{})
	go func() {
		s.IndexSubjects(stopped, slog.New(slog.DiscardHandler))
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("IndexSubjects did not return after its context ended")
	}
	if n, err := sqlstore.IndexSubjectsOnce(ctx, s, 10000); err != nil || n != 4101 {
		t.Fatalf("after a stopped indexer a pass read %d events (%v), want all 4101", n, err)
	}
	entries := countRows(t, path, `SELECT count(*) FROM event_subjects`)

	// The mark past the last event, as after a dump and restore.
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.ExecContext(ctx, `UPDATE subject_mark SET upto = 1000000`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	s.IndexSubjects(stopped, slog.New(slog.DiscardHandler)) // checks the mark, then stops
	if n, err := sqlstore.IndexSubjectsOnce(ctx, s, 10000); err != nil || n != 4101 {
		t.Fatalf("after the mark came back, a pass read %d events (%v), want all 4101 again", n, err)
	}
	if got := countRows(t, path, `SELECT count(*) FROM event_subjects`); got != entries {
		t.Errorf("indexing again made %d entries of %d", got, entries)
	}
	publish(5000, 5001)
	check := func() {
		t.Helper()
		events, _, err := s.Events(ctx, store.EventFilter{TenantID: ten.ID, Subjects: store.Subjects{TransactionID: "t5000"}}, store.Page{Limit: 5})
		if err != nil || len(events) != 1 {
			t.Fatalf("the event published after: %d found (%v), want 1", len(events), err)
		}
	}
	check()
	if n, err := sqlstore.IndexSubjectsOnce(ctx, s, 10000); err != nil || n != 1 {
		t.Fatalf("a pass read %d events (%v), want the one published after", n, err)
	}
	check()
}
