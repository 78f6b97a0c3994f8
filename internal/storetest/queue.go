package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/policy"
	"github.com/heraldhq/herald/internal/store"
)

// PublishTo publishes n events at T0, T0+1ms, ... and returns the
// notifications addressed to hook, in publish order.
func PublishTo(t *testing.T, s Store, tenantID, hook string, n int, from time.Time) []string {
	t.Helper()
	var out []string
	for i := range n {
		pe := publish(t, s, tenantID, "TRANSACTION", from.Add(time.Duration(i)*time.Millisecond))
		for _, r := range pe.Notifications {
			if r.WebhookID == hook {
				out = append(out, r.ID)
			}
		}
	}
	if len(out) != n {
		t.Fatalf("%d events made %d notifications for webhook %s", n, len(out), hook)
	}
	return out
}

func dueIDs(t *testing.T, s Store, now time.Time) []string {
	t.Helper()
	due, err := s.DueWebhooks(ctxOf(t), now)
	NoErr(t, err, "due webhooks")
	return versionIDs(due)
}

func testDueWebhooks(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := ctxOf(t)
	ten := MustTenant(t, s)
	queued := MustWebhook(t, s, ten.ID, "TRANSACTION")
	leased := MustWebhook(t, s, ten.ID, "TRANSACTION")
	disabled := MustWebhook(t, s, ten.ID, "TRANSACTION")
	deleted := MustWebhook(t, s, ten.ID, "TRANSACTION")
	finished := MustWebhook(t, s, ten.ID, "TRANSACTION")
	idle := MustWebhook(t, s, ten.ID, "KYC_RESULT")
	publish(t, s, ten.ID, "TRANSACTION", T0)

	if got := dueIDs(t, s, T0.Add(-time.Millisecond)); len(got) != 0 {
		t.Fatalf("due before the publish time: %v", got)
	}
	all := []string{queued.ID, leased.ID, disabled.ID, deleted.ID, finished.ID}
	if got := dueIDs(t, s, T0); !sameSet(got, all) {
		t.Fatalf("DueWebhooks = %v, want %v", got, all)
	}

	now := T0.Add(time.Second)
	c := Claim(t, s, "d", now, 10, leased.ID, finished.ID)
	for _, x := range c {
		if x.WebhookID == finished.ID {
			complete(t, s, now, result(x, store.StatusDelivered, now, time.Time{}))
		}
	}
	_, err := s.UpdateWebhook(ctx, ten.ID, disabled.ID, func(w *store.Webhook) error { w.Status = store.WebhookDisabled; return nil })
	NoErr(t, err, "disable")
	_, err = s.DeleteWebhook(ctx, ten.ID, deleted.ID, now)
	NoErr(t, err, "delete")

	got := dueIDs(t, s, now)
	if !slices.Equal(got, []string{queued.ID}) {
		t.Fatalf("DueWebhooks = %v, want only the webhook with an unleased due notification %s", got, queued.ID)
	}
	if slices.Contains(got, idle.ID) {
		t.Fatalf("webhook without notifications is due")
	}
	// Re-enabled, the disabled webhook's notification is due again.
	_, err = s.UpdateWebhook(ctx, ten.ID, disabled.ID, func(w *store.Webhook) error { w.Status = store.WebhookActive; return nil })
	NoErr(t, err, "enable")
	if got := dueIDs(t, s, now); !sameSet(got, []string{queued.ID, disabled.ID}) {
		t.Fatalf("DueWebhooks after re-enabling = %v, want %v", got, []string{queued.ID, disabled.ID})
	}
	// When the lease runs out the leased one is due again.
	if got := dueIDs(t, s, now.Add(31*time.Second)); !sameSet(got, []string{queued.ID, disabled.ID, leased.ID}) {
		t.Fatalf("DueWebhooks after the lease = %v", got)
	}
}

func testClaim(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := ctxOf(t)
	ten := MustTenant(t, s)
	a := MustWebhook(t, s, ten.ID, "TRANSACTION")
	b := MustWebhook(t, s, ten.ID, "KYC_RESULT")
	aIDs := PublishTo(t, s, ten.ID, a.ID, 5, T0)
	bEvents := make([]store.PublishedEvent, 3)
	for i := range bEvents {
		bEvents[i] = publish(t, s, ten.ID, "KYC_RESULT", T0.Add(time.Duration(10+i)*time.Millisecond))
	}

	now := T0.Add(time.Second)
	until := now.Add(time.Minute)
	got, err := s.Claim(ctx, store.Claim{Owner: "d1", Now: now, LeaseUntil: until,
		Requests: []store.ClaimRequest{{WebhookID: a.ID, Limit: 2}, {WebhookID: b.ID, Limit: 10}, {WebhookID: newID(), Limit: 5}}})
	NoErr(t, err, "claim")
	if len(got) != 5 {
		t.Fatalf("claimed %d, want 2 of a and 3 of b", len(got))
	}
	var ga, gb []store.Claimed
	for _, c := range got {
		if c.WebhookID == a.ID {
			ga = append(ga, c)
		} else {
			gb = append(gb, c)
		}
	}
	if !slices.Equal(claimedIDs(ga), aIDs[:2]) {
		t.Fatalf("claimed of a %v, want the two oldest %v in order", claimedIDs(ga), aIDs[:2])
	}
	for i, c := range gb {
		pe := bEvents[i]
		if c.ID != pe.Notifications[0].ID || c.WebhookID != b.ID || c.EventID != pe.Event.ID || c.TenantID != ten.ID ||
			c.EventName != "KYC_RESULT" || c.Attempt != 1 || c.RetryBase != 0 || c.LeaseToken == "" ||
			string(c.Payload) != string(pe.Event.Payload) || !c.Published.Equal(pe.Event.Created) {
			t.Fatalf("claimed %d = %+v, want notification %s of event %+v, attempt 1", i, c, pe.Notifications[0].ID, pe.Event)
		}
	}

	// Leased notifications are not claimed again; the rest of a are.
	got = Claim(t, s, "d2", now, 10, a.ID, b.ID)
	if !slices.Equal(claimedIDs(got), aIDs[2:]) {
		t.Fatalf("second claim %v, want the unleased %v", claimedIDs(got), aIDs[2:])
	}
	if got := Claim(t, s, "d3", now.Add(29*time.Second), 10, a.ID, b.ID); len(got) != 0 {
		t.Fatalf("claimed %d leased notifications", len(got))
	}
	// A zero limit claims nothing.
	_, err = s.Complete(ctx, store.Completion{Now: now, Health: policy.Policy{}})
	NoErr(t, err, "complete nothing")
	if _, err := s.ReleaseLeases(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if got := Claim(t, s, "d4", now, 0, a.ID, b.ID); len(got) != 0 {
		t.Fatalf("claim with limit 0 took %d", len(got))
	}
	// Not yet due is not claimed.
	if got := Claim(t, s, "d4", T0.Add(-time.Millisecond), 10, a.ID, b.ID); len(got) != 0 {
		t.Fatalf("claimed %d notifications before their due time", len(got))
	}
}

// testClaimOldestFirst: a claim takes the notifications that fell due
// first, and returns them in that order.
func testClaimOldestFirst(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ten := MustTenant(t, s)
	w := MustWebhook(t, s, ten.ID, "*")
	ids := PublishTo(t, s, ten.ID, w.ID, 4, T0)
	now := T0.Add(time.Second)
	c := Claim(t, s, "d", now, 4, w.ID)
	// Retries at staggered times, the oldest notification last.
	next := []time.Duration{40, 30, 20, 10}
	for i, x := range c {
		complete(t, s, now, result(x, store.StatusPending, now, now.Add(next[i]*time.Second)))
	}
	later := now.Add(time.Minute)
	first := Claim(t, s, "d", later, 1, w.ID)
	if !slices.Equal(claimedIDs(first), ids[3:]) {
		t.Fatalf("limit 1 claimed %v, want the earliest due %v", claimedIDs(first), ids[3:])
	}
	rest := Claim(t, s, "d", later, 10, w.ID)
	if want := []string{ids[2], ids[1], ids[0]}; !slices.Equal(claimedIDs(rest), want) {
		t.Fatalf("claim order %v, want by due time %v", claimedIDs(rest), want)
	}
	for _, x := range append(first, rest...) {
		if x.Attempt != 2 {
			t.Fatalf("retry claimed as attempt %d, want 2", x.Attempt)
		}
	}
}

func testLeaseExpiry(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ten := MustTenant(t, s)
	w := MustWebhook(t, s, ten.ID, "*")
	ids := PublishTo(t, s, ten.ID, w.ID, 3, T0)
	now := T0.Add(time.Second) // leased until now+30s
	first := Claim(t, s, "d1", now, 10, w.ID)
	if !slices.Equal(claimedIDs(first), ids) {
		t.Fatalf("claimed %v, want %v", claimedIDs(first), ids)
	}
	if got := Claim(t, s, "d2", now.Add(30*time.Second-time.Millisecond), 10, w.ID); len(got) != 0 {
		t.Fatalf("claimed %d before the lease ran out", len(got))
	}
	second := Claim(t, s, "d2", now.Add(31*time.Second), 10, w.ID)
	if !slices.Equal(claimedIDs(second), ids) {
		t.Fatalf("after the lease claimed %v, want %v", claimedIDs(second), ids)
	}
	for i := range second {
		if second[i].LeaseToken == first[i].LeaseToken {
			t.Fatalf("re-claim kept lease token %q", second[i].LeaseToken)
		}
		if second[i].Attempt != 1 {
			t.Fatalf("re-claim of an unfinished attempt: Attempt %d, want 1", second[i].Attempt)
		}
	}
}

func testComplete(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := ctxOf(t)
	ten := MustTenant(t, s)
	w := MustWebhook(t, s, ten.ID, "*")
	ids := PublishTo(t, s, ten.ID, w.ID, 3, T0)
	now := T0.Add(time.Second)
	c := Claim(t, s, "d", now, 10, w.ID)
	started := now.Add(5 * time.Millisecond)
	done := now.Add(time.Second)
	ok := store.AttemptResult{LeaseToken: c[0].LeaseToken, Status: store.StatusDelivered, Attempt: store.Attempt{
		NotificationID: c[0].ID, Number: 1, Started: started, Duration: 1234 * time.Microsecond, StatusCode: 204, ResponseBody: "accepted"}}
	failed := store.AttemptResult{LeaseToken: c[1].LeaseToken, Status: store.StatusPending, NextAttemptAt: done.Add(5 * time.Second),
		Attempt: store.Attempt{NotificationID: c[1].ID, Number: 1, Started: started, Duration: 10 * time.Second,
			ErrorKind: "timeout", Error: "context deadline exceeded"}}
	gaveUp := store.AttemptResult{LeaseToken: c[2].LeaseToken, Status: store.StatusExpired, Attempt: store.Attempt{
		NotificationID: c[2].ID, Number: 1, Started: started, Duration: 2 * time.Millisecond, StatusCode: 500,
		ResponseBody: `{"error":"down"}`, ErrorKind: "http_status", Error: "HTTP 500"}}
	_, err := s.Complete(ctx, store.Completion{Results: []store.AttemptResult{ok, failed, gaveUp}, Now: done, Health: policy.Policy{}})
	NoErr(t, err, "complete")

	for i, r := range []store.AttemptResult{ok, failed, gaveUp} {
		n := note(t, s, ten.ID, ids[i])
		if n.Status != r.Status || n.Attempts != 1 || !n.Modified.Equal(done) {
			t.Fatalf("notification %d after complete: status %s, attempts %d, modified %v; want %s, 1, %v",
				i, n.Status, n.Attempts, n.Modified, r.Status, done)
		}
		if r.Status == store.StatusPending && !n.NextAttemptAt.Equal(r.NextAttemptAt) {
			t.Fatalf("retry NextAttemptAt = %v, want %v", n.NextAttemptAt, r.NextAttemptAt)
		}
		if len(n.AttemptLog) != 1 {
			t.Fatalf("notification %d: %d attempts logged, want 1", i, len(n.AttemptLog))
		}
		a, want := n.AttemptLog[0], r.Attempt
		if a.NotificationID != want.NotificationID || a.Number != want.Number || !a.Started.Equal(want.Started) ||
			a.Duration != want.Duration || a.StatusCode != want.StatusCode || a.ResponseBody != want.ResponseBody ||
			a.ErrorKind != want.ErrorKind || a.Error != want.Error {
			t.Fatalf("attempt logged %+v, want %+v", a, want)
		}
	}
	// Only the retry is still queued, and not before its time.
	if got := Claim(t, s, "d", done.Add(4*time.Second), 10, w.ID); len(got) != 0 {
		t.Fatalf("claimed %v before the retry was due", claimedIDs(got))
	}
	got := Claim(t, s, "d", done.Add(5*time.Second), 10, w.ID)
	if !slices.Equal(claimedIDs(got), ids[1:2]) || got[0].Attempt != 2 {
		t.Fatalf("claimed %+v, want the retry %s as attempt 2", got, ids[1])
	}
	// Its second attempt is logged after the first.
	complete(t, s, done.Add(6*time.Second), result(got[0], store.StatusDelivered, done.Add(5*time.Second), time.Time{}))
	n := note(t, s, ten.ID, ids[1])
	if n.Status != store.StatusDelivered || n.Attempts != 2 || len(n.AttemptLog) != 2 ||
		n.AttemptLog[0].Number != 1 || n.AttemptLog[1].Number != 2 || n.AttemptLog[1].StatusCode != 200 {
		t.Fatalf("after the second attempt: %+v", n)
	}
}

// testLargeResultBatch: a result batch of more results than one statement
// records (SQLite writes 64 a statement) sets every notification to its own
// outcome, counts the expired ones per webhook, and leaves the notification
// whose lease was taken over as it was.
func testLargeResultBatch(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ten := MustTenant(t, s)
	a, b := MustWebhook(t, s, ten.ID, "*"), MustWebhook(t, s, ten.ID, "*")
	PublishTo(t, s, ten.ID, a.ID, 75, T0)
	now := T0.Add(time.Second)
	claimed := Claim(t, s, "d", now, 100, a.ID, b.ID)
	if len(claimed) != 150 {
		t.Fatalf("claimed %d, want 150", len(claimed))
	}
	const stale = 70 // its lease token is not the current one
	retry := now.Add(time.Minute)
	results := make([]store.AttemptResult, len(claimed))
	wantExpired := map[string]int{}
	for i, c := range claimed {
		status, next := store.StatusDelivered, time.Time{}
		switch i % 3 {
		case 0:
			status = store.StatusExpired
		case 1:
			status, next = store.StatusPending, retry
		}
		results[i] = result(c, status, now, next)
		if i == stale {
			results[i].LeaseToken = "taken-over"
		} else if status == store.StatusExpired {
			wantExpired[c.WebhookID]++
		}
	}
	changes := completeWith(t, s, policy.Policy{}, now, results...)
	for _, hook := range []string{a.ID, b.ID} {
		ch, _ := changeOf(changes, hook)
		if ch.Expired != wantExpired[hook] {
			t.Errorf("webhook %s: %d reported expired, want %d", hook, ch.Expired, wantExpired[hook])
		}
	}
	for i, r := range results {
		n := note(t, s, ten.ID, claimed[i].ID)
		want, attempts := r.Status, 1
		if i == stale {
			want, attempts = store.StatusPending, 0
		}
		if n.Status != want || n.Attempts != attempts || len(n.AttemptLog) != 1 {
			t.Fatalf("result %d: status %s, attempts %d, %d logged; want %s, %d, 1", i, n.Status, n.Attempts, len(n.AttemptLog), want, attempts)
		}
		if i != stale && want == store.StatusPending && !n.NextAttemptAt.Equal(retry) {
			t.Fatalf("result %d: retry at %v, want %v", i, n.NextAttemptAt, retry)
		}
	}
}

func testRetryNotDueEarly(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := ctxOf(t)
	ten := MustTenant(t, s)
	w := MustWebhook(t, s, ten.ID, "*")
	off := MustWebhook(t, s, ten.ID, "*")
	publish(t, s, ten.ID, "TRANSACTION", T0)
	now := T0.Add(time.Second)
	retryAt := now.Add(5 * time.Minute)
	c := Claim(t, s, "d", now, 10, w.ID, off.ID)
	if len(c) != 2 {
		t.Fatalf("claimed %d, want 2", len(c))
	}
	for _, x := range c {
		at := retryAt
		if x.WebhookID == off.ID {
			at = now.Add(time.Minute) // earlier, but its webhook gets disabled
		}
		complete(t, s, now, result(x, store.StatusPending, now, at))
	}
	_, err := s.UpdateWebhook(ctx, ten.ID, off.ID, func(h *store.Webhook) error { h.Status = store.WebhookDisabled; return nil })
	NoErr(t, err, "disable")

	next, err := s.NextDue(ctx, now)
	NoErr(t, err, "next due")
	if !next.Equal(retryAt) {
		t.Fatalf("NextDue = %v, want %v (the disabled webhook's retry does not count)", next, retryAt)
	}
	if got := dueIDs(t, s, retryAt.Add(-time.Millisecond)); len(got) != 0 {
		t.Fatalf("due before the retry time: %v", got)
	}
	if got := dueIDs(t, s, retryAt); !slices.Equal(got, []string{w.ID}) {
		t.Fatalf("DueWebhooks at the retry time = %v, want %s", got, w.ID)
	}
	next, err = s.NextDue(ctx, retryAt)
	NoErr(t, err, "next due after the last")
	if !next.IsZero() {
		t.Fatalf("NextDue with nothing later = %v, want zero", next)
	}
}

// testStaleLease: a result whose lease ran out and was taken by another
// dispatcher records its attempt and changes nothing else.
func testStaleLease(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ten := MustTenant(t, s)
	w := MustWebhook(t, s, ten.ID, "*")
	id := PublishTo(t, s, ten.ID, w.ID, 1, T0)[0]
	old := Claim(t, s, "slow", T0, 1, w.ID)[0]
	later := T0.Add(time.Minute)
	cur := Claim(t, s, "fast", later, 1, w.ID)[0]

	stale := result(old, store.StatusExpired, T0, time.Time{})
	complete(t, s, later, stale)
	n := note(t, s, ten.ID, id)
	if n.Status != store.StatusPending || n.Attempts != 0 {
		t.Fatalf("stale result changed the notification: status %s, attempts %d", n.Status, n.Attempts)
	}
	if len(n.AttemptLog) != 1 || n.AttemptLog[0].StatusCode != 500 {
		t.Fatalf("stale attempt not recorded: %+v", n.AttemptLog)
	}
	// The current lease still holds.
	if got := Claim(t, s, "other", later.Add(time.Second), 1, w.ID); len(got) != 0 {
		t.Fatalf("stale result released the current lease")
	}
	complete(t, s, later.Add(time.Second), result(cur, store.StatusDelivered, later, time.Time{}))
	if n := note(t, s, ten.ID, id); n.Status != store.StatusDelivered || n.Attempts != 1 {
		t.Fatalf("current lease's result: status %s, attempts %d; want DELIVERED, 1", n.Status, n.Attempts)
	} else if len(n.AttemptLog) != 2 || n.AttemptLog[0].Number != 1 || n.AttemptLog[1].Number != 1 {
		// Both dispatchers sent attempt 1; the log keeps both.
		t.Fatalf("attempt log after a stale and a current attempt = %+v, want both numbered 1", n.AttemptLog)
	}
	// A result sent twice changes nothing the second time.
	complete(t, s, later.Add(2*time.Second), result(cur, store.StatusExpired, later, time.Time{}))
	if n := note(t, s, ten.ID, id); n.Status != store.StatusDelivered {
		t.Fatalf("second result for one lease changed the status to %s", n.Status)
	}
}

func testReleaseLeases(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := ctxOf(t)
	ten := MustTenant(t, s)
	a := MustWebhook(t, s, ten.ID, "TRANSACTION")
	b := MustWebhook(t, s, ten.ID, "KYC_RESULT")
	aIDs := PublishTo(t, s, ten.ID, a.ID, 3, T0)
	var bIDs []string
	for i := range 2 {
		bIDs = append(bIDs, publish(t, s, ten.ID, "KYC_RESULT", T0.Add(time.Duration(i)*time.Millisecond)).Notifications[0].ID)
	}
	now := T0.Add(time.Second)
	if got := Claim(t, s, "one", now, 10, a.ID); len(got) != 3 {
		t.Fatalf("owner one claimed %d, want 3", len(got))
	}
	gotB := Claim(t, s, "two", now, 10, b.ID)
	if len(gotB) != 2 {
		t.Fatalf("owner two claimed %d, want 2", len(gotB))
	}
	n, err := s.ReleaseLeases(ctx, "one")
	NoErr(t, err, "release one")
	if n != 3 {
		t.Fatalf("ReleaseLeases(one) = %d, want 3", n)
	}
	if got := Claim(t, s, "three", now, 10, a.ID, b.ID); !slices.Equal(claimedIDs(got), aIDs) {
		t.Fatalf("after releasing owner one claimed %v, want only its %v", claimedIDs(got), aIDs)
	}
	// A completed notification holds no lease.
	complete(t, s, now, result(gotB[0], store.StatusDelivered, now, time.Time{}))
	n, err = s.ReleaseLeases(ctx, "")
	NoErr(t, err, "release all")
	if n != 4 {
		t.Fatalf("ReleaseLeases(\"\") = %d, want 4 (three of owner three, one of owner two)", n)
	}
	if got := Claim(t, s, "four", now, 10, a.ID, b.ID); !sameSet(claimedIDs(got), append(slices.Clone(aIDs), bIDs[1])) {
		t.Fatalf("after releasing all claimed %v", claimedIDs(got))
	}
	if n, err := s.ReleaseLeases(ctx, "nobody"); err != nil || n != 0 {
		t.Fatalf("ReleaseLeases(nobody) = %d, %v; want 0", n, err)
	}
}
