package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// Opening a portal link does not use it up: a link previewer (a chat app
// unfurling it, a mail scanner) may GET it any number of times and gets
// only a page, uncached, that refers no one and holds no key; the page's
// form redeems the link, once.
func TestPortalLinkPreviewSafe(t *testing.T) {
	in := heraldtest.Start(t, heraldtest.Options{})
	acme, _ := createTenant(t, in, "acme")
	path := portalLink(t, in, "", acme, nil)

	var token string
	for i := range 2 { // two previewers, each with its own cookie jar
		p := newBrowserless(t, in.URL, nil).get(path)
		token = linkToken(t, p)
		if "/ui/portal/"+token != path {
			t.Fatalf("the page posts %q, not the link's token", token)
		}
		if cc, rp := p.Header.Get("Cache-Control"), p.Header.Get("Referrer-Policy"); cc != "no-store" || rp != "no-referrer" {
			t.Errorf("GET %d: Cache-Control %q, Referrer-Policy %q", i, cc, rp)
		}
		csp := p.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "form-action 'self'") ||
			!strings.Contains(csp, "frame-ancestors 'none'") || p.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("GET %d: CSP %q", i, csp)
		}
		// The script that submits the form is the dashboard's own file,
		// which the CSP allows; the button works without it.
		if !strings.Contains(p.Body, `<script src="/ui/static/refresh.js" defer></script>`) ||
			!strings.Contains(p.Body, `<button type="submit" id="portal-open">Open the dashboard</button>`) {
			t.Errorf("GET %d: the page has no script or no button: %s", i, p.Body)
		}
		if strings.Contains(p.Body, `name="csrf"`) || strings.Contains(p.Body, heraldtest.AdminKey) || strings.Contains(p.Body, `id="portal-tenant"`) {
			t.Errorf("GET %d: the page shows more than a form: %s", i, p.Body)
		}
	}
	head, err := http.NewRequest(http.MethodHead, in.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := newBrowserless(t, in.URL, nil).do(head); p.Status != http.StatusOK {
		t.Errorf("HEAD: %d", p.Status)
	}

	// Another site cannot post the token (it would sign the visitor into
	// acme, login CSRF); the refusal leaves the link as it was.
	if p := newBrowserless(t, in.URL, nil).post("/ui/portal", url.Values{"token": {token}},
		"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"); p.Status != http.StatusForbidden || cookieNamed(p.Header, "herald_session") != nil {
		t.Errorf("a cross-site POST of the token: %d", p.Status)
	}
	for _, bad := range []url.Values{{}, {"token": {"x"}}, {"token": {"hpl_" + strings.Repeat("A", 43)}}} {
		if p := newBrowserless(t, in.URL, nil).post("/ui/portal", bad); p.Status != http.StatusNotFound ||
			!strings.Contains(p.Body, "cannot be used") || cookieNamed(p.Header, "herald_session") != nil {
			t.Errorf("POST %v: %d", bad, p.Status)
		}
	}

	// The reader's browser: the page, then its form.
	b := newBrowserless(t, in.URL, nil)
	p := b.post("/ui/portal", url.Values{"token": {linkToken(t, b.get(path))}})
	c := cookieNamed(p.Header, "herald_session")
	if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/ui/webhooks" || c == nil ||
		!c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/ui/" {
		t.Fatalf("the link's form: %d %q %+v", p.Status, p.Header.Get("Location"), c)
	}
	if body := b.mustPage("/ui/webhooks", http.StatusOK); !strings.Contains(body, `id="portal-tenant"`) || !strings.Contains(body, "acme") {
		t.Fatalf("the portal's webhooks: %s", body)
	}

	// Once only: posted again, or opened again, it is refused.
	for _, again := range []*browserless{b, newBrowserless(t, in.URL, nil)} {
		if p := again.post("/ui/portal", url.Values{"token": {token}}); p.Status != http.StatusNotFound ||
			!strings.Contains(p.Body, "cannot be used") || cookieNamed(p.Header, "herald_session") != nil {
			t.Errorf("the link posted again: %d", p.Status)
		}
		if p := again.get(path); p.Status != http.StatusNotFound || !strings.Contains(p.Body, "cannot be used") ||
			strings.Contains(p.Body, "portal-form") || p.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("the link opened again: %d", p.Status)
		}
	}
	// The refusals did not end the session the link opened.
	b.mustPage("/ui/webhooks", http.StatusOK)
}

// A token that does not redeem leaves the browser's session alone; one that
// does replaces it (a new session id, the old one ended).
func TestPortalLinkReplacesSession(t *testing.T) {
	in := heraldtest.Start(t, heraldtest.Options{})
	acme, _ := createTenant(t, in, "acme")
	b := newBrowserless(t, in.URL, nil)
	old := sessionCookieOf(t, b.signIn(heraldtest.AdminKey, ""))
	if p := b.post("/ui/portal", url.Values{"token": {"hpl_" + strings.Repeat("B", 43)}}); p.Status != http.StatusNotFound {
		t.Fatalf("an unknown token: %d", p.Status)
	}
	if body := b.mustPage("/ui/webhooks", http.StatusOK); !strings.Contains(body, "(admin)") {
		t.Fatal("a refused token ended the admin's session")
	}
	path := portalLink(t, in, "", acme, nil)
	p := b.post("/ui/portal", url.Values{"token": {linkToken(t, b.get(path))}})
	if p.Status != http.StatusSeeOther || sessionCookieOf(t, p) == old {
		t.Fatalf("the link's form: %d", p.Status)
	}
	if body := b.mustPage("/ui/webhooks", http.StatusOK); strings.Contains(body, "(admin)") || !strings.Contains(body, `id="portal-tenant"`) {
		t.Error("the browser is not in the portal session")
	}
	if p := withCookie(t, in.URL, nil, old).get("/ui/webhooks"); !signedOut(p) {
		t.Errorf("the session the link replaced still works: %d", p.Status)
	}
}
