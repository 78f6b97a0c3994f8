package sqlstore

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

func TestPayloadCache(t *testing.T) {
	entry := func(n int) cachedPayload {
		return cachedPayload{payload: bytes.Repeat([]byte{'x'}, n), published: time.UnixMilli(1), traceParent: "tp"}
	}
	one := (&payloadEntry{id: "e0", cachedPayload: entry(1000)}).cost()

	t.Run("least recently used out first", func(t *testing.T) {
		c := newPayloadCache(3 * one)
		for i := range 3 {
			c.put(fmt.Sprintf("e%d", i), entry(1000), true)
		}
		if _, ok := c.get("e0"); !ok { // e0 is now the most recently used
			t.Fatal("e0 missing before the bound is reached")
		}
		c.put("e3", entry(1000), true)
		for id, want := range map[string]bool{"e0": true, "e1": false, "e2": true, "e3": true} {
			if _, ok := c.get(id); ok != want {
				t.Errorf("%s cached = %v, want %v", id, ok, want)
			}
		}
		if c.size > c.max || len(c.byID) != c.order.Len() {
			t.Errorf("size %d of %d, %d ids, %d entries", c.size, c.max, len(c.byID), c.order.Len())
		}
	})

	t.Run("copies what it does not own", func(t *testing.T) {
		c := newPayloadCache(3 * one)
		body := []byte(`{"a":1}`)
		c.put("e", cachedPayload{payload: body[:4]}, false)
		body[0] = '!'
		got, _ := c.get("e")
		if string(got.payload) != `{"a"` || &got.payload[0] == &body[0] {
			t.Errorf("payload %q shares the request's body, want a copy of its 4 bytes", got.payload)
		}
	})

	t.Run("an entry over the bound is not kept", func(t *testing.T) {
		c := newPayloadCache(one)
		c.put("small", entry(10), true)
		c.put("big", entry(2000), true)
		if _, ok := c.get("big"); ok {
			t.Error("an entry larger than the bound was kept")
		}
		if _, ok := c.get("small"); !ok {
			t.Error("an entry over the bound evicted the others")
		}
	})

	t.Run("a second put keeps the first", func(t *testing.T) {
		c := newPayloadCache(3 * one)
		c.put("e", entry(10), true)
		c.put("e", entry(20), true)
		got, _ := c.get("e")
		if len(got.payload) != 10 || c.order.Len() != 1 || c.size != (&payloadEntry{id: "e", cachedPayload: entry(10)}).cost() {
			t.Errorf("payload of %d bytes, %d entries, size %d", len(got.payload), c.order.Len(), c.size)
		}
	})
}
