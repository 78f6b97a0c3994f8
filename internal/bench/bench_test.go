package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/brokertest"
	"github.com/heraldhq/herald/internal/store/postgres/pgtest"
)

// receiverEnv and loadGenEnv make the test binary run as the receiver
// process and as a load generator process.
const (
	receiverEnv = "HERALD_BENCH_TEST_RECEIVER"
	loadGenEnv  = "HERALD_BENCH_TEST_LOADGEN"
)

func TestMain(m *testing.M) {
	run := func(fn func(context.Context, io.Reader, io.Writer) error) {
		if err := fn(context.Background(), os.Stdin, os.Stdout); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	switch {
	case os.Getenv(receiverEnv) == "1":
		run(RunReceiver)
	case os.Getenv(loadGenEnv) == "1":
		run(RunLoadGen)
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
		Events: 1000, Webhooks: 2, Rate: 200, Duration: 500 * time.Millisecond, Backlog: 4000,
		ScaleWebhooks: 32, IdleWindow: 300 * time.Millisecond,
		// 6,000 notifications: more than sqlstore.DefaultDeferral.Above, so
		// the batch's fan-out is deferred as one at the bound would be.
		FanoutWebhooks: 10, FanoutEvents: 600,
		ReceiverCommand: []string{exe}, ReceiverEnv: []string{receiverEnv + "=1"},
		LoadGenCommand: []string{exe}, LoadGenEnv: []string{loadGenEnv + "=1"},
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
	t.Parallel()
	cfg, scenarios := testConfig(t), Scenarios
	if brokertest.Reachable(brokertest.RabbitMQURL) != nil || brokertest.Reachable(brokertest.NATSURL) != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("the source scenario's brokers are unreachable (in CI they must run)")
		}
		scenarios = slices.DeleteFunc(slices.Clone(Scenarios), func(s string) bool { return s == ScenarioSource })
		cfg.Scenarios = scenarios
		t.Log("RabbitMQ or NATS is unreachable: the source scenario does not run")
	}
	report, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := map[string][]string{
		ScenarioCeiling:          {"ceiling"},
		ScenarioThroughput:       {"throughput"},
		ScenarioThroughputSingle: {"throughput-single"},
		ScenarioPublish:          {"publish (no subscriber)", "publish CPU (no subscriber)", "publish", "publish CPU"},
		ScenarioLatency: {"latency p50 from request", "latency p90 from request", "latency p99 from request",
			"latency max from request", "latency p50 from ack", "latency p99 from ack"},
		ScenarioIsolation: {"isolation healthy p50", "isolation healthy p99", "isolation p99 ratio"},
		ScenarioFanout: {"fanout other-tenant publish p50", "fanout other-tenant publish p99",
			"fanout batch answer", "fanout notifications written"},
		ScenarioBacklog: {"backlog peak RSS", "backlog drain"},
		ScenarioIngest:  {"ingest"},
		ScenarioSource:  {"source rabbitmq", "source nats"},
		ScenarioScale:   {"scale throughput", "scale vs throughput", "scale idle CPU"},
	}
	if len(report.Scenarios) != len(scenarios) {
		t.Fatalf("got %d scenarios, want %d", len(report.Scenarios), len(scenarios))
	}
	for i, s := range report.Scenarios {
		if s.Name != scenarios[i] {
			t.Errorf("scenario %d is %s, want %s", i, s.Name, scenarios[i])
		}
		if s.Name == ScenarioSource {
			for _, f := range s.Figures {
				if f.Met == nil || !strings.HasPrefix(f.Target, ">= POST /events") {
					t.Errorf("%s: target %q (met %v), want the POST /events rate", f.Name, f.Target, f.Met)
				}
			}
		}
		if s.Error != "" {
			t.Errorf("%s failed: %s", s.Name, s.Error)
			continue
		}
		if s.Name == ScenarioReplicas && (len(s.Notes) != 1 || !strings.Contains(s.Notes[0], "PostgreSQL")) {
			t.Errorf("replicas on SQLite: notes %v, want it skipped for PostgreSQL", s.Notes)
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
	for _, name := range []string{ScenarioThroughput, ScenarioThroughputSingle, ScenarioPublish, ScenarioBacklog, ScenarioIngest} {
		for _, s := range report.Scenarios {
			if s.Name != name {
				continue
			}
			for _, f := range s.Figures {
				if strings.HasSuffix(f.Unit, "/s") && f.Ceiling <= 0 {
					t.Errorf("%s: %s has no ceiling beside it", name, f.Name)
				}
			}
		}
	}

	checkTargets(t, report, map[string]string{
		"throughput": ">= 45% of ceiling", "throughput-single": ">= 40% of ceiling", "publish": ">= 35% of ceiling",
		"publish CPU": "<= 60 µs", "publish (no subscriber)": ">= 35% of ceiling", "publish CPU (no subscriber)": "<= 60 µs", "latency p50 from request": "< 2 ms", "latency p99 from request": "< 10 ms",
		"latency p99 from ack": "", "backlog drain": ">= 40% of ceiling", "ingest": ">= 40000 events/s",
		"scale vs throughput": ">= 80%", "scale idle CPU": "< 5%", "fanout other-tenant publish p99": "< 100 ms",
		"fanout batch answer": "",
	})
	for _, s := range report.Scenarios {
		d := s.Details
		switch s.Name {
		case ScenarioScale:
			if d["idle"] != 10 || d["failing"] != 10 || d["disabled"] != 10 || d["tenants"] != 11 {
				t.Errorf("scale registered idle/failing/disabled/tenants = %v/%v/%v/%v, want 10/10/10/11", d["idle"], d["failing"], d["disabled"], d["tenants"])
			}
		case ScenarioFanout:
			checkFanout(t, s)
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
	if back.Machine.CPUs < 1 || back.Machine.GoVersion == "" || back.Machine.Backend != BackendSQLite || len(back.Scenarios) != len(scenarios) {
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

// A receiver process that ends under the bench (killed from outside) is
// named as the cause of the failed requests.
func TestReceiverDeathIsReported(t *testing.T) {
	cfg := testConfig(t)
	rp, err := startReceiver(context.Background(), cfg.ReceiverCommand, cfg.ReceiverEnv, cfg.Progress)
	if err != nil {
		t.Fatal(err)
	}
	defer rp.Close()
	if _, err := rp.stats(context.Background()); err != nil {
		t.Fatalf("stats of a live receiver: %v", err)
	}
	if err := rp.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-rp.done
	rp.hc.CloseIdleConnections()
	_, err = rp.stats(context.Background())
	if err == nil || !strings.Contains(err.Error(), "the receiver process has ended (signal: killed") {
		t.Errorf("stats after the receiver was killed = %v", err)
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

func TestProbeIndexes(t *testing.T) {
	for _, c := range []struct {
		n, k int
		want []int
	}{
		{n: 1000, k: 4, want: []int{249, 499, 749, 999}},
		{n: 600, k: 20, want: []int{29, 59, 89, 119, 149, 179, 209, 239, 269, 299, 329, 359, 389, 419, 449, 479, 509, 539, 569, 599}},
		{n: 3, k: 20, want: []int{0, 1, 2}},
		{n: 1, k: 20, want: []int{0}},
		{n: 7, k: 3, want: []int{1, 3, 6}},
	} {
		if got := probeIndexes(c.n, c.k); !slices.Equal(got, c.want) {
			t.Errorf("probeIndexes(%d, %d) = %v, want %v", c.n, c.k, got, c.want)
		}
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
		{FanoutEvents: 1001, ReceiverCommand: []string{"x"}},
		{FanoutWebhooks: -1, ReceiverCommand: []string{"x"}},
	} {
		if _, err := c.withDefaults(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// checkTargets asserts the target printed beside each named figure ("":
// none).
func checkTargets(t *testing.T, report *Report, want map[string]string) {
	t.Helper()
	seen := map[string]bool{}
	for _, s := range report.Scenarios {
		for _, f := range s.Figures {
			target, ok := want[f.Name]
			if !ok {
				continue
			}
			seen[f.Name] = true
			if f.Target != target {
				t.Errorf("%s: target %q, want %q", f.Name, f.Target, target)
			}
			if (f.Met != nil) != (target != "") {
				t.Errorf("%s: met = %v with target %q", f.Name, f.Met, f.Target)
			}
		}
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("no figure %s", name)
		}
	}
}

// On PostgreSQL the delivery scenarios report the server's CPU per
// notification beside its target, backlog runs ANALYZE after queueing,
// and the targets are PostgreSQL's.
func TestPostgresScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end bench")
	}
	t.Parallel()
	cfg := testConfig(t)
	cfg.DatabaseURL = pgtest.Database(t)
	cfg.Scenarios = []string{ScenarioCeiling, ScenarioThroughputSingle, ScenarioReplicas, ScenarioLatency, ScenarioFanout, ScenarioBacklog}
	cfg.Events, cfg.Backlog, cfg.Duration = 200, 1000, 500*time.Millisecond
	report, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if report.Machine.Backend != BackendPostgres {
		t.Errorf("backend = %s", report.Machine.Backend)
	}
	for _, s := range report.Scenarios {
		if s.Error != "" {
			t.Fatalf("%s failed: %s", s.Name, s.Error)
		}
		if s.Name == ScenarioFanout {
			checkFanout(t, s)
		}
		if s.Name == ScenarioReplicas {
			checkReplicas(t, s)
		}
		if s.Name != ScenarioThroughputSingle && s.Name != ScenarioBacklog && s.Name != ScenarioReplicas {
			continue
		}
		var pg *Figure
		for i, f := range s.Figures {
			if f.Name == "postgres CPU per notification" {
				pg = &s.Figures[i]
			}
		}
		if pg == nil || pg.Value <= 0 || pg.Unit != "µs" || pg.Met == nil {
			t.Errorf("%s: postgres CPU figure = %+v (details %v, notes %v)", s.Name, pg, s.Details, s.Notes)
		}
		if _, ok := s.Details["analyze_seconds"]; ok != (s.Name == ScenarioBacklog) {
			t.Errorf("%s: analyze_seconds present = %v", s.Name, ok)
		}
	}
	checkTargets(t, report, map[string]string{
		"throughput-single": "", "latency p50 from request": "", "latency p99 from request": "< 50 ms",
		"backlog drain": ">= 10000 notifications/s", "postgres CPU per notification": "<= 60 µs",
		"fanout other-tenant publish p99": "< 100 ms",
	})
}

// checkReplicas asserts what the replicas scenario reports without the
// throughput scenario in the run: the three replicas' rate, no duplicate
// (a receiver counting every arrival), and no baseline to compare with.
func checkReplicas(t *testing.T, s ScenarioResult) {
	t.Helper()
	var names []string
	for _, f := range s.Figures {
		names = append(names, f.Name)
		if f.Name == "replicas duplicates" && (f.Value != 0 || f.Met == nil || !*f.Met) {
			t.Errorf("replicas duplicates = %+v, want 0 and met", f)
		}
	}
	if want := "3 replicas throughput,postgres CPU per notification,replicas duplicates"; strings.Join(names, ",") != want {
		t.Errorf("replicas figures = %v, want %s", names, want)
	}
	if s.Details["replicas"] != Replicas || s.Details["notifications"] != int64(200*2) {
		t.Errorf("replicas details = %v", s.Details)
	}
	if !slices.ContainsFunc(s.Notes, func(n string) bool { return strings.Contains(n, "no one-replica baseline") }) {
		t.Errorf("replicas notes = %v, want the missing baseline", s.Notes)
	}
}

// checkFanout asserts what the fanout scenario of testConfig counted: its
// 6,000 notifications, the other tenant's publishes while they were
// written, and the writing finished after the batch's answer.
func checkFanout(t *testing.T, s ScenarioResult) {
	t.Helper()
	d := s.Details
	if d["notifications"] != int64(6000) || d["webhooks"] != 10 || d["events"] != 600 {
		t.Errorf("fanout notifications/webhooks/events = %v/%v/%v, want 6000/10/600", d["notifications"], d["webhooks"], d["events"])
	}
	if n, _ := d["other_publishes"].(int); n < 1 {
		t.Errorf("fanout other_publishes = %v, want some", d["other_publishes"])
	}
	figures := map[string]float64{}
	for _, f := range s.Figures {
		figures[f.Name] = f.Value
	}
	if a, w := figures["fanout batch answer"], figures["fanout notifications written"]; a <= 0 || w < a {
		t.Errorf("fanout answered after %v ms, written after %v ms", a, w)
	}
}
