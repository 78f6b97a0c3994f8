package receiver_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/heraldhq/herald/receiver"
	"github.com/heraldhq/herald/signature"
)

// Fixed secrets (whsec_ + base64 of 24 bytes) so failures are reproducible.
const (
	verifySecretA = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	verifySecretB = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
	verifySecretC = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX"
)

var purchaseBody = []byte(`{"event": "TRANSACTION", "card_transaction": {"id": "9829a089", "message_type": "AUTHORIZATION", "transaction_type": "PURCHASE", "transaction_amount": 100, "transaction_currency": "AED"}}`)

// signed returns the Standard Webhooks headers of body signed at ts with
// secrets (one v1 entry each), by Herald's own signer.
func signed(t testing.TB, id string, ts time.Time, body []byte, secrets ...string) http.Header {
	t.Helper()
	s, err := signature.NewSigner(secrets...)
	if err != nil {
		t.Fatalf("NewSigner: %v", err)
	}
	h := http.Header{}
	s.SetHeaders(h, id, ts, body)
	return h
}

func TestVerifyErrorsAreSignatureErrors(t *testing.T) {
	pairs := []struct {
		name     string
		recv, sg error
	}{
		{"ErrMissingHeaders", receiver.ErrMissingHeaders, signature.ErrMissingHeaders},
		{"ErrInvalidTimestamp", receiver.ErrInvalidTimestamp, signature.ErrInvalidTimestamp},
		{"ErrTimestampTooOld", receiver.ErrTimestampTooOld, signature.ErrTimestampTooOld},
		{"ErrTimestampTooNew", receiver.ErrTimestampTooNew, signature.ErrTimestampTooNew},
		{"ErrNoMatch", receiver.ErrNoMatch, signature.ErrNoMatch},
		{"ErrInvalidSecret", receiver.ErrInvalidSecret, signature.ErrInvalidSecret},
	}
	for i, p := range pairs {
		if p.recv == nil || p.recv != p.sg || !errors.Is(p.recv, p.sg) || !errors.Is(p.sg, p.recv) {
			t.Errorf("receiver.%s = %v, want the value of signature.%s (%v)", p.name, p.recv, p.name, p.sg)
		}
		for j, q := range pairs {
			if i != j && errors.Is(p.recv, q.recv) {
				t.Errorf("receiver.%s matches receiver.%s", p.name, q.name)
			}
		}
	}
	if receiver.Tolerance != 5*time.Minute {
		t.Errorf("Tolerance = %v, want 5m (Standard Webhooks)", receiver.Tolerance)
	}
}

func TestVerify(t *testing.T) {
	now := time.Unix(1_750_000_000, 0)
	const id = "0190f7a4-1111-7000-8000-000000000001"
	body := purchaseBody
	good := func() http.Header { return signed(t, id, now, body, verifySecretA) }
	at := func(ts time.Time) http.Header { return signed(t, id, ts, body, verifySecretA) }
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
	rotated := signed(t, id, now, body, verifySecretB, verifySecretA) // Herald during a rotation: two entries

	tests := []struct {
		name    string
		secrets []string
		h       http.Header
		body    []byte
		want    error // nil: must verify
	}{
		{"valid", []string{verifySecretA}, good(), body, nil},
		{"valid, header names in another case", []string{verifySecretA}, http.Header{"Webhook-Id": {id}, "Webhook-Timestamp": {strconv.FormatInt(now.Unix(), 10)}, "Webhook-Signature": good()["Webhook-Signature"]}, body, nil},
		{"wrong secret", []string{verifySecretB}, good(), body, receiver.ErrNoMatch},
		{"no secret", nil, good(), body, receiver.ErrNoMatch},

		{"rotation: new secret first, old matches", []string{verifySecretB, verifySecretA}, good(), body, nil},
		{"rotation: old secret first, new matches", []string{verifySecretA, verifySecretB}, good(), body, nil},
		{"rotation: two entries, only the new secret known", []string{verifySecretB}, rotated, body, nil},
		{"rotation: two entries, only the old secret known", []string{verifySecretA}, rotated, body, nil},
		{"rotation: two entries, neither secret known", []string{verifySecretC}, rotated, body, receiver.ErrNoMatch},

		{"tampered body", []string{verifySecretA}, good(), bytes.Replace(body, []byte("100"), []byte("900"), 1), receiver.ErrNoMatch},
		{"body re-encoded", []string{verifySecretA}, good(), bytes.ReplaceAll(body, []byte(": "), []byte(":")), receiver.ErrNoMatch},
		{"tampered id", []string{verifySecretA}, with(signature.HeaderID, id+"x"), body, receiver.ErrNoMatch},
		{"tampered timestamp", []string{verifySecretA}, with(signature.HeaderTimestamp, strconv.FormatInt(now.Unix()-1, 10)), body, receiver.ErrNoMatch},
		{"tampered signature", []string{verifySecretA}, with(signature.HeaderSignature, "v1,AAAA"), body, receiver.ErrNoMatch},

		{"5m old accepted", []string{verifySecretA}, at(now.Add(-receiver.Tolerance)), body, nil},
		{"5m1s old refused", []string{verifySecretA}, at(now.Add(-receiver.Tolerance - time.Second)), body, receiver.ErrTimestampTooOld},
		{"an hour old, even with the wrong secret", []string{verifySecretB}, at(now.Add(-time.Hour)), body, receiver.ErrTimestampTooOld},
		{"5m ahead accepted", []string{verifySecretA}, at(now.Add(receiver.Tolerance)), body, nil},
		{"5m1s ahead refused", []string{verifySecretA}, at(now.Add(receiver.Tolerance + time.Second)), body, receiver.ErrTimestampTooNew},
		{"a day ahead", []string{verifySecretA}, at(now.Add(24 * time.Hour)), body, receiver.ErrTimestampTooNew},

		{"missing webhook-id", []string{verifySecretA}, without(signature.HeaderID), body, receiver.ErrMissingHeaders},
		{"missing webhook-timestamp", []string{verifySecretA}, without(signature.HeaderTimestamp), body, receiver.ErrMissingHeaders},
		{"missing webhook-signature", []string{verifySecretA}, without(signature.HeaderSignature), body, receiver.ErrMissingHeaders},
		{"no headers at all", []string{verifySecretA}, http.Header{}, body, receiver.ErrMissingHeaders},
		{"nil headers", []string{verifySecretA}, nil, body, receiver.ErrMissingHeaders},

		{"timestamp in RFC 3339", []string{verifySecretA}, with(signature.HeaderTimestamp, now.UTC().Format(time.RFC3339)), body, receiver.ErrInvalidTimestamp},
		{"timestamp in milliseconds overflowing", []string{verifySecretA}, with(signature.HeaderTimestamp, "99999999999999999999"), body, receiver.ErrInvalidTimestamp},

		{"invalid secret", []string{"whsec_not base64!"}, good(), body, receiver.ErrInvalidSecret},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := receiver.Verify(tc.secrets, tc.h, tc.body, now)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify = %v, want success", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
			// The same error under the signature package's name.
			if !errors.Is(err, map[error]error{
				receiver.ErrNoMatch:          signature.ErrNoMatch,
				receiver.ErrTimestampTooOld:  signature.ErrTimestampTooOld,
				receiver.ErrTimestampTooNew:  signature.ErrTimestampTooNew,
				receiver.ErrMissingHeaders:   signature.ErrMissingHeaders,
				receiver.ErrInvalidTimestamp: signature.ErrInvalidTimestamp,
				receiver.ErrInvalidSecret:    signature.ErrInvalidSecret,
			}[tc.want]) {
				t.Fatalf("Verify = %v, not the signature package's error", err)
			}
		})
	}
}

// A message signed by the independent Standard Webhooks library verifies
// with receiver.Verify, and only with its own secret.
func TestVerifyAcceptsStandardWebhooksLibrary(t *testing.T) {
	bodies := []struct {
		name, id string
		body     []byte
	}{
		{"purchase", "msg_p5jXN8AQM9LWM0D4loKWxJek", purchaseBody},
		{"NI envelope", "0190f7a4-2222-7000-8000-000000000002", []byte(`{"id": "b876d568", "type": "AC", "timestamp": "2020-07-20T06:49:02.366Z", "details": {"token": {"activationCode": "303241"}}}`)},
		{"unicode", "n.2", []byte("{\"event\":\"USER_CREATED\",\"first_name\":\"Zoë ✓\"}\n")},
		{"empty", "empty", []byte{}},
	}
	for _, secret := range []string{verifySecretA, verifySecretB, verifySecretC} {
		lib, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range bodies {
			t.Run(secret[6:12]+"/"+tc.name, func(t *testing.T) {
				now := time.Now()
				sig, err := lib.Sign(tc.id, now, tc.body)
				if err != nil {
					t.Fatal(err)
				}
				h := http.Header{}
				h.Set("webhook-id", tc.id)
				h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
				h.Set("webhook-signature", sig)
				if err := lib.Verify(tc.body, h); err != nil {
					t.Fatalf("the library refuses its own message: %v", err)
				}
				if err := receiver.Verify([]string{secret}, h, tc.body, now); err != nil {
					t.Fatalf("receiver.Verify of library signature %q: %v", sig, err)
				}
				if err := receiver.Verify([]string{verifySecretC, secret}, h, tc.body, now); err != nil {
					t.Fatalf("receiver.Verify with the secret second: %v", err)
				}
				other := verifySecretA
				if secret == verifySecretA {
					other = verifySecretB
				}
				if err := receiver.Verify([]string{other}, h, tc.body, now); !errors.Is(err, receiver.ErrNoMatch) {
					t.Fatalf("receiver.Verify with another secret = %v, want ErrNoMatch", err)
				}
				tampered := append(bytes.Clone(tc.body), ' ')
				if err := receiver.Verify([]string{secret}, h, tampered, now); !errors.Is(err, receiver.ErrNoMatch) {
					t.Fatalf("receiver.Verify of a tampered body = %v, want ErrNoMatch", err)
				}
				if lib.Verify(tampered, h) == nil {
					t.Fatal("the library accepts a tampered body")
				}
			})
		}
	}
}

// recordingHandler is the next handler of Middleware in the tests.
type recordingHandler struct {
	called int
	body   []byte
	length int64
	ev     receiver.Event
	evErr  error
	ctxOK  bool
}

func (h *recordingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.called++
	h.body, _ = io.ReadAll(r.Body)
	h.length = r.ContentLength
	_, h.ctxOK = receiver.VerifiedBody(r.Context())
	h.ev, h.evErr = receiver.EventFrom(r.Context())
	w.WriteHeader(http.StatusNoContent)
}

func newRequest(body []byte, h http.Header) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/hooks", bytes.NewReader(body))
	for k, v := range h {
		r.Header[k] = v
	}
	return r
}

func TestMiddlewarePassesSignedRequest(t *testing.T) {
	next := &recordingHandler{}
	mw := receiver.Middleware([]string{verifySecretB, verifySecretA}, next)
	rec := httptest.NewRecorder()
	mw.ServeHTTP(rec, newRequest(purchaseBody, signed(t, "msg_1", time.Now(), purchaseBody, verifySecretA)))
	if rec.Code != http.StatusNoContent || next.called != 1 {
		t.Fatalf("answer %d, next called %d times; want 204 from next", rec.Code, next.called)
	}
	if !bytes.Equal(next.body, purchaseBody) || next.length != int64(len(purchaseBody)) {
		t.Fatalf("next read %q (ContentLength %d), want the body intact", next.body, next.length)
	}
	if !next.ctxOK || next.evErr != nil {
		t.Fatalf("VerifiedBody ok = %v, EventFrom error = %v", next.ctxOK, next.evErr)
	}
	p, ok := next.ev.(*receiver.TransactionPurchase)
	if !ok || p.CardTransaction.ID != "9829a089" {
		t.Fatalf("EventFrom = %#v, want the *TransactionPurchase 9829a089", next.ev)
	}
}

// Through a real server: the restored body reaches next over the network
// path too, and an answer with a body gets back to the caller.
func TestMiddlewareOverHTTP(t *testing.T) {
	srv := httptest.NewServer(receiver.Middleware([]string{verifySecretA}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%d %s", len(body), r.Header.Get("webhook-id"))
	})))
	defer srv.Close()
	body := bytes.Repeat([]byte("x"), 100_000)
	req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
	for k, v := range signed(t, "msg_big", time.Now(), body, verifySecretA) {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(answer) != "100000 msg_big" {
		t.Fatalf("answer %d %q, want 200 \"100000 msg_big\"", resp.StatusCode, answer)
	}
}

func TestMiddlewareRefuses(t *testing.T) {
	now := time.Now()
	good := func() http.Header { return signed(t, "msg_1", now, purchaseBody, verifySecretA) }
	noSig := good()
	noSig.Del("webhook-signature")
	tests := []struct {
		name   string
		h      http.Header
		body   []byte
		reason error
	}{
		{"unsigned", http.Header{}, purchaseBody, receiver.ErrMissingHeaders},
		{"no signature header", noSig, purchaseBody, receiver.ErrMissingHeaders},
		{"wrong secret", signed(t, "msg_1", now, purchaseBody, verifySecretC), purchaseBody, receiver.ErrNoMatch},
		{"tampered body", good(), bytes.Replace(purchaseBody, []byte("100"), []byte("900"), 1), receiver.ErrNoMatch},
		{"old timestamp", signed(t, "msg_1", now.Add(-time.Hour), purchaseBody, verifySecretA), purchaseBody, receiver.ErrTimestampTooOld},
		{"future timestamp", signed(t, "msg_1", now.Add(time.Hour), purchaseBody, verifySecretA), purchaseBody, receiver.ErrTimestampTooNew},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			next := &recordingHandler{}
			rec := httptest.NewRecorder()
			receiver.Middleware([]string{verifySecretA, verifySecretB}, next).ServeHTTP(rec, newRequest(tc.body, tc.h))
			if rec.Code != http.StatusUnauthorized || next.called != 0 {
				t.Fatalf("answer %d, next called %d times; want 401 and next not called", rec.Code, next.called)
			}
			answer := rec.Body.String()
			want := "webhook signature refused: " + strings.TrimPrefix(tc.reason.Error(), "signature: ") + "\n"
			if answer != want {
				t.Errorf("401 body %q, want %q", answer, want)
			}
			for _, s := range []string{verifySecretA, verifySecretB, verifySecretA[6:], verifySecretB[6:]} {
				if strings.Contains(answer, s) || strings.Contains(fmt.Sprint(rec.Header()), s) {
					t.Errorf("401 answer echoes a secret: %q", answer)
				}
			}
		})
	}
}

func TestMiddlewareBodyLimit(t *testing.T) {
	// Exactly MaxBodyBytes passes; one byte more is 413, before next and
	// whatever the signature.
	exact := bytes.Repeat([]byte("a"), receiver.MaxBodyBytes)
	next := &recordingHandler{}
	rec := httptest.NewRecorder()
	receiver.Middleware([]string{verifySecretA}, next).ServeHTTP(rec, newRequest(exact, signed(t, "msg_max", time.Now(), exact, verifySecretA)))
	if rec.Code != http.StatusNoContent || len(next.body) != receiver.MaxBodyBytes {
		t.Fatalf("body of MaxBodyBytes: answer %d, next read %d bytes", rec.Code, len(next.body))
	}
	if _, err := receiver.EventFrom(context.Background()); !errors.Is(err, receiver.ErrNotVerified) {
		t.Errorf("EventFrom(context.Background()) = %v, want ErrNotVerified", err)
	}
	if !errors.Is(next.evErr, receiver.ErrInvalidJSON) {
		t.Errorf("EventFrom of a body that is not JSON = %v, want ErrInvalidJSON", next.evErr)
	}

	over := append(bytes.Clone(exact), 'a')
	for _, h := range []http.Header{signed(t, "msg_over", time.Now(), over, verifySecretA), {}} {
		next := &recordingHandler{}
		rec := httptest.NewRecorder()
		receiver.Middleware([]string{verifySecretA}, next).ServeHTTP(rec, newRequest(over, h))
		if rec.Code != http.StatusRequestEntityTooLarge || next.called != 0 {
			t.Fatalf("body of MaxBodyBytes+1: answer %d, next called %d times; want 413", rec.Code, next.called)
		}
	}
	// Also when the length is not announced (chunked).
	r := newRequest(nil, signed(t, "msg_over", time.Now(), over, verifySecretA))
	r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(over)), -1
	rec = httptest.NewRecorder()
	next = &recordingHandler{}
	receiver.Middleware([]string{verifySecretA}, next).ServeHTTP(rec, r)
	if rec.Code != http.StatusRequestEntityTooLarge || next.called != 0 {
		t.Fatalf("chunked body of MaxBodyBytes+1: answer %d, next called %d times; want 413", rec.Code, next.called)
	}
}

func TestMiddlewareMisconfigured(t *testing.T) {
	for _, secrets := range [][]string{nil, {}, {"whsec_not base64!"}, {verifySecretA, ""}} {
		next := &recordingHandler{}
		rec := httptest.NewRecorder()
		receiver.Middleware(secrets, next).ServeHTTP(rec, newRequest(purchaseBody, signed(t, "msg_1", time.Now(), purchaseBody, verifySecretA)))
		if rec.Code != http.StatusInternalServerError || next.called != 0 {
			t.Errorf("secrets %q: answer %d, next called %d times; want 500", secrets, rec.Code, next.called)
		}
	}
	// The secrets are copied: changing the caller's slice later changes nothing.
	secrets := []string{verifySecretA}
	next := &recordingHandler{}
	mw := receiver.Middleware(secrets, next)
	secrets[0] = verifySecretB
	rec := httptest.NewRecorder()
	mw.ServeHTTP(rec, newRequest(purchaseBody, signed(t, "msg_1", time.Now(), purchaseBody, verifySecretA)))
	if rec.Code != http.StatusNoContent {
		t.Errorf("after the caller changed its slice: answer %d, want 204", rec.Code)
	}
}

func ExampleMiddleware() {
	secrets := []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
	handler := receiver.Middleware(secrets, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, err := receiver.EventFrom(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		// De-duplicate on r.Header.Get("webhook-id") here: delivery is at
		// least once.
		if p, ok := ev.(*receiver.TransactionPurchase); ok {
			fmt.Println("purchase", p.CardTransaction.ID, p.CardTransaction.TransactionAmount)
		}
		w.WriteHeader(http.StatusNoContent)
	}))

	// What Herald sends (signed here with package signature).
	body := []byte(`{"event": "TRANSACTION", "card_transaction": {"id": "9829a089", "message_type": "AUTHORIZATION", "transaction_type": "PURCHASE", "transaction_amount": 100}}`)
	signer, _ := signature.NewSigner(secrets...)
	req := httptest.NewRequest(http.MethodPost, "/hooks", bytes.NewReader(body))
	signer.SetHeaders(req.Header, "msg_2b6dd0f6", time.Now(), body)
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	fmt.Println(rec.Code)

	// A forged request.
	req = httptest.NewRequest(http.MethodPost, "/hooks", bytes.NewReader(body))
	req.Header.Set("webhook-id", "msg_forged")
	req.Header.Set("webhook-timestamp", strconv.FormatInt(time.Now().Unix(), 10))
	req.Header.Set("webhook-signature", "v1,Zm9yZ2Vk")
	rec = httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output:
	// purchase 9829a089 100
	// 204
	// 401 webhook signature refused: no signature matches
}
