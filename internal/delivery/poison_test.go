package delivery_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// poisonBody is an answer PostgreSQL text cannot hold as received, and the
// excerpt the attempt log must show for it instead.
type poisonBody struct {
	name, body, excerpt string
}

var poisonBodies = []poisonBody{
	{"NUL", "poison\x00body\x00", "poison\uFFFDbody\uFFFD"},
	{"invalid UTF-8", "bad \xff\xfe utf-8 \xc3(", "bad \uFFFD\uFFFD utf-8 \uFFFD("},
	// 6,000 bytes of a 3-byte rune: byte 4096 falls inside the 1366th.
	{"6,000 bytes of €", strings.Repeat("€", 2000), strings.Repeat("€", 4096/3)},
}

// TestPoisonAnswersAreIsolated (issue 12, point 5): receivers answering 500
// or 200 with a NUL, invalid UTF-8 or a long non-ASCII body, beside a
// healthy webhook of another tenant that receives a steady stream. The
// healthy one is unaffected; each poisoned notification records its
// attempts with a clean excerpt, and the failing ones retry and expire as
// usual (rather than being re-sent every lease with no attempt recorded).
func TestPoisonAnswersAreIsolated(t *testing.T) {
	eachBackend(t, func(t *testing.T, o heraldtest.Options) {
		t.Parallel()
		o.RetrySchedule = []time.Duration{100 * time.Millisecond, 100 * time.Millisecond} // 3 attempts, then EXPIRED
		in := heraldtest.Start(t, o)
		hooks := map[string]*poisonedHook{} // by webhook id
		for _, status := range []int{http.StatusInternalServerError, http.StatusOK} {
			for _, pb := range poisonBodies {
				h := &poisonedHook{poisonBody: pb, status: status}
				h.rc = newReceiver(t, func(int, *http.Request) (int, string) { return status, pb.body })
				hooks[createWebhook(t, in, h.rc.URL, nil).ID] = h
			}
		}
		const tenant = "healthy-tenant"
		if r := in.Admin(t, "POST", "/tenants", map[string]any{"name": tenant}); r.Status != http.StatusCreated {
			t.Fatalf("create tenant: %d %s", r.Status, r.Body)
		}
		healthy := newArrivals(t, in, tenant, newReceiver(t, nil))

		// A steady stream for the healthy tenant, a poisoned event among
		// every few of its events.
		const healthyEvents, poisonEvery = 40, 8
		poisoned := map[string]*poisonedHook{} // by notification id
		tick := time.NewTicker(25 * time.Millisecond)
		defer tick.Stop()
		for i := range healthyEvents {
			if i%poisonEvery == 0 {
				p := publish(t, in, cardEvent(i))
				if len(p.Notifications) != len(hooks) {
					t.Fatalf("a poisoned event fanned out to %d webhooks, want %d", len(p.Notifications), len(hooks))
				}
				for _, n := range p.Notifications {
					poisoned[n.ID] = hooks[n.WebhookID]
					hooks[n.WebhookID].events++
				}
			}
			healthy.publish(t, cardEvent(1000+i))
			<-tick.C
		}

		healthy.awaitAll(t, 10*time.Second)
		if worst := healthy.worstLatency(); worst > 2*time.Second {
			t.Errorf("the healthy tenant's slowest delivery took %s, want under 2s: poisoned answers stall it", worst)
		}
		healthy.awaitDelivered(t, 2*time.Second)
		for id, h := range poisoned {
			h.check(t, waitStatus(t, in, id, h.settledStatus(), 10*time.Second))
		}
		// Settled means settled: nothing was sent again after its last
		// attempt was recorded (no re-send when a lease runs out).
		for _, h := range hooks {
			if got, want := h.rc.count(), h.events*h.attempts(); got != want {
				t.Errorf("the %d endpoint answering %s got %d requests, want %d", h.status, h.name, got, want)
			}
		}
	})
}

// poisonedHook is a webhook whose endpoint answers status with a poison body.
type poisonedHook struct {
	poisonBody
	status int
	rc     *receiver
	events int // notifications published to it
}

// attempts is how many requests each notification makes: one success, or
// the first attempt and the schedule's two retries.
func (h *poisonedHook) attempts() int {
	if h.status == http.StatusOK {
		return 1
	}
	return 3
}

func (h *poisonedHook) settledStatus() string {
	if h.status == http.StatusOK {
		return "DELIVERED"
	}
	return "EXPIRED"
}

// check asserts n's attempt log: every attempt recorded, with the answer's
// status and its clean excerpt.
func (h *poisonedHook) check(t *testing.T, n notification) {
	t.Helper()
	if n.AttemptCount != h.attempts() || len(n.Attempts) != h.attempts() {
		t.Errorf("%d %s: attempt_count %d with %d attempts logged, want %d", h.status, h.name, n.AttemptCount, len(n.Attempts), h.attempts())
	}
	for _, a := range n.Attempts {
		if a.StatusCode != h.status {
			t.Errorf("%d %s: attempt %d logged status %d", h.status, h.name, a.Attempt, a.StatusCode)
		}
		if a.ResponseBody != h.excerpt {
			t.Errorf("%d %s: attempt %d excerpt %q (%d bytes), want %q (%d bytes)",
				h.status, h.name, a.Attempt, shorten(a.ResponseBody), len(a.ResponseBody), shorten(h.excerpt), len(h.excerpt))
		}
		if !utf8.ValidString(a.Error) || strings.Contains(a.Error, "\x00") {
			t.Errorf("%d %s: attempt %d error text %q is not clean UTF-8", h.status, h.name, a.Attempt, a.Error)
		}
		if h.status != http.StatusOK && a.ErrorKind != "http_status" {
			t.Errorf("%d %s: attempt %d error kind %q, want http_status", h.status, h.name, a.Attempt, a.ErrorKind)
		}
	}
}

func shorten(s string) string {
	if len(s) > 48 {
		return s[:48] + "..."
	}
	return s
}

// arrivals is a healthy endpoint of one tenant (its receiver, and a webhook
// for it) that times each of that tenant's notifications from just before
// its publish to its first request.
type arrivals struct {
	*receiver
	in        *heraldtest.Instance
	tenant    string
	webhookID string
	published map[string]time.Time // by notification id
}

func newArrivals(t *testing.T, in *heraldtest.Instance, tenant string, rc *receiver) *arrivals {
	t.Helper()
	a := &arrivals{receiver: rc, in: in, tenant: tenant, published: map[string]time.Time{}}
	r := in.Admin(t, "POST", "/webhooks", map[string]any{"endpoint": a.URL, "events": []string{"CARD_STATUS_CHANGE"}}, "Herald-Tenant", tenant)
	if r.Status != http.StatusCreated {
		t.Fatalf("create the webhook of tenant %s: %d %s", tenant, r.Status, r.Body)
	}
	var w webhook
	r.JSON(t, &w)
	a.webhookID = w.ID
	return a
}

// publish publishes body as the tenant; it must reach this endpoint only.
func (a *arrivals) publish(t *testing.T, body string) {
	t.Helper()
	at := time.Now()
	r := a.in.Admin(t, "POST", "/events", body, "Herald-Tenant", a.tenant)
	if r.Status != http.StatusAccepted {
		t.Fatalf("publish as %s: %d %s", a.tenant, r.Status, r.Body)
	}
	var p published
	r.JSON(t, &p)
	if len(p.Notifications) != 1 {
		t.Fatalf("publish as %s: %d notifications, want 1", a.tenant, len(p.Notifications))
	}
	a.published[p.Notifications[0].ID] = at
}

// firstArrivals maps each notification id to its first request's time.
func (a *arrivals) firstArrivals() map[string]time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	first := map[string]time.Time{}
	for _, r := range a.requests {
		id := r.Header.Get("Webhook-Id")
		if _, seen := first[id]; !seen {
			first[id] = r.At
		}
	}
	return first
}

func (a *arrivals) awaitAll(t *testing.T, timeout time.Duration) {
	t.Helper()
	heraldtest.Eventually(t, timeout, fmt.Sprintf("all %d notifications of tenant %s to arrive", len(a.published), a.tenant), func() bool {
		first := a.firstArrivals()
		for id := range a.published {
			if _, ok := first[id]; !ok {
				return false
			}
		}
		return true
	})
}

// worstLatency is the longest time from publish to first arrival.
func (a *arrivals) worstLatency() time.Duration {
	first := a.firstArrivals()
	var worst time.Duration
	for id, at := range a.published {
		worst = max(worst, first[id].Sub(at))
	}
	return worst
}

// awaitDelivered waits until the search API shows every notification
// published DELIVERED, each after one attempt.
func (a *arrivals) awaitDelivered(t *testing.T, timeout time.Duration) {
	t.Helper()
	heraldtest.Eventually(t, timeout, fmt.Sprintf("all %d notifications of tenant %s to be DELIVERED", len(a.published), a.tenant), func() bool {
		r := a.in.Admin(t, "POST", "/webhooks:search", map[string]any{"webhook_id": a.webhookID, "limit": len(a.published) + 1}, "Herald-Tenant", a.tenant)
		var out struct {
			Data []notification `json:"data"`
		}
		r.JSON(t, &out)
		delivered := map[string]bool{}
		for _, n := range out.Data {
			delivered[n.ID] = n.Status == "DELIVERED"
			if n.Status == "DELIVERED" && n.AttemptCount != 1 {
				t.Fatalf("notification %s of tenant %s: DELIVERED after %d attempts, want 1", n.ID, a.tenant, n.AttemptCount)
			}
		}
		for id := range a.published {
			if !delivered[id] {
				return false
			}
		}
		return true
	})
}
