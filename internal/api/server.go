// Package api is Herald's management and publishing HTTP API, compatible
// with the NymCard nCore webhook API (SPEC section 2).
package api

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/heraldhq/herald/internal/auth"
	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/netguard"
	"github.com/heraldhq/herald/internal/publish"
	"github.com/heraldhq/herald/internal/store"
)

// Store is what the API needs from Herald's store.
type Store interface {
	Ping(ctx context.Context) error
	// CheckWrites reports whether a write can commit (cheap: a recent
	// commit or probe answers).
	CheckWrites(ctx context.Context) error

	CreateTenant(ctx context.Context, t store.Tenant, keys ...store.APIKey) error
	Tenant(ctx context.Context, idOrName string) (store.Tenant, error)
	Tenants(ctx context.Context, p store.Page) ([]store.Tenant, store.Paging, error)
	CreateAPIKey(ctx context.Context, k store.APIKey) error
	APIKeyByHash(ctx context.Context, hash string) (store.APIKey, error)
	APIKeys(ctx context.Context, tenantID string) ([]store.APIKey, error)
	RevokeAPIKey(ctx context.Context, id string, now time.Time) error

	CreateWebhook(ctx context.Context, w store.Webhook, maxPerTenant int) error
	Webhook(ctx context.Context, tenantID, id string) (store.Webhook, error)
	Webhooks(ctx context.Context, tenantID string, p store.Page) ([]store.Webhook, store.Paging, error)
	UpdateWebhook(ctx context.Context, tenantID, id string, change func(*store.Webhook) error) (store.Webhook, error)
	DeleteWebhook(ctx context.Context, tenantID, id string, now time.Time) (int, error)

	Publish(ctx context.Context, req store.PublishRequest) (store.PublishResult, error)
	Event(ctx context.Context, tenantID, id string) (store.Event, []store.Notification, error)
	Events(ctx context.Context, f store.EventFilter, p store.Page) ([]store.Event, store.Paging, error)
	CreatePortalLink(ctx context.Context, l store.PortalLink) error
	Resend(ctx context.Context, f store.NotificationFilter, now time.Time, max int, dryRun bool) (int, bool, error)
	SearchNotifications(ctx context.Context, f store.NotificationFilter, p store.Page) ([]store.Notification, store.Paging, error)
	RequeueExpired(ctx context.Context, f store.NotificationFilter, now time.Time) (int, error)
	Replay(ctx context.Context, req store.ReplayRequest) (int, error)

	SourceStore
}

// SourceStore keeps the broker sources (an admin's).
type SourceStore interface {
	CreateSource(ctx context.Context, src store.Source) error
	Source(ctx context.Context, id string) (store.Source, error)
	Sources(ctx context.Context, p store.Page) ([]store.Source, store.Paging, error)
	SetSourceStatus(ctx context.Context, id, status string, now time.Time) (store.Source, error)
	DeleteSource(ctx context.Context, id string) error
	RejectedMessages(ctx context.Context, sourceID string, p store.Page) ([]store.RejectedMessage, store.Paging, error)
}

// Waker is told when new work is queued (the dispatcher).
type Waker = publish.Waker

// Observer is told of every accepted event (the metrics).
type Observer = publish.Observer

// Config is everything the API is built from.
type Config struct {
	Store   Store
	Catalog *catalog.Catalog
	Sender  *delivery.Sender // makes ping requests
	Waker   Waker
	Guard   netguard.Guard
	// AllowHTTP permits http:// endpoints (otherwise https only).
	AllowHTTP bool
	// MaxWebhooksPerTenant bounds registrations (0: no bound).
	MaxWebhooksPerTenant int
	// MaxFanout bounds the notifications one publish or replay request may
	// create (0: no bound).
	MaxFanout int
	// Retention is how long events are sure to be kept (0: forever): a
	// replay may not reach further back.
	Retention time.Duration
	// Handoff takes notifications straight from their publish (the
	// dispatcher; nil: every notification waits for a claim).
	Handoff store.Handoff
	// Resolver checks endpoint hosts at registration (nil: the default).
	Resolver *net.Resolver
	// Observer is told of published events (nil: nobody).
	Observer Observer
	// Sources is this replica's consumer of broker sources (nil: none
	// runs here; their states read "starting").
	Sources Sources
	// PublicURL is where users reach Herald (nil: the request's host),
	// for the links POST /portal-sessions answers.
	PublicURL *url.URL
	Logger    *slog.Logger
}

// Body size limits.
const (
	maxBody      = 1 << 20  // every request
	maxBatchBody = 16 << 20 // POST /events:batch (up to 1000 events)
)

type server struct {
	Config
	creds *credentialCache
}

// New returns the API's HTTP handler: callers authenticate with an API key
// in the request.
func New(cfg Config) http.Handler {
	s := newServer(cfg)
	return s.router(s.authenticate)
}

func newServer(cfg Config) *server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	return &server{Config: cfg, creds: newCredentialCache(time.Now)}
}

// router is the API's routes; authn establishes the caller's principal.
func (s *server) router(authn func(http.Handler) http.Handler) http.Handler {
	cfg := s.Config
	r := chi.NewRouter()
	r.Use(s.recoverer, s.limitBody, refuseMalformed)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) { writeError(w, notFound("path "+r.URL.Path)) })
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) { writeError(w, methodNotAllowed(r)) })

	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	r.Get("/openapi.json", openAPIHandler(cfg.Catalog)) // the OpenAPI 3.1 document, no authentication

	r.Group(func(r chi.Router) {
		r.Use(authn, s.audit)
		client := func(h handlerFunc) http.HandlerFunc { return s.handle(h, store.RoleClient) }
		publisher := func(h handlerFunc) http.HandlerFunc { return s.handle(h, store.RolePublisher) }
		reader := func(h handlerFunc) http.HandlerFunc { return s.handle(h, store.RoleClient, store.RolePublisher) }
		admin := func(h handlerFunc) http.HandlerFunc { return s.handle(h) }

		r.Post("/webhooks", client(s.createWebhook))
		r.Get("/webhooks", client(s.listWebhooks))
		r.Post("/webhooks:search", client(s.search))
		r.Post("/webhooks:sendexpired", client(s.sendExpired))
		r.Post("/webhooks/sendexpired", client(s.sendExpired))
		r.Get("/webhooks/{id}", client(s.getWebhook))
		r.Put("/webhooks/{id}", client(s.updateWebhook))
		r.Delete("/webhooks/{id}", client(s.deleteWebhook))
		r.Post("/webhooks/{id}", client(s.webhookVerb))
		r.Post("/webhooks/{id}/secret:rotate", client(s.rotateSecret))
		r.Post("/notifications:resend", client(s.bulkResend))
		r.Post("/notifications/{id}", client(s.notificationVerb))

		r.Post("/events", publisher(s.publish))
		r.Get("/events", reader(s.listEvents))
		r.Post("/events:batch", publisher(s.publishBatch))
		r.Get("/events/{id}", reader(s.getEvent))
		r.Get("/event-types", reader(s.eventTypes))
		r.Get("/event-types/{name}", reader(s.eventType))

		r.Post("/portal-sessions", client(s.createPortalSession))

		r.Post("/tenants", admin(s.createTenant))
		r.Get("/tenants", admin(s.listTenants))
		r.Get("/tenants/{id}", admin(s.getTenant))
		r.Post("/tenants/{id}/keys", admin(s.createKey))
		r.Get("/tenants/{id}/keys", admin(s.listKeys))
		r.Delete("/keys/{id}", admin(s.revokeKey))

		r.Post("/sources", admin(s.createSource))
		r.Get("/sources", admin(s.listSources))
		r.Get("/sources/{id}", admin(s.getSource))
		r.Put("/sources/{id}", admin(s.updateSource))
		r.Delete("/sources/{id}", admin(s.deleteSource))
		r.Get("/sources/{id}/rejected", admin(s.listRejected))
	})
	return r
}

// webhookVerbs are the custom methods on /webhooks/{id}:<verb>.
var webhookVerbs = map[string]bool{"ping": true, "replay": true, "test": true}

// notificationVerbs are the custom methods on /notifications/{id}:<verb>.
var notificationVerbs = map[string]bool{"resend": true}

// methodNotAllowed answers 405, naming the methods the path does accept.
func methodNotAllowed(r *http.Request) *apiError {
	return &apiError{Status: http.StatusMethodNotAllowed, Code: codeMethod,
		Message: r.Method + " is not allowed on " + r.URL.Path}
}

// principal is who a request acts as: the key's role and the tenant it acts
// on (for admin keys, the one named in Herald-Tenant).
type principal struct {
	KeyID     string
	KeyPrefix string
	Role      store.Role
	TenantID  string
	// Via is how the request came in: "api" (an API key in the request)
	// or "dashboard" (in-process, see NewInProcess).
	Via string
}

type ctxKey struct{}

func principalFrom(ctx context.Context) principal {
	p, _ := ctx.Value(ctxKey{}).(principal)
	return p
}

func (s *server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := auth.FromRequest(r)
		if key == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="herald"`)
			writeError(w, &apiError{Status: http.StatusUnauthorized, Code: codeUnauthorized,
				Message: "an API key is required in the apikey header or as a Bearer token"})
			return
		}
		k, err := s.apiKey(r.Context(), auth.Hash(key))
		if errors.Is(err, store.ErrNotFound) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="herald", error="invalid_token"`)
			writeError(w, &apiError{Status: http.StatusUnauthorized, Code: codeUnauthorized, Message: "unknown or revoked API key"})
			return
		}
		if err != nil {
			writeError(w, s.storeError(r, err, "check API key"))
			return
		}
		s.serveAs(w, r, next, k, "api")
	})
}

// serveAs serves r as key k, whose record the caller has just read and
// found unrevoked. An admin key acts on the tenant named in Herald-Tenant
// (default: "default"). via names the way in, for the audit log.
func (s *server) serveAs(w http.ResponseWriter, r *http.Request, next http.Handler, k store.APIKey, via string) {
	p := principal{KeyID: k.ID, KeyPrefix: k.Prefix, Role: k.Role, TenantID: k.TenantID, Via: via}
	if k.Role == store.RoleAdmin {
		name := strings.TrimSpace(r.Header.Get("Herald-Tenant"))
		if name == "" {
			name = "default"
		}
		id, err := s.tenantID(r.Context(), name)
		if err != nil {
			writeError(w, s.storeError(r, err, "tenant "+name))
			return
		}
		p.TenantID = id
	}
	next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, p)))
}

// apiKey returns the unrevoked key with this hash, from the cache when it
// was read within credentialTTL.
func (s *server) apiKey(ctx context.Context, hash string) (store.APIKey, error) {
	if k, ok := s.creds.key(hash); ok {
		return k, nil
	}
	k, err := s.Store.APIKeyByHash(ctx, hash)
	if err != nil {
		return k, err
	}
	s.creds.putKey(hash, k)
	return k, nil
}

// tenantID resolves a tenant's name or id.
func (s *server) tenantID(ctx context.Context, name string) (string, error) {
	if id, ok := s.creds.tenant(name); ok {
		return id, nil
	}
	t, err := s.Store.Tenant(ctx, name)
	if err != nil {
		return "", err
	}
	s.creds.putTenant(name, t.ID)
	return t.ID, nil
}

// handlerFunc is an API handler: it writes its success answer itself and
// returns an *apiError (or any error, mapped by storeError) on failure.
type handlerFunc func(w http.ResponseWriter, r *http.Request, p principal) error

// handle checks the caller's role (admin may do everything) and turns a
// returned error into the error answer.
func (s *server) handle(h handlerFunc, roles ...store.Role) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := principalFrom(r.Context())
		if p.Role != store.RoleAdmin && !containsRole(roles, p.Role) {
			writeError(w, &apiError{Status: http.StatusForbidden, Code: codeForbidden,
				Message: "a " + string(p.Role) + " key may not do this"})
			return
		}
		if err := h(w, r, p); err != nil {
			var ae *apiError
			if !errors.As(err, &ae) {
				ae = s.storeError(r, err, r.Method+" "+r.URL.Path)
			}
			writeError(w, ae)
		}
	}
}

func containsRole(roles []store.Role, r store.Role) bool {
	for _, x := range roles {
		if x == r {
			return true
		}
	}
	return false
}

// storeError maps a store failure to an answer; unexpected ones are logged
// and reported as the database being unavailable.
func (s *server) storeError(r *http.Request, err error, what string) *apiError {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound(what)
	case errors.Is(err, store.ErrConflict):
		return &apiError{Status: http.StatusConflict, Code: codeConflict, Message: what + ": " + err.Error()}
	case errors.Is(err, store.ErrLimit):
		return &apiError{Status: http.StatusConflict, Code: codeLimit, Message: what + ": " + err.Error()}
	case errors.Is(err, context.Canceled):
		return &apiError{Status: 499, Code: codeUnavailable, Message: "request cancelled"}
	}
	s.Logger.Error("store", "op", what, "method", r.Method, "path", r.URL.Path, "err", err)
	return &apiError{Status: http.StatusServiceUnavailable, Code: codeUnavailable,
		Message: "the database is unavailable; nothing was changed, try again"}
}

func (s *server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Logger.Error("panic", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				writeError(w, &apiError{Status: http.StatusInternalServerError, Code: codeInternal, Message: "internal error"})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func (s *server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := int64(maxBody)
		if r.URL.Path == "/events:batch" {
			limit = maxBatchBody
		}
		if r.ContentLength > limit {
			writeError(w, &apiError{Status: http.StatusRequestEntityTooLarge, Code: codeTooLarge,
				Message: "request body is larger than " + itoa(limit) + " bytes"})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

func (s *server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.Store.Ping(ctx); err != nil {
		s.Logger.Warn("readiness check failed", "err", err)
		writeError(w, &apiError{Status: http.StatusServiceUnavailable, Code: codeUnavailable, Message: "database unreachable"})
		return
	}
	// A database that reads but cannot write (a full disk) serves nothing
	// useful: every publish would fail. The detail goes to the log only.
	if err := s.Store.CheckWrites(ctx); err != nil {
		s.Logger.Warn("readiness check failed: the database refuses writes", "err", err)
		writeError(w, &apiError{Status: http.StatusServiceUnavailable, Code: codeUnavailable,
			Message: "the database answers but refuses writes (a full disk, a read-only database); see the log"})
		return
	}
	// A broker outage leaves the replica ready (its API serves, and the
	// broker keeps the messages): the sources' states are reported only.
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "sources": s.sourceStates()})
}
