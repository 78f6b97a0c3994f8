package api

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/netguard"
	"github.com/heraldhq/herald/internal/store"
)

// tlsInput is config.tls of a webhook body: absent keeps it, null removes
// it, an object replaces it whole.
type tlsInput struct {
	ClientCertificate *string          `json:"client_certificate"`
	ClientKey         *string          `json:"client_key"`
	CACertificates    nullable[string] `json:"ca_certificates"`
	ServerName        nullable[string] `json:"server_name"`
	// ClientCertificateExpires is in every answer, so a GET answer PUT
	// back holds it: accepted and ignored (it is read from the certificate).
	ClientCertificateExpires json.RawMessage `json:"client_certificate_expires"`
}

// tlsJSON is config.tls as answers show it: the key masked, the
// certificate's expiry read from it.
type tlsJSON struct {
	ClientCertificate        string  `json:"client_certificate"`
	ClientKey                string  `json:"client_key"`
	CACertificates           *string `json:"ca_certificates"`
	ServerName               *string `json:"server_name"`
	ClientCertificateExpires string  `json:"client_certificate_expires"`
}

func toTLSJSON(c *store.TLSConfig) *tlsJSON {
	if c == nil {
		return nil
	}
	out := &tlsJSON{ClientCertificate: c.ClientCertificate, ClientKey: mask, ClientCertificateExpires: formatTime(c.ClientCertificateExpires)}
	if c.CACertificates != "" {
		out.CACertificates = &c.CACertificates
	}
	if c.ServerName != "" {
		out.ServerName = &c.ServerName
	}
	return out
}

// Bounds of config.tls.
const (
	maxPEM = 64 << 10 // each PEM member
	// maxNotBeforeSkew is how far in the future a certificate's NotBefore
	// may lie (clocks differ); a later one would be refused by servers
	// until then.
	maxNotBeforeSkew = 5 * time.Minute
)

// origins are the places a webhook's client certificate is presented to:
// its endpoint and its OAuth2 token endpoint.
func origins(h *store.Webhook) []string {
	var out []string
	for _, u := range []string{h.Endpoint, tokenURL(h.Config.OAuth2)} {
		if o, ok := origin(u); ok {
			out = append(out, o)
		}
	}
	return out
}

func tokenURL(o *store.OAuth2Config) string {
	if o == nil {
		return ""
	}
	return o.TokenURL
}

// applyTLS reads config.tls (raw: absent, null or an object) after the
// endpoint and oauth2 are applied. before are the origins the stored client
// key was presented to: a key the request does not send again (masked, or
// config.tls left out) is not presented to any other, for the reason
// credentials do not follow the endpoint (resendOnMove).
func applyTLS(raw json.RawMessage, h *store.Webhook, before []string) *apiError {
	moved := slices.ContainsFunc(origins(h), func(o string) bool { return !slices.Contains(before, o) })
	switch {
	case len(raw) == 0:
		if h.Config.TLS != nil && moved {
			return invalid("config.tls.client_key", "is not presented to a new origin (scheme, host or port): the endpoint or oauth2.token_url moves, so send config.tls again in this request, or remove it with \"tls\": null")
		}
	case isNull(raw):
		h.Config.TLS = nil
	default:
		var in tlsInput
		if err := decodeBytes(raw, &in); err != nil {
			err.Field = strings.TrimSuffix("config.tls."+err.Field, ".")
			return err
		}
		next, err := checkTLS(in, h.Config.TLS, moved, time.Now())
		if err != nil {
			return err
		}
		h.Config.TLS = next
	}
	if h.Config.TLS != nil && !strings.HasPrefix(h.Endpoint, "https://") {
		return invalid("config.tls", "applies to https endpoints only")
	}
	return nil
}

// checkTLS validates config.tls against what is stored (a masked key keeps
// the stored one unless moved) at now.
func checkTLS(in tlsInput, stored *store.TLSConfig, moved bool, now time.Time) (*store.TLSConfig, *apiError) {
	const field = "config.tls."
	if in.ClientCertificate == nil || *in.ClientCertificate == "" {
		return nil, invalid(field+"client_certificate", "is required: the PEM client certificate, then any intermediates")
	}
	certs, aerr := parseCertificates(*in.ClientCertificate, field+"client_certificate")
	if aerr != nil {
		return nil, aerr
	}
	leaf := certs[0]
	if !now.Before(leaf.NotAfter) {
		return nil, invalid(field+"client_certificate", "expired on %s", formatTime(leaf.NotAfter))
	}
	if leaf.NotBefore.After(now.Add(maxNotBeforeSkew)) {
		return nil, invalid(field+"client_certificate", "is not valid until %s: register it then", formatTime(leaf.NotBefore))
	}
	if in.ClientKey == nil || *in.ClientKey == "" {
		return nil, invalid(field+"client_key", "is required: the certificate's PEM private key")
	}
	key := *in.ClientKey
	if key == mask {
		switch {
		case stored == nil:
			return nil, invalid(field+"client_key", "is masked but no client key is stored")
		case moved:
			return nil, invalid(field+"client_key", "is masked, but the endpoint or oauth2.token_url moves to a new origin (scheme, host or port), where the key stored for the old one is not presented: send it again, or remove config.tls")
		}
		key = stored.ClientKey
	} else if aerr := checkKeyPEM(key, field+"client_key"); aerr != nil {
		return nil, aerr
	}
	if _, err := tls.X509KeyPair([]byte(*in.ClientCertificate), []byte(key)); err != nil {
		if strings.Contains(err.Error(), "does not match") {
			return nil, invalid(field+"client_key", "does not match client_certificate (it is the key of another certificate)")
		}
		return nil, invalid(field+"client_key", "is not a private key Herald can use: an unencrypted PEM key in PKCS #8, PKCS #1 (RSA) or SEC 1 (EC)")
	}
	out := &store.TLSConfig{ClientCertificate: *in.ClientCertificate, ClientKey: key, ClientCertificateExpires: leaf.NotAfter.UTC()}
	if ca := in.CACertificates; ca.Set && ca.Value != "" {
		if _, aerr := parseCertificates(ca.Value, field+"ca_certificates"); aerr != nil {
			return nil, aerr
		}
		out.CACertificates = ca.Value
	}
	if sn := in.ServerName; sn.Set && sn.Value != "" {
		name, err := netguard.NormalizeHost(sn.Value)
		if err != nil || strings.ContainsAny(sn.Value, ":/") || len(name) > 253 {
			return nil, invalid(field+"server_name", "must be a host name (or IP address) the endpoint's certificate is for, without scheme or port")
		}
		out.ServerName = name
	}
	return out, nil
}

// parseCertificates reads a PEM text of one or more certificates.
func parseCertificates(text, field string) ([]*x509.Certificate, *apiError) {
	if len(text) > maxPEM {
		return nil, invalid(field, "is longer than %d bytes", maxPEM)
	}
	var certs []*x509.Certificate
	rest := []byte(text)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			if strings.Contains(block.Type, "PRIVATE KEY") {
				return nil, invalid(field, "holds a private key: only certificates go here (the key goes in config.tls.client_key)")
			}
			return nil, invalid(field, "holds a PEM block %q: only CERTIFICATE blocks go here", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, invalid(field, "certificate %d does not parse: %v", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 || strings.TrimSpace(string(rest)) != "" {
		return nil, invalid(field, "must be PEM certificates (-----BEGIN CERTIFICATE-----)")
	}
	return certs, nil
}

// checkKeyPEM refuses what is not one unencrypted PEM private key, saying
// why (the detail that tls.X509KeyPair does not give).
func checkKeyPEM(text, field string) *apiError {
	if len(text) > maxPEM {
		return invalid(field, "is longer than %d bytes", maxPEM)
	}
	block, rest := pem.Decode([]byte(text))
	switch {
	case block == nil:
		return invalid(field, "must be a PEM private key (-----BEGIN PRIVATE KEY-----)")
	case strings.Contains(block.Type, "ENCRYPTED") || strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED"):
		return invalid(field, "is encrypted: send it decrypted (Herald encrypts it at rest and never shows it)")
	case !strings.HasSuffix(block.Type, "PRIVATE KEY"):
		return invalid(field, "holds a PEM block %q, not a private key", block.Type)
	case strings.TrimSpace(string(rest)) != "":
		return invalid(field, "must hold one private key and nothing else")
	}
	return nil
}
