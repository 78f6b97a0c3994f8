package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// Real answers of a running Herald, checked against the OpenAPI document it
// serves at /openapi.json.

// fetchOpenAPI reads /openapi.json without an API key.
func fetchOpenAPI(t *testing.T, in *heraldtest.Instance) *openAPIDoc {
	t.Helper()
	r := in.Do(t, "", "GET", "/openapi.json", nil)
	wantStatus(t, r, http.StatusOK)
	if !bytes.Equal(r.Body, servedDocument(t)) {
		t.Errorf("GET /openapi.json is not the document api.OpenAPIDocument builds")
	}
	return loadOpenAPI(t, r.Body)
}

// Every documented operation answers what the document says, success and
// failure alike: each call's answer is validated against the documented
// response of its status, with undocumented members refused.
func TestOpenAPIAnswersMatchDocument(t *testing.T) {
	in := newStart(t)
	d := fetchOpenAPI(t, in)
	rc := newReceiver(t, http.StatusOK)
	exercised := map[[2]string]bool{}
	call := func(key, method, docPath, path string, body any, status int, headers ...string) heraldtest.Response {
		t.Helper()
		r := in.Do(t, key, method, path, body, headers...)
		if r.Status != status {
			t.Fatalf("%s %s = %d, want %d: %s", method, path, r.Status, status, r.Body)
		}
		d.checkAnswer(t, method, docPath, r)
		exercised[[2]string{method, docPath}] = true
		return r
	}
	admin := heraldtest.AdminKey

	create := call(admin, "POST", "/webhooks", "/webhooks", fmt.Sprintf(ncoreCreate, quote(rc.URL)), http.StatusCreated)
	created := create.Map(t)
	props, _ := d.properties("WebhookCreated")
	if got := sortedKeys(created); !slices.Equal(got, props) {
		t.Errorf("the create answer has members %v, the document %v", got, props)
	}
	id := created["id"].(string)
	hook := "/webhooks/" + id
	call(admin, "GET", "/webhooks", "/webhooks?limit=10", nil, http.StatusOK)
	call(admin, "GET", "/webhooks/{id}", hook, nil, http.StatusOK)
	call(admin, "PUT", "/webhooks/{id}", hook, `{"config": {"timeout_seconds": 5, "max_retries": 3, "retry_interval_seconds": 1, "rate_limit_per_second": 50, "ordered": false}}`, http.StatusOK)
	call(admin, "POST", "/webhooks/{id}:ping", hook+":ping", nil, http.StatusOK)

	first := call(admin, "POST", "/events", "/events", cardEvent, http.StatusAccepted, "Idempotency-Key", "openapi")
	replay := call(admin, "POST", "/events", "/events", cardEvent, http.StatusAccepted, "x-nymos-idempotency-key", "openapi")
	if replay.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(first.Body, replay.Body) {
		t.Errorf("the replay answered %s (Idempotent-Replayed %q), want %s", replay.Body, replay.Header.Get("Idempotent-Replayed"), first.Body)
	}
	call(admin, "POST", "/events", "/events", txnEvent, http.StatusConflict, "Idempotency-Key", "openapi")
	call(admin, "POST", "/events:batch", "/events:batch", `{"events": [`+cardEvent+`, `+niEnvelope+`]}`, http.StatusAccepted)
	eventID := first.Map(t)["event_id"].(string)
	waitFor(t, in, admin, map[string]any{"status": "DELIVERED"}, 2)
	call(admin, "POST", "/webhooks:search", "/webhooks:search", `{"event": "CARD_STATUS_CHANGE", "limit": 10}`, http.StatusOK)
	call(admin, "POST", "/webhooks:search", "/webhooks:search", nil, http.StatusOK)
	call(admin, "GET", "/events/{id}", "/events/"+eventID, nil, http.StatusOK)
	call(admin, "GET", "/events", "/events?card_id=eef930c7-6e44-4846-948a-dfd7855484b6&limit=5", nil, http.StatusOK)
	call(admin, "POST", "/webhooks:search", "/webhooks:search", `{"card_id": "eef930c7-6e44-4846-948a-dfd7855484b6", "limit": 1}`, http.StatusOK)
	call(admin, "POST", "/webhooks:sendexpired", "/webhooks:sendexpired", `{"webhook_id": "`+id+`"}`, http.StatusOK)
	call(admin, "POST", "/webhooks/sendexpired", "/webhooks/sendexpired", nil, http.StatusOK)
	call(admin, "POST", "/webhooks/{id}:replay", hook+":replay", replayWindow(map[string]any{"include_delivered": true}), http.StatusAccepted)
	call(admin, "POST", "/webhooks/{id}/secret:rotate", hook+"/secret:rotate", nil, http.StatusOK)
	call(admin, "GET", "/event-types", "/event-types", nil, http.StatusOK)
	call(admin, "GET", "/event-types/{name}", "/event-types/TRANSACTION", nil, http.StatusOK)

	test := call(admin, "POST", "/webhooks/{id}:test", hook+":test", `{"event": "TRANSACTION", "variant": "REFUND"}`, http.StatusAccepted).Map(t)
	waitFor(t, in, admin, map[string]any{"notification_id": test["id"], "status": "DELIVERED"}, 1)
	// With the webhook disabled the re-sent notification stays PENDING, so
	// the second re-send is a conflict whatever the dispatcher does.
	call(admin, "PUT", "/webhooks/{id}", hook, `{"status": "DISABLED"}`, http.StatusOK)
	call(admin, "POST", "/notifications/{id}:resend", "/notifications/"+test["id"].(string)+":resend", nil, http.StatusAccepted)
	call(admin, "POST", "/notifications/{id}:resend", "/notifications/"+test["id"].(string)+":resend", nil, http.StatusConflict)
	call(admin, "PUT", "/webhooks/{id}", hook, `{"status": "ACTIVE"}`, http.StatusOK)
	call(admin, "POST", "/notifications:resend", "/notifications:resend", `{"event": "CARD_STATUS_CHANGE", "dry_run": true}`, http.StatusOK)
	call(admin, "POST", "/portal-sessions", "/portal-sessions", `{"ttl_seconds": 60, "read_only": true}`, http.StatusCreated)
	tn := call(admin, "POST", "/tenants", "/tenants", `{"name": "openapi"}`, http.StatusCreated).Map(t)
	tenantPath := "/tenants/" + tn["id"].(string)
	call(admin, "GET", "/tenants", "/tenants", nil, http.StatusOK)
	call(admin, "GET", "/tenants/{id}", tenantPath, nil, http.StatusOK)
	key := call(admin, "POST", "/tenants/{id}/keys", tenantPath+"/keys", `{"role": "publisher"}`, http.StatusCreated).Map(t)
	call(admin, "GET", "/tenants/{id}/keys", tenantPath+"/keys", nil, http.StatusOK)
	call(admin, "DELETE", "/keys/{id}", "/keys/"+key["id"].(string), nil, http.StatusNoContent)
	// Sources: nothing listens at this address, so the source reports its
	// reconnection, and the answers are checked in that state too.
	src := call(admin, "POST", "/sources", "/sources", `{"type": "rabbitmq", "url": "amqp://u:p@127.0.0.1:1/", "tenant": "openapi", "queue": "q"}`, http.StatusCreated).Map(t)
	srcPath := "/sources/" + src["id"].(string)
	call(admin, "GET", "/sources", "/sources", nil, http.StatusOK)
	call(admin, "GET", "/sources/{id}", srcPath, nil, http.StatusOK)
	call(admin, "PUT", "/sources/{id}", srcPath, `{"status": "PAUSED"}`, http.StatusOK)
	call(admin, "GET", "/sources/{id}/rejected", srcPath+"/rejected", nil, http.StatusOK)
	call(admin, "POST", "/sources", "/sources", `{"type": "nats", "url": "nats://127.0.0.1:1", "tenant": "openapi", "stream": "S"}`, http.StatusBadRequest)
	call(admin, "DELETE", "/sources/{id}", srcPath, nil, http.StatusNoContent)
	call("", "GET", "/healthz", "/healthz", nil, http.StatusOK)
	call("", "GET", "/readyz", "/readyz", nil, http.StatusOK)
	call("", "GET", "/openapi.json", "/openapi.json", nil, http.StatusOK)

	// Failures: each in the error shape the document gives.
	client := tn["api_key"].(string)
	call(admin, "POST", "/webhooks", "/webhooks", `{"endpoint": "`+rc.URL+`", "events": ["NOPE"]}`, http.StatusBadRequest)
	call("", "GET", "/webhooks", "/webhooks", nil, http.StatusUnauthorized)
	call(client, "POST", "/tenants", "/tenants", `{"name": "nope"}`, http.StatusForbidden)
	call(client, "GET", "/webhooks/{id}", hook, nil, http.StatusNotFound)
	call(admin, "POST", "/tenants", "/tenants", `{"name": "openapi"}`, http.StatusConflict)
	call(admin, "PUT", "/webhooks/{id}", hook, `{"endpoint": "`+strings.Repeat("x", 2<<20)+`"}`, http.StatusRequestEntityTooLarge)
	call(admin, "DELETE", "/webhooks/{id}", hook, nil, http.StatusNoContent)

	for _, op := range d.operations() {
		if !exercised[op] {
			t.Errorf("%s %s is documented but this test never checks its answer", op[0], op[1])
		}
	}
}

// Each operation's x-herald-roles are the roles the server lets in: a
// client or publisher key gets 403 exactly where its role is not listed,
// and no key gets 401 exactly where security is required.
func TestOpenAPIRoles(t *testing.T) {
	in := newStart(t)
	d := fetchOpenAPI(t, in)
	tn := createTenant(t, in, "roles")
	_, publisher := newKey(t, in, tn.ID, "publisher")
	keys := map[string]string{"client": tn.APIKey, "publisher": publisher}
	const missing = "00000000-0000-7000-8000-000000000000"
	for _, op := range d.operations() {
		method, docPath := op[0], op[1]
		path := pathParam.ReplaceAllString(docPath, missing)
		o := member(d.doc, "paths", docPath, strings.ToLower(method))
		security, open := member(o, "security").([]any)
		if r := in.Do(t, "", method, path, nil); (r.Status == http.StatusUnauthorized) != !(open && len(security) == 0) {
			t.Errorf("%s %s without a key = %d; documented security %v", method, docPath, r.Status, member(o, "security"))
		}
		if open && len(security) == 0 {
			continue
		}
		documented, _ := member(o, "x-herald-roles").([]any)
		if len(documented) == 0 {
			t.Errorf("%s %s requires a key but documents no x-herald-roles", method, docPath)
		}
		var roles []string
		for _, r := range documented {
			roles = append(roles, r.(string))
		}
		for role, key := range keys {
			r := in.Do(t, key, method, path, nil)
			if allowed := slices.Contains(roles, role); (r.Status == http.StatusForbidden) == allowed {
				t.Errorf("%s %s with a %s key = %d; documented roles %v", method, docPath, role, r.Status, roles)
			}
		}
	}
}

// Every documented member of a request body is one the server decodes (a
// value of the wrong type is refused naming the member, not as unknown),
// and undocumented members are refused as the document says
// (additionalProperties false).
func TestOpenAPIRequestMembersAreAccepted(t *testing.T) {
	in := newStart(t)
	d := fetchOpenAPI(t, in)
	tn := createTenant(t, in, "members")
	for schema, path := range map[string]string{
		"WebhookCreateRequest": "/webhooks",
		"SearchRequest":        "/webhooks:search",
		"SendExpiredRequest":   "/webhooks:sendexpired",
		"ReplayRequest":        "/webhooks/00000000-0000-7000-8000-000000000000:replay",
		"EventBatch":           "/events:batch",
		"TenantCreateRequest":  "/tenants",
		"PortalSessionRequest": "/portal-sessions",
		"BulkResendRequest":    "/notifications:resend",
		"KeyCreateRequest":     "/tenants/" + tn.ID + "/keys",
		"SourceCreateRequest":  "/sources",
	} {
		props, _ := d.properties(schema)
		for _, p := range props {
			r := in.Admin(t, "POST", path, map[string]any{p: []any{json.Number("1")}})
			var e struct{ Error apiErr }
			r.JSON(t, &e)
			if r.Status != http.StatusBadRequest || e.Error.Message == "unknown field" || e.Error.Field == nil || !strings.HasPrefix(*e.Error.Field, p) {
				t.Errorf("%s: documented member %q of %s, sent with a wrong type: %d %s", path, p, schema, r.Status, r.Body)
			}
		}
		r := in.Admin(t, "POST", path, `{"undocumented": 1}`)
		wantError(t, r, http.StatusBadRequest, "invalid_request", "undocumented")
	}
}

// The bounds and enums documented for a webhook body are the ones the
// server enforces: the server accepts a body exactly when the documented
// schema does.
func TestOpenAPIWebhookBoundsAgreeWithServer(t *testing.T) {
	in := newStart(t)
	d := fetchOpenAPI(t, in)
	rc := newReceiver(t, http.StatusOK)
	headers := func(n int) []map[string]string {
		hs := make([]map[string]string, n)
		for i := range hs {
			hs[i] = map[string]string{"header_name": fmt.Sprintf("x-h%d", i), "header_value": "v"}
		}
		return hs
	}
	oauth := map[string]any{"token_url": rc.URL + "/token", "client_id": "id", "client_secret": "secret"}
	for _, tc := range []struct {
		name   string
		change map[string]any // members of the body, or of config when config is true
		config bool
	}{
		{"minimal", nil, false},
		{"every event", map[string]any{"events": []string{"*"}}, false},
		{"unknown event", map[string]any{"events": []string{"NOPE"}}, false},
		{"no events", map[string]any{"events": []string{}}, false},
		{"event twice", map[string]any{"events": []string{"PIN_CHANGE", "PIN_CHANGE"}}, false},
		{"no endpoint", map[string]any{"endpoint": nil}, false},
		{"disabled", map[string]any{"status": "DISABLED"}, false},
		{"failing", map[string]any{"status": "FAILING"}, false},
		{"unknown member", map[string]any{"colour": "red"}, false},
		{"timeout 1", map[string]any{"timeout_seconds": 1}, true},
		{"timeout 30", map[string]any{"timeout_seconds": 30}, true},
		{"timeout 0", map[string]any{"timeout_seconds": 0}, true},
		{"timeout 31", map[string]any{"timeout_seconds": 31}, true},
		{"in flight 256", map[string]any{"max_in_flight": 256}, true},
		{"in flight 257", map[string]any{"max_in_flight": 257}, true},
		{"in flight 0", map[string]any{"max_in_flight": 0}, true},
		{"retries null", map[string]any{"max_retries": nil, "retry_interval_seconds": nil}, true},
		{"retries 0 and 100", map[string]any{"max_retries": 0, "retry_interval_seconds": 604800}, true},
		{"retries 101", map[string]any{"max_retries": 101}, true},
		{"interval 0", map[string]any{"retry_interval_seconds": 0}, true},
		{"rate 0.01", map[string]any{"rate_limit_per_second": 0.01}, true},
		{"rate 10001", map[string]any{"rate_limit_per_second": 10001}, true},
		{"format ni", map[string]any{"format": "ni"}, true},
		{"format xml", map[string]any{"format": "xml"}, true},
		{"ordered", map[string]any{"ordered": true}, true},
		{"ordered string", map[string]any{"ordered": "yes"}, true},
		{"signature ed25519", map[string]any{"signature": "ed25519"}, true},
		{"signature hmac-sha256", map[string]any{"signature": "hmac-sha256"}, true},
		{"signature rsa", map[string]any{"signature": "rsa"}, true},
		{"signature null", map[string]any{"signature": nil}, true},
		{"tls null", map[string]any{"tls": nil}, true},
		{"tls without key", map[string]any{"tls": map[string]any{"client_certificate": "PEM"}}, true},
		{"tls unknown member", map[string]any{"tls": map[string]any{"client_certificate": "PEM", "client_key": "PEM", "pin": "1"}}, true},
		{"user with colon", map[string]any{"basic_auth_username": "a:b", "basic_auth_password": "p"}, true},
		{"20 headers", map[string]any{"custom_headers": headers(20)}, true},
		{"21 headers", map[string]any{"custom_headers": headers(21)}, true},
		{"header name with space", map[string]any{"custom_headers": []map[string]string{{"header_name": "x y", "header_value": "v"}}}, true},
		{"header without value", map[string]any{"custom_headers": []map[string]string{{"header_name": "x-y"}}}, true},
		{"long header value", map[string]any{"custom_headers": []map[string]string{{"header_name": "x-y", "header_value": strings.Repeat("v", 4097)}}}, true},
		{"oauth2", map[string]any{"oauth2": oauth}, true},
		{"oauth2 null", map[string]any{"oauth2": nil}, true},
		{"oauth2 without secret", map[string]any{"oauth2": map[string]any{"token_url": rc.URL, "client_id": "id"}}, true},
		{"oauth2 unknown member", map[string]any{"oauth2": map[string]any{"token_url": rc.URL, "client_id": "id", "client_secret": "s", "audience": "x"}}, true},
		{"nCore created and modified", map[string]any{"created": "2021-05-27T18:48:00.074Z", "modified": "2021-05-27T18:48:00.074Z"}, true},
		{"unknown config member", map[string]any{"colour": "red"}, true},
		{"filter", map[string]any{"filter": map[string]any{"card_status_change.new_status": []any{"ACTIVE", "SUSPENDED"}}}, true},
		{"filter null", map[string]any{"filter": nil}, true},
		{"filter without values", map[string]any{"filter": map[string]any{"card_status_change.new_status": []any{}}}, true},
		{"filter with an object value", map[string]any{"filter": map[string]any{"card_status_change.new_status": []any{map[string]any{}}}}, true},
		{"filter with an empty member name", map[string]any{"filter": map[string]any{"card_status_change..x": []any{"x"}}}, true},
		{"filter not an object", map[string]any{"filter": []any{"x"}}, true},
		{"filter of 17 paths", map[string]any{"filter": manyPaths(17)}, true},
		{"filter of 65 values", map[string]any{"filter": map[string]any{"card_status_change.new_status": manyValues(65)}}, true},
		{"filter of 64 values", map[string]any{"filter": map[string]any{"card_status_change.new_status": manyValues(64)}}, true},
	} {
		body := map[string]any{"endpoint": rc.URL, "events": []string{"CARD_STATUS_CHANGE"}}
		target := body
		if tc.config {
			target = map[string]any{}
			body["config"] = target
		}
		for k, v := range tc.change {
			if v == nil && k == "endpoint" {
				delete(target, k)
				continue
			}
			target[k] = v
		}
		raw, _ := json.Marshal(body)
		schemaErr := d.validate(t, schemaRef("WebhookCreateRequest"), raw)
		r := in.Admin(t, "POST", "/webhooks", raw)
		if serverOK := r.Status == http.StatusCreated; serverOK != (schemaErr == nil) {
			t.Errorf("%s: the server answered %d %s; the document's verdict: %v", tc.name, r.Status, bytes.TrimSpace(r.Body), schemaErr)
		}
	}
}

// manyPaths is a filter of n paths (all declared by CARD_STATUS_CHANGE,
// so that only their number is at fault).
func manyPaths(n int) map[string]any {
	out := map[string]any{}
	for i := range n {
		out[fmt.Sprintf("card_status_change.p%d", i)] = []any{"x"}
	}
	return out
}

// manyValues is n distinct string values.
func manyValues(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = fmt.Sprintf("V%d", i)
	}
	return out
}
