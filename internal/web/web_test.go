package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// startHerald runs Herald (with the dashboard mounted at /ui) and returns
// it with a dashboard user.
func startHerald(t *testing.T) (*heraldtest.Instance, *browserless) {
	t.Helper()
	in := heraldtest.Start(t, heraldtest.Options{RetrySchedule: []time.Duration{50 * time.Millisecond}})
	return in, newBrowserless(t, in.URL, nil)
}

func TestSignInAndOut(t *testing.T) {
	_, b := startHerald(t)
	for _, path := range []string{"/ui", "/ui/", "/ui/webhooks", "/ui/notifications"} {
		p := b.get(path)
		if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Header.Get("Location"), "/ui/") {
			t.Fatalf("GET %s signed out: %d %q", path, p.Status, p.Header.Get("Location"))
		}
	}
	p := b.signIn(heraldtest.AdminKey, "")
	if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/ui/webhooks" {
		t.Fatalf("sign in: %d %q %s", p.Status, p.Header.Get("Location"), p.Body)
	}
	c := cookieNamed(p.Header, "herald_session")
	if c == nil {
		t.Fatal("no session cookie")
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/ui/" || c.Secure {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/ui/, not Secure over plain HTTP", c)
	}
	body := b.mustPage("/ui/webhooks", http.StatusOK)
	for _, want := range []string{"<h1>Webhooks</h1>", `id="signout"`, "(admin)", `name="tenant"`} {
		if !strings.Contains(body, want) {
			t.Errorf("webhooks page lacks %q", want)
		}
	}
	if strings.Contains(body, heraldtest.AdminKey) {
		t.Error("the page shows the whole API key")
	}
	if p := b.get("/ui/"); p.Header.Get("Location") != "/ui/webhooks" {
		t.Errorf("GET /ui/ signed in: %q", p.Header.Get("Location"))
	}

	p = b.post("/ui/signout", url.Values{"csrf": {b.csrf()}})
	if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/ui/signin" {
		t.Fatalf("sign out: %d %q", p.Status, p.Header.Get("Location"))
	}
	if c := cookieNamed(p.Header, "herald_session"); c == nil || c.MaxAge >= 0 || c.Value != "" {
		t.Fatalf("sign out does not clear the session cookie: %+v", c)
	}
	if p := b.get("/ui/webhooks"); p.Status != http.StatusSeeOther {
		t.Fatalf("after sign out: %d, want a redirect to sign in", p.Status)
	}
	if body := b.mustPage("/ui/signin", http.StatusOK); !strings.Contains(body, "Signed out.") {
		t.Error("no signed-out message")
	}
}

func TestSignInRefusesBadKeys(t *testing.T) {
	in, b := startHerald(t)
	p := b.signIn("hk_wrong_key_<script>", "")
	if p.Status != http.StatusUnauthorized || !strings.Contains(p.Body, "does not accept this API key") {
		t.Fatalf("bad key: %d %s", p.Status, p.Body)
	}
	if cookieNamed(p.Header, "herald_session") != nil || strings.Contains(p.Body, "hk_wrong_key") {
		t.Fatal("a bad key got a session, or is shown back")
	}
	if p := b.signIn("", ""); p.Status != http.StatusBadRequest {
		t.Errorf("empty key: %d", p.Status)
	}
	// The sign-in form's double-submit token is required.
	p = b.post("/ui/signin", url.Values{"key": {heraldtest.AdminKey}, "signin": {"forged"}})
	if p.Status != http.StatusForbidden || cookieNamed(p.Header, "herald_session") != nil {
		t.Fatalf("sign-in without its token: %d", p.Status)
	}
	if p := b.signIn(heraldtest.AdminKey, "no-such-tenant"); p.Status != http.StatusNotFound || !strings.Contains(p.Body, "There is no tenant no-such-tenant") {
		t.Fatalf("unknown tenant: %d %s", p.Status, p.Body)
	}

	// A tenant's client key works (without picking a tenant); a publisher
	// key cannot manage webhooks.
	var tn struct {
		ID     string `json:"id"`
		APIKey string `json:"api_key"`
	}
	in.Admin(t, http.MethodPost, "/tenants", map[string]string{"name": "acme"}).JSON(t, &tn)
	var pub struct {
		Key string `json:"key"`
	}
	in.Admin(t, http.MethodPost, "/tenants/"+tn.ID+"/keys", map[string]string{"role": "publisher"}).JSON(t, &pub)
	if p := newBrowserless(t, in.URL, nil).signIn(pub.Key, ""); p.Status != http.StatusForbidden || !strings.Contains(p.Body, "publisher key") {
		t.Errorf("publisher key: %d %s", p.Status, p.Body)
	}
	if p := newBrowserless(t, in.URL, nil).signIn(tn.APIKey, "default"); p.Status != http.StatusBadRequest {
		t.Errorf("client key picking a tenant: %d", p.Status)
	}
	cb := newBrowserless(t, in.URL, nil)
	cb.mustSignIn(tn.APIKey, "")
	if body := cb.mustPage("/ui/webhooks", http.StatusOK); strings.Contains(body, "(admin)") || strings.Contains(body, `name="tenant"`) {
		t.Error("a client key is offered the tenant picker")
	}
	// A revoked key ends the session at the next page.
	var keys struct {
		Data []struct {
			ID, Role string
		} `json:"data"`
	}
	in.Admin(t, http.MethodGet, "/tenants/"+tn.ID+"/keys", nil).JSON(t, &keys)
	for _, k := range keys.Data {
		in.Admin(t, http.MethodDelete, "/keys/"+k.ID, nil)
	}
	if p := cb.get("/ui/webhooks"); p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/ui/signin" {
		t.Fatalf("revoked key: %d %q", p.Status, p.Header.Get("Location"))
	}
}

func TestCSRF(t *testing.T) {
	in, b := startHerald(t)
	id := createWebhook(t, in, "http://127.0.0.1:1/hook", nil)
	b.mustSignIn(heraldtest.AdminKey, "")
	token := b.csrf()

	other := newBrowserless(t, in.URL, nil)
	other.mustSignIn(heraldtest.AdminKey, "")
	otherToken := other.csrf()
	if otherToken == token {
		t.Fatal("two sessions share a CSRF token")
	}

	flipped := token[:len(token)-1] + "A"
	if strings.HasSuffix(token, "A") {
		flipped = token[:len(token)-1] + "B"
	}
	path := "/ui/webhooks/" + id + "/status"
	for name, form := range map[string]url.Values{
		"no token":                 {"status": {"DISABLED"}},
		"empty token":              {"status": {"DISABLED"}, "csrf": {""}},
		"another session's token":  {"status": {"DISABLED"}, "csrf": {otherToken}},
		"a token with a bit wrong": {"status": {"DISABLED"}, "csrf": {flipped}},
	} {
		p := b.post(path, form)
		if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "CSRF") {
			t.Errorf("%s: %d, want 403", name, p.Status)
		}
	}
	// A valid token from another site is refused too (Sec-Fetch-Site).
	if p := b.post(path, url.Values{"status": {"DISABLED"}, "csrf": {token}}, "Sec-Fetch-Site", "cross-site"); p.Status != http.StatusForbidden {
		t.Errorf("cross-site form: %d, want 403", p.Status)
	}
	if s := webhookStatus(t, in, id); s != "ACTIVE" {
		t.Fatalf("a refused form changed the webhook: %s", s)
	}
	// Signed out, an action is refused with no redirect.
	if p := newBrowserless(t, in.URL, nil).post(path, url.Values{"status": {"DISABLED"}, "csrf": {token}}); p.Status != http.StatusForbidden {
		t.Errorf("signed out action: %d", p.Status)
	}
	for _, action := range []string{"/ui/signout", "/ui/tenant", "/ui/webhooks/" + id + "/ping", "/ui/webhooks/" + id + "/sendexpired", "/ui/notifications/x/resend"} {
		if p := b.post(action, url.Values{}); p.Status != http.StatusForbidden {
			t.Errorf("POST %s without a token: %d", action, p.Status)
		}
	}
	p := b.post(path, url.Values{"status": {"DISABLED"}, "csrf": {token}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("valid token: %d %s", p.Status, p.Body)
	}
	if s := webhookStatus(t, in, id); s != "DISABLED" {
		t.Fatalf("status %s after disabling", s)
	}
	if body := b.mustPage("/ui/webhooks/"+id, http.StatusOK); !strings.Contains(body, "Webhook disabled") || !strings.Contains(body, `id="enable"`) {
		t.Error("no confirmation or no Enable button after disabling")
	}
	if p := b.post(path, url.Values{"status": {"BOGUS"}, "csrf": {token}}); p.Status != http.StatusBadRequest {
		t.Errorf("bad status: %d", p.Status)
	}
}

// scriptEndpoint survives the API's URL normalisation (the query is kept
// as sent), so the pages must escape it.
const scriptEndpoint = "http://127.0.0.1:1/hook?x=<script>alert(1)</script>"

func TestPagesEscapeEverything(t *testing.T) {
	in, b := startHerald(t)
	id := createWebhook(t, in, scriptEndpoint, map[string]any{"max_retries": 0, "basic_auth_username": "user<i>",
		"basic_auth_password": "pa55-secret", "custom_headers": []map[string]string{{"header_name": "X-Token", "header_value": "header-secret"}}})
	var hook struct {
		Endpoint string `json:"endpoint"`
	}
	in.Admin(t, http.MethodGet, "/webhooks/"+id, nil).JSON(t, &hook)
	if !strings.Contains(hook.Endpoint, "<script>") {
		t.Fatalf("the API changed the endpoint to %q; the test needs another way to store markup", hook.Endpoint)
	}
	ids := publish(t, in, `{"event": "CARD_STATUS_CHANGE", "card_status_change": {"card_id": "c1", "old_status": "ACTIVE",
		"new_status": "SUSPENDED", "status_reason_code": "S0", "remark": "<script>alert(2)</script>"}}`)
	waitStatus(t, in, ids[0], "EXPIRED")
	b.mustSignIn(heraldtest.AdminKey, "")

	pages := map[string][]string{
		"/ui/webhooks":       {"&lt;script&gt;alert(1)&lt;/script&gt;", `data-status="ACTIVE"`, "0%"},
		"/ui/webhooks/" + id: {"&lt;script&gt;alert(1)&lt;/script&gt;", "user&lt;i&gt;", "<code>X-Token</code>", "<svg", `id="ping"`, `id="sendexpired"`},
		"/ui/notifications":  {ids[0], "&lt;script&gt;alert(1)&lt;/script&gt;", `data-status="EXPIRED"`},
		"/ui/notifications/" + ids[0]: {"&lt;script&gt;alert(2)&lt;/script&gt;", "connection_refused", `id="resend"`, "CARD_STATUS_CHANGE",
			"<code>Authorization</code></th><td><code>Basic ********</code>", "<code>X-Token</code></th><td><code>********</code>"},
		"/ui/notifications?status=EXPIRED&event=CARD_STATUS_CHANGE&last=24h&webhook=" + id: {ids[0]},
	}
	for path, wants := range pages {
		body := b.mustPage(path, http.StatusOK)
		if strings.Contains(body, "<script>") || strings.Contains(body, "<i>") {
			t.Errorf("%s shows markup unescaped", path)
		}
		for _, secret := range []string{"pa55-secret", "header-secret", "********", heraldtest.AdminKey} {
			if secret == "********" && strings.HasPrefix(path, "/ui/notifications/") {
				continue // an attempt's headers show where Herald masked a credential
			}
			if strings.Contains(body, secret) {
				t.Errorf("%s shows the secret (or its mask) %q", path, secret)
			}
		}
		for _, want := range wants {
			if !strings.Contains(body, want) {
				t.Errorf("%s lacks %q", path, want)
			}
		}
	}
}

func TestNotificationSearchAndFilters(t *testing.T) {
	in, b := startHerald(t)
	rc := newReceiver(t, false)
	id := createWebhook(t, in, rc.URL, map[string]any{"max_retries": 0})
	delivered := publish(t, in, cardEvent)[0]
	waitStatus(t, in, delivered, "DELIVERED")
	rc.fail.Store(true)
	expired := publish(t, in, cardEvent)[0]
	waitStatus(t, in, expired, "EXPIRED")
	b.mustSignIn(heraldtest.AdminKey, "")

	// Search by id goes straight to the notification.
	p := b.get("/ui/notifications?id=" + expired)
	if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/ui/notifications/"+expired {
		t.Fatalf("search by id: %d %q", p.Status, p.Header.Get("Location"))
	}
	if body := b.mustPage("/ui/notifications?id=00000000-0000-0000-0000-000000000000", http.StatusOK); !strings.Contains(body, "No notifications match") {
		t.Error("an unknown id finds something")
	}
	body := b.mustPage("/ui/notifications?status=EXPIRED", http.StatusOK)
	if !strings.Contains(body, expired) || strings.Contains(body, delivered) {
		t.Error("status filter: wrong rows")
	}
	body = b.mustPage("/ui/notifications?status=DELIVERED&webhook="+id, http.StatusOK)
	if strings.Contains(body, expired) || !strings.Contains(body, delivered) {
		t.Error("status and webhook filter: wrong rows")
	}
	future := time.Now().UTC().Add(time.Hour).Format("2006-01-02T15:04")
	if body := b.mustPage("/ui/notifications?from="+future, http.StatusOK); strings.Contains(body, expired) {
		t.Error("from filter: a past notification is listed")
	}
	if body := b.mustPage("/ui/notifications?to="+future+"&event=CARD_STATUS_CHANGE", http.StatusOK); !strings.Contains(body, expired) || !strings.Contains(body, delivered) {
		t.Error("to and event filters: rows missing")
	}
	if body := b.mustPage("/ui/notifications?from=yesterday", http.StatusBadRequest); !strings.Contains(body, "Search refused") {
		t.Error("a bad time is not explained")
	}
	if body := b.mustPage("/ui/notifications?event=NO_SUCH_EVENT", http.StatusBadRequest); !strings.Contains(body, "unknown event") {
		t.Error("an unknown event is not explained")
	}
	b.mustPage("/ui/notifications/00000000-0000-0000-0000-000000000000", http.StatusNotFound)
	b.mustPage("/ui/webhooks/00000000-0000-0000-0000-000000000000", http.StatusNotFound)
	b.mustPage("/ui/nowhere", http.StatusNotFound)

	// The delivered notification shows its attempts and the receiver's answer.
	body = b.mustPage("/ui/notifications/"+delivered, http.StatusOK)
	for _, want := range []string{`data-status="DELIVERED"`, "{&#34;received&#34;: true}", `data-status="success"`} {
		if !strings.Contains(body, want) {
			t.Errorf("delivered notification page lacks %q", want)
		}
	}
	if !strings.Contains(body, `id="resend"`) {
		t.Error("a delivered notification offers no re-send")
	}
	body = b.mustPage("/ui/notifications/"+expired, http.StatusOK)
	for _, want := range []string{"http_status", "500", "&lt;b&gt;for maintenance&lt;/b&gt;", `data-status="failure"`} {
		if !strings.Contains(body, want) {
			t.Errorf("expired notification page lacks %q", want)
		}
	}
}

func TestActions(t *testing.T) {
	in, b := startHerald(t)
	rc := newReceiver(t, true)
	id := createWebhook(t, in, rc.URL, map[string]any{"max_retries": 0})
	var expired []string
	for range 3 {
		expired = append(expired, publish(t, in, cardEvent)[0])
	}
	for _, n := range expired {
		waitStatus(t, in, n, "EXPIRED")
	}
	b.mustSignIn(heraldtest.AdminKey, "")
	token := b.csrf()

	// Ping while failing, then while answering.
	p := b.post("/ui/webhooks/"+id+"/ping", url.Values{"csrf": {token}})
	if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/ui/webhooks/"+id {
		t.Fatalf("ping: %d %q", p.Status, p.Header.Get("Location"))
	}
	if body := b.mustPage("/ui/webhooks/"+id, http.StatusOK); !strings.Contains(body, "Ping failed: HTTP 500") {
		t.Error("failed ping not shown")
	}
	rc.fail.Store(false)
	b.post("/ui/webhooks/"+id+"/ping", url.Values{"csrf": {token}})
	body := b.mustPage("/ui/webhooks/"+id, http.StatusOK)
	if !strings.Contains(body, "Ping succeeded: HTTP 200") || !strings.Contains(body, "3 expired") {
		t.Error("successful ping or expired count not shown")
	}

	// Re-send one, then all of the webhook.
	b.post("/ui/notifications/"+expired[0]+"/resend", url.Values{"csrf": {token}})
	waitStatus(t, in, expired[0], "DELIVERED")
	if body := b.mustPage("/ui/notifications/"+expired[0], http.StatusOK); !strings.Contains(body, `data-status="DELIVERED"`) {
		t.Error("re-sent notification not shown delivered")
	}
	if notificationStatus(t, in, expired[1]) != "EXPIRED" {
		t.Fatal("re-sending one re-sent another")
	}
	// A delivered one is re-sent too (the receiver gets it again); a
	// pending one is not.
	b.post("/ui/notifications/"+expired[0]+"/resend", url.Values{"csrf": {token}})
	if body := b.mustPage("/ui/notifications/"+expired[0], http.StatusOK); !strings.Contains(body, "Re-sent: the notification is PENDING again") {
		t.Error("re-sending a delivered notification is not done")
	}
	waitStatus(t, in, expired[0], "DELIVERED")
	held := in.Admin(t, http.MethodPost, "/webhooks", map[string]any{"endpoint": rc.URL + "/held", "events": []string{"TRANSACTION"}, "status": "DISABLED"})
	if held.Status != http.StatusCreated {
		t.Fatalf("create a disabled webhook: %d %s", held.Status, held.Body)
	}
	late := publish(t, in, `{"event": "TRANSACTION", "card_transaction": {"id": "t-1", "message_type": "API", "transaction_type": "WALLET_CREDIT"}}`)[0]
	b.post("/ui/notifications/"+late+"/resend", url.Values{"csrf": {token}})
	if body := b.mustPage("/ui/notifications/"+late, http.StatusOK); !strings.Contains(body, "Nothing was re-sent") || !strings.Contains(body, "is PENDING") {
		t.Error("re-sending a pending notification is not explained")
	}
	b.post("/ui/webhooks/"+id+"/sendexpired", url.Values{"csrf": {token}})
	if body := b.mustPage("/ui/webhooks/"+id, http.StatusOK); !strings.Contains(body, "Re-sent 2 expired notifications.") {
		t.Error("re-send all: count not shown")
	}
	for _, n := range expired[1:] {
		waitStatus(t, in, n, "DELIVERED")
	}
	body = b.mustPage("/ui/webhooks/"+id, http.StatusOK)
	if !regexp.MustCompile(`delivered \(solid\): <strong>4</strong>`).MatchString(body) ||
		!regexp.MustCompile(`failed \(hatched\): <strong>3</strong>`).MatchString(body) {
		t.Error("the chart does not count 4 successes and 3 failures")
	}

	// Disable and enable.
	b.post("/ui/webhooks/"+id+"/status", url.Values{"csrf": {token}, "status": {"DISABLED"}})
	if s := webhookStatus(t, in, id); s != "DISABLED" {
		t.Fatalf("after disable: %s", s)
	}
	b.post("/ui/webhooks/"+id+"/status", url.Values{"csrf": {token}, "status": {"ACTIVE"}})
	if s := webhookStatus(t, in, id); s != "ACTIVE" {
		t.Fatalf("after enable: %s", s)
	}
}

func TestAdminPicksTenant(t *testing.T) {
	in, b := startHerald(t)
	in.Admin(t, http.MethodPost, "/tenants", map[string]string{"name": "acme"})
	createWebhook(t, in, "http://127.0.0.1:1/default-hook", nil)
	createWebhook(t, in, "http://127.0.0.1:1/acme-hook", nil, "Herald-Tenant", "acme")

	b.mustSignIn(heraldtest.AdminKey, "acme")
	body := b.mustPage("/ui/webhooks", http.StatusOK)
	if !strings.Contains(body, "acme-hook") || strings.Contains(body, "default-hook") {
		t.Fatal("signed in to acme, the webhooks are not acme's")
	}
	if !strings.Contains(body, `<option value="acme" selected>`) {
		t.Error("the tenant picker does not show acme")
	}
	p := b.post("/ui/tenant", url.Values{"csrf": {b.csrf()}, "tenant": {"default"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("switch tenant: %d %s", p.Status, p.Body)
	}
	if body := b.mustPage("/ui/webhooks", http.StatusOK); strings.Contains(body, "acme-hook") || !strings.Contains(body, "default-hook") {
		t.Fatal("after switching to default, the webhooks are not default's")
	}
	if p := b.post("/ui/tenant", url.Values{"csrf": {b.csrf()}, "tenant": {"nope"}}); p.Status != http.StatusNotFound {
		t.Errorf("switch to an unknown tenant: %d", p.Status)
	}
}

func TestStaticAndHeaders(t *testing.T) {
	_, b := startHerald(t)
	p := b.get("/ui/static/style.css")
	if p.Status != http.StatusOK || !strings.HasPrefix(p.Header.Get("Content-Type"), "text/css") || !strings.Contains(p.Body, ".st-ok") {
		t.Fatalf("style.css: %d %q", p.Status, p.Header.Get("Content-Type"))
	}
	if p := b.get("/ui/static/"); p.Status != http.StatusNotFound || strings.Contains(p.Body, `<a href="style.css">`) {
		t.Errorf("/ui/static/ lists the assets: %d", p.Status)
	}
	p = b.get("/ui/signin")
	if csp := p.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self';") ||
		strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q: want scripts of the dashboard's own only, never inline", csp)
	}
	if regexp.MustCompile(`<script(?: [^>]*)?>[^<]`).MatchString(p.Body) || strings.Contains(p.Body, "http://") || strings.Contains(p.Body, "https://") {
		t.Error("the sign-in page has an inline script or loads something from elsewhere")
	}
	// The API is untouched by the mount.
	if p := b.get("/healthz"); p.Status != http.StatusOK {
		t.Errorf("/healthz: %d", p.Status)
	}
	if p := b.get("/uix"); p.Status != http.StatusNotFound || !strings.Contains(p.Body, `"not_found"`) {
		t.Errorf("/uix is not the API's 404: %d %s", p.Status, p.Body)
	}
}

func TestFailingWebhook(t *testing.T) {
	in, b := startHerald(t)
	rc := newReceiver(t, true)
	id := createWebhook(t, in, rc.URL, map[string]any{"max_retries": 0, "retry_interval_seconds": 3600})
	for range 6 {
		publish(t, in, cardEvent)
	}
	heraldtest.Eventually(t, 10*time.Second, "the webhook's circuit to open", func() bool { return webhookStatus(t, in, id) == "FAILING" })
	b.mustSignIn(heraldtest.AdminKey, "")
	body := b.mustPage("/ui/webhooks", http.StatusOK)
	for _, want := range []string{`data-status="FAILING"`, "⚠</span> FAILING", `data-status="open"`, "failed in a row", "0%"} {
		if !strings.Contains(body, want) {
			t.Errorf("webhooks page lacks %q", want)
		}
	}
	body = b.mustPage("/ui/webhooks/"+id, http.StatusOK)
	for _, want := range []string{"<dt>Next probe</dt>", "<dt>Failing since</dt>", `id="reset"`, `id="disable"`} {
		if !strings.Contains(body, want) {
			t.Errorf("webhook page lacks %q", want)
		}
	}
	rc.fail.Store(false)
	if p := b.post("/ui/webhooks/"+id+"/status", url.Values{"csrf": {b.csrf()}, "status": {"ACTIVE"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("close circuit: %d", p.Status)
	}
	if s := webhookStatus(t, in, id); s != "ACTIVE" {
		t.Fatalf("after closing the circuit: %s", s)
	}
}
