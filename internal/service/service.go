// Package service assembles a running Herald: store, dispatcher and HTTP
// API, with the first-start bootstrap and graceful shutdown.
package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/heraldhq/herald/internal/api"
	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/egress"
	"github.com/heraldhq/herald/internal/metrics"
	"github.com/heraldhq/herald/internal/netguard"
	"github.com/heraldhq/herald/internal/policy"
	"github.com/heraldhq/herald/internal/publish"
	"github.com/heraldhq/herald/internal/source"
	"github.com/heraldhq/herald/internal/store/sqlite"
	"github.com/heraldhq/herald/internal/tracing"
	"github.com/heraldhq/herald/internal/web"
)

// Config is what `herald serve` is started with.
type Config struct {
	Addr    string
	DataDir string
	// DatabaseURL selects PostgreSQL (several replicas may share it);
	// empty means the embedded SQLite database in DataDir.
	DatabaseURL          string
	AdminKey             string
	RetrySchedule        []time.Duration
	AllowHTTP            bool
	AllowPrivateTargets  bool
	MaxWebhooksPerTenant int
	// MaxConcurrency bounds the attempts in flight in this process, across
	// every webhook (0: delivery.DefaultMaxConcurrency).
	MaxConcurrency int
	// MaxFanout bounds the notifications one publish request may create
	// (0: no bound).
	MaxFanout     int
	ShutdownGrace time.Duration
	// Lease is how long a claimed notification stays reserved to one
	// replica (see delivery.Config.Lease).
	Lease time.Duration
	// DisableAfter disables a webhook failing without a success this long.
	DisableAfter time.Duration
	// SourceRefresh is how often the sources table is re-read, so that
	// sources changed through another replica start or stop here too (0:
	// source.DefaultRefresh).
	SourceRefresh time.Duration
	// Tracing overrides the tracing set up from OTEL_EXPORTER_OTLP_ENDPOINT
	// (tests use an in-memory exporter).
	Tracing *tracing.Tracing
	// Retention is how long delivered and cancelled notifications and their
	// attempts are kept; expired ones are kept twice as long (0: forever).
	Retention time.Duration
	// PublicURL is the address users reach Herald at, when a proxy in
	// front of it changes it (empty: unknown). An https one makes the
	// dashboard's cookies Secure even though Herald itself serves HTTP.
	PublicURL string
	// PortalOrigins are the comma-separated origins that may frame the
	// dashboard's portal sessions (web.ParseOrigins; empty: none).
	PortalOrigins string
	// ProxyURL is the HTTP CONNECT proxy deliveries, pings and token
	// requests go through (empty: none); see egress.ParseProxyURL.
	ProxyURL string
	Version  string
	Logger   *slog.Logger
	// Out receives the one-time admin key notice (stdout for the CLI).
	Out io.Writer
}

// Service is a running Herald.
type Service struct {
	store    *opened
	listener net.Listener
	http     *http.Server
	log      *slog.Logger

	tracing       *tracing.Tracing
	stopDispatch  context.CancelFunc
	stopSources   context.CancelFunc
	sourced       chan struct{}
	stopListen    context.CancelFunc
	fanned        chan struct{} // closed when the deferred fan-out writer has stopped
	checkpointed  chan struct{} // closed when the SQLite checkpointer has stopped
	indexed       chan struct{} // closed when the subject log's indexer has stopped
	stopRetention context.CancelFunc
	retained      chan struct{}
	dispatched    chan error
	served        chan error
	closeOnce     sync.Once
	closeErr      error
}

// Start opens the data directory, bootstraps it on first use, and starts
// the dispatcher and the HTTP API. Stop it with Close.
func Start(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = 10 * time.Second
	}
	if len(cfg.RetrySchedule) == 0 {
		cfg.RetrySchedule = policy.DefaultSchedule
	}
	publicURL, err := parsePublicURL(cfg.PublicURL)
	if err != nil {
		return nil, err
	}
	origins, err := web.ParseOrigins(cfg.PortalOrigins)
	if err != nil {
		return nil, err
	}
	if len(origins) > 0 && (publicURL == nil || publicURL.Scheme != "https") {
		cfg.Logger.Warn("--portal-origins may frame the portal, but its cookies need SameSite=None and Secure to work inside a frame: set --public-url https://...")
	}
	proxy, err := egress.ParseProxyURL(cfg.ProxyURL)
	if err != nil {
		return nil, fmt.Errorf("--proxy-url (HERALD_PROXY_URL) %w", err)
	}
	// The address first: a server that cannot start creates no data
	// directory and registers (and prints) no admin key.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	st, err := openForServe(ctx, cfg)
	if err != nil {
		ln.Close()
		return nil, err
	}
	s := &Service{store: st, log: cfg.Logger}
	fail := func(err error) (*Service, error) {
		ln.Close()
		st.Close()
		return nil, err
	}
	if err := bootstrap(ctx, st.Backend, cfg); err != nil {
		return fail(err)
	}

	cat, err := catalog.New()
	if err != nil {
		return fail(err)
	}
	guard := netguard.Guard{AllowPrivate: cfg.AllowPrivateTargets}
	sender := delivery.NewSenderWith(guard, "Herald/"+cfg.Version, delivery.SenderOptions{Proxy: proxy})
	obs := metrics.New(st, 2*time.Second)
	tr := cfg.Tracing
	if tr == nil {
		if tr, err = tracing.Setup(ctx, cfg.Version); err != nil {
			return fail(err)
		}
	}
	s.tracing = tr
	owner := ownerID()
	disp := delivery.NewDispatcher(st, sender, delivery.Config{
		Observer:       obs,
		Tracer:         tr.Provider.Tracer("herald/delivery"),
		Owner:          owner,
		Policy:         policy.Policy{Schedule: cfg.RetrySchedule, Jitter: 0.1, DisableAfter: cfg.DisableAfter},
		MaxConcurrency: cfg.MaxConcurrency,
		ShutdownGrace:  cfg.ShutdownGrace,
		Lease:          cfg.Lease,
		Shared:         cfg.DatabaseURL != "",
		Logger:         cfg.Logger.With("component", "dispatcher"),
	})
	// Broker sources publish as POST /events does, through the same store,
	// hand-off and metrics.
	sources := source.NewRunner(source.Config{
		Store: st, Publisher: &publish.Publisher{Store: st, Catalog: cat, Waker: disp, Observer: obs, Handoff: disp, MaxFanout: cfg.MaxFanout},
		Owner: owner, Refresh: cfg.SourceRefresh, Metrics: obs, Logger: cfg.Logger.With("component", "sources"),
	})
	apiCfg := api.Config{
		Store: st, Catalog: cat, Sender: sender, Waker: disp, Guard: guard,
		AllowHTTP: cfg.AllowHTTP, MaxWebhooksPerTenant: cfg.MaxWebhooksPerTenant, Observer: obs,
		MaxFanout: cfg.MaxFanout, Retention: cfg.Retention, Handoff: disp, Sources: sources, PublicURL: publicURL,
		Logger: cfg.Logger.With("component", "api"),
	}
	// The dashboard at /ui calls its own in-process API handler, the only
	// one that takes the signed-in key from the dashboard's hand-off.
	handler := web.Mount(api.New(apiCfg), web.Config{API: api.NewInProcess(apiCfg), Store: st,
		PublicURL: publicURL, PortalOrigins: origins, Logger: cfg.Logger.With("component", "web")})
	if tr.Enabled {
		handler = otelhttp.NewHandler(handler, "herald", otelhttp.WithTracerProvider(tr.Provider),
			otelhttp.WithPropagators(tracing.Propagator), otelhttp.WithFilter(func(r *http.Request) bool { return r.URL.Path != "/metrics" }))
	}
	handler = withMetrics(handler, obs.Handler())
	s.listener = ln
	s.http = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      90 * time.Second, // a ping may wait up to 30 s for the endpoint
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	dctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stopDispatch = stop
	s.dispatched = make(chan error, 1)
	s.served = make(chan error, 1)
	go func() { s.dispatched <- disp.Run(dctx) }()
	sctx, stopSources := context.WithCancel(context.WithoutCancel(ctx))
	s.stopSources, s.sourced = stopSources, make(chan struct{})
	go func() {
		defer close(s.sourced)
		sources.Run(sctx)
	}()
	rctx, stopRetention := context.WithCancel(context.WithoutCancel(ctx))
	s.stopRetention, s.retained = stopRetention, make(chan struct{})
	go func() {
		defer close(s.retained)
		runRetention(rctx, st, RetentionInterval, cfg.Retention, cfg.Logger.With("component", "retention"))
	}()
	lctx, stopListen := context.WithCancel(context.WithoutCancel(ctx))
	s.stopListen = stopListen
	if l, ok := st.Backend.(listener); ok {
		go l.Listen(lctx, disp.Wake, cfg.Logger.With("component", "listen"))
	}
	s.fanned = make(chan struct{})
	go func() {
		defer close(s.fanned)
		if f, ok := st.Backend.(fanoutWriter); ok {
			f.WriteFanouts(lctx, disp.Wake, cfg.Logger.With("component", "fanout"))
		}
	}()
	s.checkpointed = make(chan struct{})
	go func() {
		defer close(s.checkpointed)
		if c, ok := st.Backend.(checkpointer); ok {
			c.Checkpoint(lctx, sqlite.CheckpointInterval, cfg.Logger.With("component", "checkpoint"))
		}
	}()
	s.indexed = make(chan struct{})
	go func() {
		defer close(s.indexed)
		if x, ok := st.Backend.(subjectIndexer); ok {
			x.IndexSubjects(lctx, cfg.Logger.With("component", "subjects"))
		}
	}()
	go func() { s.served <- s.http.Serve(ln) }()
	serving := []any{"addr", ln.Addr().String(), "data", cfg.DataDir, "version", cfg.Version}
	if proxy != nil {
		serving = append(serving, "proxy", proxy.Host) // never its credentials
	}
	cfg.Logger.Info("herald serving", serving...)
	return s, nil
}

// Addr is the address the API listens on.
func (s *Service) Addr() string { return s.listener.Addr().String() }

// Wait blocks until the HTTP server fails or ctx ends.
func (s *Service) Wait(ctx context.Context) error {
	select {
	case err := <-s.served:
		s.served <- err
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
		return nil
	}
}

// Close shuts down gracefully: the API stops accepting requests and lets
// running ones finish, the dispatcher stops claiming, lets in-flight
// attempts finish (within the shutdown grace), records them and releases
// the rest, then the database is closed.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		errs := []error{}
		if err := s.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop http server: %w", err))
		}
		// Sources publish through the dispatcher's hand-off: they stop
		// first, leaving what they have not committed unacknowledged.
		s.stopSources()
		<-s.sourced
		s.stopDispatch()
		if err := <-s.dispatched; err != nil {
			errs = append(errs, fmt.Errorf("stop dispatcher: %w", err))
		}
		s.stopListen()
		<-s.fanned
		<-s.checkpointed
		<-s.indexed
		if err := s.tracing.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("flush traces: %w", err))
		}
		s.stopRetention()
		<-s.retained
		errs = append(errs, s.store.Close())
		s.closeErr = errors.Join(errs...)
		s.log.Info("herald stopped")
	})
	return s.closeErr
}

// withMetrics serves GET /metrics (Prometheus, no authentication: expose it
// only where scrapers reach it) beside h.
func withMetrics(h, metrics http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" && r.Method == http.MethodGet {
			metrics.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// parsePublicURL checks --public-url: empty, or an absolute http or https
// URL.
func parsePublicURL(s string) (*url.URL, error) {
	if s == "" {
		return nil, nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("public URL %q: want an absolute http:// or https:// URL, such as https://herald.example.com", s)
	}
	return u, nil
}

// ownerID names this process in leases.
func ownerID() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}
