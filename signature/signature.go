// Package signature signs and verifies webhook requests the way the Standard
// Webhooks specification describes: an HMAC-SHA256 over
// "<webhook-id>.<webhook-timestamp>.<body>", keyed with the base64 secret
// after its "whsec_" prefix, sent as "v1,<base64>" entries in the
// webhook-signature header. Herald signs with it; receivers verify with it.
package signature

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names of the Standard Webhooks specification.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every signing secret.
const SecretPrefix = "whsec_"

// DefaultTolerance is how far a timestamp may be from now before Verify
// refuses it.
const DefaultTolerance = 5 * time.Minute

// Errors Verify reports, so receivers can tell an attack from a clock skew.
var (
	ErrMissingHeaders   = errors.New("signature: missing webhook-id, webhook-timestamp or webhook-signature header")
	ErrInvalidTimestamp = errors.New("signature: webhook-timestamp is not a Unix time")
	ErrTimestampTooOld  = errors.New("signature: webhook-timestamp is too old")
	ErrTimestampTooNew  = errors.New("signature: webhook-timestamp is too far in the future")
	ErrNoMatch          = errors.New("signature: no signature matches")
	ErrInvalidSecret    = errors.New("signature: secret is not whsec_ followed by base64")
)

// NewSecret returns a fresh random signing secret (24 random bytes).
func NewSecret() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("new secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// Signer computes signatures for one or more secrets. Build it once per
// secret set and reuse it: the keys are decoded once.
type Signer struct {
	keys [][]byte
}

// NewSigner decodes secrets for signing.
func NewSigner(secrets ...string) (*Signer, error) {
	s := &Signer{keys: make([][]byte, 0, len(secrets))}
	for _, sec := range secrets {
		k, err := decodeSecret(sec)
		if err != nil {
			return nil, err
		}
		s.keys = append(s.keys, k)
	}
	return s, nil
}

func decodeSecret(secret string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil || len(k) == 0 {
		return nil, ErrInvalidSecret
	}
	return k, nil
}

// Sign returns the webhook-signature header value for a message: one
// "v1,<base64>" entry per secret, space separated.
func (s *Signer) Sign(id string, ts time.Time, body []byte) string {
	var b strings.Builder
	unix := strconv.FormatInt(ts.Unix(), 10)
	for i, k := range s.keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("v1,")
		b.WriteString(base64.StdEncoding.EncodeToString(mac(k, id, unix, body)))
	}
	return b.String()
}

// SetHeaders sets the three Standard Webhooks headers on h.
func (s *Signer) SetHeaders(h http.Header, id string, ts time.Time, body []byte) {
	h[http.CanonicalHeaderKey(HeaderID)] = []string{id}
	h[http.CanonicalHeaderKey(HeaderTimestamp)] = []string{strconv.FormatInt(ts.Unix(), 10)}
	h[http.CanonicalHeaderKey(HeaderSignature)] = []string{s.Sign(id, ts, body)}
}

func mac(key []byte, id, unix string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(unix))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a request's Standard Webhooks headers against body with any
// of secrets, refusing timestamps more than tolerance away from now (0 means
// DefaultTolerance). Comparisons are constant-time.
func Verify(secrets []string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, unix, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || unix == "" || sigs == "" {
		return ErrMissingHeaders
	}
	sec, err := strconv.ParseInt(unix, 10, 64)
	if err != nil {
		return ErrInvalidTimestamp
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	ts := time.Unix(sec, 0)
	if now.Sub(ts) > tolerance {
		return ErrTimestampTooOld
	}
	if ts.Sub(now) > tolerance {
		return ErrTimestampTooNew
	}
	for _, secret := range secrets {
		k, err := decodeSecret(secret)
		if err != nil {
			return err
		}
		want := mac(k, id, unix, body)
		for _, entry := range strings.Fields(sigs) {
			version, sig, ok := strings.Cut(entry, ",")
			if !ok || version != "v1" {
				continue
			}
			got, err := base64.StdEncoding.DecodeString(sig)
			if err == nil && hmac.Equal(got, want) {
				return nil
			}
		}
	}
	return ErrNoMatch
}
