package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/api"
	"github.com/heraldhq/herald/internal/auth"
	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlite"
)

// TestInProcessHandoff checks that the dashboard's principal hand-off
// (api.AsKey) cannot be forged: the network handler ignores it, and the
// in-process handler takes nothing else.
func TestInProcessHandoff(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Now().UTC()
	ten := store.Tenant{ID: "00000000-0000-7000-8000-000000000001", Name: "default", Created: now}
	admin, adminKey, err := auth.NewAPIKey(ten.ID, store.RoleAdmin, now)
	if err != nil {
		t.Fatal(err)
	}
	client, clientKey, _ := auth.NewAPIKey(ten.ID, store.RoleClient, now)
	revoked, _, _ := auth.NewAPIKey(ten.ID, store.RoleAdmin, now)
	if err := st.CreateTenant(ctx, ten, admin, client, revoked); err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.New()
	if err != nil {
		t.Fatal(err)
	}
	cfg := api.Config{Store: st, Catalog: cat}
	public, inProcess := api.New(cfg), api.NewInProcess(cfg)
	gone := revoked
	gone.Revoked = &now

	status := func(h http.Handler, ctx context.Context, path string, headers ...string) int {
		t.Helper()
		r := httptest.NewRequestWithContext(ctx, http.MethodGet, path, nil)
		for i := 0; i+1 < len(headers); i += 2 {
			r.Header.Set(headers[i], headers[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	for _, tc := range []struct {
		name    string
		h       http.Handler
		ctx     context.Context
		headers []string
		want    int
	}{
		{"network: the key in the request", public, ctx, []string{"apikey", adminKey}, 200},
		{"network: a hand-off is ignored", public, api.AsKey(ctx, admin), nil, 401},
		{"network: a hand-off does not raise a client key", public, api.AsKey(ctx, admin), []string{"apikey", clientKey}, 403},
		{"in-process: the hand-off", inProcess, api.AsKey(ctx, admin), nil, 200},
		{"in-process: a key in the request is ignored", inProcess, ctx, []string{"apikey", adminKey}, 401},
		{"in-process: a Bearer key is ignored", inProcess, ctx, []string{"Authorization", "Bearer " + adminKey}, 401},
		{"in-process: a revoked record", inProcess, api.AsKey(ctx, gone), nil, 401},
		{"in-process: an empty record", inProcess, api.AsKey(ctx, store.APIKey{}), nil, 401},
	} {
		if got := status(tc.h, tc.ctx, "/tenants", tc.headers...); got != tc.want {
			t.Errorf("%s: GET /tenants answered %d, want %d", tc.name, got, tc.want)
		}
	}
	// The hand-off gives the key's own rights: a client key lists webhooks
	// but not tenants, and may not name another tenant.
	if got := status(inProcess, api.AsKey(ctx, client), "/tenants"); got != http.StatusForbidden {
		t.Errorf("client key handed off: GET /tenants %d, want 403", got)
	}
	if got := status(inProcess, api.AsKey(ctx, client), "/webhooks"); got != http.StatusOK {
		t.Errorf("client key handed off: GET /webhooks %d, want 200", got)
	}
	if got := status(public, api.AsKey(ctx, admin), "/webhooks", "apikey", "hk_unknown"); got != http.StatusUnauthorized {
		t.Errorf("network: unknown key with a hand-off: %d, want 401", got)
	}
	if got := status(inProcess, api.AsKey(ctx, admin), "/webhooks", "Herald-Tenant", "nope"); got != http.StatusNotFound {
		t.Errorf("admin hand-off on an unknown tenant: %d, want 404", got)
	}
}
