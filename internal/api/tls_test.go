package api_test

import (
	"bytes"
	"encoding/base64"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/pkitest"
)

// bank is a client's private PKI: an endpoint requiring client certificates
// of clientCA, with a server certificate of serverCA.
type bank struct {
	serverCA, clientCA *pkitest.CA
	srv                *pkitest.Server
	seen               atomic.Value // string: CommonName of the last client certificate
}

func newBank(t *testing.T) *bank {
	t.Helper()
	b := &bank{serverCA: pkitest.NewCA(t, "bank server CA"), clientCA: pkitest.NewCA(t, "bank client CA")}
	b.seen.Store("")
	b.srv = b.endpoint(t, "127.0.0.1")
	return b
}

// endpoint starts another endpoint of the same PKI, on 127.0.0.1 with a
// certificate for hosts.
func (b *bank) endpoint(t *testing.T, hosts ...string) *pkitest.Server {
	t.Helper()
	return pkitest.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.seen.Store(r.TLS.PeerCertificates[0].Subject.CommonName)
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}), b.serverCA.Server(t, hosts...), b.clientCA)
}

func (b *bank) tls(client pkitest.Issued) map[string]any {
	return map[string]any{"client_certificate": client.CertPEM, "client_key": client.KeyPEM, "ca_certificates": b.serverCA.PEM}
}

type tlsAnswer struct {
	ID     string `json:"id"`
	Config struct {
		TLS *struct {
			ClientCertificate string  `json:"client_certificate"`
			ClientKey         string  `json:"client_key"`
			CACertificates    *string `json:"ca_certificates"`
			ServerName        *string `json:"server_name"`
			Expires           string  `json:"client_certificate_expires"`
		} `json:"tls"`
	} `json:"config"`
}

// keyBody is the base64 body of a PEM key: what must never appear in clear.
func keyBody(t *testing.T, keyPEM string) string {
	t.Helper()
	block, _ := pem.Decode([]byte(keyPEM))
	return base64.StdEncoding.EncodeToString(block.Bytes)[:40]
}

// A webhook with config.tls, through the API and real deliveries on both
// stores: the certificate is presented on deliveries and pings, the key is
// masked in every answer and sealed at rest, the expiry is shown, a GET
// answer PUT back changes nothing, and the key does not follow the endpoint
// to another origin unless sent again.
func TestMutualTLSWebhook(t *testing.T) {
	onBothStores(t, func(t *testing.T, o heraldtest.Options) {
		var logs syncBuffer
		o.Log = &logs
		if o.DatabaseURL == "" {
			o.DataDir = t.TempDir()
		}
		in := heraldtest.Start(t, o)
		b := newBank(t)
		client := b.clientCA.Client(t, "herald-client", pkitest.Options{NotAfter: time.Now().Add(10 * 24 * time.Hour)})
		body := hookBody(b.srv.URL)
		body["config"] = map[string]any{"tls": b.tls(client), "max_retries": 0}
		r := in.Admin(t, "POST", "/webhooks", body)
		wantStatus(t, r, http.StatusCreated)
		var created tlsAnswer
		r.JSON(t, &created)
		tc := created.Config.TLS
		if tc == nil || tc.ClientKey != "********" || tc.ClientCertificate != client.CertPEM || tc.CACertificates == nil || *tc.CACertificates != b.serverCA.PEM || tc.ServerName != nil {
			t.Fatalf("config.tls in the answer: %s", r.Body)
		}
		if want := client.Cert.NotAfter.UTC().Format("2006-01-02T15:04:05.000Z07:00"); tc.Expires != want {
			t.Fatalf("client_certificate_expires = %q, want %q", tc.Expires, want)
		}
		hook := "/webhooks/" + created.ID

		publish(t, in, heraldtest.AdminKey, cardEvent)
		waitFor(t, in, heraldtest.AdminKey, map[string]any{"webhook_id": created.ID, "status": "DELIVERED"}, 1)
		if got := b.seen.Load(); got != "herald-client" {
			t.Fatalf("the endpoint saw client certificate %q", got)
		}
		var ping struct {
			Success bool   `json:"success"`
			Error   string `json:"error"`
		}
		b.seen.Store("")
		in.Admin(t, "POST", hook+":ping", nil).JSON(t, &ping)
		if !ping.Success || b.seen.Load() != "herald-client" {
			t.Fatalf("ping: %+v, endpoint saw %q", ping, b.seen.Load())
		}

		// A GET answer PUT back changes nothing.
		got := in.Admin(t, "GET", hook, nil)
		fetchOpenAPI(t, in).checkAnswer(t, "GET", "/webhooks/{id}", got)
		var whole map[string]any
		got.JSON(t, &whole)
		put := map[string]any{"endpoint": whole["endpoint"], "events": whole["events"], "config": whole["config"]}
		wantStatus(t, in.Admin(t, "PUT", hook, put), http.StatusOK)
		var after tlsAnswer
		in.Admin(t, "GET", hook, nil).JSON(t, &after)
		if after.Config.TLS == nil || after.Config.TLS.ClientCertificate != client.CertPEM || after.Config.TLS.Expires != tc.Expires {
			t.Fatalf("after a GET answer was PUT back: %+v", after.Config.TLS)
		}
		in.Admin(t, "POST", hook+":ping", nil).JSON(t, &ping)
		if !ping.Success {
			t.Fatalf("ping after PUT back: %+v", ping)
		}

		// The stored key is not presented to another origin unless sent
		// again.
		other := b.endpoint(t, "127.0.0.1")
		masked := b.tls(client)
		masked["client_key"] = "********"
		wantError(t, in.Admin(t, "PUT", hook, map[string]any{"endpoint": other.URL}), http.StatusBadRequest, "invalid_request", "config.tls.client_key")
		wantError(t, in.Admin(t, "PUT", hook, map[string]any{"endpoint": other.URL, "config": map[string]any{"tls": masked}}), http.StatusBadRequest, "invalid_request", "config.tls.client_key")
		wantError(t, in.Admin(t, "PUT", hook, map[string]any{"config": map[string]any{"oauth2": map[string]any{
			"token_url": other.URL + "/token", "client_id": "c", "client_secret": "s"}}}), http.StatusBadRequest, "invalid_request", "config.tls.client_key")
		wantStatus(t, in.Admin(t, "PUT", hook, map[string]any{"config": map[string]any{"tls": masked}}), http.StatusOK) // same origin
		wantStatus(t, in.Admin(t, "PUT", hook, map[string]any{"endpoint": other.URL, "config": map[string]any{"tls": b.tls(client)}}), http.StatusOK)
		in.Admin(t, "POST", hook+":ping", nil).JSON(t, &ping)
		if !ping.Success {
			t.Fatalf("ping at the new endpoint: %+v", ping)
		}

		// Without it, the endpoint refuses Herald: a TLS error.
		wantStatus(t, in.Admin(t, "PUT", hook, map[string]any{"config": map[string]any{"tls": nil}}), http.StatusOK)
		var removed tlsAnswer
		in.Admin(t, "GET", hook, nil).JSON(t, &removed)
		if removed.Config.TLS != nil {
			t.Fatal("config.tls: null did not remove it")
		}
		var failed struct {
			Success   bool   `json:"success"`
			ErrorKind string `json:"error_kind"`
		}
		in.Admin(t, "POST", hook+":ping", nil).JSON(t, &failed)
		if failed.Success || failed.ErrorKind != "tls" {
			t.Fatalf("ping without a client certificate: %+v, want a tls failure", failed)
		}

		// The key never appears in clear: answers, logs, database files.
		secret := keyBody(t, client.KeyPEM)
		var answers []byte
		for _, path := range []string{"/webhooks", hook} {
			answers = append(answers, in.Admin(t, "GET", path, nil).Body...)
		}
		if bytes.Contains(answers, []byte(secret)) || strings.Contains(logs.String(), secret) {
			t.Fatal("the client key appears in an answer or the logs")
		}
		if o.DatabaseURL != "" {
			return
		}
		if err := in.Service.Close(); err != nil {
			t.Fatal(err)
		}
		files, _ := filepath.Glob(filepath.Join(o.DataDir, "herald.db*"))
		if len(files) == 0 {
			t.Fatal("no database files")
		}
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(raw, []byte(secret)) || bytes.Contains(raw, []byte("PRIVATE KEY")) {
				t.Errorf("%s holds the client key in clear", filepath.Base(f))
			}
		}
	})
}

// config.tls is checked at registration: each mistake is a 400 naming the
// member at fault, and nothing is stored.
func TestMutualTLSValidation(t *testing.T) {
	in := newStart(t)
	b := newBank(t)
	good := b.clientCA.Client(t, "herald-client", pkitest.Options{})
	other := b.clientCA.Client(t, "other", pkitest.Options{})
	expired := b.clientCA.Client(t, "expired", pkitest.Options{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	early := b.clientCA.Client(t, "early", pkitest.Options{NotBefore: time.Now().Add(24 * time.Hour), NotAfter: time.Now().Add(48 * time.Hour)})
	encrypted := strings.Replace(good.KeyPEM, "PRIVATE KEY", "ENCRYPTED PRIVATE KEY", 2)
	with := func(change map[string]any) map[string]any {
		m := b.tls(good)
		for k, v := range change {
			if v == nil {
				delete(m, k)
				continue
			}
			m[k] = v
		}
		return m
	}
	for _, tc := range []struct {
		name     string
		endpoint string
		tls      any
		field    string
	}{
		{"no certificate", "", with(map[string]any{"client_certificate": nil}), "config.tls.client_certificate"},
		{"certificate not PEM", "", with(map[string]any{"client_certificate": "MIIB..."}), "config.tls.client_certificate"},
		{"key in the certificate", "", with(map[string]any{"client_certificate": good.KeyPEM}), "config.tls.client_certificate"},
		{"certificate with trailing text", "", with(map[string]any{"client_certificate": good.CertPEM + "junk"}), "config.tls.client_certificate"},
		{"certificate that does not parse", "", with(map[string]any{"client_certificate": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}), "config.tls.client_certificate"},
		{"expired certificate", "", with(map[string]any{"client_certificate": expired.CertPEM, "client_key": expired.KeyPEM}), "config.tls.client_certificate"},
		{"certificate not valid yet", "", with(map[string]any{"client_certificate": early.CertPEM, "client_key": early.KeyPEM}), "config.tls.client_certificate"},
		{"no key", "", with(map[string]any{"client_key": nil}), "config.tls.client_key"},
		{"key of another certificate", "", with(map[string]any{"client_key": other.KeyPEM}), "config.tls.client_key"},
		{"encrypted key", "", with(map[string]any{"client_key": encrypted}), "config.tls.client_key"},
		{"key not PEM", "", with(map[string]any{"client_key": "secret"}), "config.tls.client_key"},
		{"certificate as key", "", with(map[string]any{"client_key": good.CertPEM}), "config.tls.client_key"},
		{"masked key on create", "", with(map[string]any{"client_key": "********"}), "config.tls.client_key"},
		{"roots not PEM", "", with(map[string]any{"ca_certificates": "roots"}), "config.tls.ca_certificates"},
		{"key among the roots", "", with(map[string]any{"ca_certificates": b.serverCA.PEM + good.KeyPEM}), "config.tls.ca_certificates"},
		{"server name with a port", "", with(map[string]any{"server_name": "hooks.bank.example:443"}), "config.tls.server_name"},
		{"server name URL", "", with(map[string]any{"server_name": "https://hooks.bank.example"}), "config.tls.server_name"},
		{"unknown member", "", with(map[string]any{"pin": "1234"}), "config.tls.pin"},
		{"key of the wrong type", "", with(map[string]any{"client_key": 7}), "config.tls.client_key"},
		{"not an object", "", "PEM", "config.tls"},
		{"http endpoint", "http://127.0.0.1:9/hooks", b.tls(good), "config.tls"},
		{"huge certificate", "", with(map[string]any{"client_certificate": strings.Repeat("A", 70<<10)}), "config.tls.client_certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			endpoint := b.srv.URL
			if tc.endpoint != "" {
				endpoint = tc.endpoint
			}
			body := hookBody(endpoint)
			body["config"] = map[string]any{"tls": tc.tls}
			wantError(t, in.Admin(t, "POST", "/webhooks", body), http.StatusBadRequest, "invalid_request", tc.field)
		})
	}
	if ids := listHookIDs(t, in, heraldtest.AdminKey); len(ids) != 0 {
		t.Fatalf("%d webhooks stored from refused requests", len(ids))
	}
	// What does pass: the minimum, server_name and null members.
	for _, tlsBody := range []map[string]any{
		{"client_certificate": good.CertPEM, "client_key": good.KeyPEM},
		with(map[string]any{"server_name": "hooks.bank.example", "ca_certificates": nil}),
		with(map[string]any{"server_name": nil, "ca_certificates": ""}),
	} {
		body := hookBody(b.srv.URL)
		body["config"] = map[string]any{"tls": tlsBody}
		wantStatus(t, in.Admin(t, "POST", "/webhooks", body), http.StatusCreated)
	}
}
