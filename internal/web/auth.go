package web

import (
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"
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
	token := randomID()
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

// signin checks the key against the API and starts a session. The form's
// token must match the herald_signin cookie (double submit), so another
// site cannot sign a visitor in with its own key.
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
	cl := &client{api: h.api, key: key, remote: r.RemoteAddr}
	admin := true
	if _, err := cl.tenants(r.Context()); err != nil {
		var ae *apiError
		switch {
		case errors.As(err, &ae) && ae.Status == http.StatusUnauthorized:
			h.showSignin(w, r, http.StatusUnauthorized, tenantName, "Herald does not accept this API key (unknown or revoked).")
			return
		case errors.As(err, &ae) && ae.Status == http.StatusForbidden:
			admin = false
		default:
			h.log.Error("dashboard sign-in", "err", err)
			h.showSignin(w, r, http.StatusServiceUnavailable, tenantName, "Herald could not check the key: "+err.Error())
			return
		}
	}
	if !admin && tenantName != "" {
		h.showSignin(w, r, http.StatusBadRequest, tenantName, "Only an admin key may pick a tenant; leave the tenant empty.")
		return
	}
	if admin {
		cl.tenant = tenantName
	}
	if _, _, err := cl.webhooks(r.Context(), 1, ""); err != nil {
		var ae *apiError
		msg := "Herald could not list webhooks with this key: " + err.Error()
		status := http.StatusBadGateway
		if errors.As(err, &ae) {
			status = ae.Status
			switch ae.Status {
			case http.StatusForbidden:
				msg = "This key may not manage webhooks (a publisher key?); sign in with a client or admin key."
			case http.StatusNotFound:
				msg = "There is no tenant " + tenantName + "."
			}
		}
		h.showSignin(w, r, status, tenantName, msg)
		return
	}
	s := session{ID: randomID(), Key: key, Tenant: cl.tenant, Admin: admin}
	http.SetCookie(w, h.cookie(r, signinCookie, "", -1))
	http.SetCookie(w, h.cookie(r, sessionCookie, s.encode(), sessionTTL))
	h.redirect(w, r, "/webhooks")
}

// signout ends the session.
func (h *handler) signout(w http.ResponseWriter, r *http.Request, _ *request) {
	http.SetCookie(w, h.cookie(r, sessionCookie, "", -1))
	h.setFlash(w, r, flash{OK: true, Text: "Signed out."})
	h.redirect(w, r, "/signin")
}

// switchTenant lets an admin key act on another tenant.
func (h *handler) switchTenant(w http.ResponseWriter, r *http.Request, rq *request) {
	if !rq.sess.Admin {
		h.renderError(w, r, &rq.sess, http.StatusForbidden, "Only an admin key may pick a tenant.")
		return
	}
	name := strings.TrimSpace(r.PostFormValue("tenant"))
	rq.api.tenant = name
	if _, _, err := rq.api.webhooks(r.Context(), 1, ""); err != nil {
		h.apiFailure(w, r, rq, err)
		return
	}
	rq.sess.Tenant = name
	http.SetCookie(w, h.cookie(r, sessionCookie, rq.sess.encode(), sessionTTL))
	shown := name
	if shown == "" {
		shown = "default"
	}
	h.setFlash(w, r, flash{OK: true, Text: "Now acting on tenant " + shown + "."})
	h.redirect(w, r, "/webhooks")
}
