package delivery

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/egress"
	"github.com/heraldhq/herald/internal/netguard"
	"github.com/heraldhq/herald/internal/pkitest"
	"github.com/heraldhq/herald/internal/proxytest"
	"github.com/heraldhq/herald/internal/store"
)

const (
	proxyUser, proxyPassword = "herald", "pr0xy-s3cret-77ab"
	publicA, publicB         = "203.0.113.10", "203.0.113.11" // addresses the guard allows
)

func proxiedSender(t *testing.T, proxyURL string) *Sender {
	t.Helper()
	u, err := egress.ParseProxyURL(proxyURL)
	if err != nil {
		t.Fatal(err)
	}
	// The strict guard: only the proxy (exempt) is on loopback.
	return NewSenderWith(netguard.Guard{}, senderTestUserAgent, SenderOptions{Proxy: u})
}

// Deliveries, mutual TLS deliveries and token requests go through a real
// CONNECT proxy with its credentials; targets the guard refuses are refused
// before the proxy is asked; the proxy's failures are attempt errors of
// kind proxy that never show its password.
func TestSendThroughProxy(t *testing.T) {
	var plainHits atomic.Int32
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		plainHits.Add(1)
		if r.Header.Get("webhook-signature") == "" || r.Host != publicA {
			http.Error(w, "unsigned or wrong host", http.StatusBadRequest)
			return
		}
		if r.URL.Path == "/oauth" && r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(plain.Close)
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"access_token":"tok","token_type":"Bearer","expires_in":3600}`)
	}))
	t.Cleanup(tokens.Close)
	serverCA, clientCA := pkitest.NewCA(t, "server CA"), pkitest.NewCA(t, "client CA")
	var seen atomic.Value
	seen.Store("")
	bank := pkitest.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.TLS.PeerCertificates[0].Subject.CommonName)
		w.WriteHeader(http.StatusNoContent)
	}), serverCA.Server(t, publicA), clientCA)

	p := proxytest.New(t, proxyUser, proxyPassword)
	p.Route(publicA+":80", plain.Listener.Addr().String())
	p.Route(publicA+":443", bank.Listener.Addr().String())
	p.Route(publicB+":80", tokens.Listener.Addr().String())
	sender := proxiedSender(t, p.URL)
	send := func(w store.Webhook) Outcome {
		t.Helper()
		w.Events, w.Status, w.Secret = []string{"*"}, store.WebhookActive, senderTestSecret
		tg, err := NewTarget(w, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return sender.Send(context.Background(), tg, senderTestMessage())
	}
	asked := func() string { c := p.Connects(); return c[len(c)-1] }

	if out := send(store.Webhook{ID: "wh-http", Endpoint: "http://" + publicA + "/hook"}); !out.OK() || asked() != publicA+":80" {
		t.Fatalf("http through the proxy: %s %s (asked %v)", out.ErrorKind, out.Error, p.Connects())
	}
	client := clientCA.Client(t, "herald-client", pkitest.Options{})
	mtls := &store.TLSConfig{ClientCertificate: client.CertPEM, ClientKey: client.KeyPEM, CACertificates: serverCA.PEM}
	if out := send(store.Webhook{ID: "wh-https", Endpoint: "https://" + publicA + "/hook", Config: store.WebhookConfig{TLS: mtls}}); !out.OK() ||
		asked() != publicA+":443" || seen.Load() != "herald-client" {
		t.Fatalf("mutual TLS through the proxy: %s %s (asked %v, client %q)", out.ErrorKind, out.Error, p.Connects(), seen.Load())
	}
	oauth := &store.OAuth2Config{TokenURL: "http://" + publicB + "/token", ClientID: "c", ClientSecret: "s"}
	before := len(p.Connects())
	if out := send(store.Webhook{ID: "wh-oauth", Endpoint: "http://" + publicA + "/oauth", Config: store.WebhookConfig{OAuth2: oauth}}); !out.OK() {
		t.Fatalf("OAuth2 through the proxy: %s %s", out.ErrorKind, out.Error)
	}
	if got := p.Connects()[before:]; !strings.Contains(strings.Join(got, " "), publicB+":80") {
		t.Fatalf("the token request did not go through the proxy: asked %v", got)
	}

	// Refused by the guard, before the proxy is contacted.
	var localHits atomic.Int32
	local := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { localHits.Add(1) }))
	t.Cleanup(local.Close)
	connections := p.Connections()
	for _, w := range []store.Webhook{
		{ID: "wh-loopback", Endpoint: local.URL},
		{ID: "wh-localhost", Endpoint: strings.Replace(local.URL, "127.0.0.1", "localhost", 1)},
		{ID: "wh-metadata", Endpoint: "http://169.254.169.254/latest/meta-data"},
		{ID: "wh-proxy-itself", Endpoint: "http://" + p.Addr + "/"},
		{ID: "wh-private-mtls", Endpoint: "https://10.0.0.7/hook", Config: store.WebhookConfig{TLS: mtls}},
	} {
		if out := send(w); out.ErrorKind != ErrKindBlocked {
			t.Errorf("%s: %s %s, want blocked_address", w.Endpoint, out.ErrorKind, out.Error)
		}
	}
	token := send(store.Webhook{ID: "wh-private-token", Endpoint: "http://" + publicA + "/oauth",
		Config: store.WebhookConfig{OAuth2: &store.OAuth2Config{TokenURL: "http://10.0.0.8/token", ClientID: "c", ClientSecret: "s"}}})
	if token.ErrorKind != ErrKindOAuth2Token || !strings.Contains(token.Error, "not allowed") {
		t.Errorf("private token URL: %s %s, want oauth2_token refused by the guard", token.ErrorKind, token.Error)
	}
	if n := p.Connections(); n != connections || localHits.Load() != 0 {
		t.Fatalf("refused targets reached the proxy (%d new connections) or the server (%d hits)", n-connections, localHits.Load())
	}

	// The proxy's own failures.
	for name, proxyURL := range map[string]string{
		"wrong password": "http://" + proxyUser + ":not-" + proxyPassword + "@" + p.Addr,
		"proxy down":     "http://" + proxyUser + ":" + proxyPassword + "@" + closedPort(t),
	} {
		tg, err := NewTarget(store.Webhook{ID: "wh-x", Endpoint: "http://" + publicA + "/hook", Secret: senderTestSecret}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		out := proxiedSender(t, proxyURL).Send(context.Background(), tg, senderTestMessage())
		if out.ErrorKind != ErrKindProxy || strings.Contains(out.Error, proxyPassword) {
			t.Errorf("%s: %s %q, want kind proxy without the password", name, out.ErrorKind, out.Error)
		}
	}
}
