package api

import (
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// credentialTTL is how long an API key's record is trusted without reading
// it again. A key revoked through this process is forgotten at once; one
// revoked elsewhere (another replica, `herald keys revoke`) stops working
// within this time.
const credentialTTL = time.Second

// maxCachedCredentials bounds the cache; when full it starts over.
const maxCachedCredentials = 10000

// credentialCache remembers what API keys and tenant names resolved to.
// Without it every request read both from the database before doing its
// work: on SQLite a tenth of a publish's CPU.
type credentialCache struct {
	now func() time.Time

	mu      sync.Mutex
	keys    map[string]cachedKey // key hash -> record
	tenants map[string]string    // tenant name -> id (tenants are never renamed or removed)
}

type cachedKey struct {
	key     store.APIKey
	expires time.Time
}

func newCredentialCache(now func() time.Time) *credentialCache {
	return &credentialCache{now: now, keys: map[string]cachedKey{}, tenants: map[string]string{}}
}

// key returns the unrevoked record of the key with this hash, if it was
// read less than credentialTTL ago.
func (c *credentialCache) key(hash string) (store.APIKey, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.keys[hash]
	if !ok || !c.now().Before(e.expires) {
		return store.APIKey{}, false
	}
	return e.key, true
}

func (c *credentialCache) putKey(hash string, k store.APIKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.keys) >= maxCachedCredentials {
		c.keys = map[string]cachedKey{}
	}
	c.keys[hash] = cachedKey{key: k, expires: c.now().Add(credentialTTL)}
}

// forgetKeys drops every cached key: called when this process revokes one.
func (c *credentialCache) forgetKeys() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keys = map[string]cachedKey{}
}

func (c *credentialCache) tenant(name string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.tenants[name]
	return id, ok
}

func (c *credentialCache) putTenant(name, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.tenants) >= maxCachedCredentials {
		c.tenants = map[string]string{}
	}
	c.tenants[name] = id
}
