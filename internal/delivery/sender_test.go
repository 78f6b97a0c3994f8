package delivery

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/netguard"
	"github.com/heraldhq/herald/internal/policy"
	"github.com/heraldhq/herald/internal/store"
)

const (
	senderTestSecret     = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	senderTestOldSecret  = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
	senderTestUserAgent  = "Herald/test"
	senderTestNotifID    = "0190f7a4-1111-7000-8000-00000000abcd"
	senderTestEventName  = "CARD_STATUS_CHANGE"
	senderTestEventBody  = `{"event":"CARD_STATUS_CHANGE","card_id":"c1","status":"ACTIVE"}`
	senderTestAttemptNum = 3
)

// senderTestTarget builds a Target for endpoint with the test secret and cfg.
func senderTestTarget(t *testing.T, endpoint string, cfg store.WebhookConfig) *Target {
	t.Helper()
	tg, err := NewTarget(store.Webhook{ID: "wh-1", TenantID: "tn-1", Endpoint: endpoint, Events: []string{"*"},
		Status: store.WebhookActive, Config: cfg, Secret: senderTestSecret}, time.Now())
	if err != nil {
		t.Fatalf("NewTarget: %v", err)
	}
	return tg
}

func senderTestMessage() Message {
	return Message{ID: senderTestNotifID, Event: senderTestEventName, Attempt: senderTestAttemptNum,
		Body: []byte(senderTestEventBody), Timestamp: time.Now()}
}

// open is a Sender that may reach 127.0.0.1, as in development.
func senderTestOpen() *Sender {
	return NewSender(netguard.Guard{AllowPrivate: true}, senderTestUserAgent)
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		in   string
		want time.Duration
	}{
		{"empty", "", 0},
		{"seconds", "7", 7 * time.Second},
		{"one second", "1", time.Second},
		{"an hour of seconds", "3600", time.Hour},
		{"zero", "0", 0},
		{"negative", "-5", 0},
		{"fraction", "1.5", 0},
		{"garbage", "soon", 0},
		{"seconds with unit", "7s", 0},
		{"HTTP date in 30s", now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second},
		{"HTTP date in 2h", now.Add(2 * time.Hour).Format(http.TimeFormat), 2 * time.Hour},
		{"RFC 850 date", now.Add(time.Minute).Format(time.RFC850), time.Minute},
		{"ANSI C date", now.Add(90 * time.Second).Format(time.ANSIC), 90 * time.Second},
		{"HTTP date now", now.Format(http.TimeFormat), 0},
		{"HTTP date in the past", now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"HTTP date long ago", "Wed, 21 Oct 2015 07:28:00 GMT", 0},
		{"malformed date", "Wed, 32 Oct 2015 07:28:00 GMT", 0},
		// Huge values must not overflow time.Duration into a negative or a
		// short wait: they are capped at policy.MaxRetryAfter.
		{"huge seconds", "10000000000", policy.MaxRetryAfter},
		{"seconds beyond the cap", strconv.Itoa(int(policy.MaxRetryAfter/time.Second) + 1), policy.MaxRetryAfter},
		{"seconds beyond int64", "99999999999999999999", policy.MaxRetryAfter},
		{"negative beyond int64", "-99999999999999999999", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseRetryAfter(tc.in, now); got != tc.want {
				t.Fatalf("parseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

// closedPort returns a 127.0.0.1 address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// resetServer accepts connections on 127.0.0.1, reads one HTTP request and
// resets the connection (RST) instead of answering.
func resetServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				if req, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
					_, _ = io.Copy(io.Discard, req.Body)
				}
				_ = c.(*net.TCPConn).SetLinger(0)
				c.Close()
			}(c)
		}
	}()
	return ln.Addr().String()
}

// closeServer reads one HTTP request and closes the connection without an answer.
func closeServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				if req, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
					_, _ = io.Copy(io.Discard, req.Body)
				}
				c.Close()
			}(c)
		}
	}()
	return ln.Addr().String()
}

// hangServer accepts requests and never answers until the client goes away.
func hangServer(t *testing.T) *httptest.Server {
	t.Helper()
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}))
	t.Cleanup(func() { close(done); srv.Close() })
	return srv
}

// quietTLSServer is httptest.NewTLSServer without logging the handshake
// failures the tests provoke on purpose.
func quietTLSServer(h http.Handler) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	return srv
}

// Errors produced by real connections on 127.0.0.1, classified directly.
func TestClassifyRealErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tlsSrv := quietTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer tlsSrv.Close()
	plainSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer plainSrv.Close()
	hang := hangServer(t)

	tests := []struct {
		name string
		err  func(t *testing.T) error
		want string
	}{
		{"dial closed port", func(t *testing.T) error {
			_, err := (&net.Dialer{}).DialContext(ctx, "tcp", closedPort(t))
			return err
		}, ErrKindConnectionRefused},
		{"HTTP POST to closed port", func(t *testing.T) error {
			_, err := http.Post("http://"+closedPort(t)+"/", "application/json", strings.NewReader("{}"))
			return err
		}, ErrKindConnectionRefused},
		{"read from a reset connection", func(t *testing.T) error {
			c, err := net.Dial("tcp", resetServer(t))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"); err != nil {
				t.Fatal(err)
			}
			_, err = c.Read(make([]byte, 1))
			return err
		}, ErrKindConnectionReset},
		{"HTTP POST to a resetting server", func(t *testing.T) error {
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			_, err := (&http.Client{Transport: tr}).Post("http://"+resetServer(t)+"/", "application/json", strings.NewReader("{}"))
			return err
		}, ErrKindConnectionReset},
		{"read deadline", func(t *testing.T) error {
			c, err := net.Dial("tcp", strings.TrimPrefix(hang.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			_, err = c.Read(make([]byte, 1))
			return err
		}, ErrKindTimeout},
		{"context deadline on an HTTP request", func(t *testing.T) error {
			ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, hang.URL, strings.NewReader("{}"))
			_, err := http.DefaultClient.Do(req)
			return err
		}, ErrKindTimeout},
		{"client timeout on an HTTP request", func(t *testing.T) error {
			_, err := (&http.Client{Timeout: 50 * time.Millisecond}).Post(hang.URL, "application/json", strings.NewReader("{}"))
			return err
		}, ErrKindTimeout},
		{"guarded dial to loopback", func(t *testing.T) error {
			d := &net.Dialer{Control: netguard.Guard{}.Control}
			_, err := d.DialContext(ctx, "tcp", strings.TrimPrefix(plainSrv.URL, "http://"))
			return err
		}, ErrKindBlocked},
		{"TLS handshake with an untrusted certificate", func(t *testing.T) error {
			c, err := tls.Dial("tcp", strings.TrimPrefix(tlsSrv.URL, "https://"), &tls.Config{ServerName: "example.com"})
			if err == nil {
				c.Close()
			}
			return err
		}, ErrKindTLS},
		{"HTTPS POST with an untrusted certificate", func(t *testing.T) error {
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			_, err := (&http.Client{Transport: tr}).Post(tlsSrv.URL, "application/json", strings.NewReader("{}"))
			return err
		}, ErrKindTLS},
		{"HTTPS POST with a trusted certificate for another name", func(t *testing.T) error {
			tr := tlsSrv.Client().Transport.(*http.Transport).Clone() // trusts the test certificate
			tr.TLSClientConfig.ServerName = "not-in-the-cert.example"
			defer tr.CloseIdleConnections()
			_, err := (&http.Client{Transport: tr}).Post(tlsSrv.URL, "application/json", strings.NewReader("{}"))
			return err
		}, ErrKindTLS},
		{"TLS handshake with a plain HTTP server", func(t *testing.T) error {
			c, err := tls.Dial("tcp", strings.TrimPrefix(plainSrv.URL, "http://"), &tls.Config{InsecureSkipVerify: true})
			if err == nil {
				c.Close()
			}
			return err
		}, ErrKindTLS},
		{"DNS failure (local resolver, no traffic)", func(t *testing.T) error {
			r := &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
				return nil, errors.New("no DNS in tests")
			}}
			d := &net.Dialer{Resolver: r}
			_, err := d.DialContext(ctx, "tcp", "herald-test.invalid:443")
			return err
		}, ErrKindDNS},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err(t)
			if err == nil {
				t.Fatal("expected an error, got none")
			}
			if got := classify(err); got != tc.want {
				t.Fatalf("classify(%T %v) = %q, want %q", err, err, got, tc.want)
			}
			// The same error wrapped by net/http or fmt keeps its kind.
			wrapped := &url.Error{Op: "Post", URL: "http://x", Err: fmt.Errorf("attempt: %w", err)}
			if got := classify(wrapped); got != tc.want {
				t.Fatalf("classify(wrapped %v) = %q, want %q", wrapped, got, tc.want)
			}
		})
	}
	t.Run("unknown error", func(t *testing.T) {
		if got := classify(errors.New("something else")); got != ErrKindConnection {
			t.Fatalf("classify(other) = %q, want %q", got, ErrKindConnection)
		}
	})
}

// Send's outcome for transport failures against real 127.0.0.1 endpoints.
func TestSendTransportErrors(t *testing.T) {
	var hits atomic.Int32
	counted := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer counted.Close()
	tlsHits := atomic.Int32{}
	tlsSrv := quietTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { tlsHits.Add(1) }))
	defer tlsSrv.Close()
	hang := hangServer(t)

	guarded := NewSender(netguard.Guard{}, senderTestUserAgent)
	tests := []struct {
		name     string
		sender   *Sender
		endpoint string
		ctx      func() (context.Context, context.CancelFunc)
		want     string
	}{
		{"closed port", senderTestOpen(), "http://" + closedPort(t) + "/hook", nil, ErrKindConnectionRefused},
		{"connection reset", senderTestOpen(), "http://" + resetServer(t) + "/hook", nil, ErrKindConnectionReset},
		{"closed without answer", senderTestOpen(), "http://" + closeServer(t) + "/hook", nil, ErrKindConnectionReset},
		{"context deadline", senderTestOpen(), hang.URL, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 100*time.Millisecond)
		}, ErrKindTimeout},
		{"netguard blocks loopback", guarded, counted.URL, nil, ErrKindBlocked},
		{"netguard blocks localhost after DNS", guarded, strings.Replace(counted.URL, "127.0.0.1", "localhost", 1), nil, ErrKindBlocked},
		{"untrusted TLS certificate", senderTestOpen(), tlsSrv.URL, nil, ErrKindTLS},
		{"malformed endpoint", senderTestOpen(), "http://[::1", nil, ErrKindRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if tc.ctx != nil {
				ctx, cancel = tc.ctx()
			}
			defer cancel()
			out := tc.sender.Send(ctx, senderTestTarget(t, tc.endpoint, store.WebhookConfig{}), senderTestMessage())
			if out.ErrorKind != tc.want {
				t.Fatalf("Send to %s: kind %q (%s), want %q", tc.endpoint, out.ErrorKind, out.Error, tc.want)
			}
			if out.OK() || out.Error == "" || out.StatusCode != 0 {
				t.Fatalf("Send to %s = %+v, want a failure with an error and no status", tc.endpoint, out)
			}
			if out.Started.IsZero() {
				t.Fatal("Started not set")
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the guarded server was hit %d times", n)
	}
	if n := tlsHits.Load(); n != 0 {
		t.Fatalf("the untrusted TLS server was hit %d times", n)
	}
}

// The webhook's timeout_seconds bounds an attempt.
func TestSendWebhookTimeout(t *testing.T) {
	hang := hangServer(t)
	start := time.Now()
	out := senderTestOpen().Send(context.Background(), senderTestTarget(t, hang.URL, store.WebhookConfig{TimeoutSeconds: 1}), senderTestMessage())
	elapsed := time.Since(start)
	if out.ErrorKind != ErrKindTimeout {
		t.Fatalf("Send to a hanging endpoint: kind %q (%s), want timeout", out.ErrorKind, out.Error)
	}
	if elapsed < 900*time.Millisecond || elapsed > 3*time.Second {
		t.Fatalf("attempt took %v, want about timeout_seconds (1s)", elapsed)
	}
	if out.Duration < 900*time.Millisecond || out.Duration > elapsed {
		t.Fatalf("Outcome.Duration = %v, want about 1s and at most %v", out.Duration, elapsed)
	}
}
