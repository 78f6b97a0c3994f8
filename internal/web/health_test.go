package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/api"
	"github.com/heraldhq/herald/internal/auth"
	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/policy"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlite"
	"github.com/heraldhq/herald/internal/store/sqlstore"
	"github.com/heraldhq/herald/internal/web"
)

// still is a Herald with no dispatcher: its notifications are attempted
// only when the test says, at the times it says, and the dashboard's clock
// is the test's.
type still struct {
	t      *testing.T
	st     *sqlstore.Store
	tenant store.Tenant
	key    string // the admin key
	clk    *clock
	b      *browserless
}

func newStill(t *testing.T, now time.Time) *still {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ten := store.Tenant{ID: "01a20000-0000-7000-8000-000000000001", Name: "default", Created: now}
	k, key, err := auth.NewAPIKey(ten.ID, store.RoleAdmin, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateTenant(ctx, ten, k); err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.New()
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: now}
	srv := httptest.NewServer(web.New(web.Config{API: api.NewInProcess(api.Config{Store: st, Catalog: cat}), Store: st, Now: clk.now}))
	t.Cleanup(srv.Close)
	return &still{t: t, st: st.Store, tenant: ten, key: key, clk: clk, b: newBrowserless(t, srv.URL, nil)}
}

// at sets the dashboard's clock and signs in anew (the clock may have
// jumped past the session's idle timeout).
func (s *still) at(now time.Time) {
	s.t.Helper()
	s.clk.mu.Lock()
	s.clk.t = now
	s.clk.mu.Unlock()
	s.b.mustSignIn(s.key, "")
}

// webhook registers a webhook for CARD_STATUS_CHANGE.
func (s *still) webhook() string {
	s.t.Helper()
	id := uuid.Must(uuid.NewV7()).String()
	w := store.Webhook{ID: id, TenantID: s.tenant.ID, Endpoint: "https://client.example/" + id, Events: []string{"CARD_STATUS_CHANGE"},
		Status: store.WebhookActive, Config: store.WebhookConfig{Format: store.FormatNCore, TimeoutSeconds: 10, MaxInFlight: 16},
		Secret: "whsec_test", Created: s.clk.now(), Modified: s.clk.now()}
	if err := s.st.CreateWebhook(context.Background(), w, 0); err != nil {
		s.t.Fatal(err)
	}
	return id
}

// publish publishes n events at "at" and returns their notifications.
func (s *still) publish(n int, at time.Time) []string {
	s.t.Helper()
	var out []string
	for range n {
		res, err := s.st.Publish(context.Background(), store.PublishRequest{TenantID: s.tenant.ID, Now: at, Events: []store.Event{{
			ID: uuid.Must(uuid.NewV7()).String(), Name: "CARD_STATUS_CHANGE",
			Payload: []byte(cardEvent), Created: at}}})
		if err != nil {
			s.t.Fatal(err)
		}
		out = append(out, res.Events[0].Notifications[0].ID)
	}
	return out
}

// attempt claims the notifications ids due at "at" and records one attempt
// each: delivered, or failed with HTTP 500 (retried in an hour, the circuit
// probing at probe).
func (s *still) attempt(hook string, at time.Time, ok bool, probe time.Time, ids ...string) {
	s.t.Helper()
	ctx := context.Background()
	claimed, err := s.st.Claim(ctx, store.Claim{Owner: "test", Now: at, LeaseUntil: at.Add(time.Minute),
		Requests: []store.ClaimRequest{{WebhookID: hook, Limit: len(ids)}}})
	if err != nil || len(claimed) != len(ids) {
		s.t.Fatalf("claim at %v: %d of %d, %v", at, len(claimed), len(ids), err)
	}
	var results []store.AttemptResult
	for _, c := range claimed {
		r := store.AttemptResult{LeaseToken: c.LeaseToken, WebhookID: hook, Status: store.StatusDelivered,
			Attempt: store.Attempt{NotificationID: c.ID, Number: c.Attempt, Started: at, Duration: 20 * time.Millisecond, StatusCode: 200}}
		if !ok {
			r.Status, r.NextAttemptAt, r.ProbeAt = store.StatusPending, at.Add(time.Hour), probe
			r.Attempt.StatusCode, r.Attempt.ErrorKind, r.Attempt.Error = 500, "http_status", "HTTP 500"
		}
		results = append(results, r)
	}
	if _, err := s.st.Complete(ctx, store.Completion{Results: results, Now: at.Add(time.Second), Health: policy.Policy{}}); err != nil {
		s.t.Fatal(err)
	}
}

var (
	lastAttemptRE = regexp.MustCompile(`<dd id="last-attempt">(.*?)</dd>`)
	pendingRE     = regexp.MustCompile(`<dd id="pending">(.*?)</dd>`)
	nextProbeRE   = regexp.MustCompile(`<dd id="next-probe">(.*?)</dd>`)
)

func field(t *testing.T, re *regexp.Regexp, body string) string {
	t.Helper()
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in the page", re)
	}
	return m[1]
}

// TestHealthFromOwnAttempts: an old notification retried after 25 newer
// ones were delivered makes the last attempt, and the success rate counts
// both.
func TestHealthFromOwnAttempts(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	s := newStill(t, t0)
	hook := s.webhook()
	old := s.publish(1, t0)
	s.attempt(hook, t0.Add(time.Minute), false, time.Time{}, old...)
	newer := s.publish(25, t0.Add(2*time.Minute))
	s.attempt(hook, t0.Add(3*time.Minute), true, time.Time{}, newer...)
	retry := t0.Add(time.Hour + time.Minute)
	s.attempt(hook, retry, false, time.Time{}, old...) // newest attempt: a failure
	s.publish(2, retry.Add(time.Minute))               // not attempted yet
	s.at(retry.Add(10 * time.Minute))

	body := s.b.mustPage("/ui/webhooks/"+hook, http.StatusOK)
	last := field(t, lastAttemptRE, body)
	if !strings.Contains(last, "failure") || !strings.Contains(last, "HTTP 500") || !strings.Contains(last, "2026-03-01 11:01:00 UTC") || !strings.Contains(last, "10m ago") {
		t.Errorf("last attempt %q, want the failed retry at 11:01:00", last)
	}
	if !strings.Contains(body, "<dt>Last failure</dt><dd>2026-03-01 11:01:00 UTC</dd>") {
		t.Errorf("last failure is not the retry's")
	}
	if !regexp.MustCompile(`<strong>93%</strong> of the 27 newest attempts`).MatchString(body) {
		t.Errorf("success rate: want 25 of 27 attempts (93%%)")
	}
	if p := field(t, pendingRE, body); !strings.HasPrefix(p, "3 notifications") {
		t.Errorf("pending %q, want 3 (the retried one and two new)", p)
	}
	list := s.b.mustPage("/ui/webhooks", http.StatusOK)
	for _, want := range []string{`<time datetime="2026-03-01T11:01:00Z">`, `data-status="failure"`, `<td class="pending">3</td>`, "<strong>93%</strong>"} {
		if !strings.Contains(list, want) {
			t.Errorf("webhooks page lacks %q", want)
		}
	}
}

// TestNextProbeNeverPast: once the probe time has passed, the page says
// what the probe waits for instead of showing that time.
func TestNextProbeNeverPast(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	s := newStill(t, t0)
	hook := s.webhook()
	ids := s.publish(5, t0)
	probe := t0.Add(time.Minute + 30*time.Second)
	s.attempt(hook, t0.Add(time.Minute), false, probe, ids...) // five failures: the circuit opens

	s.at(t0.Add(time.Minute + 10*time.Second))
	if p := field(t, nextProbeRE, s.b.mustPage("/ui/webhooks/"+hook, http.StatusOK)); !strings.Contains(p, "2026-03-01 10:01:30 UTC") || !strings.Contains(p, "from now") {
		t.Errorf("next probe ahead: %q", p)
	}
	s.at(t0.Add(5 * time.Minute))
	p := field(t, nextProbeRE, s.b.mustPage("/ui/webhooks/"+hook, http.StatusOK))
	if strings.Contains(p, "10:01:30") || strings.Contains(p, "ago") || !strings.Contains(p, "due now") {
		t.Errorf("next probe passed, 5 pending: %q", p)
	}

	// Nothing pending: the probe waits for the next notification.
	if _, err := s.st.DeleteWebhook(context.Background(), s.tenant.ID, hook, s.clk.now()); err != nil {
		t.Fatal(err)
	}
	hook2 := s.webhook()
	ids = s.publish(5, t0.Add(10*time.Minute))
	at := t0.Add(11 * time.Minute)
	ctx := context.Background()
	claimed, err := s.st.Claim(ctx, store.Claim{Owner: "test", Now: at, LeaseUntil: at.Add(time.Minute),
		Requests: []store.ClaimRequest{{WebhookID: hook2, Limit: 5}}})
	if err != nil || len(claimed) != len(ids) {
		t.Fatalf("claim: %d, %v", len(claimed), err)
	}
	var results []store.AttemptResult
	for _, c := range claimed { // five final failures: expired, circuit open
		results = append(results, store.AttemptResult{LeaseToken: c.LeaseToken, WebhookID: hook2, Status: store.StatusExpired,
			ProbeAt: at.Add(30 * time.Second), Attempt: store.Attempt{NotificationID: c.ID, Number: 1, Started: at,
				Duration: time.Millisecond, StatusCode: 500, ErrorKind: "http_status", Error: "HTTP 500"}})
	}
	if _, err := s.st.Complete(ctx, store.Completion{Results: results, Now: at, Health: policy.Policy{}}); err != nil {
		t.Fatal(err)
	}
	s.at(at.Add(time.Hour))
	body := s.b.mustPage("/ui/webhooks/"+hook2, http.StatusOK)
	if p := field(t, nextProbeRE, body); !strings.Contains(p, "with the next notification") || strings.Contains(p, "UTC") {
		t.Errorf("next probe passed, nothing pending: %q", p)
	}
	if p := field(t, pendingRE, body); !strings.HasPrefix(p, "0 notifications") {
		t.Errorf("pending %q, want 0", p)
	}
}
