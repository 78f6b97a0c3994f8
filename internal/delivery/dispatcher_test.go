package delivery_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/store/postgres/pgtest"
	"github.com/heraldhq/herald/signature"
)

// receiver is a real HTTP endpoint that records what it gets and answers
// with whatever respond says.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	requests []received
	respond  func(n int, r *http.Request) (int, string)

	active, peak atomic.Int64
}

type received struct {
	Header http.Header
	Body   []byte
	At     time.Time
}

func newReceiver(t *testing.T, respond func(n int, r *http.Request) (int, string)) *receiver {
	t.Helper()
	rc := &receiver{respond: respond}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cur := rc.active.Add(1)
		defer rc.active.Add(-1)
		for {
			p := rc.peak.Load()
			if cur <= p || rc.peak.CompareAndSwap(p, cur) {
				break
			}
		}
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.requests = append(rc.requests, received{Header: r.Header.Clone(), Body: body, At: time.Now()})
		n := len(rc.requests)
		rc.mu.Unlock()
		status, answer := http.StatusOK, "ok"
		if rc.respond != nil {
			status, answer = rc.respond(n, r)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.requests)
}

func (rc *receiver) get(i int) received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.requests[i]
}

type webhook struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
}

func createWebhook(t *testing.T, in *heraldtest.Instance, endpoint string, config map[string]any, events ...string) webhook {
	t.Helper()
	if len(events) == 0 {
		events = []string{"CARD_STATUS_CHANGE"}
	}
	body := map[string]any{"endpoint": endpoint, "events": events}
	if config != nil {
		body["config"] = config
	}
	resp := in.Admin(t, "POST", "/webhooks", body)
	if resp.Status != http.StatusCreated {
		t.Fatalf("create webhook: %d %s", resp.Status, resp.Body)
	}
	var w webhook
	resp.JSON(t, &w)
	return w
}

func cardEvent(i int) string {
	return fmt.Sprintf(`{"event":"CARD_STATUS_CHANGE","card_status_change":{"card_id":"card-%d","old_status":"ACTIVE","new_status":"SUSPENDED"}}`, i)
}

type published struct {
	EventID       string `json:"event_id"`
	Notifications []struct {
		ID        string `json:"id"`
		WebhookID string `json:"webhook_id"`
	} `json:"notifications"`
}

func publish(t *testing.T, in *heraldtest.Instance, body string) published {
	t.Helper()
	resp := in.Admin(t, "POST", "/events", body)
	if resp.Status != http.StatusAccepted {
		t.Fatalf("publish: %d %s", resp.Status, resp.Body)
	}
	var p published
	resp.JSON(t, &p)
	return p
}

type attempt struct {
	Attempt      int     `json:"attempt"`
	StatusCode   int     `json:"status_code"`
	ResponseBody string  `json:"response_body"`
	ErrorKind    string  `json:"error_kind"`
	Error        string  `json:"error"`
	DurationMS   float64 `json:"duration_ms"`
	Time         string  `json:"time"`
}

type notification struct {
	ID           string    `json:"id"`
	Status       string    `json:"status"`
	AttemptCount int       `json:"attempt_count"`
	Attempts     []attempt `json:"attempts"`
}

func getNotification(t *testing.T, in *heraldtest.Instance, id string) notification {
	t.Helper()
	resp := in.Admin(t, "POST", "/webhooks:search", map[string]any{"notification_id": id})
	var out struct {
		Data []notification `json:"data"`
	}
	resp.JSON(t, &out)
	if len(out.Data) != 1 {
		t.Fatalf("search %s: %d results: %s", id, len(out.Data), resp.Body)
	}
	return out.Data[0]
}

func waitStatus(t *testing.T, in *heraldtest.Instance, id, status string, timeout time.Duration) notification {
	t.Helper()
	var n notification
	heraldtest.Eventually(t, timeout, "notification "+id+" to be "+status, func() bool {
		n = getNotification(t, in, id)
		return n.Status == status
	})
	return n
}

func TestDeliveryCarriesCredentialsAndSignature(t *testing.T) {
	eachBackend(t, func(t *testing.T, o heraldtest.Options) {
		t.Parallel()
		in := heraldtest.Start(t, o)
		rc := newReceiver(t, nil)
		hook := createWebhook(t, in, rc.URL+"/hooks", map[string]any{
			"basic_auth_username": "username", "basic_auth_password": "password",
			"custom_headers": []map[string]string{{"header_name": "apikey", "header_value": "306e38e4-54be-469f-beca-4297129289d6"}},
		})
		body := cardEvent(1)
		p := publish(t, in, body)
		if len(p.Notifications) != 1 || p.Notifications[0].WebhookID != hook.ID {
			t.Fatalf("notifications = %+v, want one for %s", p.Notifications, hook.ID)
		}
		n := waitStatus(t, in, p.Notifications[0].ID, "DELIVERED", 5*time.Second)
		if rc.count() != 1 {
			t.Fatalf("receiver got %d requests, want 1", rc.count())
		}
		got := rc.get(0)
		if string(got.Body) != body {
			t.Errorf("body = %s, want the payload as published %s", got.Body, body)
		}
		user, pass, ok := (&http.Request{Header: got.Header}).BasicAuth()
		if !ok || user != "username" || pass != "password" {
			t.Errorf("basic auth = %q %q %v", user, pass, ok)
		}
		for h, want := range map[string]string{
			"Apikey":         "306e38e4-54be-469f-beca-4297129289d6",
			"Content-Type":   "application/json",
			"User-Agent":     "Herald/test",
			"Herald-Event":   "CARD_STATUS_CHANGE",
			"Herald-Attempt": "1",
			"Webhook-Id":     p.Notifications[0].ID,
		} {
			if v := got.Header.Get(h); v != want {
				t.Errorf("header %s = %q, want %q", h, v, want)
			}
		}
		if err := signature.Verify([]string{hook.Secret}, got.Header, got.Body, time.Now(), 0); err != nil {
			t.Errorf("signature does not verify with the webhook's secret: %v", err)
		}
		if len(n.Attempts) != 1 || n.Attempts[0].StatusCode != 200 || n.Attempts[0].ResponseBody != "ok" || n.Attempts[0].ErrorKind != "" {
			t.Errorf("attempt log = %+v", n.Attempts)
		}
	})
}

func TestFailureThenSuccessIsRetried(t *testing.T) {
	eachBackend(t, func(t *testing.T, o heraldtest.Options) {
		t.Parallel()
		in := heraldtest.Start(t, o)
		rc := newReceiver(t, func(n int, _ *http.Request) (int, string) {
			if n == 1 {
				return http.StatusInternalServerError, "boom"
			}
			return http.StatusNoContent, ""
		})
		createWebhook(t, in, rc.URL, nil)
		p := publish(t, in, cardEvent(1))
		n := waitStatus(t, in, p.Notifications[0].ID, "DELIVERED", 5*time.Second)
		if n.AttemptCount != 2 || len(n.Attempts) != 2 {
			t.Fatalf("attempts = %d %+v, want 2", n.AttemptCount, n.Attempts)
		}
		if a := n.Attempts[0]; a.StatusCode != 500 || a.ErrorKind != "http_status" || a.ResponseBody != "boom" {
			t.Errorf("first attempt = %+v", a)
		}
		if a := n.Attempts[1]; a.StatusCode != 204 || a.ErrorKind != "" {
			t.Errorf("second attempt = %+v", a)
		}
		first, second := rc.get(0), rc.get(1)
		if first.Header.Get("Herald-Attempt") != "1" || second.Header.Get("Herald-Attempt") != "2" {
			t.Errorf("Herald-Attempt = %q then %q", first.Header.Get("Herald-Attempt"), second.Header.Get("Herald-Attempt"))
		}
		if first.Header.Get("Webhook-Id") != second.Header.Get("Webhook-Id") {
			t.Errorf("webhook-id changed between attempts: %q vs %q", first.Header.Get("Webhook-Id"), second.Header.Get("Webhook-Id"))
		}
	})
}

func TestTimeoutIsAFailedAttempt(t *testing.T) {
	eachBackend(t, func(t *testing.T, o heraldtest.Options) {
		t.Parallel()
		in := heraldtest.Start(t, o)
		release := make(chan struct{})
		rc := newReceiver(t, func(int, *http.Request) (int, string) {
			select {
			case <-release:
			case <-time.After(3 * time.Second):
			}
			return http.StatusOK, "too late"
		})
		defer close(release)
		createWebhook(t, in, rc.URL, map[string]any{"timeout_seconds": 1, "max_retries": 0})
		p := publish(t, in, cardEvent(1))
		n := waitStatus(t, in, p.Notifications[0].ID, "EXPIRED", 5*time.Second)
		if len(n.Attempts) != 1 || n.Attempts[0].ErrorKind != "timeout" {
			t.Fatalf("attempts = %+v, want one timeout", n.Attempts)
		}
		if d := n.Attempts[0].DurationMS; d < 900 || d > 2500 {
			t.Errorf("timed-out attempt took %.0f ms, want about 1000", d)
		}
	})
}

func TestExpiredThenResent(t *testing.T) {
	eachBackend(t, func(t *testing.T, o heraldtest.Options) {
		t.Parallel()
		in := heraldtest.Start(t, o)
		var healthy atomic.Bool
		rc := newReceiver(t, func(int, *http.Request) (int, string) {
			if healthy.Load() {
				return http.StatusOK, "ok"
			}
			return http.StatusBadGateway, "down"
		})
		hook := createWebhook(t, in, rc.URL, nil)
		p := publish(t, in, cardEvent(1))
		id := p.Notifications[0].ID
		// The test schedule is two 100ms retries: three attempts, then EXPIRED.
		n := waitStatus(t, in, id, "EXPIRED", 5*time.Second)
		if n.AttemptCount != 3 {
			t.Fatalf("attempt_count = %d, want 3 (first attempt + 2 retries)", n.AttemptCount)
		}
		healthy.Store(true)
		resp := in.Admin(t, "POST", "/webhooks:sendexpired", map[string]any{"webhook_id": hook.ID})
		if resp.Status != http.StatusOK || resp.Map(t)["requeued"] != float64(1) {
			t.Fatalf("sendexpired = %d %s, want requeued 1", resp.Status, resp.Body)
		}
		n = waitStatus(t, in, id, "DELIVERED", 5*time.Second)
		if n.AttemptCount != 4 {
			t.Errorf("attempt_count = %d, want 4", n.AttemptCount)
		}
		if got := rc.get(rc.count() - 1).Header.Get("Herald-Attempt"); got != "4" {
			t.Errorf("Herald-Attempt of the re-send = %q, want 4", got)
		}
		// Nothing expired any more: a second re-send moves nothing.
		resp = in.Admin(t, "POST", "/webhooks/sendexpired", nil)
		if resp.Map(t)["requeued"] != float64(0) {
			t.Errorf("second sendexpired = %s, want requeued 0", resp.Body)
		}
	})
}

func TestRedirectIsNotFollowed(t *testing.T) {
	eachBackend(t, func(t *testing.T, o heraldtest.Options) {
		t.Parallel()
		in := heraldtest.Start(t, o)
		target := newReceiver(t, nil)
		rc := newReceiver(t, func(_ int, r *http.Request) (int, string) {
			return http.StatusFound, ""
		})
		rc.Config.Handler = http.RedirectHandler(target.URL, http.StatusFound)
		createWebhook(t, in, rc.URL, map[string]any{"max_retries": 0})
		p := publish(t, in, cardEvent(1))
		n := waitStatus(t, in, p.Notifications[0].ID, "EXPIRED", 5*time.Second)
		if len(n.Attempts) != 1 || n.Attempts[0].ErrorKind != "redirect" || n.Attempts[0].StatusCode != http.StatusFound {
			t.Fatalf("attempts = %+v, want one redirect failure", n.Attempts)
		}
		if target.count() != 0 {
			t.Errorf("redirect target was called %d times", target.count())
		}
	})
}

func TestSlowEndpointDoesNotDelayOthers(t *testing.T) {
	eachBackend(t, func(t *testing.T, o heraldtest.Options) {
		t.Parallel()
		in := heraldtest.Start(t, o)
		release := make(chan struct{})
		slow := newReceiver(t, func(int, *http.Request) (int, string) {
			<-release
			return http.StatusOK, "late"
		})
		fast := newReceiver(t, nil)
		createWebhook(t, in, slow.URL, map[string]any{"max_in_flight": 2, "timeout_seconds": 30})
		createWebhook(t, in, fast.URL, nil)
		const events = 50
		start := time.Now()
		for i := range events {
			publish(t, in, cardEvent(i))
		}
		heraldtest.Eventually(t, 5*time.Second, "fast endpoint to get every event", func() bool { return fast.count() == events })
		took := time.Since(start)
		if got := slow.count(); got != 2 {
			t.Errorf("slow endpoint has %d requests, want exactly its max_in_flight of 2", got)
		}
		close(release)
		heraldtest.Eventually(t, 10*time.Second, "slow endpoint to catch up", func() bool { return slow.count() == events })
		if p := slow.peak.Load(); p > 2 {
			t.Errorf("slow endpoint saw %d concurrent requests, max_in_flight is 2", p)
		}
		t.Logf("fast endpoint received %d events in %s while the slow one was stuck", events, took)
	})
}

func TestMaxInFlightBoundsConcurrency(t *testing.T) {
	eachBackend(t, func(t *testing.T, o heraldtest.Options) {
		t.Parallel()
		in := heraldtest.Start(t, o)
		rc := newReceiver(t, func(int, *http.Request) (int, string) {
			time.Sleep(30 * time.Millisecond)
			return http.StatusOK, "ok"
		})
		createWebhook(t, in, rc.URL, map[string]any{"max_in_flight": 3})
		const events = 30
		for i := range events {
			publish(t, in, cardEvent(i))
		}
		heraldtest.Eventually(t, 10*time.Second, "every delivery", func() bool { return rc.count() == events })
		if p := rc.peak.Load(); p != 3 {
			t.Errorf("peak concurrency = %d, want 3 (max_in_flight)", p)
		}
	})
}

func TestDeleteCancelsPending(t *testing.T) {
	eachBackend(t, func(t *testing.T, o heraldtest.Options) {
		t.Parallel()
		in := heraldtest.Start(t, o)
		rc := newReceiver(t, func(int, *http.Request) (int, string) { return http.StatusInternalServerError, "no" })
		hook := createWebhook(t, in, rc.URL, map[string]any{"max_retries": 5, "retry_interval_seconds": 3600})
		p := publish(t, in, cardEvent(1))
		id := p.Notifications[0].ID
		heraldtest.Eventually(t, 5*time.Second, "first attempt", func() bool { return getNotification(t, in, id).AttemptCount == 1 })
		if resp := in.Admin(t, "DELETE", "/webhooks/"+hook.ID, nil); resp.Status != http.StatusNoContent {
			t.Fatalf("delete = %d %s", resp.Status, resp.Body)
		}
		n := getNotification(t, in, id)
		if n.Status != "CANCELLED" {
			t.Fatalf("status after delete = %s, want CANCELLED", n.Status)
		}
		// A cancelled notification is not re-sent by sendexpired either.
		if resp := in.Admin(t, "POST", "/webhooks:sendexpired", nil); resp.Map(t)["requeued"] != float64(0) {
			t.Errorf("sendexpired after delete = %s", resp.Body)
		}
	})
}

func TestRetryAfterIsHonoured(t *testing.T) {
	eachBackend(t, func(t *testing.T, o heraldtest.Options) {
		t.Parallel()
		in := heraldtest.Start(t, o)
		rc := newReceiver(t, func(n int, _ *http.Request) (int, string) {
			if n == 1 {
				return http.StatusServiceUnavailable, "busy"
			}
			return http.StatusOK, "ok"
		})
		rc.Config.Handler = wrapRetryAfter(rc.Config.Handler, "2")
		createWebhook(t, in, rc.URL, nil)
		p := publish(t, in, cardEvent(1))
		waitStatus(t, in, p.Notifications[0].ID, "DELIVERED", 6*time.Second)
		gap := rc.get(1).At.Sub(rc.get(0).At)
		if gap < 1900*time.Millisecond {
			t.Errorf("retry came %s after a 503 with Retry-After: 2, want at least 2s (the schedule says 100ms)", gap)
		}
	})
}

func wrapRetryAfter(h http.Handler, value string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", value)
		h.ServeHTTP(w, r)
	})
}

func TestDisabledWebhookHoldsNotificationsUntilEnabled(t *testing.T) {
	eachBackend(t, func(t *testing.T, o heraldtest.Options) {
		t.Parallel()
		in := heraldtest.Start(t, o)
		rc := newReceiver(t, nil)
		hook := createWebhook(t, in, rc.URL, nil)
		if resp := in.Admin(t, "PUT", "/webhooks/"+hook.ID, map[string]any{"status": "DISABLED"}); resp.Status != http.StatusOK {
			t.Fatalf("disable = %d %s", resp.Status, resp.Body)
		}
		p := publish(t, in, cardEvent(1))
		time.Sleep(300 * time.Millisecond)
		if rc.count() != 0 {
			t.Fatalf("disabled webhook received %d requests", rc.count())
		}
		if n := getNotification(t, in, p.Notifications[0].ID); n.Status != "PENDING" {
			t.Fatalf("status = %s, want PENDING while disabled", n.Status)
		}
		in.Admin(t, "PUT", "/webhooks/"+hook.ID, map[string]any{"status": "ACTIVE"})
		waitStatus(t, in, p.Notifications[0].ID, "DELIVERED", 5*time.Second)
	})
}

func TestRotatedSecretsBothSign(t *testing.T) {
	eachBackend(t, func(t *testing.T, o heraldtest.Options) {
		t.Parallel()
		in := heraldtest.Start(t, o)
		rc := newReceiver(t, nil)
		hook := createWebhook(t, in, rc.URL, nil)
		resp := in.Admin(t, "POST", "/webhooks/"+hook.ID+"/secret:rotate", nil)
		var rotated struct {
			Secret string `json:"secret"`
		}
		resp.JSON(t, &rotated)
		p := publish(t, in, cardEvent(1))
		waitStatus(t, in, p.Notifications[0].ID, "DELIVERED", 5*time.Second)
		got := rc.get(0)
		for _, secret := range []string{hook.Secret, rotated.Secret} {
			if err := signature.Verify([]string{secret}, got.Header, got.Body, time.Now(), 0); err != nil {
				t.Errorf("secret %s… does not verify during the rotation window: %v", secret[:10], err)
			}
		}
		if entries := strings.Fields(got.Header.Get("Webhook-Signature")); len(entries) != 2 {
			t.Errorf("webhook-signature has %d entries, want 2: %q", len(entries), got.Header.Get("Webhook-Signature"))
		}
	})
}

// eachBackend runs a test on SQLite and, when a PostgreSQL server is
// configured, on PostgreSQL too.
func eachBackend(t *testing.T, fn func(t *testing.T, o heraldtest.Options)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, heraldtest.Options{}) })
	t.Run("postgres", func(t *testing.T) { fn(t, heraldtest.Options{DatabaseURL: pgtest.Database(t)}) })
}
