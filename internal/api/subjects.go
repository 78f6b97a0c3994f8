package api

import (
	"net/http"
	"strconv"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/store"
)

// subjectsJSON are the ids an event is about (catalog.Subjects), each only
// when the event carries it.
type subjectsJSON struct {
	CardID        string `json:"card_id,omitempty"`
	UserID        string `json:"user_id,omitempty"`
	AccountID     string `json:"account_id,omitempty"`
	TransactionID string `json:"transaction_id,omitempty"`
}

// subjectsFrom checks subject id filters ("": no filter). No stored id is
// longer than catalog.MaxSubjectLen or holds a control character, so such
// a filter is a mistake to report, not one that matches nothing.
func subjectsFrom(card, user, account, txn string) (store.Subjects, *apiError) {
	for _, m := range []struct{ field, v string }{
		{"card_id", card}, {"user_id", user}, {"account_id", account}, {"transaction_id", txn},
	} {
		if len(m.v) > catalog.MaxSubjectLen {
			return store.Subjects{}, invalid(m.field, "is longer than %d bytes (ids that long are not indexed)", catalog.MaxSubjectLen)
		}
		for i := 0; i < len(m.v); i++ {
			if c := m.v[i]; c < 0x20 || c == 0x7f {
				return store.Subjects{}, invalid(m.field, "holds a control character at byte %d", i)
			}
		}
	}
	return store.Subjects{CardID: card, UserID: user, AccountID: account, TransactionID: txn}, nil
}

// eventSummaryJSON is an event in GET /events: without its payload and
// notifications (GET /events/{id} has them).
type eventSummaryJSON struct {
	ID       string       `json:"id"`
	Event    string       `json:"event"`
	Created  string       `json:"created"`
	Test     bool         `json:"test"`
	Subjects subjectsJSON `json:"subjects"`
}

// listEvents serves GET /events: the tenant's events, newest first,
// filtered by event, time window and subject ids.
func (s *server) listEvents(w http.ResponseWriter, r *http.Request, p principal) error {
	q := r.URL.Query()
	opt := func(k string) *string {
		if !q.Has(k) {
			return nil
		}
		v := q.Get(k)
		return &v
	}
	var limit *int
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return invalid("limit", "must be an integer between 1 and %d", maxPageSize)
		}
		limit = &n
	}
	page, aerr := pageOf(limit, opt("after"), opt("before"))
	if aerr != nil {
		return aerr
	}
	f := store.EventFilter{TenantID: p.TenantID, Name: q.Get("event")}
	if f.Name != "" {
		if _, ok := s.Catalog.Lookup(f.Name); !ok {
			return invalid("event", "unknown event %q", f.Name)
		}
	}
	if f.From, f.To, aerr = parseRange(opt("from"), opt("to")); aerr != nil {
		return aerr
	}
	if f.Subjects, aerr = subjectsFrom(q.Get("card_id"), q.Get("user_id"), q.Get("account_id"), q.Get("transaction_id")); aerr != nil {
		return aerr
	}
	events, paging, err := s.Store.Events(r.Context(), f, page)
	if err != nil {
		return err
	}
	out := twoWayListJSON[eventSummaryJSON]{Data: make([]eventSummaryJSON, len(events)), Paging: twoWayPagingJSON(paging)}
	for i, e := range events {
		out.Data[i] = eventSummaryJSON{ID: e.ID, Event: e.Name, Created: formatTime(e.Created), Test: e.Test,
			Subjects: subjectsJSON(e.Subjects)}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
