package sqlstore_test

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/postgres"
	"github.com/heraldhq/herald/internal/store/postgres/pgtest"
	"github.com/heraldhq/herald/internal/store/sqlite"
	"github.com/heraldhq/herald/internal/store/sqlstore"
	"github.com/heraldhq/herald/internal/storetest"
)

// Searches by card walk the card's index and join notifications on
// notifications_event, on both databases, as planned on a database that
// has never been analysed (PostgreSQL autovacuum may be off): no query
// reads a whole table. On SQLite the card's index is the subject log's
// primary key, and the events past its mark are read by rowid.
func TestSubjectSearchPlans(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		s, err := sqlite.Open(context.Background(), t.TempDir()+"/herald.db")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		logWalk := func(op string) string {
			return `SEARCH s USING PRIMARY KEY \(subject_tenant=\? AND subject_kind=\? AND subject_value=\? AND event_id` + op +
				`\?\)(.|\n)*SEARCH events USING INTEGER PRIMARY KEY \(rowid>\?\)`
		}
		checkPlans(t, s.Store, regexp.MustCompile(`(?m)^SCAN (events|notifications)\b|USE TEMP B-TREE FOR ORDER BY$`),
			map[string]string{"subject batch": logWalk("<"), "events": logWalk("<"), "events newer": logWalk(">"),
				"tenant events": `\bevents_tenant_created\b`, "tenant search": `\bnotifications_tenant\b`})
	})
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.Database(t)
		s, err := postgres.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		checkPlans(t, s.Store, regexp.MustCompile(`Seq Scan on (events|notifications)`),
			map[string]string{"subject batch": `\bevents_card\b`, "events": `\bevents_card\b`, "tenant events": `\bevents_tenant_created\b`,
				"tenant search": `\bnotifications_tenant\b`})
	})
}

// checkPlans fills a store with a few thousand events (no statistics are
// gathered) and checks the plans of the searches by card: none matches
// refused, and each named in want matches its pattern.
func checkPlans(t *testing.T, s *sqlstore.Store, refused *regexp.Regexp, want map[string]string) {
	t.Helper()
	ctx := t.Context()
	ten := store.Tenant{ID: "01a2d3e4-0000-7000-8000-0000000000aa", Name: "plans", Created: storetest.T0}
	if err := s.CreateTenant(ctx, ten); err != nil {
		t.Fatal(err)
	}
	hook := storetest.MustWebhook(t, s, ten.ID, "*")
	for i := range 20 {
		events := make([]store.Event, 100)
		for j := range events {
			n := i*100 + j
			events[j] = store.Event{ID: fmt.Sprintf("01a2d3e4-%04x-7000-8000-%012x", i, n), Name: "TRANSACTION", Created: storetest.T0.Add(time.Duration(n) * time.Millisecond),
				Payload: []byte(`{"event":"TRANSACTION"}`), Subjects: store.Subjects{CardID: fmt.Sprintf("card-%d", n%50), UserID: "u"}}
		}
		if _, err := s.Publish(ctx, store.PublishRequest{TenantID: ten.ID, Events: events, Now: storetest.T0}); err != nil {
			t.Fatal(err)
		}
	}
	_ = hook
	plans, err := sqlstore.SearchPlans(ctx, s, store.NotificationFilter{TenantID: ten.ID, Subjects: store.Subjects{CardID: "card-7"}})
	if err != nil {
		t.Fatal(err)
	}
	for name, plan := range plans {
		t.Logf("%s:\n%s", name, plan)
		if refused.MatchString(plan) {
			t.Errorf("%s reads a whole table or sorts it:\n%s", name, plan)
		}
		if w := want[name]; w != "" && !regexp.MustCompile(w).MatchString(plan) {
			t.Errorf("%s does not match %s:\n%s", name, w, plan)
		}
	}
	if !regexp.MustCompile(`notifications_event`).MatchString(plans["subject batch"]) {
		t.Errorf("the subject batch does not join through notifications_event:\n%s", plans["subject batch"])
	}
}

// On SQLite a result batch's statement looks each notification up by its
// primary key, however many rows it has: never a walk of the table.
func TestResultUpdatePlan(t *testing.T) {
	s, err := sqlite.Open(context.Background(), t.TempDir()+"/herald.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for _, rows := range []int{1, 8, 64} {
		plan, err := sqlstore.UpdatePlan(t.Context(), s.Store, rows)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%d rows:\n%s", rows, plan)
		if regexp.MustCompile(`(?m)^SCAN notifications\b`).MatchString(plan) ||
			!regexp.MustCompile(`(?m)^SEARCH notifications USING INDEX sqlite_autoindex_notifications_1 \(id=\?\)`).MatchString(plan) {
			t.Errorf("%d rows: the update does not look notifications up by id:\n%s", rows, plan)
		}
	}
}

// On PostgreSQL one claim for several webhooks walks notifications_due for
// each and updates the rows it picked by primary key, as planned on a
// database never analysed, with 4,000 notifications pending: no walk of
// the table, no hash or sort.
func TestClaimManyPlan(t *testing.T) {
	url := pgtest.Database(t)
	s, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	ten := storetest.MustTenant(t, s.Store)
	a, b := storetest.MustWebhook(t, s.Store, ten.ID, "*"), storetest.MustWebhook(t, s.Store, ten.ID, "*")
	for i := range 10 {
		events := make([]store.Event, 200)
		for j := range events {
			n := i*200 + j
			events[j] = store.Event{ID: fmt.Sprintf("01a2d3e4-%04x-7000-8000-%012x", i, n), Name: "TRANSACTION",
				Created: storetest.T0.Add(time.Duration(n) * time.Millisecond), Payload: []byte(`{"event":"TRANSACTION"}`)}
		}
		if _, err := s.Publish(ctx, store.PublishRequest{TenantID: ten.ID, Events: events, Now: storetest.T0}); err != nil {
			t.Fatal(err)
		}
	}
	plan, err := sqlstore.ClaimManyPlan(ctx, s.Store, []string{a.ID, b.ID}, []int64{32, 32}, storetest.T0.Add(time.Hour).UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("claim of two webhooks:\n%s", plan)
	if regexp.MustCompile(`Seq Scan on notifications|Hash|Sort|Bitmap`).MatchString(plan) ||
		!regexp.MustCompile(`Index Scan using notifications_due on notifications`).MatchString(plan) ||
		!regexp.MustCompile(`Index Scan using notifications_pkey on notifications`).MatchString(plan) {
		t.Errorf("the claim does not walk notifications_due per webhook and update by primary key:\n%s", plan)
	}
}
