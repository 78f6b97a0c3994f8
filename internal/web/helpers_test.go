package web_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// cardEvent is a CARD_STATUS_CHANGE payload of the nCore samples.
const cardEvent = `{"event": "CARD_STATUS_CHANGE", "card_status_change": {"card_id": "eef930c7-6e44-4846-948a-dfd7855484b6", "old_status": "ACTIVE", "new_status": "SUSPENDED", "status_reason_code": "S0"}}`

// receiver is an endpoint that fails (500) until told to succeed.
type receiver struct {
	*httptest.Server
	fail atomic.Bool
	hits atomic.Int64
	last atomic.Value // the path of the last request
}

// lastPath is the path the last request went to.
func (rc *receiver) lastPath() string {
	p, _ := rc.last.Load().(string)
	return p
}

func newReceiver(t *testing.T, failing bool) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.fail.Store(failing)
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.last.Store(r.URL.Path)
		rc.hits.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		if rc.fail.Load() {
			http.Error(w, `{"error": "receiver is down <b>for maintenance</b>"}`, http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, `{"received": true}`)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// createWebhook registers a webhook for CARD_STATUS_CHANGE and returns its id.
func createWebhook(t *testing.T, in *heraldtest.Instance, endpoint string, config map[string]any, headers ...string) string {
	t.Helper()
	body := map[string]any{"endpoint": endpoint, "events": []string{"CARD_STATUS_CHANGE"}}
	if config != nil {
		body["config"] = config
	}
	resp := in.Admin(t, http.MethodPost, "/webhooks", body, headers...)
	if resp.Status != http.StatusCreated {
		t.Fatalf("create webhook: %d %s", resp.Status, resp.Body)
	}
	var out struct {
		ID string `json:"id"`
	}
	resp.JSON(t, &out)
	return out.ID
}

// publish publishes an event and returns its notifications' ids.
func publish(t *testing.T, in *heraldtest.Instance, payload string, headers ...string) []string {
	t.Helper()
	resp := in.Admin(t, http.MethodPost, "/events", payload, headers...)
	if resp.Status != http.StatusAccepted {
		t.Fatalf("publish: %d %s", resp.Status, resp.Body)
	}
	var out struct {
		Notifications []struct {
			ID string `json:"id"`
		} `json:"notifications"`
	}
	resp.JSON(t, &out)
	ids := make([]string, len(out.Notifications))
	for i, n := range out.Notifications {
		ids[i] = n.ID
	}
	return ids
}

// notificationStatus reads a notification's status through the API.
func notificationStatus(t *testing.T, in *heraldtest.Instance, id string, headers ...string) string {
	t.Helper()
	resp := in.Admin(t, http.MethodPost, "/webhooks:search", map[string]any{"notification_id": id}, headers...)
	var out struct {
		Data []struct {
			Status string `json:"status"`
		} `json:"data"`
	}
	resp.JSON(t, &out)
	if len(out.Data) != 1 {
		t.Fatalf("search %s: %s", id, resp.Body)
	}
	return out.Data[0].Status
}

func waitStatus(t *testing.T, in *heraldtest.Instance, id, status string) {
	t.Helper()
	heraldtest.Eventually(t, 10*time.Second, "notification "+id+" "+status, func() bool {
		return notificationStatus(t, in, id) == status
	})
}

// webhookStatus reads a webhook's status through the API.
func webhookStatus(t *testing.T, in *heraldtest.Instance, id string) string {
	t.Helper()
	var out struct {
		Status string `json:"status"`
	}
	in.Admin(t, http.MethodGet, "/webhooks/"+id, nil).JSON(t, &out)
	return out.Status
}

// browserless is a dashboard user without a browser: a cookie jar, and
// redirects shown rather than followed.
type browserless struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newBrowserless(t *testing.T, base string, transport http.RoundTripper) *browserless {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browserless{t: t, base: base, c: &http.Client{Jar: jar, Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// page is one answer of the dashboard.
type page struct {
	Status int
	Header http.Header
	Body   string
}

func (b *browserless) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return page{Status: resp.StatusCode, Header: resp.Header, Body: string(data)}
}

func (b *browserless) get(path string) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.base+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// post sends a form; extra headers come in pairs.
func (b *browserless) post(path string, form url.Values, headers ...string) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(req)
}

var (
	signinTokenRE = regexp.MustCompile(`name="signin" value="([^"]+)"`)
	csrfRE        = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

// signIn fills in the sign-in form; it returns the answer to the POST.
func (b *browserless) signIn(key, tenant string) page {
	b.t.Helper()
	form := b.get("/ui/signin")
	m := signinTokenRE.FindStringSubmatch(form.Body)
	if m == nil {
		b.t.Fatalf("no sign-in token in %s", form.Body)
	}
	return b.post("/ui/signin", url.Values{"signin": {m[1]}, "key": {key}, "tenant": {tenant}})
}

// mustSignIn signs in and checks it worked.
func (b *browserless) mustSignIn(key, tenant string) {
	b.t.Helper()
	p := b.signIn(key, tenant)
	if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/ui/webhooks" {
		b.t.Fatalf("sign in: %d %s %s", p.Status, p.Header.Get("Location"), p.Body)
	}
}

// csrf reads the CSRF token of a signed-in page.
func (b *browserless) csrf() string {
	b.t.Helper()
	p := b.get("/ui/webhooks")
	m := csrfRE.FindStringSubmatch(p.Body)
	if m == nil {
		b.t.Fatalf("no CSRF token in %d %s", p.Status, p.Body)
	}
	return m[1]
}

// mustPage gets a page and checks its status.
func (b *browserless) mustPage(path string, status int) string {
	b.t.Helper()
	p := b.get(path)
	if p.Status != status {
		b.t.Fatalf("GET %s: %d, want %d; %s", path, p.Status, status, p.Body)
	}
	return p.Body
}

func cookieNamed(h http.Header, name string) *http.Cookie {
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}
