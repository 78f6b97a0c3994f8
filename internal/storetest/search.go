package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// searchFixture is two tenants' notifications:
//
//	e1 CARD_STATUS_CHANGE at T0     -> n1a (h1), n1b (h2)
//	e2 TRANSACTION at T0+1m         -> n2 (h1), delivered
//	e3 KYC_RESULT at T0+2m          -> n3 (h1)
//	e4 TRANSACTION at T0+1m, tenant b -> n4 (hb)
type searchFixture struct {
	a, b                 store.Tenant
	h1, h2, hb           store.Webhook
	e1, e2, e3, e4       store.PublishedEvent
	n1a, n1b, n2, n3, n4 string
}

func newSearchFixture(t *testing.T, s Store) searchFixture {
	var f searchFixture
	f.a, f.b = MustTenant(t, s), MustTenant(t, s)
	f.h1 = MustWebhook(t, s, f.a.ID, "*")
	f.h2 = MustWebhook(t, s, f.a.ID, "CARD_STATUS_CHANGE")
	f.hb = MustWebhook(t, s, f.b.ID, "*")
	f.e1 = publish(t, s, f.a.ID, "CARD_STATUS_CHANGE", T0)
	f.e2 = publish(t, s, f.a.ID, "TRANSACTION", T0.Add(time.Minute))
	f.e3 = publish(t, s, f.a.ID, "KYC_RESULT", T0.Add(2*time.Minute))
	f.e4 = publish(t, s, f.b.ID, "TRANSACTION", T0.Add(time.Minute))
	for _, r := range f.e1.Notifications {
		if r.WebhookID == f.h1.ID {
			f.n1a = r.ID
		} else {
			f.n1b = r.ID
		}
	}
	f.n2, f.n3, f.n4 = f.e2.Notifications[0].ID, f.e3.Notifications[0].ID, f.e4.Notifications[0].ID
	now := T0.Add(time.Hour)
	for _, c := range Claim(t, s, "d", now, 10, f.h1.ID) {
		if c.ID == f.n2 {
			complete(t, s, now, result(c, store.StatusDelivered, now, time.Time{}))
		}
	}
	_, err := s.ReleaseLeases(ctxOf(t), "")
	NoErr(t, err, "release")
	return f
}

func testSearchNotifications(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	f := newSearchFixture(t, s)
	a := f.a.ID
	at := func(d time.Duration) time.Time { return T0.Add(d) }

	all := searchAll(t, s, store.NotificationFilter{TenantID: a})
	// Newest first.
	var events []string
	for i, n := range all {
		events = append(events, n.EventID)
		if i > 0 && n.Created.After(all[i-1].Created) {
			t.Fatalf("search not newest first: %v after %v", n.Created, all[i-1].Created)
		}
	}
	if want := []string{f.e3.Event.ID, f.e2.Event.ID, f.e1.Event.ID, f.e1.Event.ID}; !slices.Equal(events, want) {
		t.Fatalf("search lists events %v, want newest first %v", events, want)
	}
	for _, n := range all {
		var pe store.PublishedEvent
		switch n.EventID {
		case f.e1.Event.ID:
			pe = f.e1
		case f.e2.Event.ID:
			pe = f.e2
		default:
			pe = f.e3
		}
		if n.TenantID != a || n.EventName != pe.Event.Name || string(n.Payload) != string(pe.Event.Payload) || !n.Created.Equal(pe.Event.Created) {
			t.Fatalf("search result %+v does not match its event %+v", n, pe.Event)
		}
		wantLog := 0
		if n.ID == f.n2 {
			wantLog = 1
		}
		if len(n.AttemptLog) != wantLog {
			t.Fatalf("notification %s has %d attempts, want %d", n.ID, len(n.AttemptLog), wantLog)
		}
	}

	cases := []struct {
		name string
		f    store.NotificationFilter
		want []string
	}{
		{"ids", store.NotificationFilter{NotificationIDs: []string{f.n3, f.n1a}}, []string{f.n3, f.n1a}},
		{"other tenant's id", store.NotificationFilter{NotificationIDs: []string{f.n4}}, nil},
		{"event", store.NotificationFilter{EventID: f.e1.Event.ID}, []string{f.n1a, f.n1b}},
		{"webhook", store.NotificationFilter{WebhookID: f.h2.ID}, []string{f.n1b}},
		{"event name", store.NotificationFilter{EventName: "TRANSACTION"}, []string{f.n2}},
		{"delivered", store.NotificationFilter{Status: store.StatusDelivered}, []string{f.n2}},
		{"pending", store.NotificationFilter{Status: store.StatusPending}, []string{f.n1a, f.n1b, f.n3}},
		{"expired", store.NotificationFilter{Status: store.StatusExpired}, nil},
		{"from", store.NotificationFilter{From: at(time.Minute)}, []string{f.n2, f.n3}},
		{"to", store.NotificationFilter{To: at(time.Minute)}, []string{f.n1a, f.n1b, f.n2}},
		{"from and to", store.NotificationFilter{From: at(time.Minute), To: at(time.Minute)}, []string{f.n2}},
		{"after everything", store.NotificationFilter{From: at(3 * time.Minute)}, nil},
		{"combined", store.NotificationFilter{WebhookID: f.h1.ID, Status: store.StatusPending, From: at(time.Second)}, []string{f.n3}},
		{"combined, no match", store.NotificationFilter{EventID: f.e1.Event.ID, EventName: "TRANSACTION"}, nil},
	}
	for _, c := range cases {
		c.f.TenantID = a
		if got := noteIDs(searchAll(t, s, c.f)); !sameSet(got, c.want) {
			t.Errorf("%s: found %v, want %v", c.name, got, c.want)
		}
	}

	// Tenant isolation.
	if got := noteIDs(searchAll(t, s, store.NotificationFilter{TenantID: f.b.ID})); !slices.Equal(got, []string{f.n4}) {
		t.Fatalf("tenant b finds %v, want only %s", got, f.n4)
	}
	for _, flt := range []store.NotificationFilter{
		{TenantID: f.b.ID, EventID: f.e1.Event.ID},
		{TenantID: f.b.ID, WebhookID: f.h1.ID},
		{TenantID: f.b.ID, NotificationIDs: []string{f.n1a, f.n2}},
		{TenantID: newID()},
	} {
		if got := searchAll(t, s, flt); len(got) != 0 {
			t.Fatalf("filter %+v finds another tenant's notifications %v", flt, noteIDs(got))
		}
	}
}

func testSearchPaging(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ten := MustTenant(t, s)
	w := MustWebhook(t, s, ten.ID, "*")
	ids := PublishTo(t, s, ten.ID, w.ID, 7, T0)
	slices.Reverse(ids) // newest first
	for _, size := range []int{1, 3, 7, 10} {
		var got []string
		p := store.Page{Limit: size}
		for page := 0; ; page++ {
			ns, paging, err := s.SearchNotifications(ctxOf(t), store.NotificationFilter{TenantID: ten.ID}, p)
			NoErr(t, err, "search page")
			if len(ns) > size {
				t.Fatalf("page of %d has %d notifications", size, len(ns))
			}
			got = append(got, noteIDs(ns)...)
			wantMore := len(got) < len(ids)
			if paging.HasMore != wantMore {
				t.Fatalf("size %d page %d: HasMore %v, want %v", size, page, paging.HasMore, wantMore)
			}
			if !paging.HasMore {
				break
			}
			if paging.After != ns[len(ns)-1].ID {
				t.Fatalf("size %d page %d: After %q, want the last id %q", size, page, paging.After, ns[len(ns)-1].ID)
			}
			p.After = paging.After
		}
		if !slices.Equal(got, ids) {
			t.Fatalf("pages of %d = %v, want %v", size, got, ids)
		}
	}
	// Paging combines with a filter.
	ns, paging, err := s.SearchNotifications(ctxOf(t), store.NotificationFilter{TenantID: ten.ID, NotificationIDs: ids[2:5]},
		store.Page{Limit: 2, After: ids[2]})
	NoErr(t, err, "filtered page")
	if !slices.Equal(noteIDs(ns), ids[3:5]) || paging.HasMore {
		t.Fatalf("filtered page after %s = %v (HasMore %v), want %v", ids[2], noteIDs(ns), paging.HasMore, ids[3:5])
	}
}

// requeueFixture: tenant a's webhook hA has n1 (T0, expired after 2
// attempts), n2 (T0+1h, expired after 1), n3 (T0+2h, delivered), n4 (T0+3h,
// pending, never tried); hB has n5 (T0+10m, expired after 2); hC has n6
// (T0+20m, expired) and is deleted. Tenant b's hX has n7 (T0, expired).
func testRequeueExpired(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := ctxOf(t)
	a, b := MustTenant(t, s), MustTenant(t, s)
	hA := MustWebhook(t, s, a.ID, "TRANSACTION")
	hB := MustWebhook(t, s, a.ID, "KYC_RESULT")
	hC := MustWebhook(t, s, a.ID, "USER_CREATED")
	hX := MustWebhook(t, s, b.ID, "TRANSACTION")
	n1 := publish(t, s, a.ID, "TRANSACTION", T0).Notifications[0].ID
	n2 := publish(t, s, a.ID, "TRANSACTION", T0.Add(time.Hour)).Notifications[0].ID
	n3 := publish(t, s, a.ID, "TRANSACTION", T0.Add(2*time.Hour)).Notifications[0].ID
	n4 := publish(t, s, a.ID, "TRANSACTION", T0.Add(3*time.Hour)).Notifications[0].ID
	n5 := publish(t, s, a.ID, "KYC_RESULT", T0.Add(10*time.Minute)).Notifications[0].ID
	n6 := publish(t, s, a.ID, "USER_CREATED", T0.Add(20*time.Minute)).Notifications[0].ID
	n7 := publish(t, s, b.ID, "TRANSACTION", T0).Notifications[0].ID

	now := T0.Add(4 * time.Hour)
	c := Claim(t, s, "d", now, 3, hA.ID) // n1, n2, n3
	if !slices.Equal(claimedIDs(c), []string{n1, n2, n3}) {
		t.Fatalf("claimed %v, want n1 n2 n3", claimedIDs(c))
	}
	complete(t, s, now, result(c[0], store.StatusPending, now, T0.Add(time.Minute)),
		result(c[1], store.StatusExpired, now, time.Time{}), result(c[2], store.StatusDelivered, now, time.Time{}))
	c = Claim(t, s, "d", now, 1, hA.ID, hB.ID, hC.ID, hX.ID) // n1 again, n5, n6, n7
	if !sameSet(claimedIDs(c), []string{n1, n5, n6, n7}) {
		t.Fatalf("claimed %v, want n1 n5 n6 n7", claimedIDs(c))
	}
	for _, x := range c {
		if x.ID == n5 {
			complete(t, s, now, result(x, store.StatusPending, now, now))
		} else {
			complete(t, s, now, result(x, store.StatusExpired, now, time.Time{}))
		}
	}
	c = Claim(t, s, "d", now, 1, hB.ID)
	if !slices.Equal(claimedIDs(c), []string{n5}) || c[0].Attempt != 2 {
		t.Fatalf("claimed %+v, want n5's second attempt", c)
	}
	complete(t, s, now, result(c[0], store.StatusExpired, now, time.Time{}))
	_, err := s.DeleteWebhook(ctx, a.ID, hC.ID, now)
	NoErr(t, err, "delete hC")

	requeue := func(f store.NotificationFilter, want int) time.Time {
		t.Helper()
		now = now.Add(time.Minute)
		n, err := s.RequeueExpired(ctx, f, now)
		NoErr(t, err, "requeue")
		if n != want {
			t.Fatalf("RequeueExpired(%+v) = %d, want %d", f, n, want)
		}
		return now
	}
	status := func(tenantID, id string) store.Notification { return note(t, s, tenantID, id) }

	// Only EXPIRED notifications move, whatever status the filter names.
	requeue(store.NotificationFilter{TenantID: a.ID, NotificationIDs: []string{n3, n4}}, 0)
	requeue(store.NotificationFilter{TenantID: a.ID, NotificationIDs: []string{n3}, Status: store.StatusDelivered}, 0)
	// By id, within the tenant.
	at := requeue(store.NotificationFilter{TenantID: a.ID, NotificationIDs: []string{n3, n5, n7}}, 1)
	if n := status(a.ID, n5); n.Status != store.StatusPending || n.Attempts != 2 || n.RetryBase != 2 ||
		!n.NextAttemptAt.Equal(at) || !n.Modified.Equal(at) {
		t.Fatalf("requeued n5 = %+v, want PENDING with RetryBase = Attempts = 2, due at %v", n, at)
	}
	if n := status(b.ID, n7); n.Status != store.StatusExpired {
		t.Fatalf("another tenant's notification requeued: %s", n.Status)
	}
	// By webhook and time.
	requeue(store.NotificationFilter{TenantID: a.ID, WebhookID: hA.ID, From: T0.Add(30 * time.Minute)}, 1) // n2
	requeue(store.NotificationFilter{TenantID: a.ID, To: T0.Add(30 * time.Minute)}, 1)                     // n1, not n6
	requeue(store.NotificationFilter{TenantID: a.ID}, 0)

	want := map[string]struct {
		status              string
		attempts, retryBase int
	}{
		n1: {store.StatusPending, 2, 2}, n2: {store.StatusPending, 1, 1}, n3: {store.StatusDelivered, 1, 0},
		n4: {store.StatusPending, 0, 0}, n5: {store.StatusPending, 2, 2}, n6: {store.StatusExpired, 1, 0},
	}
	for id, w := range want {
		n := status(a.ID, id)
		if n.Status != w.status || n.Attempts != w.attempts || n.RetryBase != w.retryBase {
			t.Errorf("notification %s: %s attempts %d retry base %d; want %s %d %d", id, n.Status, n.Attempts, n.RetryBase,
				w.status, w.attempts, w.retryBase)
		}
	}

	// The requeued notifications are claimed with their next attempt number
	// and the new retry base.
	got := Claim(t, s, "d", now, 10, hA.ID, hB.ID)
	wantClaim := map[string][2]int{n1: {3, 2}, n2: {2, 1}, n4: {1, 0}, n5: {3, 2}}
	if len(got) != len(wantClaim) {
		t.Fatalf("claimed %v, want n1 n2 n4 n5", claimedIDs(got))
	}
	for _, x := range got {
		if w, ok := wantClaim[x.ID]; !ok || x.Attempt != w[0] || x.RetryBase != w[1] {
			t.Fatalf("claimed %s as attempt %d retry base %d, want %v", x.ID, x.Attempt, x.RetryBase, w)
		}
	}

	requeue(store.NotificationFilter{TenantID: b.ID, WebhookID: hX.ID}, 1)
}
