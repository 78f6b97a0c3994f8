// Package signature signs and verifies webhook requests the way the Standard
// Webhooks specification describes. The signed content is
// "<webhook-id>.<webhook-timestamp>.<body>", and the webhook-signature header
// holds space-separated entries, one per key:
//
//   - "v1,<base64>": an HMAC-SHA256 keyed with a symmetric secret, the
//     base64 after its "whsec_" prefix;
//   - "v1a,<base64>": an Ed25519 signature made with a secret key
//     ("whsk_" and the base64 of its 32-byte seed) and verified with its
//     public key ("whpk_" and the base64 of its 32 bytes).
//
// Herald signs with it; receivers verify with it. A key's prefix tells the
// scheme, so one list of keys may mix both (as during a change of scheme,
// when the old key keeps signing alongside the new one).
package signature

import (
	"crypto/ed25519"
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

// Key prefixes of the Standard Webhooks specification.
const (
	// SecretPrefix starts every symmetric (HMAC-SHA256) signing secret.
	SecretPrefix = "whsec_"
	// SecretKeyPrefix starts an Ed25519 secret key (its seed): it signs.
	SecretKeyPrefix = "whsk_"
	// PublicKeyPrefix starts an Ed25519 public key: it only verifies.
	PublicKeyPrefix = "whpk_"
)

// Signature versions: the part before the comma of a webhook-signature entry.
const (
	VersionHMAC    = "v1"
	VersionEd25519 = "v1a"
)

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
	ErrInvalidSecret    = errors.New("signature: key is not whsec_ followed by base64, or whsk_ or whpk_ followed by the base64 of 32 bytes")
	// ErrPublicKey: a public key was given to sign with.
	ErrPublicKey = errors.New("signature: a whpk_ public key cannot sign; use its whsk_ secret key")
)

// NewSecret returns a fresh random signing secret (24 random bytes).
func NewSecret() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("new secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// Signer computes signatures for one or more keys. Build it once per key
// set and reuse it: the keys are decoded once.
type Signer struct {
	keys []signingKey
}

// signingKey is an HMAC secret or, when ed is set, an Ed25519 private key.
type signingKey struct {
	hmac []byte
	ed   ed25519.PrivateKey
}

// NewSigner decodes keys for signing: whsec_ secrets sign "v1", whsk_ secret
// keys sign "v1a" (a key with neither prefix is read as an HMAC secret).
func NewSigner(keys ...string) (*Signer, error) {
	s := &Signer{keys: make([]signingKey, 0, len(keys))}
	for _, key := range keys {
		switch {
		case strings.HasPrefix(key, SecretKeyPrefix):
			priv, err := decodeSecretKey(key)
			if err != nil {
				return nil, err
			}
			s.keys = append(s.keys, signingKey{ed: priv})
		case strings.HasPrefix(key, PublicKeyPrefix):
			return nil, ErrPublicKey
		default:
			k, err := decodeSecret(key)
			if err != nil {
				return nil, err
			}
			s.keys = append(s.keys, signingKey{hmac: k})
		}
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

// Sign returns the webhook-signature header value for a message: one entry
// per key ("v1,<base64>" or "v1a,<base64>"), space separated.
func (s *Signer) Sign(id string, ts time.Time, body []byte) string {
	var b strings.Builder
	unix := strconv.FormatInt(ts.Unix(), 10)
	var content []byte // id.timestamp.body, built once for Ed25519 keys
	for i, k := range s.keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		if k.ed != nil {
			if content == nil {
				content = signedContent(id, unix, body)
			}
			b.WriteString(VersionEd25519 + ",")
			b.WriteString(base64.StdEncoding.EncodeToString(ed25519.Sign(k.ed, content)))
			continue
		}
		b.WriteString(VersionHMAC + ",")
		b.WriteString(base64.StdEncoding.EncodeToString(mac(k.hmac, id, unix, body)))
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

func signedContent(id, unix string, body []byte) []byte {
	c := make([]byte, 0, len(id)+len(unix)+2+len(body))
	c = append(c, id...)
	c = append(c, '.')
	c = append(c, unix...)
	c = append(c, '.')
	return append(c, body...)
}

// Verify checks a request's Standard Webhooks headers against body with any
// of keys (whsec_ secrets check "v1" entries, whpk_ public keys and whsk_
// secret keys check "v1a" entries), refusing timestamps more than tolerance
// away from now (0 means DefaultTolerance). HMAC comparisons are
// constant-time. The headers are checked before the keys are decoded.
func Verify(keys []string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, unix, sigs, err := checkHeaders(h, now, tolerance)
	if err != nil {
		return err
	}
	v, err := NewVerifier(keys...)
	if err != nil {
		return err
	}
	return v.match(id, unix, sigs, body)
}

// Verifier checks signatures with a set of keys decoded once (see Verify).
type Verifier struct {
	hmac [][]byte
	ed   []ed25519.PublicKey
}

// NewVerifier decodes keys for verification: whsec_ secrets (or bare
// base64), whpk_ public keys and whsk_ secret keys (their public half).
func NewVerifier(keys ...string) (*Verifier, error) {
	v := &Verifier{}
	for _, key := range keys {
		switch {
		case strings.HasPrefix(key, PublicKeyPrefix):
			pub, err := decodePublicKey(key)
			if err != nil {
				return nil, err
			}
			v.ed = append(v.ed, pub)
		case strings.HasPrefix(key, SecretKeyPrefix):
			priv, err := decodeSecretKey(key)
			if err != nil {
				return nil, err
			}
			v.ed = append(v.ed, priv.Public().(ed25519.PublicKey))
		default:
			k, err := decodeSecret(key)
			if err != nil {
				return nil, err
			}
			v.hmac = append(v.hmac, k)
		}
	}
	return v, nil
}

// Verify checks a request's headers against body as the package-level
// Verify does, with the verifier's keys.
func (v *Verifier) Verify(h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, unix, sigs, err := checkHeaders(h, now, tolerance)
	if err != nil {
		return err
	}
	return v.match(id, unix, sigs, body)
}

// checkHeaders reads the three headers and refuses a timestamp outside
// tolerance of now.
func checkHeaders(h http.Header, now time.Time, tolerance time.Duration) (id, unix, sigs string, err error) {
	id, unix, sigs = h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || unix == "" || sigs == "" {
		return "", "", "", ErrMissingHeaders
	}
	sec, err := strconv.ParseInt(unix, 10, 64)
	if err != nil {
		return "", "", "", ErrInvalidTimestamp
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	ts := time.Unix(sec, 0)
	if now.Sub(ts) > tolerance {
		return "", "", "", ErrTimestampTooOld
	}
	if ts.Sub(now) > tolerance {
		return "", "", "", ErrTimestampTooNew
	}
	return id, unix, sigs, nil
}

func (v *Verifier) match(id, unix, sigs string, body []byte) error {
	var content []byte
	for _, entry := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err != nil {
			continue
		}
		switch version {
		case VersionHMAC:
			for _, k := range v.hmac {
				if hmac.Equal(got, mac(k, id, unix, body)) {
					return nil
				}
			}
		case VersionEd25519:
			if len(got) != ed25519.SignatureSize {
				continue
			}
			if content == nil {
				content = signedContent(id, unix, body)
			}
			for _, pub := range v.ed {
				if ed25519.Verify(pub, content, got) {
					return nil
				}
			}
		}
	}
	return ErrNoMatch
}
