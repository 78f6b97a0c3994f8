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

// A test event from the dashboard: pick an event and variant, see its
// sample, send it (edited or not) to this webhook alone, and follow its
// notification to delivery.
func TestDashboardTestEvent(t *testing.T) {
	in, b := startHerald(t)
	rc := newReceiver(t, false)
	hook := createWebhook(t, in, rc.URL, nil) // CARD_STATUS_CHANGE only
	b.mustSignIn(heraldtest.AdminKey, "")
	csrf := b.csrf()

	page := b.mustPage("/ui/webhooks/"+hook+"/test?event=TRANSACTION/REFUND", http.StatusOK)
	if !strings.Contains(page, `value="TRANSACTION/REFUND" selected`) || !strings.Contains(page, "&#34;transaction_type&#34;: &#34;REFUND&#34;") {
		t.Fatalf("the test form does not show the REFUND sample")
	}
	// Without script, "Show its sample" is a round trip.
	p := b.post("/ui/webhooks/"+hook+"/test", url.Values{"csrf": {csrf}, "event": {"KYC_RESULT/PASS"}, "show": {"1"}})
	if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/ui/webhooks/"+hook+"/test?event=KYC_RESULT%2FPASS" {
		t.Fatalf("show the sample: %d %q", p.Status, p.Header.Get("Location"))
	}
	// Refused: the API's message beside the payload.
	p = b.post("/ui/webhooks/"+hook+"/test", url.Values{"csrf": {csrf}, "event": {"TRANSACTION/PURCHASE"},
		"payload": {`{"event": "TRANSACTION", "card_transaction": {"transaction_amount": true}}`}})
	if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, `id="t-payload-error"`) || !strings.Contains(p.Body, "payload.card_transaction") {
		t.Fatalf("an invalid payload: %d %s", p.Status, p.Body)
	}
	// Sent: a TRANSACTION to a webhook that does not subscribe to it.
	p = b.post("/ui/webhooks/"+hook+"/test", url.Values{"csrf": {csrf}, "event": {"TRANSACTION/PURCHASE"}, "payload": {""}})
	loc := p.Header.Get("Location")
	if p.Status != http.StatusSeeOther || !strings.HasPrefix(loc, "/ui/notifications/") {
		t.Fatalf("send: %d %q %s", p.Status, loc, p.Body)
	}
	id := strings.TrimPrefix(loc, "/ui/notifications/")
	waitStatus(t, in, id, "DELIVERED")
	body := b.mustPage(loc, http.StatusOK)
	for _, want := range []string{"TEST", `data-status="DELIVERED"`, `data-status="success"`, `id="event-link"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the test notification's page lacks %q", want)
		}
	}
	if rc.hits.Load() != 1 {
		t.Errorf("the receiver got %d requests", rc.hits.Load())
	}
}

// Notifications: found by the ids their events carry, paged both ways, a
// filtered set re-sent after a confirmation with its count, and each
// event's fan-out on its page.
func TestDashboardNotifications(t *testing.T) {
	in, b := startHerald(t)
	rc := newReceiver(t, false)
	createWebhook(t, in, rc.URL+"/a", nil)
	createWebhook(t, in, rc.URL+"/b", nil)
	var all []string
	for range 3 {
		all = append(all, publish(t, in, cardEvent)...)
	}
	other := `{"event": "CARD_STATUS_CHANGE", "card_status_change": {"card_id": "other-card", "old_status": "ACTIVE", "new_status": "SUSPENDED"}}`
	mine := publish(t, in, other)
	for _, id := range append(all, mine...) {
		waitStatus(t, in, id, "DELIVERED")
	}
	b.mustSignIn(heraldtest.AdminKey, "")
	csrf := b.csrf()
	notesOf := func(body string) []string {
		var ids []string
		for _, m := range regexp.MustCompile(`<a class="id" href="/ui/notifications/([^"]+)">`).FindAllStringSubmatch(body, -1) {
			ids = append(ids, m[1])
		}
		return ids
	}
	body := b.mustPage("/ui/notifications?card_id=other-card", http.StatusOK)
	if got := notesOf(body); len(got) != 2 || !strings.Contains(strings.Join(mine, " "), got[0]) {
		t.Fatalf("by card: %v, want %v", got, mine)
	}
	if !strings.Contains(body, "newest event first") {
		t.Error("a search by card does not say how it is ordered")
	}
	// Paging both ways through the 8 notifications, 50 a page: one page;
	// through the API's cursors with smaller pages it is the store's
	// contract. Here: the links keep the filters.
	body = b.mustPage("/ui/notifications?card_id=eef930c7-6e44-4846-948a-dfd7855484b6", http.StatusOK)
	if got := notesOf(body); len(got) != 6 {
		t.Fatalf("by the sample's card: %d notifications, want 6", len(got))
	}
	first := notesOf(b.mustPage("/ui/notifications", http.StatusOK))
	older := b.mustPage("/ui/notifications?after="+first[3], http.StatusOK)
	if got := notesOf(older); len(got) != 4 || got[0] != first[4] || !strings.Contains(older, `id="newer"`) {
		t.Fatalf("the page after the 4th: %v (newer link %v)", got, strings.Contains(older, `id="newer"`))
	}
	m := regexp.MustCompile(`<a href="(/ui/notifications\?[^"]*before=[^"]+)" id="newer">`).FindStringSubmatch(older)
	if m == nil {
		t.Fatal("no link to the newer page")
	}
	if got := notesOf(b.mustPage(strings.ReplaceAll(m[1], "&amp;", "&"), http.StatusOK)); len(got) != 4 || got[0] != first[0] {
		t.Fatalf("the newer page: %v, want the 4 newest", got)
	}

	// Bulk re-send: the count first, then the set.
	link := regexp.MustCompile(`<a href="(/ui/notifications/resend[^"]*)" id="bulk-resend">`).FindStringSubmatch(body)
	if link == nil {
		t.Fatal("no bulk re-send link")
	}
	confirm := b.mustPage(strings.ReplaceAll(link[1], "&amp;", "&"), http.StatusOK)
	if !strings.Contains(confirm, "Re-send 6 notifications?") {
		t.Fatalf("the confirmation does not count 6: %s", confirm)
	}
	form := formOf(t, confirm)
	form.Set("csrf", csrf)
	before := rc.hits.Load()
	p := b.post("/ui/notifications/resend", form)
	if p.Status != http.StatusSeeOther || !strings.Contains(p.Header.Get("Location"), "card_id=eef930c7") {
		t.Fatalf("bulk re-send: %d %q", p.Status, p.Header.Get("Location"))
	}
	heraldtest.Eventually(t, 10*time.Second, "6 deliveries more", func() bool { return rc.hits.Load() == before+6 })
	for _, id := range mine {
		if notificationStatus(t, in, id) != "DELIVERED" {
			t.Fatal("the other card's notification was re-sent")
		}
	}

	// The event's page: its payload and fan-out, linked from its notifications.
	ev := regexp.MustCompile(`href="/ui/events/([^"]+)"`).FindStringSubmatch(b.mustPage("/ui/notifications/"+mine[0], http.StatusOK))
	if ev == nil {
		t.Fatal("no link to the event")
	}
	page := b.mustPage("/ui/events/"+ev[1], http.StatusOK)
	for _, want := range []string{rc.URL + "/a", rc.URL + "/b", "other-card", `id="payload"`, mine[0], mine[1]} {
		if !strings.Contains(page, want) {
			t.Errorf("the event page lacks %q", want)
		}
	}

	// A list with a pending notification reloads itself (a script, or
	// without one a meta refresh); one without does not.
	if strings.Contains(b.mustPage("/ui/notifications?card_id=other-card", http.StatusOK), "data-refresh") {
		t.Error("a list without pending notifications reloads itself")
	}
	held := in.Admin(t, http.MethodPost, "/webhooks", map[string]any{"endpoint": rc.URL + "/held", "events": []string{"USER_CREATED"}, "status": "DISABLED"})
	if held.Status != http.StatusCreated {
		t.Fatalf("create a disabled webhook: %d", held.Status)
	}
	publish(t, in, `{"event": "USER_CREATED", "user_id": "u-1"}`)
	list := b.mustPage("/ui/notifications?user_id=u-1", http.StatusOK)
	if !strings.Contains(list, `data-refresh="5"`) || !strings.Contains(list, `<noscript><meta http-equiv="refresh" content="5"></noscript>`) {
		t.Error("a list with a pending notification does not reload itself")
	}
}
