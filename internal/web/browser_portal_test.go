package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// purchaseCard is the card of the TRANSACTION PURCHASE sample.
const purchaseCard = "8ac1eba8-9ccd-4cf7-acb1-8666007a9634"

// TestBrowserPortal drives the client portal in chromium as a client would:
// an admin makes a portal link through the API; the browser opens it (its
// page's script redeems it), creates a webhook aimed at a real receiver (its secret shown once), sends
// a test TRANSACTION PURCHASE and sees it DELIVERED with its attempt and
// headers, rotates the secret, edits the endpoint, searches by the card,
// re-sends the set found, and deletes the webhook. The link does not work
// twice; another tenant's webhook is not found; a read-only session (its
// link opened without script, by the page's button) has its forms refused.
// Screenshots of every page go to the artifacts.
func TestBrowserPortal(t *testing.T) {
	d := newDriver(t, "portal-")
	in := heraldtest.Start(t, heraldtest.Options{RetrySchedule: []time.Duration{50 * time.Millisecond}})
	rc := newReceiver(t, false)
	acme, _ := createTenant(t, in, "acme")
	theirs := createWebhook(t, in, rc.URL+"/default-tenant", nil)
	link := in.URL + portalLink(t, in, "", acme, nil)

	// The link signs the browser into acme's dashboard: its page posts
	// its form by itself.
	d.follow(link)
	d.wantText("h1", "Webhooks")
	d.wantText("#portal-tenant", "acme")
	d.shot("webhooks-empty.png")

	// Create a webhook: TRANSACTION, basic auth, a custom header.
	d.click("new webhook", "#new-webhook")
	d.wantText("h1", "New webhook")
	d.do("fill the form",
		chromedp.SendKeys(chromedp.ID("f-endpoint"), rc.URL+"/acme"),
		chromedp.Click(chromedp.ID("ev-TRANSACTION")),
		chromedp.Click(chromedp.ID("auth-basic")),
		chromedp.SendKeys(chromedp.ID("f-config-basic-auth-username"), "acme"),
		chromedp.SendKeys(chromedp.ID("f-config-basic-auth-password"), "s3cret"),
		chromedp.SendKeys(chromedp.ID("f-header-name-0"), "X-Api-Key"),
		chromedp.SendKeys(chromedp.ID("f-header-value-0"), "key-1"),
		chromedp.SetValue(chromedp.ID("f-config-timeout-seconds"), "99"))
	d.shot("webhook-form.png")
	d.clickStatus("create (refused)", "#save", http.StatusBadRequest)
	d.wantText("#f-config-timeout-seconds-error", "must be between 1 and 30")
	d.shot("webhook-form-refused.png")
	d.do("fix the timeout", chromedp.SetValue(chromedp.ID("f-config-timeout-seconds"), "5"),
		chromedp.SetValue(chromedp.ID("f-config-basic-auth-password"), "s3cret"),
		chromedp.SetValue(chromedp.ID("f-header-value-0"), "key-1"))
	d.click("create", "#save")
	d.wantText("#secret-h", "Signing secret")
	secret := d.value("#secret")
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("the secret shown is %q", secret)
	}
	d.shot("webhook-created.png")
	d.click("continue", "#continue")
	d.wantText("#endpoint", rc.URL+"/acme")
	hook := strings.TrimPrefix(d.location(), in.URL+"/ui/webhooks/")
	if strings.Contains(d.text("main"), secret) {
		t.Fatal("the webhook's page shows the secret again")
	}
	d.shot("webhook.png")

	// A test TRANSACTION PURCHASE: its sample, sent, delivered, its headers.
	d.click("test event", "#test-event")
	// Picking the event loads its sample at once (the page's script clicks
	// "Show its sample"), so the pick is waited for as a click: a click of
	// the button as well raced that load, and a screenshot taken meanwhile
	// failed or never came.
	d.loads("pick PURCHASE", chromedp.SetValue(chromedp.ID("t-event"), "TRANSACTION/PURCHASE"))
	d.wantValue("#t-payload", `"transaction_type": "PURCHASE"`)
	d.shot("test-event.png")
	d.click("send the test event", "#send-test")
	d.wantText("#flash", "Test event sent")
	d.wantText("#notification-status", "DELIVERED") // the page reloads itself until the attempt lands
	d.wantText("table.attempts", "success")
	d.do("open the attempt's headers", chromedp.Click(chromedp.CSS("#attempt-1-headers summary")))
	d.wantText("#attempt-1-headers", "Webhook-Signature")
	d.wantText("#attempt-1-headers", "Basic ********")
	d.wantText("#attempt-1-headers", "Content-Type")
	d.shot("test-notification.png")
	if got := rc.hits.Load(); got != 1 {
		t.Fatalf("the receiver got %d requests, want the test event", got)
	}
	note := strings.TrimSpace(d.text("#notification-id"))

	// Rotate the secret: a new one, shown once.
	d.click("back to the webhook", `dd a.endpoint`)
	d.click("rotate", "#rotate")
	if next := d.value("#secret"); !strings.HasPrefix(next, "whsec_") || next == secret {
		t.Fatalf("the rotated secret is %q", next)
	}
	d.shot("rotated.png")

	// Edit the endpoint (same origin: the stored credentials stay).
	d.click("continue", "#continue")
	d.click("edit", "#edit")
	d.do("move the endpoint", chromedp.SetValue(chromedp.ID("f-endpoint"), rc.URL+"/acme/v2"))
	d.shot("webhook-edit.png")
	d.click("save", "#save")
	d.wantText("#flash", "Webhook saved")
	d.wantText("#endpoint", rc.URL+"/acme/v2")

	// Search by the card, and re-send what is found.
	d.click("notifications", `.nav a[href="/ui/notifications"]`)
	d.click("search by card", "#apply", chromedp.SendKeys(chromedp.ID("f-card"), purchaseCard))
	d.wantText("table.notes", note)
	d.shot("search-by-card.png")
	d.click("bulk re-send", "#bulk-resend")
	d.wantText("#question", "Re-send 1 notification?")
	d.shot("bulk-resend.png")
	d.click("confirm the re-send", "#confirm")
	d.wantText("#flash", "Re-sent 1 notification.")
	heraldtest.Eventually(t, wantWait, "the re-sent notification's delivery", func() bool { return rc.hits.Load() == 2 })
	if last := rc.lastPath(); last != "/acme/v2" {
		t.Errorf("the re-sent notification went to %q, want the edited endpoint", last)
	}

	// The event's page: its fan-out.
	d.open(in.URL + "/ui/notifications/" + note)
	d.click("the event", "#event-link")
	d.wantText("#fanout-h", "Fan-out")
	d.wantText("table.notes", note)
	d.shot("event.png")

	// Another tenant's webhook is not found in the portal.
	if status := d.open(in.URL + "/ui/webhooks/" + theirs); status != http.StatusNotFound {
		t.Errorf("another tenant's webhook answered %d in the portal", status)
	}

	// Delete, after a confirmation.
	d.open(in.URL + "/ui/webhooks/" + hook)
	d.click("delete", "#delete")
	d.shot("delete.png")
	d.click("confirm the delete", "#confirm")
	d.wantText("#flash", "Webhook deleted")
	if r := in.Admin(t, http.MethodGet, "/webhooks/"+hook, nil, "Herald-Tenant", acme); r.Status != http.StatusNotFound {
		t.Errorf("the deleted webhook answers %d", r.Status)
	}

	// The link does not work twice.
	if status := d.open(link); status != http.StatusNotFound {
		t.Errorf("the link used again answered %d", status)
	}
	d.wantText("#problem", "cannot be used")
	d.shot("link-used.png")

	// A read-only session, its link opened without script: the page waits
	// for its button. Then pages without forms, and a form sent anyway is
	// refused.
	kept := createWebhook(t, in, rc.URL+"/acme-kept", nil, "Herald-Tenant", acme)
	d.do("turn scripts off", scripts(false))
	if status := d.open(in.URL + portalLink(t, in, "", acme, map[string]any{"read_only": true})); status != http.StatusOK {
		t.Fatalf("the read-only link's page answered %d", status)
	}
	d.wantText("#portal-open", "Open the dashboard")
	d.shot("link.png")
	d.click("open the dashboard", "#portal-open")
	d.do("turn scripts on", scripts(true))
	d.wantText("#portal-tenant", "read-only")
	d.open(in.URL + "/ui/webhooks/" + kept)
	d.wantText("#read-only", "read-only")
	d.shot("read-only.png")
	d.open(in.URL + "/ui/webhooks/" + kept + "/edit")
	d.clickStatus("save in a read-only session", "#save", http.StatusForbidden)
	d.wantText("#problem", "read-only")
	d.shot("read-only-refused.png")
	if r := in.Admin(t, http.MethodGet, "/webhooks/"+kept, nil, "Herald-Tenant", acme); !strings.Contains(string(r.Body), rc.URL+"/acme-kept") {
		t.Errorf("the read-only session changed the webhook: %s", r.Body)
	}
}

// scripts turns the page's scripts on or off (off: as a browser with
// JavaScript disabled), for the pages loaded next.
func scripts(on bool) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: !on})
		return err
	})
}
