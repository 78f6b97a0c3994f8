package api_test

import (
	"net/http"
	"testing"

	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/store/postgres/pgtest"
)

// onBothStores runs fn against Herald on SQLite and on PostgreSQL.
func onBothStores(t *testing.T, fn func(t *testing.T, o heraldtest.Options)) {
	t.Run("sqlite", func(t *testing.T) { t.Parallel(); fn(t, heraldtest.Options{}) })
	t.Run("postgres", func(t *testing.T) { t.Parallel(); fn(t, heraldtest.Options{DatabaseURL: pgtest.Database(t)}) })
}

// TestInvalidUTF8Refused: invalid UTF-8 in a path id, a cursor, Herald-Tenant
// or an idempotency key is 400 naming it on either store (PostgreSQL used
// to fail on such text and answer 503), and valid non-ASCII text still works.
func TestInvalidUTF8Refused(t *testing.T) {
	t.Parallel()
	onBothStores(t, func(t *testing.T, o heraldtest.Options) {
		in := heraldtest.Start(t, o)
		hook := createHook(t, in, heraldtest.AdminKey, hookBody("https://a.example/"))
		cases := []struct {
			name, method, path, body string
			headers                  []string
			field                    string
		}{
			{"webhook id", "GET", "/webhooks/%FF", "", nil, ""},
			{"webhook id, lower-case escape", "GET", "/webhooks/%ff%fe", "", nil, ""},
			{"webhook id in a PUT", "PUT", "/webhooks/a%C3", `{"status": "DISABLED"}`, nil, ""},
			{"webhook id in a DELETE", "DELETE", "/webhooks/%FF", "", nil, ""},
			{"webhook id in a ping", "POST", "/webhooks/%FF:ping", "", nil, ""},
			{"event id", "GET", "/events/%FF", "", nil, ""},
			{"tenant id", "GET", "/tenants/%FF", "", nil, ""},
			{"key id", "DELETE", "/keys/%FF", "", nil, ""},
			{"webhook cursor", "GET", "/webhooks?after=%FF", "", nil, "after"},
			{"tenant cursor", "GET", "/tenants?limit=5&after=x%80", "", nil, "after"},
			{"malformed query", "GET", "/webhooks?after=%zz", "", nil, ""},
			{"Herald-Tenant", "GET", "/webhooks", "", []string{"Herald-Tenant", "\xff"}, "Herald-Tenant"},
			{"Idempotency-Key", "POST", "/events", cardEvent, []string{"Idempotency-Key", "k\xc3"}, "Idempotency-Key"},
			{"x-nymos-idempotency-key", "POST", "/events:batch", `{"events": [` + cardEvent + `]}`,
				[]string{"x-nymos-idempotency-key", "\xfe\xff"}, "x-nymos-idempotency-key"},
		}
		for _, c := range cases {
			var body any
			if c.body != "" {
				body = c.body
			}
			r := in.Admin(t, c.method, c.path, body, c.headers...)
			if r.Status != http.StatusBadRequest {
				t.Errorf("%s: %s %s answered %d %s, want 400", c.name, c.method, c.path, r.Status, r.Body)
				continue
			}
			wantError(t, r, http.StatusBadRequest, "invalid_request", c.field)
		}
		// The webhook takes CARD_STATUS_CHANGE: a stored event would show.
		if n := len(search(t, in, heraldtest.AdminKey, map[string]any{}).Data); n != 0 {
			t.Errorf("refused publishes made %d notifications", n)
		}
		// Valid non-ASCII text reaches the store and works.
		wantStatus(t, in.Admin(t, "POST", "/events", cardEvent, "Idempotency-Key", "ключ-1"), http.StatusAccepted)
		wantStatus(t, in.Admin(t, "POST", "/events", cardEvent, "Idempotency-Key", "ключ-1"), http.StatusAccepted)
		wantError(t, in.Admin(t, "GET", "/webhooks", nil, "Herald-Tenant", "ténant"), http.StatusNotFound, "not_found", "")
		wantError(t, in.Admin(t, "GET", "/webhooks/%C3%A9", nil), http.StatusNotFound, "not_found", "")
		wantStatus(t, in.Admin(t, "GET", "/webhooks/"+hook.ID, nil), http.StatusOK)
	})
}
