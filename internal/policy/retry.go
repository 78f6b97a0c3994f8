package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// DefaultSchedule is the wait before each retry after the first attempt:
// eight attempts in about 28 hours (SPEC section 3).
var DefaultSchedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
}

// MaxRetryAfter caps how long a Retry-After answer may push a retry back.
const MaxRetryAfter = 24 * time.Hour

// ParseSchedule reads a comma-separated list of Go durations ("1s,30s").
func ParseSchedule(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		d, err := time.ParseDuration(part)
		if err != nil {
			return nil, fmt.Errorf("retry schedule %q: %w", s, err)
		}
		if d <= 0 {
			return nil, fmt.Errorf("retry schedule %q: %s is not positive", s, part)
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("retry schedule %q: no durations", s)
	}
	return out, nil
}

// Next says, after the attempt numbered attempt (counted from 1 within the
// current retry budget) failed, how long to wait before the next one, or
// false when the budget is spent and the notification expires. A webhook's
// own max_retries and retry_interval_seconds take precedence; a longer
// Retry-After from the endpoint is honoured.
func (p Policy) Next(cfg store.WebhookConfig, attempt int, retryAfter time.Duration) (time.Duration, bool) {
	retries := len(p.Schedule)
	if cfg.MaxRetries != nil {
		retries = *cfg.MaxRetries
	}
	if attempt > retries {
		return 0, false
	}
	var wait time.Duration
	switch {
	case cfg.RetryIntervalSeconds != nil:
		wait = time.Duration(*cfg.RetryIntervalSeconds) * time.Second
	case len(p.Schedule) > 0:
		wait = p.Schedule[min(attempt, len(p.Schedule))-1]
	}
	if p.Jitter > 0 && wait > 0 {
		wait += time.Duration(p.random() * p.Jitter * float64(wait))
	}
	// A longer Retry-After is honoured up to MaxRetryAfter; the cap never
	// shortens the wait the policy already chose.
	wait = max(wait, min(retryAfter, MaxRetryAfter))
	return wait, true
}

// Probe is the wait before an open circuit's next probe when the failed
// notification itself has no retry left: the webhook's fixed interval, or
// the longest wait of the schedule.
func (p Policy) Probe(cfg store.WebhookConfig) time.Duration {
	if cfg.RetryIntervalSeconds != nil {
		return time.Duration(*cfg.RetryIntervalSeconds) * time.Second
	}
	if len(p.Schedule) == 0 {
		return time.Minute
	}
	return slices.Max(p.Schedule)
}
