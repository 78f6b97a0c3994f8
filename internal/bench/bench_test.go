package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// receiverEnv makes the test binary run as the receiver process.
const receiverEnv = "HERALD_BENCH_TEST_RECEIVER"

func TestMain(m *testing.M) {
	if os.Getenv(receiverEnv) == "1" {
		if err := RunReceiver(context.Background(), os.Stdin, os.Stdout); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// testConfig is a small configuration of every scenario whose receiver is
// this test binary.
func testConfig(t *testing.T) Config {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("progress:\n%s", progress.String())
		}
	})
	return Config{
		Events: 2000, Webhooks: 2, Rate: 200, Duration: time.Second, Backlog: 5000,
		ReceiverCommand: []string{exe}, ReceiverEnv: []string{receiverEnv + "=1"},
		Progress: &progress, StallTimeout: 30 * time.Second, ScenarioTimeout: 2 * time.Minute,
	}
}

// TestSmokeEveryScenario runs every scenario end to end on a small load:
// each must report its figures (no assertion on their values) and the JSON
// must be written.
func TestSmokeEveryScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end bench")
	}
	report, err := Run(context.Background(), testConfig(t))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := map[string][]string{
		ScenarioCeiling:    {"ceiling"},
		ScenarioThroughput: {"throughput"},
		ScenarioLatency:    {"latency p50", "latency p90", "latency p99", "latency max"},
		ScenarioIsolation:  {"isolation healthy p50", "isolation healthy p99", "isolation p99 ratio"},
		ScenarioBacklog:    {"backlog peak RSS", "backlog drain"},
		ScenarioIngest:     {"ingest"},
	}
	if len(report.Scenarios) != len(Scenarios) {
		t.Fatalf("got %d scenarios, want %d", len(report.Scenarios), len(Scenarios))
	}
	for i, s := range report.Scenarios {
		if s.Name != Scenarios[i] {
			t.Errorf("scenario %d is %s, want %s", i, s.Name, Scenarios[i])
		}
		if s.Error != "" {
			t.Errorf("%s failed: %s", s.Name, s.Error)
			continue
		}
		var names []string
		for _, f := range s.Figures {
			names = append(names, f.Name)
			positive := strings.HasSuffix(f.Unit, "/s") || f.Unit == "MB"
			if f.Value < 0 || f.Value != f.Value || positive && f.Value == 0 {
				t.Errorf("%s: figure %s = %v %s", s.Name, f.Name, f.Value, f.Unit)
			}
		}
		if strings.Join(names, ",") != strings.Join(want[s.Name], ",") {
			t.Errorf("%s figures = %v, want %v", s.Name, names, want[s.Name])
		}
	}
	for _, name := range []string{ScenarioThroughput, ScenarioBacklog, ScenarioIngest} {
		for _, s := range report.Scenarios {
			if s.Name == name && len(s.Figures) > 0 && s.Figures[len(s.Figures)-1].Ceiling <= 0 {
				t.Errorf("%s has no ceiling beside it", name)
			}
		}
	}

	path := filepath.Join(t.TempDir(), "bench.json")
	if err := report.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatalf("JSON report: %v", err)
	}
	if back.Machine.CPUs < 1 || back.Machine.GoVersion == "" || back.Machine.Backend != BackendSQLite || len(back.Scenarios) != len(Scenarios) {
		t.Errorf("JSON report machine/scenarios = %+v / %d", back.Machine, len(back.Scenarios))
	}
	var table bytes.Buffer
	if err := report.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"SCENARIO", "throughput", "latency p99", "backlog peak RSS", "ingest"} {
		if !strings.Contains(table.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, table.String())
		}
	}
}

// A scenario whose wait never ends is reported as failed with its reason,
// and the receiver process is gone when Run returns.
func TestStalledScenarioFailsWithReason(t *testing.T) {
	cfg := testConfig(t)
	cfg.Scenarios = []string{ScenarioThroughput}
	cfg.StallTimeout = 300 * time.Millisecond
	cfg.ScenarioTimeout = 5 * time.Second
	b := &bench{cfg: cfg}
	rp, err := startReceiver(context.Background(), cfg.ReceiverCommand, cfg.ReceiverEnv, cfg.Progress)
	if err != nil {
		t.Fatal(err)
	}
	b.recv = rp
	_, err = b.awaitCount(context.Background(), "nothing", 10, func(ctx context.Context) (int64, error) {
		return rp.okCount(ctx, "none")
	}, nil)
	if err == nil || !strings.Contains(err.Error(), "stuck at 0 of 10") {
		t.Errorf("awaitCount = %v, want stuck", err)
	}
	rp.Close()
	if rp.cmd.ProcessState == nil || !rp.cmd.ProcessState.Exited() {
		t.Errorf("receiver process still running after Close")
	}
}

func TestReceiverRoutes(t *testing.T) {
	srv := httptest.NewServer(newReceiver())
	defer srv.Close()
	post := func(path, id string) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(`{"a":1}`))
		req.Header.Set("webhook-id", id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post("/ok/tp/1", "msg_1"); got != 200 {
		t.Errorf("/ok = %d", got)
	}
	post("/ok/tp/2", "msg_2")
	post("/ok/lat/0", "msg_3")
	if got := post("/fail/x/0", "msg_4"); got != 500 {
		t.Errorf("/fail = %d", got)
	}
	client := &http.Client{Timeout: 100 * time.Millisecond}
	if _, err := client.Post(srv.URL+"/hang/x/0", "application/json", strings.NewReader("{}")); err == nil {
		t.Errorf("/hang answered")
	}
	p := &receiverProc{url: srv.URL, hc: http.DefaultClient}
	ctx := context.Background()
	st, err := p.stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.OK["tp"] != 2 || st.OK["lat"] != 1 || st.Fail != 1 || st.Hang != 1 || st.Buffered != 3 {
		t.Errorf("stats = %+v", st)
	}
	recs, err := p.drain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[0].ID != "msg_1" || recs[2].ID != "msg_3" || recs[0].At <= 0 || recs[1].At < recs[0].At {
		t.Errorf("records = %+v", recs)
	}
	if recs, _ := p.drain(ctx); len(recs) != 0 {
		t.Errorf("second drain = %d records, want 0", len(recs))
	}
}

func TestSummarize(t *testing.T) {
	var lats []time.Duration
	for i := 100; i >= 1; i-- {
		lats = append(lats, time.Duration(i)*time.Millisecond)
	}
	s := summarize(lats)
	if s.P50 != 50*time.Millisecond || s.P90 != 90*time.Millisecond || s.P99 != 99*time.Millisecond || s.Max != 100*time.Millisecond {
		t.Errorf("summarize = %+v", s)
	}
	if s := summarize(nil); s.Count != 0 {
		t.Errorf("empty summarize = %+v", s)
	}
}

func TestConfigChecks(t *testing.T) {
	for _, c := range []Config{
		{Scenarios: []string{"nope"}, ReceiverCommand: []string{"x"}},
		{Target: "http://127.0.0.1:1", ReceiverCommand: []string{"x"}},
		{Target: "http://127.0.0.1:1", APIKey: "k", DatabaseURL: "postgres://", ReceiverCommand: []string{"x"}},
		{Backend: "mysql", ReceiverCommand: []string{"x"}},
		{Rate: -1, ReceiverCommand: []string{"x"}},
	} {
		if _, err := c.withDefaults(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}
