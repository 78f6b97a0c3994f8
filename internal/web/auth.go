package web

import (
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/auth"
	"github.com/heraldhq/herald/internal/store"
)

// signinData is the sign-in form's data.
type signinData struct {
	Token  string // double-submit token (also in the herald_signin cookie)
	Tenant string
	Error  string
}

// signinForm shows the sign-in form with a fresh double-submit token.
func (h *handler) signinForm(w http.ResponseWriter, r *http.Request) {
	h.showSignin(w, r, http.StatusOK, "", "")
}

func (h *handler) showSignin(w http.ResponseWriter, r *http.Request, status int, tenant, msg string) {
	// Keep a token already given (another tab may show the form too).
	token := randomToken()
	if c, err := r.Cookie(signinCookie); err == nil && len(c.Value) == len(token) && isHex(c.Value) {
		token = c.Value
	}
	http.SetCookie(w, h.cookie(r, signinCookie, token, time.Hour))
	h.render(w, r, nil, status, "signin", view{Title: "Sign in", Data: signinData{Token: token, Tenant: tenant, Error: msg}})
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// signin checks the key and starts a session. The form's token must match
// the herald_signin cookie (double submit), so another site cannot sign a
// visitor in with its own key. The key is looked up by its hash and then
// forgotten: the session names the key's record, never holds the key.
func (h *handler) signin(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(signinCookie)
	form := r.PostFormValue("signin")
	if err != nil || form == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(form)) != 1 {
		h.showSignin(w, r, http.StatusForbidden, "", "The sign-in form expired or came from elsewhere; please try again.")
		return
	}
	key := strings.TrimSpace(r.PostFormValue("key"))
	tenantName := strings.TrimSpace(r.PostFormValue("tenant"))
	if key == "" {
		h.showSignin(w, r, http.StatusBadRequest, tenantName, "Enter an API key.")
		return
	}
	k, err := h.store.APIKeyByHash(r.Context(), auth.Hash(key))
	switch {
	case errors.Is(err, store.ErrNotFound):
		h.log.Info("dashboard sign-in refused", "reason", "unknown or revoked key", "remote", r.RemoteAddr)
		h.showSignin(w, r, http.StatusUnauthorized, tenantName, "Herald does not accept this API key (unknown or revoked).")
		return
	case err != nil:
		h.log.Error("dashboard sign-in", "err", err)
		h.showSignin(w, r, http.StatusServiceUnavailable, tenantName, "Herald could not check the key; try again.")
		return
	}
	if msg, status := h.checkSignin(r, k, tenantName); msg != "" {
		h.log.Info("dashboard sign-in refused", "reason", msg, "key_id", k.ID, "key_prefix", k.Prefix, "remote", r.RemoteAddr)
		h.showSignin(w, r, status, tenantName, msg)
		return
	}
	if err := h.startSession(w, r, k, tenantName); err != nil {
		h.log.Error("dashboard sign-in", "err", err)
		h.showSignin(w, r, http.StatusServiceUnavailable, tenantName, "Herald could not start a session; try again.")
		return
	}
	h.log.Info("dashboard sign-in", "key_id", k.ID, "key_prefix", k.Prefix, "tenant", tenantName, "remote", r.RemoteAddr)
	h.redirect(w, r, "/webhooks")
}

// checkSignin says why key k may not use the dashboard (on tenant, for an
// admin key), with the answer's status; "" when it may.
func (h *handler) checkSignin(r *http.Request, k store.APIKey, tenant string) (string, int) {
	switch {
	case k.Role == store.RolePublisher:
		return "This key may not manage webhooks (a publisher key?); sign in with a client or admin key.", http.StatusForbidden
	case k.Role != store.RoleAdmin && tenant != "":
		return "Only an admin key may pick a tenant; leave the tenant empty.", http.StatusBadRequest
	}
	if _, _, err := h.clientAs(r, k, tenant).webhooks(r.Context(), 1, ""); err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			return "Herald could not list webhooks with this key: " + err.Error(), http.StatusBadGateway
		}
		switch ae.Status {
		case http.StatusUnauthorized:
			return "Herald does not accept this API key (unknown or revoked).", http.StatusUnauthorized
		case http.StatusForbidden:
			return "This key may not manage webhooks (a publisher key?); sign in with a client or admin key.", http.StatusForbidden
		case http.StatusNotFound:
			return "There is no tenant " + tenant + ".", http.StatusNotFound
		}
		return "Herald could not list webhooks with this key: " + err.Error(), ae.Status
	}
	return "", 0
}

// startSession stores a new session for key k and gives its id to the
// browser. A session the browser already had is ended: every sign-in gets
// a fresh id. Sessions that can no longer be used are purged on the way.
func (h *handler) startSession(w http.ResponseWriter, r *http.Request, k store.APIKey, tenant string) error {
	if old, err := r.Cookie(sessionCookie); err == nil && validSessionID(old.Value) {
		if err := h.store.DeleteSession(r.Context(), hashSessionID(old.Value)); err != nil {
			return err
		}
	}
	id, hash, err := newSessionID()
	if err != nil {
		return err
	}
	now := h.now()
	if n, err := h.store.PurgeSessions(r.Context(), now, sessionIdle); err != nil {
		h.log.Warn("dashboard sessions not purged", "err", err)
	} else if n > 0 {
		h.log.Debug("dashboard sessions purged", "count", n)
	}
	if k.Role != store.RoleAdmin {
		tenant = ""
	}
	if err := h.store.CreateSession(r.Context(), store.Session{Hash: hash, KeyID: k.ID, Tenant: tenant,
		Created: now, LastSeen: now, Expires: now.Add(sessionLifetime)}); err != nil {
		return err
	}
	http.SetCookie(w, h.cookie(r, signinCookie, "", -1))
	http.SetCookie(w, h.cookie(r, sessionCookie, id, sessionLifetime))
	return nil
}

// endSession ends s in the database and in the browser.
func (h *handler) endSession(w http.ResponseWriter, r *http.Request, s *session) {
	if err := h.store.DeleteSession(r.Context(), s.rec.Hash); err != nil {
		h.log.Error("dashboard sign-out", "err", err)
	}
	http.SetCookie(w, h.cookie(r, sessionCookie, "", -1))
}

// signout ends the session, on every replica.
func (h *handler) signout(w http.ResponseWriter, r *http.Request, rq *request) {
	h.endSession(w, r, rq.sess)
	h.log.Info("dashboard sign-out", "key_id", rq.sess.key.ID, "key_prefix", rq.sess.key.Prefix, "remote", r.RemoteAddr)
	h.setFlash(w, r, flash{OK: true, Text: "Signed out."})
	h.redirect(w, r, "/signin")
}

// switchTenant lets an admin key act on another tenant.
func (h *handler) switchTenant(w http.ResponseWriter, r *http.Request, rq *request) {
	if !rq.sess.Admin() {
		h.renderError(w, r, rq, http.StatusForbidden, "Only an admin key may pick a tenant.")
		return
	}
	name := strings.TrimSpace(r.PostFormValue("tenant"))
	rq.api.tenant = name
	if _, _, err := rq.api.webhooks(r.Context(), 1, ""); err != nil {
		h.apiFailure(w, r, rq, err)
		return
	}
	if err := h.store.SetSessionTenant(r.Context(), rq.sess.rec.Hash, name); err != nil {
		h.log.Error("dashboard tenant switch", "err", err)
		h.renderError(w, r, rq, http.StatusServiceUnavailable, "Herald could not record the tenant; try again.")
		return
	}
	rq.sess.rec.Tenant = name
	h.log.Info("dashboard tenant switch", "key_id", rq.sess.key.ID, "key_prefix", rq.sess.key.Prefix, "tenant", name, "remote", r.RemoteAddr)
	shown := name
	if shown == "" {
		shown = "default"
	}
	h.setFlash(w, r, flash{OK: true, Text: "Now acting on tenant " + shown + "."})
	h.redirect(w, r, "/webhooks")
}
