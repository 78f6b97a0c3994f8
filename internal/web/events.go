package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// The event page (its payload and fan-out) and test events.

type eventData struct {
	Event     event
	Payload   string
	Endpoints map[string]string // webhook id to endpoint
	Table     notesTable
}

// eventPage shows one event: its payload, the ids it is about, and every
// notification it made (each webhook it went to).
func (h *handler) eventPage(w http.ResponseWriter, r *http.Request, rq *request) {
	e, err := rq.api.event(r.Context(), r.PathValue("id"))
	if err != nil {
		h.apiFailure(w, r, rq, err)
		return
	}
	d := eventData{Event: e, Payload: prettyJSON(e.Payload), Endpoints: map[string]string{}}
	hooks, _, err := rq.api.webhooks(r.Context(), 200, "")
	if err != nil {
		h.apiFailure(w, r, rq, err)
		return
	}
	for _, hk := range hooks {
		d.Endpoints[hk.ID] = hk.Endpoint
	}
	d.Table = notesTable{Caption: "Its notifications: one per webhook it went to", Prefix: h.prefix, Now: h.now(),
		Notes: e.Notifications, Endpoints: d.Endpoints, ShowWebhook: true}
	v := view{Title: "Event " + e.ID, Nav: "notifications", Data: d}
	for _, n := range e.Notifications {
		if n.Status == "PENDING" {
			v.Refresh = listRefresh
		}
	}
	h.render(w, r, rq, http.StatusOK, "event", v)
}

// testChoice is an event, or one of its variants, to test with.
type testChoice struct {
	Value, Label string // Value: NAME or NAME/VARIANT
	Sample       json.RawMessage
}

type testData struct {
	Hook         webhook
	Choices      []testChoice
	Choice       string // the one picked
	Description  string
	Payload      string
	Error        string
	PayloadError string
}

// testChoices lists every event and variant of the catalogue.
func testChoices(cat []eventType) []testChoice {
	var out []testChoice
	for _, t := range cat {
		if len(t.Variants) == 0 {
			out = append(out, testChoice{Value: t.Name, Label: t.Name, Sample: t.Sample})
		}
		for _, v := range t.Variants {
			out = append(out, testChoice{Value: t.Name + "/" + v.Name, Label: t.Name + " · " + v.Name, Sample: v.Sample})
		}
	}
	return out
}

// testForm shows the test event form: pick an event (and variant), see its
// sample in the text area, edit it if wanted, send it.
func (h *handler) testForm(w http.ResponseWriter, r *http.Request, rq *request) {
	d, ok := h.testData(w, r, rq, r.URL.Query().Get("event"))
	if !ok {
		return
	}
	h.render(w, r, rq, http.StatusOK, "test", view{Title: "Send a test event", Nav: "webhooks", Data: d})
}

// testData is the form for a webhook with one choice picked ("" the first).
func (h *handler) testData(w http.ResponseWriter, r *http.Request, rq *request, choice string) (testData, bool) {
	hook, err := rq.api.webhook(r.Context(), r.PathValue("id"))
	if err != nil {
		h.apiFailure(w, r, rq, err)
		return testData{}, false
	}
	cat, err := h.eventCatalogue(r, rq)
	if err != nil {
		h.apiFailure(w, r, rq, err)
		return testData{}, false
	}
	d := testData{Hook: hook, Choices: testChoices(cat)}
	if len(d.Choices) == 0 {
		return d, true
	}
	c := d.Choices[0]
	for _, x := range d.Choices {
		if x.Value == choice {
			c = x
		}
	}
	d.Choice, d.Payload = c.Value, prettyJSON(c.Sample)
	name, _, _ := strings.Cut(c.Value, "/")
	for _, t := range cat {
		if t.Name == name {
			d.Description = t.Description
		}
	}
	return d, true
}

// testAction sends the test event and shows its notification, whose page
// reloads until its attempt lands.
func (h *handler) testAction(w http.ResponseWriter, r *http.Request, rq *request) {
	choice := r.PostFormValue("event")
	if r.PostFormValue("show") != "" { // "Show its sample", without script
		http.Redirect(w, r, h.prefix+"/webhooks/"+url.PathEscape(r.PathValue("id"))+"/test"+query("event", choice), http.StatusSeeOther)
		return
	}
	name, variant, _ := strings.Cut(choice, "/")
	payload := strings.TrimSpace(r.PostFormValue("payload"))
	var raw json.RawMessage
	if payload != "" {
		raw = json.RawMessage(payload)
		if !json.Valid(raw) {
			// Sent as a string, the API says it is no event payload.
			b, _ := json.Marshal(payload)
			raw = b
		}
	}
	n, err := rq.api.testEvent(r.Context(), r.PathValue("id"), name, variant, raw)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusBadRequest {
		d, ok := h.testData(w, r, rq, choice)
		if !ok {
			return
		}
		d.Payload, d.Error = payload, "Herald refused the test event: "+ae.Error()
		if strings.HasPrefix(ae.Field, "payload") {
			d.PayloadError = ae.Message + " (" + ae.Field + ")"
		}
		h.render(w, r, rq, http.StatusBadRequest, "test", view{Title: "Send a test event", Nav: "webhooks", Data: d})
		return
	}
	if err != nil {
		h.apiFailure(w, r, rq, err)
		return
	}
	h.setFlash(w, r, flash{OK: true, Text: "Test event sent: " + n.Event + " to this webhook only. This page follows its delivery."})
	h.redirect(w, r, "/notifications/"+url.PathEscape(n.ID))
}
