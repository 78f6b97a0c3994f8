package api

// Fuzz tests of the three request bodies read from untrusted clients: the
// webhook create/update body, a published event and the search body. CI runs
// each for a short time, for example:
//
//	go test ./internal/api -run '^$' -fuzz '^FuzzWebhookDecode$' -fuzztime 30s
//
// Without -fuzz they run their seeds as ordinary tests.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/netguard"
	"github.com/heraldhq/herald/internal/store"
)

// Seed bodies. readmeCreate is the create body of the nCore documentation as
// the README walk-through sends it; readmeEvent is its published event.
const (
	readmeCreate = `{ "endpoint": "http://127.0.0.1:9000/", "events": [ "CARD_STATUS_CHANGE" ], "config": { "basic_auth_username": "username", "basic_auth_password": "password", "custom_headers": [ { "header_name": "apikey", "header_value": "306e38e4-54be-469f-beca-4297129289d6" } ], "created": "2021-05-27T18:48:00.074Z", "modified": "2021-05-27T18:48:00.074Z" } }`
	readmeEvent  = `{"event": "CARD_STATUS_CHANGE", "card_status_change": {"card_id": "eef930c7-6e44-4846-948a-dfd7855484b6", "old_status": "ACTIVE", "new_status": "SUSPENDED", "status_reason_code": "S0"}}`
	seedCard     = `{"event": "CARD_STATUS_CHANGE", "card_status_change": {"card_id": "eef930c7-6e44-4846-948a-dfd7855484b6", "old_status": "ACTIVE", "new_status": "SUSPENDED", "status_reason_code": "S0", "note": {"category": "aaa", "description": "First time activation", "extras": {}}}}`
	seedTxn      = `{"event": "TRANSACTION", "card_transaction": {"id": "9829a089-1804-40b6-9920-d31bacc07f17", "message_type": "AUTHORIZATION", "transaction_type": "PURCHASE", "transaction_amount": 100, "transaction_currency": "AED"}}`
	seedUser     = `{"event": "USER_CREATED", "user_id": "ea27ae20-82a6-4940-a361-bc52c3147d7f", "new_status": "PENDINGKYB", "user_type": "BUSINESS"}`
	seedNI       = `{"id": "b876d568-8411-4638-bdef-a1a188a4773b", "type": "AC", "timestamp": "2020-07-20T06:49:02.366Z", "details": {"card": {"id": {"value": "99984100133767425304", "type": "externalCardId"}}, "token": {"requestorName": "APPLE PAY", "activationCode": "303241"}}}`
)

// hostileSeeds are bodies every fuzzer starts from: deep nesting, huge and
// odd numbers, escapes, NUL bytes, invalid UTF-8, duplicate and
// differently-cased members.
func hostileSeeds() []string {
	return []string{
		``, ` `, `null`, `[]`, `"x"`, `0`, `{`, `}`, `{}}`, `{} {}`, "\xef\xbb\xbf{}",
		strings.Repeat(`{"a":`, 10001) + `1` + strings.Repeat(`}`, 10001),
		strings.Repeat(`[`, 10001) + strings.Repeat(`]`, 10001),
		`{"config":` + strings.Repeat(`{"config":`, 5000) + `{}` + strings.Repeat(`}`, 5001),
		`{"limit": 1e309}`, `{"limit": -0}`, `{"limit": 100000000000000000000000000000}`, `{"limit": 1.5}`, `{"limit": 1e2}`,
		`{"config": {"timeout_seconds": 9223372036854775808, "max_in_flight": -9223372036854775809}}`,
		`{"config": {"max_retries": 1e400, "retry_interval_seconds": 0.5}}`,
		`{"event": "\u0043ARD_STATUS_CHANGE", "card_status_change": {"card_id": "\ud800", "old_status": "\u0000"}}`,
		`{"endpoint": "https://\u0063lient.example/\u0000", "events": ["\u002a"]}`,
		"{\"endpoint\": \"https://client.example/\x00\", \"events\": [\"*\"]}",
		"{\"event\": \"USER_CREATED\x00\"}",
		"{\"event\": \"USER_CREATED\", \"user_id\": \"\xff\xfe\"}",
		`{"events": ["*"], "events": [], "endpoint": "https://a.example/", "ENDPOINT": "ftp://b.example/"}`,
		`{"Endpoint": "https://a.example/", "EVENTS": ["*"], "Config": {"Custom_Headers": [{"HEADER_NAME": "a", "header_value": "b"}]}}`,
		`{"event": "USER_CREATED", "event": "NOPE"}`,
		`{"id": "1", "type": "AC", "timestamp": "t", "details": {}, "event": null}`,
		`{"status": "\u0000", "from": "2026-01-01T00:00:00Z", "to": "0000-01-01T00:00:00+23:59"}`,
		`{"after": "` + strings.Repeat("\\ud83d\\ude00", 1000) + `"}`,
	}
}

func addSeeds(f *testing.F, bodies ...string) {
	for _, b := range bodies {
		f.Add([]byte(b))
	}
}

// fuzzStore is the store of the fuzz tests: only search answers; a search
// for webhook_id "fail" fails as a database outage would. Like PostgreSQL,
// it refuses text holding a NUL character (TEXT cannot store or compare
// one), which the API must not pass on.
type fuzzStore struct {
	Store
	searched bool
	filter   store.NotificationFilter
	page     store.Page
}

var errFuzzOutage = errors.New("database is down")

func (f *fuzzStore) SearchNotifications(_ context.Context, nf store.NotificationFilter, p store.Page) ([]store.Notification, store.Paging, error) {
	f.searched, f.filter, f.page = true, nf, p
	if nf.WebhookID == "fail" {
		return nil, store.Paging{}, errFuzzOutage
	}
	for _, v := range append([]string{nf.TenantID, nf.EventID, nf.WebhookID, nf.EventName, nf.Status, p.After}, nf.NotificationIDs...) {
		if strings.ContainsRune(v, 0) || !utf8.ValidString(v) {
			return nil, store.Paging{}, fmt.Errorf("ERROR: invalid byte sequence for encoding \"UTF8\" in %q", v)
		}
	}
	// Echo the filter back, so odd strings go through the answer's encoding.
	n := store.Notification{ID: uuid.Must(uuid.NewV7()).String(), TenantID: nf.TenantID, EventID: nf.EventID,
		WebhookID: nf.WebhookID, EventName: nf.EventName, Status: nf.Status, Attempts: 1,
		Created: nf.From, Modified: nf.To, Payload: json.RawMessage(seedCard),
		AttemptLog: []store.Attempt{{Number: 1, Started: nf.From, Duration: time.Millisecond, StatusCode: 500,
			ResponseBody: nf.EventID, ErrorKind: "http_status", Error: nf.WebhookID}}}
	if n.Status == "" {
		n.Status = store.StatusPending
	}
	return []store.Notification{n}, store.Paging{After: p.After, HasMore: p.After != ""}, nil
}

type nopWaker struct{}

func (nopWaker) Wake() {}

// newFuzzServer is the API's server as `herald serve --dev` builds it, on st.
func newFuzzServer(tb testing.TB, cat *catalog.Catalog, st Store) *server {
	tb.Helper()
	return &server{Config: Config{
		Store: st, Catalog: cat, Waker: nopWaker{}, Guard: netguard.Guard{AllowPrivate: true}, AllowHTTP: true,
		Logger: slog.New(slog.DiscardHandler),
	}}
}

func fuzzCatalog(tb testing.TB) *catalog.Catalog {
	tb.Helper()
	c, err := catalog.New()
	if err != nil {
		tb.Fatalf("catalog: %v", err)
	}
	return c
}

// newHook is a webhook as createWebhook starts it, before the body applies.
func newHook() store.Webhook {
	now := time.Now().UTC()
	return store.Webhook{
		ID: uuid.Must(uuid.NewV7()).String(), TenantID: "t", Status: store.WebhookActive,
		Config:  store.WebhookConfig{Format: store.FormatNCore, TimeoutSeconds: int(delivery.DefaultTimeout / time.Second), MaxInFlight: 16},
		Created: now, Modified: now,
	}
}

// storedHook is a registered webhook with every secret set, so that masked
// values in an update body have something to keep.
func storedHook() store.Webhook {
	h := newHook()
	h.Endpoint, h.Events = "https://client.example/hooks", []string{"CARD_STATUS_CHANGE", "TRANSACTION"}
	h.Config.BasicAuthUsername, h.Config.BasicAuthPassword = "username", "password"
	h.Config.CustomHeaders = []store.Header{{Name: "apikey", Value: "306e38e4"}, {Name: "X-Tenant", Value: "acme"}}
	return h
}

// wantInvalid checks a refused body: invalid_request, 400 (or 413 for a
// body too large), with a message, and an answer that encodes.
func wantInvalid(t *testing.T, what string, e *apiError, body []byte) {
	t.Helper()
	if e.Code != codeInvalid && !(e.Code == codeTooLarge && e.Status == http.StatusRequestEntityTooLarge) {
		t.Fatalf("%s refused %q with code %q, want %q", what, body, e.Code, codeInvalid)
	}
	if e.Status != http.StatusBadRequest && e.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("%s refused %q with status %d, want 400 or 413", what, body, e.Status)
	}
	if e.Message == "" {
		t.Fatalf("%s refused %q without a message", what, body)
	}
	rec := httptest.NewRecorder()
	writeError(rec, e)
	if rec.Code != e.Status || !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("%s: error answer %d %q is not JSON", what, rec.Code, rec.Body)
	}
}

func FuzzWebhookDecode(f *testing.F) {
	cat := fuzzCatalog(f)
	addSeeds(f, readmeCreate,
		`{"endpoint": "https://client.example/hooks", "events": ["CARD_STATUS_CHANGE", "TRANSACTION", "KYC_RESULT"], "config": {"basic_auth_username": "username", "basic_auth_password": "password", "custom_headers": [{"header_name": "apikey", "header_value": "v"}]}}`,
		`{"endpoint": "https://client.example/ni", "events": ["NI_TOKEN_NOTIFICATION"], "config": {"format": "ni", "oauth2": {"token_url": "https://auth.example/token", "client_id": "c", "client_secret": "s", "scope": "notify"}}}`,
		`{"endpoint": "https://[2606:4700:4700::1111]:8443/hooks?x=1", "events": ["*"], "status": "DISABLED", "config": {"timeout_seconds": 30, "max_in_flight": 256, "max_retries": 0, "retry_interval_seconds": 604800}}`,
		`{"config": {"basic_auth_password": "********", "custom_headers": [{"header_name": "apikey", "header_value": "********"}], "max_retries": null, "oauth2": null}}`,
		`{"config": {"basic_auth_username": "", "basic_auth_password": "", "oauth2": {"token_url": "http://127.0.0.1:9/t", "client_id": "c", "client_secret": "s"}}}`,
		`{"endpoint": "https://c.example/", "events": ["*"], "config": {"custom_headers": [{"header_name": "a", "header_value": "b"}, {"header_name": "c", "header_value": "d", "colour": 1}]}}`,
		`{"endpoint": "https://user:pass@client.example/hooks", "events": ["*"]}`,
		`{"endpoint": "https://client example/%zz", "events": ["*"]}`,
		`{"endpoint": "mailto:ops@client.example", "events": ["*"]}`,
		`{"endpoint": "https://c.example/#frag", "events": ["KYC_RESULT", "KYC_RESULT"]}`,
		`{"endpoint": "https://c.example/", "events": ["*"], "config": {"custom_headers": [{"header_name": "Webhook-Id", "header_value": "x"}]}}`,
		`{"endpoint": "https://c.example/", "events": ["*"], "config": {"custom_headers": [{"header_name": "X-A", "header_value": "a\r\nSet-Cookie: x"}]}}`,
		`{"endpoint": "https://c.example/", "events": ["*"], "config": {"custom_headers": [{"header_name": "X-A", "header_value": "1"}, {"header_name": "x-a", "header_value": "2"}]}}`,
		`{"endpoint": "https://c.example/", "events": ["*"], "status": "FAILING", "secret": "whsec_AAAA", "id": "x"}`,
		`{"endpoint": "https://c.example/", "events": ["*"], "config": {"basic_auth_username": "u", "basic_auth_password": "********"}}`,
	)
	addSeeds(f, hostileSeeds()...)
	s := newFuzzServer(f, cat, nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/webhooks", nil)
		var in webhookInput
		if e := decodeBytes(body, &in); e != nil {
			wantInvalid(t, "decode", e, body)
			return
		}
		// POST /webhooks: endpoint and events are required, the rest
		// defaults.
		created := newHook()
		switch e := s.apply(&in, &created, s.resolvingCheck(r)); {
		case in.Endpoint == nil || in.Events == nil:
		case e != nil:
			wantInvalid(t, "create", e, body)
		default:
			checkWebhookRules(t, cat, created, body)
			checkSecretsKept(t, &in, created, body)
			checkRoundTrip(t, s, created, body)
		}
		// PUT /webhooks/{id}: what is sent changes a registered webhook.
		updated := storedHook()
		if e := s.apply(&in, &updated, s.resolvingCheck(r)); e != nil {
			wantInvalid(t, "update", e, body)
			return
		}
		checkWebhookRules(t, cat, updated, body)
		checkSecretsKept(t, &in, updated, body)
		checkRoundTrip(t, s, updated, body)
	})
}

// checkSecretsKept: credentials sent in clear are stored as sent, and one
// sent masked keeps a stored value (it is never stored as the mask, nor
// dropped).
func checkSecretsKept(t *testing.T, in *webhookInput, h store.Webhook, body []byte) {
	t.Helper()
	c := in.Config
	if c == nil {
		return
	}
	if u := c.BasicAuthUsername; u.Set && u.Value != h.Config.BasicAuthUsername {
		t.Fatalf("body %q accepted, but the username stored is %q", body, h.Config.BasicAuthUsername)
	}
	if p := c.BasicAuthPassword; p.Set {
		if p.Value == mask && h.Config.BasicAuthPassword == "" {
			t.Fatalf("body %q accepted with a masked password, but no password is stored", body)
		}
		if p.Value != mask && p.Value != h.Config.BasicAuthPassword {
			t.Fatalf("body %q accepted, but the password stored is %q", body, h.Config.BasicAuthPassword)
		}
	}
	if c.CustomHeaders.Set {
		if len(c.CustomHeaders.Value) != len(h.Config.CustomHeaders) {
			t.Fatalf("body %q accepted with %d custom headers, but %d are stored", body, len(c.CustomHeaders.Value), len(h.Config.CustomHeaders))
		}
		for i, hd := range c.CustomHeaders.Value {
			stored := h.Config.CustomHeaders[i]
			if stored.Name != *hd.Name || stored.Value == mask || (*hd.Value != mask && stored.Value != *hd.Value) {
				t.Fatalf("body %q accepted, but header %d is stored as %+v", body, i, stored)
			}
		}
	}
}

// checkWebhookRules checks every rule of SPEC section 2 on an accepted
// webhook, without the validation code under test.
func checkWebhookRules(t *testing.T, cat *catalog.Catalog, h store.Webhook, body []byte) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("body %q accepted, but %s", body, fmt.Sprintf(format, args...))
	}
	if len(h.Events) == 0 {
		fail("no events")
	}
	seen := map[string]bool{}
	for _, e := range h.Events {
		if _, ok := cat.Lookup(e); !ok && e != "*" {
			fail("event %q is not in the catalogue", e)
		}
		if seen[e] {
			fail("event %q is listed twice", e)
		}
		seen[e] = true
	}
	checkTargetURL(t, "endpoint", h.Endpoint, body)
	if h.Status != store.WebhookActive && h.Status != store.WebhookDisabled {
		fail("status %q", h.Status)
	}
	c := h.Config
	if len(c.CustomHeaders) > 20 {
		fail("%d custom headers", len(c.CustomHeaders))
	}
	for _, hd := range c.CustomHeaders {
		if !httpToken(hd.Name) || len(hd.Name) > 256 {
			fail("header name %q is not an HTTP token of at most 256 bytes", hd.Name)
		}
		switch l := strings.ReplaceAll(strings.ToLower(hd.Name), "_", "-"); {
		case l == "host", l == "content-length", l == "content-type", l == "authorization", strings.HasPrefix(l, "webhook-"):
			fail("custom header %q is one Herald sets", hd.Name)
		}
		if !headerValue(hd.Value) {
			fail("header %s has the value %q", hd.Name, hd.Value)
		}
	}
	if c.TimeoutSeconds < 1 || c.TimeoutSeconds > 30 {
		fail("timeout_seconds %d", c.TimeoutSeconds)
	}
	if c.MaxInFlight < 1 || c.MaxInFlight > 256 {
		fail("max_in_flight %d", c.MaxInFlight)
	}
	if c.Format != store.FormatNCore && c.Format != store.FormatNI {
		fail("format %q", c.Format)
	}
	if c.MaxRetries != nil && *c.MaxRetries < 0 {
		fail("max_retries %d", *c.MaxRetries)
	}
	if c.RetryIntervalSeconds != nil && *c.RetryIntervalSeconds < 1 {
		fail("retry_interval_seconds %d", *c.RetryIntervalSeconds)
	}
	if strings.Contains(c.BasicAuthUsername, ":") || !headerValue(c.BasicAuthUsername) || !headerValue(c.BasicAuthPassword) {
		fail("basic auth %q / %q", c.BasicAuthUsername, c.BasicAuthPassword)
	}
	if c.BasicAuthPassword != "" && c.BasicAuthUsername == "" {
		fail("a password without a username")
	}
	if o := c.OAuth2; o != nil {
		if c.BasicAuthUsername != "" || c.BasicAuthPassword != "" {
			fail("both oauth2 and basic auth")
		}
		checkTargetURL(t, "config.oauth2.token_url", o.TokenURL, body)
		if o.ClientID == "" || o.ClientSecret == "" || !headerValue(o.ClientID) || !headerValue(o.ClientSecret) || !headerValue(o.Scope) {
			fail("oauth2 credentials %+v", *o)
		}
	}
}

// checkTargetURL: an absolute http(s) URL with a host, no credentials and no
// fragment, which parses back to itself (the sender parses it again).
func checkTargetURL(t *testing.T, field, raw string, body []byte) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("body %q accepted, but %s %q does not parse: %v", body, field, raw, err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Opaque != "" || u.User != nil || u.Fragment != "" {
		t.Fatalf("body %q accepted, but %s %q is not an absolute http(s) URL without credentials", body, field, raw)
	}
	for _, r := range raw {
		if r <= ' ' || r == 0x7f || (r >= 0x80 && r <= 0x9f) || unicode.IsSpace(r) {
			t.Fatalf("body %q accepted, but %s %q holds whitespace or a control character", body, field, raw)
		}
	}
	for _, c := range []byte(u.Host) {
		if c >= 0x80 || ('A' <= c && c <= 'Z') {
			t.Fatalf("body %q accepted, but the host of %s %q is not normalized to lower-case ASCII", body, field, raw)
		}
	}
	if again := u.String(); again != raw {
		t.Fatalf("body %q accepted, but %s %q reads back as %q", body, field, raw, again)
	}
	if _, err := http.NewRequest(http.MethodPost, raw, nil); err != nil {
		t.Fatalf("body %q accepted, but %s %q makes no request: %v", body, field, raw, err)
	}
}

// checkRoundTrip: the webhook as a GET shows it (secrets masked) can be PUT
// back unchanged.
func checkRoundTrip(t *testing.T, s *server, h store.Webhook, body []byte) {
	t.Helper()
	shown := toWebhookJSON(h)
	put, err := json.Marshal(map[string]any{"endpoint": shown.Endpoint, "events": shown.Events, "status": shown.Status, "config": shown.Config})
	if err != nil {
		t.Fatalf("encode %+v: %v", shown, err)
	}
	var in webhookInput
	if e := decodeBytes(put, &in); e != nil {
		t.Fatalf("body %q accepted, but its GET answer %s cannot be PUT back: %v (field %q)", body, put, e, e.Field)
	}
	again := h
	if e := s.apply(&in, &again, s.resolvingCheck(httptest.NewRequest(http.MethodPut, "/webhooks/"+h.ID, nil))); e != nil {
		t.Fatalf("body %q accepted, but its GET answer %s cannot be PUT back: %v (field %q)", body, put, e, e.Field)
	}
	before, _ := json.Marshal(struct {
		E  string
		Ev []string
		S  string
		C  store.WebhookConfig
	}{h.Endpoint, h.Events, h.Status, h.Config})
	after, _ := json.Marshal(struct {
		E  string
		Ev []string
		S  string
		C  store.WebhookConfig
	}{again.Endpoint, again.Events, again.Status, again.Config})
	if !bytes.Equal(before, after) {
		t.Fatalf("body %q accepted; PUT back as %s it changes the webhook:\nbefore %s\nafter  %s", body, put, before, after)
	}
}

// httpToken: RFC 9110 token characters.
func httpToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// headerValue: no control characters but tab (RFC 9110 field-value).
func headerValue(s string) bool {
	for _, c := range []byte(s) {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

func FuzzPublish(f *testing.F) {
	cat := fuzzCatalog(f)
	for _, ty := range cat.Types() {
		f.Add([]byte(ty.Sample))
		for _, v := range ty.Variants {
			f.Add([]byte(v.Sample))
		}
	}
	addSeeds(f, readmeEvent, seedCard, seedTxn, seedUser, seedNI,
		`{"event": "CARD_EXPLODED", "card_id": "c"}`, `{"card_status_change": {"card_id": "c"}}`, `{"event": 7}`,
		`{"event": null}`, `{"event": "card_status_change"}`, `{"event": "NI_TOKEN_NOTIFICATION"}`,
		`{"id": "1", "type": "ZZ", "timestamp": "t", "details": {}}`, `{"event": "CARD_STATUS_CHANGE"`,
		`{"event": "CARD_STATUS_CHANGE"}`, `{"event": "CARD_STATUS_CHANGE", "card_status_change": "ACTIVE"}`,
		`{"event": "SUCCESSFULLY_CREATED", "event_type": "account_created"}`,
		`{"event": "TRANSACTION", "card_transaction": {"id": "9829a089", "transaction_amount": "100.50", "billing_amount": 1e400}}`,
		`{"event": "TRANSACTION", "card_transaction": {"transaction_amount": 123456789012345678901234567890e-10}}`,
		`{"event": "USER_CREATED", "user_id": "\ud83d\ude00\u0000", "pad": "`+strings.Repeat("x", 4096)+`"}`,
	)
	addSeeds(f, hostileSeeds()...)
	s := newFuzzServer(f, cat, nil)
	now := time.Now().UTC()
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, prefix := range []string{"", "events[7]"} {
			e, aerr := s.newEvent(body, prefix, now)
			if aerr != nil {
				if aerr.Status != http.StatusBadRequest {
					t.Fatalf("%q refused with status %d, want 400", body, aerr.Status)
				}
				wantInvalid(t, "publish", aerr, body)
				if prefix != "" && !strings.HasPrefix(aerr.Field, prefix) {
					t.Fatalf("%q in a batch refused naming %q, want a field under %s", body, aerr.Field, prefix)
				}
				continue
			}
			if !json.Valid(e.Payload) || !utf8.Valid(e.Payload) {
				t.Fatalf("accepted %q, which is not valid UTF-8 JSON", body)
			}
			if !bytes.Equal(e.Payload, body) {
				t.Fatalf("accepted %q but stores %q", body, e.Payload)
			}
			var top map[string]json.RawMessage
			if err := json.Unmarshal(body, &top); err != nil {
				t.Fatalf("accepted %q, which is not a JSON object: %v", body, err)
			}
			if _, ok := cat.Lookup(e.Name); !ok || e.Name == "" {
				t.Fatalf("accepted %q as %q, not in the catalogue", body, e.Name)
			}
			var name string
			if e.Name == catalog.NITokenNotification {
				_ = json.Unmarshal(top["type"], &name)
				if _, ok := top["details"]; !ok || name == "" {
					t.Fatalf("accepted %q as an NI envelope without type and details", body)
				}
			} else if err := json.Unmarshal(top["event"], &name); err != nil || name != e.Name {
				t.Fatalf("accepted %q as %q, but its event member is %s", body, e.Name, top["event"])
			}
			if id, err := uuid.Parse(e.ID); err != nil || id.Version() != 7 || !e.Created.Equal(now) {
				t.Fatalf("accepted %q as event %q at %v", body, e.ID, e.Created)
			}
		}
	})
}

func FuzzSearchBody(f *testing.F) {
	cat := fuzzCatalog(f)
	addSeeds(f, `{}`, ``, "\n",
		`{"status": "FAILED"}`, `{"status": "expired"}`, `{"event": "NOPE"}`, `{"from": "yesterday"}`,
		`{"to": "2026-13-01T00:00:00Z"}`, `{"limit": 0}`, `{"limit": 1001}`, `{"limit": "10"}`,
		`{"webhook_id": 5}`, `{"colour": "red"}`, `{"status": `, `{"webhook_id": "fail"}`,
		`{"status": "DELIVERED"}`, `{"status": "EXPIRED", "event": "CARD_STATUS_CHANGE"}`,
		`{"notification_id": "0190a0b1-0000-7000-8000-000000000000", "event_id": "e", "webhook_id": "w", "event": "TRANSACTION", "status": "PENDING", "from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00.123456789+05:30", "limit": 1000, "after": "0190a0b1-0000-7000-8000-000000000000"}`,
		`{"limit": 1, "after": "x"}`, `{"from": "", "to": "", "after": "", "notification_id": ""}`,
		`{"from": null, "limit": null, "status": null}`,
		`{"from": "2026-01-01T00:00:00Z", "to": "2025-01-01T00:00:00Z"}`,
		`{"from": "9999-12-31T23:59:59.999999999Z", "to": "0001-01-01T00:00:00Z"}`,
		`{"event": "*"}`,
		`{"event_id": "\u0000"}`, `{"webhook_id": "w\u0000"}`, `{"notification_id": "\u0000\u0000"}`, `{"after": "a\u0000"}`,
	)
	addSeeds(f, hostileSeeds()...)
	f.Add([]byte(`{"after": "` + strings.Repeat("a", maxBody) + `"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		st := &fuzzStore{}
		s := newFuzzServer(t, cat, st)
		h := s.limitBody(s.handle(s.search, store.RoleClient))
		p := principal{KeyID: "k", Role: store.RoleClient, TenantID: "tenant-1"}
		r := httptest.NewRequest(http.MethodPost, "/webhooks:search", bytes.NewReader(body))
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, p))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)

		if ct := rec.Header().Get("Content-Type"); ct != "application/json" || !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%q: answer %d %q (%s) is not JSON", body, rec.Code, rec.Body, ct)
		}
		var errBody struct{ Error *apiError }
		_ = json.Unmarshal(rec.Body.Bytes(), &errBody)
		switch rec.Code {
		case http.StatusOK:
			var out listJSON[notificationJSON]
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || len(out.Data) != 1 {
				t.Fatalf("%q: answer %s: %v", body, rec.Body, err)
			}
			checkSearchFilter(t, cat, st, body)
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			if errBody.Error == nil || errBody.Error.Message == "" ||
				(rec.Code == http.StatusBadRequest && errBody.Error.Code != codeInvalid) {
				t.Fatalf("%q: error answer %d %s", body, rec.Code, rec.Body)
			}
			if st.searched {
				t.Fatalf("%q: refused with %d after searching", body, rec.Code)
			}
		case http.StatusServiceUnavailable:
			if !st.searched || st.filter.WebhookID != "fail" {
				t.Fatalf("%q: 503 although the database is up (it refused text the API passed on): %s", body, rec.Body)
			}
		default:
			t.Fatalf("%q: answer %d %s", body, rec.Code, rec.Body)
		}
	})
}

// checkSearchFilter checks what an accepted search asked the store for.
func checkSearchFilter(t *testing.T, cat *catalog.Catalog, st *fuzzStore, body []byte) {
	t.Helper()
	if !st.searched {
		t.Fatalf("%q: answered 200 without searching", body)
	}
	f, p := st.filter, st.page
	if f.TenantID != "tenant-1" {
		t.Fatalf("%q: searched tenant %q, not the caller's", body, f.TenantID)
	}
	switch f.Status {
	case "", store.StatusPending, store.StatusDelivered, store.StatusExpired, store.StatusCancelled:
	default:
		t.Fatalf("%q: searched status %q", body, f.Status)
	}
	if _, ok := cat.Lookup(f.EventName); f.EventName != "" && !ok {
		t.Fatalf("%q: searched event %q, not in the catalogue", body, f.EventName)
	}
	if p.Limit < 1 || p.Limit > maxPageSize {
		t.Fatalf("%q: searched with limit %d", body, p.Limit)
	}
	if len(f.NotificationIDs) > 1 || (len(f.NotificationIDs) == 1 && f.NotificationIDs[0] == "") {
		t.Fatalf("%q: searched notification ids %q", body, f.NotificationIDs)
	}
}

// TestNULInURLRefused: an id or cursor holding a NUL character never
// reaches the store (PostgreSQL would fail on it, answering 503).
func TestNULInURLRefused(t *testing.T) {
	h := New(Config{Store: adminOnlyStore{}, Catalog: fuzzCatalog(t), Waker: nopWaker{}, Guard: netguard.Guard{AllowPrivate: true}})
	for _, target := range []string{
		"GET /webhooks/%00", "GET /webhooks/a%00b", "PUT /webhooks/%00", "DELETE /webhooks/%00", "POST /webhooks/%00:ping",
		"GET /webhooks?after=%00", "GET /webhooks?limit=5&after=x%00", "GET /events/%00", "GET /tenants/%00",
		"GET /tenants?after=%00", "POST /tenants/%00/keys", "DELETE /keys/%00",
	} {
		method, path, _ := strings.Cut(target, " ")
		r := httptest.NewRequest(method, path, strings.NewReader(`{}`))
		r.Header.Set("apikey", "k")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		var out struct{ Error *apiError }
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || rec.Code != http.StatusBadRequest || out.Error == nil || out.Error.Code != codeInvalid {
			t.Errorf("%s: %d %s, want 400 invalid_request", target, rec.Code, rec.Body)
		}
	}
}

// adminOnlyStore knows one admin key and fails everything else.
type adminOnlyStore struct{ Store }

func (adminOnlyStore) APIKeyByHash(context.Context, string) (store.APIKey, error) {
	return store.APIKey{ID: "k", TenantID: "t", Role: store.RoleAdmin}, nil
}

func (adminOnlyStore) Tenant(context.Context, string) (store.Tenant, error) {
	return store.Tenant{ID: "t", Name: "default"}, nil
}
