package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// publishSubjects stores one event carrying subjects.
func publishSubjects(tb testing.TB, s Store, tenantID, name string, at time.Time, subj store.Subjects) store.PublishedEvent {
	tb.Helper()
	e := newEvent(name, at)
	e.Subjects = subj
	res, err := s.Publish(ctxOf(tb), store.PublishRequest{TenantID: tenantID, Events: []store.Event{e}, Now: at})
	NoErr(tb, err, "publish "+name)
	return res.Events[0]
}

// refsOf lists the notification ids of events, in the order given, each
// event's in descending id order (the order of a search by subject).
func refsOf(events ...store.PublishedEvent) []string {
	var out []string
	for _, pe := range events {
		ids := refIDs(pe)
		slices.Sort(ids)
		slices.Reverse(ids)
		out = append(out, ids...)
	}
	return out
}

// Subject ids are stored with their events and found through them: a search
// by card, user, account or transaction id lists the notifications of the
// events carrying every id given, newest event first, within its tenant.
func testSubjectSearch(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := ctxOf(t)
	a, b := MustTenant(t, s), MustTenant(t, s)
	h1 := MustWebhook(t, s, a.ID, "*")
	h2 := MustWebhook(t, s, a.ID, "TRANSACTION")
	MustWebhook(t, s, b.ID, "*")
	e1 := publishSubjects(t, s, a.ID, "TRANSACTION", T0, store.Subjects{CardID: "c1", UserID: "u1", TransactionID: "t1"})
	e2 := publishSubjects(t, s, a.ID, "CARD_STATUS_CHANGE", T0.Add(time.Minute), store.Subjects{CardID: "c1"})
	e3 := publishSubjects(t, s, a.ID, "TRANSACTION", T0.Add(2*time.Minute), store.Subjects{CardID: "c2", UserID: "u1", TransactionID: "t2"})
	e4 := publishSubjects(t, s, b.ID, "TRANSACTION", T0.Add(3*time.Minute), store.Subjects{CardID: "c1"})
	e5 := publishSubjects(t, s, a.ID, "ACCOUNT_STATUS_CHANGE", T0.Add(4*time.Minute), store.Subjects{AccountID: "a1"})
	e6 := publish(t, s, a.ID, "KYC_RESULT", T0.Add(5*time.Minute))

	search := func(f store.NotificationFilter) []string {
		t.Helper()
		ns, _, err := s.SearchNotifications(ctx, f, store.Page{Limit: 100})
		NoErr(t, err, "search")
		return noteIDs(ns)
	}
	for _, tc := range []struct {
		name string
		f    store.NotificationFilter
		want []string
	}{
		{"card", store.NotificationFilter{TenantID: a.ID, Subjects: store.Subjects{CardID: "c1"}}, refsOf(e2, e1)},
		{"card in another tenant", store.NotificationFilter{TenantID: b.ID, Subjects: store.Subjects{CardID: "c1"}}, refsOf(e4)},
		{"user", store.NotificationFilter{TenantID: a.ID, Subjects: store.Subjects{UserID: "u1"}}, refsOf(e3, e1)},
		{"card and user", store.NotificationFilter{TenantID: a.ID, Subjects: store.Subjects{CardID: "c1", UserID: "u1"}}, refsOf(e1)},
		{"transaction", store.NotificationFilter{TenantID: a.ID, Subjects: store.Subjects{TransactionID: "t2"}}, refsOf(e3)},
		{"account", store.NotificationFilter{TenantID: a.ID, Subjects: store.Subjects{AccountID: "a1"}}, refsOf(e5)},
		{"unknown card", store.NotificationFilter{TenantID: a.ID, Subjects: store.Subjects{CardID: "c9"}}, nil},
		{"card and webhook", store.NotificationFilter{TenantID: a.ID, WebhookID: h2.ID, Subjects: store.Subjects{CardID: "c1"}},
			[]string{e1.Notifications[slices.IndexFunc(e1.Notifications, func(r store.NotificationRef) bool { return r.WebhookID == h2.ID })].ID}},
		{"card and event", store.NotificationFilter{TenantID: a.ID, EventName: "CARD_STATUS_CHANGE", Subjects: store.Subjects{CardID: "c1"}}, refsOf(e2)},
		{"card and event id", store.NotificationFilter{TenantID: a.ID, EventID: e1.Event.ID, Subjects: store.Subjects{CardID: "c1"}}, refsOf(e1)},
		{"card and time", store.NotificationFilter{TenantID: a.ID, From: T0.Add(30 * time.Second), Subjects: store.Subjects{CardID: "c1"}}, refsOf(e2)},
		{"card and status", store.NotificationFilter{TenantID: a.ID, Status: store.StatusDelivered, Subjects: store.Subjects{CardID: "c1"}}, nil},
		{"card and final", store.NotificationFilter{TenantID: a.ID, Final: true, Subjects: store.Subjects{CardID: "c1"}}, nil},
		{"card and ids", store.NotificationFilter{TenantID: a.ID, NotificationIDs: []string{e2.Notifications[0].ID, e4.Notifications[0].ID},
			Subjects: store.Subjects{CardID: "c1"}}, refsOf(e2)},
	} {
		if got := search(tc.f); !slices.Equal(got, tc.want) {
			t.Errorf("%s: search = %v, want %v", tc.name, got, tc.want)
		}
	}
	// The mark and the ids come back with the event.
	e, _, err := s.Event(ctx, a.ID, e1.Event.ID)
	NoErr(t, err, "event")
	if e.Subjects != (store.Subjects{CardID: "c1", UserID: "u1", TransactionID: "t1"}) || e.Test {
		t.Errorf("event e1 reads back with %+v (test %v)", e.Subjects, e.Test)
	}
	if e, _, err := s.Event(ctx, a.ID, e6.Event.ID); err != nil || !e.Subjects.IsZero() {
		t.Errorf("an event without ids reads back with %+v, %v", e.Subjects, err)
	}

	// GET /events: newest first, filtered the same way.
	events := func(f store.EventFilter) []string {
		t.Helper()
		es, _, err := s.Events(ctx, f, store.Page{Limit: 100})
		NoErr(t, err, "events")
		var ids []string
		for _, e := range es {
			ids = append(ids, e.ID)
		}
		return ids
	}
	id := func(pes ...store.PublishedEvent) []string {
		var out []string
		for _, pe := range pes {
			out = append(out, pe.Event.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    store.EventFilter
		want []string
	}{
		{"all", store.EventFilter{TenantID: a.ID}, id(e6, e5, e3, e2, e1)},
		{"other tenant", store.EventFilter{TenantID: b.ID}, id(e4)},
		{"card", store.EventFilter{TenantID: a.ID, Subjects: store.Subjects{CardID: "c1"}}, id(e2, e1)},
		{"user and name", store.EventFilter{TenantID: a.ID, Name: "TRANSACTION", Subjects: store.Subjects{UserID: "u1"}}, id(e3, e1)},
		{"name", store.EventFilter{TenantID: a.ID, Name: "KYC_RESULT"}, id(e6)},
		{"window", store.EventFilter{TenantID: a.ID, From: T0.Add(time.Minute), To: T0.Add(2 * time.Minute)}, id(e3, e2)},
	} {
		if got := events(tc.f); !slices.Equal(got, tc.want) {
			t.Errorf("events %s = %v, want %v", tc.name, got, tc.want)
		}
	}
	es, _, err := s.Events(ctx, store.EventFilter{TenantID: a.ID, Subjects: store.Subjects{CardID: "c1"}}, store.Page{Limit: 1})
	NoErr(t, err, "events")
	if len(es) != 1 || es[0].Subjects.CardID != "c1" || es[0].Name != "CARD_STATUS_CHANGE" || !es[0].Created.Equal(T0.Add(time.Minute)) || es[0].Payload != nil {
		t.Errorf("listed event = %+v, want e2 without its payload", es)
	}
	if got := search(store.NotificationFilter{TenantID: a.ID, WebhookID: h1.ID, Subjects: store.Subjects{TransactionID: "t1"}}); len(got) != 1 {
		t.Errorf("transaction t1 to h1: %v, want one notification", got)
	}
}

// Pages of a search by subject, and of a tenant's notifications, walk
// forwards with After and back with Before, meeting the same items; a
// filter that skips most notifications still fills its pages.
func testSubjectPaging(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ten := MustTenant(t, s)
	MustWebhook(t, s, ten.ID, "*")
	h2 := MustWebhook(t, s, ten.ID, "TRANSACTION")
	var byEvent []store.PublishedEvent
	for i := range 25 {
		byEvent = append(byEvent, publishSubjects(t, s, ten.ID, "TRANSACTION", T0.Add(time.Duration(i)*time.Second), store.Subjects{CardID: "c3"}))
		publish(t, s, ten.ID, "TRANSACTION", T0.Add(time.Duration(i)*time.Second))
	}
	slices.Reverse(byEvent)
	all := refsOf(byEvent...)
	var ofH2 []string
	for _, pe := range byEvent {
		for _, r := range pe.Notifications {
			if r.WebhookID == h2.ID {
				ofH2 = append(ofH2, r.ID)
			}
		}
	}
	card := store.Subjects{CardID: "c3"}
	for _, tc := range []struct {
		name string
		f    store.NotificationFilter
		want []string
	}{
		{"card", store.NotificationFilter{TenantID: ten.ID, Subjects: card}, all},
		{"card and webhook", store.NotificationFilter{TenantID: ten.ID, WebhookID: h2.ID, Subjects: card}, ofH2},
		{"card and one old id", store.NotificationFilter{TenantID: ten.ID, NotificationIDs: []string{ofH2[22]}, Subjects: card}, ofH2[22:23]},
		{"tenant", store.NotificationFilter{TenantID: ten.ID}, nil},
	} {
		for _, size := range []int{1, 2, 7, 50} {
			pages := walkPages(t, s, tc.f, size)
			var got []string
			for _, p := range pages {
				got = append(got, p...)
			}
			if tc.want == nil { // the tenant walk: every notification once, newest first
				if len(got) != 100 || !slices.IsSortedFunc(got, func(x, y string) int { return -compareIDs(x, y) }) {
					t.Fatalf("%s, pages of %d: %d notifications, sorted newest first: %v", tc.name, size, len(got),
						slices.IsSortedFunc(got, func(x, y string) int { return -compareIDs(x, y) }))
				}
				continue
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("%s, pages of %d: %v, want %v", tc.name, size, got, tc.want)
			}
		}
	}
}

func compareIDs(x, y string) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// walkPages reads every page of a search forwards (After), checks each
// page's paging, then walks back from the last page (Before) and checks it
// meets the same pages.
func walkPages(t *testing.T, s Store, f store.NotificationFilter, size int) [][]string {
	t.Helper()
	ctx := ctxOf(t)
	var pages [][]string
	p := store.Page{Limit: size}
	for {
		ns, paging, err := s.SearchNotifications(ctx, f, p)
		NoErr(t, err, "search page")
		if len(ns) > size {
			t.Fatalf("page of %d holds %d", size, len(ns))
		}
		if (p.After == "") != (paging.Before == "") || (paging.Before != "" && paging.Before != ns[0].ID) {
			t.Fatalf("page after %q: Before %q (first %v)", p.After, paging.Before, noteIDs(ns))
		}
		if len(ns) > 0 {
			pages = append(pages, noteIDs(ns))
		}
		if !paging.HasMore {
			break
		}
		p = store.Page{Limit: size, After: paging.After}
	}
	if len(pages) == 0 {
		return nil
	}
	// Back from the last page.
	first := pages[len(pages)-1][0]
	p = store.Page{Limit: size, Before: first}
	for i := len(pages) - 2; i >= 0; i-- {
		ns, paging, err := s.SearchNotifications(ctx, f, p)
		NoErr(t, err, "search page before "+first)
		if got := noteIDs(ns); !slices.Equal(got, pages[i]) {
			t.Fatalf("page before %s = %v, want %v", p.Before, got, pages[i])
		}
		if want := i > 0; (paging.Before != "") != want || !paging.HasMore || paging.After != ns[len(ns)-1].ID {
			t.Fatalf("page %d before %s: paging %+v, want a newer page: %v", i, p.Before, paging, want)
		}
		p.Before = paging.Before
	}
	return pages
}

// BenchSearchByCard measures a search by card id among searchBenchSize
// notifications (one op = one search of a page of 50, answered with the
// card's 10 notifications and their attempts).
func BenchSearchByCard(b *testing.B, newStore NewStoreFunc) {
	const cards = searchBenchSize / 10
	s, _ := newStore(b)
	ctx := ctxOf(b)
	ten := MustTenant(b, s)
	MustWebhook(b, s, ten.ID, "*")
	events := make([]store.Event, 0, 1000)
	for i := 0; i < searchBenchSize; {
		events = events[:0]
		for ; len(events) < cap(events) && i < searchBenchSize; i++ {
			e := newEvent("TRANSACTION", T0.Add(time.Duration(i)*time.Millisecond))
			e.Subjects = store.Subjects{CardID: fmt.Sprintf("card-%d", i%cards), UserID: fmt.Sprintf("user-%d", i%(cards/10))}
			events = append(events, e)
		}
		_, err := s.Publish(ctx, store.PublishRequest{TenantID: ten.ID, Events: events, Now: T0})
		NoErr(b, err, "fill")
	}
	catchUpSubjects(b, s)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		ns, _, err := s.SearchNotifications(ctx, store.NotificationFilter{TenantID: ten.ID, Subjects: store.Subjects{CardID: fmt.Sprintf("card-%d", (i*7919)%cards)}},
			store.Page{Limit: 50})
		if err != nil || len(ns) != 10 {
			b.Fatalf("search: %d notifications, %v", len(ns), err)
		}
	}
}

// searchBenchSize is the notifications BenchSearchByCard searches among.
const searchBenchSize = 1_000_000
