package delivery

import (
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/heraldhq/herald/internal/store"
)

// An attempt keeps the headers it sent and received, for the dashboard's
// attempt details. Sent ones are masked where they carry a credential (the
// Authorization value after its scheme, every custom header's value: they
// are the webhook's secrets); the signature headers are kept, since a
// signature reveals nothing of the key and is what a receiver checks.
// Received ones are bounded, and Set-Cookie values masked.

// headerMask replaces a credential in kept headers.
const headerMask = "********"

// Bounds of the headers kept of an answer.
const (
	maxResponseHeaders   = 40
	maxResponseHeaderLen = 256  // a value, in bytes
	maxResponseHeaderSum = 2048 // all names and values
)

// sentHeaders is h as kept: sorted by name, credentials masked.
func sentHeaders(h http.Header, w *store.Webhook) []store.Header {
	if len(h) == 0 {
		return nil
	}
	secret := map[string]bool{"Authorization": true}
	for _, c := range w.Config.CustomHeaders {
		secret[http.CanonicalHeaderKey(c.Name)] = true
	}
	out := make([]store.Header, 0, len(h))
	for _, name := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[name] {
			switch {
			case name == "Authorization":
				scheme, _, _ := strings.Cut(v, " ")
				v = scheme + " " + headerMask
			case secret[name]:
				v = headerMask
			}
			out = append(out, store.Header{Name: name, Value: v})
		}
	}
	return out
}

// receivedHeaders is an answer's headers as kept: sorted, at most
// maxResponseHeaders, each value cut at maxResponseHeaderLen and all of
// them at maxResponseHeaderSum bytes, as valid UTF-8.
func receivedHeaders(h http.Header) []store.Header {
	var out []store.Header
	sum := 0
	for _, name := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[name] {
			if name == "Set-Cookie" {
				v = headerMask
			}
			v = cleanText(v, maxResponseHeaderLen)
			if len(out) == maxResponseHeaders || sum+len(name)+len(v) > maxResponseHeaderSum {
				return out
			}
			sum += len(name) + len(v)
			out = append(out, store.Header{Name: cleanText(name, maxResponseHeaderLen), Value: v})
		}
	}
	return out
}
