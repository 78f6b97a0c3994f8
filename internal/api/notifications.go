package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/store"
)

// Page sizes.
const (
	defaultPageSize = 50
	maxPageSize     = 1000
)

type pagingOut struct {
	After   *string `json:"after"`
	HasMore bool    `json:"has_more"`
}

// twoWayPaging is the paging of the listings that page both ways
// (notification searches, events): before is the cursor of the newer page,
// null on the newest.
type twoWayPaging struct {
	After   *string `json:"after"`
	HasMore bool    `json:"has_more"`
	Before  *string `json:"before"`
}

func twoWayPagingJSON(p store.Paging) twoWayPaging {
	out := twoWayPaging{HasMore: p.HasMore}
	if p.HasMore {
		out.After = &p.After
	}
	if p.Before != "" {
		out.Before = &p.Before
	}
	return out
}

type twoWayListJSON[T any] struct {
	Data   []T          `json:"data"`
	Paging twoWayPaging `json:"paging"`
}

type listJSON[T any] struct {
	Data   []T       `json:"data"`
	Paging pagingOut `json:"paging"`
}

func pagingJSON(p store.Paging) pagingOut {
	out := pagingOut{HasMore: p.HasMore}
	if p.HasMore {
		out.After = &p.After
	}
	return out
}

// pageFromQuery reads ?limit=&after=.
func pageFromQuery(r *http.Request) (store.Page, *apiError) {
	q := r.URL.Query()
	p := store.Page{Limit: defaultPageSize, After: q.Get("after")}
	if err := checkCursor("after", p.After); err != nil {
		return p, err
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			return p, invalid("limit", "must be an integer between 1 and %d", maxPageSize)
		}
		p.Limit = n
	}
	return p, nil
}

type attemptJSON struct {
	Attempt      int     `json:"attempt"`
	Time         string  `json:"time"`
	DurationMS   float64 `json:"duration_ms"`
	StatusCode   int     `json:"status_code"`
	ResponseBody string  `json:"response_body"`
	ErrorKind    string  `json:"error_kind,omitempty"`
	Error        string  `json:"error,omitempty"`
	// The headers sent (credentials masked) and received (bounded); empty
	// for attempts recorded before Herald kept them.
	RequestHeaders  []headerJSON `json:"request_headers"`
	ResponseHeaders []headerJSON `json:"response_headers"`
}

// headerJSON is one header of an attempt.
type headerJSON struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func headersJSON(hs []store.Header) []headerJSON {
	out := make([]headerJSON, len(hs))
	for i, h := range hs {
		out[i] = headerJSON{Name: h.Name, Value: h.Value}
	}
	return out
}

type notificationJSON struct {
	ID            string          `json:"id"`
	EventID       string          `json:"event_id"`
	WebhookID     string          `json:"webhook_id"`
	Event         string          `json:"event"`
	Test          bool            `json:"test"`
	Status        string          `json:"status"`
	AttemptCount  int             `json:"attempt_count"`
	NextAttemptAt *string         `json:"next_attempt_at"`
	Created       string          `json:"created"`
	Modified      string          `json:"modified"`
	Payload       json.RawMessage `json:"payload,omitempty"`
	Attempts      []attemptJSON   `json:"attempts,omitempty"`
}

func toNotificationJSON(n store.Notification) notificationJSON {
	out := notificationJSON{
		ID: n.ID, EventID: n.EventID, WebhookID: n.WebhookID, Event: n.EventName, Test: n.Test, Status: n.Status,
		AttemptCount: n.Attempts, Created: formatTime(n.Created), Modified: formatTime(n.Modified), Payload: n.Payload,
	}
	if n.Status == store.StatusPending {
		next := formatTime(n.NextAttemptAt)
		out.NextAttemptAt = &next
	}
	for _, a := range n.AttemptLog {
		out.Attempts = append(out.Attempts, attemptJSON{
			Attempt: a.Number, Time: formatTime(a.Started), DurationMS: float64(a.Duration.Microseconds()) / 1000,
			StatusCode: a.StatusCode, ResponseBody: a.ResponseBody, ErrorKind: a.ErrorKind, Error: a.Error,
			RequestHeaders: headersJSON(a.RequestHeaders), ResponseHeaders: headersJSON(a.ResponseHeaders),
		})
	}
	return out
}

var notificationStatuses = map[string]bool{
	store.StatusPending: true, store.StatusDelivered: true, store.StatusExpired: true, store.StatusCancelled: true,
}

// parseTime reads an optional RFC 3339 time member.
func parseTime(v *string, field string) (time.Time, *apiError) {
	if v == nil || *v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, *v)
	if err != nil {
		return time.Time{}, invalid(field, "must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
	}
	return t, nil
}

// filterInput is the filter members of POST /webhooks:search and POST
// /notifications:resend.
type filterInput struct {
	NotificationID *string `json:"notification_id"`
	EventID        *string `json:"event_id"`
	WebhookID      *string `json:"webhook_id"`
	Event          *string `json:"event"`
	Status         *string `json:"status"`
	From           *string `json:"from"`
	To             *string `json:"to"`
	CardID         *string `json:"card_id"`
	UserID         *string `json:"user_id"`
	AccountID      *string `json:"account_id"`
	TransactionID  *string `json:"transaction_id"`
}

// searchInput is the body of POST /webhooks:search.
type searchInput struct {
	filterInput
	Limit          *int    `json:"limit"`
	After          *string `json:"after"`
	Before         *string `json:"before"`
	IncludePayload *bool   `json:"include_payload"`
}

// filter checks in and makes the store's filter of it, in tenantID.
func (s *server) filter(in filterInput, tenantID string) (store.NotificationFilter, *apiError) {
	var f store.NotificationFilter
	for _, m := range []struct {
		field string
		v     *string
	}{{"notification_id", in.NotificationID}, {"event_id", in.EventID}, {"webhook_id", in.WebhookID}} {
		if err := checkID(m.field, deref(m.v)); err != nil {
			return f, err
		}
	}
	f = store.NotificationFilter{TenantID: tenantID, EventID: deref(in.EventID), WebhookID: deref(in.WebhookID),
		EventName: deref(in.Event), Status: deref(in.Status)}
	if id := deref(in.NotificationID); id != "" {
		f.NotificationIDs = []string{id}
	}
	if f.Status != "" && !notificationStatuses[f.Status] {
		return f, invalid("status", "must be PENDING, DELIVERED, EXPIRED or CANCELLED")
	}
	if f.EventName != "" {
		if _, ok := s.Catalog.Lookup(f.EventName); !ok {
			return f, invalid("event", "unknown event %q", f.EventName)
		}
	}
	var aerr *apiError
	if f.From, f.To, aerr = parseRange(in.From, in.To); aerr != nil {
		return f, aerr
	}
	f.Subjects, aerr = subjectsFrom(deref(in.CardID), deref(in.UserID), deref(in.AccountID), deref(in.TransactionID))
	return f, aerr
}

// pageOf checks the paging members of a listing that pages both ways.
func pageOf(limit *int, after, before *string) (store.Page, *apiError) {
	page := store.Page{Limit: defaultPageSize, After: deref(after), Before: deref(before)}
	if err := checkCursor("after", page.After); err != nil {
		return page, err
	}
	if err := checkCursor("before", page.Before); err != nil {
		return page, err
	}
	if page.After != "" && page.Before != "" {
		return page, invalid("before", "cannot be combined with after: page older with after, newer with before")
	}
	if limit != nil {
		if *limit < 1 || *limit > maxPageSize {
			return page, invalid("limit", "must be between 1 and %d", maxPageSize)
		}
		page.Limit = *limit
	}
	return page, nil
}

func (s *server) search(w http.ResponseWriter, r *http.Request, p principal) error {
	var in searchInput
	if err := decode(r, &in, true); err != nil {
		return err
	}
	f, aerr := s.filter(in.filterInput, p.TenantID)
	if aerr != nil {
		return aerr
	}
	page, aerr := pageOf(in.Limit, in.After, in.Before)
	if aerr != nil {
		return aerr
	}
	page.MaxPayloadBytes = maxAnswerPayloads
	page.Payloads = in.IncludePayload != nil && *in.IncludePayload
	notes, paging, err := s.Store.SearchNotifications(r.Context(), f, page)
	if err != nil {
		return err
	}
	s.writeNotifications(w, r, notes, paging)
	return nil
}

func (s *server) sendExpired(w http.ResponseWriter, r *http.Request, p principal) error {
	var in struct {
		WebhookID       *string  `json:"webhook_id"`
		NotificationIDs []string `json:"notification_ids"`
		From            *string  `json:"from"`
		To              *string  `json:"to"`
	}
	if err := decode(r, &in, true); err != nil {
		return err
	}
	// An empty list is refused rather than read as "no filter": it would
	// re-send every expired notification of the tenant.
	if in.NotificationIDs != nil && len(in.NotificationIDs) == 0 {
		return invalid("notification_ids", "must hold at least one id; leave it out to re-send every expired notification that the other filters match")
	}
	if len(in.NotificationIDs) > maxPageSize {
		return invalid("notification_ids", "at most %d ids per request", maxPageSize)
	}
	for i, id := range in.NotificationIDs {
		if id == "" {
			return invalid("notification_ids["+strconv.Itoa(i)+"]", "must be a notification id")
		}
		if err := checkID("notification_ids["+strconv.Itoa(i)+"]", id); err != nil {
			return err
		}
	}
	if err := checkID("webhook_id", deref(in.WebhookID)); err != nil {
		return err
	}
	f := store.NotificationFilter{TenantID: p.TenantID, WebhookID: deref(in.WebhookID), NotificationIDs: in.NotificationIDs}
	var aerr *apiError
	if f.From, f.To, aerr = parseRange(in.From, in.To); aerr != nil {
		return aerr
	}
	if f.WebhookID != "" {
		// As for ping: an unknown or deleted webhook is 404, not "0
		// re-sent".
		if _, err := s.Store.Webhook(r.Context(), p.TenantID, f.WebhookID); err != nil {
			return s.storeError(r, err, "webhook "+f.WebhookID)
		}
	}
	n, err := s.Store.RequeueExpired(r.Context(), f, time.Now().UTC())
	if err != nil {
		return err
	}
	if n > 0 {
		s.Waker.Wake()
	}
	writeJSON(w, http.StatusOK, map[string]int{"requeued": n})
	return nil
}

// parseRange reads the from and to members of a filter; from may not be
// later than to (that range holds nothing, and is surely a mistake).
func parseRange(from, to *string) (time.Time, time.Time, *apiError) {
	f, err := parseTime(from, "from")
	if err != nil {
		return f, time.Time{}, err
	}
	t, err := parseTime(to, "to")
	if err != nil {
		return f, t, err
	}
	if !f.IsZero() && !t.IsZero() && f.After(t) {
		return f, t, invalid("from", "is later than to")
	}
	return f, t, nil
}

// checkID refuses a filter that cannot be an id: Herald's ids are UUIDs in
// canonical form, and a malformed one is a mistake to report, not a filter
// that matches nothing ("" means no filter).
func checkID(field, v string) *apiError {
	if v != "" && !isID(v) {
		return invalid(field, "%q is not an id (ids look like 0190c2a8-7d3e-7b1a-9f0e-5c6d7e8f9a0b)", truncate(v, 64))
	}
	return nil
}

// checkCursor refuses a paging cursor that no answer gave out.
func checkCursor(field, v string) *apiError {
	if v != "" && !isID(v) {
		return invalid(field, "is not a cursor; pass paging.after of the previous answer")
	}
	return nil
}

// isID reports whether s is an id as Herald makes them.
func isID(s string) bool {
	u, err := uuid.Parse(s)
	return err == nil && u.String() == s
}

// truncate shortens s for an error message, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
