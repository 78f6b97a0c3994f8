package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// activityStore reads a webhook's recent delivery record (the dashboard).
type activityStore interface {
	WebhookActivity(ctx context.Context, tenantID, webhookID string, n, pendingCap int) (store.WebhookActivity, error)
}

func activityOf(t *testing.T, s Store) activityStore {
	t.Helper()
	as, ok := s.(activityStore)
	if !ok {
		t.Fatalf("store %T does not read webhook activity", s)
	}
	return as
}

// attemptAt makes and records one attempt of each of ids (claimed at now),
// each with the outcome status, next due at next.
func attemptAt(t *testing.T, s Store, hook string, now time.Time, status string, next time.Time, ids ...string) {
	t.Helper()
	claimed := Claim(t, s, "d", now, len(ids), hook)
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var results []store.AttemptResult
	for _, c := range claimed {
		if want[c.ID] {
			results = append(results, result(c, status, now, next))
		}
	}
	if len(results) != len(ids) {
		t.Fatalf("claimed %d of %d notifications at %v", len(results), len(ids), now)
	}
	complete(t, s, now.Add(10*time.Millisecond), results...)
	if _, err := s.ReleaseLeases(ctxOf(t), "d"); err != nil {
		t.Fatal(err)
	}
}

// testWebhookActivity: the newest attempts come from the webhook's own
// attempts, whichever notifications they belong to: an old notification
// retried now is newer than newer notifications delivered earlier.
func testWebhookActivity(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	as := activityOf(t, s)
	ctx := ctxOf(t)
	ten := MustTenant(t, s)
	hook := MustWebhook(t, s, ten.ID, "TRANSACTION")
	quiet := MustWebhook(t, s, ten.ID, "KYC_RESULT")

	act, err := as.WebhookActivity(ctx, ten.ID, hook.ID, 50, 100)
	NoErr(t, err, "activity of a new webhook")
	if len(act.Attempts) != 0 || act.Pending != 0 || act.PendingCapped {
		t.Fatalf("activity of a new webhook: %+v", act)
	}

	old := PublishTo(t, s, ten.ID, hook.ID, 1, T0)[0]
	attemptAt(t, s, hook.ID, T0.Add(time.Second), store.StatusPending, T0.Add(time.Hour), old)
	newer := PublishTo(t, s, ten.ID, hook.ID, 30, T0.Add(2*time.Second))
	attemptAt(t, s, hook.ID, T0.Add(3*time.Second), store.StatusDelivered, time.Time{}, newer...)
	retryAt := T0.Add(time.Hour)
	attemptAt(t, s, hook.ID, retryAt, store.StatusPending, retryAt.Add(time.Hour), old)
	waiting := PublishTo(t, s, ten.ID, hook.ID, 3, retryAt.Add(time.Second)) // never attempted

	act, err = as.WebhookActivity(ctx, ten.ID, hook.ID, 20, 100)
	NoErr(t, err, "activity")
	if len(act.Attempts) != 20 {
		t.Fatalf("%d attempts, want the 20 newest", len(act.Attempts))
	}
	if a := act.Attempts[0]; a.NotificationID != old || a.Number != 2 || !a.Started.Equal(retryAt) || a.ErrorKind == "" {
		t.Fatalf("newest attempt %+v, want the retry of %s at %v", a, old, retryAt)
	}
	for i, a := range act.Attempts[1:] {
		if a.ErrorKind != "" || !a.Started.Equal(T0.Add(3*time.Second)) {
			t.Fatalf("attempt %d: %+v, want a delivery at %v", i+1, a, T0.Add(3*time.Second))
		}
	}
	if act.Pending != 1+len(waiting) || act.PendingCapped {
		t.Fatalf("pending %d (capped %v), want %d", act.Pending, act.PendingCapped, 1+len(waiting))
	}
	// All of them: 32 attempts, the oldest the first try of the old one.
	act, err = as.WebhookActivity(ctx, ten.ID, hook.ID, 100, 2)
	NoErr(t, err, "activity")
	if len(act.Attempts) != 32 || act.Attempts[31].NotificationID != old || act.Attempts[31].Number != 1 {
		t.Fatalf("%d attempts, last %+v: want 32, the oldest attempt 1 of %s", len(act.Attempts), act.Attempts[len(act.Attempts)-1], old)
	}
	if act.Pending != 2 || !act.PendingCapped {
		t.Fatalf("pending %d (capped %v) with a cap of 2, want 2 capped", act.Pending, act.PendingCapped)
	}
	// Few per page: the read goes on until no older attempt can be newer.
	act, err = as.WebhookActivity(ctx, ten.ID, hook.ID, 2, 0)
	NoErr(t, err, "activity")
	if len(act.Attempts) != 2 || act.Attempts[0].NotificationID != old || act.Pending != 0 {
		t.Fatalf("2 newest: %+v", act)
	}

	// Another webhook's activity is its own; another tenant's is not found.
	act, err = as.WebhookActivity(ctx, ten.ID, quiet.ID, 50, 100)
	NoErr(t, err, "activity of a quiet webhook")
	if len(act.Attempts) != 0 || act.Pending != 0 {
		t.Fatalf("a quiet webhook shows another's activity: %+v", act)
	}
	other := MustTenant(t, s)
	_, err = as.WebhookActivity(ctx, other.ID, hook.ID, 50, 100)
	wantErr(t, err, store.ErrNotFound, "activity of another tenant's webhook")
	_, err = as.WebhookActivity(ctx, ten.ID, newID(), 50, 100)
	wantErr(t, err, store.ErrNotFound, "activity of an unknown webhook")
	_, err = s.DeleteWebhook(ctx, ten.ID, quiet.ID, retryAt)
	NoErr(t, err, "delete")
	_, err = as.WebhookActivity(ctx, ten.ID, quiet.ID, 50, 100)
	wantErr(t, err, store.ErrNotFound, "activity of a deleted webhook")
}
