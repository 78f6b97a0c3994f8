// Package heraldtest starts a real Herald (SQLite store, dispatcher, HTTP
// API on a loopback port) inside a test, with a client for its API. It is
// to Herald what net/http/httptest is to a handler.
package heraldtest

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/tracing"
)

// AdminKey is the admin API key every test instance is started with.
const AdminKey = "hk_test_admin_key_0123456789abcdef"

// Instance is a running Herald.
type Instance struct {
	URL     string
	DataDir string
	Service *service.Service
}

// Options adjust a test instance. RetrySchedule defaults to 100ms retries
// so retry paths run in test time.
type Options struct {
	RetrySchedule        []time.Duration
	MaxWebhooksPerTenant int
	// MaxConcurrency bounds attempts in flight (0: the default).
	MaxConcurrency int
	// MaxFanout bounds one publish's notifications (0: no bound).
	MaxFanout int
	DataDir   string
	// StrictTargets keeps the https-only, public-addresses-only defaults.
	StrictTargets bool
	// DatabaseURL runs the instance on PostgreSQL (see pgtest.Database).
	DatabaseURL string
	// DisableAfter disables webhooks failing this long (0: never).
	DisableAfter time.Duration
	// Log receives Herald's logs at debug level (default: discarded).
	Log io.Writer
	// Tracing replaces tracing from the environment.
	Tracing *tracing.Tracing
	// PublicURL is --public-url.
	PublicURL string
	// PortalOrigins is --portal-origins.
	PortalOrigins string
	// Retention is --retention (0: keep everything).
	Retention time.Duration
	// ProxyURL is --proxy-url.
	ProxyURL string
	// SourceRefresh is --source-refresh (0: the default).
	SourceRefresh time.Duration
}

// Start runs Herald for the duration of the test.
func Start(t testing.TB, o Options) *Instance {
	t.Helper()
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.RetrySchedule == nil {
		o.RetrySchedule = []time.Duration{100 * time.Millisecond, 100 * time.Millisecond}
	}
	svc, err := service.Start(context.Background(), service.Config{
		Addr: "127.0.0.1:0", DataDir: o.DataDir, DatabaseURL: o.DatabaseURL, AdminKey: AdminKey, RetrySchedule: o.RetrySchedule,
		AllowHTTP: !o.StrictTargets, AllowPrivateTargets: !o.StrictTargets,
		MaxWebhooksPerTenant: o.MaxWebhooksPerTenant, ShutdownGrace: 2 * time.Second, DisableAfter: o.DisableAfter,
		MaxConcurrency: o.MaxConcurrency, MaxFanout: o.MaxFanout, Tracing: o.Tracing, PublicURL: o.PublicURL, PortalOrigins: o.PortalOrigins,
		SourceRefresh: o.SourceRefresh, Retention: o.Retention,
		ProxyURL: o.ProxyURL,
		Version:  "test", Logger: slog.New(slog.NewJSONHandler(o.Log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatalf("start herald: %v", err)
	}
	t.Cleanup(func() {
		if err := svc.Close(); err != nil {
			t.Errorf("close herald: %v", err)
		}
	})
	return &Instance{URL: "http://" + svc.Addr(), DataDir: o.DataDir, Service: svc}
}

// Response is an API answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the answer body into v, failing the test if it cannot.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode answer %q: %v", r.Body, err)
	}
}

// Map decodes the answer body as a JSON object.
func (r Response) Map(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.JSON(t, &m)
	return m
}

// Do sends a request with the given API key (sent in the apikey header;
// empty: none). body may be nil, a string or []byte (sent as is), or any
// other value (sent as JSON). Extra headers come in pairs.
func (in *Instance) Do(t testing.TB, key, method, path string, body any, headers ...string) Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewReader([]byte(b))
	case []byte:
		rd = bytes.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("encode request: %v", err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, in.URL+path, rd)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if key != "" {
		req.Header.Set("apikey", key)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// Admin sends a request with the admin key.
func (in *Instance) Admin(t testing.TB, method, path string, body any, headers ...string) Response {
	t.Helper()
	return in.Do(t, AdminKey, method, path, body, headers...)
}

// Count runs a count query against the instance's SQLite database.
func (in *Instance) Count(t testing.TB, query string, args ...any) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(in.DataDir, service.DatabaseFile)+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatalf("open database: %v", err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// Eventually polls cond every 20ms until it holds or timeout passes.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
