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
	// The ids the events are about.
	Card, User, Account, Transaction string
	After, Before                    string // paging cursors
}

func filtersFrom(q url.Values) filters {
	g := func(k string) string { return strings.TrimSpace(q.Get(k)) }
	return filters{ID: g("id"), EventID: g("event_id"), Event: g("event"), Status: g("status"), Webhook: g("webhook"),
		Last: g("last"), From: g("from"), To: g("to"), Card: g("card_id"), User: g("user_id"), Account: g("account_id"),
		Transaction: g("transaction_id"), After: g("after"), Before: g("before")}
}

// query is the list's URL query for these filters, paging from a cursor
// ("after" or "before", value c).
func (f filters) query(cursor, c string) string {
	pairs := []string{"id", f.ID, "event_id", f.EventID, "event", f.Event, "status", f.Status, "webhook", f.Webhook,
		"last", f.Last, "from", f.From, "to", f.To, "card_id", f.Card, "user_id", f.User, "account_id", f.Account,
		"transaction_id", f.Transaction}
	if cursor != "" {
		pairs = append(pairs, cursor, c)
	}
	return query(pairs...)
}

// Subjects reports whether the filters name a card, user, account or
// transaction.
func (f filters) Subjects() bool {
	return f.Card != "" || f.User != "" || f.Account != "" || f.Transaction != ""
}

// window is a choice of the "last" filter.
type window struct{ Value, Label string }

// Query is the list's URL query for these filters, from the newest.
func (f filters) Query() string { return f.query("", "") }

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
		CardID: f.Card, UserID: f.User, AccountID: f.Account, TransactionID: f.Transaction,
		Limit: notificationsPerPage, After: f.After, Before: f.Before}
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
	NextPage  string // older
	NewerPage string
	Error     string
	// Final counts the notifications in a final status on this page: the
	// bulk re-send is offered when there is one.
	Final int
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
	if f.ID != "" && f.After == "" && f.Before == "" && len(notes) == 1 && notes[0].ID == f.ID {
		h.redirect(w, r, "/notifications/"+url.PathEscape(f.ID))
		return
	}
	d.Table = notesTable{Caption: "Notifications, newest first", Prefix: h.prefix, Now: h.now(), Notes: notes,
		Endpoints: d.Endpoints, ShowWebhook: true}
	if d.Paging.HasMore {
		d.NextPage = f.query("after", d.Paging.After)
	}
	if d.Paging.Before != "" {
		d.NewerPage = f.query("before", d.Paging.Before)
	}
	v := view{Title: "Notifications", Nav: "notifications", Data: d}
	for _, n := range notes {
		if n.Status == "PENDING" {
			v.Refresh = listRefresh // pending ones: show their outcome when it lands
		} else {
			d.Final++
		}
	}
	v.Data = d
	h.render(w, r, rq, status, "notifications", v)
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
	// An attempt is due soon to an active webhook (or was lately, and a
	// loaded dispatcher has not made it yet): reload to show its outcome
	// when it lands (not for a webhook that holds its queue).
	due := parseAPITime(n.NextAttemptAt).Sub(h.now())
	if n.Status == "PENDING" && d.Hook != nil && d.Hook.Status == "ACTIVE" && due > -5*time.Minute && due < time.Minute {
		v.Refresh = 2
	}
	h.render(w, r, rq, http.StatusOK, "notification", v)
}

// resendAction re-sends one notification in any final status.
func (h *handler) resendAction(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	if _, err := rq.api.resend(r.Context(), id); err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusConflict {
			h.setFlash(w, r, flash{Text: "Nothing was re-sent: " + ae.Message + "."})
			h.redirect(w, r, "/notifications/"+url.PathEscape(id))
			return
		}
		h.apiFailure(w, r, rq, err)
		return
	}
	h.setFlash(w, r, flash{OK: true, Text: "Re-sent: the notification is PENDING again with a fresh retry budget."})
	h.redirect(w, r, "/notifications/"+url.PathEscape(id))
}

// listRefresh is how often a list with pending notifications reloads.
const listRefresh = 5

// bulkForm asks before re-sending what the list's filters find, with its
// count (a dry run of the API).
func (h *handler) bulkForm(w http.ResponseWriter, r *http.Request, rq *request) {
	f := filtersFrom(r.URL.Query())
	q, err := f.searchQuery(h.now())
	if err != nil {
		h.renderError(w, r, rq, http.StatusBadRequest, err.Error())
		return
	}
	n, more, err := rq.api.bulkResend(r.Context(), q, true)
	if err != nil {
		h.apiFailure(w, r, rq, err)
		return
	}
	count := fmt.Sprint(n)
	if more {
		count = fmt.Sprintf("The first %d (newest first) of more than %d", n, n)
	}
	hidden := map[string]string{}
	for k, v := range r.URL.Query() {
		if k != "after" && k != "before" && len(v) > 0 {
			hidden[k] = v[0]
		}
	}
	back := h.prefix + "/notifications" + f.Query()
	if n == 0 {
		h.setFlash(w, r, flash{Text: "Nothing to re-send: no notification these filters find is in a final status (or their webhooks are deleted)."})
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	h.render(w, r, rq, http.StatusOK, "confirm", view{Title: "Re-send notifications", Nav: "notifications", Data: confirmData{
		Question: fmt.Sprintf("Re-send %s notification%s?", count, plural(n)),
		Detail: "Every notification these filters find that is DELIVERED, EXPIRED or CANCELLED (of a webhook not deleted) goes back to PENDING " +
			"with a fresh retry budget, and is delivered again: receivers see each one again, with the same webhook-id.",
		Action: h.prefix + "/notifications/resend", Button: "Re-send them", Cancel: back, Hidden: hidden,
	}})
}

// bulkAction re-sends what the posted filters find.
func (h *handler) bulkAction(w http.ResponseWriter, r *http.Request, rq *request) {
	f := filtersFrom(r.PostForm)
	q, err := f.searchQuery(h.now())
	if err != nil {
		h.renderError(w, r, rq, http.StatusBadRequest, err.Error())
		return
	}
	n, more, err := rq.api.bulkResend(r.Context(), q, false)
	if err != nil {
		h.apiFailure(w, r, rq, err)
		return
	}
	text := fmt.Sprintf("Re-sent %d notification%s.", n, plural(n))
	if more {
		text += " More matched: re-send again for the next ones."
	}
	h.setFlash(w, r, flash{OK: true, Text: text})
	http.Redirect(w, r, h.prefix+"/notifications"+f.Query(), http.StatusSeeOther)
}
