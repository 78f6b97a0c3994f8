package api

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// replayJSON is the body of POST /webhooks/{id}:replay.
type replayJSON struct {
	From             *string  `json:"from"`
	To               *string  `json:"to"`
	Events           []string `json:"events"`
	IncludeDelivered *bool    `json:"include_delivered"`
}

// replay creates notifications of one webhook from the tenant's events
// published in [from, to) (see store.ReplayRequest): for a client whose
// endpoint was down past the retries, or who registered late. The window
// must lie within retention, where every event is still stored.
func (s *server) replay(w http.ResponseWriter, r *http.Request, p principal, id string) error {
	var in replayJSON
	if err := decode(r, &in, false); err != nil {
		return err
	}
	now := time.Now().UTC()
	req := store.ReplayRequest{TenantID: p.TenantID, WebhookID: id, Now: now, MaxFanout: s.MaxFanout,
		IncludeDelivered: in.IncludeDelivered != nil && *in.IncludeDelivered}
	if in.From == nil {
		return invalid("from", "is required")
	}
	if in.To == nil {
		return invalid("to", "is required")
	}
	var aerr *apiError
	if req.From, req.To, aerr = parseRange(in.From, in.To); aerr != nil {
		return aerr
	}
	if !req.From.Before(req.To) {
		return invalid("to", "must be later than from")
	}
	if s.Retention > 0 {
		if oldest := now.Add(-s.Retention); req.From.Before(oldest) {
			return invalid("from", "is before the retention window: events published before %s (%s ago) may be gone", formatTime(oldest), s.Retention)
		}
	}
	hook, err := s.Store.Webhook(r.Context(), p.TenantID, id)
	if err != nil {
		return s.storeError(r, err, "webhook "+id)
	}
	if in.Events != nil {
		if err := s.checkReplayEvents(in.Events, hook); err != nil {
			return err
		}
		req.Events = in.Events
	}
	n, err := s.Store.Replay(r.Context(), req)
	if errors.Is(err, store.ErrFanout) {
		return &apiError{Status: http.StatusRequestEntityTooLarge, Code: codeFanout,
			Message: "this replay would create more than " + itoa(int64(s.MaxFanout)) + " notifications; replay a shorter window"}
	}
	if err != nil {
		return s.storeError(r, err, "webhook "+id)
	}
	if n > 0 {
		s.Waker.Wake()
	}
	writeJSON(w, http.StatusAccepted, map[string]int{"queued": n})
	return nil
}

// checkReplayEvents refuses an events list that is empty, repeats a name,
// or names an event the webhook does not subscribe to.
func (s *server) checkReplayEvents(events []string, hook store.Webhook) *apiError {
	if len(events) == 0 {
		return invalid("events", "must name at least one event; leave it out to replay every event the webhook subscribes to")
	}
	for i, e := range events {
		field := "events[" + strconv.Itoa(i) + "]"
		if _, ok := s.Catalog.Lookup(e); !ok {
			return invalid(field, "unknown event %q", e)
		}
		if !hook.Subscribes(e) {
			return invalid(field, "the webhook does not subscribe to %s", e)
		}
		if slices.Contains(events[:i], e) {
			return invalid(field, "event %q is listed twice", e)
		}
	}
	return nil
}
