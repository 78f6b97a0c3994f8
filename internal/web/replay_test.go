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

// replayFormRE is the webhook page's replay form.
var replayFormRE = regexp.MustCompile(`(?s)<form method="post" action="/ui/webhooks/[^"]+/replay" id="replay-form".*?</form>`)

// searchWebhook lists the ids of a webhook's notifications through the API.
func searchWebhook(t *testing.T, in *heraldtest.Instance, hook string, headers ...string) []string {
	t.Helper()
	var out struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	in.Admin(t, http.MethodPost, "/webhooks:search", map[string]any{"webhook_id": hook}, headers...).JSON(t, &out)
	ids := make([]string, len(out.Data))
	for i, n := range out.Data {
		ids[i] = n.ID
	}
	return ids
}

// localTime is t as a datetime-local input sends it (UTC, seconds).
func localTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05") }

// A webhook registered late gets, through the dashboard's replay form, the
// events published before it existed; a replay repeated queues nothing
// unless it includes the delivered ones; a window the API refuses shows
// its message and queues nothing.
func TestReplayAction(t *testing.T) {
	in, b := startHerald(t)
	rc := newReceiver(t, false)
	from := time.Now().Add(-time.Second)
	createWebhook(t, in, rc.URL+"/first", nil)
	publish(t, in, cardEvent)
	publish(t, in, cardEvent)
	late := createWebhook(t, in, rc.URL+"/late", nil)
	to := time.Now().Add(2 * time.Second)
	if ids := searchWebhook(t, in, late); len(ids) != 0 {
		t.Fatalf("the late webhook has notifications before the replay: %v", ids)
	}

	b.mustSignIn(heraldtest.AdminKey, "")
	page := b.mustPage("/ui/webhooks/"+late, http.StatusOK)
	form := replayFormRE.FindString(page)
	if form == "" {
		t.Fatalf("the webhook page has no replay form:\n%s", page)
	}
	for _, want := range []string{`name="csrf"`, `name="from" type="datetime-local"`, `name="to" type="datetime-local"`,
		`name="events" value="CARD_STATUS_CHANGE"`, `name="include_delivered"`} {
		if !strings.Contains(form, want) {
			t.Errorf("the replay form lacks %q:\n%s", want, form)
		}
	}
	if strings.Contains(form, `value="TRANSACTION"`) {
		t.Errorf("the replay form offers an event the webhook does not subscribe to:\n%s", form)
	}

	csrf := b.csrf()
	replay := func(f url.Values) string {
		t.Helper()
		f.Set("csrf", csrf)
		p := b.post("/ui/webhooks/"+late+"/replay", f)
		if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/ui/webhooks/"+late {
			t.Fatalf("replay: %d %q %s", p.Status, p.Header.Get("Location"), p.Body)
		}
		return b.mustPage("/ui/webhooks/"+late, http.StatusOK)
	}
	window := url.Values{"from": {localTime(from)}, "to": {localTime(to)}, "events": {"CARD_STATUS_CHANGE"}}
	if page := replay(window); !strings.Contains(page, "2 notifications queued") {
		t.Fatalf("the page does not show 2 queued:\n%s", page)
	}
	ids := searchWebhook(t, in, late)
	if len(ids) != 2 {
		t.Fatalf("the late webhook has %d notifications after the replay, want 2: %v", len(ids), ids)
	}
	if page := replay(window); !strings.Contains(page, "0 notifications queued") {
		t.Errorf("a repeated replay does not show 0 queued:\n%s", page)
	}
	for _, id := range ids {
		waitStatus(t, in, id, "DELIVERED")
	}
	// RFC 3339 text is read as well as datetime-local.
	window = url.Values{"from": {from.UTC().Format(time.RFC3339)}, "to": {to.UTC().Format(time.RFC3339)}, "include_delivered": {"1"}}
	if page := replay(window); !strings.Contains(page, "2 notifications queued") {
		t.Errorf("a replay including the delivered does not show 2 queued:\n%s", page)
	}
	if n := len(searchWebhook(t, in, late)); n != 4 {
		t.Errorf("the late webhook has %d notifications, want 4", n)
	}

	page = replay(url.Values{"from": {localTime(to)}, "to": {localTime(from)}})
	if !strings.Contains(page, `id="flash"`) || !strings.Contains(page, "Nothing was replayed: is later than to (from)") {
		t.Errorf("a window from after to does not show the API's error:\n%s", page)
	}
	if page := replay(url.Values{"from": {"yesterday"}, "to": {localTime(to)}}); !strings.Contains(page, "Nothing was replayed: from:") {
		t.Errorf("an unreadable from is not shown:\n%s", page)
	}
	if n := len(searchWebhook(t, in, late)); n != 4 {
		t.Errorf("refused replays changed the notifications: %d, want 4", n)
	}
}

// A replay over the fan-out limit shows the API's 413 message and queues
// nothing.
func TestReplayFanoutTooLarge(t *testing.T) {
	in := heraldtest.Start(t, heraldtest.Options{MaxFanout: 1})
	b := newBrowserless(t, in.URL, nil)
	rc := newReceiver(t, false)
	from := time.Now().Add(-time.Second)
	createWebhook(t, in, rc.URL+"/first", nil)
	publish(t, in, cardEvent)
	publish(t, in, cardEvent)
	late := createWebhook(t, in, rc.URL+"/late", nil)
	b.mustSignIn(heraldtest.AdminKey, "")
	p := b.post("/ui/webhooks/"+late+"/replay", url.Values{"csrf": {b.csrf()},
		"from": {localTime(from)}, "to": {localTime(time.Now().Add(2 * time.Second))}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("replay: %d %s", p.Status, p.Body)
	}
	if page := b.mustPage("/ui/webhooks/"+late, http.StatusOK); !strings.Contains(page, "Nothing was replayed: this replay would create more than 1 notifications") {
		t.Errorf("the page does not show the fan-out error:\n%s", page)
	}
	if ids := searchWebhook(t, in, late); len(ids) != 0 {
		t.Errorf("a refused replay queued %v", ids)
	}
}

// A read-only portal session is offered no replay form and its replay is
// refused before the API queues anything.
func TestReplayReadOnly(t *testing.T) {
	in := heraldtest.Start(t, heraldtest.Options{})
	rc := newReceiver(t, false)
	from := time.Now().Add(-time.Second)
	createWebhook(t, in, rc.URL+"/first", nil)
	publish(t, in, cardEvent)
	late := createWebhook(t, in, rc.URL+"/late", nil)
	b := redeem(t, in.URL, portalLink(t, in, "", "default", map[string]any{"read_only": true}), nil)
	if page := b.mustPage("/ui/webhooks/"+late, http.StatusOK); replayFormRE.MatchString(page) {
		t.Error("the read-only webhook page offers the replay form")
	}
	p := b.post("/ui/webhooks/"+late+"/replay", url.Values{"csrf": {b.csrf()},
		"from": {localTime(from)}, "to": {localTime(time.Now().Add(2 * time.Second))}})
	if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "read-only") {
		t.Errorf("replay in a read-only session: %d %s", p.Status, p.Body)
	}
	if ids := searchWebhook(t, in, late); len(ids) != 0 {
		t.Errorf("a read-only replay queued %v", ids)
	}
}
