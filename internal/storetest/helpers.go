// Package storetest is the contract every Herald store backend must meet:
// one suite of tests, run by each backend's own tests with a constructor of
// fresh stores (SQLite always; PostgreSQL when a server is configured).
package storetest

// The tests of this package are written against Store, the store methods
// Herald uses, and take a constructor of fresh stores, so that another
// backend (PostgreSQL) can run the same bodies with its own constructor:
//
//	func TestPostgresTenants(t *testing.T) { testTenants(t, newPostgresStore) }

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/api"
	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/metrics"
	"github.com/heraldhq/herald/internal/policy"
	"github.com/heraldhq/herald/internal/source"
	"github.com/heraldhq/herald/internal/store"
)

// Store is every store method the contract covers: what the API and the
// dispatcher consume, each declared once where it is consumed.
type Store interface {
	api.Store
	delivery.Queue
	source.Store
	metrics.Source
	Close() error
}

// NewStoreFunc returns a fresh, empty store (closed when the test ends) and
// a function that opens another handle on the same database, as a restarted
// process would; call it only after closing the first handle.
type NewStoreFunc func(tb testing.TB) (Store, func() Store)

// T0 is the tests' clock origin, on a millisecond so that stored times
// compare equal.
// T0 is the fixed "now" of the contract tests.
var T0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func newID() string { return uuid.Must(uuid.NewV7()).String() }

func ctxOf(tb testing.TB) context.Context { return tb.Context() }

// MustTenant creates a tenant with a fresh name.
func MustTenant(tb testing.TB, s Store) store.Tenant {
	tb.Helper()
	id := newID()
	t := store.Tenant{ID: id, Name: "tenant-" + id, Created: T0}
	if err := s.CreateTenant(ctxOf(tb), t); err != nil {
		tb.Fatalf("create tenant: %v", err)
	}
	return t
}

func newKey(tenantID string, role store.Role) store.APIKey {
	id := newID()
	sum := sha256.Sum256([]byte("key-" + id))
	return store.APIKey{ID: id, TenantID: tenantID, Role: role, Hash: hex.EncodeToString(sum[:]), Prefix: "hk_" + id[:6], Created: T0}
}

func newWebhook(tenantID string, events ...string) store.Webhook {
	id := newID()
	return store.Webhook{
		ID: id, TenantID: tenantID, Endpoint: "https://client.example/hooks/" + id, Events: events,
		Status: store.WebhookActive,
		Config: store.WebhookConfig{Format: store.FormatNCore, TimeoutSeconds: 10, MaxInFlight: 16},
		Secret: "whsec_" + id, Created: T0, Modified: T0,
	}
}

// MustWebhook creates an active webhook of tenantID subscribed to events.
func MustWebhook(tb testing.TB, s Store, tenantID string, events ...string) store.Webhook {
	tb.Helper()
	w := newWebhook(tenantID, events...)
	if err := s.CreateWebhook(ctxOf(tb), w, 0); err != nil {
		tb.Fatalf("create webhook: %v", err)
	}
	return w
}

func newEvent(name string, at time.Time) store.Event {
	id := newID()
	return store.Event{ID: id, Name: name, Created: at,
		Payload: json.RawMessage(fmt.Sprintf(`{"event":%q,"id":%q}`, name, id))}
}

// publish stores one event without an idempotency key.
func publish(tb testing.TB, s Store, tenantID, name string, at time.Time) store.PublishedEvent {
	tb.Helper()
	res, err := s.Publish(ctxOf(tb), store.PublishRequest{TenantID: tenantID, Events: []store.Event{newEvent(name, at)}, Now: at})
	if err != nil {
		tb.Fatalf("publish %s: %v", name, err)
	}
	if len(res.Events) != 1 {
		tb.Fatalf("publish %s: %d events in result, want 1", name, len(res.Events))
	}
	return res.Events[0]
}

// Claim claims up to limit notifications of each webhook at now, leased for
// 30 seconds.
func Claim(tb testing.TB, s Store, owner string, now time.Time, limit int, hookIDs ...string) []store.Claimed {
	tb.Helper()
	c := store.Claim{Owner: owner, Now: now, LeaseUntil: now.Add(30 * time.Second)}
	for _, id := range hookIDs {
		c.Requests = append(c.Requests, store.ClaimRequest{WebhookID: id, Limit: limit})
	}
	got, err := s.Claim(ctxOf(tb), c)
	if err != nil {
		tb.Fatalf("claim: %v", err)
	}
	return got
}

// result builds the outcome of the attempt a claim is for.
func result(c store.Claimed, status string, started, next time.Time) store.AttemptResult {
	a := store.Attempt{NotificationID: c.ID, Number: c.Attempt, Started: started, Duration: 1500 * time.Microsecond}
	if status == store.StatusDelivered {
		a.StatusCode, a.ResponseBody = 200, "ok"
	} else {
		a.StatusCode, a.ResponseBody, a.ErrorKind, a.Error = 500, "boom", "http_status", "HTTP 500"
	}
	return store.AttemptResult{LeaseToken: c.LeaseToken, WebhookID: c.WebhookID, Attempt: a, Status: status, NextAttemptAt: next}
}

func complete(tb testing.TB, s Store, now time.Time, results ...store.AttemptResult) {
	tb.Helper()
	if _, err := s.Complete(ctxOf(tb), store.Completion{Results: results, Now: now, Health: policy.Policy{}}); err != nil {
		tb.Fatalf("complete: %v", err)
	}
}

// searchAll follows every page of a search, pageSize at a time.
func searchAll(tb testing.TB, s Store, f store.NotificationFilter) []store.Notification {
	tb.Helper()
	var out []store.Notification
	p := store.Page{Limit: 100, Payloads: true}
	for range 10000 {
		page, paging, err := s.SearchNotifications(ctxOf(tb), f, p)
		if err != nil {
			tb.Fatalf("search %+v: %v", f, err)
		}
		out = append(out, page...)
		if !paging.HasMore {
			return out
		}
		p.After = paging.After
	}
	tb.Fatal("search did not end")
	return nil
}

// note returns one notification by id through search.
func note(tb testing.TB, s Store, tenantID, id string) store.Notification {
	tb.Helper()
	got := searchAll(tb, s, store.NotificationFilter{TenantID: tenantID, NotificationIDs: []string{id}})
	if len(got) != 1 {
		tb.Fatalf("notification %s: found %d, want 1", id, len(got))
	}
	return got[0]
}

func noteIDs(ns []store.Notification) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.ID
	}
	return out
}

func claimedIDs(cs []store.Claimed) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

func hookIDs(ws []store.Webhook) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.ID
	}
	return out
}

func versionIDs(vs []store.WebhookVersion) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.ID
	}
	return out
}

func refIDs(pe store.PublishedEvent) []string {
	out := make([]string, len(pe.Notifications))
	for i, r := range pe.Notifications {
		out[i] = r.ID
	}
	return out
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func wantErr(tb testing.TB, err, target error, what string) {
	tb.Helper()
	if !errors.Is(err, target) {
		tb.Fatalf("%s: err = %v, want %v", what, err, target)
	}
}

// NoErr fails the test when err is not nil.
func NoErr(tb testing.TB, err error, what string) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("%s: %v", what, err)
	}
}

// jsonOf renders v for whole-value comparisons (times in UTC).
func jsonOf(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatalf("marshal: %v", err)
	}
	return string(b)
}

func utcWebhook(w store.Webhook) store.Webhook {
	w.Created, w.Modified, w.PreviousSecretUntil = w.Created.UTC(), w.Modified.UTC(), w.PreviousSecretUntil.UTC()
	return w
}

func sameWebhook(tb testing.TB, got, want store.Webhook, what string) {
	tb.Helper()
	if g, w := jsonOf(tb, utcWebhook(got)), jsonOf(tb, utcWebhook(want)); g != w {
		tb.Fatalf("%s:\n got %s\nwant %s", what, g, w)
	}
}
