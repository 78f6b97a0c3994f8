package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// notificationsPerPage is the length of the notifications list.
const notificationsPerPage = 50

// filters are the notifications list's query parameters.
type filters struct {
	ID      string // notification id
	EventID string
	Event   string
	Status  string
	Webhook string
	Last    string // a recent window: 1h, 24h, 7d (used when From is empty)
	From    string // datetime-local, UTC
	To      string
	After   string
}

func filtersFrom(q url.Values) filters {
	g := func(k string) string { return strings.TrimSpace(q.Get(k)) }
	return filters{ID: g("id"), EventID: g("event_id"), Event: g("event"), Status: g("status"), Webhook: g("webhook"),
		Last: g("last"), From: g("from"), To: g("to"), After: g("after")}
}

// query is the list's URL query for these filters, paging from after.
func (f filters) query(after string) string {
	return query("id", f.ID, "event_id", f.EventID, "event", f.Event, "status", f.Status, "webhook", f.Webhook,
		"last", f.Last, "from", f.From, "to", f.To, "after", after)
}

// window is a choice of the "last" filter.
type window struct{ Value, Label string }

// Query is the list's URL query for these filters, from the newest.
func (f filters) Query() string { return f.query("") }

// windows are the choices of the "last" filter.
var windows = []window{
	{"1h", "last hour"}, {"24h", "last 24 hours"}, {"168h", "last 7 days"},
}

// parseLocal reads a datetime-local value as UTC.
func parseLocal(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339Nano} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date and time such as 2026-01-02T15:04", s)
}

// searchQuery turns the filters into an API search.
func (f filters) searchQuery(now time.Time) (searchQuery, error) {
	q := searchQuery{NotificationID: f.ID, EventID: f.EventID, Event: f.Event, Status: f.Status, WebhookID: f.Webhook,
		Limit: notificationsPerPage, After: f.After}
	switch {
	case f.From != "":
		t, err := parseLocal(f.From)
		if err != nil {
			return q, fmt.Errorf("from: %w", err)
		}
		q.From = t.Format(time.RFC3339Nano)
	case f.Last != "":
		d, err := time.ParseDuration(f.Last)
		if err != nil || d <= 0 {
			return q, fmt.Errorf("last: %q is not a duration", f.Last)
		}
		q.From = now.Add(-d).UTC().Format(time.RFC3339Nano)
	}
	if f.To != "" {
		t, err := parseLocal(f.To)
		if err != nil {
			return q, fmt.Errorf("to: %w", err)
		}
		q.To = t.Format(time.RFC3339Nano)
	}
	return q, nil
}

type notificationsData struct {
	F         filters
	Events    []string
	Statuses  []string
	Windows   []window
	Hooks     []webhook
	Endpoints map[string]string
	Table     notesTable
	Paging    paging
	NextPage  string
	Error     string
}

// notificationList shows recent notifications, filtered; a search by
// notification id that finds it goes straight to its page.
func (h *handler) notificationList(w http.ResponseWriter, r *http.Request, rq *request) {
	ctx := r.Context()
	f := filtersFrom(r.URL.Query())
	d := notificationsData{F: f, Statuses: []string{"PENDING", "DELIVERED", "EXPIRED", "CANCELLED"}, Windows: windows,
		Endpoints: map[string]string{}}
	var err error
	if d.Events, err = h.eventNames(r, rq); err != nil {
		h.apiFailure(w, r, rq, err)
		return
	}
	if d.Hooks, _, err = rq.api.webhooks(ctx, 200, ""); err != nil {
		h.apiFailure(w, r, rq, err)
		return
	}
	for _, hk := range d.Hooks {
		d.Endpoints[hk.ID] = hk.Endpoint
	}
	status := http.StatusOK
	var notes []notification
	q, err := f.searchQuery(h.now())
	if err == nil {
		notes, d.Paging, err = rq.api.search(ctx, q)
	}
	var ae *apiError
	switch {
	case err == nil:
	case errors.As(err, &ae) && ae.Status == http.StatusBadRequest:
		d.Error, status = ae.Error(), http.StatusBadRequest
	case errors.As(err, &ae):
		h.apiFailure(w, r, rq, err)
		return
	default:
		d.Error, status = err.Error(), http.StatusBadRequest
	}
	if f.ID != "" && f.After == "" && len(notes) == 1 && notes[0].ID == f.ID {
		h.redirect(w, r, "/notifications/"+url.PathEscape(f.ID))
		return
	}
	d.Table = notesTable{Caption: "Notifications, newest first", Prefix: h.prefix, Now: h.now(), Notes: notes,
		Endpoints: d.Endpoints, ShowWebhook: true}
	if d.Paging.HasMore {
		d.NextPage = f.query(d.Paging.After)
	}
	h.render(w, r, rq, status, "notifications", view{Title: "Notifications", Nav: "notifications", Data: d})
}

// eventNames are the event catalogue's names.
func (h *handler) eventNames(r *http.Request, rq *request) ([]string, error) {
	types, err := h.eventCatalogue(r, rq)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = t.Name
	}
	return names, nil
}

type notificationData struct {
	Note     notification
	Hook     *webhook // nil when the webhook is gone
	Payload  string
	Attempts []attempt // newest first
}

// notificationPage shows one notification with its payload and attempts.
func (h *handler) notificationPage(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	notes, _, err := rq.api.search(r.Context(), searchQuery{NotificationID: id, Limit: 1, IncludePayload: true})
	if err != nil {
		h.apiFailure(w, r, rq, err)
		return
	}
	if len(notes) == 0 {
		h.renderError(w, r, rq, http.StatusNotFound, "There is no notification "+id+" in this tenant.")
		return
	}
	n := notes[0]
	d := notificationData{Note: n, Payload: prettyJSON(n.Payload)}
	for i := len(n.Attempts) - 1; i >= 0; i-- {
		d.Attempts = append(d.Attempts, n.Attempts[i])
	}
	if hk, err := rq.api.webhook(r.Context(), n.WebhookID); err == nil {
		d.Hook = &hk
	}
	v := view{Title: "Notification " + n.ID, Nav: "notifications", Data: d}
	// An attempt is due soon to an active webhook: reload to show its
	// outcome when it lands (not for a webhook that holds its queue).
	due := parseAPITime(n.NextAttemptAt).Sub(h.now())
	if n.Status == "PENDING" && d.Hook != nil && d.Hook.Status == "ACTIVE" && due > -30*time.Second && due < time.Minute {
		v.Refresh = 2
	}
	h.render(w, r, rq, http.StatusOK, "notification", v)
}

// resendAction re-sends one EXPIRED notification.
func (h *handler) resendAction(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	n, err := rq.api.sendExpired(r.Context(), "", []string{id})
	if err != nil {
		h.apiFailure(w, r, rq, err)
		return
	}
	if n == 0 {
		h.setFlash(w, r, flash{Text: "Nothing was re-sent: the notification is not EXPIRED (or its webhook is gone)."})
	} else {
		h.setFlash(w, r, flash{OK: true, Text: "Re-sent: the notification is PENDING again with a fresh retry budget."})
	}
	h.redirect(w, r, "/notifications/"+url.PathEscape(id))
}
