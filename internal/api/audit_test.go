package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// auditLine is one "audit" record of the log.
type auditLine struct {
	Level      string  `json:"level"`
	Via        string  `json:"via"`
	Method     string  `json:"method"`
	Route      string  `json:"route"`
	Status     int     `json:"status"`
	KeyID      string  `json:"key_id"`
	KeyPrefix  string  `json:"key_prefix"`
	TenantID   string  `json:"tenant_id"`
	ResourceID string  `json:"resource_id"`
	CreatedID  string  `json:"created_id"`
	Remote     string  `json:"remote"`
	Time       string  `json:"time"`
	DurationMS float64 `json:"duration_ms"`
}

// auditLines reads the audit records of a JSON log.
func auditLines(t *testing.T, log string) []auditLine {
	t.Helper()
	var out []auditLine
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		var m struct {
			Msg string `json:"msg"`
		}
		if json.Unmarshal([]byte(line), &m) != nil || m.Msg != "audit" {
			continue
		}
		var a auditLine
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("audit line %s: %v", line, err)
		}
		out = append(out, a)
	}
	return out
}

func TestAuditLog(t *testing.T) {
	var logs syncBuffer
	in := heraldtest.Start(t, heraldtest.Options{Log: &logs})
	var keys struct {
		Data []struct {
			ID     string `json:"id"`
			Prefix string `json:"prefix"`
		} `json:"data"`
	}
	in.Admin(t, http.MethodGet, "/tenants/default/keys", nil).JSON(t, &keys)
	if len(keys.Data) != 1 {
		t.Fatalf("default tenant keys: %+v", keys)
	}
	adminID := keys.Data[0].ID

	acme := createTenant(t, in, "acme")
	pubID, pubKey := newKey(t, in, acme.ID, "publisher")
	hook := in.Do(t, acme.APIKey, http.MethodPost, "/webhooks", map[string]any{
		"endpoint": "http://127.0.0.1:1/hook", "events": []string{"CARD_STATUS_CHANGE"},
		"config": map[string]any{"basic_auth_username": "u", "basic_auth_password": "pa55-secret",
			"custom_headers": []map[string]string{{"header_name": "X-Token", "header_value": "header-secret"}}}})
	wantStatus(t, hook, http.StatusCreated)
	var created struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	hook.JSON(t, &created)
	id := created.ID
	wantStatus(t, in.Do(t, acme.APIKey, http.MethodPut, "/webhooks/"+id, map[string]any{"config": map[string]any{"basic_auth_password": "new-pa55"}}), http.StatusOK)
	in.Do(t, acme.APIKey, http.MethodPost, "/webhooks/"+id+":ping", nil)
	rotated := in.Do(t, acme.APIKey, http.MethodPost, "/webhooks/"+id+"/secret:rotate", nil)
	wantStatus(t, in.Do(t, acme.APIKey, http.MethodPost, "/webhooks", map[string]any{"endpoint": "nope"}), http.StatusBadRequest)
	wantStatus(t, in.Do(t, pubKey, http.MethodDelete, "/webhooks/"+id, nil), http.StatusForbidden)
	// Reads, searches, publishes and unauthenticated requests are not audited.
	in.Do(t, acme.APIKey, http.MethodGet, "/webhooks", nil)
	in.Do(t, acme.APIKey, http.MethodPost, "/webhooks:search", map[string]any{})
	in.Do(t, pubKey, http.MethodPost, "/events", cardEvent)
	in.Do(t, "", http.MethodDelete, "/webhooks/"+id, nil)
	wantStatus(t, in.Do(t, acme.APIKey, http.MethodDelete, "/webhooks/"+id, nil), http.StatusNoContent)
	wantStatus(t, in.Admin(t, http.MethodDelete, "/keys/"+pubID, nil), http.StatusNoContent)

	acmePrefix := acme.APIKey[:10]
	type want struct {
		method, route string
		status        int
		keyPrefix     string
		resource      string
		created       string
	}
	wants := []want{
		{"POST", "/tenants", 201, heraldtest.AdminKey[:10], "", acme.ID},
		{"POST", "/tenants/{id}/keys", 201, heraldtest.AdminKey[:10], acme.ID, pubID},
		{"POST", "/webhooks", 201, acmePrefix, "", id},
		{"PUT", "/webhooks/{id}", 200, acmePrefix, id, ""},
		{"POST", "/webhooks/{id}:ping", 200, acmePrefix, id, ""},
		{"POST", "/webhooks/{id}/secret:rotate", rotated.Status, acmePrefix, id, ""},
		{"POST", "/webhooks", 400, acmePrefix, "", ""},
		{"DELETE", "/webhooks/{id}", 403, pubKey[:10], id, ""},
		{"DELETE", "/webhooks/{id}", 204, acmePrefix, id, ""},
		{"DELETE", "/keys/{id}", 204, heraldtest.AdminKey[:10], pubID, ""},
	}
	got := auditLines(t, logs.String())
	if len(got) != len(wants) {
		t.Fatalf("%d audit lines, want %d:\n%+v", len(got), len(wants), got)
	}
	for i, w := range wants {
		g := got[i]
		if g.Level != "INFO" || g.Via != "api" || g.Method != w.method || g.Route != w.route || g.Status != w.status ||
			g.KeyPrefix != w.keyPrefix || g.KeyID == "" || g.ResourceID != w.resource || g.CreatedID != w.created ||
			g.TenantID == "" || g.Time == "" || !strings.HasPrefix(g.Remote, "127.0.0.1:") {
			t.Errorf("audit line %d = %+v, want %+v", i, g, w)
		}
	}
	if got[0].KeyID != adminID || got[7].KeyID != pubID || got[0].TenantID == acme.ID || got[2].TenantID != acme.ID {
		t.Errorf("audit lines name the wrong key or tenant: %+v", got)
	}
	log := logs.String()
	for _, secret := range []string{heraldtest.AdminKey, acme.APIKey, pubKey, "pa55-secret", "new-pa55", "header-secret", created.Secret} {
		if strings.Contains(log, secret) {
			t.Errorf("the log holds the secret %q", secret)
		}
	}
}
