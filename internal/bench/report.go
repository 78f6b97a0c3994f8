package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Targets of SPEC section 7 and of the delivery-engine issue. Rates are
// shares of the ceiling measured in the same run.
const (
	// ThroughputRatioSQLite is the least end-to-end throughput on SQLite
	// with events published in batches.
	ThroughputRatioSQLite = 0.45
	// ThroughputSingleRatioSQLite is the same with one event per POST
	// /events.
	ThroughputSingleRatioSQLite = 0.40
	// ThroughputRatioPostgres is the least throughput on PostgreSQL (one
	// replica).
	ThroughputRatioPostgres = 0.30
	// PublishRatio is the least single-event POST /events rate, and
	// PublishCPU the most CPU time Herald may spend per publish.
	PublishRatio = 0.35
	PublishCPU   = 60 * time.Microsecond
	// LatencyP50SQLite, LatencyP99SQLite and LatencyP99Postgres bound the
	// latency at a steady rate from the publish request to delivery.
	LatencyP50SQLite   = 2 * time.Millisecond
	LatencyP99SQLite   = 10 * time.Millisecond
	LatencyP99Postgres = 50 * time.Millisecond
	// IsolationRatio bounds the healthy endpoints' p99 next to failing and
	// hanging ones, against the all-healthy run.
	IsolationRatio = 1.5
	// DrainRatioSQLite is the least backlog drain rate on SQLite (share of
	// the ceiling); DrainPostgres the least on PostgreSQL
	// (notifications/s).
	DrainRatioSQLite = 0.40
	DrainPostgres    = 10000
	// BacklogRSSMB bounds the resident memory with the backlog queued.
	BacklogRSSMB = 150
	// IngestSQLite is the least POST /events:batch ingest rate on SQLite.
	IngestSQLite = 40000
	// ScaleRatio is the least throughput of the busy webhooks among the
	// scale scenario's registered ones, as a share of the throughput
	// scenario's; ScaleIdleCPUPct bounds the idle Herald's CPU use then
	// (percent of one core).
	ScaleRatio      = 0.80
	ScaleIdleCPUPct = 5
	// FanoutOtherP99 bounds another tenant's POST /events p99 while a batch
	// at the fan-out bound (100,000 notifications) commits and its
	// notifications are written (issue 13 item 9).
	FanoutOtherP99 = 100 * time.Millisecond
	// PostgresCPUPerNotification bounds the PostgreSQL server's CPU time
	// per delivered notification.
	PostgresCPUPerNotification = 60 * time.Microsecond
)

// Report is the outcome of one bench run.
type Report struct {
	Machine   Machine          `json:"machine"`
	Settings  Settings         `json:"settings"`
	Scenarios []ScenarioResult `json:"scenarios"`
}

// Machine describes where the bench ran.
type Machine struct {
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPUModel   string `json:"cpu_model,omitempty"`
	MemoryMB   int64  `json:"memory_mb,omitempty"`
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	// Backend is "sqlite" or "postgres".
	Backend string `json:"backend"`
	// Herald is "in-process" or the URL of the Herald under test.
	Herald string `json:"herald"`
	Date   string `json:"date"`
	// OtherCPUPct is the share of the machine's CPU time that processes
	// other than the bench, its Herald, its load generators, its receiver
	// and (on PostgreSQL, where visible) the database server used during
	// the run (-1: unknown). Much above 0, the figures understate Herald.
	OtherCPUPct float64 `json:"other_cpu_pct"`
}

// Settings are the parameters of the run.
type Settings struct {
	Scenarios []string `json:"scenarios"`
	Events    int      `json:"events"`
	Webhooks  int      `json:"webhooks"`
	Rate      float64  `json:"rate"`
	Duration  string   `json:"duration"`
	Backlog   int      `json:"backlog"`
}

// ScenarioResult is what one scenario measured.
type ScenarioResult struct {
	Name string `json:"name"`
	// Error is why the scenario failed (its figures are then missing or
	// partial).
	Error   string   `json:"error,omitempty"`
	Seconds float64  `json:"seconds"`
	Figures []Figure `json:"figures"`
	// Details holds the numbers behind the figures.
	Details map[string]any `json:"details,omitempty"`
	Notes   []string       `json:"notes,omitempty"`
}

// Figure is one measured number beside its baseline and target.
type Figure struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	// Ceiling is the ceiling scenario's requests/s, for rates (0: none).
	Ceiling float64 `json:"ceiling,omitempty"`
	// RatioPct is Value / Ceiling in percent.
	RatioPct float64 `json:"ratio_pct,omitempty"`
	Target   string  `json:"target,omitempty"`
	// Met is whether the target is met; absent when there is no target or
	// it could not be judged (no ceiling measured, nothing measured).
	Met *bool `json:"met,omitempty"`
}

func boolp(b bool) *bool { return &b }

// rateFigure is a rate beside the ceiling; minRatio > 0 sets a target.
func rateFigure(name string, value float64, unit string, ceiling, minRatio float64) Figure {
	f := Figure{Name: name, Value: value, Unit: unit, Ceiling: ceiling}
	if ceiling > 0 {
		f.RatioPct = 100 * value / ceiling
	}
	if minRatio > 0 {
		f.Target = fmt.Sprintf(">= %.0f%% of ceiling", 100*minRatio)
		if ceiling > 0 {
			f.Met = boolp(value >= minRatio*ceiling)
		}
	}
	return f
}

// ms is a duration in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Failed lists the scenarios that failed to run.
func (r *Report) Failed() []string {
	var out []string
	for _, s := range r.Scenarios {
		if s.Error != "" {
			out = append(out, s.Name)
		}
	}
	return out
}

// WriteJSON writes the report, indented, to path.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// WriteTable prints the report as a table, then each scenario's details.
func (r *Report) WriteTable(w io.Writer) error {
	m := r.Machine
	fmt.Fprintf(w, "herald bench: %s backend, Herald %s, %d CPUs (%s), %s, %s, other processes used %.0f%% of the CPU\n",
		m.Backend, m.Herald, m.CPUs, orDash(m.CPUModel), m.GoVersion, m.Date, m.OtherCPUPct)
	if m.OtherCPUPct > busyOtherCPUPct {
		fmt.Fprintf(w, "warning: the machine was busy: other processes used %.0f%% of its CPU time during the run, so these figures understate Herald\n", m.OtherCPUPct)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tFIGURE\tUNIT\tCEILING\tRATIO\tTARGET\tMET")
	for _, s := range r.Scenarios {
		for _, f := range s.Figures {
			ceiling, ratio := "-", "-"
			if f.Ceiling > 0 {
				ceiling, ratio = formatNumber(f.Ceiling), fmt.Sprintf("%.1f%%", f.RatioPct)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Name, formatNumber(f.Value), f.Unit, ceiling, ratio, orDash(f.Target), metString(f.Met))
		}
		if s.Error != "" {
			fmt.Fprintf(tw, "%s\tFAILED\t-\t-\t-\t-\tno\n", s.Name)
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	fmt.Fprintln(w)
	for _, s := range r.Scenarios {
		fmt.Fprintf(w, "%s (%.1fs):", s.Name, s.Seconds)
		if s.Error != "" {
			fmt.Fprintf(w, " FAILED: %s;", s.Error)
		}
		fmt.Fprintf(w, " %s\n", formatDetails(s.Details))
		for _, n := range s.Notes {
			fmt.Fprintf(w, "  note: %s\n", n)
		}
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func metString(m *bool) string {
	switch {
	case m == nil:
		return "-"
	case *m:
		return "yes"
	default:
		return "no"
	}
}

// formatNumber prints large numbers without decimals and small ones with
// enough to be read.
func formatNumber(v float64) string {
	switch {
	case v >= 1000 || v <= -1000:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

// formatDetails prints details as key=value pairs in key order.
func formatDetails(d map[string]any) string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		v := d[k]
		switch x := v.(type) {
		case float64:
			v = formatNumber(x)
		case time.Duration:
			v = x.Round(time.Microsecond).String()
		}
		parts[i] = fmt.Sprintf("%s=%v", k, v)
	}
	return strings.Join(parts, " ")
}

// machineInfo describes this machine.
func machineInfo() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(),
		OS: runtime.GOOS, Arch: runtime.GOARCH, Date: time.Now().UTC().Format(time.RFC3339)}
	m.CPUModel = procField("/proc/cpuinfo", "model name", ":")
	if kb := procField("/proc/meminfo", "MemTotal", ":"); kb != "" {
		if n, err := strconv.ParseInt(strings.Fields(kb)[0], 10, 64); err == nil {
			m.MemoryMB = n / 1024
		}
	}
	return m
}

// busyOtherCPUPct is the share of CPU time used by other processes above
// which the report warns that the machine was busy.
const busyOtherCPUPct = 10

// cpuSample is a reading of the machine's and the bench's CPU time, in
// clock ticks.
type cpuSample struct {
	busy, total int64
	// self is this process's CPU time (the in-process Herald's included),
	// loadgen its reaped children's (the load generator processes), recv
	// the receiver process's, pg the PostgreSQL server's (0 on SQLite).
	self, loadgen, recv, pg int64
	ok                      bool
}

// sampleCPU reads /proc/stat and the CPU time of this process, of its
// finished load generators and of the receiver process.
func sampleCPU(recvPid int) cpuSample {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuSample{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fs := strings.Fields(line)
	if len(fs) < 9 || fs[0] != "cpu" {
		return cpuSample{}
	}
	var s cpuSample
	for i, f := range fs[1:9] { // user nice system idle iowait irq softirq steal
		v, _ := strconv.ParseInt(f, 10, 64)
		s.total += v
		if i != 3 && i != 4 {
			s.busy += v
		}
	}
	self, ok1 := processTicks("self")
	children, ok2 := statTicks("self", 13, 14)
	recv, ok3 := processTicks(strconv.Itoa(recvPid))
	s.self, s.loadgen, s.recv, s.ok = self, children, recv, ok1 && ok2 && ok3
	return s
}

// processTicks is the user and system CPU time of a process.
func processTicks(pid string) (int64, bool) {
	return statTicks(pid, 11, 12)
}

// statTicks adds two fields of /proc/<pid>/stat, numbered from the one
// after the command name: 11 and 12 are utime and stime, 13 and 14 the
// utime and stime of the children it has waited for.
func statTicks(pid string, a, b int) (int64, bool) {
	raw, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, false
	}
	i := strings.LastIndexByte(string(raw), ')')
	if i < 0 {
		return 0, false
	}
	fs := strings.Fields(string(raw[i+1:]))
	if len(fs) <= max(a, b) {
		return 0, false
	}
	u, err1 := strconv.ParseInt(fs[a], 10, 64)
	st, err2 := strconv.ParseInt(fs[b], 10, 64)
	return u + st, err1 == nil && err2 == nil
}

// otherCPUPct is the share of CPU time between two samples used by
// processes other than ours (-1: unknown).
func otherCPUPct(a, b cpuSample) float64 {
	if !a.ok || !b.ok || b.total <= a.total {
		return -1
	}
	other := (b.busy - a.busy) - (b.self - a.self) - (b.loadgen - a.loadgen) - (b.recv - a.recv) - max(0, b.pg-a.pg)
	return max(0, 100*float64(other)/float64(b.total-a.total))
}

// cpuShares adds where the machine's CPU time went between two samples to
// details, as percentages of all CPUs: this process (bench and in-process
// Herald), the load generator processes, the receiver, the PostgreSQL
// server, other processes, idle.
func cpuShares(a, b cpuSample, details map[string]any) {
	if !a.ok || !b.ok || b.total <= a.total {
		return
	}
	pct := func(v int64) float64 { return 100 * float64(v) / float64(b.total-a.total) }
	self, gen, recv, pg := b.self-a.self, b.loadgen-a.loadgen, b.recv-a.recv, max(0, b.pg-a.pg)
	details["cpu_bench_pct"] = pct(self)
	if gen > 0 {
		details["cpu_loadgen_pct"] = pct(gen)
	}
	details["cpu_receiver_pct"] = pct(recv)
	if pg > 0 {
		details["cpu_postgres_pct"] = pct(pg)
	}
	details["cpu_other_pct"] = max(0, pct(b.busy-a.busy-self-gen-recv-pg))
	details["cpu_idle_pct"] = pct((b.total - a.total) - (b.busy - a.busy))
}

// procField returns the value of the first line of a /proc file whose key
// is key ("" if there is none).
func procField(path, key, sep string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), sep)
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// rssMB reads this process's resident memory and its peak (VmRSS, VmHWM)
// in MB; ok is false where /proc/self/status is not available.
func rssMB() (rss, hwm float64, ok bool) {
	read := func(key string) (float64, bool) {
		v := procField("/proc/self/status", key, ":")
		fs := strings.Fields(v)
		if len(fs) == 0 {
			return 0, false
		}
		kb, err := strconv.ParseFloat(fs[0], 64)
		return kb / 1024, err == nil
	}
	rss, ok1 := read("VmRSS")
	hwm, ok2 := read("VmHWM")
	return rss, hwm, ok1 && ok2
}

// resetPeakRSS resets VmHWM to the current RSS (Linux: clear_refs 5).
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}
