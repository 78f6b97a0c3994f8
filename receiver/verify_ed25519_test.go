package receiver_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/heraldhq/herald/receiver"
	"github.com/heraldhq/herald/signature"
)

// A webhook with config.signature "ed25519" is verified with its public
// key, by Verify and by Middleware, alone or beside HMAC secrets.
func TestVerifyPublicKey(t *testing.T) {
	sk, pk, err := signature.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	_, otherPK, err := signature.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ed := signed(t, "msg_ed", now, purchaseBody, sk)
	// Just after a change of scheme Herald signs with the new key pair and
	// the old secret.
	changing := signed(t, "msg_ed", now, purchaseBody, sk, verifySecretA)
	tests := []struct {
		name string
		keys []string
		h    http.Header
		want error
	}{
		{"public key", []string{pk}, ed, nil},
		{"another public key", []string{otherPK}, ed, receiver.ErrNoMatch},
		{"HMAC secret only", []string{verifySecretA}, ed, receiver.ErrNoMatch},
		{"public key beside secrets", []string{verifySecretB, pk}, ed, nil},
		{"change of scheme: old secret", []string{verifySecretA}, changing, nil},
		{"change of scheme: new public key", []string{pk}, changing, nil},
		{"truncated public key", []string{pk[:20]}, ed, receiver.ErrInvalidSecret},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := receiver.Verify(tc.keys, tc.h, purchaseBody, now); !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
			next := &recordingHandler{}
			rec := httptest.NewRecorder()
			receiver.Middleware(tc.keys, next).ServeHTTP(rec, newRequest(purchaseBody, tc.h))
			want := http.StatusNoContent
			switch {
			case errors.Is(tc.want, receiver.ErrInvalidSecret):
				want = http.StatusInternalServerError
			case tc.want != nil:
				want = http.StatusUnauthorized
			}
			if rec.Code != want || (next.called == 1) != (want == http.StatusNoContent) {
				t.Fatalf("Middleware answered %d (next called %d times), want %d", rec.Code, next.called, want)
			}
		})
	}
}
