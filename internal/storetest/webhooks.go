package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// fullWebhook sets every field a webhook stores.
func fullWebhook(tenantID string) store.Webhook {
	w := newWebhook(tenantID, "CARD_STATUS_CHANGE", "TRANSACTION")
	retries, interval := 3, 60
	w.Config = store.WebhookConfig{
		BasicAuthUsername: "user", BasicAuthPassword: "pass",
		CustomHeaders: []store.Header{{Name: "apikey", Value: "k1"}, {Name: "X-Env", Value: "prod"}},
		Format:        store.FormatNI, TimeoutSeconds: 7, MaxInFlight: 4,
		MaxRetries: &retries, RetryIntervalSeconds: &interval,
		OAuth2:    &store.OAuth2Config{TokenURL: "https://auth.example/token", ClientID: "cid", ClientSecret: "cs", Scope: "hooks"},
		Signature: store.SignatureEd25519,
		TLS: &store.TLSConfig{ClientCertificate: "-----BEGIN CERTIFICATE-----\n...", ClientKey: "-----BEGIN PRIVATE KEY-----\n...",
			CACertificates: "-----BEGIN CERTIFICATE-----\n...", ServerName: "hooks.bank.example", ClientCertificateExpires: T0.Add(90 * 24 * time.Hour)},
	}
	// An Ed25519 secret key just after a change of scheme from HMAC.
	w.Secret = "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk="
	w.PreviousSecret, w.PreviousSecretUntil = "whsec_old", T0.Add(24*time.Hour)
	w.Modified = T0.Add(time.Second)
	return w
}

func testWebhookCRUD(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := ctxOf(t)
	ten := MustTenant(t, s)
	w := fullWebhook(ten.ID)
	NoErr(t, s.CreateWebhook(ctx, w, 0), "create webhook")
	got, err := s.Webhook(ctx, ten.ID, w.ID)
	NoErr(t, err, "get webhook")
	sameWebhook(t, got, w, "webhook read back")

	_, err = s.Webhook(ctx, ten.ID, newID())
	wantErr(t, err, store.ErrNotFound, "unknown webhook")

	plain := MustWebhook(t, s, ten.ID, "*")
	list, paging, err := s.Webhooks(ctx, ten.ID, store.Page{})
	NoErr(t, err, "list webhooks")
	if len(list) != 2 || paging.HasMore {
		t.Fatalf("Webhooks = %d (HasMore %v), want 2", len(list), paging.HasMore)
	}
	sameWebhook(t, list[0], w, "first listed webhook")
	sameWebhook(t, list[1], plain, "second listed webhook")
}

func testWebhooksPaging(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := ctxOf(t)
	ten := MustTenant(t, s)
	other := MustTenant(t, s)
	var want []string
	for i := range 5 {
		want = append(want, MustWebhook(t, s, ten.ID, "*").ID)
		if i%2 == 0 {
			MustWebhook(t, s, other.ID, "*")
		}
	}
	var got []string
	p := store.Page{Limit: 2}
	for i, wantLen := range []int{2, 2, 1} {
		page, paging, err := s.Webhooks(ctx, ten.ID, p)
		NoErr(t, err, "list webhooks")
		if len(page) != wantLen {
			t.Fatalf("page %d: %d webhooks, want %d", i, len(page), wantLen)
		}
		if wantMore := i < 2; paging.HasMore != wantMore {
			t.Fatalf("page %d: HasMore = %v, want %v", i, paging.HasMore, wantMore)
		}
		for _, w := range page {
			if w.TenantID != ten.ID {
				t.Fatalf("page %d lists webhook %s of tenant %s", i, w.ID, w.TenantID)
			}
		}
		got = append(got, hookIDs(page)...)
		p.After = paging.After
	}
	if !slices.Equal(got, want) {
		t.Fatalf("pages = %v, want %v", got, want)
	}
}

func testWebhookIsolation(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := ctxOf(t)
	a, b := MustTenant(t, s), MustTenant(t, s)
	w := MustWebhook(t, s, a.ID, "*")

	_, err := s.Webhook(ctx, b.ID, w.ID)
	wantErr(t, err, store.ErrNotFound, "another tenant's webhook")
	list, _, err := s.Webhooks(ctx, b.ID, store.Page{})
	NoErr(t, err, "list other tenant")
	if len(list) != 0 {
		t.Fatalf("tenant b lists %d webhooks of tenant a", len(list))
	}
	called := false
	_, err = s.UpdateWebhook(ctx, b.ID, w.ID, func(h *store.Webhook) error {
		called = true
		h.Endpoint = "https://evil.example/"
		return nil
	})
	wantErr(t, err, store.ErrNotFound, "update another tenant's webhook")
	if called {
		t.Fatalf("UpdateWebhook called the change for another tenant's webhook")
	}
	_, err = s.DeleteWebhook(ctx, b.ID, w.ID, T0)
	wantErr(t, err, store.ErrNotFound, "delete another tenant's webhook")

	got, err := s.Webhook(ctx, a.ID, w.ID)
	NoErr(t, err, "owner's webhook after foreign update and delete")
	sameWebhook(t, got, w, "webhook after foreign update and delete")
}

func testUpdateWebhook(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := ctxOf(t)
	ten := MustTenant(t, s)
	w := fullWebhook(ten.ID)
	NoErr(t, s.CreateWebhook(ctx, w, 0), "create webhook")

	modified := T0.Add(time.Hour)
	want := w
	want.Endpoint = "https://client.example/v2"
	want.Events = []string{"KYC_RESULT"}
	want.Status = store.WebhookDisabled
	want.Config.TimeoutSeconds = 30
	want.Config.CustomHeaders = nil
	want.Config.OAuth2 = nil
	want.Secret, want.PreviousSecret, want.PreviousSecretUntil = "whsec_new", w.Secret, modified.Add(24*time.Hour)
	want.Modified = modified

	got, err := s.UpdateWebhook(ctx, ten.ID, w.ID, func(h *store.Webhook) error {
		sameWebhook(t, *h, w, "webhook given to change")
		h.Endpoint, h.Events, h.Status = want.Endpoint, want.Events, want.Status
		h.Config.TimeoutSeconds, h.Config.CustomHeaders, h.Config.OAuth2 = 30, nil, nil
		h.PreviousSecret, h.PreviousSecretUntil, h.Secret = h.Secret, want.PreviousSecretUntil, want.Secret
		h.Modified = modified
		return nil
	})
	NoErr(t, err, "update webhook")
	sameWebhook(t, got, want, "UpdateWebhook answer")
	stored, err := s.Webhook(ctx, ten.ID, w.ID)
	NoErr(t, err, "get updated webhook")
	sameWebhook(t, stored, want, "stored after update")

	// An error from change abandons the update, whatever change did to
	// the webhook before failing, and comes back unchanged.
	errNope := errors.New("nope")
	_, err = s.UpdateWebhook(ctx, ten.ID, w.ID, func(h *store.Webhook) error {
		h.Endpoint, h.Events, h.Status, h.Secret = "https://changed.example/", []string{"*"}, store.WebhookActive, "whsec_lost"
		return errNope
	})
	if !errors.Is(err, errNope) {
		t.Fatalf("UpdateWebhook with a failing change: err = %v, want %v", err, errNope)
	}
	stored, err = s.Webhook(ctx, ten.ID, w.ID)
	NoErr(t, err, "get webhook after failed change")
	sameWebhook(t, stored, want, "stored after failed change")

	called := false
	_, err = s.UpdateWebhook(ctx, ten.ID, newID(), func(*store.Webhook) error { called = true; return nil })
	wantErr(t, err, store.ErrNotFound, "update unknown webhook")
	if called {
		t.Fatalf("change called for an unknown webhook")
	}
}

// testUpdateWebhookRace runs read-modify-write updates at once: none may be
// lost.
func testUpdateWebhookRace(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := ctxOf(t)
	ten := MustTenant(t, s)
	w := MustWebhook(t, s, ten.ID, "*")
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := s.UpdateWebhook(ctx, ten.ID, w.ID, func(h *store.Webhook) error {
				h.Config.MaxInFlight++
				return nil
			})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		NoErr(t, err, "concurrent update")
	}
	got, err := s.Webhook(ctx, ten.ID, w.ID)
	NoErr(t, err, "get webhook")
	if want := w.Config.MaxInFlight + n; got.Config.MaxInFlight != want {
		t.Fatalf("after %d concurrent increments MaxInFlight = %d, want %d", n, got.Config.MaxInFlight, want)
	}
}

func testWebhookLimit(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := ctxOf(t)
	a, b := MustTenant(t, s), MustTenant(t, s)
	first := newWebhook(a.ID, "*")
	NoErr(t, s.CreateWebhook(ctx, first, 2), "webhook 1 of 2")
	NoErr(t, s.CreateWebhook(ctx, newWebhook(a.ID, "*"), 2), "webhook 2 of 2")
	extra := newWebhook(a.ID, "*")
	wantErr(t, s.CreateWebhook(ctx, extra, 2), store.ErrLimit, "webhook 3 of 2")
	_, err := s.Webhook(ctx, a.ID, extra.ID)
	wantErr(t, err, store.ErrNotFound, "webhook refused by the limit")

	// The limit is per tenant, and 0 means none.
	NoErr(t, s.CreateWebhook(ctx, newWebhook(b.ID, "*"), 2), "other tenant's webhook")
	NoErr(t, s.CreateWebhook(ctx, newWebhook(a.ID, "*"), 0), "webhook without limit")

	// Deleted webhooks do not count.
	c := MustTenant(t, s)
	w1 := newWebhook(c.ID, "*")
	NoErr(t, s.CreateWebhook(ctx, w1, 1), "webhook 1 of 1")
	wantErr(t, s.CreateWebhook(ctx, newWebhook(c.ID, "*"), 1), store.ErrLimit, "webhook 2 of 1")
	_, err = s.DeleteWebhook(ctx, c.ID, w1.ID, T0)
	NoErr(t, err, "delete webhook")
	NoErr(t, s.CreateWebhook(ctx, newWebhook(c.ID, "*"), 1), "webhook 1 of 1 after a delete")
}

// testDeleteWebhook leaves a webhook with one notification in each state,
// deletes it, and checks which notifications were cancelled.
func testDeleteWebhook(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := ctxOf(t)
	ten := MustTenant(t, s)
	w := MustWebhook(t, s, ten.ID, "*")
	keep := MustWebhook(t, s, ten.ID, "*")
	var ids []string
	for i := range 5 {
		pe := publish(t, s, ten.ID, "TRANSACTION", T0.Add(time.Duration(i)*time.Millisecond))
		for _, r := range pe.Notifications {
			if r.WebhookID == w.ID {
				ids = append(ids, r.ID)
			}
		}
	}
	now := T0.Add(time.Minute)
	got := Claim(t, s, "d1", now, 3, w.ID) // the three oldest: delivered, expired, in flight
	if !slices.Equal(claimedIDs(got), ids[:3]) {
		t.Fatalf("claimed %v, want %v", claimedIDs(got), ids[:3])
	}
	complete(t, s, now, result(got[0], store.StatusDelivered, now, time.Time{}), result(got[1], store.StatusExpired, now, time.Time{}))
	retry := Claim(t, s, "d1", now, 1, w.ID)[0] // ids[3]: waits for a retry
	complete(t, s, now, result(retry, store.StatusPending, now, now.Add(time.Hour)))
	// ids[4] stays queued.

	cancelled, err := s.DeleteWebhook(ctx, ten.ID, w.ID, now.Add(time.Second))
	NoErr(t, err, "delete webhook")
	if cancelled != 3 {
		t.Fatalf("DeleteWebhook cancelled %d notifications, want 3 (in flight, retrying, queued)", cancelled)
	}
	wantStatus := map[string]string{
		ids[0]: store.StatusDelivered, ids[1]: store.StatusExpired,
		ids[2]: store.StatusCancelled, ids[3]: store.StatusCancelled, ids[4]: store.StatusCancelled,
	}
	for id, want := range wantStatus {
		if n := note(t, s, ten.ID, id); n.Status != want {
			t.Errorf("notification %s: status %s, want %s", id, n.Status, want)
		}
	}
	// The other webhook's notifications are untouched.
	for _, n := range searchAll(t, s, store.NotificationFilter{TenantID: ten.ID, WebhookID: keep.ID}) {
		if n.Status != store.StatusPending {
			t.Errorf("other webhook's notification %s: status %s, want PENDING", n.ID, n.Status)
		}
	}

	_, err = s.Webhook(ctx, ten.ID, w.ID)
	wantErr(t, err, store.ErrNotFound, "deleted webhook")
	list, _, err := s.Webhooks(ctx, ten.ID, store.Page{})
	NoErr(t, err, "list webhooks")
	if !slices.Equal(hookIDs(list), []string{keep.ID}) {
		t.Fatalf("Webhooks after delete = %v, want only %s", hookIDs(list), keep.ID)
	}
	_, err = s.UpdateWebhook(ctx, ten.ID, w.ID, func(*store.Webhook) error { return nil })
	wantErr(t, err, store.ErrNotFound, "update deleted webhook")

	// The in-flight attempt finishing afterwards is recorded but does not
	// bring the notification back.
	complete(t, s, now.Add(2*time.Second), result(got[2], store.StatusDelivered, now, time.Time{}))
	n := note(t, s, ten.ID, ids[2])
	if n.Status != store.StatusCancelled {
		t.Fatalf("cancelled notification completed as DELIVERED: status %s", n.Status)
	}
	if len(n.AttemptLog) != 1 || n.AttemptLog[0].StatusCode != 200 {
		t.Fatalf("attempt of the cancelled notification: %+v, want one 200 attempt", n.AttemptLog)
	}
	// Nothing of it is due any more.
	later := now.Add(2 * time.Hour)
	due, err := s.DueWebhooks(ctx, later)
	NoErr(t, err, "due webhooks")
	if slices.Contains(versionIDs(due), w.ID) {
		t.Fatalf("deleted webhook is due")
	}
	if got, err := s.WebhooksByID(ctx, []string{w.ID}); err != nil || len(got) != 0 {
		t.Fatalf("WebhooksByID of a deleted webhook = %v, %v; want nothing", got, err)
	}
	if c := Claim(t, s, "d2", later, 10, w.ID); len(c) != 0 {
		t.Fatalf("claimed %d notifications of a deleted webhook", len(c))
	}
}

func testDeleteWebhookTwice(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := ctxOf(t)
	ten := MustTenant(t, s)
	w := MustWebhook(t, s, ten.ID, "*")
	n, err := s.DeleteWebhook(ctx, ten.ID, w.ID, T0)
	NoErr(t, err, "delete")
	if n != 0 {
		t.Fatalf("deleting a webhook without notifications cancelled %d", n)
	}
	_, err = s.DeleteWebhook(ctx, ten.ID, w.ID, T0)
	wantErr(t, err, store.ErrNotFound, "delete twice")
	_, err = s.DeleteWebhook(ctx, ten.ID, newID(), T0)
	wantErr(t, err, store.ErrNotFound, "delete unknown")
}
