package receiver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/heraldhq/herald/signature"
)

// Tolerance is how far a request's webhook-timestamp may be from the
// receiver's clock, in either direction, before Verify refuses it (the
// Standard Webhooks specification's five minutes). It bounds how long a
// captured request can be replayed.
const Tolerance = signature.DefaultTolerance

// MaxBodyBytes is the largest body Middleware reads: a longer one is
// answered 413 without being verified. Herald refuses published events over
// 1 MiB, so a delivery is no larger except for an event published through
// the batch endpoint; a receiver expecting those verifies with Verify and a
// limit of its own.
const MaxBodyBytes = 1 << 20

// Errors Verify reports. They are the very values of package signature
// (receiver.ErrNoMatch == signature.ErrNoMatch), so errors.Is matches with
// either package's names. None of their texts holds a secret, so they may be
// logged and sent back to the caller.
var (
	// ErrMissingHeaders: the webhook-id, webhook-timestamp or
	// webhook-signature header is absent or empty (not a Herald request, or
	// a proxy dropped the headers).
	ErrMissingHeaders = signature.ErrMissingHeaders
	// ErrInvalidTimestamp: webhook-timestamp is not a whole number of Unix
	// seconds.
	ErrInvalidTimestamp = signature.ErrInvalidTimestamp
	// ErrTimestampTooOld: webhook-timestamp is more than Tolerance in the
	// past: a replay, or the receiver's clock is ahead.
	ErrTimestampTooOld = signature.ErrTimestampTooOld
	// ErrTimestampTooNew: webhook-timestamp is more than Tolerance in the
	// future: the receiver's clock is behind.
	ErrTimestampTooNew = signature.ErrTimestampTooNew
	// ErrNoMatch: no entry of webhook-signature matches the body with any
	// of the keys: a wrong or rotated-out key, or a body, id or timestamp
	// changed on the way. Also returned when no key is given.
	ErrNoMatch = signature.ErrNoMatch
	// ErrInvalidSecret: a key is not "whsec_" followed by standard base64,
	// nor "whpk_" (or "whsk_") followed by the base64 of 32 bytes. This is
	// the receiver's configuration error, not the caller's.
	ErrInvalidSecret = signature.ErrInvalidSecret
)

// ErrNotVerified is returned by EventFrom for a context that does not come
// from a request Middleware let through.
var ErrNotVerified = errors.New("receiver: request was not verified by Middleware")

// Verify checks a request's Standard Webhooks signature: the headers
// webhook-id, webhook-timestamp and webhook-signature of h against body, the
// raw request body exactly as received (verify before decoding it). It
// succeeds when the timestamp is within Tolerance of now and an entry of
// webhook-signature matches "id.timestamp.body" under any of keys:
//
//   - a webhook signing secret ("whsec_...", config.signature
//     "hmac-sha256"), for a "v1" entry: the HMAC-SHA256, compared in
//     constant time;
//   - a webhook's public key ("whpk_...", config.signature "ed25519"), for
//     a "v1a" entry: an Ed25519 signature. The public key is no secret: a
//     receiver holding it cannot sign.
//
// Pass several keys while rotating: the webhook's new key and the old one,
// which Herald keeps signing with for 24 hours.
//
// It returns nil, or one of ErrMissingHeaders, ErrInvalidTimestamp,
// ErrTimestampTooOld, ErrTimestampTooNew, ErrNoMatch and ErrInvalidSecret.
// The headers and the timestamp are checked before the secrets are decoded,
// so ErrInvalidSecret appears only for a request that gets that far.
//
// A verified request may still be a duplicate (Herald delivers at least
// once): de-duplicate on webhook-id.
func Verify(keys []string, h http.Header, body []byte, now time.Time) error {
	return signature.Verify(keys, h, body, now, Tolerance)
}

// verifiedKey is the context key of the body Middleware verified.
type verifiedKey struct{}

// Middleware returns a handler that lets through to next only the requests
// whose Standard Webhooks signature verifies with one of keys (secrets or
// public keys, see Verify). It reads the whole body first, up to MaxBodyBytes, and then:
//
//   - 413 Request Entity Too Large when the body is longer than MaxBodyBytes;
//   - 400 Bad Request when the body cannot be read;
//   - 401 Unauthorized, with a one-line plain-text reason ("webhook
//     signature refused: " and the text of the Verify error, never a
//     secret), when the signature does not verify;
//   - 500 Internal Server Error for every request when keys is empty or
//     holds one that is not a valid key: a configuration error, answered
//     so that Herald keeps the notification and retries;
//   - otherwise next is called with the body restored (r.Body reads the
//     same bytes, r.ContentLength is their length) and the verified body
//     in the request's context, for VerifiedBody and EventFrom.
//
// next is never called for a refused request.
func Middleware(keys []string, next http.Handler) http.Handler {
	verifier, secretErr := signature.NewVerifier(keys...)
	if secretErr == nil && len(keys) == 0 {
		secretErr = ErrInvalidSecret
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if secretErr != nil {
			http.Error(w, "webhook signing secrets are misconfigured", http.StatusInternalServerError)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "cannot read request body", http.StatusBadRequest)
			return
		}
		if err := verifier.Verify(r.Header, body, time.Now(), Tolerance); err != nil {
			http.Error(w, "webhook signature refused: "+strings.TrimPrefix(err.Error(), "signature: "), http.StatusUnauthorized)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), verifiedKey{}, body))
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}

// VerifiedBody returns the body Middleware verified, from the context of a
// request it let through (r.Context()), and whether there is one. The
// slice is shared with every caller: do not modify it.
func VerifiedBody(ctx context.Context) ([]byte, bool) {
	body, ok := ctx.Value(verifiedKey{}).([]byte)
	return body, ok
}

// EventFrom parses the body Middleware verified (see VerifiedBody) with
// Parse, and returns Parse's result. Each call parses afresh, so callers do
// not share the returned value. It returns ErrNotVerified when ctx does not
// come from a request Middleware let through.
func EventFrom(ctx context.Context) (Event, error) {
	body, ok := VerifiedBody(ctx)
	if !ok {
		return nil, ErrNotVerified
	}
	return Parse(body)
}
