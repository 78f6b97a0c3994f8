package delivery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/heraldhq/herald/internal/store"
)

// ErrKindOAuth2Token: the webhook's token endpoint failed, timed out or
// answered something that is not a token.
const ErrKindOAuth2Token = "oauth2_token"

// tokenEarlyExpiry is how long before its expiry a token is replaced.
const tokenEarlyExpiry = 30 * time.Second

// tokenTimeout bounds one request to a token endpoint.
const tokenTimeout = 10 * time.Second

// tokens keeps one cached client-credentials token source per webhook,
// shared by all its attempts (and its pings). A change of the webhook's
// credentials or of its TLS configuration starts a new source, dropping the
// cached token.
type tokens struct {
	mu     sync.Mutex
	byHook map[string]*tokenEntry
}

type tokenEntry struct {
	key string // hash of the credentials the source was built from
	gen int    // bumped at every renewal
	src oauth2.TokenSource
}

func newTokens() *tokens {
	return &tokens{byHook: map[string]*tokenEntry{}}
}

// credentialsKey names the credentials and the clients (cl.key) a source
// is built from.
func credentialsKey(c *store.OAuth2Config, cl clients) string {
	h := sha256.New()
	for _, part := range []string{c.TokenURL, c.ClientID, c.ClientSecret, c.Scope, cl.key} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// source returns the webhook's token source and its generation, building
// it on first use or after the webhook's credentials changed.
func (t *tokens) source(w *store.Webhook, cl clients) (oauth2.TokenSource, int) {
	key := credentialsKey(w.Config.OAuth2, cl)
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.byHook[w.ID]; e != nil && e.key == key {
		return e.src, e.gen
	}
	e := &tokenEntry{key: key, src: build(w.Config.OAuth2, cl.token)}
	t.byHook[w.ID] = e
	return e.src, e.gen
}

// build makes a token source asking the token endpoint through client
// (guarded, no redirects, bounded; with the webhook's client certificate
// when it has config.tls).
func build(c *store.OAuth2Config, client *http.Client) oauth2.TokenSource {
	cfg := clientcredentials.Config{
		ClientID:     c.ClientID,
		ClientSecret: c.ClientSecret,
		TokenURL:     c.TokenURL,
		Scopes:       strings.Fields(c.Scope),
		// Explicit, so the library does not probe with an extra request.
		AuthStyle: oauth2.AuthStyleInHeader,
	}
	// A long-lived context carrying the guarded client: the source outlives
	// any one attempt.
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, client)
	return oauth2.ReuseTokenSourceWithExpiry(nil, cfg.TokenSource(ctx), tokenEarlyExpiry)
}

// renew drops the cached token after the endpoint refused it (a 401) and
// returns the source to ask again. gen is the generation the refused token
// came from: when another attempt already renewed it, its source is kept.
func (t *tokens) renew(w *store.Webhook, cl clients, gen int) oauth2.TokenSource {
	key := credentialsKey(w.Config.OAuth2, cl)
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.byHook[w.ID]; e != nil && e.key == key && e.gen != gen {
		return e.src
	}
	e := &tokenEntry{key: key, gen: gen + 1, src: build(w.Config.OAuth2, cl.token)}
	t.byHook[w.ID] = e
	return e.src
}

// tokenError: no token could be had from the webhook's token endpoint. Its
// message never holds credentials.
type tokenError struct{ msg string }

func (e *tokenError) Error() string { return e.msg }

// token fetches a token from src.
func token(src oauth2.TokenSource) (*oauth2.Token, error) {
	tok, err := src.Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil {
			return nil, &tokenError{fmt.Sprintf("token endpoint answered %d: %s", re.Response.StatusCode, truncate(string(re.Body), 200))}
		}
		return nil, &tokenError{"token endpoint: " + err.Error()}
	}
	if tok.AccessToken == "" {
		return nil, &tokenError{"token endpoint answered without an access_token"}
	}
	return tok, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
