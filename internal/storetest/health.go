package storetest

import (
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/policy"
	"github.com/heraldhq/herald/internal/store"
)

// attemptTook is how long every attempt of these tests takes: a whole
// number of milliseconds, so the times health records compare equal.
const attemptTook = 2 * time.Millisecond

// finished is when an attempt started at at ends (what health records).
func finished(at time.Time) time.Time { return at.Add(attemptTook) }

// success is the delivered outcome of the attempt c is for, started at at.
func success(c store.Claimed, at time.Time) store.AttemptResult {
	return store.AttemptResult{LeaseToken: c.LeaseToken, WebhookID: c.WebhookID, Status: store.StatusDelivered,
		Attempt: store.Attempt{NotificationID: c.ID, Number: c.Attempt, Started: at, Duration: attemptTook,
			StatusCode: 200, ResponseBody: "ok"}}
}

// failure is a failed outcome of the attempt c is for, started at at: the
// notification goes to status (retried at next when PENDING) and, should
// the circuit be left open, its next probe is at probe.
func failure(c store.Claimed, at time.Time, status string, next, probe time.Time) store.AttemptResult {
	return store.AttemptResult{LeaseToken: c.LeaseToken, WebhookID: c.WebhookID, Status: status,
		NextAttemptAt: next, ProbeAt: probe,
		Attempt: store.Attempt{NotificationID: c.ID, Number: c.Attempt, Started: at, Duration: attemptTook,
			StatusCode: 503, ResponseBody: "unavailable", ErrorKind: "http_status", Error: "HTTP 503"}}
}

// completeWith records results under policy p and returns the changes.
func completeWith(tb testing.TB, s Store, p policy.Policy, now time.Time, results ...store.AttemptResult) []store.WebhookChange {
	tb.Helper()
	ch, err := s.Complete(ctxOf(tb), store.Completion{Results: results, Now: now, Health: p})
	if err != nil {
		tb.Fatalf("complete: %v", err)
	}
	return ch
}

// changeOf is the change reported for webhook id, if any.
func changeOf(changes []store.WebhookChange, id string) (store.WebhookChange, bool) {
	var out store.WebhookChange
	n := 0
	for _, c := range changes {
		if c.WebhookID == id {
			out, n = c, n+1
		}
	}
	return out, n == 1
}

// wantChange checks the one change reported for w.
func wantChange(tb testing.TB, changes []store.WebhookChange, w store.Webhook, want store.WebhookChange, what string) {
	tb.Helper()
	want.WebhookID, want.TenantID = w.ID, w.TenantID
	got, ok := changeOf(changes, w.ID)
	if !ok || got != want {
		tb.Fatalf("%s: changes %+v, want exactly one for the webhook: %+v", what, changes, want)
	}
}

func wantNoChange(tb testing.TB, changes []store.WebhookChange, id, what string) {
	tb.Helper()
	if c, ok := changeOf(changes, id); ok {
		tb.Fatalf("%s: change %+v reported, want none", what, c)
	}
}

// healthOf reads a webhook's health as the API shows it.
func healthOf(tb testing.TB, s Store, w store.Webhook) store.Health {
	tb.Helper()
	got, err := s.Webhook(ctxOf(tb), w.TenantID, w.ID)
	NoErr(tb, err, "read webhook")
	return got.Health
}

func sameHealth(tb testing.TB, got, want store.Health, what string) {
	tb.Helper()
	if got.ConsecutiveFailures != want.ConsecutiveFailures || !got.FailingSince.Equal(want.FailingSince) ||
		!got.CircuitOpenUntil.Equal(want.CircuitOpenUntil) || !got.LastSuccess.Equal(want.LastSuccess) ||
		!got.LastFailure.Equal(want.LastFailure) {
		tb.Fatalf("%s: health %+v, want %+v", what, got, want)
	}
}

func wantStatus(tb testing.TB, s Store, tenantID, id, status string, attempts int) store.Notification {
	tb.Helper()
	n := note(tb, s, tenantID, id)
	if n.Status != status || n.Attempts != attempts {
		tb.Fatalf("notification %s: status %s with %d attempts, want %s with %d", id, n.Status, n.Attempts, status, attempts)
	}
	return n
}

// testMixedOutcomes: the results of a batch are folded into their
// webhook's health one at a time, in order, and the batch reports what it
// changed: a circuit opened or closed, notifications expired, a webhook
// disabled. A stale result counts for health but leaves its notification.
func testMixedOutcomes(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ten := MustTenant(t, s)
	w := MustWebhook(t, s, ten.ID, "TRANSACTION")
	PublishTo(t, s, ten.ID, w.ID, 17, T0)
	now := T0.Add(time.Second)
	c := Claim(t, s, "d", now, 17, w.ID)
	if len(c) != 17 {
		t.Fatalf("claimed %d, want 17", len(c))
	}
	retry, probe := now.Add(time.Hour), now.Add(2*time.Hour) // out of this test's way
	at := func(i int) time.Time { return now.Add(time.Duration(i) * time.Second) }
	fail := func(i int) store.AttemptResult { return failure(c[i], at(i), store.StatusPending, retry, probe) }
	p := policy.Policy{}

	wantNoChange(t, completeWith(t, s, p, at(2), fail(0), fail(1), fail(2)), w.ID, "three failures")
	wantNoChange(t, completeWith(t, s, p, at(3), fail(3)), w.ID, "a fourth failure")
	sameHealth(t, healthOf(t, s, w), store.Health{ConsecutiveFailures: 4, FailingSince: finished(at(0)), LastFailure: finished(at(3))},
		"after four failures")

	// [success, failure]: the success ends the run, the failure starts one.
	wantNoChange(t, completeWith(t, s, p, at(5), success(c[4], at(4)), fail(5)), w.ID, "[success, failure] on a closed circuit")
	sameHealth(t, healthOf(t, s, w), store.Health{ConsecutiveFailures: 1, FailingSince: finished(at(5)),
		LastSuccess: finished(at(4)), LastFailure: finished(at(5))}, "after four failures and [success, failure]")
	wantStatus(t, s, ten.ID, c[4].ID, store.StatusDelivered, 1)
	if n := wantStatus(t, s, ten.ID, c[5].ID, store.StatusPending, 1); !n.NextAttemptAt.Equal(retry) {
		t.Fatalf("failed notification due at %v, want %v", n.NextAttemptAt, retry)
	}

	// The fifth failure in a row opens the circuit, also within a batch.
	wantNoChange(t, completeWith(t, s, p, at(8), fail(6), fail(7), fail(8)), w.ID, "four failures in a row")
	expire := func(i int) store.AttemptResult { return failure(c[i], at(i), store.StatusExpired, time.Time{}, probe) }
	wantChange(t, completeWith(t, s, p, at(10), fail(9), expire(10)), w,
		store.WebhookChange{HealthChange: store.HealthChange{Opened: true}, Failures: 6, Expired: 1}, "a fifth and a sixth failure")
	wantNoChange(t, completeWith(t, s, p, at(11), fail(11)), w.ID, "a failure on an open circuit")
	h := healthOf(t, s, w)
	sameHealth(t, h, store.Health{ConsecutiveFailures: 7, FailingSince: finished(at(5)), CircuitOpenUntil: probe,
		LastSuccess: finished(at(4)), LastFailure: finished(at(11))}, "after seven failures")
	if !h.CircuitOpen() {
		t.Fatalf("circuit closed after seven failures")
	}

	// [success, failure] on the open circuit closes it.
	wantChange(t, completeWith(t, s, p, at(13), success(c[12], at(12)), fail(13)), w,
		store.WebhookChange{HealthChange: store.HealthChange{Closed: true}, Failures: 1}, "[success, failure] on an open circuit")
	sameHealth(t, healthOf(t, s, w), store.Health{ConsecutiveFailures: 1, FailingSince: finished(at(13)),
		LastSuccess: finished(at(12)), LastFailure: finished(at(13))}, "after [success, failure] on an open circuit")

	wantChange(t, completeWith(t, s, p, at(15), expire(14), expire(15)), w, store.WebhookChange{Failures: 3, Expired: 2},
		"two expired in one batch")
	wantStatus(t, s, ten.ID, c[14].ID, store.StatusExpired, 1)

	// c[16]'s lease runs out and another dispatcher takes it: the first
	// dispatcher's result counts for health and in the log, and leaves the
	// notification (and the new lease) alone.
	later := now.Add(31 * time.Second)
	cur := Claim(t, s, "fast", later, 17, w.ID)
	if len(cur) != 1 || cur[0].ID != c[16].ID {
		t.Fatalf("after the lease claimed %v, want only %s", claimedIDs(cur), c[16].ID)
	}
	wantNoChange(t, completeWith(t, s, p, later, expire(16)), w.ID, "a stale expired result")
	n := wantStatus(t, s, ten.ID, c[16].ID, store.StatusPending, 0)
	if len(n.AttemptLog) != 1 || n.AttemptLog[0].ErrorKind != "http_status" {
		t.Fatalf("stale attempt log %+v, want the one attempt", n.AttemptLog)
	}
	sameHealth(t, healthOf(t, s, w), store.Health{ConsecutiveFailures: 4, FailingSince: finished(at(13)),
		LastSuccess: finished(at(12)), LastFailure: finished(at(16))}, "after a stale failure")
	if got := Claim(t, s, "other", later.Add(time.Second), 17, w.ID); len(got) != 0 {
		t.Fatalf("a stale result freed the current lease: claimed %v", claimedIDs(got))
	}
	wantNoChange(t, completeWith(t, s, p, later, success(cur[0], later)), w.ID, "the current lease's success")
	wantStatus(t, s, ten.ID, c[16].ID, store.StatusDelivered, 1)
}

// testAutoDisable: a webhook failing without a success for as long as the
// policy allows is disabled by the batch that finds out, and reported.
func testAutoDisable(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ten := MustTenant(t, s)
	w := MustWebhook(t, s, ten.ID, "*")
	PublishTo(t, s, ten.ID, w.ID, 3, T0)
	now := T0.Add(time.Second)
	c := Claim(t, s, "d", now, 3, w.ID)
	p := policy.Policy{DisableAfter: time.Hour}
	retry := now.Add(2 * time.Hour)
	wantNoChange(t, completeWith(t, s, p, now, failure(c[0], now, store.StatusPending, retry, retry)), w.ID, "first failure")
	last := now.Add(time.Hour)
	wantChange(t, completeWith(t, s, p, last, failure(c[1], last, store.StatusPending, retry, retry)), w,
		store.WebhookChange{HealthChange: store.HealthChange{Disable: true}, Failures: 2}, "failing for an hour")
	got, err := s.Webhook(ctxOf(t), ten.ID, w.ID)
	NoErr(t, err, "read webhook")
	if got.Status != store.WebhookDisabled {
		t.Fatalf("webhook failing for an hour is %s, want DISABLED", got.Status)
	}
	if due := dueIDs(t, s, retry); len(due) != 0 {
		t.Fatalf("a disabled webhook is due: %v", due)
	}
	// Already disabled, it is not disabled (nor reported) again.
	wantNoChange(t, completeWith(t, s, p, last, failure(c[2], last, store.StatusPending, retry, retry)), w.ID, "failure after disabling")
}

// testCircuitProbe: an open circuit lets nothing through, and its webhook
// is not due, before its probe time; then one probe goes, and no second
// one until the first one's lease ends. A failed probe sets the next probe
// time, a successful one closes the circuit.
func testCircuitProbe(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ten := MustTenant(t, s)
	w := MustWebhook(t, s, ten.ID, "*")
	PublishTo(t, s, ten.ID, w.ID, 6, T0)
	now := T0.Add(time.Second)
	c := Claim(t, s, "d", now, 10, w.ID)
	retry, probe := now.Add(5*time.Second), now.Add(time.Minute)
	var fails []store.AttemptResult
	for _, x := range c[:5] {
		fails = append(fails, failure(x, now, store.StatusPending, retry, probe))
	}
	completeWith(t, s, policy.Policy{}, now, fails...)
	if h := healthOf(t, s, w); !h.CircuitOpen() || !h.CircuitOpenUntil.Equal(probe) {
		t.Fatalf("after five failures health %+v, want open until %v", h, probe)
	}

	// Retries fall due and c[5]'s lease runs out before the probe time.
	for _, at := range []time.Time{retry, now.Add(31 * time.Second), probe.Add(-time.Millisecond)} {
		if due := dueIDs(t, s, at); len(due) != 0 {
			t.Fatalf("open circuit due at %v, before its probe time %v", at, probe)
		}
	}
	wantNextDue(t, s, now, probe, "open circuit")
	if got := Claim(t, s, "d", probe.Add(-time.Millisecond), 10, w.ID); len(got) != 0 {
		t.Fatalf("claimed %d before the probe time", len(got))
	}

	if due := dueIDs(t, s, probe); len(due) != 1 || due[0] != w.ID {
		t.Fatalf("at the probe time due %v, want %s", due, w.ID)
	}
	first := Claim(t, s, "d", probe, 10, w.ID) // leased for 30s
	if len(first) != 1 {
		t.Fatalf("probe claim took %d, want 1", len(first))
	}
	probeEnd := probe.Add(30 * time.Second)
	if due := dueIDs(t, s, probeEnd.Add(-time.Millisecond)); len(due) != 0 {
		t.Fatalf("due %v while its probe is in flight", due)
	}
	wantNextDue(t, s, probe, probeEnd, "probe in flight")
	for _, at := range []time.Time{probe, probe.Add(29 * time.Second)} {
		if got := Claim(t, s, "e", at, 10, w.ID); len(got) != 0 {
			t.Fatalf("a second probe claimed at %v while the first is leased", at)
		}
	}

	// The probe's lease ran out without an answer: one probe again.
	second := Claim(t, s, "e", probeEnd, 10, w.ID)
	if len(second) != 1 {
		t.Fatalf("after the probe's lease claimed %d, want one probe", len(second))
	}
	nextProbe := probeEnd.Add(5 * time.Minute)
	wantNoChange(t, completeWith(t, s, policy.Policy{}, probeEnd,
		failure(second[0], probeEnd, store.StatusPending, probeEnd.Add(time.Second), nextProbe)), w.ID, "a failed probe")
	if h := healthOf(t, s, w); !h.CircuitOpen() || h.ConsecutiveFailures != 6 || !h.CircuitOpenUntil.Equal(nextProbe) {
		t.Fatalf("after a failed probe health %+v, want 6 failures, open until %v", h, nextProbe)
	}
	if due := dueIDs(t, s, nextProbe.Add(-time.Millisecond)); len(due) != 0 {
		t.Fatalf("due %v before the next probe time", due)
	}
	wantNextDue(t, s, probeEnd, nextProbe, "after a failed probe")

	third := Claim(t, s, "e", nextProbe, 10, w.ID)
	if len(third) != 1 {
		t.Fatalf("at the next probe time claimed %d, want 1", len(third))
	}
	wantChange(t, completeWith(t, s, policy.Policy{}, nextProbe, success(third[0], nextProbe)), w,
		store.WebhookChange{HealthChange: store.HealthChange{Closed: true}}, "a successful probe")
	rest := Claim(t, s, "e", nextProbe, 10, w.ID)
	if len(rest) != 5 {
		t.Fatalf("after the circuit closed claimed %d, want the other 5", len(rest))
	}
}

// wantNextDue checks the earliest wake time after after.
func wantNextDue(tb testing.TB, s Store, after, want time.Time, what string) {
	tb.Helper()
	got, err := s.NextDue(ctxOf(tb), after)
	NoErr(tb, err, "next due")
	if !got.Equal(want) {
		tb.Fatalf("%s: NextDue(%v) = %v, want %v", what, after, got, want)
	}
}

// testQuietSuccesses: successes on a healthy webhook record its last
// success at most a second late (a batch that would only move it by less
// leaves the row alone), and a failure after them is counted as ever.
func testQuietSuccesses(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ten := MustTenant(t, s)
	w := MustWebhook(t, s, ten.ID, "TRANSACTION")
	PublishTo(t, s, ten.ID, w.ID, 4, T0)
	now := T0.Add(time.Second)
	c := Claim(t, s, "d", now, 4, w.ID)
	if len(c) != 4 {
		t.Fatalf("claimed %d, want 4", len(c))
	}
	p := policy.Policy{}
	at := func(ms int) time.Time { return now.Add(time.Duration(ms) * time.Millisecond) }

	completeWith(t, s, p, at(10), success(c[0], at(0)))
	sameHealth(t, healthOf(t, s, w), store.Health{LastSuccess: finished(at(0))}, "after the first success")
	completeWith(t, s, p, at(510), success(c[1], at(500)))
	sameHealth(t, healthOf(t, s, w), store.Health{LastSuccess: finished(at(0))}, "after a success half a second later")
	wantStatus(t, s, ten.ID, c[1].ID, store.StatusDelivered, 1)
	completeWith(t, s, p, at(1510), success(c[2], at(1500)))
	sameHealth(t, healthOf(t, s, w), store.Health{LastSuccess: finished(at(1500))}, "after a success 1.5 s later")

	retry := now.Add(time.Hour)
	completeWith(t, s, p, at(1610), failure(c[3], at(1600), store.StatusPending, retry, retry))
	sameHealth(t, healthOf(t, s, w), store.Health{ConsecutiveFailures: 1, FailingSince: finished(at(1600)),
		LastSuccess: finished(at(1500)), LastFailure: finished(at(1600))}, "after a failure")
	if n := wantStatus(t, s, ten.ID, c[3].ID, store.StatusPending, 1); !n.NextAttemptAt.Equal(retry) {
		t.Fatalf("failed notification due at %v, want %v", n.NextAttemptAt, retry)
	}
}
