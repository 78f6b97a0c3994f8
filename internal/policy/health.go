package policy

import (
	"math"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// Change is what one recorded attempt did to its webhook's health, for the
// logs and the store.
type Change = store.HealthChange

// Record is a webhook's health after the attempt of r. The results of one
// webhook are recorded in the order they finished, one at a time, so a
// batch holding [success, failure] ends with one failure counted, the
// success recorded and the circuit closed.
func (p Policy) Record(h store.Health, r store.AttemptResult) (store.Health, Change) {
	at := r.Attempt.Started.Add(r.Attempt.Duration)
	if r.Attempt.ErrorKind == "" {
		c := Change{Closed: h.CircuitOpen()}
		return store.Health{LastSuccess: at, LastFailure: h.LastFailure}, c
	}
	var c Change
	h.ConsecutiveFailures++
	if h.FailingSince.IsZero() {
		h.FailingSince = at
	}
	h.LastFailure = at
	if h.ConsecutiveFailures >= store.CircuitThreshold {
		c.Opened = h.ConsecutiveFailures == store.CircuitThreshold
		h.CircuitOpenUntil = r.ProbeAt
	}
	if p.DisableAfter > 0 && at.Sub(h.FailingSince) >= p.DisableAfter {
		c.Disable = true
	}
	return h, c
}

// Gate says what a webhook's circuit lets through at now: everything when
// closed; nothing before an open circuit's probe time; after it, one probe
// with nothing else in flight. Wake is when to look again when nothing may
// go (the probe time).
type Gate struct {
	Closed bool
	Probe  bool
	Wake   time.Time
}

// Circuit is the gate of a webhook with health h at now.
func Circuit(h store.Health, now time.Time) Gate {
	switch {
	case !h.CircuitOpen():
		return Gate{Closed: true}
	case now.Before(h.CircuitOpenUntil):
		return Gate{Wake: h.CircuitOpenUntil}
	default:
		return Gate{Probe: true}
	}
}

// Bucket is a webhook's rate-limit token bucket, shared by every replica
// through the store.
type Bucket struct {
	Tokens   float64
	Refilled time.Time
}

// burst is the bucket's size: a tenth of a second's worth, at least one, so
// no second ever sees more than the rate plus that.
func burst(rate float64) float64 { return math.Max(1, rate/10) }

// Refill is the bucket at now for a limit of rate per second. A fresh
// bucket, or one refilled in the future (clock skew between replicas),
// starts full.
func (b Bucket) Refill(rate float64, now time.Time) Bucket {
	size := burst(rate)
	elapsed := now.Sub(b.Refilled).Seconds()
	if b.Refilled.IsZero() || elapsed < 0 {
		return Bucket{Tokens: size, Refilled: now}
	}
	return Bucket{Tokens: math.Min(size, b.Tokens+elapsed*rate), Refilled: now}
}

// Whole is how many requests the bucket allows now.
func (b Bucket) Whole() int { return int(math.Floor(b.Tokens)) }

// Spend takes n tokens.
func (b Bucket) Spend(n int) Bucket {
	b.Tokens -= float64(n)
	return b
}

// NextToken is when the bucket, refilled at rate per second, next holds a
// whole token (b.Refilled when it already does).
func (b Bucket) NextToken(rate float64) time.Time {
	if b.Tokens >= 1 || rate <= 0 {
		return b.Refilled
	}
	need := (1 - b.Tokens) / rate
	return b.Refilled.Add(time.Duration(math.Ceil(need * float64(time.Second))))
}
