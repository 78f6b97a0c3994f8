package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// benchChildEnv makes the test binary act as the herald binary: herald
// bench runs os.Executable() bench-receiver, which here is this test
// binary.
const benchChildEnv = "HERALD_CLI_TEST_AS_HERALD"

func TestMain(m *testing.M) {
	if os.Getenv(benchChildEnv) == "1" {
		os.Exit(Execute(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// herald bench runs end to end through the command line, with its receiver
// as a separate process, and writes the table and the JSON.
func TestBenchCommandSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end bench")
	}
	t.Setenv(benchChildEnv, "1")
	path := filepath.Join(t.TempDir(), "bench.json")
	out, errOut, code := run(t, "bench", "--scenarios", "ceiling,publish,ingest", "--events", "1000", "--webhooks", "1", "--json", path)
	if code != 0 {
		t.Fatalf("bench = %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"SCENARIO", "ceiling", "ingest", "events/s", ">= 40000 events/s", "publish CPU", "µs/publish"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "receiver process") {
		t.Errorf("no progress on stderr: %q", errOut)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var report struct {
		Machine   map[string]any `json:"machine"`
		Scenarios []struct {
			Name    string `json:"name"`
			Figures []struct {
				Value float64 `json:"value"`
			} `json:"figures"`
		} `json:"scenarios"`
	}
	if err := json.Unmarshal(raw, &report); err != nil {
		t.Fatalf("JSON: %v", err)
	}
	if len(report.Scenarios) != 3 || report.Machine["backend"] != "sqlite" {
		t.Fatalf("JSON report = %s", raw)
	}
	for _, s := range report.Scenarios {
		if len(s.Figures) < 1 || s.Figures[0].Value <= 0 {
			t.Errorf("%s figures = %+v", s.Name, s.Figures)
		}
	}
}

func TestBenchFlagsAndHiddenReceiver(t *testing.T) {
	out, _, code := run(t, "bench", "--help")
	if code != 0 {
		t.Fatalf("bench --help = %d", code)
	}
	for _, want := range []string{"--scenarios", "HERALD_EVENTS", "--target", "--database-url", "--json",
		"--scale-webhooks", "throughput-single", "publish", "scale"} {
		if !strings.Contains(out, want) {
			t.Errorf("bench --help lacks %q", want)
		}
	}
	if strings.Contains(out, "--cpuprofile") {
		t.Errorf("--cpuprofile should be hidden")
	}
	if out, _, _ := run(t, "--help"); strings.Contains(out, "bench-receiver") || strings.Contains(out, "bench-loadgen") {
		t.Errorf("bench-receiver and bench-loadgen should be hidden from herald --help")
	}
	if _, errOut, code := run(t, "bench", "--scenarios", "warp"); code == 0 || !strings.Contains(errOut, "unknown scenario") {
		t.Errorf("unknown scenario: %d %q", code, errOut)
	}
	if _, errOut, code := run(t, "bench", "--target", "http://127.0.0.1:1"); code == 0 || !strings.Contains(errOut, "--api-key") {
		t.Errorf("--target without --api-key: %d %q", code, errOut)
	}
}
