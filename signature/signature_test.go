package signature_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/heraldhq/herald/signature"
)

// Fixed secrets (whsec_ + base64 of 24 bytes) so failures are reproducible.
const (
	secretA = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	secretB = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
	secretC = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX"
)

func mustSigner(t testing.TB, secrets ...string) *signature.Signer {
	t.Helper()
	s, err := signature.NewSigner(secrets...)
	if err != nil {
		t.Fatalf("NewSigner(%q): %v", secrets, err)
	}
	return s
}

func mustLib(t testing.TB, secret string) *standardwebhooks.Webhook {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatalf("standardwebhooks.NewWebhook(%q): %v", secret, err)
	}
	return wh
}

func headers(id string, ts time.Time, sig string) http.Header {
	h := http.Header{}
	h.Set(signature.HeaderID, id)
	h.Set(signature.HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(signature.HeaderSignature, sig)
	return h
}

var bodies = []struct {
	name string
	id   string
	body []byte
}{
	{"json", "msg_p5jXN8AQM9LWM0D4loKWxJek", []byte(`{"event":"CARD_STATUS_CHANGE","card_id":"c1"}`)},
	{"empty body", "0190f7a4-1111-7000-8000-000000000001", []byte{}},
	{"unicode and newlines", "n-2", []byte("{\"name\":\"Zoë ✓\"}\n\r\n")},
	{"dots in id", "a.b.c", []byte(`{"x":"1.2.3"}`)},
	{"binary", "bin", []byte{0, 1, 2, 0xff, 0xfe, '.', '.'}},
	{"large", "big", bytes.Repeat([]byte(`{"k":"v"},`), 10_000)},
}

// Herald's signatures must verify with the reference Standard Webhooks library.
func TestSignVerifiesWithStandardWebhooksLibrary(t *testing.T) {
	for _, secret := range []string{secretA, secretB, secretC} {
		signer := mustSigner(t, secret)
		lib := mustLib(t, secret)
		for _, tc := range bodies {
			t.Run(secret[6:12]+"/"+tc.name, func(t *testing.T) {
				now := time.Now()
				sig := signer.Sign(tc.id, now, tc.body)
				if err := lib.Verify(tc.body, headers(tc.id, now, sig)); err != nil {
					t.Fatalf("library Verify of Herald signature %q: %v", sig, err)
				}
				// Byte for byte the same value as the library's.
				want, err := lib.Sign(tc.id, now, tc.body)
				if err != nil {
					t.Fatal(err)
				}
				if sig != want {
					t.Fatalf("Sign = %q, library signs %q", sig, want)
				}
				// SetHeaders yields the same headers the library accepts.
				h := http.Header{}
				signer.SetHeaders(h, tc.id, now, tc.body)
				if err := lib.Verify(tc.body, h); err != nil {
					t.Fatalf("library Verify of SetHeaders output %v: %v", h, err)
				}
				if got := h.Get(signature.HeaderTimestamp); got != strconv.FormatInt(now.Unix(), 10) {
					t.Fatalf("webhook-timestamp = %q, want %d", got, now.Unix())
				}
				if got := h.Get(signature.HeaderID); got != tc.id {
					t.Fatalf("webhook-id = %q, want %q", got, tc.id)
				}
			})
		}
	}
}

// Messages signed by the reference library must verify with signature.Verify.
func TestVerifyAcceptsStandardWebhooksLibrarySignatures(t *testing.T) {
	for _, secret := range []string{secretA, secretB, secretC} {
		lib := mustLib(t, secret)
		for _, tc := range bodies {
			t.Run(secret[6:12]+"/"+tc.name, func(t *testing.T) {
				now := time.Now()
				sig, err := lib.Sign(tc.id, now, tc.body)
				if err != nil {
					t.Fatal(err)
				}
				h := headers(tc.id, now, sig)
				if err := signature.Verify([]string{secret}, h, tc.body, now, 0); err != nil {
					t.Fatalf("Verify of library signature %q: %v", sig, err)
				}
				// And the same signature must not verify against another secret.
				other := secretA
				if secret == secretA {
					other = secretB
				}
				if err := signature.Verify([]string{other}, h, tc.body, now, 0); !errors.Is(err, signature.ErrNoMatch) {
					t.Fatalf("Verify with the wrong secret = %v, want ErrNoMatch", err)
				}
			})
		}
	}
}

// An independent HMAC computation (no library, no signature package code).
func TestSignMatchesHandComputedHMAC(t *testing.T) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secretA, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Unix(1_700_000_000, 999_000_000) // sub-second part must be dropped
	m := hmac.New(sha256.New, key)
	m.Write([]byte("msg_1.1700000000.{\"a\":1}"))
	want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	if got := mustSigner(t, secretA).Sign("msg_1", ts, []byte(`{"a":1}`)); got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
}

func TestTwoSecrets(t *testing.T) {
	now := time.Now()
	id, body := "msg_two", []byte(`{"event":"PIN_CHANGE"}`)
	sig := mustSigner(t, secretA, secretB).Sign(id, now, body)

	entries := strings.Split(sig, " ")
	if len(entries) != 2 {
		t.Fatalf("Sign with two secrets = %q, want two space-separated entries", sig)
	}
	for i, e := range entries {
		if !strings.HasPrefix(e, "v1,") {
			t.Fatalf("entry %d = %q, want v1,<base64>", i, e)
		}
	}
	if entries[0] == entries[1] {
		t.Fatalf("both entries equal: %q", sig)
	}
	if want := mustSigner(t, secretA).Sign(id, now, body); entries[0] != want {
		t.Fatalf("first entry = %q, want the first secret's %q", entries[0], want)
	}
	if want := mustSigner(t, secretB).Sign(id, now, body); entries[1] != want {
		t.Fatalf("second entry = %q, want the second secret's %q", entries[1], want)
	}

	h := headers(id, now, sig)
	tests := []struct {
		name    string
		secrets []string
		want    error
	}{
		{"first secret", []string{secretA}, nil},
		{"second secret", []string{secretB}, nil},
		{"both secrets", []string{secretA, secretB}, nil},
		{"wrong then right", []string{secretC, secretB}, nil},
		{"wrong secret only", []string{secretC}, signature.ErrNoMatch},
		{"no secrets", nil, signature.ErrNoMatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := signature.Verify(tc.secrets, h, body, now, 0); !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
	// The reference library, one secret at a time, accepts both as well.
	for _, s := range []string{secretA, secretB} {
		if err := mustLib(t, s).Verify(body, h); err != nil {
			t.Fatalf("library Verify with %s: %v", s, err)
		}
	}
	if err := mustLib(t, secretC).Verify(body, h); err == nil {
		t.Fatal("library Verify with an unrelated secret succeeded")
	}
}

func TestVerify(t *testing.T) {
	now := time.Unix(1_750_000_000, 0)
	id, body := "msg_verify", []byte(`{"event":"TRANSACTION","amount":10}`)
	signer := mustSigner(t, secretA)
	good := func() http.Header { return headers(id, now, signer.Sign(id, now, body)) }
	at := func(ts time.Time) http.Header { return headers(id, ts, signer.Sign(id, ts, body)) }
	with := func(key, value string) http.Header {
		h := good()
		h.Set(key, value)
		return h
	}
	without := func(key string) http.Header {
		h := good()
		h.Del(key)
		return h
	}
	sig := signer.Sign(id, now, body)

	tests := []struct {
		name      string
		secrets   []string
		h         http.Header
		body      []byte
		tolerance time.Duration
		want      error // nil: must verify
	}{
		{"valid", []string{secretA}, good(), body, 0, nil},
		{"wrong secret", []string{secretB}, good(), body, 0, signature.ErrNoMatch},
		{"tampered body", []string{secretA}, good(), []byte(`{"event":"TRANSACTION","amount":11}`), 0, signature.ErrNoMatch},
		{"body with trailing newline", []string{secretA}, good(), append(bytes.Clone(body), '\n'), 0, signature.ErrNoMatch},
		{"empty body", []string{secretA}, good(), nil, 0, signature.ErrNoMatch},
		{"tampered id", []string{secretA}, with(signature.HeaderID, "msg_verifz"), body, 0, signature.ErrNoMatch},
		{"tampered timestamp", []string{secretA}, with(signature.HeaderTimestamp, strconv.FormatInt(now.Unix()+1, 10)), body, 0, signature.ErrNoMatch},
		{"tampered signature", []string{secretA}, with(signature.HeaderSignature, "v1,"+base64.StdEncoding.EncodeToString(make([]byte, 32))), body, 0, signature.ErrNoMatch},
		{"signature not base64", []string{secretA}, with(signature.HeaderSignature, "v1,!!!not-base64!!!"), body, 0, signature.ErrNoMatch},
		{"entry without comma", []string{secretA}, with(signature.HeaderSignature, strings.Replace(sig, ",", "", 1)), body, 0, signature.ErrNoMatch},
		{"entry with wrong version only", []string{secretA}, with(signature.HeaderSignature, strings.Replace(sig, "v1,", "v2,", 1)), body, 0, signature.ErrNoMatch},
		{"v1a asymmetric entry only", []string{secretA}, with(signature.HeaderSignature, "v1a,"+strings.TrimPrefix(sig, "v1,")), body, 0, signature.ErrNoMatch},
		{"unknown v2 entry before v1 ignored", []string{secretA}, with(signature.HeaderSignature, "v2,xxx "+sig), body, 0, nil},
		{"unknown v2 entry after v1 ignored", []string{secretA}, with(signature.HeaderSignature, sig+" v2,xxx"), body, 0, nil},
		{"v1a and garbage entries ignored", []string{secretA}, with(signature.HeaderSignature, "v1a,abc garbage v1,AAAA "+sig), body, 0, nil},
		{"extra spaces between entries", []string{secretA}, with(signature.HeaderSignature, "v2,xxx   "+sig+"  "), body, 0, nil},

		{"missing id", []string{secretA}, without(signature.HeaderID), body, 0, signature.ErrMissingHeaders},
		{"missing timestamp", []string{secretA}, without(signature.HeaderTimestamp), body, 0, signature.ErrMissingHeaders},
		{"missing signature", []string{secretA}, without(signature.HeaderSignature), body, 0, signature.ErrMissingHeaders},
		{"empty id", []string{secretA}, with(signature.HeaderID, ""), body, 0, signature.ErrMissingHeaders},
		{"no headers", []string{secretA}, http.Header{}, body, 0, signature.ErrMissingHeaders},

		{"non-numeric timestamp", []string{secretA}, with(signature.HeaderTimestamp, "yesterday"), body, 0, signature.ErrInvalidTimestamp},
		{"RFC3339 timestamp", []string{secretA}, with(signature.HeaderTimestamp, now.UTC().Format(time.RFC3339)), body, 0, signature.ErrInvalidTimestamp},
		{"fractional timestamp", []string{secretA}, with(signature.HeaderTimestamp, "1750000000.5"), body, 0, signature.ErrInvalidTimestamp},
		{"millisecond overflow timestamp", []string{secretA}, with(signature.HeaderTimestamp, "99999999999999999999"), body, 0, signature.ErrInvalidTimestamp},

		{"default tolerance: 5m old accepted", []string{secretA}, at(now.Add(-5 * time.Minute)), body, 0, nil},
		{"default tolerance: 5m1s old refused", []string{secretA}, at(now.Add(-5*time.Minute - time.Second)), body, 0, signature.ErrTimestampTooOld},
		{"default tolerance: 5m ahead accepted", []string{secretA}, at(now.Add(5 * time.Minute)), body, 0, nil},
		{"default tolerance: 5m1s ahead refused", []string{secretA}, at(now.Add(5*time.Minute + time.Second)), body, 0, signature.ErrTimestampTooNew},
		{"one day old", []string{secretA}, at(now.Add(-24 * time.Hour)), body, 0, signature.ErrTimestampTooOld},
		{"epoch", []string{secretA}, at(time.Unix(0, 0)), body, 0, signature.ErrTimestampTooOld},
		{"one day ahead", []string{secretA}, at(now.Add(24 * time.Hour)), body, 0, signature.ErrTimestampTooNew},
		{"custom tolerance 10s: 11s old", []string{secretA}, at(now.Add(-11 * time.Second)), body, 10 * time.Second, signature.ErrTimestampTooOld},
		{"custom tolerance 10s: 11s ahead", []string{secretA}, at(now.Add(11 * time.Second)), body, 10 * time.Second, signature.ErrTimestampTooNew},
		{"custom tolerance 10s: 9s old", []string{secretA}, at(now.Add(-9 * time.Second)), body, 10 * time.Second, nil},
		{"custom tolerance 1h: 30m old", []string{secretA}, at(now.Add(-30 * time.Minute)), body, time.Hour, nil},
		{"negative tolerance means default", []string{secretA}, at(now.Add(-4 * time.Minute)), body, -time.Second, nil},
		{"stale timestamp checked before signature", []string{secretB}, at(now.Add(-time.Hour)), body, 0, signature.ErrTimestampTooOld},

		{"invalid secret: not base64", []string{"whsec_!!!"}, good(), body, 0, signature.ErrInvalidSecret},
		{"invalid secret: empty", []string{""}, good(), body, 0, signature.ErrInvalidSecret},
		{"invalid secret: prefix only", []string{"whsec_"}, good(), body, 0, signature.ErrInvalidSecret},
		{"invalid secret: bad padding", []string{"whsec_abc"}, good(), body, 0, signature.ErrInvalidSecret},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := signature.Verify(tc.secrets, tc.h, tc.body, now, tc.tolerance)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify = %v, want success", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestNewSignerInvalidSecret(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
		wantErr bool
	}{
		{"valid", []string{secretA}, false},
		{"valid without prefix", []string{strings.TrimPrefix(secretA, "whsec_")}, false},
		{"two valid", []string{secretA, secretB}, false},
		{"empty", []string{""}, true},
		{"prefix only", []string{"whsec_"}, true},
		{"not base64", []string{"whsec_not base64!"}, true},
		{"url-safe alphabet", []string{"whsec_-_-_"}, true},
		{"second invalid", []string{secretA, "whsec_%%%"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := signature.NewSigner(tc.secrets...)
			if tc.wantErr {
				if !errors.Is(err, signature.ErrInvalidSecret) || s != nil {
					t.Fatalf("NewSigner = %v, %v; want nil, ErrInvalidSecret", s, err)
				}
				return
			}
			if err != nil || s == nil {
				t.Fatalf("NewSigner = %v, %v; want a signer", s, err)
			}
		})
	}
}

func TestNewSecret(t *testing.T) {
	seen := make(map[string]bool)
	for i := 0; i < 200; i++ {
		s, err := signature.NewSecret()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(s, signature.SecretPrefix) || signature.SecretPrefix != "whsec_" {
			t.Fatalf("NewSecret = %q, want whsec_ prefix", s)
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
		if err != nil {
			t.Fatalf("NewSecret = %q: not standard base64: %v", s, err)
		}
		if len(raw) != 24 {
			t.Fatalf("NewSecret = %q: %d bytes, want 24", s, len(raw))
		}
		if len(s) != len("whsec_")+32 {
			t.Fatalf("NewSecret = %q: length %d, want %d", s, len(s), len("whsec_")+32)
		}
		if seen[s] {
			t.Fatalf("NewSecret repeated %q", s)
		}
		seen[s] = true
		// A fresh secret is usable by Herald and by the reference library.
		now := time.Now()
		sig := mustSigner(t, s).Sign("id", now, []byte("{}"))
		if err := mustLib(t, s).Verify([]byte("{}"), headers("id", now, sig)); err != nil {
			t.Fatalf("library Verify with NewSecret %q: %v", s, err)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	signer := mustSigner(b, secretA)
	body := bytes.Repeat([]byte("x"), 1024)
	ts := time.Now()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		_ = signer.Sign("0190f7a4-1111-7000-8000-000000000001", ts, body)
	}
}
