package api

import (
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// textHeaders are the request headers whose values reach the store as text.
var textHeaders = []string{"Herald-Tenant", "Idempotency-Key", "x-nymos-idempotency-key"}

// refuseMalformed answers 400 to a request whose URL path, query or text
// headers hold a NUL character or invalid UTF-8, before anything else reads
// them. No id, cursor, tenant name or idempotency key has either, and
// PostgreSQL cannot even compare such text: the store would fail and the
// answer would be a misleading 503 (SQLite would merely find nothing). This
// is the one place such input is stopped; JSON bodies need no check, as
// decoding them replaces invalid UTF-8 and NUL is refused per field.
func refuseMalformed(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if aerr := malformedInput(r); aerr != nil {
			writeError(w, aerr)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func malformedInput(r *http.Request) *apiError {
	if !validText(r.URL.Path) {
		return invalid("", "the URL path must be UTF-8 without NUL characters (%%00)")
	}
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return invalid("", "the query string is malformed: %v", err)
	}
	for name, values := range query {
		if !validText(name) {
			return invalid("", "query parameter names must be UTF-8 without NUL characters (%%00)")
		}
		for _, v := range values {
			if !validText(v) {
				return invalid(name, "must be UTF-8 without NUL characters (%%00)")
			}
		}
	}
	for _, h := range textHeaders {
		for _, v := range r.Header.Values(h) {
			if !validText(v) {
				return invalid(h, "must be UTF-8 without NUL characters")
			}
		}
	}
	return nil
}

// validText reports whether s is UTF-8 without a NUL character.
func validText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}
