package delivery

import (
	"container/list"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/heraldhq/herald/internal/store"
)

// DefaultMaxTLSTransports is how many webhooks with config.tls keep their
// transports (and so their idle connections) at once, by default. Past it
// the least recently used webhook's are closed, and its next attempt makes
// a new handshake: a bound on sockets and memory however many webhooks
// register a client certificate.
const DefaultMaxTLSTransports = 256

// clients make one webhook's requests: to its endpoint, and to its OAuth2
// token endpoint. key names the TLS configuration they were built from (""
// for the clients shared by every webhook without config.tls), so cached
// tokens follow it.
type clients struct {
	endpoint, token *http.Client
	key             string
}

func newClients(endpoint, token *http.Transport, key string) clients {
	noRedirects := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return clients{
		// Redirects are never followed: the endpoint is what the client registered.
		endpoint: &http.Client{Transport: endpoint, CheckRedirect: noRedirects},
		token:    &http.Client{Transport: token, Timeout: tokenTimeout, CheckRedirect: noRedirects},
		key:      key,
	}
}

// tlsClients caches the clients of webhooks with config.tls: each has
// transports of its own, presenting its client certificate and trusting
// its roots, built once per TLS configuration (not per attempt, so that
// connections are reused) from the shared transport's settings, which
// carry the SSRF guard and the proxy.
type tlsClients struct {
	base *http.Transport
	max  int

	mu     sync.Mutex
	lru    *list.List // of *tlsEntry, most recently used first
	byHook map[string]*list.Element
}

type tlsEntry struct {
	hookID  string
	clients clients
}

func newTLSClients(base *http.Transport, max int) *tlsClients {
	if max <= 0 {
		max = DefaultMaxTLSTransports
	}
	return &tlsClients{base: base, max: max, lru: list.New(), byHook: map[string]*list.Element{}}
}

// get returns the clients of w, whose TLS configuration hashes to key,
// building them on first use and after the configuration changed.
func (c *tlsClients) get(w *store.Webhook, key string) (clients, error) {
	c.mu.Lock()
	if e := c.byHook[w.ID]; e != nil && e.Value.(*tlsEntry).clients.key == key {
		c.lru.MoveToFront(e)
		c.mu.Unlock()
		return e.Value.(*tlsEntry).clients, nil
	}
	c.mu.Unlock()
	// Parsing keys takes a while: not under the lock.
	built, err := c.build(w.Config.TLS, key)
	if err != nil {
		return clients{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.byHook[w.ID]; e != nil {
		old := e.Value.(*tlsEntry)
		if old.clients.key == key { // another attempt built them meanwhile
			c.lru.MoveToFront(e)
			closeIdle(built)
			return old.clients, nil
		}
		c.remove(e)
	}
	c.byHook[w.ID] = c.lru.PushFront(&tlsEntry{hookID: w.ID, clients: built})
	for c.lru.Len() > c.max {
		c.remove(c.lru.Back())
	}
	return built, nil
}

// remove forgets an entry and closes its idle connections; requests in
// flight on it finish, and their connections close when idle. c.mu is held.
func (c *tlsClients) remove(e *list.Element) {
	old := e.Value.(*tlsEntry)
	c.lru.Remove(e)
	delete(c.byHook, old.hookID)
	closeIdle(old.clients)
}

// len is how many webhooks' transports are kept (for tests).
func (c *tlsClients) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

func closeIdle(cl clients) {
	cl.endpoint.CloseIdleConnections()
	cl.token.CloseIdleConnections()
}

// build makes the transports of cfg. server_name applies to the endpoint
// only: the token endpoint is verified for its own host.
func (c *tlsClients) build(cfg *store.TLSConfig, key string) (clients, error) {
	tc, err := clientTLS(cfg)
	if err != nil {
		return clients{}, err
	}
	endpoint, token := c.base.Clone(), c.base.Clone()
	token.TLSClientConfig = tc
	endpoint.TLSClientConfig = tc.Clone()
	endpoint.TLSClientConfig.ServerName = cfg.ServerName
	for _, tr := range []*http.Transport{endpoint, token} {
		// Each webhook's own pool: a few idle connections are enough.
		tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 64, 64
		// HTTP/1.1: under TLS 1.3 a server refuses a client certificate
		// after the handshake, and HTTP/2 reports only a connection
		// "that could not be established", losing the alert that says why
		// (certificate required, unknown CA, expired) from the attempt log.
		tr.Protocols = new(http.Protocols)
		tr.Protocols.SetHTTP1(true)
	}
	return newClients(endpoint, token, key), nil
}

// errClientTLS marks a config.tls that cannot be used (it was checked at
// registration, so only a stored value changed since could fail).
var errClientTLS = errors.New("config.tls")

// clientTLS is the TLS configuration of cfg: the client certificate,
// presented whatever the server's request names (a server listing only its
// root CA would otherwise get none from a chain it does not list), and the
// roots of ca_certificates instead of the system's when given.
func clientTLS(cfg *store.TLSConfig) (*tls.Config, error) {
	pair, err := tls.X509KeyPair([]byte(cfg.ClientCertificate), []byte(cfg.ClientKey))
	if err != nil {
		return nil, fmt.Errorf("%w: client certificate: %v", errClientTLS, err)
	}
	tc := &tls.Config{
		MinVersion:           tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil },
	}
	if cfg.CACertificates != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(cfg.CACertificates)) {
			return nil, fmt.Errorf("%w: ca_certificates hold no certificate", errClientTLS)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// tlsKey names a TLS configuration: a hash of everything it is built from.
func tlsKey(cfg *store.TLSConfig) string {
	if cfg == nil {
		return ""
	}
	h := sha256.New()
	for _, part := range []string{cfg.ClientCertificate, cfg.ClientKey, cfg.CACertificates, cfg.ServerName} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
