package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	crashAdminKey     = "hk_crash_test_admin_key_0123456789"
	testEncryptionKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
)

// TestKillLosesNothingAcknowledged runs the real binary, kills it with
// SIGKILL while notifications are in flight and publishes are arriving,
// restarts it on the same data directory, and checks that every event that
// was acknowledged with 202 reaches every subscribed endpoint.
func TestKillLosesNothingAcknowledged(t *testing.T) {
	bin := buildHerald(t)
	data := t.TempDir()
	addr := freeAddr(t)

	var mu sync.Mutex
	got := map[string]int{} // webhook-id -> deliveries
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		time.Sleep(40 * time.Millisecond) // keep requests in flight
		mu.Lock()
		got[r.Header.Get("Webhook-Id")]++
		mu.Unlock()
	}))
	defer rc.Close()
	received := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(got)
	}

	first := startHerald(t, bin, addr, "--data", data)
	for range 2 {
		status, body := call(t, addr, "POST", "/webhooks", fmt.Sprintf(`{"endpoint": %q, "events": ["*"], "config": {"max_in_flight": 8}}`, rc.URL))
		if status != http.StatusCreated {
			t.Fatalf("create webhook: %d %s", status, body)
		}
	}

	// Publish until the process dies; remember every acknowledged notification.
	acked := map[string]bool{}
	var ackMu sync.Mutex
	publishing := make(chan struct{})
	go func() {
		defer close(publishing)
		client := &http.Client{Timeout: 5 * time.Second}
		for i := 0; i < 2000; i++ {
			body := fmt.Sprintf(`{"event":"CARD_STATUS_CHANGE","card_status_change":{"card_id":"c-%d"}}`, i)
			req, _ := http.NewRequest("POST", "http://"+addr+"/events", bytes.NewBufferString(body))
			req.Header.Set("apikey", crashAdminKey)
			resp, err := client.Do(req)
			if err != nil {
				return // the process was killed
			}
			var ans struct {
				Notifications []struct{ ID string } `json:"notifications"`
			}
			err = json.NewDecoder(resp.Body).Decode(&ans)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted || err != nil {
				continue
			}
			ackMu.Lock()
			for _, n := range ans.Notifications {
				acked[n.ID] = true
			}
			ackMu.Unlock()
		}
	}()

	waitFor(t, 20*time.Second, "deliveries to start", func() bool { return received() >= 40 })
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill: %v", err)
	}
	_ = first.Wait()
	<-publishing
	ackMu.Lock()
	total := len(acked)
	ackMu.Unlock()
	if total == 0 {
		t.Fatal("nothing was acknowledged before the kill")
	}
	before := received()
	if before >= total {
		t.Logf("warning: every notification was delivered before the kill (%d); the restart had nothing to resume", total)
	}
	t.Logf("killed with %d acknowledged notifications, %d delivered", total, before)

	second := startHerald(t, bin, addr, "--data", data)
	restarted := time.Now()
	waitFor(t, 60*time.Second, "every acknowledged notification to be delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for id := range acked {
			if got[id] == 0 {
				return false
			}
		}
		return true
	})
	mu.Lock()
	duplicates := 0
	for _, n := range got {
		duplicates += n - 1
	}
	mu.Unlock()
	t.Logf("all %d acknowledged notifications delivered %s after restart; %d duplicate deliveries", total, time.Since(restarted).Round(time.Millisecond), duplicates)

	// The store agrees: every acknowledged notification is DELIVERED. The
	// receiver answers before Herald records the outcome, so the store may
	// lag the receiver a little: awaited, not read once.
	delivered := 0
	waitFor(t, 30*time.Second, "the store to show every acknowledged notification DELIVERED", func() bool {
		delivered = storeDelivered(t, addr, acked)
		return delivered == total
	})
	t.Logf("store shows all %d acknowledged notifications DELIVERED", delivered)

	// SIGTERM shuts down cleanly.
	if err := second.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- second.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Error("herald did not exit within 20s of SIGTERM")
		_ = second.Process.Kill()
	}
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// buildHerald compiles the real binary once per test run.
func buildHerald(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "herald-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "herald")
		if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// startHerald runs `herald serve` on addr with the test admin key, extra
// flags, and waits until it is ready.
func startHerald(t *testing.T, bin, addr string, flags ...string) *exec.Cmd {
	t.Helper()
	args := append([]string{"serve", "--dev", "--addr", addr, "--retry-schedule", "200ms,200ms,200ms"}, flags...)
	cmd := exec.Command(bin, args...)
	// Replicas must share the key that encrypts webhook secrets.
	cmd.Env = append(os.Environ(), "HERALD_ADMIN_KEY="+crashAdminKey, "HERALD_ENCRYPTION_KEY="+testEncryptionKey)
	logFile, err := os.Create(filepath.Join(t.TempDir(), "herald.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start herald: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		logFile.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logFile.Name()); err == nil {
				t.Logf("herald log:\n%s", tail(b, 4000))
			}
		}
	})
	waitFor(t, 15*time.Second, "herald to be ready", func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return cmd
}

func call(t *testing.T, addr, method, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+path, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("apikey", crashAdminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// storeDelivered counts the notifications of ids that a search of the
// store finds DELIVERED.
func storeDelivered(t *testing.T, addr string, ids map[string]bool) int {
	t.Helper()
	delivered := 0
	after := ""
	for {
		status, body := call(t, addr, "POST", "/webhooks:search", fmt.Sprintf(`{"status": "DELIVERED", "limit": 1000, "after": %q}`, after))
		if status != http.StatusOK {
			t.Fatalf("search: %d %s", status, body)
		}
		var page struct {
			Data   []struct{ ID string } `json:"data"`
			Paging struct {
				After   string `json:"after"`
				HasMore bool   `json:"has_more"`
			} `json:"paging"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatal(err)
		}
		for _, n := range page.Data {
			if ids[n.ID] {
				delivered++
			}
		}
		if !page.Paging.HasMore {
			return delivered
		}
		after = page.Paging.After
	}
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
