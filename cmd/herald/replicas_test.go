package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/store/postgres/pgtest"
)

// counter is a receiver that counts deliveries per webhook-id and the peak
// number of concurrent requests per webhook (by URL path).
type counter struct {
	*httptest.Server
	mu     sync.Mutex
	got    map[string]int
	active map[string]int
	peak   map[string]int
}

func newCounter(t *testing.T, delay time.Duration) *counter {
	c := &counter{got: map[string]int{}, active: map[string]int{}, peak: map[string]int{}}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		c.mu.Lock()
		c.active[r.URL.Path]++
		c.peak[r.URL.Path] = max(c.peak[r.URL.Path], c.active[r.URL.Path])
		c.mu.Unlock()
		time.Sleep(delay)
		c.mu.Lock()
		c.active[r.URL.Path]--
		c.got[r.Header.Get("Webhook-Id")]++
		c.mu.Unlock()
	}))
	t.Cleanup(c.Close)
	return c
}

// missing counts acknowledged notifications not received yet.
func (c *counter) missing(acked map[string]bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for id := range acked {
		if c.got[id] == 0 {
			n++
		}
	}
	return n
}

func (c *counter) duplicates() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := 0
	for _, n := range c.got {
		d += n - 1
	}
	return d
}

func (c *counter) received() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.got)
}

// acks collects acknowledged notification ids, safe for concurrent use.
type acks struct {
	mu  sync.Mutex
	ids map[string]bool
}

func (a *acks) add(ids []string) {
	a.mu.Lock()
	for _, id := range ids {
		a.ids[id] = true
	}
	a.mu.Unlock()
}

func (a *acks) snapshot() map[string]bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]bool, len(a.ids))
	for id := range a.ids {
		out[id] = true
	}
	return out
}

// publishBatch posts n events to addr in one batch; it returns the status and
// the notification ids of a 202.
func publishBatch(client *http.Client, addr string, first, n int) (int, []string, error) {
	var b strings.Builder
	b.WriteString(`{"events":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"event":"CARD_STATUS_CHANGE","card_status_change":{"card_id":"c-%d","new_status":"ACTIVE"}}`, first+i)
	}
	b.WriteString(`]}`)
	req, _ := http.NewRequest("POST", "http://"+addr+"/events:batch", strings.NewReader(b.String()))
	req.Header.Set("apikey", crashAdminKey)
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		return resp.StatusCode, nil, fmt.Errorf("%s", body)
	}
	var ans struct {
		Events []struct {
			Notifications []struct{ ID string } `json:"notifications"`
		} `json:"events"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return resp.StatusCode, nil, err
	}
	var ids []string
	for _, e := range ans.Events {
		for _, n := range e.Notifications {
			ids = append(ids, n.ID)
		}
	}
	return resp.StatusCode, ids, nil
}

// replicas starts n herald processes on the PostgreSQL database dbURL.
func replicas(t *testing.T, n int, dbURL string) ([]string, []*os.Process) {
	bin := buildHerald(t)
	var addrs []string
	var procs []*os.Process
	for range n {
		addr := freeAddr(t)
		cmd := startHerald(t, bin, addr, "--database-url", dbURL, "--data", t.TempDir(), "--lease", "3s")
		addrs = append(addrs, addr)
		procs = append(procs, cmd.Process)
	}
	return addrs, procs
}

func createHooks(t *testing.T, addr, endpoint string, n int) {
	t.Helper()
	for i := range n {
		status, body := call(t, addr, "POST", "/webhooks", fmt.Sprintf(
			`{"endpoint": "%s/hook%d", "events": ["*"], "config": {"max_in_flight": 16, "timeout_seconds": 2}}`, endpoint, i))
		if status != http.StatusCreated {
			t.Fatalf("create webhook: %d %s", status, body)
		}
	}
}

// statusCounts reads notification statuses straight from the database.
func statusCounts(t *testing.T, dbURL string) map[string]int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), "SELECT status, count(*) FROM notifications GROUP BY status")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		out[s] = n
	}
	return out
}

// TestReplicasShareWork: three replicas on one database deliver 5,000
// events fanned out to four webhooks, each notification exactly once, and
// no webhook ever has more than its max_in_flight requests at once.
func TestReplicasShareWork(t *testing.T) {
	dbURL := pgtest.Database(t)
	rc := newCounter(t, 2*time.Millisecond)
	addrs, _ := replicas(t, 3, dbURL)
	createHooks(t, addrs[0], rc.URL, 4)

	const events, batch = 5000, 250
	got := &acks{ids: map[string]bool{}}
	start := time.Now()
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 30 * time.Second}
	for b := 0; b < events/batch; b++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, ids, err := publishBatch(client, addrs[b%len(addrs)], b*batch, batch)
			if err != nil || status != http.StatusAccepted {
				t.Errorf("publish batch %d: %d %v", b, status, err)
			}
			got.add(ids)
		}()
		if b%3 == 2 {
			wg.Wait()
		}
	}
	wg.Wait()
	acked := got.snapshot()
	if len(acked) != events*4 {
		t.Fatalf("%d notifications acknowledged, want %d", len(acked), events*4)
	}
	waitFor(t, 120*time.Second, "every notification to be delivered", func() bool { return rc.missing(acked) == 0 })
	took := time.Since(start)
	waitFor(t, 10*time.Second, "every result to be recorded", func() bool {
		return statusCounts(t, dbURL)["DELIVERED"] == len(acked)
	})
	if d := rc.duplicates(); d != 0 {
		t.Errorf("%d duplicate deliveries with no replica failing, want 0", d)
	}
	rc.mu.Lock()
	for path, p := range rc.peak {
		if p > 16 {
			t.Errorf("webhook %s had %d requests in flight across replicas, max_in_flight is 16", path, p)
		}
	}
	t.Logf("3 replicas delivered %d notifications in %s (%.0f/s), peaks per webhook %v, 0 duplicates",
		len(acked), took.Round(time.Millisecond), float64(len(acked))/took.Seconds(), rc.peak)
	rc.mu.Unlock()
}

// TestReplicaKilled: one of three replicas dies by SIGKILL mid-run; the
// others take over its leased notifications and nothing is lost.
func TestReplicaKilled(t *testing.T) {
	dbURL := pgtest.Database(t)
	rc := newCounter(t, 20*time.Millisecond)
	addrs, procs := replicas(t, 3, dbURL)
	createHooks(t, addrs[0], rc.URL, 2)
	got := &acks{ids: map[string]bool{}}
	client := &http.Client{Timeout: 30 * time.Second}
	for b := range 8 {
		_, ids, err := publishBatch(client, addrs[b%3], b*250, 250)
		if err != nil {
			t.Fatal(err)
		}
		got.add(ids)
	}
	acked := got.snapshot()
	waitFor(t, 60*time.Second, "a quarter of the deliveries", func() bool { return rc.received() >= len(acked)/4 })
	if err := procs[1].Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	deliveredAtKill := len(acked) - rc.missing(acked)
	waitFor(t, 120*time.Second, "every notification to be delivered", func() bool { return rc.missing(acked) == 0 })
	recovered := time.Since(killed)
	waitFor(t, 20*time.Second, "every result to be recorded", func() bool {
		return statusCounts(t, dbURL)["DELIVERED"] == len(acked)
	})
	dups := rc.duplicates()
	// Only notifications in flight at the killed replica can be sent twice:
	// at most max_in_flight per webhook.
	if dups > 2*16 {
		t.Errorf("%d duplicates, more than the 32 requests that can be in flight", dups)
	}
	t.Logf("replica killed with %d of %d delivered; all delivered %s later; %d duplicate deliveries",
		deliveredAtKill, len(acked), recovered.Round(time.Millisecond), dups)
}

// TestDatabaseOutage: the database refuses every connection for a while.
// Publishes in that window get 503 with a clear error (never 202), the
// replicas recover by themselves, and every acknowledged event is delivered.
func TestDatabaseOutage(t *testing.T) {
	dbURL := pgtest.Database(t)
	u, _ := url.Parse(dbURL)
	dbName := strings.TrimPrefix(u.Path, "/")
	rc := newCounter(t, time.Millisecond)
	addrs, _ := replicas(t, 2, dbURL)
	createHooks(t, addrs[0], rc.URL, 1)

	admin, err := pgx.Connect(context.Background(), os.Getenv(pgtest.EnvDSN))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	var outage atomic.Bool
	var during, after struct {
		sync.Mutex
		codes map[int]int
	}
	during.codes, after.codes = map[int]int{}, map[int]int{}
	got := &acks{ids: map[string]bool{}}
	stop := make(chan struct{})
	var firstAfter atomic.Int64
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 10 * time.Second}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				inOutage := outage.Load()
				status, ids, err := publishBatch(client, addrs[w], w*1_000_000+i*10, 10)
				if status == 0 {
					t.Errorf("publish failed without an answer: %v", err)
					return
				}
				if status == http.StatusServiceUnavailable && (err == nil || !strings.Contains(err.Error(), `"code":"unavailable"`)) {
					t.Errorf("503 without the unavailable error body: %v", err)
				}
				rec := &after
				if inOutage && outage.Load() {
					rec = &during
				}
				rec.Lock()
				rec.codes[status]++
				rec.Unlock()
				if status == http.StatusAccepted {
					got.add(ids)
					if !outage.Load() && firstAfter.Load() == 0 && during.codes[http.StatusServiceUnavailable] > 0 {
						firstAfter.Store(time.Now().UnixNano())
					}
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	mustExec(t, admin, "ALTER DATABASE "+dbName+" ALLOW_CONNECTIONS false")
	mustExec(t, admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '"+dbName+"'")
	// From here until connections are allowed again, no request can reach
	// the database: a publish that starts and ends inside must be refused.
	outage.Store(true)
	// Readiness reports the outage.
	time.Sleep(300 * time.Millisecond)
	if resp, err := http.Get("http://" + addrs[0] + "/readyz"); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz during the outage: %v %v, want 503", resp.StatusCode, err)
	}
	time.Sleep(1500 * time.Millisecond)
	outage.Store(false)
	mustExec(t, admin, "ALTER DATABASE "+dbName+" ALLOW_CONNECTIONS true")
	restored := time.Now()
	waitFor(t, 30*time.Second, "publishing to work again", func() bool { return firstAfter.Load() != 0 })
	recovery := time.Unix(0, firstAfter.Load()).Sub(restored)
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()

	during.Lock()
	if during.codes[http.StatusAccepted] > 0 || during.codes[http.StatusServiceUnavailable] == 0 {
		t.Errorf("answers while the database refused connections: %v; want only 503s", during.codes)
	}
	for code := range during.codes {
		if code != http.StatusServiceUnavailable {
			t.Errorf("answer %d during the outage, want 503", code)
		}
	}
	during.Unlock()
	acked := got.snapshot()
	waitFor(t, 60*time.Second, "every acknowledged notification to be delivered", func() bool { return rc.missing(acked) == 0 })
	t.Logf("outage: %v during, %v around it; publishing recovered %s after the database came back; all %d acknowledged delivered",
		during.codes, after.codes, recovery.Round(time.Millisecond), len(acked))
}

func mustExec(t *testing.T, c *pgx.Conn, sql string) {
	t.Helper()
	if _, err := c.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
