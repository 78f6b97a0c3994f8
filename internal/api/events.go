package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/publish"
	"github.com/heraldhq/herald/internal/store"
)

// maxBatch is the most events of one POST /events:batch (SPEC section 4.4).
const maxBatch = 1000

type notificationRefJSON struct {
	ID        string `json:"id"`
	WebhookID string `json:"webhook_id"`
}

type publishedJSON struct {
	EventID       string                `json:"event_id"`
	Notifications []notificationRefJSON `json:"notifications"`
}

func toPublishedJSON(pe store.PublishedEvent) publishedJSON {
	out := publishedJSON{EventID: pe.Event.ID, Notifications: make([]notificationRefJSON, len(pe.Notifications))}
	for i, n := range pe.Notifications {
		out.Notifications[i] = notificationRefJSON{ID: n.ID, WebhookID: n.WebhookID}
	}
	return out
}

// readBody reads the whole request body, mapping an oversized one to 413.
func readBody(r *http.Request) ([]byte, *apiError) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &apiError{Status: http.StatusRequestEntityTooLarge, Code: codeTooLarge,
				Message: "request body is larger than " + itoa(tooLarge.Limit) + " bytes"}
		}
		return nil, invalid("", "reading request body: %v", err)
	}
	return body, nil
}

// publisher publishes as every way in does (see package publish).
func (s *server) publisher() *publish.Publisher {
	return &publish.Publisher{Store: s.Store, Catalog: s.Catalog, Waker: s.Waker, Observer: s.Observer,
		Handoff: s.Handoff, MaxFanout: s.MaxFanout}
}

// newEvent checks one payload against the catalogue; prefix is the JSON
// path of the payload in the request ("" or "events[3]").
func (s *server) newEvent(payload []byte, prefix string, now time.Time) (store.Event, *apiError) {
	e, err := s.publisher().Event(payload, now)
	if err != nil {
		var pe *catalog.PayloadError
		if errors.As(err, &pe) {
			field := pe.Field
			if prefix != "" {
				field = strings.TrimSuffix(prefix+"."+pe.Field, ".")
			}
			return store.Event{}, invalid(field, "%s", pe.Message)
		}
		return store.Event{}, invalid(prefix, "%v", err)
	}
	return e, nil
}

// idempotency reads the request's idempotency key (Idempotency-Key, or the
// nCore x-nymos-idempotency-key).
func idempotency(r *http.Request) (string, *apiError) {
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		key = r.Header.Get("x-nymos-idempotency-key")
	}
	if len(key) > publish.MaxIdempotencyKey {
		return "", invalid("Idempotency-Key", "is longer than %d characters", publish.MaxIdempotencyKey)
	}
	return key, nil
}

func (s *server) commit(w http.ResponseWriter, r *http.Request, p principal, events []store.Event, body []byte) (store.PublishResult, error) {
	key, aerr := idempotency(r)
	if aerr != nil {
		return store.PublishResult{}, aerr
	}
	res, err := s.publisher().Publish(r.Context(), publish.Request{TenantID: p.TenantID, Events: events, IdempotencyKey: key, Body: body})
	if errors.Is(err, store.ErrFanout) {
		return res, &apiError{Status: http.StatusRequestEntityTooLarge, Code: codeFanout,
			Message: "this request would create more than " + itoa(int64(s.MaxFanout)) + " notifications; publish its events in smaller batches"}
	}
	if errors.Is(err, store.ErrIdempotencyMismatch) {
		return res, &apiError{Status: http.StatusConflict, Code: codeIdempotency,
			Message: "this Idempotency-Key was used in the last 24 hours with a different body", Field: "Idempotency-Key"}
	}
	if err != nil {
		return res, s.storeError(r, err, "publish")
	}
	if res.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	return res, nil
}

func (s *server) publish(w http.ResponseWriter, r *http.Request, p principal) error {
	body, aerr := readBody(r)
	if aerr != nil {
		return aerr
	}
	e, aerr := s.newEvent(body, "", time.Now().UTC())
	if aerr != nil {
		return aerr
	}
	res, err := s.commit(w, r, p, []store.Event{e}, body)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, toPublishedJSON(res.Events[0]))
	return nil
}

func (s *server) publishBatch(w http.ResponseWriter, r *http.Request, p principal) error {
	body, aerr := readBody(r)
	if aerr != nil {
		return aerr
	}
	raw, aerr := splitBatch(body)
	if aerr != nil {
		return aerr
	}
	if len(raw) == 0 {
		return invalid("events", "must hold at least one event")
	}
	now := time.Now().UTC()
	events := make([]store.Event, len(raw))
	for i, payload := range raw {
		e, aerr := s.newEvent(payload, "events["+strconv.Itoa(i)+"]", now)
		if aerr != nil {
			return aerr
		}
		events[i] = e
	}
	res, err := s.commit(w, r, p, events, body)
	if err != nil {
		return err
	}
	out := make([]publishedJSON, len(res.Events))
	for i, pe := range res.Events {
		out[i] = toPublishedJSON(pe)
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"events": out})
	return nil
}

type eventJSON struct {
	ID            string             `json:"id"`
	Event         string             `json:"event"`
	Payload       json.RawMessage    `json:"payload"`
	Created       string             `json:"created"`
	Test          bool               `json:"test"`
	Subjects      subjectsJSON       `json:"subjects"`
	Notifications []notificationJSON `json:"notifications"`
}

func (s *server) getEvent(w http.ResponseWriter, r *http.Request, p principal) error {
	id := chi.URLParam(r, "id")
	e, notes, err := s.Store.Event(r.Context(), p.TenantID, id)
	if err != nil {
		return s.storeError(r, err, "event "+id)
	}
	out := eventJSON{ID: e.ID, Event: e.Name, Payload: e.Payload, Created: formatTime(e.Created), Test: e.Test,
		Subjects: subjectsJSON(e.Subjects), Notifications: make([]notificationJSON, len(notes))}
	for i, n := range notes {
		out.Notifications[i] = toNotificationJSON(n)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) eventTypes(w http.ResponseWriter, _ *http.Request, _ principal) error {
	writeJSON(w, http.StatusOK, map[string]any{"data": s.Catalog.Types()})
	return nil
}

func (s *server) eventType(w http.ResponseWriter, r *http.Request, _ principal) error {
	name := chi.URLParam(r, "name")
	t, ok := s.Catalog.Lookup(name)
	if !ok {
		return notFound("event type " + name)
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}
