package delivery

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/netguard"
	"github.com/heraldhq/herald/internal/pkitest"
	"github.com/heraldhq/herald/internal/store"
)

// mtlsServer is an endpoint of a private PKI: its certificate comes from
// serverCA and it requires a client certificate from clientCA. It records
// the client certificate and the SNI of each request.
type mtlsServer struct {
	*pkitest.Server
	client atomic.Value // string: CommonName of the last client certificate
	sni    atomic.Value // string
}

func newMTLSServer(t *testing.T, server pkitest.Issued, clientCAs ...*pkitest.CA) *mtlsServer {
	t.Helper()
	s := &mtlsServer{}
	s.client.Store("")
	s.sni.Store("")
	s.Server = pkitest.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.client.Store(r.TLS.PeerCertificates[0].Subject.CommonName)
		s.sni.Store(r.TLS.ServerName)
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}), server, clientCAs...)
	return s
}

// tlsTarget is a webhook of endpoint with tc as config.tls.
func tlsTarget(t *testing.T, id, endpoint string, tc *store.TLSConfig) *Target {
	t.Helper()
	tg, err := NewTarget(store.Webhook{ID: id, Endpoint: endpoint, Events: []string{"*"}, Status: store.WebhookActive,
		Config: store.WebhookConfig{TLS: tc}, Secret: senderTestSecret}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func tlsOf(client pkitest.Issued, roots ...*pkitest.CA) *store.TLSConfig {
	tc := &store.TLSConfig{ClientCertificate: client.CertPEM, ClientKey: client.KeyPEM, ClientCertificateExpires: client.Cert.NotAfter}
	for _, ca := range roots {
		tc.CACertificates += ca.PEM
	}
	return tc
}

// Against a real TLS server that requires and verifies client certificates
// of a private CA: the webhook's certificate is presented, its
// ca_certificates replace the system roots, and server_name names the
// server; anything else fails as a TLS error and reaches no handler.
func TestMutualTLS(t *testing.T) {
	serverCA, clientCA, otherCA := pkitest.NewCA(t, "bank server CA"), pkitest.NewCA(t, "bank client CA"), pkitest.NewCA(t, "someone else")
	srv := newMTLSServer(t, serverCA.Server(t, "127.0.0.1"), clientCA)
	named := newMTLSServer(t, serverCA.Server(t, "hooks.bank.example"), clientCA)
	client := clientCA.Client(t, "herald-client", pkitest.Options{})
	viaIntermediate := clientCA.Intermediate(t, "bank issuing CA").Client(t, "herald-chained", pkitest.Options{})
	rsaPKCS1 := clientCA.Client(t, "herald-rsa", pkitest.Options{RSA: true, KeyForm: pkitest.PKCS1})
	ecSEC1 := clientCA.Client(t, "herald-ec", pkitest.Options{KeyForm: pkitest.SEC1})
	stranger := otherCA.Client(t, "stranger", pkitest.Options{})
	// Expired since registration: Herald still presents it, the server
	// refuses it.
	expired := clientCA.Client(t, "expired", pkitest.Options{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	withName := func(tc *store.TLSConfig, name string) *store.TLSConfig { tc.ServerName = name; return tc }

	tests := []struct {
		name     string
		endpoint string
		tls      *store.TLSConfig
		want     string // error kind; "" delivered
		cn, sni  string // seen by the server when delivered; the error's text when not
	}{
		{"client certificate and private roots", srv.URL, tlsOf(client, serverCA), "", "herald-client", ""},
		{"chain through an intermediate", srv.URL, tlsOf(viaIntermediate, serverCA), "", "herald-chained", ""},
		{"RSA key in PKCS #1", srv.URL, tlsOf(rsaPKCS1, serverCA), "", "herald-rsa", ""},
		{"EC key in SEC 1", srv.URL, tlsOf(ecSEC1, serverCA), "", "herald-ec", ""},
		{"roots among others", srv.URL, tlsOf(client, otherCA, serverCA), "", "herald-client", ""},
		{"server_name", named.URL, withName(tlsOf(client, serverCA), "hooks.bank.example"), "", "herald-client", "hooks.bank.example"},
		{"no client certificate (system roots do not know the server)", srv.URL, nil, ErrKindTLS, "", ""},
		{"system roots", srv.URL, tlsOf(client), ErrKindTLS, "", ""},
		{"ca_certificates replace the system roots", srv.URL, tlsOf(client, otherCA), ErrKindTLS, "", ""},
		{"certificate of another CA", srv.URL, tlsOf(stranger, serverCA), ErrKindTLS, "unknown certificate authority", ""},
		{"certificate expired since registration", srv.URL, tlsOf(expired, serverCA), ErrKindTLS, "expired certificate", ""},
		{"server certificate for another name", named.URL, tlsOf(client, serverCA), ErrKindTLS, "", ""},
		{"server_name the certificate does not hold", srv.URL, withName(tlsOf(client, serverCA), "other.bank.example"), ErrKindTLS, "", ""},
	}
	sender := senderTestOpen()
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv.client.Store("")
			named.client.Store("")
			out := sender.Send(context.Background(), tlsTarget(t, fmt.Sprintf("wh-%d", i), tc.endpoint, tc.tls), senderTestMessage())
			if out.ErrorKind != tc.want {
				t.Fatalf("kind %q (%s), want %q", out.ErrorKind, out.Error, tc.want)
			}
			if tc.want != "" {
				if srv.client.Load() != "" || named.client.Load() != "" {
					t.Fatal("a refused request reached the handler")
				}
				if !strings.Contains(out.Error, tc.cn) {
					t.Fatalf("error %q does not say %q", out.Error, tc.cn)
				}
				return
			}
			seen := srv
			if tc.endpoint == named.URL {
				seen = named
			}
			if got := seen.client.Load(); got != tc.cn {
				t.Errorf("the server saw client certificate %q, want %q", got, tc.cn)
			}
			if got := seen.sni.Load(); got != tc.sni {
				t.Errorf("the server saw SNI %q, want %q", got, tc.sni)
			}
		})
	}

	// The server itself refuses a client that trusts it but has no
	// certificate to show: the test above is not passing for another reason.
	bare := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: serverCA.Pool()}}}
	if resp, err := bare.Get(srv.URL); err == nil {
		resp.Body.Close()
		t.Fatalf("the server answered %d to a client without a certificate", resp.StatusCode)
	}
}

// The SSRF guard still applies to a webhook's own transports.
func TestMutualTLSKeepsGuard(t *testing.T) {
	serverCA, clientCA := pkitest.NewCA(t, "server CA"), pkitest.NewCA(t, "client CA")
	srv := newMTLSServer(t, serverCA.Server(t, "127.0.0.1"), clientCA)
	guarded := NewSender(netguard.Guard{}, senderTestUserAgent)
	out := guarded.Send(context.Background(), tlsTarget(t, "wh-g", srv.URL, tlsOf(clientCA.Client(t, "c", pkitest.Options{}), serverCA)), senderTestMessage())
	if out.ErrorKind != ErrKindBlocked || srv.Handshakes() != 0 {
		t.Fatalf("guarded mTLS send: kind %q (%s), %d handshakes; want blocked_address and none", out.ErrorKind, out.Error, srv.Handshakes())
	}
}

// A webhook's transports are built once per TLS configuration, not per
// attempt: attempts from fresh targets (as after every change of the
// webhook, and for every ping) reuse one connection, a new certificate
// makes new transports, and the cache keeps at most MaxTLSTransports
// webhooks.
func TestMutualTLSTransportsCached(t *testing.T) {
	serverCA, clientCA := pkitest.NewCA(t, "server CA"), pkitest.NewCA(t, "client CA")
	srv := newMTLSServer(t, serverCA.Server(t, "127.0.0.1"), clientCA)
	sender := NewSenderWith(netguard.Guard{AllowPrivate: true}, senderTestUserAgent, SenderOptions{MaxTLSTransports: 2})
	first := tlsOf(clientCA.Client(t, "first", pkitest.Options{}), serverCA)
	send := func(id string, tc *store.TLSConfig) {
		t.Helper()
		if out := sender.Send(context.Background(), tlsTarget(t, id, srv.URL, tc), senderTestMessage()); !out.OK() {
			t.Fatalf("send for %s: %s %s", id, out.ErrorKind, out.Error)
		}
	}
	for range 10 {
		send("wh-a", first)
	}
	if n := srv.Handshakes(); n != 1 {
		t.Fatalf("10 attempts made %d TLS handshakes, want 1", n)
	}
	renewed := tlsOf(clientCA.Client(t, "renewed", pkitest.Options{}), serverCA)
	send("wh-a", renewed)
	if n, cn := srv.Handshakes(), srv.client.Load(); n != 2 || cn != "renewed" {
		t.Fatalf("after a new certificate: %d handshakes, client %q; want 2 and the new certificate", n, cn)
	}
	send("wh-b", first)
	send("wh-c", first)
	if n := sender.tls.len(); n != 2 {
		t.Fatalf("%d webhooks' transports kept, want at most 2", n)
	}
	send("wh-a", renewed) // evicted: built again, and it works
	if n := srv.Handshakes(); n != 5 {
		t.Fatalf("%d handshakes, want 5 (one per webhook, one per new certificate, one after the eviction)", n)
	}
}

// Token requests present the client certificate too, verified with the
// webhook's roots; server_name applies to the endpoint only.
func TestMutualTLSTokenRequests(t *testing.T) {
	serverCA, clientCA := pkitest.NewCA(t, "server CA"), pkitest.NewCA(t, "client CA")
	endpoint := newMTLSServer(t, serverCA.Server(t, "hooks.bank.example"), clientCA)
	var tokenClient atomic.Value
	tokenClient.Store("")
	tokens := pkitest.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tokenClient.Store(r.TLS.PeerCertificates[0].Subject.CommonName)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"access_token":"tok","token_type":"Bearer","expires_in":3600}`)
	}), serverCA.Server(t, "127.0.0.1"), clientCA)
	tc := tlsOf(clientCA.Client(t, "herald-client", pkitest.Options{}), serverCA)
	tc.ServerName = "hooks.bank.example"
	tg, err := NewTarget(store.Webhook{ID: "wh-o", Endpoint: endpoint.URL, Events: []string{"*"}, Status: store.WebhookActive, Secret: senderTestSecret,
		Config: store.WebhookConfig{TLS: tc, OAuth2: &store.OAuth2Config{TokenURL: tokens.URL + "/token", ClientID: "c", ClientSecret: "s"}}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	out := senderTestOpen().Send(context.Background(), tg, senderTestMessage())
	if !out.OK() {
		t.Fatalf("send: %s %s", out.ErrorKind, out.Error)
	}
	if got := tokenClient.Load(); got != "herald-client" {
		t.Fatalf("the token endpoint saw client certificate %q", got)
	}
	// Without the certificate the same token endpoint refuses Herald.
	tc2 := *tg
	tc2.Webhook.Config.TLS = nil
	tc2.tlsKey = ""
	tc2.Webhook.ID = "wh-o2"
	if out := senderTestOpen().Send(context.Background(), &tc2, senderTestMessage()); out.ErrorKind != ErrKindOAuth2Token || !strings.Contains(out.Error, "token endpoint") {
		t.Fatalf("without config.tls: %s %s, want oauth2_token", out.ErrorKind, out.Error)
	}
}
