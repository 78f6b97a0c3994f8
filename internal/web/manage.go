package web

import (
	"errors"
	"net/http"
	"net/url"
)

// The pages that create, change, rotate and delete webhooks. Every change
// is the API's request (POST, PUT or DELETE /webhooks, secret:rotate) made
// as the session's key, so the dashboard validates nothing itself: a
// refusal comes back with the API's message and the member it names, shown
// beside that field.

// eventCatalogue reads the event catalogue once (names, descriptions,
// samples and variants).
func (h *handler) eventCatalogue(r *http.Request, rq *request) ([]eventType, error) {
	h.eventsMu.Lock()
	defer h.eventsMu.Unlock()
	if h.catalogue != nil {
		return h.catalogue, nil
	}
	types, err := rq.api.catalogue(r.Context())
	if err != nil {
		return nil, err
	}
	h.catalogue = types
	return types, nil
}

// newWebhookForm shows an empty webhook form.
func (h *handler) newWebhookForm(w http.ResponseWriter, r *http.Request, rq *request) {
	cat, err := h.eventCatalogue(r, rq)
	if err != nil {
		h.apiFailure(w, r, rq, err)
		return
	}
	h.render(w, r, rq, http.StatusOK, "webhook_form", view{Title: "New webhook", Nav: "webhooks", Data: newFormView(cat)})
}

// editWebhookForm shows a webhook in the form, credentials masked.
func (h *handler) editWebhookForm(w http.ResponseWriter, r *http.Request, rq *request) {
	cat, err := h.eventCatalogue(r, rq)
	if err != nil {
		h.apiFailure(w, r, rq, err)
		return
	}
	hook, err := rq.api.rawWebhook(r.Context(), r.PathValue("id"))
	if err != nil {
		h.apiFailure(w, r, rq, err)
		return
	}
	v := newFormView(cat)
	v.fill(hook)
	h.render(w, r, rq, http.StatusOK, "webhook_form", view{Title: "Edit webhook", Nav: "webhooks", Data: v})
}

// saveWebhook creates (id "") or changes a webhook from the posted form.
func (h *handler) saveWebhook(w http.ResponseWriter, r *http.Request, rq *request) {
	cat, err := h.eventCatalogue(r, rq)
	if err != nil {
		h.apiFailure(w, r, rq, err)
		return
	}
	id := r.PathValue("id")
	v := newFormView(cat)
	v.read(r.PostForm)
	v.Editing, v.ID = id != "", id
	var ans created
	if id == "" {
		ans, err = rq.api.createWebhook(r.Context(), v.body())
	} else {
		ans, err = rq.api.updateWebhook(r.Context(), id, v.body())
	}
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusBadRequest {
		v.place(ae)
		title := "New webhook"
		if v.Editing {
			title = "Edit webhook"
		}
		h.render(w, r, rq, http.StatusBadRequest, "webhook_form", view{Title: title, Nav: "webhooks", Data: v})
		return
	}
	if err != nil {
		h.apiFailure(w, r, rq, err)
		return
	}
	switch {
	case id == "":
		h.showKey(w, r, rq, "Webhook created", secretData{ID: ans.ID, Endpoint: ans.Endpoint, Secret: ans.Secret, PublicKey: deref(ans.PublicKey)})
	case ans.Secret != "": // switched to hmac-sha256: a new secret, shown once
		h.showKey(w, r, rq, "Webhook saved: its new signing secret", secretData{ID: ans.ID, Endpoint: ans.Endpoint, Secret: ans.Secret})
	default:
		h.setFlash(w, r, flash{OK: true, Text: "Webhook saved."})
		h.redirect(w, r, "/webhooks/"+url.PathEscape(id))
	}
}

// secretData is a signing key shown once.
type secretData struct {
	ID, Endpoint      string
	Secret, PublicKey string
	PreviousUntil     string
}

// showKey answers the POST that made a signing key with the key: it is
// never stored where another page could show it again.
func (h *handler) showKey(w http.ResponseWriter, r *http.Request, rq *request, title string, d secretData) {
	h.render(w, r, rq, http.StatusOK, "secret", view{Title: title, Nav: "webhooks", Data: d})
}

// rotateAction gives a webhook a new signing key, shown once.
func (h *handler) rotateAction(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	hook, err := rq.api.webhook(r.Context(), id)
	if err != nil {
		h.apiFailure(w, r, rq, err)
		return
	}
	res, err := rq.api.rotate(r.Context(), id)
	if err != nil {
		h.apiFailure(w, r, rq, err)
		return
	}
	h.showKey(w, r, rq, "New signing key", secretData{ID: id, Endpoint: hook.Endpoint, Secret: res.Secret, PublicKey: res.PublicKey,
		PreviousUntil: res.PreviousSecretExpiresAt})
}

// confirmData is a question asked before a change that cannot be undone.
type confirmData struct {
	Question, Detail string
	Action, Button   string
	Cancel           string
	Hidden           map[string]string
}

// deleteForm asks before deleting a webhook.
func (h *handler) deleteForm(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	hook, err := rq.api.webhook(r.Context(), id)
	if err != nil {
		h.apiFailure(w, r, rq, err)
		return
	}
	h.render(w, r, rq, http.StatusOK, "confirm", view{Title: "Delete webhook", Nav: "webhooks", Data: confirmData{
		Question: "Delete the webhook to " + hook.Endpoint + "?",
		Detail:   "Its pending notifications are cancelled and nothing more is sent to it. Its delivered and expired notifications stay searchable. This cannot be undone.",
		Action:   h.prefix + "/webhooks/" + url.PathEscape(id) + "/delete", Button: "Delete the webhook",
		Cancel: h.prefix + "/webhooks/" + url.PathEscape(id),
	}})
}

// deleteAction deletes a webhook.
func (h *handler) deleteAction(w http.ResponseWriter, r *http.Request, rq *request) {
	if err := rq.api.deleteWebhook(r.Context(), r.PathValue("id")); err != nil {
		h.apiFailure(w, r, rq, err)
		return
	}
	h.setFlash(w, r, flash{OK: true, Text: "Webhook deleted; its pending notifications are cancelled."})
	h.redirect(w, r, "/webhooks")
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
