package delivery_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/heraldtest"
)

// tokenServer is a real OAuth2 token endpoint: it checks the grant type and
// the client's credentials and hands out numbered tokens.
type tokenServer struct {
	*httptest.Server
	requests  atomic.Int64
	expiresIn atomic.Int64
	failing   atomic.Bool // answer 500
	garbage   atomic.Bool // answer 200 with something that is not a token
	secret    atomic.Value
}

func newTokenServer(t *testing.T) *tokenServer {
	ts := &tokenServer{}
	ts.expiresIn.Store(3600)
	ts.secret.Store("s3cret")
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := ts.requests.Add(1)
		if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
			http.Error(w, `{"error":"unsupported_grant_type"}`, http.StatusBadRequest)
			return
		}
		id, secret, ok := r.BasicAuth()
		if !ok || id != "herald-client" || secret != ts.secret.Load().(string) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":"invalid_client"}`)
			return
		}
		switch {
		case ts.failing.Load():
			http.Error(w, "token service down", http.StatusInternalServerError)
		case ts.garbage.Load():
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"hello":"world"}`)
		default:
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"access_token":"token-%d","token_type":"Bearer","expires_in":%d}`, n, ts.expiresIn.Load())
		}
	}))
	t.Cleanup(ts.Close)
	return ts
}

// niEndpoint answers NI envelopes; it records bodies and bearer tokens and
// answers with code() (default "00"), refusing tokens listed in reject.
type niEndpoint struct {
	*httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	tokens []string
	reject map[string]bool
	code   atomic.Value
}

func newNIEndpoint(t *testing.T) *niEndpoint {
	e := &niEndpoint{reject: map[string]bool{}}
	e.code.Store("00")
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		e.mu.Lock()
		e.tokens = append(e.tokens, token)
		refused := e.reject[token]
		if !refused {
			e.bodies = append(e.bodies, body)
		}
		e.mu.Unlock()
		if refused {
			http.Error(w, "token expired", http.StatusUnauthorized)
			return
		}
		var in struct{ ID, Type string }
		_ = json.Unmarshal(body, &in)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":%q,"type":%q,"timestamp":"2022-11-09T11:00:04.638756","response":{"status":{"code":%q,"description":"Success"}}}`,
			in.ID, in.Type, e.code.Load())
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *niEndpoint) received() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.bodies)
}

func niWebhook(t *testing.T, in *heraldtest.Instance, endpoint, tokenURL string) webhook {
	return createWebhook(t, in, endpoint, map[string]any{
		"format": "ni",
		"oauth2": map[string]any{"token_url": tokenURL, "client_id": "herald-client", "client_secret": "s3cret", "scope": "notifications"},
	}, catalog.NITokenNotification, "CARD_STATUS_CHANGE")
}

func niSample(t *testing.T, variant string) string {
	c, err := catalog.New()
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Sample(catalog.NITokenNotification, variant)
	if err != nil {
		t.Fatal(err)
	}
	return string(s)
}

func TestOAuth2TokenFetchedOnceForManyDeliveries(t *testing.T) {
	eachBackend(t, func(t *testing.T, o heraldtest.Options) {
		t.Parallel()
		in := heraldtest.Start(t, o)
		ts, ep := newTokenServer(t), newNIEndpoint(t)
		hook := niWebhook(t, in, ep.URL, ts.URL)
		if resp := in.Admin(t, "GET", "/webhooks/"+hook.ID, nil); strings.Contains(string(resp.Body), "s3cret") ||
			!strings.Contains(string(resp.Body), `"client_secret":"********"`) {
			t.Errorf("client secret not masked: %s", resp.Body)
		}
		bodies := map[string]bool{}
		for _, v := range []string{"AC", "TC", "TD", "TE", "AC", "TC", "TD", "TE", "AC", "TC"} {
			body := niSample(t, v)
			bodies[body] = true
			publish(t, in, body)
		}
		heraldtest.Eventually(t, 10*time.Second, "10 NI deliveries", func() bool { return ep.received() == 10 })
		if n := ts.requests.Load(); n != 1 {
			t.Errorf("token endpoint called %d times for 10 deliveries, want 1", n)
		}
		ep.mu.Lock()
		defer ep.mu.Unlock()
		for i, b := range ep.bodies {
			if !bodies[string(b)] {
				t.Errorf("delivery %d is not an envelope as published: %s", i, b)
			}
			if ep.tokens[i] != "token-1" {
				t.Errorf("delivery %d bearer token %q, want token-1", i, ep.tokens[i])
			}
		}
	})
}

func TestOAuth2TokenRefreshedAfterExpiry(t *testing.T) {
	t.Parallel()
	in := heraldtest.Start(t, heraldtest.Options{})
	ts, ep := newTokenServer(t), newNIEndpoint(t)
	ts.expiresIn.Store(31) // Herald replaces tokens 30s before they expire
	niWebhook(t, in, ep.URL, ts.URL)
	publish(t, in, niSample(t, "AC"))
	heraldtest.Eventually(t, 5*time.Second, "first delivery", func() bool { return ep.received() == 1 })
	time.Sleep(1200 * time.Millisecond)
	publish(t, in, niSample(t, "TC"))
	heraldtest.Eventually(t, 5*time.Second, "second delivery", func() bool { return ep.received() == 2 })
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if ts.requests.Load() != 2 || ep.tokens[0] == ep.tokens[1] {
		t.Errorf("tokens %v after %d token requests; want a fresh token once the first expired", ep.tokens, ts.requests.Load())
	}
}

func TestOAuth2UnauthorizedGetsOneFreshToken(t *testing.T) {
	t.Parallel()
	in := heraldtest.Start(t, heraldtest.Options{})
	ts, ep := newTokenServer(t), newNIEndpoint(t)
	ep.reject["token-1"] = true // revoked at the endpoint before it expired
	niWebhook(t, in, ep.URL, ts.URL)
	p := publish(t, in, niSample(t, "TD"))
	n := waitStatus(t, in, p.Notifications[0].ID, "DELIVERED", 5*time.Second)
	if n.AttemptCount != 1 {
		t.Errorf("attempts = %d, want 1: the 401 retry is part of the attempt", n.AttemptCount)
	}
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if len(ep.tokens) != 2 || ep.tokens[0] != "token-1" || ep.tokens[1] != "token-2" {
		t.Errorf("bearer tokens sent %v, want token-1 (refused) then token-2", ep.tokens)
	}
}

func TestOAuth2TokenEndpointFailures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		breakIt func(*tokenServer)
		want    string
	}{
		{"down", func(ts *tokenServer) { ts.failing.Store(true) }, "answered 500"},
		{"garbage", func(ts *tokenServer) { ts.garbage.Store(true) }, "access_token"},
		{"refused credentials", func(ts *tokenServer) { ts.secret.Store("rotated") }, "answered 401"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := heraldtest.Start(t, heraldtest.Options{})
			ts, ep := newTokenServer(t), newNIEndpoint(t)
			tc.breakIt(ts)
			niWebhook(t, in, ep.URL, ts.URL)
			p := publish(t, in, niSample(t, "TE"))
			id := p.Notifications[0].ID
			heraldtest.Eventually(t, 5*time.Second, "a failed attempt", func() bool { return getNotification(t, in, id).AttemptCount >= 1 })
			n := getNotification(t, in, id)
			if a := n.Attempts[0]; a.ErrorKind != "oauth2_token" || !strings.Contains(a.Error, tc.want) || strings.Contains(a.Error, "s3cret") {
				t.Fatalf("first attempt = %+v, want kind oauth2_token mentioning %q", a, tc.want)
			}
			if ep.received() != 0 {
				t.Fatal("the endpoint was called without a token")
			}
			// The token service recovers: the retry on the normal schedule delivers.
			ts.failing.Store(false)
			ts.garbage.Store(false)
			ts.secret.Store("s3cret")
			waitStatus(t, in, id, "DELIVERED", 5*time.Second)
		})
	}
}

func TestOAuth2CredentialChangeDropsToken(t *testing.T) {
	t.Parallel()
	in := heraldtest.Start(t, heraldtest.Options{})
	ts, ep := newTokenServer(t), newNIEndpoint(t)
	hook := niWebhook(t, in, ep.URL, ts.URL)
	publish(t, in, niSample(t, "AC"))
	heraldtest.Eventually(t, 5*time.Second, "first delivery", func() bool { return ep.received() == 1 })
	ts.secret.Store("new-secret")
	resp := in.Admin(t, "PUT", "/webhooks/"+hook.ID, map[string]any{"config": map[string]any{
		"oauth2": map[string]any{"token_url": ts.URL, "client_id": "herald-client", "client_secret": "new-secret"}}})
	if resp.Status != http.StatusOK {
		t.Fatalf("update credentials: %d %s", resp.Status, resp.Body)
	}
	publish(t, in, niSample(t, "TC"))
	heraldtest.Eventually(t, 5*time.Second, "second delivery", func() bool { return ep.received() == 2 })
	if n := ts.requests.Load(); n != 2 {
		t.Errorf("token requests = %d, want 2: new credentials need a new token", n)
	}
}

// TestNIResponseCodes: an NI endpoint's "00" is success; "05" (a 200 all the
// same) is a failure that is retried; an nCore event sent to an NI webhook
// arrives wrapped in the envelope.
func TestNIResponseCodes(t *testing.T) {
	t.Parallel()
	in := heraldtest.Start(t, heraldtest.Options{})
	ts, ep := newTokenServer(t), newNIEndpoint(t)
	ep.code.Store("05")
	niWebhook(t, in, ep.URL, ts.URL)
	p := publish(t, in, niSample(t, "AC"))
	id := p.Notifications[0].ID
	heraldtest.Eventually(t, 5*time.Second, "a refused attempt", func() bool { return getNotification(t, in, id).AttemptCount >= 1 })
	n := getNotification(t, in, id)
	if a := n.Attempts[0]; a.ErrorKind != "ni_response" || a.StatusCode != 200 || !strings.Contains(a.Error, `"05"`) || !strings.Contains(a.ResponseBody, "Success") {
		t.Fatalf("attempt with NI code 05 = %+v", a)
	}
	ep.code.Store("00")
	n = waitStatus(t, in, id, "DELIVERED", 5*time.Second)
	if last := n.Attempts[len(n.Attempts)-1]; !strings.Contains(last.ResponseBody, `"code":"00"`) {
		t.Errorf("the NI answer is not kept in the attempt log: %+v", last)
	}

	card := publish(t, in, cardEvent(7))
	waitStatus(t, in, card.Notifications[0].ID, "DELIVERED", 5*time.Second)
	ep.mu.Lock()
	defer ep.mu.Unlock()
	var env struct {
		ID, Type, Timestamp string
		Details             map[string]any
	}
	if err := json.Unmarshal(ep.bodies[len(ep.bodies)-1], &env); err != nil {
		t.Fatal(err)
	}
	if env.ID != card.Notifications[0].ID || env.Type != "CARD_STATUS_CHANGE" || env.Timestamp == "" || env.Details["event"] != "CARD_STATUS_CHANGE" {
		t.Errorf("nCore event in an NI webhook = %+v, want the envelope with the notification id and the payload as details", env)
	}
}
