package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/heraldhq/herald/internal/auth"
	"github.com/heraldhq/herald/internal/store"
)

// The client portal: a link made by POST /portal-sessions (an admin key
// for a tenant, or a client key for its own) opens a dashboard session with
// client rights on that tenant alone, or read-only rights. Such a session
// never sees another tenant, the tenant switcher or anything an admin key
// may do, since the API calls it makes carry a client principal of that
// tenant (session.principal); a read-only one is refused every change,
// here (signedIn) and again before the API (client.readOnly).
//
// The platform may embed the portal: the origins of --portal-origins may
// frame a portal session's pages (CSP frame-ancestors), and with an https
// public URL their cookies are SameSite=None, Secure and Partitioned, so
// that a browser keeps them inside the platform's frame. Every other page
// (the sign-in form above all) is never framed.

// ParseOrigins reads --portal-origins: comma-separated origins such as
// https://platform.example or http://localhost:3000 (a scheme, a host and
// an optional port; no path).
func ParseOrigins(s string) ([]string, error) {
	var out []string
	for _, o := range strings.Split(s, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(o, " ;'\"") {
			return nil, fmt.Errorf("portal origin %q: want an origin such as https://platform.example (a scheme, a host, an optional port)", o)
		}
		out = append(out, u.Scheme+"://"+u.Host)
	}
	return out, nil
}

// contentPolicy is the dashboard's Content-Security-Policy, with the
// frame-ancestors given.
func contentPolicy(frameAncestors string) string {
	return "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; " +
		"form-action 'self'; frame-ancestors " + frameAncestors + "; base-uri 'none'"
}

type embedKey struct{}

// portalRequest lets the portal origins frame the answer to r, and returns
// r marked for cookies that work inside such a frame (when embedding is on).
func (h *handler) portalRequest(w http.ResponseWriter, r *http.Request) *http.Request {
	if h.frameAncestors == "" {
		return r
	}
	w.Header().Set("Content-Security-Policy", contentPolicy(h.frameAncestors))
	w.Header().Del("X-Frame-Options")
	return r.WithContext(context.WithValue(r.Context(), embedKey{}, true))
}

// framed reports whether r is a portal request made inside a frame.
func framed(r *http.Request) bool {
	return r.Context().Value(embedKey{}) == true && r.Header.Get("Sec-Fetch-Dest") == "iframe"
}

// embedded reports whether r's cookies are made for the platform's frame.
func (h *handler) embedded(r *http.Request) bool {
	return h.embed && r.Context().Value(embedKey{}) == true
}

// Opening a portal link takes two requests, so that a link previewer (a
// chat app unfurling the URL, a mail scanner following it) does not use it
// up before its reader opens it. GET /ui/portal/<token> only looks the link
// up and answers a page with a form that POSTs the token to /ui/portal;
// that POST redeems it. refresh.js submits the form as soon as the page is
// parsed (a prerendered page once it is shown), so a reader sees no extra
// step; without script the page's "Open the dashboard" button does it. A previewer that runs scripts and submits
// forms would still use the link up: only a click the page waits for could
// tell it from a reader.
//
// The POST is exempt from the dashboard's CSRF token (there is no session
// yet), and it needs none: the token is the proof. Another site cannot post
// it (http.CrossOriginProtection refuses a cross-origin POST), and a POST
// without a live token changes nothing, not even the session the browser
// has. Login CSRF remains possible in the only way the link allows by
// design: whoever holds a token may hand it to someone else (the link
// itself, GET or POST), and that browser is then signed into the link's
// tenant. That is accepted: the token is a secret its maker chooses to
// share, it works once, and the page names the tenant it opened.

// refusePortal shows the page of a link that cannot be used.
func (h *handler) refusePortal(w http.ResponseWriter, r *http.Request) {
	h.log.Info("dashboard portal link refused", "method", r.Method, "remote", r.RemoteAddr)
	h.renderError(w, r, nil, http.StatusNotFound,
		"This portal link cannot be used: it was used already, it expired, or it never existed. Ask for a new one.")
}

// portalData is the data of the portal link's page.
type portalData struct {
	Token string
}

// showPortal serves GET /ui/portal/<token>: a page that redeems the link
// with a POST when its reader opens it. It reads the link but never uses it
// up, and leaves the browser's session alone.
func (h *handler) showPortal(w http.ResponseWriter, r *http.Request) {
	r = h.portalRequest(w, r)
	token := r.PathValue("token")
	if !auth.IsPortalToken(token) {
		h.refusePortal(w, r)
		return
	}
	err := h.store.PortalLinkLive(r.Context(), auth.Hash(token), h.now())
	if errors.Is(err, store.ErrNotFound) {
		h.refusePortal(w, r)
		return
	}
	if err != nil {
		h.log.Error("dashboard portal link", "err", err)
		h.renderError(w, r, nil, http.StatusServiceUnavailable, "Herald could not read the portal link; try again.")
		return
	}
	h.render(w, r, nil, http.StatusOK, "portal", view{Title: "Portal", Data: portalData{Token: token}})
}

// redeemPortal serves POST /ui/portal: the link's token (form field
// "token") opens a session, once, and the browser moves on to the
// webhooks. A session the browser had is ended only once the link has
// opened the new one.
func (h *handler) redeemPortal(w http.ResponseWriter, r *http.Request) {
	r = h.portalRequest(w, r)
	token := r.PostFormValue("token")
	if !auth.IsPortalToken(token) {
		h.refusePortal(w, r)
		return
	}
	id, hash, err := newSessionID()
	if err != nil {
		h.renderError(w, r, nil, http.StatusServiceUnavailable, "Herald could not start a session; try again.")
		return
	}
	now := h.now()
	if _, err := h.store.PurgeSessions(r.Context(), now, sessionIdle); err != nil {
		h.log.Warn("dashboard sessions not purged", "err", err)
	}
	sess, err := h.store.RedeemPortalLink(r.Context(), auth.Hash(token), now,
		store.Session{Hash: hash, Created: now, LastSeen: now, Expires: now.Add(sessionLifetime)})
	if errors.Is(err, store.ErrNotFound) {
		h.refusePortal(w, r)
		return
	}
	if err != nil {
		h.log.Error("dashboard portal sign-in", "err", err)
		h.renderError(w, r, nil, http.StatusServiceUnavailable, "Herald could not read the portal link; try again.")
		return
	}
	if old, err := r.Cookie(sessionCookie); err == nil && validSessionID(old.Value) {
		if err := h.store.DeleteSession(r.Context(), hashSessionID(old.Value)); err != nil {
			h.log.Error("dashboard portal sign-in: the previous session was not ended", "err", err)
		}
	}
	http.SetCookie(w, h.cookie(r, sessionCookie, id, sessionLifetime))
	h.log.Info("dashboard portal sign-in", "key_id", sess.KeyID, "tenant_id", sess.PortalTenant, "read_only", sess.ReadOnly, "remote", r.RemoteAddr)
	// A redirect is enough: the POST comes from the link's own page, so it
	// and the redirect are same-site navigations, which carry the new
	// SameSite=Strict cookie (a navigation from another site would not).
	h.redirect(w, r, "/webhooks")
}
