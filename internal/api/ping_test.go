package api_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/signature"
)

type pingAnswer struct {
	Success      bool     `json:"success"`
	StatusCode   int      `json:"status_code"`
	DurationMS   *float64 `json:"duration_ms"`
	ResponseBody string   `json:"response_body"`
	Error        *string  `json:"error"`
}

func doPing(t testing.TB, in *heraldtest.Instance, key, id string) pingAnswer {
	t.Helper()
	r := in.Do(t, key, "POST", "/webhooks/"+id+":ping", nil)
	wantStatus(t, r, http.StatusOK)
	var p pingAnswer
	r.JSON(t, &p)
	if p.DurationMS == nil || *p.DurationMS < 0 || p.Error == nil {
		t.Fatalf("ping answer lacks duration_ms or error: %s", r.Body)
	}
	return p
}

func TestPingSendsSignedRequestWithCredentials(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	rc := newReceiver(t, http.StatusOK)
	rc.answer.Store("pong")
	hook := createHook(t, in, heraldtest.AdminKey, fmt.Sprintf(ncoreCreate, quote(rc.URL+"/hooks")))

	p := doPing(t, in, heraldtest.AdminKey, hook.ID)
	if !p.Success || p.StatusCode != 200 || p.ResponseBody != "pong" || *p.Error != "" {
		t.Errorf("ping = %+v (error %q), want success 200 pong", p, *p.Error)
	}
	reqs := rc.requests()
	if len(reqs) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(reqs))
	}
	rq := reqs[0]
	if rq.Method != http.MethodPost {
		t.Errorf("method = %s", rq.Method)
	}
	var body map[string]any
	if err := json.Unmarshal(rq.Body, &body); err != nil {
		t.Fatalf("ping body %q: %v", rq.Body, err)
	}
	if body["event"] != "PING" || body["webhook_id"] != hook.ID {
		t.Errorf("ping body = %s", rq.Body)
	}
	req := &http.Request{Header: rq.Header}
	if u, pw, ok := req.BasicAuth(); !ok || u != "username" || pw != "password" {
		t.Errorf("basic auth = %q %q %v", u, pw, ok)
	}
	for name, want := range map[string]string{
		"apikey": ncoreHeaderValue, "Content-Type": "application/json", "User-Agent": "Herald/test", "Herald-Event": "PING", "Herald-Attempt": "1",
	} {
		if got := rq.Header.Get(name); got != want {
			t.Errorf("header %s = %q, want %q", name, got, want)
		}
	}
	if err := signature.Verify([]string{hook.Secret}, rq.Header, rq.Body, time.Now(), 0); err != nil {
		t.Errorf("signature does not verify with the webhook's secret: %v (headers %v)", err, rq.Header)
	}
	wrong, _ := signature.NewSecret()
	if err := signature.Verify([]string{wrong}, rq.Header, rq.Body, time.Now(), 0); err == nil {
		t.Errorf("signature verifies with an unrelated secret")
	}
	// A ping is not a notification.
	if n := search(t, in, heraldtest.AdminKey, map[string]any{}).Data; len(n) != 0 {
		t.Errorf("ping created notifications: %+v", n)
	}
}

func TestPingFailures(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	down := newReceiver(t, http.StatusServiceUnavailable)
	down.answer.Store("down for maintenance")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + ln.Addr().String() + "/hooks"
	ln.Close()

	cases := []struct {
		name     string
		endpoint string
		status   int
		body     string
		errPart  string
	}{
		{"endpoint answers 503", down.URL, 503, "down for maintenance", "503"},
		{"endpoint refuses the connection", closedURL, 0, "", "refused"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hook := createHook(t, in, heraldtest.AdminKey, hookBody(tc.endpoint))
			p := doPing(t, in, heraldtest.AdminKey, hook.ID)
			if p.Success || p.StatusCode != tc.status || p.ResponseBody != tc.body || !strings.Contains(*p.Error, tc.errPart) {
				t.Errorf("ping = %+v error %q, want failure %d %q containing %q", p, *p.Error, tc.status, tc.body, tc.errPart)
			}
		})
	}
	// A failed ping is not retried.
	time.Sleep(300 * time.Millisecond)
	if n := len(down.requests()); n != 1 {
		t.Errorf("failing endpoint got %d requests, want 1 (a ping is never retried)", n)
	}
}

func TestRotateSecret(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	rc := newReceiver(t, http.StatusOK)
	hook := createHook(t, in, heraldtest.AdminKey, hookBody(rc.URL))

	r := in.Admin(t, "POST", "/webhooks/"+hook.ID+"/secret:rotate", nil)
	wantStatus(t, r, http.StatusOK)
	var ans struct {
		Secret string `json:"secret"`
	}
	r.JSON(t, &ans)
	if !strings.HasPrefix(ans.Secret, "whsec_") || ans.Secret == hook.Secret {
		t.Fatalf("rotated secret = %q (old %q)", ans.Secret, hook.Secret)
	}
	// The new secret signs, and the old one keeps signing alongside it.
	if p := doPing(t, in, heraldtest.AdminKey, hook.ID); !p.Success {
		t.Fatalf("ping after rotation failed: %+v", p)
	}
	rq := rc.requests()[0]
	sigs := strings.Fields(rq.Header.Get("webhook-signature"))
	if len(sigs) != 2 {
		t.Errorf("webhook-signature = %q, want two v1 entries", rq.Header.Get("webhook-signature"))
	}
	for name, secret := range map[string]string{"new": ans.Secret, "old": hook.Secret} {
		if err := signature.Verify([]string{secret}, rq.Header, rq.Body, time.Now(), 0); err != nil {
			t.Errorf("%s secret does not verify after rotation: %v", name, err)
		}
	}
	// Rotating again gives yet another secret, and the answer never shows
	// in GET.
	r2 := in.Admin(t, "POST", "/webhooks/"+hook.ID+"/secret:rotate", nil)
	wantStatus(t, r2, http.StatusOK)
	if s := r2.Map(t)["secret"]; s == ans.Secret || s == hook.Secret {
		t.Errorf("second rotation reused a secret")
	}
	if body := getHook(t, in, heraldtest.AdminKey, hook.ID); strings.Contains(string(body), "whsec_") {
		t.Errorf("GET shows a secret: %s", body)
	}
}
