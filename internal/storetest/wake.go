package storetest

import (
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/policy"
	"github.com/heraldhq/herald/internal/store"
)

// testRateBucket: a rate-limited webhook claims at most its burst, then
// nothing, and is not due, until its bucket holds a token again; later
// claims take what the bucket refilled, never more than its burst. The
// bucket is the webhook's, whichever dispatcher claims.
func testRateBucket(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ten := MustTenant(t, s)
	w := MustWebhook(t, s, ten.ID, "*")
	PublishTo(t, s, ten.ID, w.ID, 20, T0)
	const rate = 40.0 // a burst of 4, a token every 25ms
	claim := func(owner string, at time.Time) int {
		t.Helper()
		got, err := s.Claim(ctxOf(t), store.Claim{Owner: owner, Now: at, LeaseUntil: at.Add(time.Minute),
			Requests: []store.ClaimRequest{{WebhookID: w.ID, Limit: 100, RateLimit: rate}}})
		NoErr(t, err, "claim")
		return len(got)
	}
	t1 := T0.Add(time.Second)
	if n := claim("d", t1); n != 4 {
		t.Fatalf("first claim took %d, want the burst of 4", n)
	}
	// Empty bucket: not due until the next token.
	if due := dueIDs(t, s, t1); len(due) != 0 {
		t.Fatalf("webhook with an empty bucket due at once: %v", due)
	}
	// A publish makes it due (wake times are lower bounds); a claim that
	// finds no token puts its wake time back.
	publish(t, s, ten.ID, "TRANSACTION", t1)
	if due := dueIDs(t, s, t1); len(due) != 1 || due[0] != w.ID {
		t.Fatalf("after a publish due %v, want %s", due, w.ID)
	}
	if n := claim("e", t1); n != 0 {
		t.Fatalf("claimed %d with the bucket empty", n)
	}
	if due := dueIDs(t, s, t1); len(due) != 0 {
		t.Fatalf("due %v after a claim found the bucket empty", due)
	}
	next, err := s.NextDue(ctxOf(t), t1)
	NoErr(t, err, "next due")
	if next.Before(t1.Add(25*time.Millisecond)) || next.After(t1.Add(26*time.Millisecond)) {
		t.Fatalf("NextDue = %v, want the next token at %v (to the millisecond)", next, t1.Add(25*time.Millisecond))
	}
	if due := dueIDs(t, s, next.Add(-time.Millisecond)); len(due) != 0 {
		t.Fatalf("due %v before the next token", due)
	}
	for _, owner := range []string{"d", "e"} {
		if n := claim(owner, next.Add(-time.Millisecond)); n != 0 {
			t.Fatalf("%s claimed %d before the next token", owner, n)
		}
	}
	if due := dueIDs(t, s, next); len(due) != 1 || due[0] != w.ID {
		t.Fatalf("at the next token due %v, want %s", due, w.ID)
	}
	if n := claim("e", next); n != 1 {
		t.Fatalf("claimed %d at the next token, want 1", n)
	}
	if due := dueIDs(t, s, next); len(due) != 0 {
		t.Fatalf("due %v with the bucket empty again", due)
	}
	// 50ms refill two tokens; ten seconds refill no more than the burst.
	if n := claim("d", next.Add(50*time.Millisecond)); n != 2 {
		t.Fatalf("claimed %d 50ms later, want 2", n)
	}
	if n := claim("e", next.Add(10*time.Second)); n != 4 {
		t.Fatalf("claimed %d ten seconds later, want the burst of 4", n)
	}
}

// testWakeTimes: among many webhooks, DueWebhooks names only those with
// work to claim, and every write that makes work claimable makes its
// webhook due: a retry at its time, released leases, re-queued
// notifications and a re-enabled webhook at once.
func testWakeTimes(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := ctxOf(t)
	a, b := MustTenant(t, s), MustTenant(t, s)
	var idleA []string
	for i := range 196 {
		ten := a
		if i%2 == 1 {
			ten = b
		}
		w := MustWebhook(t, s, ten.ID, "KYC_RESULT")
		if ten.ID == a.ID {
			idleA = append(idleA, w.ID)
		}
	}
	busy := []store.Webhook{MustWebhook(t, s, a.ID, "TRANSACTION"), MustWebhook(t, s, b.ID, "TRANSACTION")}
	retried := MustWebhook(t, s, a.ID, "CARD_STATUS_CHANGE")
	expired := MustWebhook(t, s, a.ID, "PIN_CHANGE")
	leased := MustWebhook(t, s, b.ID, "USER_CREATED")
	broken := MustWebhook(t, s, b.ID, "ACCOUNT_UPDATE")
	now := T0.Add(time.Second)
	retryAt := now.Add(10 * time.Second)

	// Tenant a's idle webhooks had work, all delivered.
	publish(t, s, a.ID, "KYC_RESULT", T0)
	var done []store.AttemptResult
	for _, c := range Claim(t, s, "d", now, 10, idleA...) {
		done = append(done, success(c, now))
	}
	if len(done) != len(idleA) {
		t.Fatalf("claimed %d of %d idle webhooks' notifications", len(done), len(idleA))
	}
	completeWith(t, s, policy.Policy{}, now, done...)
	publish(t, s, a.ID, "CARD_STATUS_CHANGE", T0)
	publish(t, s, a.ID, "PIN_CHANGE", T0)
	var results []store.AttemptResult
	for _, c := range Claim(t, s, "d", now, 10, retried.ID, expired.ID) {
		if c.WebhookID == retried.ID {
			results = append(results, failure(c, now, store.StatusPending, retryAt, retryAt))
		} else {
			results = append(results, failure(c, now, store.StatusExpired, time.Time{}, retryAt))
		}
	}
	completeWith(t, s, policy.Policy{}, now, results...)
	publish(t, s, b.ID, "USER_CREATED", T0)
	if got := Claim(t, s, "x", now, 10, leased.ID); len(got) != 1 {
		t.Fatalf("claimed %d for the leased webhook, want 1", len(got))
	}
	// broken's circuit is open until long after its retries fall due.
	var fails []store.AttemptResult
	for i := range 5 {
		publish(t, s, b.ID, "ACCOUNT_UPDATE", T0.Add(time.Duration(i)*time.Millisecond))
	}
	for _, c := range Claim(t, s, "d", now, 10, broken.ID) {
		fails = append(fails, failure(c, now, store.StatusPending, now.Add(5*time.Second), now.Add(time.Hour)))
	}
	completeWith(t, s, policy.Policy{}, now, fails...)
	publish(t, s, a.ID, "TRANSACTION", T0)
	publish(t, s, b.ID, "TRANSACTION", T0)

	wantDue := func(at time.Time, want []string, what string) {
		t.Helper()
		if got := dueIDs(t, s, at); !sameSet(got, want) {
			if len(got) > 10 {
				got = append(got[:10], "...")
			}
			t.Fatalf("%s: DueWebhooks(%v) = %d webhooks %v, want %v", what, at, len(got), got, want)
		}
	}
	wantDue(now, hookIDs(busy), "202 webhooks, 2 with due work")
	if got := Claim(t, s, "d", now, 10, hookIDs(busy)...); len(got) != 2 {
		t.Fatalf("claimed %d of the busy webhooks, want 2", len(got))
	}
	wantDue(now, nil, "every due notification leased")
	wantNextDue(t, s, now, retryAt, "a retry before any lease ends")
	wantDue(retryAt.Add(-time.Millisecond), nil, "just before the retry time")
	wantDue(retryAt, []string{retried.ID}, "at the retry time")

	_, err := s.ReleaseLeases(ctx, "x")
	NoErr(t, err, "release leases")
	wantDue(now, []string{leased.ID}, "after releasing the leases of x")

	n, err := s.RequeueExpired(ctx, store.NotificationFilter{TenantID: a.ID, WebhookID: expired.ID}, now)
	NoErr(t, err, "requeue expired")
	if n != 1 {
		t.Fatalf("requeued %d, want 1", n)
	}
	wantDue(now, []string{leased.ID, expired.ID}, "after re-queuing an expired notification")

	later := now.Add(5 * time.Second) // broken's retries are due, its circuit still open
	wantDue(later, []string{leased.ID, expired.ID}, "open circuit")
	for _, st := range []string{store.WebhookDisabled, store.WebhookActive} {
		_, err = s.UpdateWebhook(ctx, b.ID, broken.ID, func(w *store.Webhook) error {
			w.Status, w.Health = st, store.Health{} // re-enabling starts with a closed circuit
			return nil
		})
		NoErr(t, err, "set status "+st)
	}
	wantDue(later, []string{leased.ID, expired.ID, broken.ID}, "after re-enabling")
	if got := Claim(t, s, "d", later, 10, broken.ID); len(got) != 5 {
		t.Fatalf("re-enabled webhook claimed %d, want its 5 retries", len(got))
	}
}
