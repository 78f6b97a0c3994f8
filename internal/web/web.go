// Package web is Herald's operator dashboard, served at /ui (SPEC section
// 5): sign-in with an API key, webhooks with their status, health and a
// delivery chart, recent notifications with filters and search, one
// notification's payload and attempts, and the actions re-send expired,
// replay a window, ping and disable/enable.
//
// Pages are rendered on the server with html/template from embedded assets;
// there is no JavaScript and nothing is loaded from elsewhere, so it works
// offline. The dashboard reads and changes Herald only through its HTTP API:
// it calls the API in-process as the signed-in key (api.NewInProcess and
// api.AsKey), so it sees and may do exactly what that key may. Its own
// records live in the database beside Herald's (Store): sessions, so that
// every replica shares them and sign-out ends them, and the webhook
// activity its pages show.
package web

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// Prefix is the path the dashboard is served under.
const Prefix = "/ui"

//go:embed assets
var assets embed.FS

// Store is what the dashboard keeps in Herald's database (sqlstore.Store):
// its sessions, the API keys they stand for, and the webhook activity its
// pages show (read only for a webhook the API has just shown the session's
// key, and in that key's tenant).
type Store interface {
	APIKeyByHash(ctx context.Context, hash string) (store.APIKey, error)
	Tenant(ctx context.Context, idOrName string) (store.Tenant, error)
	WebhookActivity(ctx context.Context, tenantID, webhookID string, n, pendingCap int) (store.WebhookActivity, error)
	CreateSession(ctx context.Context, s store.Session) error
	Session(ctx context.Context, hash string, now time.Time, idle time.Duration) (store.Session, store.APIKey, error)
	TouchSession(ctx context.Context, hash string, now time.Time) error
	SetSessionTenant(ctx context.Context, hash, tenant string) error
	DeleteSession(ctx context.Context, hash string) error
	PurgeSessions(ctx context.Context, now time.Time, idle time.Duration) (int, error)
	PortalLinkLive(ctx context.Context, hash string, now time.Time) error
	RedeemPortalLink(ctx context.Context, hash string, now time.Time, sess store.Session) (store.Session, error)
}

// Config is what the dashboard is built from; API and Store are required.
type Config struct {
	// API is Herald's API for the dashboard (api.NewInProcess), called
	// in-process as the signed-in key.
	API http.Handler
	// Store keeps the sessions.
	Store Store
	// PublicURL is the address users reach Herald at (nil: unknown). When
	// it is https, cookies are Secure even if a proxy in front of Herald
	// ends TLS, and forms posted from its origin are accepted.
	PublicURL *url.URL
	// PortalOrigins are the origins allowed to frame the dashboard's
	// portal sessions (CSP frame-ancestors; see ParseOrigins). None: the
	// dashboard is never framed. Their cookies work inside such a frame
	// (SameSite=None, Secure, Partitioned) only with an https PublicURL.
	PortalOrigins []string
	// Logger receives the sign-in log and unexpected failures (default:
	// discarded).
	Logger *slog.Logger
	// Now is the clock (default: time.Now); tests may fix it.
	Now func() time.Time
}

// handler serves the dashboard.
type handler struct {
	api    http.Handler
	store  Store
	secure bool // every cookie is Secure
	// frameAncestors are the origins that may frame a portal session's
	// pages ("": none); embed says their cookies are made for a frame.
	frameAncestors string
	embed          bool
	prefix         string
	log            *slog.Logger
	now            func() time.Time
	pages          map[string]*template.Template
	partials       *template.Template
	static         http.Handler
	mux            *http.ServeMux
	origin         *http.CrossOriginProtection

	eventsMu  sync.Mutex
	catalogue []eventType // the event catalogue, read once
}

// maxForm bounds a dashboard form body.
const maxForm = 64 << 10

// New returns the dashboard's handler for paths under /ui.
func New(cfg Config) http.Handler {
	if cfg.API == nil || cfg.Store == nil {
		panic("web.New: Config.API and Config.Store are required")
	}
	return newHandler(cfg)
}

func newHandler(cfg Config) *handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &handler{api: cfg.API, store: cfg.Store, prefix: Prefix, log: cfg.Logger, now: cfg.Now,
		pages: map[string]*template.Template{}, origin: http.NewCrossOriginProtection()}
	if u := cfg.PublicURL; u != nil && u.Host != "" {
		h.secure = u.Scheme == "https"
		if err := h.origin.AddTrustedOrigin(u.Scheme + "://" + u.Host); err != nil {
			panic("web.New: public URL: " + err.Error())
		}
	}
	h.frameAncestors = strings.Join(cfg.PortalOrigins, " ")
	h.embed = h.frameAncestors != "" && h.secure
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
	m.HandleFunc("GET "+p+"/portal/{token}", h.showPortal)
	m.HandleFunc("POST "+p+"/portal", h.redeemPortal)
	for _, rt := range h.signedInRoutes() {
		m.HandleFunc(rt.method+" "+p+rt.path, h.signedIn(rt.fn))
	}
	m.HandleFunc(p+"/", func(w http.ResponseWriter, r *http.Request) {
		h.renderError(w, r, nil, http.StatusNotFound, "There is no page at "+r.URL.Path+".")
	})
	h.mux = m
	return h
}

// route is a page or action of a signed-in session.
type route struct {
	method, path string // path below the prefix
	fn           func(http.ResponseWriter, *http.Request, *request)
}

// signedInRoutes are the pages and actions that need a session; a POST
// also needs the session's CSRF token, and a read-only session may POST
// only its sign-out.
func (h *handler) signedInRoutes() []route {
	return []route{
		{"POST", "/signout", h.signout},
		{"POST", "/tenant", h.switchTenant},
		{"GET", "/webhooks", h.webhookList},
		{"GET", "/webhooks/new", h.newWebhookForm},
		{"POST", "/webhooks", h.saveWebhook},
		{"GET", "/webhooks/{id}", h.webhookPage},
		{"GET", "/webhooks/{id}/edit", h.editWebhookForm},
		{"POST", "/webhooks/{id}/edit", h.saveWebhook},
		{"POST", "/webhooks/{id}/rotate", h.rotateAction},
		{"GET", "/webhooks/{id}/delete", h.deleteForm},
		{"POST", "/webhooks/{id}/delete", h.deleteAction},
		{"POST", "/webhooks/{id}/ping", h.pingAction},
		{"POST", "/webhooks/{id}/status", h.statusAction},
		{"POST", "/webhooks/{id}/sendexpired", h.sendExpiredAction},
		{"POST", "/webhooks/{id}/replay", h.replayAction},
		{"GET", "/notifications", h.notificationList},
		{"GET", "/notifications/{id}", h.notificationPage},
		{"POST", "/notifications/{id}/resend", h.resendAction},
		{"GET", "/notifications/resend", h.bulkForm},
		{"POST", "/notifications/resend", h.bulkAction},
		{"GET", "/events/{id}", h.eventPage},
		{"GET", "/webhooks/{id}/test", h.testForm},
		{"POST", "/webhooks/{id}/test", h.testAction},
	}
}

// Mount returns a handler that serves the dashboard under /ui and passes
// every other request unchanged to public, Herald's API as served on the
// network (api.New).
func Mount(public http.Handler, cfg Config) http.Handler {
	ui := New(cfg)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == Prefix || strings.HasPrefix(r.URL.Path, Prefix+"/") {
			ui.ServeHTTP(w, r)
			return
		}
		public.ServeHTTP(w, r)
	})
}

// ServeHTTP sets the security headers every answer carries, then routes.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", contentPolicy("'none'"))
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
// as the session's key.
type request struct {
	sess *session
	api  *client
}

// newRequest makes the signed-in request of s.
func (h *handler) newRequest(r *http.Request, s *session) *request {
	c := h.clientAs(r, s.principal(), s.Tenant())
	c.readOnly = s.ReadOnly()
	return &request{sess: s, api: c}
}

// clientAs is an API client acting as key k (on tenant, for an admin key).
func (h *handler) clientAs(r *http.Request, k store.APIKey, tenant string) *client {
	return &client{api: h.api, as: k, tenant: tenant, remote: r.RemoteAddr}
}

// signedIn wraps a page that needs a session: without one it redirects to
// the sign-in form (clearing a dead cookie); a POST must carry the
// session's CSRF token.
func (h *handler) signedIn(fn func(http.ResponseWriter, *http.Request, *request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := h.sessionFrom(r)
		if err != nil {
			h.noSession(w, r, err)
			return
		}
		if s.Portal() {
			r = h.portalRequest(w, r)
		}
		rq := h.newRequest(r, s)
		if r.Method == http.MethodPost && !s.checkCSRF(r.PostFormValue(csrfField)) {
			h.renderError(w, r, rq, http.StatusForbidden, "This form has no valid CSRF token (it may be from an earlier sign-in). Reload the page and try again.")
			return
		}
		if r.Method == http.MethodPost && s.ReadOnly() && r.URL.Path != h.prefix+"/signout" {
			h.renderError(w, r, rq, http.StatusForbidden, "This portal session is read-only: it can look, not change anything.")
			return
		}
		fn(w, r, rq)
	}
}

// noSession answers a request that needs a session and has none.
func (h *handler) noSession(w http.ResponseWriter, r *http.Request, err error) {
	if r.Header.Get("Sec-Fetch-Dest") == "iframe" && h.frameAncestors != "" {
		// Inside the platform's frame, a portal session that ended: no
		// sign-in form (never framed), but a page that says so.
		r = h.portalRequest(w, r)
	}
	if !errors.Is(err, errNoSession) {
		h.log.Error("dashboard session", "err", err)
		h.renderError(w, r, nil, http.StatusServiceUnavailable, "Herald could not read your session; try again.")
		return
	}
	if _, cerr := r.Cookie(sessionCookie); cerr == nil {
		http.SetCookie(w, h.cookie(r, sessionCookie, "", -1))
	}
	if r.Method == http.MethodGet && !framed(r) {
		h.redirect(w, r, "/signin")
		return
	}
	if framed(r) {
		h.renderError(w, r, nil, http.StatusUnauthorized, "Your portal session has ended. Open the portal again from where you came from.")
		return
	}
	h.renderError(w, r, nil, http.StatusForbidden, "You are not signed in (or your sign-in ran out). Sign in and try again.")
}

// home sends a visitor to the webhooks or to the sign-in form.
func (h *handler) home(w http.ResponseWriter, r *http.Request) {
	if _, err := h.sessionFrom(r); err == nil {
		h.redirect(w, r, "/webhooks")
		return
	}
	h.redirect(w, r, "/signin")
}

// redirect answers 303 See Other to a dashboard path (post/redirect/get).
func (h *handler) redirect(w http.ResponseWriter, r *http.Request, path string) {
	http.Redirect(w, r, h.prefix+path, http.StatusSeeOther)
}

// storeFailure shows a failure to read the dashboard's own records.
func (h *handler) storeFailure(w http.ResponseWriter, r *http.Request, rq *request, err error) {
	if errors.Is(err, store.ErrNotFound) {
		h.renderError(w, r, rq, http.StatusNotFound, "Not found: "+err.Error())
		return
	}
	h.log.Error("dashboard", "method", r.Method, "path", r.URL.Path, "err", err)
	h.renderError(w, r, rq, http.StatusServiceUnavailable, "Herald could not read its database; try again.")
}

// apiFailure shows an API failure: an unknown key ends the session, a
// missing resource is a 404 page, anything else an error page.
func (h *handler) apiFailure(w http.ResponseWriter, r *http.Request, rq *request, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		h.log.Error("dashboard", "method", r.Method, "path", r.URL.Path, "err", err)
		h.renderError(w, r, rq, http.StatusInternalServerError, "Something went wrong reading Herald's answer.")
		return
	}
	switch ae.Status {
	case http.StatusUnauthorized:
		h.endSession(w, r, rq.sess)
		h.setFlash(w, r, flash{Text: "Herald no longer accepts this API key: sign in again."})
		h.redirect(w, r, "/signin")
	case http.StatusForbidden:
		h.renderError(w, r, rq, http.StatusForbidden, "This API key may not do that: "+ae.Error())
	case http.StatusNotFound:
		h.renderError(w, r, rq, http.StatusNotFound, "Not found: "+ae.Error())
	default:
		status := ae.Status
		if status < 400 || status > 599 {
			status = http.StatusBadGateway
		}
		h.renderError(w, r, rq, status, "Herald answered "+http.StatusText(ae.Status)+": "+ae.Error())
	}
}
