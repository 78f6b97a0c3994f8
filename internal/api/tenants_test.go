package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/heraldtest"
)

func TestTenants(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	r := in.Admin(t, "POST", "/tenants", map[string]string{"name": "acme"})
	wantStatus(t, r, http.StatusCreated)
	m := r.Map(t)
	if got := sortedKeys(m); !slices.Equal(got, []string{"api_key", "created", "id", "name"}) {
		t.Errorf("tenant answer members = %v", got)
	}
	acmeID, _ := m["id"].(string)
	if _, err := uuid.Parse(acmeID); err != nil || m["name"] != "acme" || !strings.HasPrefix(m["api_key"].(string), "hk_") {
		t.Errorf("tenant answer = %v", m)
	}
	// The new key is a client key of the new tenant.
	key := m["api_key"].(string)
	hook := createHook(t, in, key, hookBody("https://acme.example/"))
	if got := listHookIDs(t, in, heraldtest.AdminKey, "Herald-Tenant", acmeID); !slices.Equal(got, []string{hook.ID}) {
		t.Errorf("acme's webhooks seen by admin = %v", got)
	}
	wantError(t, in.Do(t, key, "POST", "/events", cardEvent), http.StatusForbidden, "forbidden", "")

	beta := createTenant(t, in, "beta.team_2-x")
	wantError(t, in.Admin(t, "POST", "/tenants", map[string]string{"name": "acme"}), http.StatusConflict, "conflict", "")
	for _, c := range []struct {
		name, body, field string
	}{
		{"missing name", `{}`, "name"},
		{"empty name", `{"name": ""}`, "name"},
		{"null name", `{"name": null}`, "name"},
		{"space", `{"name": "a b"}`, "name"},
		{"leading dot", `{"name": ".a"}`, "name"},
		{"slash", `{"name": "a/b"}`, "name"},
		{"65 characters", `{"name": "` + strings.Repeat("a", 65) + `"}`, "name"},
		{"wrong type", `{"name": 5}`, "name"},
		{"unknown field", `{"name": "x", "plan": "gold"}`, "plan"},
		{"empty body", ``, ""},
		{"invalid JSON", `{"name": `, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, in.Admin(t, "POST", "/tenants", c.body), http.StatusBadRequest, "invalid_request", c.field)
		})
	}

	// GET /tenants lists every tenant in creation order, paged.
	r = in.Admin(t, "GET", "/tenants", nil)
	wantStatus(t, r, http.StatusOK)
	var list struct {
		Data []struct {
			ID, Name, Created string
			APIKey            *string `json:"api_key"`
		} `json:"data"`
		Paging struct {
			After   *string `json:"after"`
			HasMore bool    `json:"has_more"`
		} `json:"paging"`
	}
	r.JSON(t, &list)
	var names []string
	for _, tn := range list.Data {
		names = append(names, tn.Name)
		if tn.APIKey != nil {
			t.Errorf("tenant list shows an api_key for %s", tn.Name)
		}
	}
	if !slices.Equal(names, []string{"default", "acme", "beta.team_2-x"}) || list.Paging.HasMore {
		t.Errorf("tenants = %v has_more %v", names, list.Paging.HasMore)
	}
	r = in.Admin(t, "GET", "/tenants?limit=2", nil)
	r.JSON(t, &list)
	if len(list.Data) != 2 || !list.Paging.HasMore || list.Paging.After == nil || *list.Paging.After != acmeID {
		t.Errorf("first page = %+v", list)
	}
	r = in.Admin(t, "GET", "/tenants?limit=2&after="+acmeID, nil)
	r.JSON(t, &list)
	if len(list.Data) != 1 || list.Data[0].ID != beta.ID || list.Paging.HasMore {
		t.Errorf("second page = %+v", list)
	}
	wantError(t, in.Admin(t, "GET", "/tenants?limit=0", nil), http.StatusBadRequest, "invalid_request", "limit")

	// GET /tenants/{id} by id or name.
	for _, ref := range []string{acmeID, "acme"} {
		r := in.Admin(t, "GET", "/tenants/"+ref, nil)
		wantStatus(t, r, http.StatusOK)
		if got := r.Map(t); got["id"] != acmeID || got["name"] != "acme" || got["api_key"] != nil {
			t.Errorf("GET /tenants/%s = %v", ref, got)
		}
	}
	wantError(t, in.Admin(t, "GET", "/tenants/nobody", nil), http.StatusNotFound, "not_found", "")
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	acme := createTenant(t, in, "acme")

	r := in.Admin(t, "POST", "/tenants/"+acme.ID+"/keys", map[string]string{"role": "publisher"})
	wantStatus(t, r, http.StatusCreated)
	var k struct {
		ID, TenantID, Role, Prefix, Key, Created string
		Revoked                                  *string
	}
	r.JSON(t, &k)
	if k.ID == "" || !strings.HasPrefix(k.Key, "hk_") || k.Role != "publisher" || !strings.HasPrefix(k.Key, k.Prefix) || len(k.Prefix) < 6 || k.Revoked != nil {
		t.Errorf("key answer = %s", r.Body)
	}
	if m := r.Map(t); m["tenant_id"] != acme.ID {
		t.Errorf("tenant_id = %v, want %s", m["tenant_id"], acme.ID)
	}
	pubID, pub := k.ID, k.Key
	// By name works too; a client key.
	clientID, client := newKey(t, in, "acme", "client")

	for _, c := range []struct{ name, body, field string }{
		{"admin role", `{"role": "admin"}`, "role"},
		{"unknown role", `{"role": "owner"}`, "role"},
		{"missing role", `{}`, "role"},
		{"wrong type", `{"role": 1}`, "role"},
		{"unknown field", `{"role": "client", "ttl": 5}`, "ttl"},
		{"empty body", ``, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, in.Admin(t, "POST", "/tenants/"+acme.ID+"/keys", c.body), http.StatusBadRequest, "invalid_request", c.field)
		})
	}
	wantError(t, in.Admin(t, "POST", "/tenants/nobody/keys", map[string]string{"role": "client"}), http.StatusNotFound, "not_found", "")
	wantError(t, in.Admin(t, "GET", "/tenants/nobody/keys", nil), http.StatusNotFound, "not_found", "")

	// Both keys work, each in its role.
	p := publish(t, in, pub, cardEvent)
	wantStatus(t, in.Do(t, pub, "GET", "/events/"+p.EventID, nil, "Authorization", "Bearer "+pub), http.StatusOK)
	createHook(t, in, client, hookBody("https://a.example/"))

	listKeys := func() map[string]map[string]any {
		r := in.Admin(t, "GET", "/tenants/"+acme.ID+"/keys", nil)
		wantStatus(t, r, http.StatusOK)
		var l struct {
			Data []map[string]any `json:"data"`
		}
		r.JSON(t, &l)
		out := map[string]map[string]any{}
		for _, k := range l.Data {
			if _, shown := k["key"]; shown {
				t.Errorf("key listing shows the key itself: %v", k)
			}
			if k["tenant_id"] != acme.ID {
				t.Errorf("listed key of another tenant: %v", k)
			}
			out[k["id"].(string)] = k
		}
		return out
	}
	keys := listKeys()
	if len(keys) != 3 || keys[pubID]["role"] != "publisher" || keys[clientID]["role"] != "client" || keys[pubID]["revoked"] != nil {
		t.Errorf("keys = %v, want the tenant's first client key, the publisher and the client", keys)
	}

	// Revoking: 204, then the key is refused, listed as revoked; twice is fine.
	r = in.Admin(t, "DELETE", "/keys/"+pubID, nil)
	wantStatus(t, r, http.StatusNoContent)
	if len(r.Body) != 0 {
		t.Errorf("204 body = %q", r.Body)
	}
	wantError(t, in.Do(t, pub, "POST", "/events", cardEvent), http.StatusUnauthorized, "unauthorized", "")
	wantError(t, in.Do(t, "", "GET", "/events/"+p.EventID, nil, "Authorization", "Bearer "+pub), http.StatusUnauthorized, "unauthorized", "")
	revoked, _ := listKeys()[pubID]["revoked"].(string)
	if ts, err := time.Parse("2006-01-02T15:04:05.000Z", revoked); err != nil || time.Since(ts) > time.Minute {
		t.Errorf("revoked = %q (%v)", revoked, err)
	}
	wantStatus(t, in.Admin(t, "DELETE", "/keys/"+pubID, nil), http.StatusNoContent)
	wantError(t, in.Admin(t, "DELETE", "/keys/nope", nil), http.StatusNotFound, "not_found", "")
	// The other keys still work.
	wantStatus(t, in.Do(t, client, "GET", "/webhooks", nil), http.StatusOK)
	wantStatus(t, in.Do(t, acme.APIKey, "GET", "/webhooks", nil), http.StatusOK)
	if n := countRows(t, in, `SELECT count(*) FROM events`); n != 1 {
		t.Errorf("events = %d, want 1", n)
	}
}
