package web_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/api"
	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/netguard"
	"github.com/heraldhq/herald/internal/secrets"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/store/postgres/pgtest"
	"github.com/heraldhq/herald/internal/store/sqlite"
	"github.com/heraldhq/herald/internal/store/sqlstore"
	"github.com/heraldhq/herald/internal/web"
)

// clock is a settable time for a dashboard.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type noWaker struct{}

func (noWaker) Wake() {}

// replica is a second dashboard over the database of in, as another
// replica would serve it (with its own clock when cfg.Now is set). Its
// in-process API can read and change webhooks but sends no pings.
func replica(t *testing.T, in *heraldtest.Instance, cfg web.Config) (http.Handler, *sqlstore.Store) {
	t.Helper()
	keys, _, err := secrets.Load(os.Getenv(secrets.EnvKey), in.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(in.DataDir, "herald.db"), sqlstore.WithSealer(keys))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cat, err := catalog.New()
	if err != nil {
		t.Fatal(err)
	}
	guard := netguard.Guard{AllowPrivate: true}
	cfg.API = api.NewInProcess(api.Config{Store: st, Catalog: cat, Sender: delivery.NewSender(guard, "test"),
		Waker: noWaker{}, Guard: guard, AllowHTTP: true})
	cfg.Store = st
	return web.New(cfg), st.Store
}

// sessionCookieOf is the session cookie a sign-in set.
func sessionCookieOf(t *testing.T, p page) string {
	t.Helper()
	c := cookieNamed(p.Header, "herald_session")
	if c == nil || c.Value == "" {
		t.Fatalf("no session cookie in %d answer", p.Status)
	}
	return c.Value
}

// withCookie is a dashboard user holding only a copy of a session cookie.
func withCookie(t *testing.T, base string, transport http.RoundTripper, value string) *browserless {
	t.Helper()
	b := newBrowserless(t, base, transport)
	u, _ := url.Parse(base + "/ui/")
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: "herald_session", Value: value, Path: "/ui/"}})
	return b
}

func signedOut(p page) bool {
	return p.Status == http.StatusSeeOther && p.Header.Get("Location") == "/ui/signin"
}

func TestSessionCookieHoldsNoKey(t *testing.T) {
	in, b := startHerald(t)
	value := sessionCookieOf(t, b.signIn(heraldtest.AdminKey, ""))
	key := heraldtest.AdminKey
	for _, leak := range []string{key, key[:10], base64.RawURLEncoding.EncodeToString([]byte(key)),
		base64.StdEncoding.EncodeToString([]byte(key)), hex.EncodeToString([]byte(key))} {
		if strings.Contains(value, leak) {
			t.Fatalf("the session cookie %q holds the key (%q)", value, leak)
		}
	}
	if len(value) != 43 {
		t.Errorf("session cookie %q: want a 43-character random id", value)
	}
	// The database holds the id's SHA-256, never the id.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(in.DataDir, "herald.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var hash, keyID, tenant string
	if err := db.QueryRow(`SELECT hash, key_id, tenant FROM sessions`).Scan(&hash, &keyID, &tenant); err != nil {
		t.Fatalf("read the stored session: %v", err)
	}
	sum := sha256.Sum256([]byte(value))
	if hash != hex.EncodeToString(sum[:]) || strings.Contains(hash+keyID+tenant, value) {
		t.Fatalf("stored session (%s, %s, %s) is not the SHA-256 of the cookie %s", hash, keyID, tenant, value)
	}
	// Another sign-in gets another id and ends the one the browser held.
	again := sessionCookieOf(t, b.signIn(heraldtest.AdminKey, ""))
	if again == value {
		t.Fatal("a second sign-in kept the session id")
	}
	if p := withCookie(t, in.URL, nil, value).get("/ui/webhooks"); !signedOut(p) {
		t.Errorf("the session replaced by a new sign-in still works: %d", p.Status)
	}
}

func TestSignOutEndsTheSession(t *testing.T) {
	in, b := startHerald(t)
	value := sessionCookieOf(t, b.signIn(heraldtest.AdminKey, ""))
	stolen := withCookie(t, in.URL, nil, value)
	stolen.mustPage("/ui/webhooks", http.StatusOK)

	// Another replica shares the session.
	other, _ := replica(t, in, web.Config{})
	srv := httptest.NewServer(other)
	t.Cleanup(srv.Close)
	onReplica := withCookie(t, srv.URL, nil, value)
	onReplica.mustPage("/ui/webhooks", http.StatusOK)

	if p := b.post("/ui/signout", url.Values{"csrf": {b.csrf()}}); p.Status != http.StatusSeeOther {
		t.Fatalf("sign out: %d", p.Status)
	}
	for name, u := range map[string]*browserless{"a copy of the cookie": stolen, "the other replica": onReplica} {
		p := u.get("/ui/webhooks")
		if !signedOut(p) {
			t.Errorf("%s: the signed-out session still works: %d %q", name, p.Status, p.Header.Get("Location"))
		}
		if c := cookieNamed(p.Header, "herald_session"); c == nil || c.MaxAge >= 0 {
			t.Errorf("%s: the dead session cookie is not cleared: %+v", name, c)
		}
	}
	// A form posted with the dead session is refused, and nothing happens.
	if p := stolen.post("/ui/signout", url.Values{}); p.Status != http.StatusForbidden {
		t.Errorf("POST with a signed-out session: %d", p.Status)
	}
	// Junk and forged cookies are no session either.
	for _, v := range []string{"", "x", strings.Repeat("A", 43), "v1.0123456789abcdef0123456789abcdef.aGtfdGVzdA.ZGVmYXVsdA.1"} {
		if p := withCookie(t, in.URL, nil, v).get("/ui/webhooks"); !signedOut(p) {
			t.Errorf("cookie %q: %d", v, p.Status)
		}
	}
}

func TestSessionTimeouts(t *testing.T) {
	in := heraldtest.Start(t, heraldtest.Options{})
	clk := &clock{t: time.Now()}
	h, _ := replica(t, in, web.Config{Now: clk.now})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	// Idle: each page within the hour keeps it; an hour without one ends it.
	b := newBrowserless(t, srv.URL, nil)
	b.mustSignIn(heraldtest.AdminKey, "")
	for range 3 {
		clk.add(59 * time.Minute)
		b.mustPage("/ui/webhooks", http.StatusOK)
	}
	clk.add(time.Hour)
	if p := b.get("/ui/webhooks"); !signedOut(p) {
		t.Fatalf("after an hour idle: %d", p.Status)
	}

	// Absolute: 12 hours after sign-in it ends, however busy.
	b.mustSignIn(heraldtest.AdminKey, "")
	for range 14 {
		clk.add(50 * time.Minute)
		b.mustPage("/ui/webhooks", http.StatusOK)
	}
	clk.add(25 * time.Minute) // 12h05m after sign-in, 25 minutes after the last page
	if p := b.get("/ui/webhooks"); !signedOut(p) {
		t.Fatalf("12 hours after sign-in: %d", p.Status)
	}
}

func TestSecureCookies(t *testing.T) {
	// Behind a proxy that ends TLS, --public-url https:// makes them Secure.
	in := heraldtest.Start(t, heraldtest.Options{PublicURL: "https://herald.example"})
	for _, p := range []page{newBrowserless(t, in.URL, nil).signIn(heraldtest.AdminKey, ""), newBrowserless(t, in.URL, nil).get("/ui/signin")} {
		for _, c := range (&http.Response{Header: p.Header}).Cookies() {
			if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
				t.Errorf("with an https public URL, cookie %+v", c)
			}
		}
	}
	// A form from the public origin (as the proxy passes it on) is accepted.
	b := newBrowserless(t, in.URL, nil)
	b.mustSignIn(heraldtest.AdminKey, "")
	if p := b.post("/ui/signout", url.Values{"csrf": {b.csrf()}}, "Origin", "https://herald.example"); p.Status != http.StatusSeeOther {
		t.Errorf("sign-out form from the public origin: %d %s", p.Status, p.Body)
	}

	// Served over TLS, they are Secure without it.
	h, _ := replica(t, in, web.Config{})
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	tb := newBrowserless(t, srv.URL, srv.Client().Transport)
	p := tb.signIn(heraldtest.AdminKey, "")
	c := cookieNamed(p.Header, "herald_session")
	if p.Status != http.StatusSeeOther || c == nil || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
		t.Fatalf("sign in over TLS: %d, cookie %+v", p.Status, c)
	}
	tb.mustPage("/ui/webhooks", http.StatusOK)
}

func TestBadPublicURL(t *testing.T) {
	for _, u := range []string{"herald.example", "ftp://herald.example", "https://", "https://user:pw@herald.example"} {
		err := startErr(t, u)
		if err == nil || !strings.Contains(err.Error(), "public URL") {
			t.Errorf("public URL %q: %v, want a refusal", u, err)
		}
	}
}

// startErr is the error of starting Herald with a public URL (nil if it
// started).
func startErr(t *testing.T, publicURL string) error {
	t.Helper()
	svc, err := service.Start(context.Background(), service.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(),
		AdminKey: heraldtest.AdminKey, PublicURL: publicURL})
	if err == nil {
		svc.Close()
	}
	return err
}

// TestReplicasShareSessions runs two Herald processes on one PostgreSQL
// database: a sign-in on one works on the other, and so does a sign-out.
func TestReplicasShareSessions(t *testing.T) {
	dsn := pgtest.Database(t)
	a := heraldtest.Start(t, heraldtest.Options{DatabaseURL: dsn})
	b := heraldtest.Start(t, heraldtest.Options{DatabaseURL: dsn, DataDir: a.DataDir})
	onA := newBrowserless(t, a.URL, nil)
	value := sessionCookieOf(t, onA.signIn(heraldtest.AdminKey, ""))
	onB := withCookie(t, b.URL, nil, value)
	onB.mustPage("/ui/webhooks", http.StatusOK)
	if p := onB.post("/ui/signout", url.Values{"csrf": {onB.csrf()}}); p.Status != http.StatusSeeOther {
		t.Fatalf("sign out on b: %d", p.Status)
	}
	if p := onA.get("/ui/webhooks"); !signedOut(p) {
		t.Fatalf("signed out on b, the session still works on a: %d", p.Status)
	}
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
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

// logLines are the records of a JSON log whose msg is msg.
func logLines(t *testing.T, log, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(log, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// TestDashboardAuditLog checks that changes made from the dashboard are in
// the audit log as the signed-in key, and so are sign-in and sign-out.
func TestDashboardAuditLog(t *testing.T) {
	var logs syncBuffer
	in := heraldtest.Start(t, heraldtest.Options{Log: &logs})
	id := createWebhook(t, in, "http://127.0.0.1:1/hook", nil)
	b := newBrowserless(t, in.URL, nil)
	b.mustSignIn(heraldtest.AdminKey, "")
	if p := b.post("/ui/webhooks/"+id+"/status", url.Values{"csrf": {b.csrf()}, "status": {"DISABLED"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("disable: %d", p.Status)
	}
	b.post("/ui/signout", url.Values{"csrf": {b.csrf()}})

	prefix := heraldtest.AdminKey[:10]
	var fromUI []map[string]any
	for _, a := range logLines(t, logs.String(), "audit") {
		if a["via"] == "dashboard" {
			fromUI = append(fromUI, a)
		}
	}
	if len(fromUI) != 1 {
		t.Fatalf("audit lines of the dashboard: %v, want the one change", fromUI)
	}
	a := fromUI[0]
	if a["method"] != "PUT" || a["route"] != "/webhooks/{id}" || a["resource_id"] != id || a["status"] != float64(200) ||
		a["key_prefix"] != prefix || a["key_id"] == "" || !strings.HasPrefix(a["remote"].(string), "127.0.0.1:") {
		t.Errorf("dashboard audit line %v", a)
	}
	for _, msg := range []string{"dashboard sign-in", "dashboard sign-out"} {
		if l := logLines(t, logs.String(), msg); len(l) != 1 || l[0]["key_prefix"] != prefix || l[0]["level"] != "INFO" {
			t.Errorf("%s: %v", msg, l)
		}
	}
	if strings.Contains(logs.String(), heraldtest.AdminKey) {
		t.Error("the log holds the admin key")
	}
}
