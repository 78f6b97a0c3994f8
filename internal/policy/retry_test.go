package policy_test

import (
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/policy"
	"github.com/heraldhq/herald/internal/store"
)

func retryIntPtr(n int) *int { return &n }

func TestPolicyDefaultSchedule(t *testing.T) {
	want := []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}
	if !slices.Equal(policy.DefaultSchedule, want) {
		t.Fatalf("DefaultSchedule = %v, want %v (SPEC section 3)", policy.DefaultSchedule, want)
	}
	var total time.Duration
	for _, d := range want {
		total += d
	}
	if total < 27*time.Hour || total > 29*time.Hour {
		t.Fatalf("default schedule spans %v, want about 28 hours", total)
	}
}

func TestPolicyNext(t *testing.T) {
	def := policy.Policy{Schedule: policy.DefaultSchedule}
	short := policy.Policy{Schedule: []time.Duration{time.Second, 30 * time.Second}}
	none := store.WebhookConfig{}
	tests := []struct {
		name       string
		policy     policy.Policy
		cfg        store.WebhookConfig
		attempt    int
		retryAfter time.Duration
		want       time.Duration
		wantOK     bool
	}{
		{"default after attempt 1", def, none, 1, 0, 5 * time.Second, true},
		{"default after attempt 2", def, none, 2, 0, 5 * time.Minute, true},
		{"default after attempt 3", def, none, 3, 0, 30 * time.Minute, true},
		{"default after attempt 4", def, none, 4, 0, 2 * time.Hour, true},
		{"default after attempt 5", def, none, 5, 0, 5 * time.Hour, true},
		{"default after attempt 6", def, none, 6, 0, 10 * time.Hour, true},
		{"default after attempt 7", def, none, 7, 0, 10 * time.Hour, true},
		{"default after attempt 8 expires", def, none, 8, 0, 0, false},
		{"default far beyond schedule expires", def, none, 100, 0, 0, false},
		{"custom schedule 1", short, none, 1, 0, time.Second, true},
		{"custom schedule 2", short, none, 2, 0, 30 * time.Second, true},
		{"custom schedule 3 expires", short, none, 3, 0, 0, false},
		{"empty schedule expires at once", policy.Policy{}, none, 1, 0, 0, false},

		{"max_retries 0 expires after the first attempt", def, store.WebhookConfig{MaxRetries: retryIntPtr(0)}, 1, 0, 0, false},
		{"max_retries 2: attempt 1", def, store.WebhookConfig{MaxRetries: retryIntPtr(2)}, 1, 0, 5 * time.Second, true},
		{"max_retries 2: attempt 2", def, store.WebhookConfig{MaxRetries: retryIntPtr(2)}, 2, 0, 5 * time.Minute, true},
		{"max_retries 2: attempt 3 expires", def, store.WebhookConfig{MaxRetries: retryIntPtr(2)}, 3, 0, 0, false},
		{"max_retries 10 beyond schedule uses its last wait", def, store.WebhookConfig{MaxRetries: retryIntPtr(10)}, 9, 0, 10 * time.Hour, true},
		{"max_retries 10: attempt 10", def, store.WebhookConfig{MaxRetries: retryIntPtr(10)}, 10, 0, 10 * time.Hour, true},
		{"max_retries 10: attempt 11 expires", def, store.WebhookConfig{MaxRetries: retryIntPtr(10)}, 11, 0, 0, false},
		{"max_retries 3 with empty schedule retries without waiting", policy.Policy{}, store.WebhookConfig{MaxRetries: retryIntPtr(3)}, 1, 0, 0, true},

		{"interval 60s: attempt 1", def, store.WebhookConfig{RetryIntervalSeconds: retryIntPtr(60)}, 1, 0, time.Minute, true},
		{"interval 60s: attempt 5", def, store.WebhookConfig{RetryIntervalSeconds: retryIntPtr(60)}, 5, 0, time.Minute, true},
		{"interval 60s: attempt 7", def, store.WebhookConfig{RetryIntervalSeconds: retryIntPtr(60)}, 7, 0, time.Minute, true},
		{"interval 60s keeps the schedule's count", def, store.WebhookConfig{RetryIntervalSeconds: retryIntPtr(60)}, 8, 0, 0, false},
		{"interval with max_retries 2: attempt 2", def, store.WebhookConfig{MaxRetries: retryIntPtr(2), RetryIntervalSeconds: retryIntPtr(30)}, 2, 0, 30 * time.Second, true},
		{"interval with max_retries 2: attempt 3 expires", def, store.WebhookConfig{MaxRetries: retryIntPtr(2), RetryIntervalSeconds: retryIntPtr(30)}, 3, 0, 0, false},
		{"interval with empty schedule and max_retries", policy.Policy{}, store.WebhookConfig{MaxRetries: retryIntPtr(4), RetryIntervalSeconds: retryIntPtr(15)}, 4, 0, 15 * time.Second, true},

		{"Retry-After longer than the wait is used", def, none, 1, 7 * time.Second, 7 * time.Second, true},
		{"Retry-After shorter than the wait is ignored", def, none, 2, 7 * time.Second, 5 * time.Minute, true},
		{"Retry-After equal to the wait", def, none, 1, 5 * time.Second, 5 * time.Second, true},
		{"Retry-After is capped", def, none, 1, 48 * time.Hour, policy.MaxRetryAfter, true},
		{"Retry-After exactly the cap", def, none, 1, policy.MaxRetryAfter, policy.MaxRetryAfter, true},
		{"Retry-After over a fixed interval", def, store.WebhookConfig{RetryIntervalSeconds: retryIntPtr(10)}, 3, time.Minute, time.Minute, true},
		{"Retry-After does not revive an expired notification", def, none, 8, time.Minute, 0, false},
		{"Retry-After with max_retries 0", def, store.WebhookConfig{MaxRetries: retryIntPtr(0)}, 1, time.Minute, 0, false},
		// The cap limits how far Retry-After pushes a retry back; it never
		// shortens the webhook's own longer wait (SPEC: honoured "when it
		// asks for longer").
		{"capped Retry-After never shortens a longer interval", def, store.WebhookConfig{RetryIntervalSeconds: retryIntPtr(2 * 24 * 3600)}, 1, 72 * time.Hour, 48 * time.Hour, true},
		{"capped Retry-After never shortens a longer schedule wait", policy.Policy{Schedule: []time.Duration{72 * time.Hour}}, none, 1, 100 * time.Hour, 72 * time.Hour, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.policy.Next(tc.cfg, tc.attempt, tc.retryAfter)
			if ok != tc.wantOK || (ok && got != tc.want) {
				t.Fatalf("Next(attempt %d, Retry-After %v) = %v, %v; want %v, %v", tc.attempt, tc.retryAfter, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestPolicyNextJitter(t *testing.T) {
	p := policy.Policy{Schedule: policy.DefaultSchedule, Jitter: 0.1}
	tests := []struct {
		name    string
		cfg     store.WebhookConfig
		attempt int
		wait    time.Duration
	}{
		{"schedule 5s", store.WebhookConfig{}, 1, 5 * time.Second},
		{"schedule 2h", store.WebhookConfig{}, 4, 2 * time.Hour},
		{"schedule 10h", store.WebhookConfig{}, 7, 10 * time.Hour},
		{"fixed interval 100s", store.WebhookConfig{RetryIntervalSeconds: retryIntPtr(100)}, 2, 100 * time.Second},
	}
	const samples = 500
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hi := tc.wait + tc.wait/10
			distinct := make(map[time.Duration]bool)
			var sum time.Duration
			for i := 0; i < samples; i++ {
				got, ok := p.Next(tc.cfg, tc.attempt, 0)
				if !ok {
					t.Fatalf("Next(attempt %d) expired", tc.attempt)
				}
				if got < tc.wait || got > hi {
					t.Fatalf("Next(attempt %d) = %v, want within [%v, %v]", tc.attempt, got, tc.wait, hi)
				}
				distinct[got] = true
				sum += got
			}
			if len(distinct) < samples/2 {
				t.Fatalf("only %d distinct waits in %d samples: jitter not applied", len(distinct), samples)
			}
			// Uniform jitter: the mean sits near wait*1.05, clearly above wait
			// and below wait*1.1.
			mean := sum / samples
			if mean < tc.wait+tc.wait/40 || mean > tc.wait+tc.wait*3/40 {
				t.Fatalf("mean wait %v, want about %v", mean, tc.wait+tc.wait/20)
			}
		})
	}
	t.Run("Retry-After longer than the jittered wait is exact", func(t *testing.T) {
		for i := 0; i < 100; i++ {
			if got, ok := p.Next(store.WebhookConfig{}, 1, 6*time.Second); !ok || got != 6*time.Second {
				t.Fatalf("Next with Retry-After 6s = %v, %v; want 6s", got, ok)
			}
		}
	})
	t.Run("no jitter is deterministic", func(t *testing.T) {
		p := policy.Policy{Schedule: policy.DefaultSchedule}
		for i := 0; i < 50; i++ {
			if got, _ := p.Next(store.WebhookConfig{}, 2, 0); got != 5*time.Minute {
				t.Fatalf("Next without jitter = %v, want 5m", got)
			}
		}
	})
}

func TestParseSchedule(t *testing.T) {
	tests := []struct {
		in      string
		want    []time.Duration
		wantErr bool
	}{
		{"1s,30s", []time.Duration{time.Second, 30 * time.Second}, false},
		{"5s", []time.Duration{5 * time.Second}, false},
		{" 1s , 2m ,3h ", []time.Duration{time.Second, 2 * time.Minute, 3 * time.Hour}, false},
		{"1s,,2s,", []time.Duration{time.Second, 2 * time.Second}, false},
		{"1h30m,500ms", []time.Duration{90 * time.Minute, 500 * time.Millisecond}, false},
		{"5s,5m,30m,2h,5h,10h,10h", policy.DefaultSchedule, false},
		{"", nil, true},
		{" ", nil, true},
		{",,", nil, true},
		{"1s,abc", nil, true},
		{"10", nil, true}, // a bare number has no unit
		{"1 s", nil, true},
		{"-1s", nil, true},
		{"1s,-5m", nil, true},
		{"0s", nil, true},
		{"1s,0", nil, true},
		{"1s;2s", nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := policy.ParseSchedule(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("ParseSchedule(%q) = %v, nil; want an error", tc.in, got)
				}
				if got != nil {
					t.Fatalf("ParseSchedule(%q) returned %v with error %v", tc.in, got, err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("ParseSchedule(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}
