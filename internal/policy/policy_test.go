package policy_test

import (
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/policy"
	"github.com/heraldhq/herald/internal/store"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func TestDecide(t *testing.T) {
	p := policy.Policy{Schedule: []time.Duration{time.Second, time.Minute}}
	two := 2
	tests := []struct {
		name string
		cfg  store.WebhookConfig
		o    policy.Outcome
		want policy.Verdict
	}{
		{"success is delivered", store.WebhookConfig{}, policy.Outcome{OK: true, Attempt: 1, At: t0},
			policy.Verdict{Status: store.StatusDelivered}},
		{"first failure retries after the first wait", store.WebhookConfig{}, policy.Outcome{Attempt: 1, At: t0},
			policy.Verdict{Status: store.StatusPending, Next: t0.Add(time.Second), ProbeAt: t0.Add(time.Second)}},
		{"Retry-After pushes the retry back", store.WebhookConfig{}, policy.Outcome{Attempt: 1, At: t0, RetryAfter: 30 * time.Second},
			policy.Verdict{Status: store.StatusPending, Next: t0.Add(30 * time.Second), ProbeAt: t0.Add(30 * time.Second)}},
		{"budget spent expires, probing after the longest wait", store.WebhookConfig{}, policy.Outcome{Attempt: 3, At: t0},
			policy.Verdict{Status: store.StatusExpired, ProbeAt: t0.Add(time.Minute)}},
		{"max_retries extends the budget", store.WebhookConfig{MaxRetries: &two}, policy.Outcome{Attempt: 2, At: t0},
			policy.Verdict{Status: store.StatusPending, Next: t0.Add(time.Minute), ProbeAt: t0.Add(time.Minute)}},
		{"retry_interval_seconds replaces the schedule", store.WebhookConfig{RetryIntervalSeconds: &two}, policy.Outcome{Attempt: 1, At: t0},
			policy.Verdict{Status: store.StatusPending, Next: t0.Add(2 * time.Second), ProbeAt: t0.Add(2 * time.Second)}},
		{"expiry with an interval probes after it", store.WebhookConfig{RetryIntervalSeconds: &two}, policy.Outcome{Attempt: 3, At: t0},
			policy.Verdict{Status: store.StatusExpired, ProbeAt: t0.Add(2 * time.Second)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := p.Decide(tc.cfg, tc.o); got != tc.want {
				t.Fatalf("Decide = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestDecideJitterIsInjectable(t *testing.T) {
	p := policy.Policy{Schedule: []time.Duration{10 * time.Second}, Jitter: 0.1, Rand: func() float64 { return 0.5 }}
	got := p.Decide(store.WebhookConfig{}, policy.Outcome{Attempt: 1, At: t0})
	if want := t0.Add(10*time.Second + 500*time.Millisecond); !got.Next.Equal(want) {
		t.Fatalf("Next = %v, want %v", got.Next, want)
	}
}

func result(ok bool, at time.Time, probeAt time.Time) store.AttemptResult {
	r := store.AttemptResult{Attempt: store.Attempt{Started: at}, ProbeAt: probeAt, Status: store.StatusDelivered}
	if !ok {
		r.Attempt.ErrorKind, r.Status = "http_status", store.StatusPending
	}
	return r
}

func TestRecord(t *testing.T) {
	p := policy.Policy{DisableAfter: time.Hour}
	probe := t0.Add(time.Minute)
	open := store.Health{ConsecutiveFailures: 5, FailingSince: t0.Add(-time.Minute), CircuitOpenUntil: t0, LastFailure: t0.Add(-time.Second)}
	tests := []struct {
		name    string
		start   store.Health
		results []store.AttemptResult
		want    store.Health
		changes policy.Change // OR of every change
	}{
		{"a success on a healthy webhook", store.Health{}, []store.AttemptResult{result(true, t0, time.Time{})},
			store.Health{LastSuccess: t0}, policy.Change{}},
		{"a failure counts and starts the run", store.Health{LastSuccess: t0.Add(-time.Hour)}, []store.AttemptResult{result(false, t0, probe)},
			store.Health{ConsecutiveFailures: 1, FailingSince: t0, LastFailure: t0, LastSuccess: t0.Add(-time.Hour)}, policy.Change{}},
		{"the fifth failure opens the circuit until the probe time",
			store.Health{ConsecutiveFailures: 4, FailingSince: t0.Add(-time.Minute), LastFailure: t0.Add(-time.Second)},
			[]store.AttemptResult{result(false, t0, probe)},
			store.Health{ConsecutiveFailures: 5, FailingSince: t0.Add(-time.Minute), LastFailure: t0, CircuitOpenUntil: probe},
			policy.Change{Opened: true}},
		{"a failed probe keeps it open, not reopened", open, []store.AttemptResult{result(false, t0, probe)},
			store.Health{ConsecutiveFailures: 6, FailingSince: open.FailingSince, LastFailure: t0, CircuitOpenUntil: probe},
			policy.Change{}},
		{"a successful probe closes it", open, []store.AttemptResult{result(true, t0, time.Time{})},
			store.Health{LastSuccess: t0, LastFailure: open.LastFailure}, policy.Change{Closed: true}},
		// The bug of issue 12: four failures, then a batch [success, failure]
		// must leave one failure and the success recorded.
		{"four failures then [success, failure]",
			store.Health{ConsecutiveFailures: 4, FailingSince: t0.Add(-time.Minute), LastFailure: t0.Add(-time.Second)},
			[]store.AttemptResult{result(true, t0, time.Time{}), result(false, t0.Add(time.Millisecond), probe)},
			store.Health{ConsecutiveFailures: 1, FailingSince: t0.Add(time.Millisecond), LastFailure: t0.Add(time.Millisecond), LastSuccess: t0},
			policy.Change{}},
		{"failing for DisableAfter disables",
			store.Health{ConsecutiveFailures: 9, FailingSince: t0.Add(-time.Hour), CircuitOpenUntil: t0},
			[]store.AttemptResult{result(false, t0, probe)},
			store.Health{ConsecutiveFailures: 10, FailingSince: t0.Add(-time.Hour), LastFailure: t0, CircuitOpenUntil: probe},
			policy.Change{Disable: true}},
		{"failing for less than DisableAfter does not",
			store.Health{ConsecutiveFailures: 1, FailingSince: t0.Add(-59 * time.Minute)},
			[]store.AttemptResult{result(false, t0, probe)},
			store.Health{ConsecutiveFailures: 2, FailingSince: t0.Add(-59 * time.Minute), LastFailure: t0},
			policy.Change{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, all := tc.start, policy.Change{}
			for _, r := range tc.results {
				var c policy.Change
				h, c = p.Record(h, r)
				all.Opened, all.Closed, all.Disable = all.Opened || c.Opened, all.Closed || c.Closed, all.Disable || c.Disable
			}
			if h != tc.want {
				t.Fatalf("health = %+v\nwant     %+v", h, tc.want)
			}
			if all != tc.changes {
				t.Fatalf("changes = %+v, want %+v", all, tc.changes)
			}
		})
	}
}

func TestRecordNeverDisablesWithoutDisableAfter(t *testing.T) {
	h := store.Health{ConsecutiveFailures: 100, FailingSince: t0.Add(-1000 * time.Hour)}
	if _, c := (policy.Policy{}).Record(h, result(false, t0, t0)); c.Disable {
		t.Fatal("disabled with DisableAfter 0")
	}
}

func TestCircuit(t *testing.T) {
	tests := []struct {
		name string
		h    store.Health
		want policy.Gate
	}{
		{"closed", store.Health{ConsecutiveFailures: 4}, policy.Gate{Closed: true}},
		{"open before its probe time", store.Health{ConsecutiveFailures: 5, CircuitOpenUntil: t0.Add(time.Second)}, policy.Gate{Wake: t0.Add(time.Second)}},
		{"open at its probe time", store.Health{ConsecutiveFailures: 5, CircuitOpenUntil: t0}, policy.Gate{Probe: true}},
		{"open past its probe time", store.Health{ConsecutiveFailures: 7, CircuitOpenUntil: t0.Add(-time.Hour)}, policy.Gate{Probe: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := policy.Circuit(tc.h, t0); got != tc.want {
				t.Fatalf("Circuit = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestBucket(t *testing.T) {
	tests := []struct {
		name      string
		b         policy.Bucket
		rate      float64
		now       time.Time
		wantWhole int
		wantNext  time.Time
	}{
		{"a fresh bucket starts full (a tenth of a second's worth)", policy.Bucket{}, 100, t0, 10, t0},
		{"a bucket of a slow rate holds one", policy.Bucket{}, 0.5, t0, 1, t0},
		{"empty, refilled by elapsed time", policy.Bucket{Tokens: 0, Refilled: t0.Add(-50 * time.Millisecond)}, 100, t0, 5, t0},
		{"never above the burst", policy.Bucket{Tokens: 3, Refilled: t0.Add(-time.Hour)}, 100, t0, 10, t0},
		{"a skewed (future) bucket starts full", policy.Bucket{Tokens: 0, Refilled: t0.Add(time.Minute)}, 100, t0, 10, t0},
		{"empty: the next token is a period away", policy.Bucket{Tokens: 0, Refilled: t0}, 10, t0, 0, t0.Add(100 * time.Millisecond)},
		{"half a token: half a period away", policy.Bucket{Tokens: 0.5, Refilled: t0}, 1, t0, 0, t0.Add(500 * time.Millisecond)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.b.Refill(tc.rate, tc.now)
			if got := b.Whole(); got != tc.wantWhole {
				t.Fatalf("Whole = %d, want %d (bucket %+v)", got, tc.wantWhole, b)
			}
			if got := b.NextToken(tc.rate); !got.Equal(tc.wantNext) {
				t.Fatalf("NextToken = %v, want %v", got, tc.wantNext)
			}
		})
	}
	t.Run("spending", func(t *testing.T) {
		b := policy.Bucket{}.Refill(100, t0).Spend(10)
		if b.Whole() != 0 || !b.NextToken(100).Equal(t0.Add(10*time.Millisecond)) {
			t.Fatalf("after spending the burst: %+v, next %v", b, b.NextToken(100))
		}
	})
}
