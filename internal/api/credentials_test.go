package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestCredentialsDoNotFollowEndpoint: a PUT that moves the endpoint to
// another origin (scheme, host or port) must send the stored password and
// custom header values again or remove them; masked or left out, they are
// refused, so a key holder cannot have Herald send credentials it never saw
// to a host of its choosing.
func TestCredentialsDoNotFollowEndpoint(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	home, elsewhere := newReceiver(t, http.StatusOK), newReceiver(t, http.StatusOK)
	hook := createHook(t, in, heraldtest.AdminKey, fmt.Sprintf(ncoreCreate, quote(home.URL+"/hooks")))
	before := getHook(t, in, heraldtest.AdminKey, hook.ID)
	put := func(body string) heraldtest.Response {
		return in.Admin(t, "PUT", "/webhooks/"+hook.ID, body)
	}
	moved := quote(elsewhere.URL + "/hooks")
	localhost := quote(strings.Replace(home.URL, "127.0.0.1", "localhost", 1) + "/hooks")
	https := quote(strings.Replace(home.URL, "http:", "https:", 1) + "/hooks")
	refused := []struct {
		name, body, field string
	}{
		{"new port, nothing else", `{"endpoint": ` + moved + `}`, "config.basic_auth_password"},
		{"new host, nothing else", `{"endpoint": ` + localhost + `}`, "config.basic_auth_password"},
		{"new scheme, nothing else", `{"endpoint": ` + https + `}`, "config.basic_auth_password"},
		{"password masked", `{"endpoint": ` + moved + `, "config": {"basic_auth_password": "********", "custom_headers": []}}`, "config.basic_auth_password"},
		{"password sent, headers left out", `{"endpoint": ` + moved + `, "config": {"basic_auth_password": "new"}}`, "config.custom_headers[0].header_value"},
		{"password sent, header masked", `{"endpoint": ` + moved + `, "config": {"basic_auth_password": "new", "custom_headers": [{"header_name": "X-Other", "header_value": "v"}, {"header_name": "apikey", "header_value": "********"}]}}`, "config.custom_headers[1].header_value"},
		{"the GET answer PUT back with a new endpoint", `{"endpoint": ` + moved + `, "config": {"basic_auth_username": "username", "basic_auth_password": "********", "custom_headers": [{"header_name": "apikey", "header_value": "********"}]}}`, "config.basic_auth_password"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, put(tc.body), http.StatusBadRequest, "invalid_request", tc.field)
		})
	}
	if after := getHook(t, in, heraldtest.AdminKey, hook.ID); string(after) != string(before) {
		t.Fatalf("refused moves changed the webhook:\nbefore %s\nafter  %s", before, after)
	}
	doPing(t, in, heraldtest.AdminKey, hook.ID)
	if n := len(elsewhere.requests()); n != 0 {
		t.Fatalf("the new origin got %d requests after refused moves", n)
	}

	// The same origin keeps what is stored (see also TestSameOriginSpellings).
	for _, endpoint := range []string{home.URL + "/other", home.URL + "/hooks?x=1"} {
		wantStatus(t, put(`{"endpoint": `+quote(endpoint)+`}`), http.StatusOK)
		doPing(t, in, heraldtest.AdminKey, hook.ID)
		reqs := home.requests()
		if rq := reqs[len(reqs)-1]; rq.Header.Get("apikey") != ncoreHeaderValue || rq.Header.Get("Authorization") == "" {
			t.Errorf("after a move to %s on the same origin, ping sent apikey %q, Authorization %q", endpoint, rq.Header.Get("apikey"), rq.Header.Get("Authorization"))
		}
	}

	// Sent again, the credentials go to the new origin; removed, nothing does.
	wantStatus(t, put(`{"endpoint": `+moved+`, "config": {"basic_auth_password": "p2", "custom_headers": [{"header_name": "apikey", "header_value": "v2"}]}}`), http.StatusOK)
	doPing(t, in, heraldtest.AdminKey, hook.ID)
	rq := elsewhere.requests()[0]
	if u, pw, ok := (&http.Request{Header: rq.Header}).BasicAuth(); !ok || u != "username" || pw != "p2" || rq.Header.Get("apikey") != "v2" {
		t.Errorf("after a move with credentials sent again, ping sent basic %q/%q (%v) and apikey %q", u, pw, ok, rq.Header.Get("apikey"))
	}
	wantStatus(t, put(`{"endpoint": `+quote(home.URL+"/hooks")+`, "config": {"basic_auth_username": "", "basic_auth_password": "", "custom_headers": []}}`), http.StatusOK)
	doPing(t, in, heraldtest.AdminKey, hook.ID)
	reqs := home.requests()
	if rq := reqs[len(reqs)-1]; rq.Header.Get("Authorization") != "" || rq.Header.Get("apikey") != "" {
		t.Errorf("after a move removing the credentials, ping sent Authorization %q, apikey %q", rq.Header.Get("Authorization"), rq.Header.Get("apikey"))
	}
}

// TestSameOriginSpellings: a move is judged on the normalized origin, so
// spelling the default port or the host differently is no move.
func TestSameOriginSpellings(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	hook := createHook(t, in, heraldtest.AdminKey, fmt.Sprintf(ncoreCreate, quote("https://client.example/hooks")))
	for _, endpoint := range []string{"https://client.example:443/a", "https://CLIENT.Example/b", "https://ｃｌｉｅｎｔ.example/c"} {
		wantStatus(t, in.Admin(t, "PUT", "/webhooks/"+hook.ID, map[string]any{"endpoint": endpoint}), http.StatusOK)
	}
	for _, endpoint := range []string{"http://client.example/hooks", "https://client.example:8443/hooks", "https://client.example./hooks", "https://www.client.example/hooks"} {
		wantError(t, in.Admin(t, "PUT", "/webhooks/"+hook.ID, map[string]any{"endpoint": endpoint}), http.StatusBadRequest, "invalid_request", "config.basic_auth_password")
	}
}

// TestOAuth2SecretDoesNotFollow: the client secret is sent to the token URL,
// and the token it buys to the endpoint: a new origin for either needs the
// secret sent again.
func TestOAuth2SecretDoesNotFollow(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	oauth2 := func(tokenURL, secret string) map[string]any {
		return map[string]any{"token_url": tokenURL, "client_id": "c", "client_secret": secret}
	}
	body := hookBody("https://client.example/hooks")
	body["config"] = map[string]any{"oauth2": oauth2("https://auth.example/token", "s3cret")}
	hook := createHook(t, in, heraldtest.AdminKey, body)
	put := func(body map[string]any) heraldtest.Response {
		return in.Admin(t, "PUT", "/webhooks/"+hook.ID, body)
	}
	withOAuth2 := func(o any) map[string]any { return map[string]any{"config": map[string]any{"oauth2": o}} }
	refused := []struct {
		name string
		body map[string]any
	}{
		{"token_url on another host, secret masked", withOAuth2(oauth2("https://evil.example/token", "********"))},
		{"token_url on another port, secret masked", withOAuth2(oauth2("https://auth.example:8443/token", "********"))},
		{"token_url over http, secret masked", withOAuth2(oauth2("http://auth.example/token", "********"))},
		{"endpoint moves, oauth2 left out", map[string]any{"endpoint": "https://evil.example/hooks"}},
		{"endpoint moves, secret masked", map[string]any{"endpoint": "https://evil.example/hooks", "config": map[string]any{"oauth2": oauth2("https://auth.example/token", "********")}}},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, put(tc.body), http.StatusBadRequest, "invalid_request", "config.oauth2.client_secret")
		})
	}
	wantStatus(t, put(withOAuth2(oauth2("https://AUTH.example:443/other", "********"))), http.StatusOK)
	wantStatus(t, put(withOAuth2(oauth2("https://evil.example/token", "fresh"))), http.StatusOK)
	wantStatus(t, put(map[string]any{"endpoint": "https://evil.example/hooks", "config": map[string]any{"oauth2": oauth2("https://evil.example/token", "fresh")}}), http.StatusOK)
	wantStatus(t, put(map[string]any{"endpoint": "https://client.example/hooks", "config": map[string]any{"oauth2": nil}}), http.StatusOK)
}

// TestNullClearsCredentials: in a PUT, null removes a credential as "" (or
// [] for custom_headers) does.
func TestNullClearsCredentials(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	rc := newReceiver(t, http.StatusOK)
	hook := createHook(t, in, heraldtest.AdminKey, fmt.Sprintf(ncoreCreate, quote(rc.URL+"/hooks")))
	r := in.Admin(t, "PUT", "/webhooks/"+hook.ID, `{"config": {"basic_auth_username": null, "basic_auth_password": null, "custom_headers": null}}`)
	wantStatus(t, r, http.StatusOK)
	var w webhook
	r.JSON(t, &w)
	if w.Config.BasicAuthUsername != nil || w.Config.BasicAuthPassword != nil || len(w.Config.CustomHeaders) != 0 {
		t.Errorf("after null credentials: username %v, password %v, headers %v; want all cleared", w.Config.BasicAuthUsername, w.Config.BasicAuthPassword, w.Config.CustomHeaders)
	}
	doPing(t, in, heraldtest.AdminKey, hook.ID)
	if rq := rc.requests()[0]; rq.Header.Get("Authorization") != "" || rq.Header.Get("apikey") != "" {
		t.Errorf("ping after null credentials sent Authorization %q, apikey %q", rq.Header.Get("Authorization"), rq.Header.Get("apikey"))
	}
	// null password alone while a username stays: the password goes, the
	// username stays.
	hook = createHook(t, in, heraldtest.AdminKey, fmt.Sprintf(ncoreCreate, quote(rc.URL+"/hooks")))
	r = in.Admin(t, "PUT", "/webhooks/"+hook.ID, `{"config": {"basic_auth_password": null}}`)
	wantStatus(t, r, http.StatusOK)
	r.JSON(t, &w)
	if w.Config.BasicAuthPassword != nil || w.Config.BasicAuthUsername == nil || *w.Config.BasicAuthUsername != "username" {
		t.Errorf("after a null password: username %v, password %v", w.Config.BasicAuthUsername, w.Config.BasicAuthPassword)
	}
	// null username with a password stored is refused, as "" is.
	wantStatus(t, in.Admin(t, "PUT", "/webhooks/"+hook.ID, `{"config": {"basic_auth_password": "p"}}`), http.StatusOK)
	wantError(t, in.Admin(t, "PUT", "/webhooks/"+hook.ID, `{"config": {"basic_auth_username": null}}`), http.StatusBadRequest, "invalid_request", "config.basic_auth_username")
}
