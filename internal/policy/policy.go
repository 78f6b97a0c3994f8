// Package policy is Herald's delivery policy in one place, as plain Go: the
// retry schedule with a webhook's own max_retries and retry_interval_seconds
// and the endpoint's Retry-After; the circuit breaker (open, probe, close);
// auto-disable; and the rate limit's token bucket. Every function is pure:
// it maps (outcome, health, config, now) to a decision, and the store and
// the dispatcher only persist and carry out what it decides. Nothing here
// reads a clock or a database, so every branch is table-tested.
package policy

import (
	"math/rand/v2"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// Policy is the service-wide delivery policy.
type Policy struct {
	// Schedule is the service-wide wait before each retry.
	Schedule []time.Duration
	// Jitter adds up to this fraction of each wait at random (0.1: 10%).
	Jitter float64
	// Rand returns a number in [0, 1) for the jitter (nil: math/rand).
	Rand func() float64
	// DisableAfter disables a webhook that has failed without a single
	// success for this long (0: never).
	DisableAfter time.Duration
}

func (p Policy) random() float64 {
	if p.Rand != nil {
		return p.Rand()
	}
	return rand.Float64()
}

// Outcome is what the policy needs to know of one finished attempt.
type Outcome struct {
	OK bool
	// Attempt is the attempt's number within the notification's current
	// retry budget, from 1 (Herald-Attempt minus the retry base).
	Attempt int
	// RetryAfter is the delay the endpoint asked for (429/503), if any.
	RetryAfter time.Duration
	// At is when the attempt finished.
	At time.Time
}

// Verdict is a notification's next state after an attempt.
type Verdict struct {
	// Status is store.StatusDelivered, StatusPending (retry at Next) or
	// StatusExpired.
	Status string
	Next   time.Time
	// ProbeAt is when the webhook's circuit, should this failure leave it
	// open, lets its next probe through: the wait this failure earned.
	ProbeAt time.Time
}

// Decide is the notification's next state after the attempt o of a
// webhook configured as cfg.
func (p Policy) Decide(cfg store.WebhookConfig, o Outcome) Verdict {
	if o.OK {
		return Verdict{Status: store.StatusDelivered}
	}
	wait, ok := p.Next(cfg, o.Attempt, o.RetryAfter)
	if !ok {
		return Verdict{Status: store.StatusExpired, ProbeAt: o.At.Add(p.Probe(cfg))}
	}
	next := o.At.Add(wait)
	return Verdict{Status: store.StatusPending, Next: next, ProbeAt: next}
}
