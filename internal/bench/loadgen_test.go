package bench

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// loadBench is a bench whose load generator is this test binary.
func loadBench(t *testing.T) *bench {
	t.Helper()
	cfg, err := testConfig(t).withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return &bench{cfg: cfg}
}

// A load generator process sends every request with its headers and
// body, reports them answered, and its CPU time is read from its rusage.
func TestLoadGenProcess(t *testing.T) {
	var got atomic.Int64
	var bad atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if string(body) != `{"a":1}` || r.Header.Get("apikey") != "k" || !strings.HasPrefix(r.Header.Get("Webhook-Id"), "msg_") {
			bad.Store(r.Header.Clone())
		}
		got.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	b := loadBench(t)
	var done atomic.Int64
	run, err := b.runLoadProc(context.Background(), loadJob{URL: srv.URL, Body: []byte(`{"a":1}`), Connections: 4, Requests: 300,
		WantStatus: http.StatusAccepted, IDHeader: "Webhook-Id", Headers: map[string]string{"apikey": "k"}}, &done)
	if err != nil {
		t.Fatalf("runLoadProc: %v", err)
	}
	if run.OK != 300 || run.Failed != 0 || got.Load() != 300 || done.Load() != 300 {
		t.Errorf("ok %d failed %d, server got %d, done %d; want 300 each", run.OK, run.Failed, got.Load(), done.Load())
	}
	if h := bad.Load(); h != nil {
		t.Errorf("a request lacked its body or headers: %v", h)
	}
	if run.Seconds <= 0 || run.rate() <= 0 || run.P99Ms < run.P50Ms || run.cpu <= 0 {
		t.Errorf("result = %+v, cpu %s", run.loadResult, run.cpu)
	}
}

// Answers with the wrong status are failures: the load stops after
// MaxFailures of them and names the first.
func TestLoadStopsAfterFailures(t *testing.T) {
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	var done atomic.Int64
	res := runLoad(context.Background(), loadJob{URL: srv.URL, Connections: 2, Requests: 100000, WantStatus: http.StatusOK, MaxFailures: 3}, &done)
	if res.OK != 0 || res.Failed < 4 || got.Load() > 100 {
		t.Errorf("ok %d failed %d after %d requests; want a stop just after 3 failures", res.OK, res.Failed, got.Load())
	}
	if !strings.Contains(res.FirstError, "status 500, want 200") {
		t.Errorf("first error = %q", res.FirstError)
	}
}

// When the bench gives up (ctx ends), the load generator process is told
// through its stdin and is gone when runLoadProc returns.
func TestLoadGenEndsWithTheBench(t *testing.T) {
	arrived := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		<-r.Context().Done()
	}))
	defer srv.Close()
	defer srv.CloseClientConnections()
	b := loadBench(t)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	var done atomic.Int64
	start := time.Now()
	_, err := b.runLoadProc(ctx, loadJob{URL: srv.URL, Connections: 1, Requests: 10, WantStatus: http.StatusOK}, &done)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("runLoadProc = %v, want context.Canceled", err)
	}
	if time.Since(start) > 20*time.Second {
		t.Errorf("runLoadProc took %s to give up", time.Since(start))
	}
}
