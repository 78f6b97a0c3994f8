// Package web is Herald's operator dashboard, served at /ui (SPEC section
// 5): sign-in with an API key, webhooks with their status, health and a
// delivery chart, recent notifications with filters and search, one
// notification's payload and attempts, and the actions re-send expired,
// ping and disable/enable.
//
// Pages are rendered on the server with html/template from embedded assets;
// there is no JavaScript and nothing is loaded from elsewhere, so it works
// offline. The dashboard talks to Herald only through its HTTP API: it calls
// the API handler in-process with the signed-in key, so it sees and may do
// exactly what that key may.
package web

import (
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Prefix is the path the dashboard is served under.
const Prefix = "/ui"

//go:embed assets
var assets embed.FS

// Config adjusts the dashboard; the zero value is ready to use.
type Config struct {
	// Logger receives unexpected failures (default: discarded).
	Logger *slog.Logger
	// Now is the clock (default: time.Now); tests may fix it.
	Now func() time.Time
}

// handler serves the dashboard.
type handler struct {
	api      http.Handler
	prefix   string
	log      *slog.Logger
	now      func() time.Time
	pages    map[string]*template.Template
	partials *template.Template
	static   http.Handler
	mux      *http.ServeMux
	origin   *http.CrossOriginProtection

	eventsMu sync.Mutex
	events   []string // the event catalogue's names, read once
}

// maxForm bounds a dashboard form body.
const maxForm = 64 << 10

// New returns the dashboard's handler for paths under /ui. api is Herald's
// API handler (api.New), which the dashboard calls in-process.
func New(api http.Handler, cfg Config) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &handler{api: api, prefix: Prefix, log: cfg.Logger, now: cfg.Now,
		pages: map[string]*template.Template{}, origin: http.NewCrossOriginProtection()}
	h.parseTemplates()
	static, err := fs.Sub(assets, "assets/static")
	if err != nil {
		panic(err)
	}
	h.static = http.StripPrefix(Prefix+"/static/", http.FileServerFS(static))
	h.origin.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.renderError(w, r, nil, http.StatusForbidden, "This form was sent from another site and was refused.")
	}))

	m := http.NewServeMux()
	p := Prefix
	m.HandleFunc("GET "+p, func(w http.ResponseWriter, r *http.Request) { h.redirect(w, r, "/") })
	m.HandleFunc("GET "+p+"/{$}", h.home)
	m.Handle("GET "+p+"/static/{file}", h.static)
	m.HandleFunc("GET "+p+"/signin", h.signinForm)
	m.HandleFunc("POST "+p+"/signin", h.signin)
	m.HandleFunc("POST "+p+"/signout", h.signedIn(h.signout))
	m.HandleFunc("POST "+p+"/tenant", h.signedIn(h.switchTenant))
	m.HandleFunc("GET "+p+"/webhooks", h.signedIn(h.webhookList))
	m.HandleFunc("GET "+p+"/webhooks/{id}", h.signedIn(h.webhookPage))
	m.HandleFunc("POST "+p+"/webhooks/{id}/ping", h.signedIn(h.pingAction))
	m.HandleFunc("POST "+p+"/webhooks/{id}/status", h.signedIn(h.statusAction))
	m.HandleFunc("POST "+p+"/webhooks/{id}/sendexpired", h.signedIn(h.sendExpiredAction))
	m.HandleFunc("GET "+p+"/notifications", h.signedIn(h.notificationList))
	m.HandleFunc("GET "+p+"/notifications/{id}", h.signedIn(h.notificationPage))
	m.HandleFunc("POST "+p+"/notifications/{id}/resend", h.signedIn(h.resendAction))
	m.HandleFunc(p+"/", func(w http.ResponseWriter, r *http.Request) {
		h.renderError(w, r, nil, http.StatusNotFound, "There is no page at "+r.URL.Path+".")
	})
	h.mux = m
	return h
}

// Mount returns a handler that serves the dashboard under /ui (built on
// api) and passes every other request to api unchanged.
func Mount(api http.Handler, cfg Config) http.Handler {
	ui := New(api, cfg)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == Prefix || strings.HasPrefix(r.URL.Path, Prefix+"/") {
			ui.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
}

// ServeHTTP sets the security headers every answer carries, then routes.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; "+
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	if !strings.HasPrefix(r.URL.Path, Prefix+"/static/") {
		hd.Set("Cache-Control", "no-store")
	}
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	}
	h.origin.Handler(h.mux).ServeHTTP(w, r)
}

// request is one signed-in request: its session and an API client acting
// with the session's key.
type request struct {
	sess session
	api  *client
}

// signedIn wraps a page that needs a session: without one it redirects to
// the sign-in form; a POST must carry the session's CSRF token.
func (h *handler) signedIn(fn func(http.ResponseWriter, *http.Request, *request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, ok := sessionFrom(r)
		if !ok {
			if r.Method == http.MethodGet {
				h.redirect(w, r, "/signin")
				return
			}
			h.renderError(w, r, nil, http.StatusForbidden, "You are not signed in (or your sign-in ran out). Sign in and try again.")
			return
		}
		if r.Method == http.MethodPost && !s.checkCSRF(r.PostFormValue(csrfField)) {
			h.renderError(w, r, &s, http.StatusForbidden, "This form has no valid CSRF token (it may be from an earlier sign-in). Reload the page and try again.")
			return
		}
		tenant := ""
		if s.Admin {
			tenant = s.Tenant
		}
		fn(w, r, &request{sess: s, api: &client{api: h.api, key: s.Key, tenant: tenant, remote: r.RemoteAddr}})
	}
}

// home sends a visitor to the webhooks or to the sign-in form.
func (h *handler) home(w http.ResponseWriter, r *http.Request) {
	if _, ok := sessionFrom(r); ok {
		h.redirect(w, r, "/webhooks")
		return
	}
	h.redirect(w, r, "/signin")
}

// redirect answers 303 See Other to a dashboard path (post/redirect/get).
func (h *handler) redirect(w http.ResponseWriter, r *http.Request, path string) {
	http.Redirect(w, r, h.prefix+path, http.StatusSeeOther)
}

// apiFailure shows an API failure: an unknown key ends the session, a
// missing resource is a 404 page, anything else an error page.
func (h *handler) apiFailure(w http.ResponseWriter, r *http.Request, rq *request, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		h.log.Error("dashboard", "method", r.Method, "path", r.URL.Path, "err", err)
		h.renderError(w, r, &rq.sess, http.StatusInternalServerError, "Something went wrong reading Herald's answer.")
		return
	}
	switch ae.Status {
	case http.StatusUnauthorized:
		http.SetCookie(w, h.cookie(r, sessionCookie, "", -1))
		h.setFlash(w, r, flash{Text: "Herald no longer accepts this API key: sign in again."})
		h.redirect(w, r, "/signin")
	case http.StatusForbidden:
		h.renderError(w, r, &rq.sess, http.StatusForbidden, "This API key may not do that: "+ae.Error())
	case http.StatusNotFound:
		h.renderError(w, r, &rq.sess, http.StatusNotFound, "Not found: "+ae.Error())
	default:
		status := ae.Status
		if status < 400 || status > 599 {
			status = http.StatusBadGateway
		}
		h.renderError(w, r, &rq.sess, status, "Herald answered "+http.StatusText(ae.Status)+": "+ae.Error())
	}
}
