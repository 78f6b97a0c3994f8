package web_test

import (
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/pkitest"
)

// tlsBank is a client's endpoint behind a private PKI: it requires a client
// certificate of clientCA and records the name of the last one it saw.
type tlsBank struct {
	serverCA, clientCA *pkitest.CA
	srv                *pkitest.Server
	seen               atomic.Value // string
}

func newTLSBank(t *testing.T) *tlsBank {
	t.Helper()
	bk := &tlsBank{serverCA: pkitest.NewCA(t, "bank server CA"), clientCA: pkitest.NewCA(t, "bank client CA")}
	bk.seen.Store("")
	bk.srv = pkitest.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bk.seen.Store(r.TLS.PeerCertificates[0].Subject.CommonName)
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}), bk.serverCA.Server(t, "127.0.0.1"), bk.clientCA)
	return bk
}

// crlf is PEM as a browser posts a text area: lines ending in CRLF.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// keyLine is the first base64 line of a PEM key: what no page may show.
func keyLine(keyPEM string) string { return strings.Split(keyPEM, "\n")[1] }

type tlsConfigAnswer struct {
	Config struct {
		TimeoutSeconds int `json:"timeout_seconds"`
		TLS            *struct {
			ClientCertificate string  `json:"client_certificate"`
			ClientKey         string  `json:"client_key"`
			CACertificates    *string `json:"ca_certificates"`
			ServerName        *string `json:"server_name"`
			Expires           string  `json:"client_certificate_expires"`
		} `json:"tls"`
	} `json:"config"`
}

// Mutual TLS set from the dashboard's forms as through the API: the
// certificate is presented on pings, its expiry shown on the webhook's page
// and the edit form, the key never put in any page (not even a refused
// form's), kept while its field is left empty (but not to a new origin),
// replaced when pasted, and the configuration removed by its remove box;
// the API's refusals show beside their field.
func TestWebhookFormMutualTLS(t *testing.T) {
	in, b := startHerald(t)
	bk := newTLSBank(t)
	client := bk.clientCA.Client(t, "herald-client", pkitest.Options{NotAfter: time.Now().Add(20 * 24 * time.Hour)})
	other := bk.clientCA.Client(t, "herald-client-2", pkitest.Options{NotAfter: time.Now().Add(200 * 24 * time.Hour)})
	expired := bk.clientCA.Client(t, "old", pkitest.Options{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	b.mustSignIn(heraldtest.AdminKey, "")
	csrf := b.csrf()
	// noKey checks a page shows none of the keys.
	noKey := func(where, body string) {
		t.Helper()
		for _, k := range []string{client.KeyPEM, other.KeyPEM, expired.KeyPEM} {
			if strings.Contains(body, keyLine(k)) || strings.Contains(html.UnescapeString(body), keyLine(k)) {
				t.Errorf("%s: the page shows a private key", where)
			}
		}
	}
	invalid := func(id string) *regexp.Regexp { return regexp.MustCompile(`id="` + id + `"[^>]*aria-invalid="true"`) }

	form := b.mustPage("/ui/webhooks/new", http.StatusOK)
	for _, want := range []string{`name="config.tls.client_certificate"`, `<textarea id="f-config-tls-client-key" name="config.tls.client_key"`,
		`name="config.tls.ca_certificates"`, `name="config.tls.server_name"`} {
		if !strings.Contains(form, want) {
			t.Errorf("the new webhook form lacks %q", want)
		}
	}
	if strings.Contains(form, `name="config.tls"`) || strings.Contains(form, `id="certificate-expires"`) {
		t.Error("the new webhook form offers to remove a TLS configuration it does not have")
	}
	tlsForm := func(endpoint string, cert, key pkitest.Issued) url.Values {
		f := hookForm(csrf, endpoint)
		f.Set("config.tls.client_certificate", crlf(cert.CertPEM))
		f.Set("config.tls.client_key", crlf(key.KeyPEM))
		f.Set("config.tls.ca_certificates", crlf(bk.serverCA.PEM))
		return f
	}

	// Refusals at creation: the API's message beside the field it names
	// (the fieldset for config.tls itself), the key not shown back.
	for _, tc := range []struct {
		name, endpoint string
		cert, key      pkitest.Issued
		set            map[string]string
		id, message    string
	}{
		{"mismatched key", bk.srv.URL, client, other, nil, "f-config-tls-client-key", "does not match client_certificate"},
		{"expired", bk.srv.URL, expired, expired, nil, "f-config-tls-client-certificate", "expired on"},
		{"unparseable", bk.srv.URL, client, client, map[string]string{"config.tls.client_certificate": "not a certificate"},
			"f-config-tls-client-certificate", "must be PEM certificates"},
		{"no key", bk.srv.URL, client, client, map[string]string{"config.tls.client_key": ""}, "f-config-tls-client-key", "is required"},
		{"server name", bk.srv.URL, client, client, map[string]string{"config.tls.server_name": "https://bank.example:443"},
			"f-config-tls-server-name", "must be a host name"},
		{"plain http", "http://127.0.0.1:1/hooks", client, client, nil, "", "applies to https endpoints only"},
	} {
		f := tlsForm(tc.endpoint, tc.cert, tc.key)
		for k, v := range tc.set {
			f.Set(k, v)
		}
		p := b.post("/ui/webhooks", f)
		body := html.UnescapeString(p.Body)
		if p.Status != http.StatusBadRequest || !strings.Contains(body, tc.message) {
			t.Fatalf("%s: %d, want 400 with %q: %s", tc.name, p.Status, tc.message, p.Body)
		}
		if tc.id != "" && !invalid(tc.id).MatchString(p.Body) {
			t.Errorf("%s: the field %s is not marked invalid", tc.name, tc.id)
		}
		if tc.id == "" && !strings.Contains(p.Body, `<fieldset id="group-tls" class="has-error">`) {
			t.Errorf("%s: the refusal is not on the mutual TLS fieldset", tc.name)
		}
		noKey(tc.name, p.Body)
		if typed := f.Get("config.tls.client_key") != ""; typed != strings.Contains(p.Body, `id="f-config-tls-client-key-again"`) {
			t.Errorf("%s: a key was typed: %v, but the page's note to paste it again disagrees", tc.name, typed)
		}
		if tc.name == "expired" && !strings.Contains(strings.ReplaceAll(body, "\r\n", "\n"), expired.CertPEM[:200]) {
			t.Errorf("%s: the certificate typed is not shown again", tc.name)
		}
	}
	if ids := webhookIDs(t, in); len(ids) != 0 {
		t.Fatalf("refused forms stored webhooks %v", ids)
	}

	// Created: stored as the API would (PEM lines as LF), the key masked,
	// presented on a ping.
	p := b.post("/ui/webhooks", tlsForm(bk.srv.URL, client, client))
	if p.Status != http.StatusOK || !secretRE.MatchString(p.Body) {
		t.Fatalf("create: %d %s", p.Status, p.Body)
	}
	noKey("created", p.Body)
	id := webhookIDs(t, in)[0]
	var hook tlsConfigAnswer
	in.Admin(t, http.MethodGet, "/webhooks/"+id, nil).JSON(t, &hook)
	tc := hook.Config.TLS
	if tc == nil || tc.ClientCertificate != client.CertPEM || tc.ClientKey != "********" || tc.CACertificates == nil ||
		*tc.CACertificates != bk.serverCA.PEM || tc.ServerName != nil {
		t.Fatalf("config.tls stored from the form: %+v", tc)
	}
	ping := func(want string) {
		t.Helper()
		bk.seen.Store("")
		if p := b.post("/ui/webhooks/"+id+"/ping", url.Values{"csrf": {csrf}}); p.Status != http.StatusSeeOther {
			t.Fatalf("ping: %d %s", p.Status, p.Body)
		}
		page := b.mustPage("/ui/webhooks/"+id, http.StatusOK)
		if !strings.Contains(page, "Ping succeeded") || bk.seen.Load() != want {
			t.Fatalf("ping: the endpoint saw client certificate %q, want %q; page %s", bk.seen.Load(), want, page)
		}
		noKey("the webhook's page", page)
	}
	ping("herald-client")

	expires := client.Cert.NotAfter.UTC().Format("2006-01-02 15:04:05")
	page := html.UnescapeString(b.mustPage("/ui/webhooks/"+id, http.StatusOK))
	if !regexp.MustCompile(`id="client-certificate">[^<]*presented on every request[^<]*expires ` + expires + `.*renew it`).MatchString(page) {
		t.Errorf("the webhook's page does not show the certificate's expiry %s with a warning", expires)
	}

	// Edit: the certificate and its expiry shown, the key stored but never
	// shown; saved without it, the key is kept and still presented.
	edit := b.mustPage("/ui/webhooks/"+id+"/edit", http.StatusOK)
	noKey("the edit form", edit)
	if !strings.Contains(html.UnescapeString(edit), client.CertPEM) {
		t.Error("the edit form does not show the stored certificate")
	}
	for _, want := range []string{`id="certificate-expires"`, "it expires " + expires, "renew it",
		`<textarea id="f-config-tls-client-key" name="config.tls.client_key" rows="6" spellcheck="false" autocomplete="off" placeholder="******** (stored)"></textarea>`,
		`id="f-config-tls-client-key-stored"`, `name="config.tls"`} {
		if !strings.Contains(edit, want) {
			t.Errorf("the edit form lacks %q", want)
		}
	}
	ef := formOf(t, edit)
	ef.Set("config.timeout_seconds", "9")
	if p := b.post("/ui/webhooks/"+id+"/edit", ef); p.Status != http.StatusSeeOther {
		t.Fatalf("save without the key: %d %s", p.Status, p.Body)
	}
	in.Admin(t, http.MethodGet, "/webhooks/"+id, nil).JSON(t, &hook)
	if hook.Config.TimeoutSeconds != 9 || hook.Config.TLS == nil || hook.Config.TLS.ClientCertificate != client.CertPEM {
		t.Fatalf("after saving without the key: %+v", hook.Config)
	}
	ping("herald-client")

	// Refusals on edit: beside their field, the stored key still kept by
	// the form shown again (so that saving it next time keeps it).
	for _, tc := range []struct {
		name        string
		set         map[string]string
		id, message string
	}{
		{"mismatched key", map[string]string{"config.tls.client_key": crlf(other.KeyPEM)}, "f-config-tls-client-key", "does not match client_certificate"},
		{"another origin", map[string]string{"endpoint": "https://127.0.0.2:1/elsewhere", "auth": "none", "header_name.0": "", "header_value.0": ""}, "f-config-tls-client-key", "new origin"},
		{"certificate cleared", map[string]string{"config.tls.client_certificate": ""}, "f-config-tls-client-certificate", "is required"},
	} {
		f := formOf(t, b.mustPage("/ui/webhooks/"+id+"/edit", http.StatusOK))
		for k, v := range tc.set {
			f.Set(k, v)
		}
		p := b.post("/ui/webhooks/"+id+"/edit", f)
		if p.Status != http.StatusBadRequest || !strings.Contains(html.UnescapeString(p.Body), tc.message) || !invalid(tc.id).MatchString(p.Body) {
			t.Fatalf("edit, %s: %d, want 400 with %q beside %s: %s", tc.name, p.Status, tc.message, tc.id, p.Body)
		}
		noKey("edit, "+tc.name, p.Body)
		if !strings.Contains(p.Body, `id="f-config-tls-client-key-stored"`) || !strings.Contains(p.Body, "it expires "+expires) {
			t.Errorf("edit, %s: the form shown again forgets the stored key", tc.name)
		}
	}
	ping("herald-client")

	// A pasted key replaces the stored one (with its certificate).
	ef = formOf(t, b.mustPage("/ui/webhooks/"+id+"/edit", http.StatusOK))
	ef.Set("config.tls.client_certificate", crlf(other.CertPEM))
	ef.Set("config.tls.client_key", crlf(other.KeyPEM))
	if p := b.post("/ui/webhooks/"+id+"/edit", ef); p.Status != http.StatusSeeOther {
		t.Fatalf("replace the certificate: %d %s", p.Status, p.Body)
	}
	ping("herald-client-2")
	if edit := b.mustPage("/ui/webhooks/"+id+"/edit", http.StatusOK); !strings.Contains(edit, "it expires "+other.Cert.NotAfter.UTC().Format("2006-01-02 15:04:05")) ||
		strings.Contains(edit, "renew it") {
		t.Error("the edit form does not show the new certificate's expiry, or warns about a certificate valid for months")
	}

	// Removed by its box, whatever the fields hold.
	ef = formOf(t, b.mustPage("/ui/webhooks/"+id+"/edit", http.StatusOK))
	ef.Set("config.tls", "true")
	if p := b.post("/ui/webhooks/"+id+"/edit", ef); p.Status != http.StatusSeeOther {
		t.Fatalf("remove mutual TLS: %d %s", p.Status, p.Body)
	}
	in.Admin(t, http.MethodGet, "/webhooks/"+id, nil).JSON(t, &hook)
	if hook.Config.TLS != nil {
		t.Fatalf("after removing: config.tls %+v", hook.Config.TLS)
	}
	edit = b.mustPage("/ui/webhooks/"+id+"/edit", http.StatusOK)
	if strings.Contains(edit, `name="config.tls"`) || strings.Contains(edit, `id="certificate-expires"`) || strings.Contains(edit, "BEGIN CERTIFICATE-----\n") {
		t.Error("the edit form still shows a TLS configuration after its removal")
	}
	// Saved as shown, a webhook without TLS stays without.
	if p := b.post("/ui/webhooks/"+id+"/edit", formOf(t, edit)); p.Status != http.StatusSeeOther {
		t.Fatalf("save without TLS: %d %s", p.Status, p.Body)
	}
	in.Admin(t, http.MethodGet, "/webhooks/"+id, nil).JSON(t, &hook)
	if hook.Config.TLS != nil {
		t.Fatalf("saved without TLS: config.tls %+v", hook.Config.TLS)
	}
}
