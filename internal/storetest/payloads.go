package storetest

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// eventOfSize is a USER_CREATED event whose payload is exactly n bytes.
func eventOfSize(tb testing.TB, n int, at time.Time) store.Event {
	tb.Helper()
	const head, tail = `{"event":"USER_CREATED","pad":"`, `"}`
	if n < len(head)+len(tail) {
		tb.Fatalf("a payload cannot be as small as %d bytes", n)
	}
	return store.Event{ID: newID(), Name: "USER_CREATED", Created: at,
		Payload: json.RawMessage(head + strings.Repeat("x", n-len(head)-len(tail)) + tail)}
}

// testSearchPayloads: a search reads payloads only when the page asks for
// them, and a page ends where its payloads would pass the budget (keeping
// at least one notification, so paging always moves on).
func testSearchPayloads(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ten := MustTenant(t, s)
	MustWebhook(t, s, ten.ID, "*")
	MustWebhook(t, s, ten.ID, "*")
	var payloads = map[string]string{}
	for i, size := range []int{100, 300, 50} { // e1, e2, e3; each to both webhooks
		at := T0.Add(time.Duration(i) * time.Minute)
		e := eventOfSize(t, size, at)
		_, err := s.Publish(ctxOf(t), store.PublishRequest{TenantID: ten.ID, Events: []store.Event{e}, Now: at})
		NoErr(t, err, "publish")
		payloads[e.ID] = string(e.Payload)
	}
	f := store.NotificationFilter{TenantID: ten.ID}
	// Newest first: e3, e3, e2, e2, e1, e1 weighing 50, 50, 300, 300, 100, 100.
	all, paging, err := s.SearchNotifications(ctxOf(t), f, store.Page{Limit: 10})
	NoErr(t, err, "search")
	if len(all) != 6 || paging.HasMore {
		t.Fatalf("search found %d notifications (more: %v), want 6", len(all), paging.HasMore)
	}
	for _, n := range all {
		if n.Payload != nil {
			t.Fatalf("a search that did not ask for payloads carries %s", n.Payload)
		}
	}
	ids := noteIDs(all)

	cases := []struct {
		name   string
		page   store.Page
		greedy [][]string // the pages, following After to the end
	}{
		{"no budget", store.Page{Limit: 10, Payloads: true}, [][]string{ids}},
		{"budget met exactly", store.Page{Limit: 10, Payloads: true, MaxPayloadBytes: 400},
			[][]string{ids[:3], ids[3:5], ids[5:]}},
		{"budget below one payload", store.Page{Limit: 10, Payloads: true, MaxPayloadBytes: 10},
			[][]string{ids[:1], ids[1:2], ids[2:3], ids[3:4], ids[4:5], ids[5:]}},
		{"limit before budget", store.Page{Limit: 2, Payloads: true, MaxPayloadBytes: 1 << 20},
			[][]string{ids[:2], ids[2:4], ids[4:]}},
	}
	for _, c := range cases {
		p := c.page
		for i, want := range c.greedy {
			ns, paging, err := s.SearchNotifications(ctxOf(t), f, p)
			NoErr(t, err, "search page")
			if got := noteIDs(ns); !slices.Equal(got, want) {
				t.Fatalf("%s: page %d = %v, want %v", c.name, i, got, want)
			}
			if more := i < len(c.greedy)-1; paging.HasMore != more || (more && paging.After != want[len(want)-1]) {
				t.Fatalf("%s: page %d paging %+v, want more %v after %s", c.name, i, paging, more, want[len(want)-1])
			}
			for _, n := range ns {
				if string(n.Payload) != payloads[n.EventID] {
					t.Fatalf("%s: notification %s carries %q, want its event's payload", c.name, n.ID, n.Payload)
				}
			}
			p.After = paging.After
		}
	}
}
