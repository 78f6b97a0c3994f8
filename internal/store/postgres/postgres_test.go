package postgres_test

import (
	"context"
	"testing"

	"github.com/heraldhq/herald/internal/store/postgres"
	"github.com/heraldhq/herald/internal/store/postgres/pgtest"
	"github.com/heraldhq/herald/internal/storetest"
)

// newPostgresStore opens a store on a fresh database of its own.
func newPostgresStore(tb testing.TB) (storetest.Store, func() storetest.Store) {
	tb.Helper()
	url := pgtest.Database(tb)
	open := func() storetest.Store {
		tb.Helper()
		s, err := postgres.Open(context.Background(), url)
		if err != nil {
			tb.Fatalf("open postgres: %v", err)
		}
		tb.Cleanup(func() { _ = s.Close() })
		return s
	}
	return open(), open
}

func TestContract(t *testing.T)            { storetest.Run(t, newPostgresStore) }
func BenchmarkPublish(b *testing.B)        { storetest.BenchPublish(b, newPostgresStore) }
func BenchmarkClaimComplete(b *testing.B)  { storetest.BenchClaimComplete(b, newPostgresStore) }
func BenchmarkPublishFilters(b *testing.B) { storetest.BenchPublishFilters(b, newPostgresStore) }
func BenchmarkSearchByCard(b *testing.B)   { storetest.BenchSearchByCard(b, newPostgresStore) }

// TestReplayPlan: without statistics (autovacuum off, no ANALYZE), a
// replay still walks the tenant's events in events_tenant_created and looks
// up each one's notifications in notifications_event: no sequential scan,
// bitmap, hash or sort of either table.
func TestReplayPlan(t *testing.T) {
	storetest.CheckReplayPlan(t, newPostgresStore,
		[]string{"events_tenant_created", "notifications_event", "Nested Loop Anti Join"},
		[]string{"Seq Scan", "Bitmap", "Hash", "Sort", "Merge"})
}
