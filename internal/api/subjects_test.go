package api_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// The ids of the events published (txnEvent carries no card: it is not
// the PURCHASE sample).
const (
	cardOfCardEvent = "eef930c7-6e44-4846-948a-dfd7855484b6"
	txnOfTxnEvent   = "9829a089-1804-40b6-9920-d31bacc07f17"
	userOfUserEvent = "ea27ae20-82a6-4940-a361-bc52c3147d7f"
)

// A search by card, user or transaction id finds the notifications of the
// events carrying it, within the caller's tenant; GET /events lists those
// events, and GET /events/{id} shows the ids an event carries.
func TestSearchBySubject(t *testing.T) {
	in := newStart(t)
	rc := newReceiver(t, http.StatusOK)
	admin := heraldtest.AdminKey
	createHook(t, in, admin, hookBody(rc.URL, "*"))
	card1 := publish(t, in, admin, cardEvent)
	txn := publish(t, in, admin, txnEvent)
	card2 := publish(t, in, admin, cardEvent)
	user := publish(t, in, admin, userEvent)
	other := createTenant(t, in, "other")
	createHook(t, in, other.APIKey, hookBody(rc.URL, "*"))
	publish(t, in, admin, cardEvent, "Herald-Tenant", other.ID)

	events := func(key string, q url.Values) []string {
		t.Helper()
		r := in.Do(t, key, "GET", "/events?"+q.Encode(), nil)
		wantStatus(t, r, http.StatusOK)
		var l struct {
			Data []struct {
				ID       string            `json:"id"`
				Event    string            `json:"event"`
				Subjects map[string]string `json:"subjects"`
			} `json:"data"`
		}
		r.JSON(t, &l)
		var ids []string
		for _, e := range l.Data {
			ids = append(ids, e.ID)
		}
		return ids
	}
	eventsOf := func(notes []notification) []string {
		var ids []string
		for _, n := range notes {
			ids = append(ids, n.EventID)
		}
		return ids
	}
	for _, tc := range []struct {
		name   string
		filter map[string]any
		want   []string
	}{
		{"card", map[string]any{"card_id": cardOfCardEvent}, []string{card2.EventID, card1.EventID}},
		{"card and event", map[string]any{"card_id": cardOfCardEvent, "event": "CARD_STATUS_CHANGE", "limit": 1}, []string{card2.EventID}},
		{"transaction", map[string]any{"transaction_id": txnOfTxnEvent}, []string{txn.EventID}},
		{"user", map[string]any{"user_id": userOfUserEvent}, []string{user.EventID}},
		{"account", map[string]any{"account_id": "nobody"}, nil},
	} {
		got := eventsOf(search(t, in, admin, tc.filter).Data)
		if !slices.Equal(got, tc.want) {
			t.Errorf("search %s: events %v, want %v", tc.name, got, tc.want)
		}
		q := url.Values{}
		for k, v := range tc.filter {
			if s, ok := v.(string); ok {
				q.Set(k, s)
			}
		}
		if tc.filter["limit"] == nil {
			if got := events(admin, q); !slices.Equal(got, tc.want) {
				t.Errorf("GET /events %s: %v, want %v", tc.name, got, tc.want)
			}
		}
	}
	// Another tenant sees only its own event of that card.
	if got := search(t, in, other.APIKey, map[string]any{"card_id": cardOfCardEvent}).Data; len(got) != 1 {
		t.Errorf("the other tenant finds %d notifications of the card, want its one", len(got))
	}
	if got := events(admin, url.Values{}); !slices.Equal(got, []string{user.EventID, card2.EventID, txn.EventID, card1.EventID}) {
		t.Errorf("GET /events = %v, want the tenant's four events newest first", got)
	}
	r := in.Admin(t, "GET", "/events/"+txn.EventID, nil)
	wantStatus(t, r, http.StatusOK)
	var e struct {
		Test     bool              `json:"test"`
		Subjects map[string]string `json:"subjects"`
	}
	r.JSON(t, &e)
	if e.Test || e.Subjects["transaction_id"] != txnOfTxnEvent || len(e.Subjects) != 1 {
		t.Errorf("GET /events/{id} of the transaction: test %v, subjects %v", e.Test, e.Subjects)
	}

	// Newer and older pages.
	first := search(t, in, admin, map[string]any{"limit": 1})
	second := search(t, in, admin, map[string]any{"limit": 1, "after": *first.Paging.After})
	back := in.Admin(t, "POST", "/webhooks:search", map[string]any{"limit": 1, "before": second.Data[0].ID})
	wantStatus(t, back, http.StatusOK)
	var b searchAnswer
	back.JSON(t, &b)
	if len(b.Data) != 1 || b.Data[0].ID != first.Data[0].ID || !strings.Contains(string(back.Body), `"before":null`) {
		t.Errorf("the page before the second is %s, want the first (the newest: before null)", back.Body)
	}
}

// Malformed subject and paging filters are refused naming the member.
func TestSubjectFiltersRefused(t *testing.T) {
	in := newStart(t)
	long := strings.Repeat("c", 201)
	for _, tc := range []struct {
		name, method, path string
		body               any
		field              string
	}{
		{"long card", "POST", "/webhooks:search", map[string]any{"card_id": long}, "card_id"},
		{"control character", "POST", "/webhooks:search", map[string]any{"user_id": "u\n1"}, "user_id"},
		{"wrong type", "POST", "/webhooks:search", map[string]any{"transaction_id": 7}, "transaction_id"},
		{"after and before", "POST", "/webhooks:search", map[string]any{"after": "01a2d3e4-0000-7000-8000-000000000000", "before": "01a2d3e4-0000-7000-8000-000000000000"}, "before"},
		{"bad before", "POST", "/webhooks:search", map[string]any{"before": "x"}, "before"},
		{"events: long account", "GET", "/events?account_id=" + long, nil, "account_id"},
		{"events: unknown event", "GET", "/events?event=NOPE", nil, "event"},
		{"events: bad limit", "GET", "/events?limit=0", nil, "limit"},
		{"events: bad after", "GET", "/events?after=x", nil, "after"},
		{"events: from after to", "GET", "/events?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", nil, "from"},
	} {
		r := in.Admin(t, tc.method, tc.path, tc.body)
		wantError(t, r, http.StatusBadRequest, "invalid_request", tc.field)
	}
}
