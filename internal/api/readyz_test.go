package api_test

import (
	"context"
	"database/sql"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/store/postgres/pgtest"
)

// TestReadyzWhileWritesFail: /readyz is 503 with the reason while the
// database answers reads but refuses writes (publishes get 503 then), and
// ready again once writes work.
func TestReadyzWhileWritesFail(t *testing.T) {
	t.Parallel()
	t.Run("sqlite, the write lock held elsewhere", func(t *testing.T) {
		t.Parallel()
		in := newStart(t)
		db, err := sql.Open("sqlite", "file:"+filepath.Join(in.DataDir, "herald.db")+"?_pragma=busy_timeout(100)")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		conn, err := db.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		// A publish would wait out the busy timeouts before its 503: not
		// checked here, but on PostgreSQL.
		checkReadyz(t, in, false, func() {
			if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
				t.Fatalf("take the write lock: %v", err)
			}
		}, func() {
			if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
				t.Fatalf("release the write lock: %v", err)
			}
		})
		if n := countRows(t, in, `SELECT count(*) FROM idempotency_keys`); n != 0 {
			t.Errorf("write probes left %d rows behind", n)
		}
	})
	t.Run("postgres, the database read-only", func(t *testing.T) {
		t.Parallel()
		dbURL := pgtest.Database(t)
		in := heraldtest.Start(t, heraldtest.Options{DatabaseURL: dbURL})
		admin := func(setting string) { pgtest.AlterDatabase(t, dbURL, setting) }
		checkReadyz(t, in, true, func() { admin("SET default_transaction_read_only = on") },
			func() { admin("RESET default_transaction_read_only") })
	})
}

// checkReadyz breaks writes, waits for /readyz to say so (and, when
// publishFails, for a publish to fail meanwhile), mends them and waits for
// ready again.
func checkReadyz(t *testing.T, in *heraldtest.Instance, publishFails bool, breakWrites, mend func()) {
	t.Helper()
	wantStatus(t, in.Do(t, "", "GET", "/readyz", nil), http.StatusOK)
	breakWrites()
	var r heraldtest.Response
	heraldtest.Eventually(t, 15*time.Second, "readyz to report refused writes", func() bool {
		r = in.Do(t, "", "GET", "/readyz", nil)
		return r.Status == http.StatusServiceUnavailable && strings.Contains(string(r.Body), "refuses writes")
	})
	wantError(t, r, http.StatusServiceUnavailable, "unavailable", "")
	if publishFails {
		wantError(t, in.Admin(t, "POST", "/events", cardEvent), http.StatusServiceUnavailable, "unavailable", "")
	}
	mend()
	heraldtest.Eventually(t, 15*time.Second, "readyz to be ready again", func() bool {
		return in.Do(t, "", "GET", "/readyz", nil).Status == http.StatusOK
	})
	wantStatus(t, in.Admin(t, "POST", "/events", cardEvent), http.StatusAccepted)
}
