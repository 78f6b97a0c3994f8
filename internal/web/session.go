package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// Cookie names. Every cookie is HttpOnly, SameSite=Strict, scoped to the
// dashboard's path, and Secure when the request came over TLS or Herald's
// public URL is https; a portal session's, when the portal is embedded, are
// SameSite=None, Secure and Partitioned instead (see portal.go). No cookie holds key material: the session cookie is
// a random id naming a session kept in the database.
const (
	sessionCookie = "herald_session"
	signinCookie  = "herald_signin" // double-submit token of the sign-in form
	flashCookie   = "herald_flash"
)

// Session limits: a sign-in lasts at most sessionLifetime, and ends after
// sessionIdle without a request. Activity is written at most every
// touchEvery, so browsing does not write to the database at every page.
const (
	sessionLifetime = 12 * time.Hour
	sessionIdle     = time.Hour
	touchEvery      = time.Minute
)

// csrfField is the form field carrying the CSRF token.
const csrfField = "csrf"

// session is the signed-in user of one request: the session's id (from the
// cookie; it is never stored or logged), its record, and the record of the
// API key that signed in, read with it.
type session struct {
	id  string
	rec store.Session
	key store.APIKey
}

// Admin reports whether the session acts with an admin key's rights (a
// portal session never does, whatever key made its link).
func (s *session) Admin() bool { return s.rec.PortalTenant == "" && s.key.Role == store.RoleAdmin }

// Portal reports whether a portal link opened the session.
func (s *session) Portal() bool { return s.rec.PortalTenant != "" }

// ReadOnly reports whether the session may change nothing.
func (s *session) ReadOnly() bool { return s.rec.ReadOnly }

// principal is the key record the session acts as in the API: its key's,
// or, for a portal session, that key's with client rights on the portal's
// tenant alone.
func (s *session) principal() store.APIKey {
	if !s.Portal() {
		return s.key
	}
	k := s.key
	k.Role, k.TenantID = store.RoleClient, s.rec.PortalTenant
	return k
}

// Tenant is the tenant an admin key acts on ("" for the default tenant and
// for tenant keys).
func (s *session) Tenant() string {
	if !s.Admin() {
		return ""
	}
	return s.rec.Tenant
}

var b64 = base64.RawURLEncoding

// sessionIDLen is the length of a session id: 32 random bytes, base64url.
const sessionIDLen = 43

// newSessionID returns a fresh session id and the hash stored for it.
func newSessionID() (id, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("new session id: %w", err)
	}
	id = b64.EncodeToString(b)
	return id, hashSessionID(id), nil
}

// hashSessionID is the stored form of a session id: its SHA-256, so that a
// copy of the database holds no usable cookie.
func hashSessionID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// validSessionID reports whether v looks like a session id (43 base64url
// characters), so that junk never reaches the database.
func validSessionID(v string) bool {
	if len(v) != sessionIDLen {
		return false
	}
	_, err := b64.DecodeString(v)
	return err == nil
}

// csrfToken ties a form to the session: an HMAC, keyed by the session id, of
// a fixed label. Only the holder of the cookie (HttpOnly, so not even a
// script of the page) can know it, it changes at every sign-in, and the
// database, which holds only the id's hash, cannot give it away.
func (s *session) csrfToken() string {
	m := hmac.New(sha256.New, []byte(s.id))
	m.Write([]byte("herald-ui-csrf"))
	return b64.EncodeToString(m.Sum(nil))
}

// checkCSRF reports whether the form's token belongs to the session.
func (s *session) checkCSRF(token string) bool {
	return token != "" && hmac.Equal([]byte(token), []byte(s.csrfToken()))
}

// randomToken is a random hex token (the sign-in form's double submit).
func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// cookie makes a dashboard cookie; maxAge < 0 deletes it.
func (h *handler) cookie(r *http.Request, name, value string, maxAge time.Duration) *http.Cookie {
	c := &http.Cookie{
		Name: name, Value: value, Path: h.prefix + "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: h.secure || r.TLS != nil,
	}
	if h.embedded(r) {
		// A portal session inside the platform's frame: a third-party
		// cookie, kept apart per embedding site (CHIPS).
		c.SameSite, c.Secure, c.Partitioned = http.SameSiteNoneMode, true, true
	}
	switch {
	case maxAge < 0:
		c.MaxAge = -1
		c.Expires = time.Unix(1, 0)
	case maxAge > 0:
		c.MaxAge = int(maxAge / time.Second)
	}
	return c
}

// errNoSession: the request has no live session.
var errNoSession = errors.New("no session")

// sessionFrom reads the request's session: errNoSession without a cookie,
// with a malformed one, or when the session is unknown, ended, idle too
// long or its key revoked. Activity is recorded now and then.
func (h *handler) sessionFrom(r *http.Request) (*session, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || !validSessionID(c.Value) {
		return nil, errNoSession
	}
	now := h.now()
	rec, key, err := h.store.Session(r.Context(), hashSessionID(c.Value), now, sessionIdle)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("read session: %w", err)
	}
	if now.Sub(rec.LastSeen) >= touchEvery {
		if err := h.store.TouchSession(r.Context(), rec.Hash, now); err != nil {
			h.log.Warn("dashboard session activity not recorded", "err", err)
		}
	}
	return &session{id: c.Value, rec: rec, key: key}, nil
}

// flash is a one-time message shown on the next page (post/redirect/get).
type flash struct {
	OK     bool   `json:"ok"`
	Text   string `json:"text"`
	Detail string `json:"detail,omitempty"`
}

// maxFlashDetail keeps the flash cookie well under the 4 KiB cookie limit.
const maxFlashDetail = 600

func (h *handler) setFlash(w http.ResponseWriter, r *http.Request, f flash) {
	f.Detail = truncate(f.Detail, maxFlashDetail)
	buf, _ := json.Marshal(f)
	http.SetCookie(w, h.cookie(r, flashCookie, b64.EncodeToString(buf), time.Minute))
}

// takeFlash reads and clears the flash message.
func (h *handler) takeFlash(w http.ResponseWriter, r *http.Request) *flash {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	http.SetCookie(w, h.cookie(r, flashCookie, "", -1))
	buf, err := b64.DecodeString(c.Value)
	if err != nil {
		return nil
	}
	var f flash
	if json.Unmarshal(buf, &f) != nil || f.Text == "" {
		return nil
	}
	return &f
}

// truncate shortens s to at most n bytes (on a rune boundary), marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
