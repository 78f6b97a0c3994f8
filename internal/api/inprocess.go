package api

import (
	"context"
	"net/http"

	"github.com/heraldhq/herald/internal/store"
)

// The dashboard calls the API in-process as the API key that signed in, but
// it keeps no key material: its server-side session names the key, and the
// session read returns the key's stored record. This file hands that record
// to the API without a key in the request.
//
// Two handlers keep the hand-off unforgeable. The one New returns, the only
// one Herald serves on the network, never looks at the hand-off: it
// authenticates the key in the request, whatever the request's context
// holds. The one NewInProcess returns looks only at the hand-off, never at a
// key in the request, and is given only to the dashboard. The hand-off
// travels in a context value whose key type is unexported, so only AsKey
// can set it, and no byte of a request can.

// handoffKey is the context key of the principal handed to NewInProcess.
type handoffKey struct{}

// AsKey returns ctx carrying k as the caller of requests made with it to the
// handler of NewInProcess. k must be the key's stored record, read just
// before (the dashboard's session read joins it): its role and tenant are
// trusted as they are, and a revoked record is refused.
func AsKey(ctx context.Context, k store.APIKey) context.Context {
	return context.WithValue(ctx, handoffKey{}, k)
}

// NewInProcess returns the API's HTTP handler for Herald's own dashboard,
// called in-process, never served on the network: the caller is the key
// handed by AsKey in the request's context, and any API key in the request
// itself is ignored. Without a hand-off every authenticated route answers
// 401. Changes made through it are audited as made "via" the dashboard.
func NewInProcess(cfg Config) http.Handler {
	s := newServer(cfg)
	return s.router(s.handedOff)
}

// handedOff authenticates the principal AsKey put in the context.
func (s *server) handedOff(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k, ok := r.Context().Value(handoffKey{}).(store.APIKey)
		if !ok || k.ID == "" || k.Revoked != nil || k.TenantID == "" {
			writeError(w, &apiError{Status: http.StatusUnauthorized, Code: codeUnauthorized, Message: "unknown or revoked API key"})
			return
		}
		s.serveAs(w, r, next, k, "dashboard")
	})
}
