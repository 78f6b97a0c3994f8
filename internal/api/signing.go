package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/signature"
)

// secretGrace is how long a rotated-out key keeps signing.
const secretGrace = 24 * time.Hour

// newSigningKey makes a webhook's signing key for scheme: a whsec_ secret,
// or a whsk_ Ed25519 secret key (whose public key is shown with the
// webhook).
func newSigningKey(scheme string) (string, error) {
	if scheme == store.SignatureEd25519 {
		sk, _, err := signature.NewKeyPair()
		return sk, err
	}
	return signature.NewSecret()
}

// rotateKey gives h a new signing key of its scheme; the current one keeps
// signing alongside it for secretGrace, so receivers can move over.
func rotateKey(h *store.Webhook, now time.Time) error {
	key, err := newSigningKey(h.Config.SignatureScheme())
	if err != nil {
		return err
	}
	h.PreviousSecret, h.PreviousSecretUntil = h.Secret, now.Add(secretGrace)
	h.Secret = key
	return nil
}

// applySignature reads config.signature. A change of scheme on a webhook
// that has a key is a rotation to a key of the new scheme: the old key
// keeps signing for secretGrace ("v1" and "v1a" entries side by side), so
// receivers switch without losing a delivery.
func applySignature(in nullable[string], h *store.Webhook) *apiError {
	if !in.Set {
		return nil
	}
	scheme := in.Value
	if in.Null || (scheme != store.SignatureHMAC && scheme != store.SignatureEd25519) {
		return invalid("config.signature", "must be %q or %q", store.SignatureHMAC, store.SignatureEd25519)
	}
	changed := scheme != h.Config.SignatureScheme()
	h.Config.Signature = scheme
	if scheme == store.SignatureHMAC {
		h.Config.Signature = "" // stored as the default, so a GET answer PUT back changes nothing
	}
	if changed && h.Secret != "" {
		if err := rotateKey(h, time.Now().UTC()); err != nil {
			return &apiError{Status: http.StatusInternalServerError, Code: codeInternal, Message: "no signing key could be made"}
		}
	}
	return nil
}

// publicKey is the whpk_ public key receivers verify an Ed25519 webhook
// with (nil for an HMAC webhook, whose secret is never shown again).
func publicKey(w store.Webhook) *string {
	if !strings.HasPrefix(w.Secret, signature.SecretKeyPrefix) {
		return nil
	}
	pk, err := signature.PublicKey(w.Secret)
	if err != nil {
		return nil
	}
	return &pk
}

// shownSecret is the signing secret an answer shows once: the HMAC secret
// of a webhook just created, rotated or switched to hmac-sha256 ("" for an
// Ed25519 webhook, whose secret key never leaves Herald).
func shownSecret(w store.Webhook) string {
	if strings.HasPrefix(w.Secret, signature.SecretKeyPrefix) {
		return ""
	}
	return w.Secret
}

// rotatedJSON answers a rotation: the new secret (HMAC) or public key
// (Ed25519), and when the previous key stops signing.
type rotatedJSON struct {
	Secret                  string `json:"secret,omitempty"`
	PublicKey               string `json:"public_key,omitempty"`
	PreviousSecretExpiresAt string `json:"previous_secret_expires_at"`
}

func (s *server) rotateSecret(w http.ResponseWriter, r *http.Request, p principal) error {
	id, aerr := webhookID(r)
	if aerr != nil {
		return aerr
	}
	now := time.Now().UTC()
	hook, err := s.Store.UpdateWebhook(r.Context(), p.TenantID, id, func(h *store.Webhook) error {
		h.Modified = now
		return rotateKey(h, now)
	})
	if err != nil {
		return s.storeError(r, err, "webhook "+id)
	}
	out := rotatedJSON{Secret: shownSecret(hook), PreviousSecretExpiresAt: formatTime(hook.PreviousSecretUntil)}
	if pk := publicKey(hook); pk != nil {
		out.PublicKey = *pk
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
