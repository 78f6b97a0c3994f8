package web_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// chromiumPath is Debian's chromium (package "chromium"; .ci/run installs it).
const chromiumPath = "/usr/bin/chromium"

// needChromium skips the test without a browser, except in CI, where a
// missing browser is a failure.
func needChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("browser tests need %s (Debian package chromium: apt-get install -y chromium; .ci/run installs it): %v", chromiumPath, err)
		}
		t.Skipf("no %s (apt-get install -y chromium); set CI=true to make this a failure", chromiumPath)
	}
}

// artifactDir is where screenshots go: $HERALD_TEST_ARTIFACTS (a relative
// path is taken from the module root) or a temporary directory.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("HERALD_TEST_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if !filepath.IsAbs(dir) {
		root, err := moduleRoot()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, dir)
	}
	dir = filepath.Join(dir, "web")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// newBrowser starts a headless chromium with a fresh profile; the returned
// context is a tab.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 900), // a laptop screen
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	// Start the browser on a context without a deadline (a deadline on the
	// first run would bound the browser's whole life).
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	return ctx
}

// driver is a chromium tab on the dashboard that saves screenshots (named
// with a prefix) in the artifacts, and one of the page when the test fails.
type driver struct {
	t         *testing.T
	ctx       context.Context
	artifacts string
	prefix    string
}

// newDriver starts a browser for the test; its screenshots' names begin
// with prefix.
func newDriver(t *testing.T, prefix string) *driver {
	t.Helper()
	needChromium(t)
	d := &driver{t: t, artifacts: artifactDir(t), prefix: prefix}
	_ = os.Remove(filepath.Join(d.artifacts, prefix+"failure.png")) // from an earlier run
	ctx, cancel := context.WithTimeout(newBrowser(t), 5*time.Minute)
	t.Cleanup(cancel)
	d.ctx = ctx
	t.Cleanup(func() { // before the browser closes
		if t.Failed() {
			d.shot("failure.png")
			if html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("main"))); err == nil {
				t.Logf("page at failure:\n%s", html)
			}
		}
	})
	return d
}

// shotWait bounds one try at a screenshot. Headless chromium may fail a
// capture ("0 width") or never answer it: both were seen on a page still
// loading when the shot was taken, the second running the test into its
// deadline with every step done. A screencast started and stopped has the
// compositor draw again for a second try.
const shotWait = 20 * time.Second

// shot saves a screenshot of the whole page.
func (d *driver) shot(name string) {
	d.t.Helper()
	png, err := d.capture(shotWait)
	if err != nil {
		d.t.Logf("screenshot %s: %v; waking the compositor to try again", name, err)
		if werr := d.wakeCompositor(shotWait); werr != nil {
			d.t.Logf("wake the compositor: %v", werr)
		}
		png, err = d.capture(2 * shotWait)
	}
	if err != nil {
		d.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(d.artifacts, d.prefix+name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		d.t.Errorf("save screenshot: %v", err)
		return
	}
	d.t.Logf("screenshot: %s", path)
}

// capture takes a screenshot of the whole page, waiting at most wait.
func (d *driver) capture(wait time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(d.ctx, wait)
	defer cancel()
	return chromedp.Run(ctx, chromedp.FullScreenshot(100))
}

// wakeCompositor runs a screencast until its first frame (waiting at most
// wait), which has the page's compositor draw again.
func (d *driver) wakeCompositor(wait time.Duration) error {
	ctx, cancel := context.WithTimeout(d.ctx, wait)
	defer cancel()
	return chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		frames := cdp.Events(ctx, t, cdppage.ScreencastFrame)
		if _, err := cdp.Call(ctx, t, cdppage.StartScreencast, cdppage.StartScreencastParams{Format: cdppage.StartScreencastFormatJpeg, MaxWidth: 320}); err != nil {
			return fmt.Errorf("start screencast: %w", err)
		}
		next, stop := iter.Pull2(frames)
		_, frameErr, _ := next()
		stop()
		// Stopped even when no frame came (ctx ended): on d.ctx.
		if _, err := cdp.Call(d.ctx, t, cdppage.StopScreencast, cdp.Empty{}); err != nil {
			return fmt.Errorf("stop screencast: %w", err)
		}
		return frameErr
	}))
}

// open navigates to a URL and says how the page answered.
func (d *driver) open(url string) int {
	d.t.Helper()
	resp, err := chromedp.Run(d.ctx, chromedp.NavigateResponse(url))
	if err != nil {
		d.t.Fatalf("open %s: %v", url, err)
	}
	return int(resp.Status)
}

// follow opens a URL whose page moves on by itself (the portal link's
// page, whose script posts its form at once): the navigation the browser
// makes next may cut the first one short, so only the page reached is
// checked, by the caller's wantText.
func (d *driver) follow(url string) {
	d.t.Helper()
	if err := chromedp.Do(d.ctx, chromedp.Navigate(url)); err != nil && !strings.Contains(err.Error(), "ERR_ABORTED") {
		d.t.Fatalf("open %s: %v", url, err)
	}
}

// click clicks an element that loads a page (a link, or a form's button:
// post, redirect, get) and waits for that page, which must answer status
// (200 when not given).
func (d *driver) click(what, sel string, before ...chromedp.Action[chromedp.Void]) {
	d.t.Helper()
	d.clickStatus(what, sel, http.StatusOK, before...)
}

func (d *driver) clickStatus(what, sel string, status int, before ...chromedp.Action[chromedp.Void]) {
	d.t.Helper()
	d.loadsStatus(what, status, append(before, chromedp.Click(chromedp.CSS(sel)))...)
}

// loads runs actions that load a page (such as a picker the page's script
// submits when it changes) and waits for that page, which must answer 200.
func (d *driver) loads(what string, actions ...chromedp.Action[chromedp.Void]) {
	d.t.Helper()
	d.loadsStatus(what, http.StatusOK, actions...)
}

func (d *driver) loadsStatus(what string, status int, actions ...chromedp.Action[chromedp.Void]) {
	d.t.Helper()
	resp, err := chromedp.RunResponse(d.ctx, actions...)
	if err != nil {
		d.t.Fatalf("%s: %v", what, err)
	}
	if int(resp.Status) != status {
		d.t.Fatalf("%s: the page answered %d, want %d", what, resp.Status, status)
	}
}

// do runs actions that load no page.
func (d *driver) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	d.t.Helper()
	if err := chromedp.Do(d.ctx, actions...); err != nil {
		d.t.Fatalf("%s: %v", what, err)
	}
}

// value reads an input's value.
func (d *driver) value(sel string) string {
	d.t.Helper()
	v, err := chromedp.Run(d.ctx, chromedp.Value(chromedp.CSS(sel)))
	if err != nil {
		d.t.Fatalf("value of %s: %v", sel, err)
	}
	return v
}

// text reads an element's text.
func (d *driver) text(sel string) string {
	d.t.Helper()
	v, err := chromedp.Run(d.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		d.t.Fatalf("text of %s: %v", sel, err)
	}
	return v
}

// location is the page's URL.
func (d *driver) location() string {
	d.t.Helper()
	v, err := chromedp.Run(d.ctx, chromedp.Location())
	if err != nil {
		d.t.Fatalf("location: %v", err)
	}
	return v
}

// wantWait bounds a wait for a page's text: long, since under the race
// detector and a loaded CI a delivery and a page's reload take a while.
const wantWait = 45 * time.Second

// wantText waits until the element's text holds want (a page that reloads
// itself may need a moment).
func (d *driver) wantText(sel, want string) {
	d.t.Helper()
	d.want(sel, want, chromedp.Text[chromedp.CSS])
}

// wantValue waits until the input's value holds want.
func (d *driver) wantValue(sel, want string) {
	d.t.Helper()
	d.want(sel, want, chromedp.Value[chromedp.CSS])
}

func (d *driver) want(sel, want string, read func(chromedp.CSS, ...chromedp.QueryOption) chromedp.Action[string]) {
	d.t.Helper()
	var got string
	var err error
	for deadline := time.Now().Add(wantWait); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		rctx, rcancel := context.WithTimeout(d.ctx, 2*time.Second)
		got, err = chromedp.Run(rctx, read(chromedp.CSS(sel)))
		rcancel()
		if err == nil && strings.Contains(got, want) {
			return
		}
	}
	d.t.Fatalf("%s reads %q (error %v), want %q in it", sel, got, err, want)
}

// TestBrowserEndToEnd drives the dashboard in headless chromium against a
// real Herald: sign in, see the webhook, ping it, disable and enable it,
// open an expired notification, re-send it and see it delivered.
func TestBrowserEndToEnd(t *testing.T) {
	d := newDriver(t, "")
	in := heraldtest.Start(t, heraldtest.Options{RetrySchedule: []time.Duration{50 * time.Millisecond}})
	rc := newReceiver(t, true)
	hookID := createWebhook(t, in, rc.URL+"/card-events", map[string]any{"max_retries": 0})
	// A few notifications expire while the receiver fails; one is re-sent
	// from the browser once it answers again.
	var expired []string
	for range 3 {
		expired = append(expired, publish(t, in, cardEvent)[0])
	}
	for _, id := range expired {
		waitStatus(t, in, id, "EXPIRED")
	}
	target := expired[1]
	rc.fail.Store(false)
	click, wantText, shot := d.click, d.wantText, d.shot

	// Sign in with the admin key.
	d.open(in.URL + "/ui/")
	wantText("h1", "Sign in")
	click("sign in", "#signin", chromedp.SendKeys(chromedp.ID("key"), heraldtest.AdminKey))
	wantText("table.hooks", rc.URL+"/card-events")
	wantText("table.hooks", "ACTIVE")
	wantText("table.hooks", "0%") // three attempts, all failed
	shot("webhooks.png")

	// The webhook's page: ping, disable, enable.
	click("open the webhook", `table.hooks a[href="/ui/webhooks/`+hookID+`"]`)
	wantText("#endpoint", rc.URL+"/card-events")
	wantText("#sendexpired + small", "3 expired")
	click("ping", "#ping")
	wantText("#flash", "Ping succeeded: HTTP 200")
	click("disable", "#disable")
	wantText("#flash", "Webhook disabled")
	wantText(".lead", "DISABLED")
	if s := webhookStatus(t, in, hookID); s != "DISABLED" {
		t.Fatalf("the API says %s after disabling", s)
	}
	click("enable", "#enable")
	wantText("#flash", "Webhook enabled")
	wantText(".lead", "ACTIVE")
	if s := webhookStatus(t, in, hookID); s != "ACTIVE" {
		t.Fatalf("the API says %s after enabling", s)
	}

	// Find the expired notifications and open one.
	click("open the notifications", `.nav a[href="/ui/notifications"]`)
	click("filter expired notifications", "#apply", chromedp.SetValue(chromedp.ID("f-status"), "EXPIRED"))
	for _, id := range expired {
		wantText("table.notes", id)
	}
	shot("notifications.png")
	click("open the notification", `table.notes a[href="/ui/notifications/`+target+`"]`)
	wantText("#notification-id", target)
	wantText("#notification-status", "EXPIRED")
	wantText("table.attempts", "http_status")
	wantText("#payload", `"card_id": "eef930c7-6e44-4846-948a-dfd7855484b6"`)

	// Re-send it: the page reloads itself until the attempt lands.
	hits := rc.hits.Load()
	click("re-send", "#resend")
	wantText("#notification-status", "DELIVERED")
	wantText("table.attempts", "success")
	if got := notificationStatus(t, in, target); got != "DELIVERED" {
		t.Fatalf("the API says %s", got)
	}
	if rc.hits.Load() <= hits {
		t.Fatal("the receiver saw no new request")
	}
	for _, id := range []string{expired[0], expired[2]} {
		if got := notificationStatus(t, in, id); got != "EXPIRED" {
			t.Errorf("notification %s is %s: re-sending one re-sent another", id, got)
		}
	}
	shot("notification.png")

	// Back on the webhook: the chart counts three failures and a success.
	click("open the webhook again", `dd a.endpoint[href="/ui/webhooks/`+hookID+`"]`)
	wantText("figure.chart figcaption", "delivered (solid): 1")
	wantText("figure.chart figcaption", "failed (hatched): 3")
	shot("webhook.png")

	// Sign out.
	click("sign out", "#signout")
	wantText("#flash", "Signed out")
	wantText("h1", "Sign in")
}
