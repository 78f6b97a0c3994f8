package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/signature"
)

const (
	listenSecret      = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	listenOtherSecret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
)

var (
	listenNow      = time.Date(2026, 3, 4, 10, 20, 30, 123_000_000, time.UTC)
	listenPurchase = `{"event":"TRANSACTION","card_transaction":{"id":"9829a089","message_type":"AUTHORIZATION","transaction_type":"PURCHASE","transaction_amount":100,"transaction_currency":"AED"}}`
	listenNIAC     = `{"id":"b876d568-8411-4638-bdef-a1a188a4773b","type":"AC","timestamp":"2020-07-20T06:49:02.366Z","details":{"token":{"activationCode":"303241"}}}`
)

// lockedBuffer is a bytes.Buffer safe for a server goroutine writing and the
// test reading.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// listenServer runs the listen handler behind an httptest server.
func listenServer(t *testing.T, opts listenOptions) (*httptest.Server, *lockedBuffer) {
	t.Helper()
	out := &lockedBuffer{}
	if opts.now == nil {
		opts.now = func() time.Time { return listenNow }
	}
	srv := httptest.NewServer(newListenHandler(out, opts))
	t.Cleanup(srv.Close)
	return srv, out
}

type listenAnswer struct {
	status int
	header http.Header
	body   string
}

// post sends body to url as Herald would: signed with secret at ts unless
// secret is "", with Herald-Event and Herald-Attempt.
func post(t *testing.T, url, id, event, secret string, ts time.Time, body string) listenAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Herald-Event", event)
	req.Header.Set("Herald-Attempt", "2")
	if secret != "" {
		s, err := signature.NewSigner(secret)
		if err != nil {
			t.Fatal(err)
		}
		s.SetHeaders(req.Header, id, ts, []byte(body))
	} else {
		req.Header.Set(signature.HeaderID, id)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return listenAnswer{resp.StatusCode, resp.Header, string(b)}
}

func TestListenSignedRequest(t *testing.T) {
	srv, out := listenServer(t, listenOptions{secrets: []string{listenOtherSecret, listenSecret}})
	a := post(t, srv.URL, "msg_1", "TRANSACTION", listenSecret, listenNow.Add(-time.Minute), listenPurchase)
	if a.status != http.StatusNoContent || a.body != "" {
		t.Fatalf("answer %d %q, want 204 and no body", a.status, a.body)
	}
	got := out.String()
	const summary = "10:20:30.123 POST webhook-id=msg_1 Herald-Event=TRANSACTION Herald-Attempt=2 event=TRANSACTION/PURCHASE signature=verified -> 204 No Content\n"
	if !strings.HasPrefix(got, summary) {
		t.Errorf("output does not start with the summary line\n%s\ngot:\n%s", summary, got)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, []byte(listenPurchase), "", "  "); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, pretty.String()) || !strings.Contains(got, "\n  \"card_transaction\": {\n    \"id\": \"9829a089\",") {
		t.Errorf("output lacks the indented event:\n%s", got)
	}
	if strings.Contains(got, "\x1b") {
		t.Errorf("output to a buffer holds ANSI escapes: %q", got)
	}
	if strings.Count(got, "\n") != strings.Count(pretty.String(), "\n")+3 {
		t.Errorf("want the summary, the event and one blank line:\n%s", got)
	}
}

func TestListenRefusesBadSignature(t *testing.T) {
	srv, out := listenServer(t, listenOptions{secrets: []string{listenSecret}})
	tests := []struct {
		name, secret string
		ts           time.Time
		reason       string
	}{
		{"unsigned", "", listenNow, "missing webhook-id, webhook-timestamp or webhook-signature header"},
		{"wrong secret", listenOtherSecret, listenNow, "no signature matches"},
		{"stale", listenSecret, listenNow.Add(-time.Hour), "webhook-timestamp is too old"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(out.String())
			a := post(t, srv.URL, "msg_"+strings.ReplaceAll(tc.name, " ", "_"), "TRANSACTION", tc.secret, tc.ts, listenPurchase)
			if a.status != http.StatusUnauthorized || !strings.Contains(a.body, tc.reason) {
				t.Fatalf("answer %d %q, want 401 with %q", a.status, a.body, tc.reason)
			}
			got := out.String()[before:]
			lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
			if len(lines) != 2 {
				t.Fatalf("want the summary and the reason, no body; got:\n%s", got)
			}
			if !strings.Contains(lines[0], "event=- signature=refused -> 401 Unauthorized") || !strings.Contains(lines[1], tc.reason) {
				t.Errorf("refusal printed as:\n%s", got)
			}
			if strings.Contains(got, listenSecret[6:]) || strings.Contains(a.body, listenSecret[6:]) {
				t.Errorf("the secret is echoed")
			}
		})
	}
}

func TestListenWithoutSecret(t *testing.T) {
	srv, out := listenServer(t, listenOptions{})
	a := post(t, srv.URL, "msg_plain", "KYC_RESULT", "", listenNow, `{"event":"KYC_RESULT","kyc_id":"k1","status":"PASS"}`)
	if a.status != http.StatusNoContent {
		t.Fatalf("answer %d %q, want 204", a.status, a.body)
	}
	if got := out.String(); !strings.Contains(got, "webhook-id=msg_plain Herald-Event=KYC_RESULT Herald-Attempt=2 event=KYC_RESULT/PASS signature=unchecked -> 204") {
		t.Errorf("output:\n%s", got)
	}
}

func TestListenNIEnvelope(t *testing.T) {
	srv, out := listenServer(t, listenOptions{secrets: []string{listenSecret}, ni: true})
	tests := []struct {
		name, id, event, body string
		wantID, wantType      string
		wantParsed            string
	}{
		{"NI token notification", "msg_ni", "NI_TOKEN_NOTIFICATION", listenNIAC, "b876d568-8411-4638-bdef-a1a188a4773b", "AC", "NI_TOKEN_NOTIFICATION/AC"},
		{"nCore event wrapped", "msg_wrapped", "TRANSACTION", `{"id":"0190f7a4-3333","type":"TRANSACTION","timestamp":"2026-03-04T10:20:00Z","details":` + listenPurchase + `}`, "0190f7a4-3333", "TRANSACTION", "TRANSACTION/PURCHASE"},
		{"bare nCore event", "msg_bare", "TRANSACTION", listenPurchase, "msg_bare", "TRANSACTION", "TRANSACTION/PURCHASE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := post(t, srv.URL, tc.id, tc.event, listenSecret, listenNow, tc.body)
			if a.status != http.StatusOK || a.header.Get("Content-Type") != "application/json" {
				t.Fatalf("answer %d (%s) %q, want 200 JSON", a.status, a.header.Get("Content-Type"), a.body)
			}
			var env struct {
				ID        string `json:"id"`
				Type      string `json:"type"`
				Timestamp string `json:"timestamp"`
				Response  struct {
					Status struct {
						Code        string `json:"code"`
						Description string `json:"description"`
					} `json:"status"`
				} `json:"response"`
			}
			dec := json.NewDecoder(strings.NewReader(a.body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&env); err != nil {
				t.Fatalf("answer %q: %v", a.body, err)
			}
			if env.ID != tc.wantID || env.Type != tc.wantType || env.Response.Status.Code != "00" || env.Response.Status.Description == "" {
				t.Errorf("envelope %+v, want id %q, type %q, code 00", env, tc.wantID, tc.wantType)
			}
			if ts, err := time.Parse(time.RFC3339, env.Timestamp); err != nil || !ts.Equal(listenNow) {
				t.Errorf("timestamp %q (%v), want %s in RFC 3339", env.Timestamp, err, listenNow.Format(time.RFC3339Nano))
			}
			if !strings.Contains(out.String(), "webhook-id="+tc.id+" Herald-Event="+tc.event+" Herald-Attempt=2 event="+tc.wantParsed+" signature=verified -> 200 OK") {
				t.Errorf("output:\n%s", out.String())
			}
		})
	}
	// A refused request is not answered with an envelope.
	if a := post(t, srv.URL, "msg_bad", "NI_TOKEN_NOTIFICATION", listenOtherSecret, listenNow, listenNIAC); a.status != http.StatusUnauthorized || strings.Contains(a.body, `"00"`) {
		t.Errorf("refused NI request answered %d %q, want 401", a.status, a.body)
	}
}

func TestListenBadRequests(t *testing.T) {
	srv, out := listenServer(t, listenOptions{})
	for _, tc := range []struct {
		name, body string
		status     int
		printed    []string
	}{
		{"unknown event", `{"event":"CARD_BURNT","card_id":"c1"}`, http.StatusBadRequest, []string{`unknown event "CARD_BURNT"`, "\n  \"card_id\": \"c1\"\n"}},
		{"not JSON", `event=TRANSACTION`, http.StatusBadRequest, []string{"not valid JSON", "\nevent=TRANSACTION\n"}},
		{"escape sequences", "\x1b[2J\x1b]0;owned\x07 hi", http.StatusBadRequest, []string{"\n\uFFFD[2J\uFFFD]0;owned\uFFFD hi\n"}},
		{"long text", strings.Repeat("z", rawBodyShown+10), http.StatusBadRequest, []string{"\n" + strings.Repeat("z", rawBodyShown) + "... (10 more bytes)\n"}},
	} {
		before := len(out.String())
		a := post(t, srv.URL, "msg_bad", "X", "", listenNow, tc.body)
		got := out.String()[before:]
		if a.status != tc.status || !strings.Contains(got, "event=- signature=unchecked -> 400 Bad Request") {
			t.Errorf("%s: answer %d, printed:\n%s", tc.name, a.status, got)
		}
		if strings.Contains(got, "\x1b") {
			t.Errorf("%s: output holds an escape: %q", tc.name, got)
		}
		for _, p := range tc.printed {
			if !strings.Contains(got, p) {
				t.Errorf("%s: output lacks %q:\n%s", tc.name, p, got)
			}
		}
	}
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET answered %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	if !strings.Contains(out.String(), " GET webhook-id=- Herald-Event=- Herald-Attempt=- event=- signature=unchecked -> 405 Method Not Allowed\n") {
		t.Errorf("GET printed as:\n%s", out.String())
	}
}

func TestListenColor(t *testing.T) {
	var out bytes.Buffer
	h := newListenHandler(&out, listenOptions{color: true, now: func() time.Time { return listenNow }})
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"event":"PIN_CHANGE","card_id":"c1","n":-1.5e3,"ok":true,"x":null,"q":"a\"b:"}`))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	got := out.String()
	if rec.Code != http.StatusNoContent || !strings.Contains(got, ansiGreen+"204 No Content"+ansiReset) {
		t.Fatalf("answer %d, output %q", rec.Code, got)
	}
	for _, want := range []string{
		ansiCyan + `"card_id"` + ansiReset + ": " + ansiGreen + `"c1"` + ansiReset,
		ansiYellow + "-1.5e3" + ansiReset, ansiBlue + "true" + ansiReset, ansiBlue + "null" + ansiReset,
		ansiGreen + `"a\"b:"` + ansiReset,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("coloured output lacks %q:\n%q", want, got)
		}
	}
	// Without the escapes it is the plain output.
	plain := regexp.MustCompile("\x1b\\[[0-9;]*m").ReplaceAllString(got, "")
	out.Reset()
	newListenHandler(&out, listenOptions{now: func() time.Time { return listenNow }}).ServeHTTP(httptest.NewRecorder(),
		httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"event":"PIN_CHANGE","card_id":"c1","n":-1.5e3,"ok":true,"x":null,"q":"a\"b:"}`)))
	if plain != out.String() {
		t.Errorf("coloured output without escapes:\n%s\nplain output:\n%s", plain, out.String())
	}

	if useColor(&bytes.Buffer{}) {
		t.Error("useColor(buffer) = true")
	}
	f, err := os.Create(t.TempDir() + "/out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if useColor(f) {
		t.Error("useColor(regular file) = true")
	}
}

// The command itself: it serves on --addr, verifies with HERALD_LISTEN_SECRET, and
// stops cleanly on SIGTERM.
func TestListenCommand(t *testing.T) {
	t.Setenv("HERALD_LISTEN_SECRET", listenOtherSecret+","+listenSecret)
	out, errOut := &lockedBuffer{}, &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- Execute(context.Background(), []string{"listen", "--addr", "127.0.0.1:0"}, out, errOut)
	}()
	var url string
	deadline := time.Now().Add(5 * time.Second)
	for url == "" {
		if m := regexp.MustCompile(`herald listen on (http://\S+):`).FindStringSubmatch(out.String()); m != nil {
			url = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no listening line: %q %q", out.String(), errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "verifying signatures with 2 secret(s)") {
		t.Errorf("start line: %q", out.String())
	}
	if a := post(t, url, "msg_cmd", "TRANSACTION", listenSecret, time.Now(), listenPurchase); a.status != http.StatusNoContent {
		t.Errorf("signed request answered %d %q", a.status, a.body)
	}
	if a := post(t, url, "msg_unsigned", "TRANSACTION", "", time.Now(), listenPurchase); a.status != http.StatusUnauthorized {
		t.Errorf("unsigned request answered %d %q", a.status, a.body)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit code %d, stderr %q", code, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("herald listen did not stop on SIGTERM")
	}
	got := out.String()
	for _, want := range []string{
		"webhook-id=msg_cmd Herald-Event=TRANSACTION Herald-Attempt=2 event=TRANSACTION/PURCHASE signature=verified -> 204",
		"webhook-id=msg_unsigned Herald-Event=TRANSACTION Herald-Attempt=2 event=- signature=refused -> 401",
		"herald listen stopped\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

func TestListenFlags(t *testing.T) {
	out, _, code := run(t, "listen", "--help")
	if code != 0 {
		t.Fatal("listen --help failed")
	}
	for _, want := range []string{"--addr", "127.0.0.1:9000", "HERALD_LISTEN_ADDR", "--secret", "HERALD_LISTEN_SECRET", "--ni", "HERALD_LISTEN_NI"} {
		if !strings.Contains(out, want) {
			t.Errorf("listen --help lacks %s:\n%s", want, out)
		}
	}
	const bad = "whsec_this is not base64"
	_, errOut, code := run(t, "listen", "--addr", "127.0.0.1:0", "--secret", bad)
	if code == 0 || !strings.Contains(errOut, "--secret") || strings.Contains(errOut, "this is not") {
		t.Errorf("bad --secret: code %d, stderr %q; want an error that does not echo the secret", code, errOut)
	}
	if _, errOut, code := run(t, "listen", "--addr", "256.0.0.1:1"); code == 0 || errOut == "" {
		t.Errorf("bad --addr: code %d, stderr %q", code, errOut)
	}
}

// End to end: a real Herald delivers to the listen handler, in nCore format
// and in NI format, and every signature verifies and every notification is
// delivered (for NI, Herald accepts the envelope's code 00).
func TestListenReceivesFromHerald(t *testing.T) {
	in := heraldtest.Start(t, heraldtest.Options{})
	cat, err := catalog.New()
	if err != nil {
		t.Fatal(err)
	}
	outs := map[string]*lockedBuffer{}
	for _, format := range []string{"ncore", "ni"} {
		// The secret is known only once the webhook exists, so the listen
		// handler is put in place after the server starts.
		out := &lockedBuffer{}
		var h atomic.Value // http.Handler
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.Load().(http.Handler).ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		resp := in.Admin(t, "POST", "/webhooks", map[string]any{"endpoint": srv.URL, "events": []string{"TRANSACTION", "NI_TOKEN_NOTIFICATION"}, "config": map[string]any{"format": format}})
		if resp.Status != http.StatusCreated {
			t.Fatalf("create %s webhook: %d %s", format, resp.Status, resp.Body)
		}
		secret, _ := resp.Map(t)["secret"].(string)
		h.Store(newListenHandler(out, listenOptions{secrets: []string{secret}, ni: format == "ni"}))
		outs[format] = out
	}
	for _, s := range []struct{ name, variant string }{{"TRANSACTION", "PURCHASE"}, {"NI_TOKEN_NOTIFICATION", "TC"}} {
		sample, err := cat.Sample(s.name, s.variant)
		if err != nil {
			t.Fatal(err)
		}
		if resp := in.Admin(t, "POST", "/events", json.RawMessage(sample)); resp.Status != http.StatusAccepted {
			t.Fatalf("publish %s: %d %s", s.name, resp.Status, resp.Body)
		}
	}
	heraldtest.Eventually(t, 10*time.Second, "four deliveries, all delivered", func() bool {
		resp := in.Admin(t, "POST", "/webhooks:search", map[string]any{"status": "DELIVERED"})
		var found struct{ Data []any }
		resp.JSON(t, &found)
		return len(found.Data) == 4
	})
	for format, out := range outs {
		got := out.String()
		for _, want := range []string{
			"Herald-Event=TRANSACTION Herald-Attempt=1 event=TRANSACTION/PURCHASE signature=verified -> ",
			"Herald-Event=NI_TOKEN_NOTIFICATION Herald-Attempt=1 event=NI_TOKEN_NOTIFICATION/TC signature=verified -> ",
		} {
			if !strings.Contains(got, want) {
				t.Errorf("%s listener output lacks %q:\n%s", format, want, got)
			}
		}
		if strings.Contains(got, "refused") || strings.Contains(got, " 400 ") {
			t.Errorf("%s listener refused something:\n%s", format, got)
		}
	}
}
