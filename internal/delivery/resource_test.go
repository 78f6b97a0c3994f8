package delivery_test

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// blackHole is an endpoint that accepts TCP connections and never answers,
// counting the connections it holds open.
type blackHole struct {
	net.Listener
	held, peak atomic.Int64
	mu         sync.Mutex
	conns      map[net.Conn]struct{}
}

func newBlackHole(t *testing.T) *blackHole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	b := &blackHole{Listener: ln, conns: map[net.Conn]struct{}{}}
	go b.accept()
	t.Cleanup(b.close)
	return b
}

func (b *blackHole) accept() {
	for {
		c, err := b.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue // out of descriptors, say: the peak tells
		}
		b.mu.Lock()
		b.conns[c] = struct{}{}
		b.mu.Unlock()
		n := b.held.Add(1)
		for p := b.peak.Load(); n > p && !b.peak.CompareAndSwap(p, n); p = b.peak.Load() {
		}
		go b.hold(c)
	}
}

// hold reads and discards the request until the client gives up on it.
func (b *blackHole) hold(c net.Conn) {
	buf := make([]byte, 4096)
	for {
		if _, err := c.Read(buf); err != nil {
			break
		}
	}
	b.mu.Lock()
	delete(b.conns, c)
	b.mu.Unlock()
	c.Close()
	b.held.Add(-1)
}

func (b *blackHole) close() {
	b.Listener.Close()
	b.mu.Lock()
	defer b.mu.Unlock()
	for c := range b.conns {
		c.Close()
	}
}

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("count open descriptors: %v", err)
	}
	return len(entries) - 1 // the directory being read
}

// TestConcurrencyCapBoundsDescriptors (issue 12, point 3): 40 webhooks at
// max_in_flight 256 aimed at an endpoint that accepts and never answers,
// with 150 notifications queued for each. Herald's open descriptors stay
// under the service-wide cap plus a small constant, /healthz and publishing
// keep answering, and another tenant's deliveries arrive within 1 s.
//
// Herald runs in this process, so its descriptors are the process's minus
// those open before it started and minus the black hole's side of each
// connection it holds. Not parallel: other tests' descriptors would count.
func TestConcurrencyCapBoundsDescriptors(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("needs /proc/self/fd to count descriptors")
	}
	eachBackend(t, func(t *testing.T, o heraldtest.Options) {
		const (
			maxConcurrency = 128
			blackHoled     = 40
			queuedEach     = 150
			slack          = 32 // database files and pool, listener, poller, keep-alive connections (about 15 measured)
		)
		hole := newBlackHole(t)
		healthyEnd := newReceiver(t, nil) // created here so its listener counts in the baseline
		before := openFDs(t)
		o.MaxConcurrency = maxConcurrency
		in := heraldtest.Start(t, o)
		for range blackHoled {
			// timeout_seconds 30: every attempt stays open for the whole test.
			createWebhook(t, in, "http://"+hole.Addr().String()+"/hook", map[string]any{"max_in_flight": 256, "timeout_seconds": 30})
		}
		const tenant = "other-tenant"
		if r := in.Admin(t, "POST", "/tenants", map[string]any{"name": tenant}); r.Status != http.StatusCreated {
			t.Fatalf("create tenant: %d %s", r.Status, r.Body)
		}
		healthy := newArrivals(t, in, tenant, healthyEnd)

		events := make([]string, queuedEach)
		for i := range events {
			events[i] = cardEvent(i)
		}
		if r := in.Admin(t, "POST", "/events:batch", `{"events":[`+strings.Join(events, ",")+`]}`); r.Status != http.StatusAccepted {
			t.Fatalf("publish the batch: %d %s", r.Status, r.Body)
		}
		heraldtest.Eventually(t, 10*time.Second, "attempts to reach the black hole", func() bool { return hole.held.Load() >= blackHoled })

		herald := func() int {
			held := hole.held.Load()
			fds := openFDs(t)
			// A connection accepted during the count may show on both
			// sides: subtract it, erring towards Herald.
			return fds - before - int(max(held, hole.held.Load()))
		}
		client := &http.Client{Timeout: 2 * time.Second}
		worstFDs, worstPublish := 0, time.Duration(0)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); <-tick.C {
			worstFDs = max(worstFDs, herald())
			if err := healthz(client, in.URL); err != nil {
				t.Fatalf("with %d connections held: %v", hole.held.Load(), err)
			}
			start := time.Now()
			healthy.publish(t, cardEvent(10000+len(healthy.published)))
			worstPublish = max(worstPublish, time.Since(start))
		}
		healthy.awaitAll(t, 5*time.Second)
		t.Logf("%d connections held (peak %d); Herald's descriptors at most %d; slowest publish %s; slowest delivery of %d to the other tenant %s",
			hole.held.Load(), hole.peak.Load(), worstFDs, worstPublish, len(healthy.published), healthy.worstLatency())
		if p := hole.peak.Load(); p > maxConcurrency {
			t.Errorf("%d connections held at once by the never-answering endpoint, want at most the cap %d", p, maxConcurrency)
		}
		if worstFDs > maxConcurrency+slack {
			t.Errorf("Herald had up to %d descriptors open, want at most the cap %d + %d", worstFDs, maxConcurrency, slack)
		}
		if worstPublish > time.Second {
			t.Errorf("the slowest publish took %s, want under 1s", worstPublish)
		}
		if worst := healthy.worstLatency(); worst > time.Second {
			t.Errorf("the other tenant's slowest delivery took %s, want under 1s", worst)
		}
	})
}

// healthz asks /healthz and wants 200.
func healthz(client *http.Client, base string) error {
	resp, err := client.Get(base + "/healthz")
	if err != nil {
		return fmt.Errorf("/healthz: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/healthz answered %d", resp.StatusCode)
	}
	return nil
}
