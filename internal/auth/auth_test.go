package auth_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/auth"
	"github.com/heraldhq/herald/internal/store"
)

var keyPattern = regexp.MustCompile(`^hk_[A-Za-z0-9_-]{43}$`)

func TestNewKey(t *testing.T) {
	seen := make(map[string]bool)
	for i := 0; i < 500; i++ {
		k, err := auth.NewKey()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(k, auth.KeyPrefix) || auth.KeyPrefix != "hk_" {
			t.Fatalf("NewKey = %q, want prefix hk_", k)
		}
		if !keyPattern.MatchString(k) {
			t.Fatalf("NewKey = %q, want hk_ + 43 unpadded base64url characters", k)
		}
		raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(k, auth.KeyPrefix))
		if err != nil || len(raw) != 32 {
			t.Fatalf("NewKey = %q: decodes to %d bytes (%v), want 32", k, len(raw), err)
		}
		if seen[k] {
			t.Fatalf("NewKey repeated %q", k)
		}
		seen[k] = true
	}
}

func TestHash(t *testing.T) {
	tests := []struct {
		key, want string
	}{
		// sha256("") and sha256("abc"), from FIPS 180-2.
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"hk_example", func() string { s := sha256.Sum256([]byte("hk_example")); return hex.EncodeToString(s[:]) }()},
	}
	for _, tc := range tests {
		if got := auth.Hash(tc.key); got != tc.want {
			t.Errorf("Hash(%q) = %q, want %q", tc.key, got, tc.want)
		}
	}
	k1, _ := auth.NewKey()
	k2, _ := auth.NewKey()
	h1, h2 := auth.Hash(k1), auth.Hash(k2)
	if h1 == h2 {
		t.Fatal("two keys hash the same")
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(h1) {
		t.Fatalf("Hash = %q, want 64 lower-case hex digits", h1)
	}
	if strings.Contains(h1, k1) || strings.Contains(h1, strings.TrimPrefix(k1, auth.KeyPrefix)) {
		t.Fatal("hash contains the key")
	}
	if auth.Hash("abc") == auth.Hash("abc ") || auth.Hash("abc") == auth.Hash("ABC") {
		t.Fatal("Hash ignores a difference in the key")
	}
}

func TestPrefix(t *testing.T) {
	tests := []struct {
		key, want string
	}{
		{"", ""},
		{"hk_", "hk_"},
		{"hk_abcdefg", "hk_abcdefg"},  // exactly 10
		{"hk_abcdefgh", "hk_abcdefg"}, // 11
		{"hk_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "hk_abcdefg"},
	}
	for _, tc := range tests {
		if got := auth.Prefix(tc.key); got != tc.want {
			t.Errorf("Prefix(%q) = %q, want %q", tc.key, got, tc.want)
		}
	}
	k, _ := auth.NewKey()
	p := auth.Prefix(k)
	if len(p) != 10 || !strings.HasPrefix(k, p) {
		t.Fatalf("Prefix(%q) = %q, want the key's first 10 characters", k, p)
	}
	if len(p) >= len(k)/2 {
		t.Fatalf("Prefix(%q) = %q reveals too much of the key", k, p)
	}
}

func TestFromRequest(t *testing.T) {
	tests := []struct {
		name    string
		headers map[string][]string
		want    string
	}{
		{"none", nil, ""},
		{"apikey", map[string][]string{"Apikey": {"hk_one"}}, "hk_one"},
		{"apikey trimmed", map[string][]string{"Apikey": {"  hk_one \t"}}, "hk_one"},
		{"apikey blank falls back to bearer", map[string][]string{"Apikey": {"   "}, "Authorization": {"Bearer hk_two"}}, "hk_two"},
		{"apikey wins over bearer", map[string][]string{"Apikey": {"hk_one"}, "Authorization": {"Bearer hk_two"}}, "hk_one"},
		{"bearer", map[string][]string{"Authorization": {"Bearer hk_two"}}, "hk_two"},
		{"bearer lower-case scheme", map[string][]string{"Authorization": {"bearer hk_two"}}, "hk_two"},
		{"bearer upper-case scheme", map[string][]string{"Authorization": {"BEARER hk_two"}}, "hk_two"},
		{"bearer mixed-case scheme", map[string][]string{"Authorization": {"bEaReR hk_two"}}, "hk_two"},
		{"bearer extra spaces", map[string][]string{"Authorization": {"Bearer   hk_two  "}}, "hk_two"},
		{"bearer without token", map[string][]string{"Authorization": {"Bearer"}}, ""},
		{"bearer empty token", map[string][]string{"Authorization": {"Bearer "}}, ""},
		{"basic ignored", map[string][]string{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("u:hk_x"))}}, ""},
		{"other scheme ignored", map[string][]string{"Authorization": {"Token hk_two"}}, ""},
		{"scheme prefix only ignored", map[string][]string{"Authorization": {"Bearerx hk_two"}}, ""},
		{"token without scheme ignored", map[string][]string{"Authorization": {"hk_two"}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/webhooks", nil)
			for k, vs := range tc.headers {
				for _, v := range vs {
					r.Header.Add(k, v)
				}
			}
			if got := auth.FromRequest(r); got != tc.want {
				t.Fatalf("FromRequest(%v) = %q, want %q", tc.headers, got, tc.want)
			}
		})
	}
	// Header names are case-insensitive on the wire.
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("APIKEY", "hk_upper")
	if got := auth.FromRequest(r); got != "hk_upper" {
		t.Fatalf("FromRequest with header APIKEY = %q, want hk_upper", got)
	}
}

func TestNewAPIKey(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	roles := []store.Role{store.RoleAdmin, store.RoleClient, store.RolePublisher}
	ids := make(map[string]bool)
	for _, role := range roles {
		t.Run(string(role), func(t *testing.T) {
			rec, key, err := auth.NewAPIKey("tenant-1", role, now)
			if err != nil {
				t.Fatal(err)
			}
			if !keyPattern.MatchString(key) {
				t.Fatalf("key = %q, want the NewKey format", key)
			}
			if rec.TenantID != "tenant-1" || rec.Role != role || !rec.Created.Equal(now) || rec.Revoked != nil {
				t.Fatalf("record = %+v, want tenant-1, %s, %v, not revoked", rec, role, now)
			}
			if rec.Hash != auth.Hash(key) {
				t.Fatalf("record hash = %q, want Hash(key) %q", rec.Hash, auth.Hash(key))
			}
			if rec.Prefix != auth.Prefix(key) {
				t.Fatalf("record prefix = %q, want %q", rec.Prefix, auth.Prefix(key))
			}
			if strings.Contains(rec.Hash, key) || rec.ID == key || rec.Prefix == key {
				t.Fatalf("record %+v stores the key itself", rec)
			}
			id, err := uuid.Parse(rec.ID)
			if err != nil || id.Version() != 7 {
				t.Fatalf("record ID = %q (%v), want a UUIDv7", rec.ID, err)
			}
			if ids[rec.ID] {
				t.Fatalf("record ID %q repeated", rec.ID)
			}
			ids[rec.ID] = true
		})
	}
	_, k1, _ := auth.NewAPIKey("t", store.RoleClient, now)
	_, k2, _ := auth.NewAPIKey("t", store.RoleClient, now)
	if k1 == k2 {
		t.Fatal("NewAPIKey returned the same key twice")
	}
}
