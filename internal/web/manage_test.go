package web_test

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// hookForm is a filled webhook form: basic auth, a custom header, some
// delivery settings.
func hookForm(csrf, endpoint string) url.Values {
	return url.Values{"csrf": {csrf}, "endpoint": {endpoint}, "events": {"CARD_STATUS_CHANGE", "TRANSACTION"},
		"auth": {"basic"}, "config.basic_auth_username": {"user"}, "config.basic_auth_password": {"pass word"},
		"header_name.0": {"x-api-key"}, "header_value.0": {"hv-1"}, "header_name.1": {""}, "header_value.1": {""},
		"config.format": {"ncore"}, "config.signature": {"hmac-sha256"}, "config.timeout_seconds": {"7"},
		"config.max_retries": {"3"}, "config.retry_interval_seconds": {"60"}, "config.max_in_flight": {"4"},
		"config.rate_limit_per_second": {"2.5"}, "config.ordered": {"true"}}
}

var secretRE = regexp.MustCompile(`id="secret" class="reveal" value="(whsec_[^"]+)"`)

// A webhook created, edited, rotated and deleted from the dashboard is what
// the API then shows; refusals are the API's, beside their field.
func TestWebhookForms(t *testing.T) {
	in, b := startHerald(t)
	rc := newReceiver(t, false)
	b.mustSignIn(heraldtest.AdminKey, "")
	csrf := b.csrf()

	form := b.mustPage("/ui/webhooks/new", http.StatusOK)
	for _, want := range []string{`name="endpoint"`, `value="TRANSACTION"`, "Notification of a card status change event", `id="auth-oauth2"`,
		`name="config.filter"`, `name="config.signature"`, `name="header_name.0"`} {
		if !strings.Contains(html.UnescapeString(form), want) {
			t.Errorf("the new webhook form lacks %q", want)
		}
	}

	// Refusals: the API's message, beside the field it names, the form as typed.
	for _, tc := range []struct {
		name, field, value, id, message string
	}{
		{"timeout", "config.timeout_seconds", "31", "f-config-timeout-seconds", "must be between 1 and 30"},
		{"not a number", "config.max_in_flight", "many", "f-config-max-in-flight", "must be an integer"},
		{"bad filter", "config.filter", `{"nope": `, "f-config-filter", ""},
		{"endpoint", "endpoint", "ftp://example.com/", "f-endpoint", ""},
		{"header", "header_name.0", "Content-Type", "", "set by Herald"},
	} {
		f := hookForm(csrf, rc.URL+"/refused")
		f.Set(tc.field, tc.value)
		p := b.post("/ui/webhooks", f)
		if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, `id="form-error"`) {
			t.Fatalf("%s: %d %s", tc.name, p.Status, p.Body)
		}
		body := html.UnescapeString(p.Body)
		if tc.id != "" && !regexp.MustCompile(`id="`+tc.id+`"[^>]*aria-invalid="true"`).MatchString(body) {
			t.Errorf("%s: the field %s is not marked invalid", tc.name, tc.id)
		}
		if !strings.Contains(body, tc.message) || !strings.Contains(body, `value="`+tc.value+`"`) && tc.field != "config.filter" {
			t.Errorf("%s: the page lacks the message %q or the value typed", tc.name, tc.message)
		}
	}
	if ids := webhookIDs(t, in); len(ids) != 0 {
		t.Fatalf("refused forms stored webhooks %v", ids)
	}
	f := hookForm(csrf, rc.URL+"/hooks")
	f.Set("events", "NOPE")
	if p := b.post("/ui/webhooks", f); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "unknown event") {
		t.Fatalf("unknown event: %d", p.Status)
	}

	// Created: the secret shown once, the settings as the API stores them.
	p := b.post("/ui/webhooks", hookForm(csrf, rc.URL+"/hooks"))
	m := secretRE.FindStringSubmatch(p.Body)
	if p.Status != http.StatusOK || m == nil {
		t.Fatalf("create: %d %s", p.Status, p.Body)
	}
	ids := webhookIDs(t, in)
	if len(ids) != 1 {
		t.Fatalf("webhooks after create: %v", ids)
	}
	id := ids[0]
	var hook struct {
		Endpoint string   `json:"endpoint"`
		Events   []string `json:"events"`
		Config   struct {
			User          string  `json:"basic_auth_username"`
			TimeoutSecs   int     `json:"timeout_seconds"`
			MaxRetries    int     `json:"max_retries"`
			RetryInterval int     `json:"retry_interval_seconds"`
			MaxInFlight   int     `json:"max_in_flight"`
			Rate          float64 `json:"rate_limit_per_second"`
			Ordered       bool    `json:"ordered"`
			Headers       []struct {
				Name string `json:"header_name"`
			} `json:"custom_headers"`
		} `json:"config"`
	}
	in.Admin(t, "GET", "/webhooks/"+id, nil).JSON(t, &hook)
	c := hook.Config
	if hook.Endpoint != rc.URL+"/hooks" || len(hook.Events) != 2 || c.User != "user" || c.TimeoutSecs != 7 || c.MaxRetries != 3 ||
		c.RetryInterval != 60 || c.MaxInFlight != 4 || c.Rate != 2.5 || !c.Ordered || len(c.Headers) != 1 || c.Headers[0].Name != "x-api-key" {
		t.Fatalf("created webhook: %+v", hook)
	}
	if strings.Contains(b.mustPage("/ui/webhooks/"+id, http.StatusOK), m[1]) {
		t.Error("the webhook's page shows the secret again")
	}

	// Edit: credentials masked; sent back unchanged they are kept; moving
	// the endpoint to another origin needs them again (the hardening rule).
	edit := b.mustPage("/ui/webhooks/"+id+"/edit", http.StatusOK)
	if !strings.Contains(edit, `value="********"`) || strings.Contains(edit, "pass word") || strings.Contains(edit, "hv-1") {
		t.Fatalf("the edit form does not mask the credentials")
	}
	ef := formOf(t, edit)
	ef.Set("config.timeout_seconds", "9")
	if p := b.post("/ui/webhooks/"+id+"/edit", ef); p.Status != http.StatusSeeOther {
		t.Fatalf("save: %d %s", p.Status, p.Body)
	}
	in.Admin(t, "GET", "/webhooks/"+id, nil).JSON(t, &hook)
	if hook.Config.TimeoutSecs != 9 || hook.Config.User != "user" || len(hook.Config.Headers) != 1 {
		t.Fatalf("after the edit: %+v", hook.Config)
	}
	ef.Set("endpoint", "http://127.0.0.2:1/elsewhere")
	p = b.post("/ui/webhooks/"+id+"/edit", ef)
	if p.Status != http.StatusBadRequest || !regexp.MustCompile(`id="f-config-basic-auth-password"[^>]*aria-invalid="true"`).MatchString(p.Body) {
		t.Fatalf("moving the endpoint with masked credentials: %d %s", p.Status, p.Body)
	}

	// The authentication choice decides which credentials are sent.
	ef = formOf(t, b.mustPage("/ui/webhooks/"+id+"/edit", http.StatusOK))
	ef.Set("auth", "oauth2")
	ef.Set("config.oauth2.token_url", rc.URL+"/token")
	ef.Set("config.oauth2.client_id", "cid")
	ef.Set("config.oauth2.client_secret", "csecret")
	if p := b.post("/ui/webhooks/"+id+"/edit", ef); p.Status != http.StatusSeeOther {
		t.Fatalf("switch to OAuth2: %d %s", p.Status, p.Body)
	}
	var auth struct {
		Config struct {
			User   *string         `json:"basic_auth_username"`
			OAuth2 json.RawMessage `json:"oauth2"`
		} `json:"config"`
	}
	in.Admin(t, "GET", "/webhooks/"+id, nil).JSON(t, &auth)
	if auth.Config.User != nil || !strings.Contains(string(auth.Config.OAuth2), `"client_id":"cid"`) {
		t.Fatalf("after choosing OAuth2: user %v, oauth2 %s", auth.Config.User, auth.Config.OAuth2)
	}
	ef = formOf(t, b.mustPage("/ui/webhooks/"+id+"/edit", http.StatusOK))
	if ef.Get("auth") != "oauth2" || ef.Get("config.oauth2.client_secret") != "********" {
		t.Fatalf("the edit form shows auth %q, client secret %q", ef.Get("auth"), ef.Get("config.oauth2.client_secret"))
	}
	ef.Set("auth", "none")
	if p := b.post("/ui/webhooks/"+id+"/edit", ef); p.Status != http.StatusSeeOther {
		t.Fatalf("switch to none: %d %s", p.Status, p.Body)
	}
	in.Admin(t, "GET", "/webhooks/"+id, nil).JSON(t, &auth)
	if auth.Config.User != nil || string(auth.Config.OAuth2) != "null" {
		t.Fatalf("after choosing none: user %v, oauth2 %s", auth.Config.User, auth.Config.OAuth2)
	}

	// Rotate: a new secret, shown once.
	p = b.post("/ui/webhooks/"+id+"/rotate", url.Values{"csrf": {csrf}})
	if m2 := secretRE.FindStringSubmatch(p.Body); p.Status != http.StatusOK || m2 == nil || m2[1] == m[1] {
		t.Fatalf("rotate: %d %s", p.Status, p.Body)
	}

	// Delete, after a confirmation.
	if body := b.mustPage("/ui/webhooks/"+id+"/delete", http.StatusOK); !strings.Contains(body, `id="confirm"`) {
		t.Fatal("no confirmation before delete")
	}
	if webhookStatus(t, in, id) != "ACTIVE" {
		t.Fatal("the confirmation page changed the webhook")
	}
	p = b.post("/ui/webhooks/"+id+"/delete", url.Values{"csrf": {csrf}})
	if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/ui/webhooks" {
		t.Fatalf("delete: %d %s", p.Status, p.Body)
	}
	if r := in.Admin(t, "GET", "/webhooks/"+id, nil); r.Status != http.StatusNotFound {
		t.Fatalf("the deleted webhook answers %d", r.Status)
	}
}

// webhookIDs lists the default tenant's webhooks.
func webhookIDs(t *testing.T, in *heraldtest.Instance) []string {
	t.Helper()
	var l struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	in.Admin(t, "GET", "/webhooks", nil).JSON(t, &l)
	var ids []string
	for _, w := range l.Data {
		ids = append(ids, w.ID)
	}
	return ids
}

var (
	inputRE    = regexp.MustCompile(`<input([^>]*)>`)
	textareaRE = regexp.MustCompile(`(?s)<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>`)
	selectRE   = regexp.MustCompile(`(?s)<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>`)
	attrRE     = regexp.MustCompile(`(\w[\w-]*)="([^"]*)"`)
	selectedRE = regexp.MustCompile(`<option value="([^"]*)" selected>`)
)

// formOf reads the form of a page as a browser would submit it.
func formOf(t *testing.T, page string) url.Values {
	t.Helper()
	f := url.Values{}
	for _, m := range inputRE.FindAllStringSubmatch(page, -1) {
		a := map[string]string{}
		for _, kv := range attrRE.FindAllStringSubmatch(m[1], -1) {
			a[kv[1]] = html.UnescapeString(kv[2])
		}
		name := a["name"]
		if name == "" {
			continue
		}
		if (a["type"] == "checkbox" || a["type"] == "radio") && !strings.Contains(m[1], " checked") {
			continue
		}
		f.Add(name, a["value"])
	}
	for _, m := range textareaRE.FindAllStringSubmatch(page, -1) {
		f.Set(m[1], html.UnescapeString(m[2]))
	}
	for _, m := range selectRE.FindAllStringSubmatch(page, -1) {
		if s := selectedRE.FindStringSubmatch(m[2]); s != nil {
			f.Set(m[1], s[1])
		}
	}
	return f
}
