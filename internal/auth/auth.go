// Package auth makes and checks API keys. A key is shown once, when it is
// created; Herald keeps only its SHA-256 hash (keys carry 256 random bits, so
// a fast hash is enough) and a short prefix for people to recognise it by.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/store"
)

// KeyPrefix starts every Herald API key, so a leaked one is easy to spot.
const KeyPrefix = "hk_"

// NewKey returns a fresh random API key.
func NewKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("new api key: %w", err)
	}
	return KeyPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// Hash is the stored form of a key.
func Hash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// Prefix is the part of a key that may be shown after creation.
func Prefix(key string) string {
	if len(key) <= 10 {
		return key
	}
	return key[:10]
}

// FromRequest reads the API key of a request: header "apikey" (as nCore) or
// "Authorization: Bearer <key>".
func FromRequest(r *http.Request) string {
	if k := strings.TrimSpace(r.Header.Get("apikey")); k != "" {
		return k
	}
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(token)
	}
	return ""
}

// NewAPIKey makes a key record for tenantID and returns it with the key
// itself, which is never stored.
func NewAPIKey(tenantID string, role store.Role, now time.Time) (store.APIKey, string, error) {
	key, err := NewKey()
	if err != nil {
		return store.APIKey{}, "", err
	}
	return store.APIKey{ID: uuid.Must(uuid.NewV7()).String(), TenantID: tenantID, Role: role,
		Hash: Hash(key), Prefix: Prefix(key), Created: now}, key, nil
}

// PortalTokenPrefix starts every portal link token (POST /portal-sessions).
const PortalTokenPrefix = "hpl_"

// portalTokenLen is a token's length: the prefix and 32 random bytes.
var portalTokenLen = len(PortalTokenPrefix) + base64.RawURLEncoding.EncodedLen(32)

// NewPortalToken returns a fresh portal link token and its stored form
// (Hash): like a key, it carries 256 random bits and is kept only hashed.
func NewPortalToken() (token, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("new portal token: %w", err)
	}
	token = PortalTokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return token, Hash(token), nil
}

// IsPortalToken reports whether s has the shape of a portal token, so that
// junk in a URL never reaches the database.
func IsPortalToken(s string) bool {
	rest, ok := strings.CutPrefix(s, PortalTokenPrefix)
	if !ok || len(s) != portalTokenLen {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(rest)
	return err == nil
}
