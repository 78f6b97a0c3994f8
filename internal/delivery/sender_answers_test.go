package delivery

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/signature"
)

func TestSendResponses(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 1024) // 16 KiB
	var redirectHits atomic.Int32
	redirectTarget := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { redirectHits.Add(1) }))
	defer redirectTarget.Close()

	tests := []struct {
		name       string
		format     string
		handler    http.HandlerFunc
		wantKind   string
		wantStatus int
		wantBody   string
		wantRetry  time.Duration
		wantErrHas string
	}{
		{"200", "", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") },
			"", 200, "ok", 0, ""},
		{"204", "", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) },
			"", 204, "", 0, ""},
		{"202 with a large body keeps 4 KiB", "", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, big)
		}, "", 202, big[:ResponseExcerpt], 0, ""},
		{"500", "", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, "boom")
		}, ErrKindHTTPStatus, 500, "boom", 0, "500"},
		{"500 with a large body truncated to 4 KiB", "", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, big)
		}, ErrKindHTTPStatus, 500, big[:ResponseExcerpt], 0, "500"},
		{"404", "", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
			ErrKindHTTPStatus, 404, "404 page not found\n", 0, "404"},
		{"401", "", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusUnauthorized) },
			ErrKindHTTPStatus, 401, "", 0, "401"},
		{"100-range informational then 200", "", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusOK)
		}, "", 200, "", 0, ""},
		{"302 not followed", "", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, redirectTarget.URL+"/elsewhere", http.StatusFound)
		}, ErrKindRedirect, 302, "", 0, "/elsewhere"},
		{"307 not followed", "", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, redirectTarget.URL+"/elsewhere", http.StatusTemporaryRedirect)
		}, ErrKindRedirect, 307, "", 0, "/elsewhere"},
		{"308 not followed", "", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, redirectTarget.URL+"/elsewhere", http.StatusPermanentRedirect)
		}, ErrKindRedirect, 308, "", 0, "/elsewhere"},
		{"503 with Retry-After 7", "", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusServiceUnavailable)
		}, ErrKindHTTPStatus, 503, "", 7 * time.Second, "503"},
		{"429 with Retry-After 120", "", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "120")
			w.WriteHeader(http.StatusTooManyRequests)
		}, ErrKindHTTPStatus, 429, "", 2 * time.Minute, "429"},
		{"429 with Retry-After as an HTTP date", "", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
			w.WriteHeader(http.StatusTooManyRequests)
		}, ErrKindHTTPStatus, 429, "", -time.Hour, "429"}, // -1h: checked approximately below
		{"503 without Retry-After", "", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
		}, ErrKindHTTPStatus, 503, "", 0, "503"},
		{"500 with Retry-After ignored", "", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusInternalServerError)
		}, ErrKindHTTPStatus, 500, "", 0, "500"},
		{"NI code 05 fails", store.FormatNI, func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"response":{"status":{"code":"05","description":"x"}}}`)
		}, ErrKindNIResponse, 200, `{"response":{"status":{"code":"05","description":"x"}}}`, 0, `"05"`},
		{"NI code 91 fails", store.FormatNI, func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"id":"n1","response":{"status":{"code":"91","description":"Issuer unavailable"}}}`)
		}, ErrKindNIResponse, 200, `{"id":"n1","response":{"status":{"code":"91","description":"Issuer unavailable"}}}`, 0, "Issuer unavailable"},
		{"NI code 00 succeeds", store.FormatNI, func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"id":"n1","type":"AC","timestamp":"t","response":{"status":{"code":"00","description":"Success"}}}`)
		}, "", 200, `{"id":"n1","type":"AC","timestamp":"t","response":{"status":{"code":"00","description":"Success"}}}`, 0, ""},
		{"NI HTTP 500 is an HTTP failure", store.FormatNI, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"response":{"status":{"code":"00"}}}`)
		}, ErrKindHTTPStatus, 500, `{"response":{"status":{"code":"00"}}}`, 0, "500"},
		{"nCore format ignores an NI code", store.FormatNCore, func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"response":{"status":{"code":"05","description":"x"}}}`)
		}, "", 200, `{"response":{"status":{"code":"05","description":"x"}}}`, 0, ""},
	}
	sender := senderTestOpen()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			before := redirectHits.Load()
			out := sender.Send(context.Background(), senderTestTarget(t, srv.URL+"/hook", store.WebhookConfig{Format: tc.format}), senderTestMessage())
			if out.ErrorKind != tc.wantKind {
				t.Fatalf("kind = %q (%s), want %q", out.ErrorKind, out.Error, tc.wantKind)
			}
			if out.OK() != (tc.wantKind == "") {
				t.Fatalf("OK() = %v with kind %q", out.OK(), out.ErrorKind)
			}
			if out.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d", out.StatusCode, tc.wantStatus)
			}
			if out.ResponseBody != tc.wantBody {
				t.Fatalf("response body = %q (%d bytes), want %q (%d bytes)", trunc(out.ResponseBody), len(out.ResponseBody), trunc(tc.wantBody), len(tc.wantBody))
			}
			if len(out.ResponseBody) > ResponseExcerpt {
				t.Fatalf("response body %d bytes, more than %d", len(out.ResponseBody), ResponseExcerpt)
			}
			switch {
			case tc.wantRetry < 0: // about -wantRetry
				if d := -tc.wantRetry - out.RetryAfter; d < 0 || d > 5*time.Second {
					t.Fatalf("RetryAfter = %v, want about %v", out.RetryAfter, -tc.wantRetry)
				}
			case out.RetryAfter != tc.wantRetry:
				t.Fatalf("RetryAfter = %v, want %v", out.RetryAfter, tc.wantRetry)
			}
			if tc.wantErrHas != "" && !strings.Contains(out.Error, tc.wantErrHas) {
				t.Fatalf("error %q does not mention %q", out.Error, tc.wantErrHas)
			}
			if tc.wantKind == "" && out.Error != "" {
				t.Fatalf("successful outcome has error %q", out.Error)
			}
			if out.Duration <= 0 || out.Started.IsZero() {
				t.Fatalf("Started %v, Duration %v: want both set", out.Started, out.Duration)
			}
			if n := redirectHits.Load() - before; n != 0 {
				t.Fatalf("redirect target hit %d times: redirects must not be followed", n)
			}
		})
	}
}

func trunc(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// What the endpoint receives: method, body and every header of SPEC section 3.
func TestSendHeaders(t *testing.T) {
	type received struct {
		method, path string
		header       http.Header
		body         []byte
		user, pass   string
		basicOK      bool
	}
	got := make(chan received, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u, p, ok := r.BasicAuth()
		got <- received{r.Method, r.URL.Path, r.Header.Clone(), body, u, p, ok}
	}))
	defer srv.Close()

	now := time.Now()
	ts := now.Add(-3 * time.Second)
	tests := []struct {
		name    string
		webhook store.Webhook
		secrets []string // secrets the signature must verify with, each alone
		notWith []string // secrets it must not verify with
		user    string
		pass    string
		basic   bool
		custom  map[string][]string
	}{
		{
			name:    "plain",
			webhook: store.Webhook{ID: "wh-plain", Endpoint: srv.URL + "/plain", Secret: senderTestSecret},
			secrets: []string{senderTestSecret},
			notWith: []string{senderTestOldSecret},
		},
		{
			name: "basic auth and custom headers",
			webhook: store.Webhook{ID: "wh-auth", Endpoint: srv.URL + "/auth", Secret: senderTestSecret, Config: store.WebhookConfig{
				BasicAuthUsername: "alice", BasicAuthPassword: "s3cr:et",
				CustomHeaders: []store.Header{{Name: "apikey", Value: "client-key"}, {Name: "X-Tenant", Value: "t1"}, {Name: "X-Multi", Value: "a"}, {Name: "X-Multi", Value: "b"}},
			}},
			secrets: []string{senderTestSecret},
			user:    "alice", pass: "s3cr:et", basic: true,
			custom: map[string][]string{"Apikey": {"client-key"}, "X-Tenant": {"t1"}, "X-Multi": {"a", "b"}},
		},
		{
			name: "rotated secret signs alongside until it lapses",
			webhook: store.Webhook{ID: "wh-rot", Endpoint: srv.URL + "/rot", Secret: senderTestSecret,
				PreviousSecret: senderTestOldSecret, PreviousSecretUntil: now.Add(time.Hour)},
			secrets: []string{senderTestSecret, senderTestOldSecret},
		},
		{
			name: "lapsed previous secret no longer signs",
			webhook: store.Webhook{ID: "wh-lapsed", Endpoint: srv.URL + "/lapsed", Secret: senderTestSecret,
				PreviousSecret: senderTestOldSecret, PreviousSecretUntil: now.Add(-time.Second)},
			secrets: []string{senderTestSecret},
			notWith: []string{senderTestOldSecret},
		},
	}
	sender := senderTestOpen()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target, err := NewTarget(tc.webhook, now)
			if err != nil {
				t.Fatal(err)
			}
			m := Message{ID: "notif-" + tc.webhook.ID, Event: "KYC_RESULT", Attempt: 4, Body: []byte(`{"event":"KYC_RESULT","status":"PASS"}`), Timestamp: ts}
			out := sender.Send(context.Background(), target, m)
			if !out.OK() || out.StatusCode != 200 {
				t.Fatalf("Send = %+v, want 200 OK", out)
			}
			var r received
			select {
			case r = <-got:
			default:
				t.Fatal("the endpoint received nothing")
			}
			if r.method != http.MethodPost {
				t.Errorf("method = %s, want POST", r.method)
			}
			if r.path != strings.TrimPrefix(tc.webhook.Endpoint, srv.URL) {
				t.Errorf("path = %s, want the endpoint's", r.path)
			}
			if string(r.body) != string(m.Body) {
				t.Errorf("body = %q, want %q exactly", r.body, m.Body)
			}
			want := map[string]string{
				"Content-Type":      "application/json",
				"User-Agent":        senderTestUserAgent,
				"Herald-Event":      "KYC_RESULT",
				"Herald-Attempt":    "4",
				"Webhook-Id":        m.ID,
				"Webhook-Timestamp": strconv.FormatInt(ts.Unix(), 10),
			}
			for k, v := range want {
				if vs := r.header.Values(k); len(vs) != 1 || vs[0] != v {
					t.Errorf("header %s = %q, want exactly %q", k, vs, v)
				}
			}
			sigs := strings.Fields(r.header.Get(signature.HeaderSignature))
			if len(sigs) != len(tc.secrets) {
				t.Errorf("webhook-signature has %d entries %q, want %d", len(sigs), sigs, len(tc.secrets))
			}
			for _, s := range tc.secrets {
				if err := signature.Verify([]string{s}, r.header, r.body, now, 0); err != nil {
					t.Errorf("signature does not verify with %s: %v", s[:10], err)
				}
			}
			for _, s := range tc.notWith {
				if err := signature.Verify([]string{s}, r.header, r.body, now, 0); !errors.Is(err, signature.ErrNoMatch) {
					t.Errorf("signature with %s = %v, want ErrNoMatch", s[:10], err)
				}
			}
			if r.basicOK != tc.basic || r.user != tc.user || r.pass != tc.pass {
				t.Errorf("basic auth = %q, %q, %v; want %q, %q, %v", r.user, r.pass, r.basicOK, tc.user, tc.pass, tc.basic)
			}
			if !tc.basic && r.header.Get("Authorization") != "" {
				t.Errorf("unexpected Authorization %q", r.header.Get("Authorization"))
			}
			for k, v := range tc.custom {
				if vs := r.header.Values(k); strings.Join(vs, "|") != strings.Join(v, "|") {
					t.Errorf("custom header %s = %q, want %q", k, vs, v)
				}
			}
		})
	}
}

// A custom header may not replace the headers Herald computes. (The API
// refuses these names; the Sender must not depend on that.)
func TestSendCustomHeadersDoNotOverrideReserved(t *testing.T) {
	got := make(chan http.Header, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.Header.Clone() }))
	defer srv.Close()
	target := senderTestTarget(t, srv.URL, store.WebhookConfig{
		BasicAuthUsername: "u", BasicAuthPassword: "p",
		CustomHeaders: []store.Header{
			{Name: "Authorization", Value: "Bearer stolen"},
			{Name: "webhook-signature", Value: "v1,forged"},
			{Name: "webhook-id", Value: "forged"},
			{Name: "Herald-Attempt", Value: "99"},
		},
	})
	m := senderTestMessage()
	if out := senderTestOpen().Send(context.Background(), target, m); !out.OK() {
		t.Fatalf("Send = %+v", out)
	}
	h := <-got
	for k, want := range map[string]string{
		"Authorization":  "Basic dTpw",
		"Webhook-Id":     m.ID,
		"Herald-Attempt": strconv.Itoa(m.Attempt),
	} {
		if vs := h.Values(k); len(vs) != 1 || vs[0] != want {
			t.Errorf("header %s = %q, want exactly %q", k, vs, want)
		}
	}
	if err := signature.Verify([]string{senderTestSecret}, h, m.Body, time.Now(), 0); err != nil {
		t.Errorf("signature: %v", err)
	}
	if strings.Contains(h.Get(signature.HeaderSignature), "forged") {
		t.Errorf("forged signature entry sent: %q", h.Get(signature.HeaderSignature))
	}
}

func TestSenderReusesConnections(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, strings.Repeat("x", 8<<10)) // more than the excerpt: drained for reuse
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	sender := senderTestOpen()
	target := senderTestTarget(t, srv.URL, store.WebhookConfig{})
	for i := 0; i < 5; i++ {
		if out := sender.Send(context.Background(), target, senderTestMessage()); out.StatusCode != 500 {
			t.Fatalf("Send %d = %+v", i, out)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("5 sequential attempts opened %d connections, want 1", n)
	}
}
