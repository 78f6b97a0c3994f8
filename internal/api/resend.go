package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/heraldhq/herald/internal/publish"
	"github.com/heraldhq/herald/internal/store"
)

// Test events and re-sends: what the dashboard's client portal does beyond
// the nCore API, available to any client.

// testInput is the body of POST /webhooks/{id}:test.
type testInput struct {
	Event   *string         `json:"event"`
	Variant *string         `json:"variant"`
	Payload json.RawMessage `json:"payload"`
}

// testEvent serves POST /webhooks/{id}:test: a real notification of a
// catalogue event (its sample, or the payload given) to this webhook
// alone, whatever it subscribes to, marked as a test on the event and the
// notification. 202 with the notification.
func (s *server) testEvent(w http.ResponseWriter, r *http.Request, p principal, id string) error {
	var in testInput
	if err := decode(r, &in, false); err != nil {
		return err
	}
	name := deref(in.Event)
	if name == "" {
		return invalid("event", "is required")
	}
	if _, ok := s.Catalog.Lookup(name); !ok {
		return invalid("event", "unknown event %q", name)
	}
	payload := []byte(in.Payload)
	if len(in.Payload) == 0 || isNull(in.Payload) {
		sample, err := s.Catalog.Sample(name, deref(in.Variant))
		if err != nil {
			return invalid("variant", "%v", err)
		}
		payload = sample
	} else if in.Variant != nil {
		return invalid("variant", "goes with a sample: leave it out when sending a payload")
	}
	e, aerr := s.newEvent(payload, "payload", time.Now().UTC())
	if aerr != nil {
		if aerr.Field == "" {
			aerr.Field = "payload"
		}
		return aerr
	}
	if e.Name != name {
		return invalid("payload", "is a %s event, not %s", e.Name, name)
	}
	e.Test = true
	if _, err := s.Store.Webhook(r.Context(), p.TenantID, id); err != nil {
		return s.storeError(r, err, "webhook "+id)
	}
	res, err := s.publisher().Publish(r.Context(), publish.Request{TenantID: p.TenantID, Events: []store.Event{e}, Body: payload, Webhook: id})
	if err != nil {
		return s.storeError(r, err, "webhook "+id)
	}
	return s.writeNotification(w, r, p, res.Events[0].Notifications[0].ID)
}

// writeNotification answers 202 with a notification as a search shows it.
func (s *server) writeNotification(w http.ResponseWriter, r *http.Request, p principal, id string) error {
	notes, _, err := s.Store.SearchNotifications(r.Context(), store.NotificationFilter{TenantID: p.TenantID, NotificationIDs: []string{id}}, store.Page{Limit: 1})
	if err != nil {
		return err
	}
	if len(notes) == 0 {
		return notFound("notification " + id)
	}
	writeJSON(w, http.StatusAccepted, toNotificationJSON(notes[0]))
	return nil
}

// notificationVerb serves POST /notifications/{id}:<verb>.
func (s *server) notificationVerb(w http.ResponseWriter, r *http.Request, p principal) error {
	id, verb, ok := strings.Cut(chi.URLParam(r, "id"), ":")
	if !ok || id == "" || !notificationVerbs[verb] {
		return notFound("path " + r.URL.Path)
	}
	if err := checkID("id", id); err != nil {
		return notFound("notification " + id)
	}
	n, _, err := s.Store.Resend(r.Context(), store.NotificationFilter{TenantID: p.TenantID, NotificationIDs: []string{id}}, time.Now().UTC(), 1, false)
	if err != nil {
		return err
	}
	if n == 0 {
		// Why not: unknown, still pending, or its webhook is gone.
		notes, _, err := s.Store.SearchNotifications(r.Context(), store.NotificationFilter{TenantID: p.TenantID, NotificationIDs: []string{id}}, store.Page{Limit: 1})
		switch {
		case err != nil:
			return err
		case len(notes) == 0:
			return notFound("notification " + id)
		case notes[0].Status == store.StatusPending:
			return &apiError{Status: http.StatusConflict, Code: codeConflict, Message: "notification " + id + " is PENDING: it is queued already"}
		default:
			return &apiError{Status: http.StatusConflict, Code: codeConflict, Message: "notification " + id + " cannot be re-sent: its webhook is deleted"}
		}
	}
	s.Waker.Wake()
	return s.writeNotification(w, r, p, id)
}

// maxBulkResend bounds the notifications one POST /notifications:resend
// re-sends (has_more says there were more).
const maxBulkResend = 10_000

// bulkResendInput is the body of POST /notifications:resend.
type bulkResendInput struct {
	filterInput
	DryRun *bool `json:"dry_run"`
}

type bulkResendJSON struct {
	Count   int  `json:"count"`
	HasMore bool `json:"has_more"`
	DryRun  bool `json:"dry_run"`
}

// bulkResend serves POST /notifications:resend: the notifications a search
// with the same filters finds, in a final status and of a live webhook,
// go back to PENDING with a fresh retry budget (newest first, at most
// maxBulkResend); a dry run counts them.
func (s *server) bulkResend(w http.ResponseWriter, r *http.Request, p principal) error {
	var in bulkResendInput
	if err := decode(r, &in, true); err != nil {
		return err
	}
	f, aerr := s.filter(in.filterInput, p.TenantID)
	if aerr != nil {
		return aerr
	}
	dry := in.DryRun != nil && *in.DryRun
	n, more, err := s.Store.Resend(r.Context(), f, time.Now().UTC(), maxBulkResend, dry)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if n > 0 && !dry {
		s.Waker.Wake()
	}
	writeJSON(w, http.StatusOK, bulkResendJSON{Count: n, HasMore: more, DryRun: dry})
	return nil
}
