package sqlstore

import (
	"bytes"
	"container/list"
	"sync"
	"time"
)

// payloadCacheBytes bounds the payload bytes a Store keeps for claims.
// An event fanned out to ten webhooks is claimed ten times, in claims a
// few milliseconds apart; without the cache each claim read the payload
// again (on PostgreSQL a tenth of the server's CPU per notification in
// the throughput benchmark). 8 MiB holds some 4,000 events of 2 KiB: the
// claims of every webhook of a backlog's head, for about twice that in
// resident memory (the garbage collector's headroom) whatever the backlog;
// 16 MiB took the peak RSS of 1,000,000 pending notifications from 104 to
// 140 MB, near the bound of 150.
const payloadCacheBytes = 8 << 20

// cachedPayload is what a claim needs of an event besides its id.
type cachedPayload struct {
	payload     []byte
	published   time.Time
	traceParent string
}

// payloadCache keeps the payloads of recently published and claimed
// events, least recently used out first, within a byte bound. Events are
// never updated, so an entry is never stale; it is only ever added once
// its event is committed, so it never holds an event that does not exist.
// Payload slices handed out are shared and must not be modified.
type payloadCache struct {
	mu    sync.Mutex
	max   int
	size  int
	order *list.List // of *payloadEntry, most recently used first
	byID  map[string]*list.Element
}

type payloadEntry struct {
	id string
	cachedPayload
}

func newPayloadCache(maxBytes int) *payloadCache {
	return &payloadCache{max: maxBytes, order: list.New(), byID: map[string]*list.Element{}}
}

// cost is what an entry counts against the bound: its payload, its texts
// and the bookkeeping around them.
func (e *payloadEntry) cost() int { return len(e.payload) + len(e.id) + len(e.traceParent) + 160 }

// get returns an event's payload, marking it recently used.
func (c *payloadCache) get(id string) (cachedPayload, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byID[id]
	if !ok {
		return cachedPayload{}, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*payloadEntry).cachedPayload, true
}

// put adds a committed event's payload. It copies the payload unless
// owned says the slice is the cache's to keep: a payload cut from a
// request's body would otherwise hold the whole body in memory.
func (c *payloadCache) put(id string, p cachedPayload, owned bool) {
	e := &payloadEntry{id: id, cachedPayload: p}
	if e.cost() > c.max {
		return // never kept: not worth a copy
	}
	if !owned {
		e.payload = bytes.Clone(e.payload)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byID[id]; ok {
		c.order.MoveToFront(el)
		return
	}
	c.byID[id] = c.order.PushFront(e)
	c.size += e.cost()
	for c.size > c.max {
		last := c.order.Back()
		old := last.Value.(*payloadEntry)
		c.order.Remove(last)
		delete(c.byID, old.id)
		c.size -= old.cost()
	}
}
