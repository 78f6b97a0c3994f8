package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite" // read the instance's database to count rows

	"github.com/heraldhq/herald/internal/heraldtest"
)

// ncoreCreate is the webhook creation body of the nCore samples, with the
// endpoint left to fill in.
const ncoreCreate = `{ "endpoint": %s, "events": [ "CARD_STATUS_CHANGE" ], "config": { "basic_auth_username": "username", "basic_auth_password": "password", "custom_headers": [ { "header_name": "apikey", "header_value": "306e38e4-54be-469f-beca-4297129289d6" } ], "created": "2021-05-27T18:48:00.074Z", "modified": "2021-05-27T18:48:00.074Z" } }`

const ncoreHeaderValue = "306e38e4-54be-469f-beca-4297129289d6"

// cardEvent is a CARD_STATUS_CHANGE payload of the nCore samples.
const cardEvent = `{"event": "CARD_STATUS_CHANGE", "card_status_change": {"card_id": "eef930c7-6e44-4846-948a-dfd7855484b6", "old_status": "ACTIVE", "new_status": "SUSPENDED", "status_reason_code": "S0", "note": {"category": "aaa", "description": "First time activation", "extras": {}}}}`

const txnEvent = `{"event": "TRANSACTION", "card_transaction": {"id": "9829a089-1804-40b6-9920-d31bacc07f17", "message_type": "AUTHORIZATION", "transaction_type": "PURCHASE", "transaction_amount": 100, "transaction_currency": "AED"}}`

const userEvent = `{"event": "USER_CREATED", "user_id": "ea27ae20-82a6-4940-a361-bc52c3147d7f", "new_status": "PENDINGKYB", "user_type": "BUSINESS"}`

func newStart(t *testing.T) *heraldtest.Instance {
	t.Helper()
	return heraldtest.Start(t, heraldtest.Options{})
}

// quote JSON-encodes s.
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// apiErr is the error answer body.
type apiErr struct {
	Code    string  `json:"code"`
	Message string  `json:"message"`
	Field   *string `json:"field"`
}

// wantError checks an error answer: status, code, field ("" for none), a
// message, the JSON content type and nothing but {"error": {...}}.
func wantError(t testing.TB, r heraldtest.Response, status int, code, field string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body %s", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var outer map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &outer); err != nil {
		t.Fatalf("error body %q is not a JSON object: %v", r.Body, err)
	}
	if len(outer) != 1 || outer["error"] == nil {
		t.Fatalf("error body %s: want exactly one member \"error\"", r.Body)
	}
	var inner map[string]any
	if err := json.Unmarshal(outer["error"], &inner); err != nil {
		t.Fatalf("error member %s is not an object: %v", outer["error"], err)
	}
	for k := range inner {
		if k != "code" && k != "message" && k != "field" {
			t.Errorf("error body has unexpected member %q: %s", k, r.Body)
		}
	}
	var e apiErr
	if err := json.Unmarshal(outer["error"], &e); err != nil {
		t.Fatalf("error member %s: %v", outer["error"], err)
	}
	if e.Code != code {
		t.Errorf("error.code = %q, want %q (%s)", e.Code, code, r.Body)
	}
	if e.Message == "" {
		t.Errorf("error.message is empty: %s", r.Body)
	}
	got := ""
	if e.Field != nil {
		got = *e.Field
	}
	if got != field {
		t.Errorf("error.field = %q, want %q (%s)", got, field, r.Body)
	}
}

// wantStatus fails the test unless r has the status.
func wantStatus(t testing.TB, r heraldtest.Response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body %s", r.Status, status, r.Body)
	}
}

// webhook is a webhook answer.
type webhook struct {
	ID       string   `json:"id"`
	Endpoint string   `json:"endpoint"`
	Events   []string `json:"events"`
	Status   string   `json:"status"`
	Config   struct {
		BasicAuthUsername *string `json:"basic_auth_username"`
		BasicAuthPassword *string `json:"basic_auth_password"`
		CustomHeaders     []struct {
			Name  string `json:"header_name"`
			Value string `json:"header_value"`
		} `json:"custom_headers"`
		Format               string          `json:"format"`
		TimeoutSeconds       int             `json:"timeout_seconds"`
		MaxInFlight          int             `json:"max_in_flight"`
		MaxRetries           *int            `json:"max_retries"`
		RetryIntervalSeconds *int            `json:"retry_interval_seconds"`
		OAuth2               json.RawMessage `json:"oauth2"`
	} `json:"config"`
	Created  string `json:"created"`
	Modified string `json:"modified"`
	Secret   string `json:"secret"`
}

// createHook registers a webhook with key and returns the 201 answer.
func createHook(t testing.TB, in *heraldtest.Instance, key string, body any, headers ...string) webhook {
	t.Helper()
	r := in.Do(t, key, "POST", "/webhooks", body, headers...)
	wantStatus(t, r, http.StatusCreated)
	var w webhook
	r.JSON(t, &w)
	if w.ID == "" || !strings.HasPrefix(w.Secret, "whsec_") {
		t.Fatalf("create answer lacks id or secret: %s", r.Body)
	}
	return w
}

// hookBody is a minimal webhook body.
func hookBody(endpoint string, events ...string) map[string]any {
	if len(events) == 0 {
		events = []string{"CARD_STATUS_CHANGE"}
	}
	return map[string]any{"endpoint": endpoint, "events": events}
}

// getHook reads a webhook as the raw answer bytes.
func getHook(t testing.TB, in *heraldtest.Instance, key, id string) []byte {
	t.Helper()
	r := in.Do(t, key, "GET", "/webhooks/"+id, nil)
	wantStatus(t, r, http.StatusOK)
	return r.Body
}

// listHookIDs lists every webhook id of key's tenant.
func listHookIDs(t testing.TB, in *heraldtest.Instance, key string, headers ...string) []string {
	t.Helper()
	r := in.Do(t, key, "GET", "/webhooks?limit=1000", nil, headers...)
	wantStatus(t, r, http.StatusOK)
	var l struct {
		Data []webhook `json:"data"`
	}
	r.JSON(t, &l)
	ids := []string{}
	for _, w := range l.Data {
		ids = append(ids, w.ID)
	}
	return ids
}

// notification is a search answer item.
type notification struct {
	ID           string `json:"id"`
	EventID      string `json:"event_id"`
	WebhookID    string `json:"webhook_id"`
	Event        string `json:"event"`
	Status       string `json:"status"`
	AttemptCount int    `json:"attempt_count"`
	Attempts     []struct {
		Attempt    int    `json:"attempt"`
		StatusCode int    `json:"status_code"`
		Error      string `json:"error"`
	} `json:"attempts"`
}

type searchAnswer struct {
	Data   []notification `json:"data"`
	Paging struct {
		After   *string `json:"after"`
		HasMore bool    `json:"has_more"`
	} `json:"paging"`
}

func search(t testing.TB, in *heraldtest.Instance, key string, filter any, headers ...string) searchAnswer {
	t.Helper()
	r := in.Do(t, key, "POST", "/webhooks:search", filter, headers...)
	wantStatus(t, r, http.StatusOK)
	var s searchAnswer
	r.JSON(t, &s)
	return s
}

// published is a POST /events answer.
type published struct {
	EventID       string `json:"event_id"`
	Notifications []struct {
		ID        string `json:"id"`
		WebhookID string `json:"webhook_id"`
	} `json:"notifications"`
}

func publish(t testing.TB, in *heraldtest.Instance, key, payload string, headers ...string) published {
	t.Helper()
	r := in.Do(t, key, "POST", "/events", payload, headers...)
	wantStatus(t, r, http.StatusAccepted)
	var p published
	r.JSON(t, &p)
	if p.EventID == "" {
		t.Fatalf("publish answer has no event_id: %s", r.Body)
	}
	return p
}

// hookIDs is the set of webhook ids a publish answer addressed.
func (p published) hookIDs() map[string]bool {
	out := map[string]bool{}
	for _, n := range p.Notifications {
		out[n.WebhookID] = true
	}
	return out
}

// tenant is a POST /tenants answer.
type tenant struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	APIKey string `json:"api_key"`
}

func createTenant(t testing.TB, in *heraldtest.Instance, name string) tenant {
	t.Helper()
	r := in.Admin(t, "POST", "/tenants", map[string]string{"name": name})
	wantStatus(t, r, http.StatusCreated)
	var tn tenant
	r.JSON(t, &tn)
	if tn.ID == "" || !strings.HasPrefix(tn.APIKey, "hk_") {
		t.Fatalf("tenant answer lacks id or api_key: %s", r.Body)
	}
	return tn
}

// newKey makes an API key of role for a tenant and returns its id and key.
func newKey(t testing.TB, in *heraldtest.Instance, tenantID, role string) (id, key string) {
	t.Helper()
	r := in.Admin(t, "POST", "/tenants/"+tenantID+"/keys", map[string]string{"role": role})
	wantStatus(t, r, http.StatusCreated)
	var k struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	r.JSON(t, &k)
	if k.ID == "" || !strings.HasPrefix(k.Key, "hk_") {
		t.Fatalf("key answer lacks id or key: %s", r.Body)
	}
	return k.ID, k.Key
}

// countRows runs a count query against the instance's database.
func countRows(t testing.TB, in *heraldtest.Instance, query string, args ...any) int {
	t.Helper()
	return in.Count(t, query, args...)
}

// received is one request a receiver got.
type received struct {
	Method string
	Header http.Header
	Body   []byte
}

// receiver is a webhook endpoint recording what it receives and answering
// with a settable status and body.
type receiver struct {
	*httptest.Server
	status atomic.Int32
	answer atomic.Value // string
	mu     sync.Mutex
	reqs   []received
}

func newReceiver(t testing.TB, status int) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.status.Store(int32(status))
	rc.answer.Store("ok")
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, received{Method: r.Method, Header: r.Header.Clone(), Body: body})
		rc.mu.Unlock()
		w.WriteHeader(int(rc.status.Load()))
		_, _ = io.WriteString(w, rc.answer.Load().(string))
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.reqs...)
}

// waitFor polls search until want notifications match filter.
func waitFor(t testing.TB, in *heraldtest.Instance, key string, filter map[string]any, want int) []notification {
	t.Helper()
	var got []notification
	heraldtest.Eventually(t, 30*time.Second, "notifications matching "+jsonString(filter), func() bool {
		got = search(t, in, key, filter).Data
		return len(got) == want
	})
	return got
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
