package api_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/heraldtest"
)

func TestRoutingErrors(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	hook := createHook(t, in, heraldtest.AdminKey, hookBody("https://a.example/"))
	id := hook.ID
	cases := []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/nope", 404, "not_found"},
		{"GET", "/", 404, "not_found"},
		{"GET", "/webhook", 404, "not_found"},
		{"GET", "/webhooks/" + id + "/nope", 404, "not_found"},
		{"GET", "/webhooks:bogus", 404, "not_found"},
		{"POST", "/webhooks:bogus", 404, "not_found"},
		{"GET", "/webhooks/" + id + ":bogus", 404, "not_found"},
		{"POST", "/webhooks/" + id + ":bogus", 404, "not_found"},
		{"PUT", "/webhooks/" + id + ":bogus", 404, "not_found"},
		{"DELETE", "/webhooks/" + id + ":bogus", 404, "not_found"},
		{"POST", "/webhooks/:ping", 404, "not_found"},
		{"POST", "/webhooks/" + id + "/secret:bogus", 404, "not_found"},
		{"POST", "/events:bogus", 404, "not_found"},
		{"PUT", "/webhooks/" + id + ":ping", 405, "method_not_allowed"},
		{"GET", "/webhooks/" + id + ":ping", 405, "method_not_allowed"},
		{"DELETE", "/webhooks/" + id + ":ping", 405, "method_not_allowed"},
		{"POST", "/webhooks/" + id, 405, "method_not_allowed"},
		{"PATCH", "/webhooks/" + id, 405, "method_not_allowed"},
		{"PATCH", "/webhooks", 405, "method_not_allowed"},
		{"DELETE", "/webhooks", 405, "method_not_allowed"},
		{"PUT", "/webhooks", 405, "method_not_allowed"},
		{"GET", "/webhooks:search", 405, "method_not_allowed"},
		{"GET", "/webhooks:sendexpired", 405, "method_not_allowed"},
		// The alias is for POST only: a GET reads a webhook called "sendexpired".
		{"GET", "/webhooks/sendexpired", 404, "not_found"},
		{"GET", "/webhooks/" + id + "/secret:rotate", 405, "method_not_allowed"},
		{"PUT", "/events", 405, "method_not_allowed"},
		{"DELETE", "/events/x", 405, "method_not_allowed"},
		{"GET", "/events:batch", 405, "method_not_allowed"},
		{"POST", "/event-types", 405, "method_not_allowed"},
		{"PUT", "/tenants", 405, "method_not_allowed"},
		{"DELETE", "/tenants/default", 405, "method_not_allowed"},
		{"GET", "/keys/x", 405, "method_not_allowed"},
		{"POST", "/healthz", 405, "method_not_allowed"},
		{"DELETE", "/readyz", 405, "method_not_allowed"},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			wantError(t, in.Admin(t, tc.method, tc.path, nil), tc.status, tc.code, "")
		})
	}
	// Without a key, unknown paths and wrong methods answer the same.
	wantError(t, in.Do(t, "", "GET", "/nope", nil), http.StatusNotFound, "not_found", "")
	wantError(t, in.Do(t, "", "PATCH", "/webhooks", nil), http.StatusMethodNotAllowed, "method_not_allowed", "")
	// The webhook is untouched by all of it.
	if got := listHookIDs(t, in, heraldtest.AdminKey); len(got) != 1 || got[0] != id {
		t.Errorf("webhooks = %v", got)
	}
}

// chunked sends body without a Content-Length, so only reading it can tell
// its size.
func chunked(t *testing.T, in *heraldtest.Instance, method, path string, body []byte) heraldtest.Response {
	t.Helper()
	req, err := http.NewRequest(method, in.URL+path, io.MultiReader(bytes.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("apikey", heraldtest.AdminKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return heraldtest.Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

func TestBodyTooLarge(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	hook := createHook(t, in, heraldtest.AdminKey, hookBody("https://a.example/"))
	before := getHook(t, in, heraldtest.AdminKey, hook.ID)
	pad := strings.Repeat(" ", 1<<20)
	bigHook := `{"endpoint": "https://big.example/", "events": ["*"]` + pad + `}`
	bigEvent := `{"event": "USER_CREATED", "user_id": "u-1", "pad": "` + strings.Repeat("x", 1<<20) + `"}`
	cases := []struct {
		name, method, path, body string
	}{
		{"create webhook", "POST", "/webhooks", bigHook},
		{"update webhook", "PUT", "/webhooks/" + hook.ID, bigHook},
		{"publish", "POST", "/events", bigEvent},
		{"search", "POST", "/webhooks:search", `{"event": "USER_CREATED"` + pad + `}`},
		{"create tenant", "POST", "/tenants", `{"name": "big"` + pad + `}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, in.Admin(t, tc.method, tc.path, tc.body), http.StatusRequestEntityTooLarge, "payload_too_large", "")
			wantError(t, chunked(t, in, tc.method, tc.path, []byte(tc.body)), http.StatusRequestEntityTooLarge, "payload_too_large", "")
		})
	}
	// Exactly 1 MiB is still accepted.
	exact := `{"endpoint": "https://exact.example/", "events": ["*"]}`
	exact = exact[:len(exact)-1] + strings.Repeat(" ", 1<<20-len(exact)) + "}"
	if len(exact) != 1<<20 {
		t.Fatalf("body is %d bytes", len(exact))
	}
	createHook(t, in, heraldtest.AdminKey, exact)
	// The batch route has a larger limit: a 1.5 MiB batch is accepted.
	ev := `{"event": "USER_CREATED", "user_id": "u-1", "pad": "` + strings.Repeat("x", 3<<18) + `"}`
	r := in.Admin(t, "POST", "/events:batch", `{"events": [`+ev+`,`+ev+`]}`)
	wantStatus(t, r, http.StatusAccepted)

	if after := getHook(t, in, heraldtest.AdminKey, hook.ID); string(after) != string(before) {
		t.Errorf("oversized update changed the webhook: %s", after)
	}
	if ids := listHookIDs(t, in, heraldtest.AdminKey); len(ids) != 2 {
		t.Errorf("webhooks = %v, want the first and the exact-size one", ids)
	}
	if n := countRows(t, in, `SELECT count(*) FROM events`); n != 2 {
		t.Errorf("events stored = %d, want the 2 of the batch", n)
	}
	if n := countRows(t, in, `SELECT count(*) FROM tenants WHERE name = 'big'`); n != 0 {
		t.Errorf("oversized tenant was created")
	}
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	for path, want := range map[string]string{"/healthz": `{"status":"ok"}`, "/readyz": `{"sources":[],"status":"ready"}`} {
		for _, key := range []string{"", "bogus", heraldtest.AdminKey} {
			r := in.Do(t, key, "GET", path, nil)
			wantStatus(t, r, http.StatusOK)
			if got := strings.TrimSpace(string(r.Body)); got != want {
				t.Errorf("GET %s = %s, want %s", path, got, want)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("GET %s Content-Type = %q", path, ct)
			}
		}
	}
}
