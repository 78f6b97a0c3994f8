package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// Cookie names. Every cookie is HttpOnly, SameSite=Strict, scoped to the
// dashboard's path, and Secure when the request came over TLS.
const (
	sessionCookie = "herald_session"
	signinCookie  = "herald_signin" // double-submit token of the sign-in form
	flashCookie   = "herald_flash"
)

// sessionTTL is how long a sign-in lasts.
const sessionTTL = 12 * time.Hour

// csrfField is the form field carrying the CSRF token.
const csrfField = "csrf"

// session is a signed-in dashboard user: the API key, the tenant an admin
// key acts on, and a random id renewed at every sign-in.
type session struct {
	ID     string
	Key    string
	Tenant string // Herald-Tenant for admin keys ("" for tenant keys)
	Admin  bool
}

var b64 = base64.RawURLEncoding

// encode is the cookie value: v1.<id>.<key>.<tenant>.<admin>, the free-form
// parts base64url-encoded so any key survives the cookie syntax.
func (s session) encode() string {
	admin := "0"
	if s.Admin {
		admin = "1"
	}
	return strings.Join([]string{"v1", s.ID, b64.EncodeToString([]byte(s.Key)), b64.EncodeToString([]byte(s.Tenant)), admin}, ".")
}

func decodeSession(v string) (session, bool) {
	parts := strings.Split(v, ".")
	if len(parts) != 5 || parts[0] != "v1" || len(parts[1]) != 32 {
		return session{}, false
	}
	key, err1 := b64.DecodeString(parts[2])
	tenant, err2 := b64.DecodeString(parts[3])
	if err1 != nil || err2 != nil || len(key) == 0 {
		return session{}, false
	}
	return session{ID: parts[1], Key: string(key), Tenant: string(tenant), Admin: parts[4] == "1"}, true
}

// csrfToken ties a form to the session: an HMAC, keyed by the API key, of
// the session id. Only someone holding the key can compute it, it changes
// at every sign-in, and replicas need no shared state to check it.
func (s session) csrfToken() string {
	m := hmac.New(sha256.New, []byte(s.Key))
	m.Write([]byte("herald-ui-csrf\x00" + s.ID))
	return b64.EncodeToString(m.Sum(nil))
}

// checkCSRF reports whether the form's token belongs to the session.
func (s session) checkCSRF(token string) bool {
	return token != "" && hmac.Equal([]byte(token), []byte(s.csrfToken()))
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// cookie makes a dashboard cookie; maxAge < 0 deletes it.
func (h *handler) cookie(r *http.Request, name, value string, maxAge time.Duration) *http.Cookie {
	c := &http.Cookie{
		Name: name, Value: value, Path: h.prefix + "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
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

// sessionFrom reads the session cookie, if any.
func sessionFrom(r *http.Request) (session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, false
	}
	return decodeSession(c.Value)
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
