package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/web"
)

// portalLink makes a portal link for tenant (key: admin when "", else that
// key for its own tenant) and returns its path.
func portalLink(t *testing.T, in *heraldtest.Instance, key, tenant string, body map[string]any) string {
	t.Helper()
	if key == "" {
		key = heraldtest.AdminKey
	}
	r := in.Do(t, key, http.MethodPost, "/portal-sessions", body, "Herald-Tenant", tenant)
	if r.Status != http.StatusCreated {
		t.Fatalf("portal link: %d %s", r.Status, r.Body)
	}
	var l struct {
		URL string `json:"url"`
	}
	r.JSON(t, &l)
	u, err := url.Parse(l.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Path
}

// createTenant makes a tenant and returns its id and client key.
func createTenant(t *testing.T, in *heraldtest.Instance, name string) (id, key string) {
	t.Helper()
	r := in.Admin(t, http.MethodPost, "/tenants", map[string]string{"name": name})
	var out struct {
		ID     string `json:"id"`
		APIKey string `json:"api_key"`
	}
	r.JSON(t, &out)
	if r.Status != http.StatusCreated {
		t.Fatalf("create tenant: %d %s", r.Status, r.Body)
	}
	return out.ID, out.APIKey
}

// linkTokenRE reads the token a portal link's page posts.
var linkTokenRE = regexp.MustCompile(`<form method="post" action="/ui/portal" id="portal-form" data-submit-on-load>\s*<input type="hidden" name="token" value="([^"]+)">`)

// linkToken checks that p is a portal link's page (a form that posts the
// token to redeem it, nothing redeemed yet) and returns its token.
func linkToken(t *testing.T, p page) string {
	t.Helper()
	m := linkTokenRE.FindStringSubmatch(p.Body)
	if p.Status != http.StatusOK || m == nil || !strings.Contains(p.Body, `id="portal-open"`) {
		t.Fatalf("the portal link's page: %d %s", p.Status, p.Body)
	}
	if c := p.Header.Values("Set-Cookie"); len(c) != 0 {
		t.Fatalf("the portal link's page sets cookies: %q", c)
	}
	return m[1]
}

// redeem opens a portal link in a fresh browser and posts its page's form,
// as the page's script (or its button) does; the answer sends the browser
// on to the webhooks with a session.
func redeem(t *testing.T, base, path string, transport http.RoundTripper) *browserless {
	t.Helper()
	b := newBrowserless(t, base, transport)
	p := b.post("/ui/portal", url.Values{"token": {linkToken(t, b.get(path))}})
	if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/ui/webhooks" || cookieNamed(p.Header, "herald_session") == nil {
		t.Fatalf("redeem %s: %d %q %s", path, p.Status, p.Header.Get("Location"), p.Body)
	}
	return b
}

// A portal link signs a browser into one tenant, with client rights: its
// webhooks only, no tenant switcher, another tenant's ids not found; the
// link works once.
func TestPortalSession(t *testing.T) {
	in := heraldtest.Start(t, heraldtest.Options{})
	rc := newReceiver(t, false)
	acme, client := createTenant(t, in, "acme")
	mine := createWebhook(t, in, rc.URL+"/acme", nil, "Herald-Tenant", acme)
	theirs := createWebhook(t, in, rc.URL+"/default", nil)
	note := publish(t, in, cardEvent)[0]

	for _, key := range []string{"", client} { // made with the admin key for acme, and with acme's own key
		path := portalLink(t, in, key, acme, nil)
		b := redeem(t, in.URL, path, nil)
		body := b.mustPage("/ui/webhooks", http.StatusOK)
		if !strings.Contains(body, rc.URL+"/acme") || strings.Contains(body, rc.URL+"/default") {
			t.Fatalf("the portal's webhooks are not acme's alone")
		}
		if strings.Contains(body, `name="tenant"`) || strings.Contains(body, "(admin)") || !strings.Contains(body, `id="portal-tenant"`) {
			t.Errorf("the portal shows the tenant switcher or an admin key")
		}
		b.mustPage("/ui/webhooks/"+mine, http.StatusOK)
		b.mustPage("/ui/webhooks/"+theirs, http.StatusNotFound)
		b.mustPage("/ui/notifications/"+note, http.StatusNotFound)
		if p := b.post("/ui/tenant", url.Values{"csrf": {b.csrf()}, "tenant": {"default"}}); p.Status != http.StatusForbidden {
			t.Errorf("the portal switched tenants: %d", p.Status)
		}
		b.mustPage("/ui/webhooks/"+theirs, http.StatusNotFound)
		// The link does not work twice.
		if p := newBrowserless(t, in.URL, nil).get(path); p.Status != http.StatusNotFound || strings.Contains(p.Body, "portal-form") {
			t.Fatalf("the link worked twice: %d", p.Status)
		}
		if p := b.post("/ui/signout", url.Values{"csrf": {b.csrf()}}); p.Status != http.StatusSeeOther {
			t.Fatalf("portal sign-out: %d", p.Status)
		}
	}
	for _, bad := range []string{"/ui/portal/x", "/ui/portal/hpl_" + strings.Repeat("A", 43), "/ui/portal/"} {
		if p := newBrowserless(t, in.URL, nil).get(bad); p.Status != http.StatusNotFound || cookieNamed(p.Header, "herald_session") != nil {
			t.Errorf("%s: %d", bad, p.Status)
		}
	}
}

// A link does not work after it expires.
func TestPortalLinkExpires(t *testing.T) {
	in := heraldtest.Start(t, heraldtest.Options{})
	clk := &clock{t: time.Now()}
	h, _ := replica(t, in, web.Config{Now: clk.now})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	path := portalLink(t, in, "", "default", map[string]any{"ttl_seconds": 60})
	clk.add(61 * time.Second)
	if p := newBrowserless(t, srv.URL, nil).get(path); p.Status != http.StatusNotFound || !strings.Contains(p.Body, "cannot be used") {
		t.Fatalf("an expired link: %d", p.Status)
	}
	clk.add(-61 * time.Second)
	// Its page opened in time, its form posted too late.
	path = portalLink(t, in, "", "default", map[string]any{"ttl_seconds": 60})
	b := newBrowserless(t, srv.URL, nil)
	token := linkToken(t, b.get(path))
	clk.add(61 * time.Second)
	if p := b.post("/ui/portal", url.Values{"token": {token}}); p.Status != http.StatusNotFound ||
		!strings.Contains(p.Body, "cannot be used") || cookieNamed(p.Header, "herald_session") != nil {
		t.Fatalf("an expired link posted: %d", p.Status)
	}
	clk.add(-61 * time.Second)
	path = portalLink(t, in, "", "default", map[string]any{"ttl_seconds": 60})
	clk.add(59 * time.Second) // still within its minute
	redeem(t, srv.URL, path, nil)
}

// A read-only portal session changes nothing: every form the dashboard
// has is refused, whatever it asks, and the pages offer none.
func TestPortalReadOnly(t *testing.T) {
	in := heraldtest.Start(t, heraldtest.Options{})
	rc := newReceiver(t, false)
	hook := createWebhook(t, in, rc.URL+"/hooks", map[string]any{"max_retries": 0})
	rc.fail.Store(true)
	note := publish(t, in, cardEvent)[0]
	waitStatus(t, in, note, "EXPIRED")
	before := in.Admin(t, http.MethodGet, "/webhooks/"+hook, nil).Body
	b := redeem(t, in.URL, portalLink(t, in, "", "default", map[string]any{"read_only": true}), nil)
	csrf := b.csrf()
	page := b.mustPage("/ui/webhooks/"+hook, http.StatusOK)
	if strings.Contains(page, "<form method=\"post\" action=\"/ui/webhooks/") || !strings.Contains(page, `id="read-only"`) {
		t.Error("the read-only webhook page offers forms")
	}
	if strings.Contains(b.mustPage("/ui/webhooks", http.StatusOK), `id="new-webhook"`) {
		t.Error("the read-only list offers a new webhook")
	}
	form := url.Values{"csrf": {csrf}, "status": {"DISABLED"}, "endpoint": {rc.URL + "/other"}, "events": {"TRANSACTION"},
		"auth": {"none"}, "tenant": {"default"}, "event": {"TRANSACTION"}, "confirm": {"yes"}}
	posts := 0
	for _, rt := range web.SignedInRoutes() {
		method, path, _ := strings.Cut(rt, " ")
		if method != http.MethodPost || path == "/ui/signout" {
			continue
		}
		posts++
		path = strings.ReplaceAll(path, "{id}", map[bool]string{true: note, false: hook}[strings.HasPrefix(path, "/ui/notifications/")])
		if p := b.post(path, form); p.Status != http.StatusForbidden || !strings.Contains(p.Body, "read-only") {
			t.Errorf("POST %s in a read-only session: %d", path, p.Status)
		}
	}
	if posts < 8 {
		t.Fatalf("only %d POST routes tried", posts)
	}
	if after := in.Admin(t, http.MethodGet, "/webhooks/"+hook, nil).Body; string(after) != string(before) {
		t.Errorf("the webhook changed:\n%s\n%s", before, after)
	}
	if got := notificationStatus(t, in, note); got != "EXPIRED" {
		t.Errorf("the notification is %s", got)
	}
	if ids := webhookIDs(t, in); len(ids) != 1 {
		t.Errorf("webhooks after the refusals: %v", ids)
	}
	if p := b.post("/ui/signout", url.Values{"csrf": {csrf}}); p.Status != http.StatusSeeOther {
		t.Errorf("a read-only session cannot sign out: %d", p.Status)
	}
}

// Framing: denied by default; with --portal-origins, allowed to those
// origins for portal pages only; cookies made for a frame only with an
// https public URL.
func TestPortalEmbedding(t *testing.T) {
	in := heraldtest.Start(t, heraldtest.Options{})
	const origin = "https://platform.example"
	for _, tc := range []struct {
		name      string
		cfg       web.Config
		framed    bool // portal pages may be framed by origin
		thirdPart bool // SameSite=None; Secure; Partitioned
	}{
		{"default", web.Config{}, false, false},
		{"origins", web.Config{PortalOrigins: []string{origin}}, true, false},
		{"origins and https", web.Config{PortalOrigins: []string{origin}, PublicURL: mustURL(t, "https://herald.example")}, true, true},
	} {
		h, _ := replica(t, in, tc.cfg)
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		b := newBrowserless(t, srv.URL, nil)
		if p := b.get("/ui/signin"); !strings.Contains(p.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") || p.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: the sign-in page may be framed: %q", tc.name, p.Header.Get("Content-Security-Policy"))
		}
		link := b.get(portalLink(t, in, "", "default", nil))
		p := b.post("/ui/portal", url.Values{"token": {linkToken(t, link)}})
		for what, a := range map[string]page{"link's page": link, "link's redemption": p} {
			csp := a.Header.Get("Content-Security-Policy")
			if framed := strings.Contains(csp, "frame-ancestors "+origin+";") && a.Header.Get("X-Frame-Options") == ""; framed != tc.framed {
				t.Errorf("%s: the portal %s: CSP %q, X-Frame-Options %q", tc.name, what, csp, a.Header.Get("X-Frame-Options"))
			}
		}
		c := cookieNamed(p.Header, "herald_session")
		if c == nil {
			t.Fatalf("%s: no session cookie", tc.name)
		}
		third := c.SameSite == http.SameSiteNoneMode && c.Secure && c.Partitioned
		if third != tc.thirdPart || (!third && c.SameSite != http.SameSiteStrictMode) || !c.HttpOnly {
			t.Errorf("%s: session cookie %+v", tc.name, c)
		}
		s := withCookie(t, srv.URL, nil, c.Value)
		page := s.get("/ui/webhooks")
		if page.Status != http.StatusOK || strings.Contains(page.Header.Get("Content-Security-Policy"), origin) != tc.framed {
			t.Errorf("%s: the portal's webhooks: %d, CSP %q", tc.name, page.Status, page.Header.Get("Content-Security-Policy"))
		}
		if tc.framed { // inside the frame, an ended session says so (and is framed)
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/ui/webhooks", nil)
			req.Header.Set("Sec-Fetch-Dest", "iframe")
			ended := newBrowserless(t, srv.URL, nil).do(req)
			if ended.Status != http.StatusUnauthorized || !strings.Contains(ended.Body, "portal session has ended") ||
				!strings.Contains(ended.Header.Get("Content-Security-Policy"), origin) {
				t.Errorf("%s: an ended session in a frame: %d %q", tc.name, ended.Status, ended.Header.Get("Content-Security-Policy"))
			}
		}
	}
	// A signed-in admin's pages are never framed.
	h, _ := replica(t, in, web.Config{PortalOrigins: []string{origin}})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	b := newBrowserless(t, srv.URL, nil)
	b.mustSignIn(heraldtest.AdminKey, "")
	if p := b.get("/ui/webhooks"); strings.Contains(p.Header.Get("Content-Security-Policy"), origin) {
		t.Errorf("an admin's page may be framed: %q", p.Header.Get("Content-Security-Policy"))
	}
}

func TestParseOrigins(t *testing.T) {
	got, err := web.ParseOrigins(" https://a.example, http://localhost:3000/ ,")
	if err != nil || strings.Join(got, " ") != "https://a.example http://localhost:3000" {
		t.Fatalf("ParseOrigins = %v, %v", got, err)
	}
	for _, bad := range []string{"a.example", "ftp://a.example", "https://a.example/path", "https://u@a.example", "https://a.example?x", "'self'", "https://a.example;"} {
		if _, err := web.ParseOrigins(bad); err == nil {
			t.Errorf("ParseOrigins(%q) accepted", bad)
		}
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
