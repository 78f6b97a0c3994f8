package metrics_test

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/pkitest"
)

// scrape reads /metrics into name{labels} -> value.
func scrape(t *testing.T, in *heraldtest.Instance) map[string]float64 {
	t.Helper()
	resp, err := http.Get(in.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d", resp.StatusCode)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

func TestMetricsMove(t *testing.T) {
	in := heraldtest.Start(t, heraldtest.Options{})
	before := scrape(t, in)
	for _, name := range []string{`herald_notifications{status="PENDING"}`, `herald_webhooks{state="active"}`, `herald_attempts_in_flight`, `herald_store_up`} {
		if _, ok := before[name]; !ok {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	ok := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer ok.Close()
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) }))
	defer bad.Close()
	for _, url := range []string{ok.URL, bad.URL} {
		r := in.Admin(t, "POST", "/webhooks", map[string]any{"endpoint": url, "events": []string{"*"},
			"config": map[string]any{"max_retries": 0}})
		if r.Status != http.StatusCreated {
			t.Fatalf("create webhook: %s", r.Body)
		}
	}
	const body = `{"event":"PIN_CHANGE","card_id":"c1"}`
	for range 3 {
		if r := in.Admin(t, "POST", "/events", body); r.Status != http.StatusAccepted {
			t.Fatalf("publish: %s", r.Body)
		}
	}
	time.Sleep(2100 * time.Millisecond) // past the store counts' cache
	var after map[string]float64
	heraldtest.Eventually(t, 5*time.Second, "the attempts to be counted", func() bool {
		after = scrape(t, in)
		return after[`herald_attempts_total{outcome="delivered"}`] == 3 && after[`herald_attempts_total{outcome="http_status"}`] == 3
	})
	for name, want := range map[string]float64{
		`herald_events_published_total{event="PIN_CHANGE"}`: 3,
		`herald_notifications_created_total`:                6,
		`herald_delivery_latency_seconds_count`:             3,
		`herald_attempt_duration_seconds_count`:             6,
		`herald_attempts_in_flight`:                         0,
		`herald_store_up`:                                   1,
	} {
		if got := after[name]; got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	heraldtest.Eventually(t, 5*time.Second, "the store counts to move", func() bool {
		after = scrape(t, in)
		return after[`herald_notifications{status="DELIVERED"}`] == 3 && after[`herald_notifications{status="EXPIRED"}`] == 3
	})
	if after[`herald_webhooks{state="active"}`] != 2 {
		t.Errorf("active webhooks = %v, want 2", after[`herald_webhooks{state="active"}`])
	}
}

// herald_client_certificates counts the webhooks' client certificates that
// expire within 30 days, read from what is registered.
func TestClientCertificateMetric(t *testing.T) {
	in := heraldtest.Start(t, heraldtest.Options{})
	ca := pkitest.NewCA(t, "client CA")
	for _, days := range []int{3, 20, 90} {
		c := ca.Client(t, "herald", pkitest.Options{NotAfter: time.Now().Add(time.Duration(days) * 24 * time.Hour)})
		r := in.Admin(t, "POST", "/webhooks", map[string]any{"endpoint": "https://127.0.0.1:1/hooks", "events": []string{"*"},
			"config": map[string]any{"tls": map[string]any{"client_certificate": c.CertPEM, "client_key": c.KeyPEM}}})
		if r.Status != http.StatusCreated {
			t.Fatalf("create webhook: %s", r.Body)
		}
	}
	heraldtest.Eventually(t, 10*time.Second, "the certificates to be counted", func() bool {
		got := scrape(t, in)
		return got[`herald_client_certificates{state="expiring"}`] == 2 && got[`herald_client_certificates{state="expired"}`] == 0
	})
}
