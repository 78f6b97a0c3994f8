package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Replay a window (issue 15): the webhook page's form for POST
// /webhooks/{id}:replay, which recovers what a webhook missed (an endpoint
// down past its retries, or registered late) from the tenant's events.

// replayEvents are the catalogue's events that hook subscribes to, in the
// catalogue's order: the only ones the API lets a replay name, so the
// picker offers nothing it would refuse.
func replayEvents(cat []eventType, hook webhook) []string {
	all := slices.Contains(hook.Events, "*")
	var out []string
	for _, t := range cat {
		if all || slices.Contains(hook.Events, t.Name) {
			out = append(out, t.Name)
		}
	}
	return out
}

// replayRequest is the body of POST /webhooks/{id}:replay; From and To are
// left out when the form had none, so the API names the missing field.
type replayRequest struct {
	From             string   `json:"from,omitempty"`
	To               string   `json:"to,omitempty"`
	Events           []string `json:"events,omitempty"`
	IncludeDelivered bool     `json:"include_delivered,omitempty"`
}

// replay asks the API to replay a window to one webhook; it returns how
// many notifications were queued.
func (c *client) replay(ctx context.Context, id string, in replayRequest) (int, error) {
	var out struct {
		Queued int `json:"queued"`
	}
	err := c.do(ctx, http.MethodPost, "/webhooks/"+url.PathEscape(id)+":replay", in, &out)
	return out.Queued, err
}

// replayForm reads the posted form. The times are read as the
// notifications filter reads them (parseLocal: datetime-local in UTC, or
// RFC 3339); an empty one stays empty for the API to refuse.
func replayForm(form url.Values) (replayRequest, error) {
	in := replayRequest{IncludeDelivered: form.Get("include_delivered") != ""}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"from", &in.From}, {"to", &in.To}} {
		s := strings.TrimSpace(form.Get(f.name))
		if s == "" {
			continue
		}
		t, err := parseLocal(s)
		if err != nil {
			return in, fmt.Errorf("%s: %w", f.name, err)
		}
		*f.dst = t.UTC().Format(time.RFC3339Nano)
	}
	for _, e := range form["events"] {
		if e = strings.TrimSpace(e); e != "" {
			in.Events = append(in.Events, e)
		}
	}
	return in, nil
}

// replayAction replays the posted window and shows on the webhook's page
// how many notifications were queued, or why the API queued none (a
// window it refuses, 400, or one over the fan-out limit, 413).
func (h *handler) replayAction(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	back := "/webhooks/" + url.PathEscape(id)
	in, err := replayForm(r.PostForm)
	if err != nil {
		h.setFlash(w, r, flash{Text: "Nothing was replayed: " + err.Error() + "."})
		h.redirect(w, r, back)
		return
	}
	n, err := rq.api.replay(r.Context(), id, in)
	var ae *apiError
	if errors.As(err, &ae) && (ae.Status == http.StatusBadRequest || ae.Status == http.StatusRequestEntityTooLarge) {
		h.setFlash(w, r, flash{Text: "Nothing was replayed: " + ae.Error() + "."})
		h.redirect(w, r, back)
		return
	}
	if err != nil {
		h.apiFailure(w, r, rq, err)
		return
	}
	text := fmt.Sprintf("%d notification%s queued from the window, in publish order.", n, plural(n))
	if n == 0 {
		text = "0 notifications queued: the webhook already has a notification for every event of the window it subscribes to " +
			"(tick \"include delivered\" to send finished ones again)."
	}
	h.setFlash(w, r, flash{OK: true, Text: text})
	h.redirect(w, r, back)
}
