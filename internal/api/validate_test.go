package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// validBody is a webhook body every case below breaks in one place.
func validBody() map[string]any {
	return map[string]any{
		"endpoint": "https://client.example/hooks",
		"events":   []any{"CARD_STATUS_CHANGE", "TRANSACTION", "KYC_RESULT"},
		"config": map[string]any{
			"basic_auth_username": "username", "basic_auth_password": "password",
			"custom_headers": []any{map[string]any{"header_name": "apikey", "header_value": "v"}},
		},
	}
}

func cfg(m map[string]any) map[string]any { return m["config"].(map[string]any) }

func headers(n int) []any {
	out := []any{}
	for i := range n {
		out = append(out, map[string]any{"header_name": fmt.Sprintf("X-H-%d", i), "header_value": "v"})
	}
	return out
}

type invalidCase struct {
	name   string
	change func(m map[string]any) // applied to validBody()
	raw    string                 // sent as is instead, when set
	field  string
}

// webhookCases are the validation failures of SPEC section 2 shared by
// create and update; each is a 400 invalid_request naming field.
func webhookCases() []invalidCase {
	set := func(k string, v any) func(map[string]any) { return func(m map[string]any) { m[k] = v } }
	setCfg := func(k string, v any) func(map[string]any) { return func(m map[string]any) { cfg(m)[k] = v } }
	header := func(name, value any) func(map[string]any) {
		return func(m map[string]any) {
			cfg(m)["custom_headers"] = []any{map[string]any{"header_name": "apikey", "header_value": "v"},
				map[string]any{"header_name": name, "header_value": value}}
		}
	}
	cases := []invalidCase{
		{"endpoint empty", set("endpoint", ""), "", "endpoint"},
		{"endpoint relative", set("endpoint", "/hooks"), "", "endpoint"},
		{"endpoint host only", set("endpoint", "client.example/hooks"), "", "endpoint"},
		{"endpoint no host", set("endpoint", "https:///hooks"), "", "endpoint"},
		{"endpoint ftp", set("endpoint", "ftp://client.example/hooks"), "", "endpoint"},
		{"endpoint mailto", set("endpoint", "mailto:ops@client.example"), "", "endpoint"},
		{"endpoint userinfo", set("endpoint", "https://user:pass@client.example/hooks"), "", "endpoint"},
		{"endpoint user only", set("endpoint", "https://user@client.example/hooks"), "", "endpoint"},
		{"endpoint unparsable", set("endpoint", "https://client example/%zz"), "", "endpoint"},
		{"endpoint too long", set("endpoint", "https://client.example/"+strings.Repeat("a", 2100)), "", "endpoint"},
		{"endpoint wrong type", set("endpoint", 42), "", "endpoint"},
		// Whitespace would go out raw in the request line.
		{"endpoint space in query", set("endpoint", "http://client.example/a?x=1 HTTP/1.0 X"), "", "endpoint"},
		{"endpoint space in path", set("endpoint", "https://client.example/a b"), "", "endpoint"},
		{"endpoint tab", set("endpoint", "https://client.example/a\tb"), "", "endpoint"},
		{"endpoint trailing space", set("endpoint", "https://client.example/ "), "", "endpoint"},
		{"endpoint leading space", set("endpoint", " https://client.example/"), "", "endpoint"},
		{"endpoint no-break space", set("endpoint", "https://client.example/?a=\u00a0"), "", "endpoint"},
		{"endpoint ideographic space", set("endpoint", "https://client.example/?a=\u3000"), "", "endpoint"},
		{"endpoint line separator", set("endpoint", "https://client.example/?a=\u2028"), "", "endpoint"},
		{"endpoint C1 control", set("endpoint", "https://client.example/?a=\u0085"), "", "endpoint"},
		{"endpoint DEL", set("endpoint", "https://client.example/?a=\u007f"), "", "endpoint"},
		{"endpoint bidi override", set("endpoint", "https://client.example/?a=\u202e"), "", "endpoint"},
		// IP addresses in forms other than the canonical one mean
		// different hosts to different parsers: refused, never guessed.
		{"endpoint IPv4 short", set("endpoint", "https://127.1/hooks"), "", "endpoint"},
		{"endpoint IPv4 decimal", set("endpoint", "https://2130706433/hooks"), "", "endpoint"},
		{"endpoint IPv4 hex", set("endpoint", "https://0x7f000001/hooks"), "", "endpoint"},
		{"endpoint IPv4 octal", set("endpoint", "https://0177.0.0.1/hooks"), "", "endpoint"},
		{"endpoint IPv4 zero", set("endpoint", "https://0/hooks"), "", "endpoint"},
		{"endpoint IPv4 trailing dot", set("endpoint", "https://8.8.8.8./hooks"), "", "endpoint"},
		{"endpoint IPv4 fullwidth short", set("endpoint", "https://１２７.１/hooks"), "", "endpoint"},
		{"endpoint IPv4-mapped IPv6", set("endpoint", "https://[::ffff:8.8.8.8]/hooks"), "", "endpoint"},
		{"endpoint IPv6 zone", set("endpoint", "https://[fe80::1%25eth0]/hooks"), "", "endpoint"},
		{"endpoint host underscore", set("endpoint", "https://a_b.example/hooks"), "", "endpoint"},
		{"endpoint host empty label", set("endpoint", "https://a..example/hooks"), "", "endpoint"},
		{"endpoint port leading zero", set("endpoint", "https://client.example:0443/hooks"), "", "endpoint"},
		{"endpoint port 0", set("endpoint", "https://client.example:0/hooks"), "", "endpoint"},
		{"endpoint port too large", set("endpoint", "https://client.example:65536/hooks"), "", "endpoint"},
		{"events empty", set("events", []any{}), "", "events"},
		{"events unknown third", set("events", []any{"CARD_STATUS_CHANGE", "TRANSACTION", "CARD_EXPLODED"}), "", "events[2]"},
		{"events lower case", set("events", []any{"card_status_change"}), "", "events[0]"},
		{"events empty name", set("events", []any{"KYC_RESULT", ""}), "", "events[1]"},
		{"events duplicate", set("events", []any{"KYC_RESULT", "PIN_CHANGE", "KYC_RESULT"}), "", "events[2]"},
		{"events duplicate wildcard", set("events", []any{"*", "*"}), "", "events[1]"},
		{"events not an array", set("events", "CARD_STATUS_CHANGE"), "", "events"},
		{"events item not a string", set("events", []any{"KYC_RESULT", 7}), "", "events[1]"},
		{"status FAILING", set("status", "FAILING"), "", "status"},
		{"status bogus", set("status", "PAUSED"), "", "status"},
		{"status lower case", set("status", "active"), "", "status"},
		{"status wrong type", set("status", true), "", "status"},
		{"config wrong type", set("config", []any{}), "", "config"},
		{"headers 21", setCfg("custom_headers", headers(21)), "", "config.custom_headers"},
		{"header name with space", header("X Api", "v"), "", "config.custom_headers[1].header_name"},
		{"header name 257 bytes", header(strings.Repeat("X", 257), "v"), "", "config.custom_headers[1].header_name"},
		{"headers wrong type", setCfg("custom_headers", "apikey"), "", "config.custom_headers"},
		{"header name with colon", header("X-Api:", "v"), "", "config.custom_headers[1].header_name"},
		{"header name non-ASCII", header("X-Clé", "v"), "", "config.custom_headers[1].header_name"},
		{"header name empty", header("", "v"), "", "config.custom_headers[1].header_name"},
		{"header name missing", setCfg("custom_headers", []any{map[string]any{"header_value": "v"}}), "", "config.custom_headers[0].header_name"},
		{"header name wrong type", header(5, "v"), "", "config.custom_headers[1].header_name"},
		{"header value missing", setCfg("custom_headers", []any{map[string]any{"header_name": "X-A"}}), "", "config.custom_headers[0].header_value"},
		{"header value newline", header("X-A", "a\nb"), "", "config.custom_headers[1].header_value"},
		{"header value carriage return", header("X-A", "a\rSet-Cookie: x"), "", "config.custom_headers[1].header_value"},
		{"header value NUL", header("X-A", "a\x00"), "", "config.custom_headers[1].header_value"},
		{"header value DEL", header("X-A", "\x7f"), "", "config.custom_headers[1].header_value"},
		{"header value too long", header("X-A", strings.Repeat("v", 4097)), "", "config.custom_headers[1].header_value"},
		{"header masked without stored value", header("X-New", "********"), "", "config.custom_headers[1].header_value"},
		{"timeout 0", setCfg("timeout_seconds", 0), "", "config.timeout_seconds"},
		{"timeout 31", setCfg("timeout_seconds", 31), "", "config.timeout_seconds"},
		{"timeout negative", setCfg("timeout_seconds", -5), "", "config.timeout_seconds"},
		{"timeout string", setCfg("timeout_seconds", "10"), "", "config.timeout_seconds"},
		{"max_in_flight 0", setCfg("max_in_flight", 0), "", "config.max_in_flight"},
		{"max_in_flight 257", setCfg("max_in_flight", 257), "", "config.max_in_flight"},
		{"max_retries negative", setCfg("max_retries", -1), "", "config.max_retries"},
		{"max_retries 101", setCfg("max_retries", 101), "", "config.max_retries"},
		{"max_retries string", setCfg("max_retries", "3"), "", "config.max_retries"},
		{"retry_interval 0", setCfg("retry_interval_seconds", 0), "", "config.retry_interval_seconds"},
		{"format bogus", setCfg("format", "xml"), "", "config.format"},
		{"format upper case", setCfg("format", "NCORE"), "", "config.format"},
		{"oauth2 with basic auth", setCfg("oauth2", map[string]any{"token_url": "https://auth.example/token", "client_id": "c", "client_secret": "s"}), "", "config.oauth2"},
		{"oauth2 empty object", setCfg("oauth2", map[string]any{}), "", "config.oauth2.token_url"},
		{"oauth2 relative token_url", setCfg("oauth2", map[string]any{"token_url": "/token", "client_id": "c", "client_secret": "s"}), "", "config.oauth2.token_url"},
		{"oauth2 ftp token_url", setCfg("oauth2", map[string]any{"token_url": "ftp://auth.example/token", "client_id": "c", "client_secret": "s"}), "", "config.oauth2.token_url"},
		{"oauth2 without client_id", setCfg("oauth2", map[string]any{"token_url": "https://auth.example/token", "client_secret": "s"}), "", "config.oauth2.client_id"},
		{"oauth2 without client_secret", setCfg("oauth2", map[string]any{"token_url": "https://auth.example/token", "client_id": "c"}), "", "config.oauth2.client_secret"},
		{"oauth2 masked secret never stored", setCfg("oauth2", map[string]any{"token_url": "https://auth.example/token", "client_id": "c", "client_secret": "********"}), "", "config.oauth2.client_secret"},
		{"oauth2 unknown member", setCfg("oauth2", map[string]any{"token_url": "https://auth.example/token", "client_id": "c", "client_secret": "s", "colour": 1}), "", "config.oauth2.colour"},
		{"oauth2 not an object", setCfg("oauth2", "yes"), "", "config.oauth2"},
		{"username with colon", setCfg("basic_auth_username", "a:b"), "", "config.basic_auth_username"},
		{"password control character", setCfg("basic_auth_password", "p\nw"), "", "config.basic_auth_password"},
		{"password wrong type", setCfg("basic_auth_password", 5), "", "config.basic_auth_password"},
		{"username wrong type", setCfg("basic_auth_username", false), "", "config.basic_auth_username"},
		{"unknown top-level field", set("colour", "red"), "", "colour"},
		{"unknown config field", setCfg("colour", "red"), "", "config.colour"},
		{"unknown header field", func(m map[string]any) {
			cfg(m)["custom_headers"] = []any{map[string]any{"header_name": "a", "header_value": "b", "colour": "red"}}
		}, "", "config.custom_headers[0].colour"},
		{"unknown field in second header", nil, `{"endpoint": "https://c.example/", "events": ["*"], "config": {"custom_headers": [{"header_name": "a", "header_value": "b"}, {"header_name": "c", "header_value": "d", "colour": 1}]}}`, "config.custom_headers[1].colour"},
		{"secret is not settable", set("secret", "whsec_AAAA"), "", "secret"},
		{"id is not settable", set("id", "x"), "", "id"},
	}
	for _, name := range []string{"Host", "Content-Length", "Content-Type", "Authorization", "webhook-id", "Webhook-Signature", "webhook-timestamp", "WEBHOOK-anything", "host", "authorization",
		// "_" reads as "-" to CGI, nginx and many frameworks.
		"Webhook_Signature", "webhook_id", "herald_event", "Herald_Attempt", "Content_Type", "transfer_encoding", "Proxy_Authorization", "user_agent"} {
		cases = append(cases, invalidCase{"forbidden header " + name, header(name, "v"), "", "config.custom_headers[1].header_name"})
	}
	return cases
}

// bodyCases are malformed bodies, refused before any member is read.
var bodyCases = []struct{ name, raw string }{
	{"invalid JSON", `{"endpoint": "https://c.example/", "events": [`},
	{"not JSON", `endpoint=https://c.example/`},
	{"empty body", ``},
	{"blank body", " \n\t "},
	{"array", `[]`},
	{"string", `"https://c.example/"`},
	{"trailing garbage", `{"endpoint": "https://c.example/", "events": ["*"]} x`},
	{"two objects", `{"endpoint": "https://c.example/", "events": ["*"]} {}`},
	{"trailing brace", `{"endpoint": "https://c.example/", "events": ["*"]}}`},
	{"trailing bracket", `{"endpoint": "https://c.example/", "events": ["*"]}]`},
}

func TestCreateWebhookValidation(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	keep := createHook(t, in, heraldtest.AdminKey, validBody())
	cases := append(webhookCases(),
		invalidCase{"endpoint missing", func(m map[string]any) { delete(m, "endpoint") }, "", "endpoint"},
		invalidCase{"endpoint null", func(m map[string]any) { m["endpoint"] = nil }, "", "endpoint"},
		invalidCase{"events missing", func(m map[string]any) { delete(m, "events") }, "", "events"},
		invalidCase{"events null", func(m map[string]any) { m["events"] = nil }, "", "events"},
		invalidCase{"password without username", func(m map[string]any) { delete(cfg(m), "basic_auth_username") }, "", "config.basic_auth_username"},
		invalidCase{"body null", nil, `null`, "endpoint"},
		invalidCase{"empty object", nil, `{}`, "endpoint"},
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body any = tc.raw
			if tc.raw == "" {
				m := validBody()
				tc.change(m)
				body = m
			}
			wantError(t, in.Admin(t, "POST", "/webhooks", body), http.StatusBadRequest, "invalid_request", tc.field)
		})
	}
	for _, tc := range bodyCases {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, in.Admin(t, "POST", "/webhooks", tc.raw), http.StatusBadRequest, "invalid_request", "")
		})
	}
	// Nothing was stored half-way.
	if ids := listHookIDs(t, in, heraldtest.AdminKey); !slices.Equal(ids, []string{keep.ID}) {
		t.Errorf("webhooks after %d refused creates = %v, want only %s", len(cases)+len(bodyCases), ids, keep.ID)
	}
	if n := countRows(t, in, `SELECT count(*) FROM webhooks`); n != 1 {
		t.Errorf("webhooks table holds %d rows, want 1", n)
	}
}

func TestUpdateWebhookValidation(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	hook := createHook(t, in, heraldtest.AdminKey, validBody())
	before := getHook(t, in, heraldtest.AdminKey, hook.ID)
	cases := append(webhookCases(),
		invalidCase{"valid change beside an invalid one", func(m map[string]any) {
			m["endpoint"] = "https://other.example/"
			m["status"] = "DISABLED"
			cfg(m)["timeout_seconds"] = 99
		}, "", "config.timeout_seconds"},
		invalidCase{"username cleared while a password is stored", nil, `{"config": {"basic_auth_username": ""}}`, "config.basic_auth_username"},
		invalidCase{"events change beside an invalid format", func(m map[string]any) {
			m["events"] = []any{"USER_CREATED"}
			cfg(m)["format"] = "soap"
		}, "", "config.format"},
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body any = tc.raw
			if tc.raw == "" {
				m := validBody()
				tc.change(m)
				body = m
			}
			wantError(t, in.Admin(t, "PUT", "/webhooks/"+hook.ID, body), http.StatusBadRequest, "invalid_request", tc.field)
		})
	}
	for _, tc := range bodyCases {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, in.Admin(t, "PUT", "/webhooks/"+hook.ID, tc.raw), http.StatusBadRequest, "invalid_request", "")
		})
	}
	if after := getHook(t, in, heraldtest.AdminKey, hook.ID); string(after) != string(before) {
		t.Errorf("refused updates changed the webhook:\nbefore %s\nafter  %s", before, after)
	}
}

// TestStrictTargets runs with the production defaults: https only, public
// addresses only.
func TestStrictTargets(t *testing.T) {
	t.Parallel()
	in := heraldtest.Start(t, heraldtest.Options{StrictTargets: true})
	refused := []string{
		"http://93.184.216.34/hooks",
		"https://127.0.0.1/hooks",
		"https://127.1.2.3:8443/hooks",
		"https://10.0.0.1/hooks",
		"https://172.16.5.4/hooks",
		"https://192.168.1.1/hooks",
		"https://[::1]/hooks",
		"https://[fd00::1]/hooks",
		"https://[::ffff:127.0.0.1]/hooks",
		"https://169.254.169.254/latest/meta-data",
		"https://100.64.0.1/hooks",
		"https://0.0.0.0/hooks",
		"https://localhost/hooks",
		// Hosts that normalize (UTS #46) to loopback, local names, and IPv6
		// forms embedding an IPv4 address.
		"https://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/hooks",
		"https://LOCALHOST/hooks",
		"https://%6c%6f%63%61%6c%68%6f%73%74/hooks",
		"https://１２７.０.０.１/hooks",
		"https://127。0。0。1/hooks",
		"https://localhost./hooks",
		"https://api.localhost/hooks",
		"https://[::127.0.0.1]/hooks",
		"https://[::7f00:1]/hooks",
		"https://[::ffff:0:127.0.0.1]/hooks",
		"https://[::8.8.8.8]/hooks",
		"https://[0:0:0:0:0:ffff:7f00:1]/hooks",
	}
	for _, endpoint := range refused {
		t.Run(endpoint, func(t *testing.T) {
			wantError(t, in.Admin(t, "POST", "/webhooks", hookBody(endpoint)), http.StatusBadRequest, "invalid_request", "endpoint")
		})
	}
	hook := createHook(t, in, heraldtest.AdminKey, hookBody("https://93.184.216.34/hooks"))
	for _, endpoint := range refused {
		wantError(t, in.Admin(t, "PUT", "/webhooks/"+hook.ID, map[string]any{"endpoint": endpoint}), http.StatusBadRequest, "invalid_request", "endpoint")
		oauth2 := map[string]any{"config": map[string]any{"oauth2": map[string]any{"token_url": endpoint, "client_id": "c", "client_secret": "s"}}}
		wantError(t, in.Admin(t, "PUT", "/webhooks/"+hook.ID, oauth2), http.StatusBadRequest, "invalid_request", "config.oauth2.token_url")
	}
	createHook(t, in, heraldtest.AdminKey, hookBody("https://[2606:4700:4700::1111]:8443/hooks"))
	if ids := listHookIDs(t, in, heraldtest.AdminKey); len(ids) != 2 {
		t.Errorf("webhooks = %v, want the two public ones", ids)
	}
	var w webhook
	if err := json.Unmarshal(getHook(t, in, heraldtest.AdminKey, hook.ID), &w); err != nil || w.Endpoint != "https://93.184.216.34/hooks" {
		t.Errorf("endpoint after refused updates = %q (%v)", w.Endpoint, err)
	}
}
