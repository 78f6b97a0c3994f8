package api_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// portalLink is a POST /portal-sessions answer.
type portalLink struct {
	URL     string `json:"url"`
	Expires string `json:"expires"`
}

// POST /portal-sessions: an admin key for the tenant it names, a client key
// for its own; a one-time link stored hashed, 10 minutes by default.
func TestPortalSessions(t *testing.T) {
	in := newStart(t)
	tn := createTenant(t, in, "acme")
	_, publisher := newKey(t, in, tn.ID, "publisher")
	create := func(key string, body any, headers ...string) portalLink {
		t.Helper()
		r := in.Do(t, key, "POST", "/portal-sessions", body, headers...)
		wantStatus(t, r, http.StatusCreated)
		var l portalLink
		r.JSON(t, &l)
		return l
	}
	before := time.Now()
	l := create(heraldtest.AdminKey, nil, "Herald-Tenant", "acme")
	token, ok := strings.CutPrefix(l.URL, in.URL+"/ui/portal/hpl_")
	if !ok || len(token) != 43 {
		t.Fatalf("url %q: want %s/ui/portal/hpl_<43 characters>", l.URL, in.URL)
	}
	exp, err := time.Parse(time.RFC3339Nano, l.Expires)
	if err != nil || exp.Before(before.Add(10*time.Minute-time.Second)) || exp.After(time.Now().Add(10*time.Minute+time.Second)) {
		t.Fatalf("expires %q: want 10 minutes from now", l.Expires)
	}
	full := strings.TrimPrefix(l.URL, in.URL+"/ui/portal/")
	sum := sha256.Sum256([]byte(full))
	if n := countRows(t, in, `SELECT count(*) FROM portal_links WHERE hash = ? AND tenant_id = ? AND read_only = 0`, hex.EncodeToString(sum[:]), tn.ID); n != 1 {
		t.Fatalf("%d links stored under the token's hash in tenant acme", n)
	}
	if n := countRows(t, in, `SELECT count(*) FROM portal_links WHERE hash = ?`, full); n != 0 {
		t.Fatal("the token is stored as it is")
	}
	// A client key, for its own tenant; read-only; the longest life.
	l = create(tn.APIKey, map[string]any{"ttl_seconds": 86400, "read_only": true})
	if n := countRows(t, in, `SELECT count(*) FROM portal_links WHERE tenant_id = ? AND read_only = 1 AND expires_at - created_at = 86400000`, tn.ID); n != 1 {
		t.Fatalf("%d read-only day-long links of acme", n)
	}
	create(tn.APIKey, map[string]any{"ttl_seconds": 60})
	for _, ttl := range []any{59, 86401, 0, -1, "600", 1.5} {
		wantError(t, in.Do(t, heraldtest.AdminKey, "POST", "/portal-sessions", map[string]any{"ttl_seconds": ttl}), http.StatusBadRequest, "invalid_request", "ttl_seconds")
	}
	wantError(t, in.Do(t, publisher, "POST", "/portal-sessions", nil), http.StatusForbidden, "forbidden", "")
	wantError(t, in.Do(t, "", "POST", "/portal-sessions", nil), http.StatusUnauthorized, "unauthorized", "")
	wantError(t, in.Do(t, heraldtest.AdminKey, "POST", "/portal-sessions", nil, "Herald-Tenant", "nope"), http.StatusNotFound, "not_found", "")
}

// With --public-url, links point there.
func TestPortalSessionsPublicURL(t *testing.T) {
	in := heraldtest.Start(t, heraldtest.Options{PublicURL: "https://herald.example"})
	r := in.Admin(t, "POST", "/portal-sessions", nil)
	wantStatus(t, r, http.StatusCreated)
	var l portalLink
	r.JSON(t, &l)
	if !strings.HasPrefix(l.URL, "https://herald.example/ui/portal/hpl_") {
		t.Fatalf("url %q: want the public URL", l.URL)
	}
}
