package signature_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/signature"
)

// The test vector of the Standard Webhooks reference libraries for "v1a":
// the secret key is the base64 of a 32-byte seed, and Ed25519 signatures
// are deterministic, so the value is fixed.
func TestEd25519MatchesStandardWebhooksVector(t *testing.T) {
	key := "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk="
	got := mustSigner(t, key).Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	want := "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag=="
	if got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
}

// A signature checks out with crypto/ed25519 alone, over id.timestamp.body,
// with the public key NewKeyPair gave.
func TestEd25519SignatureIsPlainEd25519(t *testing.T) {
	sk, pk := mustKeyPair(t)
	ts := time.Unix(1700000000, 0)
	for _, tc := range bodies {
		t.Run(tc.name, func(t *testing.T) {
			entry := mustSigner(t, sk).Sign(tc.id, ts, tc.body)
			sig, ok := strings.CutPrefix(entry, "v1a,")
			if !ok {
				t.Fatalf("Sign = %q, want v1a,<base64>", entry)
			}
			raw, err := base64.StdEncoding.DecodeString(sig)
			if err != nil {
				t.Fatal(err)
			}
			pub, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(pk, "whpk_"))
			if err != nil || len(pub) != ed25519.PublicKeySize {
				t.Fatalf("public key %q: %d bytes, %v", pk, len(pub), err)
			}
			msg := append([]byte(tc.id+".1700000000."), tc.body...)
			if !ed25519.Verify(pub, msg, raw) {
				t.Fatal("crypto/ed25519 refuses the signature")
			}
		})
	}
}

func mustKeyPair(t testing.TB) (secretKey, publicKey string) {
	t.Helper()
	sk, pk, err := signature.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sk, "whsk_") || !strings.HasPrefix(pk, "whpk_") {
		t.Fatalf("NewKeyPair = %q, %q; want whsk_ and whpk_ prefixes", sk, pk)
	}
	if derived, err := signature.PublicKey(sk); err != nil || derived != pk {
		t.Fatalf("PublicKey(secret key) = %q, %v; want %q", derived, err, pk)
	}
	return sk, pk
}

func TestEd25519Verify(t *testing.T) {
	skA, pkA := mustKeyPair(t)
	skB, pkB := mustKeyPair(t)
	_, pkC := mustKeyPair(t)
	now := time.Now()
	id, body := "msg_ed", []byte(`{"event":"PIN_CHANGE"}`)
	single := headers(id, now, mustSigner(t, skA).Sign(id, now, body))
	// Rotation, and a change of scheme: an old key signs alongside.
	both := headers(id, now, mustSigner(t, skA, skB).Sign(id, now, body))
	mixed := headers(id, now, mustSigner(t, skB, secretA).Sign(id, now, body))
	tests := []struct {
		name    string
		keys    []string
		h       http.Header
		body    []byte
		wantErr error
	}{
		{"public key", []string{pkA}, single, body, nil},
		{"secret key verifies too", []string{skA}, single, body, nil},
		{"other public key", []string{pkB}, single, body, signature.ErrNoMatch},
		{"wrong then right", []string{pkC, pkA}, single, body, nil},
		{"tampered body", []string{pkA}, single, []byte(`{"event":"PIN_CHANGF"}`), signature.ErrNoMatch},
		{"HMAC secret for an Ed25519 signature", []string{secretA}, single, body, signature.ErrNoMatch},
		{"rotation: old key", []string{pkA}, both, body, nil},
		{"rotation: new key", []string{pkB}, both, body, nil},
		{"mixed: public key", []string{pkB}, mixed, body, nil},
		{"mixed: HMAC secret", []string{secretA}, mixed, body, nil},
		{"mixed: unrelated keys", []string{pkA, secretB}, mixed, body, signature.ErrNoMatch},
		{"invalid public key", []string{"whpk_AAAA"}, single, body, signature.ErrInvalidSecret},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := signature.Verify(tc.keys, tc.h, tc.body, now, 0)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("Verify = %v, want %v", err, tc.wantErr)
			}
			v, verr := signature.NewVerifier(tc.keys...)
			if verr != nil {
				if !errors.Is(verr, tc.wantErr) {
					t.Fatalf("NewVerifier = %v, want %v", verr, tc.wantErr)
				}
				return
			}
			if err := v.Verify(tc.h, tc.body, now, 0); !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("Verifier.Verify = %v, want %v", err, tc.wantErr)
			}
		})
	}
	// The timestamp is signed: moving it breaks the signature.
	moved := headers(id, now.Add(time.Second), mustSigner(t, skA).Sign(id, now, body))
	if err := signature.Verify([]string{pkA}, moved, body, now, 0); !errors.Is(err, signature.ErrNoMatch) {
		t.Fatalf("Verify with a moved timestamp = %v, want ErrNoMatch", err)
	}
}

func TestEd25519Keys(t *testing.T) {
	sk, pk := mustKeyPair(t)
	seed, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(sk, "whsk_"))
	full := "whsk_" + base64.StdEncoding.EncodeToString(ed25519.NewKeyFromSeed(seed))
	broken := ed25519.NewKeyFromSeed(seed)
	broken[40] ^= 1 // the public half no longer matches the seed
	tests := []struct {
		name    string
		key     string
		wantErr error
	}{
		{"seed", sk, nil},
		{"64-byte private key", full, nil},
		{"private key with a wrong public half", "whsk_" + base64.StdEncoding.EncodeToString(broken), signature.ErrInvalidSecret},
		{"short seed", "whsk_" + base64.StdEncoding.EncodeToString(seed[:31]), signature.ErrInvalidSecret},
		{"not base64", "whsk_not base64", signature.ErrInvalidSecret},
		{"public key", pk, signature.ErrPublicKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := signature.NewSigner(tc.key)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (s != nil) {
				t.Fatalf("NewSigner = %v, %v; want %v", s, err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if got, err := signature.PublicKey(tc.key); err != nil || got != pk {
				t.Fatalf("PublicKey = %q, %v; want %q", got, err, pk)
			}
		})
	}
	if _, err := signature.PublicKey(secretA); !errors.Is(err, signature.ErrInvalidSecret) {
		t.Fatalf("PublicKey of an HMAC secret = %v, want ErrInvalidSecret", err)
	}
}

func BenchmarkSignEd25519(b *testing.B) {
	sk, _ := mustKeyPair(b)
	signer := mustSigner(b, sk)
	body := make([]byte, 1024)
	ts := time.Now()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		signer.Sign("msg", ts, body)
	}
}
