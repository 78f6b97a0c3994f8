package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

func TestCreateWebhookNCoreBody(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	r := in.Admin(t, "POST", "/webhooks", fmt.Sprintf(ncoreCreate, quote("https://client.example/hooks")))
	wantStatus(t, r, http.StatusCreated)

	var raw map[string]any
	r.JSON(t, &raw)
	wantKeys := []string{"config", "created", "endpoint", "events", "health", "id", "modified", "public_key", "secret", "status"}
	if got := sortedKeys(raw); !slices.Equal(got, wantKeys) {
		t.Errorf("answer members = %v, want %v", got, wantKeys)
	}
	wantConfig := map[string]any{
		"basic_auth_username": "username", "basic_auth_password": "********",
		"custom_headers": []any{map[string]any{"header_name": "apikey", "header_value": "********"}},
		"format":         "ncore", "timeout_seconds": 10.0, "max_in_flight": 16.0,
		"max_retries": nil, "retry_interval_seconds": nil, "oauth2": nil,
		"rate_limit_per_second": nil, "ordered": false, "signature": "hmac-sha256", "filter": nil, "tls": nil,
	}
	wantHealth := map[string]any{"circuit": "closed", "consecutive_failures": 0.0, "failing_since": nil,
		"next_probe": nil, "last_success": nil, "last_failure": nil}
	if got := raw["health"]; jsonString(got) != jsonString(wantHealth) {
		t.Errorf("health = %s\nwant     %s", jsonString(got), jsonString(wantHealth))
	}
	if got := raw["config"]; jsonString(got) != jsonString(wantConfig) {
		t.Errorf("config = %s\nwant     %s", jsonString(got), jsonString(wantConfig))
	}

	var w webhook
	r.JSON(t, &w)
	if w.Endpoint != "https://client.example/hooks" || w.Status != "ACTIVE" || !slices.Equal(w.Events, []string{"CARD_STATUS_CHANGE"}) {
		t.Errorf("endpoint/status/events = %q %q %v", w.Endpoint, w.Status, w.Events)
	}
	if !strings.HasPrefix(w.Secret, "whsec_") || len(w.Secret) < len("whsec_")+32 {
		t.Errorf("secret = %q, want whsec_ and at least 24 random bytes", w.Secret)
	}
	if loc := r.Header.Get("Location"); loc != "/webhooks/"+w.ID {
		t.Errorf("Location = %q, want /webhooks/%s", loc, w.ID)
	}
	created, err := time.Parse("2006-01-02T15:04:05.000Z", w.Created)
	if err != nil || time.Since(created) > time.Minute || time.Since(created) < -time.Minute {
		t.Errorf("created = %q (%v): want the server's time, not the body's", w.Created, err)
	}
	if w.Modified != w.Created {
		t.Errorf("modified = %q, want created %q", w.Modified, w.Created)
	}

	// GET shows the same webhook without the secret, and no answer leaks a
	// credential.
	body := getHook(t, in, heraldtest.AdminKey, w.ID)
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	delete(raw, "secret")
	if jsonString(got) != jsonString(raw) {
		t.Errorf("GET = %s\nwant  %s", jsonString(got), jsonString(raw))
	}
	list := in.Admin(t, "GET", "/webhooks", nil)
	for _, b := range [][]byte{body, list.Body} {
		for _, secret := range []string{`"password"`, ncoreHeaderValue, w.Secret, "whsec_", `"secret"`} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("answer leaks %s: %s", secret, b)
			}
		}
	}
}

func TestCreateWebhookOptionalFields(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	cases := []struct {
		name  string
		body  map[string]any
		check func(t *testing.T, w webhook)
	}{
		{"wildcard events", map[string]any{"endpoint": "https://a.example/", "events": []string{"*"}},
			func(t *testing.T, w webhook) {
				if !slices.Equal(w.Events, []string{"*"}) || w.Config.BasicAuthUsername != nil || w.Config.BasicAuthPassword != nil ||
					w.Config.CustomHeaders == nil || len(w.Config.CustomHeaders) != 0 {
					t.Errorf("events %v, username %v, password %v, headers %v", w.Events, w.Config.BasicAuthUsername, w.Config.BasicAuthPassword, w.Config.CustomHeaders)
				}
			}},
		{"created disabled", map[string]any{"endpoint": "https://a.example/", "events": []string{"KYC_RESULT"}, "status": "DISABLED"},
			func(t *testing.T, w webhook) {
				if w.Status != "DISABLED" {
					t.Errorf("status = %q", w.Status)
				}
			}},
		{"bounds and nCore retries", map[string]any{"endpoint": "https://a.example/", "events": []string{"TRANSACTION", "NI_TOKEN_NOTIFICATION"},
			"config": map[string]any{"format": "ni", "timeout_seconds": 30, "max_in_flight": 1, "max_retries": 0, "retry_interval_seconds": 60, "oauth2": nil}},
			func(t *testing.T, w webhook) {
				c := w.Config
				if c.Format != "ni" || c.TimeoutSeconds != 30 || c.MaxInFlight != 1 || c.MaxRetries == nil || *c.MaxRetries != 0 ||
					c.RetryIntervalSeconds == nil || *c.RetryIntervalSeconds != 60 || string(c.OAuth2) != "null" {
					t.Errorf("config = %+v", c)
				}
			}},
		{"lower bounds", map[string]any{"endpoint": "https://a.example/", "events": []string{"PIN_CHANGE"},
			"config": map[string]any{"timeout_seconds": 1, "max_in_flight": 256, "max_retries": 100}},
			func(t *testing.T, w webhook) {
				if w.Config.TimeoutSeconds != 1 || w.Config.MaxInFlight != 256 || *w.Config.MaxRetries != 100 {
					t.Errorf("config = %+v", w.Config)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := createHook(t, in, heraldtest.AdminKey, tc.body)
			tc.check(t, w)
			var again webhook
			if err := json.Unmarshal(getHook(t, in, heraldtest.AdminKey, w.ID), &again); err != nil {
				t.Fatal(err)
			}
			tc.check(t, again)
		})
	}
}

func TestListWebhooksPagination(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	var ids []string
	for i := range 5 {
		ids = append(ids, createHook(t, in, heraldtest.AdminKey, hookBody(fmt.Sprintf("https://h%d.example/", i))).ID)
	}
	type page struct {
		Data   []webhook `json:"data"`
		Paging struct {
			After   *string `json:"after"`
			HasMore bool    `json:"has_more"`
		} `json:"paging"`
	}
	get := func(query string) page {
		t.Helper()
		r := in.Admin(t, "GET", "/webhooks"+query, nil)
		wantStatus(t, r, http.StatusOK)
		var p page
		r.JSON(t, &p)
		return p
	}
	idsOf := func(p page) []string {
		out := []string{}
		for _, w := range p.Data {
			out = append(out, w.ID)
		}
		return out
	}
	all := get("")
	if got := idsOf(all); !slices.Equal(got, ids) || all.Paging.HasMore || all.Paging.After != nil {
		t.Fatalf("full list = %v has_more %v after %v, want %v in creation order", got, all.Paging.HasMore, all.Paging.After, ids)
	}
	var walked []string
	after := ""
	for i, want := range [][]string{ids[0:2], ids[2:4], ids[4:5]} {
		p := get("?limit=2&after=" + after)
		if got := idsOf(p); !slices.Equal(got, want) {
			t.Fatalf("page %d = %v, want %v", i, got, want)
		}
		last := i == 2
		if p.Paging.HasMore == last || (p.Paging.After == nil) != last {
			t.Fatalf("page %d paging = has_more %v after %v", i, p.Paging.HasMore, p.Paging.After)
		}
		if !last {
			if *p.Paging.After != want[1] {
				t.Fatalf("page %d after = %q, want %q", i, *p.Paging.After, want[1])
			}
			after = *p.Paging.After
		}
		walked = append(walked, idsOf(p)...)
	}
	if !slices.Equal(walked, ids) {
		t.Errorf("walked %v, want %v", walked, ids)
	}
	for _, q := range []string{"?limit=0", "?limit=-1", "?limit=abc", "?limit=1001"} {
		wantError(t, in.Admin(t, "GET", "/webhooks"+q, nil), http.StatusBadRequest, "invalid_request", "limit")
	}
	// A cursor no answer gave out is an error, not an empty page.
	for _, q := range []string{"?after=garbage", "?limit=2&after=" + strings.ToUpper(ids[1]), "?after=%20" + ids[1]} {
		wantError(t, in.Admin(t, "GET", "/webhooks"+q, nil), http.StatusBadRequest, "invalid_request", "after")
		wantError(t, in.Admin(t, "GET", "/tenants"+q, nil), http.StatusBadRequest, "invalid_request", "after")
	}
	// A tenant with no webhooks gets an empty array, not null.
	tn := createTenant(t, in, "empty")
	r := in.Do(t, tn.APIKey, "GET", "/webhooks", nil)
	wantStatus(t, r, http.StatusOK)
	if !bytes.Contains(r.Body, []byte(`"data":[]`)) || !bytes.Contains(r.Body, []byte(`"paging":{"after":null,"has_more":false}`)) {
		t.Errorf("empty list = %s", r.Body)
	}
}

func TestGetWebhookUnknown(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	for _, id := range []string{"0190f0f0-0000-7000-8000-000000000000", "nope"} {
		wantError(t, in.Admin(t, "GET", "/webhooks/"+id, nil), http.StatusNotFound, "not_found", "")
		wantError(t, in.Admin(t, "PUT", "/webhooks/"+id, map[string]any{"status": "ACTIVE"}), http.StatusNotFound, "not_found", "")
		wantError(t, in.Admin(t, "DELETE", "/webhooks/"+id, nil), http.StatusNotFound, "not_found", "")
		wantError(t, in.Admin(t, "POST", "/webhooks/"+id+":ping", nil), http.StatusNotFound, "not_found", "")
		wantError(t, in.Admin(t, "POST", "/webhooks/"+id+"/secret:rotate", nil), http.StatusNotFound, "not_found", "")
	}
}

func TestUpdateWebhook(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	rc := newReceiver(t, http.StatusOK)
	orig := createHook(t, in, heraldtest.AdminKey, fmt.Sprintf(ncoreCreate, quote(rc.URL+"/a")))
	id := orig.ID
	put := func(t *testing.T, body any) webhook {
		t.Helper()
		r := in.Admin(t, "PUT", "/webhooks/"+id, body)
		wantStatus(t, r, http.StatusOK)
		var w webhook
		r.JSON(t, &w)
		if w.Secret != "" {
			t.Errorf("PUT answer shows the secret")
		}
		var stored webhook
		if err := json.Unmarshal(getHook(t, in, heraldtest.AdminKey, id), &stored); err != nil {
			t.Fatal(err)
		}
		if jsonString(stored) != jsonString(w) {
			t.Errorf("GET after PUT = %s\nPUT answer       %s", jsonString(stored), jsonString(w))
		}
		return w
	}
	// ping reports the credentials the receiver got with a PING.
	ping := func(t *testing.T) received {
		t.Helper()
		before := len(rc.requests())
		r := in.Admin(t, "POST", "/webhooks/"+id+":ping", nil)
		wantStatus(t, r, http.StatusOK)
		if ok, _ := r.Map(t)["success"].(bool); !ok {
			t.Fatalf("ping failed: %s", r.Body)
		}
		reqs := rc.requests()
		if len(reqs) != before+1 {
			t.Fatalf("receiver got %d requests, want %d", len(reqs), before+1)
		}
		return reqs[len(reqs)-1]
	}
	basic := func(rq received) (string, string) {
		req := &http.Request{Header: rq.Header}
		u, p, _ := req.BasicAuth()
		return u, p
	}

	t.Run("endpoint only", func(t *testing.T) {
		w := put(t, map[string]any{"endpoint": rc.URL + "/b"})
		if w.Endpoint != rc.URL+"/b" || !slices.Equal(w.Events, orig.Events) || jsonString(w.Config) != jsonString(orig.Config) {
			t.Errorf("after endpoint change: %+v", w)
		}
		if w.Created != orig.Created || w.Modified < orig.Modified {
			t.Errorf("created %q modified %q (orig %q %q)", w.Created, w.Modified, orig.Created, orig.Modified)
		}
	})
	t.Run("events only", func(t *testing.T) {
		w := put(t, map[string]any{"events": []string{"TRANSACTION", "*"}})
		if !slices.Equal(w.Events, []string{"TRANSACTION", "*"}) || w.Endpoint != rc.URL+"/b" {
			t.Errorf("after events change: %+v", w)
		}
	})
	t.Run("one config member keeps the others", func(t *testing.T) {
		w := put(t, map[string]any{"config": map[string]any{"timeout_seconds": 20}})
		c := w.Config
		if c.TimeoutSeconds != 20 || c.MaxInFlight != 16 || c.Format != "ncore" || *c.BasicAuthUsername != "username" ||
			*c.BasicAuthPassword != "********" || len(c.CustomHeaders) != 1 || c.CustomHeaders[0].Name != "apikey" {
			t.Errorf("config = %+v", c)
		}
		rq := ping(t)
		if u, p := basic(rq); u != "username" || p != "password" || rq.Header.Get("apikey") != ncoreHeaderValue {
			t.Errorf("credentials after partial update: %q %q %q", u, p, rq.Header.Get("apikey"))
		}
	})
	t.Run("masked values sent back keep the stored secrets", func(t *testing.T) {
		var got map[string]any
		if err := json.Unmarshal(getHook(t, in, heraldtest.AdminKey, id), &got); err != nil {
			t.Fatal(err)
		}
		w := put(t, map[string]any{"endpoint": got["endpoint"], "events": got["events"], "status": got["status"], "config": got["config"]})
		if *w.Config.BasicAuthPassword != "********" || w.Config.CustomHeaders[0].Value != "********" {
			t.Errorf("config = %+v", w.Config)
		}
		rq := ping(t)
		if u, p := basic(rq); u != "username" || p != "password" {
			t.Errorf("basic auth after masked PUT = %q:%q, want username:password", u, p)
		}
		if v := rq.Header.Get("apikey"); v != ncoreHeaderValue {
			t.Errorf("apikey after masked PUT = %q, want the stored value", v)
		}
	})
	t.Run("new secrets replace, masked ones stay", func(t *testing.T) {
		put(t, map[string]any{"config": map[string]any{"basic_auth_password": "n3w",
			"custom_headers": []map[string]string{{"header_name": "APIKEY", "header_value": "********"}, {"header_name": "X-Extra", "header_value": "v2"}}}})
		rq := ping(t)
		if u, p := basic(rq); u != "username" || p != "n3w" {
			t.Errorf("basic auth = %q:%q, want username:n3w", u, p)
		}
		if rq.Header.Get("apikey") != ncoreHeaderValue || rq.Header.Get("X-Extra") != "v2" {
			t.Errorf("headers = %v", rq.Header)
		}
	})
	t.Run("status DISABLED then ACTIVE", func(t *testing.T) {
		if w := put(t, map[string]any{"status": "DISABLED"}); w.Status != "DISABLED" {
			t.Errorf("status = %q", w.Status)
		}
		if w := put(t, map[string]any{"status": "ACTIVE"}); w.Status != "ACTIVE" {
			t.Errorf("status = %q", w.Status)
		}
	})
	t.Run("nullable members clear", func(t *testing.T) {
		w := put(t, map[string]any{"config": map[string]any{"max_retries": 3, "retry_interval_seconds": 5}})
		if *w.Config.MaxRetries != 3 || *w.Config.RetryIntervalSeconds != 5 {
			t.Fatalf("config = %+v", w.Config)
		}
		w = put(t, map[string]any{"config": map[string]any{"max_retries": nil, "retry_interval_seconds": nil}})
		if w.Config.MaxRetries != nil || w.Config.RetryIntervalSeconds != nil {
			t.Errorf("config = %+v", w.Config)
		}
	})
	t.Run("empty object changes nothing", func(t *testing.T) {
		before := getHook(t, in, heraldtest.AdminKey, id)
		var b, a webhook
		_ = json.Unmarshal(before, &b)
		a = put(t, map[string]any{})
		b.Modified, a.Modified = "", ""
		if jsonString(a) != jsonString(b) {
			t.Errorf("PUT {} changed %s\ninto %s", jsonString(b), jsonString(a))
		}
	})
}

func TestDeleteWebhook(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	keep := createHook(t, in, heraldtest.AdminKey, hookBody("https://keep.example/"))
	// Disabled: its notifications stay PENDING until the delete cancels them.
	gone := createHook(t, in, heraldtest.AdminKey, map[string]any{"endpoint": "https://gone.example/", "events": []string{"*"}, "status": "DISABLED"})
	p := publish(t, in, heraldtest.AdminKey, userEvent)
	if len(p.Notifications) != 1 || p.Notifications[0].WebhookID != gone.ID {
		t.Fatalf("notifications = %+v, want one for %s", p.Notifications, gone.ID)
	}

	r := in.Admin(t, "DELETE", "/webhooks/"+gone.ID, nil)
	wantStatus(t, r, http.StatusNoContent)
	if len(r.Body) != 0 {
		t.Errorf("204 body = %q", r.Body)
	}
	wantError(t, in.Admin(t, "GET", "/webhooks/"+gone.ID, nil), http.StatusNotFound, "not_found", "")
	wantError(t, in.Admin(t, "DELETE", "/webhooks/"+gone.ID, nil), http.StatusNotFound, "not_found", "")
	wantError(t, in.Admin(t, "PUT", "/webhooks/"+gone.ID, map[string]any{"status": "ACTIVE"}), http.StatusNotFound, "not_found", "")
	if ids := listHookIDs(t, in, heraldtest.AdminKey); !slices.Equal(ids, []string{keep.ID}) {
		t.Errorf("list after delete = %v, want [%s]", ids, keep.ID)
	}
	n := search(t, in, heraldtest.AdminKey, map[string]any{"notification_id": p.Notifications[0].ID}).Data
	if len(n) != 1 || n[0].Status != "CANCELLED" {
		t.Errorf("notification after delete = %+v, want CANCELLED", n)
	}
	// A deleted webhook gets no new notifications.
	if p := publish(t, in, heraldtest.AdminKey, userEvent); len(p.Notifications) != 0 {
		t.Errorf("publish after delete addressed %+v", p.Notifications)
	}
}

func TestWebhookLimit(t *testing.T) {
	t.Parallel()
	in := heraldtest.Start(t, heraldtest.Options{MaxWebhooksPerTenant: 2})
	a := createHook(t, in, heraldtest.AdminKey, hookBody("https://a.example/"))
	createHook(t, in, heraldtest.AdminKey, hookBody("https://b.example/"))
	wantError(t, in.Admin(t, "POST", "/webhooks", hookBody("https://c.example/")), http.StatusConflict, "limit_exceeded", "")
	if ids := listHookIDs(t, in, heraldtest.AdminKey); len(ids) != 2 {
		t.Errorf("webhooks after refused create = %v", ids)
	}
	// The limit is per tenant.
	other := createTenant(t, in, "other")
	createHook(t, in, other.APIKey, hookBody("https://o.example/"))
	// Deleted webhooks do not count.
	wantStatus(t, in.Admin(t, "DELETE", "/webhooks/"+a.ID, nil), http.StatusNoContent)
	createHook(t, in, heraldtest.AdminKey, hookBody("https://c.example/"))
	wantError(t, in.Admin(t, "POST", "/webhooks", hookBody("https://d.example/")), http.StatusConflict, "limit_exceeded", "")
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TestSecretsEncryptedAtRest checks SPEC section 2: "Secrets in config are
// encrypted at rest".
func TestSecretsNeverInClear(t *testing.T) {
	var logs syncBuffer
	dir := t.TempDir()
	in := heraldtest.Start(t, heraldtest.Options{DataDir: dir, Log: &logs})
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	defer down.Close()
	const password, headerValue, clientSecret = "pw-7f3a9c-unique", "hv-19be2d-unique", "cs-4d8e1a-unique"
	basic := createHook(t, in, heraldtest.AdminKey, map[string]any{"endpoint": down.URL, "events": []string{"*"},
		"config": map[string]any{"basic_auth_username": "u", "basic_auth_password": password, "max_retries": 1,
			"custom_headers": []map[string]string{{"header_name": "x-api-key", "header_value": headerValue}}}})
	oauth := createHook(t, in, heraldtest.AdminKey, map[string]any{"endpoint": down.URL, "events": []string{"*"},
		"config": map[string]any{"oauth2": map[string]any{"token_url": down.URL + "/token", "client_id": "c", "client_secret": clientSecret}, "max_retries": 1}})
	signing := []string{basic.Secret, oauth.Secret}
	rotated := in.Admin(t, "POST", "/webhooks/"+basic.ID+"/secret:rotate", nil)
	signing = append(signing, rotated.Map(t)["secret"].(string))
	publish(t, in, heraldtest.AdminKey, cardEvent)
	heraldtest.Eventually(t, 5*time.Second, "both webhooks to give up", func() bool {
		r := in.Admin(t, "POST", "/webhooks:search", map[string]any{"status": "EXPIRED"})
		return len(r.Map(t)["data"].([]any)) == 2
	})

	secrets := append([]string{password, headerValue, clientSecret}, signing...)
	var answers []byte
	for _, path := range []string{"/webhooks", "/webhooks/" + basic.ID, "/webhooks/" + oauth.ID} {
		answers = append(answers, in.Admin(t, "GET", path, nil).Body...)
	}
	answers = append(answers, in.Admin(t, "POST", "/webhooks:search", map[string]any{}).Body...)
	for _, secret := range secrets {
		if strings.Contains(string(answers), secret) {
			t.Errorf("an API answer holds secret %q in clear", secret)
		}
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the logs hold secret %q in clear", secret)
		}
	}
	if logs.Len() == 0 {
		t.Fatal("no logs captured: the log check proves nothing")
	}
	if err := in.Service.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "herald.db*"))
	if len(files) == 0 {
		t.Fatal("no database files found")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range secrets {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s holds secret %q in clear", filepath.Base(f), secret)
			}
		}
	}
	if info, err := os.Stat(filepath.Join(dir, "encryption.key")); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("encryption key file: %v, mode %v; want it created with mode 0600", err, info.Mode().Perm())
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}
