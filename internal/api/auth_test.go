package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/heraldtest"
)

func TestAuthentication(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	acme := createTenant(t, in, "acme")
	cases := []struct {
		name    string
		headers []string // the key goes only where these say
		status  int
	}{
		{"no key", nil, 401},
		{"empty apikey", []string{"apikey", " "}, 401},
		{"unknown key", []string{"apikey", "hk_not_a_real_key"}, 401},
		{"key with a typo", []string{"apikey", acme.APIKey + "x"}, 401},
		{"Bearer without a key", []string{"Authorization", "Bearer "}, 401},
		{"Basic scheme", []string{"Authorization", "Basic " + acme.APIKey}, 401},
		{"key as raw Authorization", []string{"Authorization", acme.APIKey}, 401},
		{"apikey header", []string{"apikey", acme.APIKey}, 200},
		{"Bearer", []string{"Authorization", "Bearer " + acme.APIKey}, 200},
		{"bearer in lower case", []string{"Authorization", "bearer " + acme.APIKey}, 200},
		{"ApiKey header spelling", []string{"ApiKey", acme.APIKey}, 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, route := range []struct{ method, path string }{{"GET", "/webhooks"}, {"POST", "/webhooks:search"}, {"GET", "/event-types"}} {
				r := in.Do(t, "", route.method, route.path, nil, tc.headers...)
				if tc.status == 401 {
					wantError(t, r, http.StatusUnauthorized, "unauthorized", "")
					if r.Header.Get("WWW-Authenticate") == "" {
						t.Errorf("401 without WWW-Authenticate")
					}
					continue
				}
				wantStatus(t, r, tc.status)
			}
		})
	}
	// Unauthenticated writes change nothing.
	wantError(t, in.Do(t, "", "POST", "/webhooks", hookBody("https://a.example/")), http.StatusUnauthorized, "unauthorized", "")
	wantError(t, in.Do(t, "", "POST", "/events", cardEvent), http.StatusUnauthorized, "unauthorized", "")
	wantError(t, in.Do(t, "", "POST", "/tenants", map[string]string{"name": "x"}), http.StatusUnauthorized, "unauthorized", "")
	if n := countRows(t, in, `SELECT (SELECT count(*) FROM webhooks) + (SELECT count(*) FROM events) + (SELECT count(*) FROM tenants WHERE name = 'x')`); n != 0 {
		t.Errorf("unauthenticated requests stored %d rows", n)
	}
}

func TestRoles(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	acme := createTenant(t, in, "acme")
	_, pub := newKey(t, in, acme.ID, "publisher")
	client := acme.APIKey
	// The webhook's endpoint takes every delivery: one that failed would be
	// retried behind the test's back and open the circuit, changing the
	// webhook this test checks nobody changed.
	rc := newReceiver(t, http.StatusOK)
	hook := createHook(t, in, client, hookBody(rc.URL, "*"))
	ev := publish(t, in, pub, cardEvent)
	keyID, _ := newKey(t, in, acme.ID, "client")

	type call struct {
		method, path string
		body         any
	}
	allowed := map[string][]call{
		"publisher": {
			{"POST", "/events", cardEvent},
			{"POST", "/events:batch", `{"events": [` + cardEvent + `]}`},
			{"GET", "/events/" + ev.EventID, nil},
			{"GET", "/event-types", nil},
			{"GET", "/event-types/CARD_STATUS_CHANGE", nil},
		},
		"client": {
			{"GET", "/webhooks", nil},
			{"GET", "/webhooks/" + hook.ID, nil},
			{"POST", "/webhooks:search", `{}`},
			{"POST", "/webhooks:sendexpired", `{}`},
			{"POST", "/webhooks/sendexpired", `{}`},
			{"GET", "/events/" + ev.EventID, nil},
			{"GET", "/event-types", nil},
		},
	}
	forbidden := map[string][]call{
		"publisher": {
			{"POST", "/webhooks", hookBody("https://p.example/")},
			{"GET", "/webhooks", nil},
			{"GET", "/webhooks/" + hook.ID, nil},
			{"PUT", "/webhooks/" + hook.ID, map[string]any{"status": "DISABLED"}},
			{"DELETE", "/webhooks/" + hook.ID, nil},
			{"POST", "/webhooks/" + hook.ID + ":ping", nil},
			{"POST", "/webhooks/" + hook.ID + "/secret:rotate", nil},
			{"POST", "/webhooks:search", `{}`},
			{"POST", "/webhooks:sendexpired", `{}`},
			{"GET", "/tenants", nil},
		},
		"client": {
			{"POST", "/events", cardEvent},
			{"POST", "/events:batch", `{"events": [` + cardEvent + `]}`},
			{"POST", "/tenants", map[string]string{"name": "sneaky"}},
			{"GET", "/tenants", nil},
			{"GET", "/tenants/" + acme.ID, nil},
			{"POST", "/tenants/" + acme.ID + "/keys", map[string]string{"role": "publisher"}},
			{"GET", "/tenants/" + acme.ID + "/keys", nil},
			{"DELETE", "/keys/" + keyID, nil},
		},
	}
	keys := map[string]string{"publisher": pub, "client": client}
	for role, calls := range allowed {
		for _, c := range calls {
			t.Run(role+" may "+c.method+" "+c.path, func(t *testing.T) {
				r := in.Do(t, keys[role], c.method, c.path, c.body)
				if r.Status != http.StatusOK && r.Status != http.StatusAccepted {
					t.Errorf("status = %d: %s", r.Status, r.Body)
				}
			})
		}
	}
	for role, calls := range forbidden {
		for _, c := range calls {
			t.Run(role+" may not "+c.method+" "+c.path, func(t *testing.T) {
				wantError(t, in.Do(t, keys[role], c.method, c.path, c.body), http.StatusForbidden, "forbidden", "")
			})
		}
	}
	// The refused calls changed nothing.
	if ids := listHookIDs(t, in, client); !slices.Equal(ids, []string{hook.ID}) {
		t.Errorf("webhooks = %v, want only %s", ids, hook.ID)
	}
	if s := getHook(t, in, client, hook.ID); !strings.Contains(string(s), `"status":"ACTIVE"`) {
		t.Errorf("webhook changed: %s", s)
	}
	if n := countRows(t, in, `SELECT count(*) FROM events`); n != 3 {
		t.Errorf("events = %d, want 3 (the publisher's)", n)
	}
	if n := countRows(t, in, `SELECT count(*) FROM tenants WHERE name = 'sneaky'`); n != 0 {
		t.Errorf("a client key created a tenant")
	}
	if n := countRows(t, in, `SELECT count(*) FROM api_keys WHERE revoked_at IS NOT NULL`); n != 0 {
		t.Errorf("a client key revoked a key")
	}
}

func TestAdminActsOnHeraldTenant(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	acme := createTenant(t, in, "acme")
	def := createHook(t, in, heraldtest.AdminKey, hookBody("https://default.example/"))
	byName := createHook(t, in, heraldtest.AdminKey, hookBody("https://acme.example/"), "Herald-Tenant", "acme")
	byID := createHook(t, in, heraldtest.AdminKey, hookBody("https://acme2.example/"), "Herald-Tenant", acme.ID)

	for _, c := range []struct {
		name    string
		headers []string
		want    []string
	}{
		{"no header: default", nil, []string{def.ID}},
		{"default by name", []string{"Herald-Tenant", "default"}, []string{def.ID}},
		{"acme by name", []string{"Herald-Tenant", "acme"}, []string{byName.ID, byID.ID}},
		{"acme by id", []string{"Herald-Tenant", acme.ID}, []string{byName.ID, byID.ID}},
		{"acme with spaces", []string{"Herald-Tenant", " acme "}, []string{byName.ID, byID.ID}},
	} {
		if got := listHookIDs(t, in, heraldtest.AdminKey, c.headers...); !slices.Equal(got, c.want) {
			t.Errorf("%s: webhooks = %v, want %v", c.name, got, c.want)
		}
	}
	// acme's own key sees exactly what the admin created for it.
	if got := listHookIDs(t, in, acme.APIKey); !slices.Equal(got, []string{byName.ID, byID.ID}) {
		t.Errorf("acme's key sees %v", got)
	}
	// A tenant key ignores Herald-Tenant.
	if got := listHookIDs(t, in, acme.APIKey, "Herald-Tenant", "default"); !slices.Equal(got, []string{byName.ID, byID.ID}) {
		t.Errorf("acme's key with Herald-Tenant: default sees %v", got)
	}
	wantError(t, in.Do(t, acme.APIKey, "GET", "/webhooks/"+def.ID, nil, "Herald-Tenant", "default"), http.StatusNotFound, "not_found", "")
	// An admin publishing for acme fans out to acme's webhooks only.
	p := publish(t, in, heraldtest.AdminKey, cardEvent, "Herald-Tenant", "acme")
	if got := p.hookIDs(); len(got) != 2 || !got[byName.ID] || !got[byID.ID] {
		t.Errorf("admin publish for acme addressed %v", got)
	}
	r := in.Admin(t, "GET", "/events/"+p.EventID, nil)
	wantError(t, r, http.StatusNotFound, "not_found", "")
	wantStatus(t, in.Do(t, acme.APIKey, "GET", "/events/"+p.EventID, nil), http.StatusOK)
	// An unknown tenant is 404 and nothing is created.
	for _, name := range []string{"nobody", "0190f0f0-0000-7000-8000-000000000000"} {
		wantError(t, in.Admin(t, "GET", "/webhooks", nil, "Herald-Tenant", name), http.StatusNotFound, "not_found", "")
		wantError(t, in.Admin(t, "POST", "/webhooks", hookBody("https://x.example/"), "Herald-Tenant", name), http.StatusNotFound, "not_found", "")
		wantError(t, in.Admin(t, "POST", "/events", cardEvent, "Herald-Tenant", name), http.StatusNotFound, "not_found", "")
	}
	if n := countRows(t, in, `SELECT count(*) FROM webhooks`); n != 3 {
		t.Errorf("webhooks = %d, want 3", n)
	}
	if n := countRows(t, in, `SELECT count(*) FROM events`); n != 1 {
		t.Errorf("events = %d, want 1", n)
	}
}
