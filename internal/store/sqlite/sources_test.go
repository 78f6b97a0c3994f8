package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/secrets"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlite"
	"github.com/heraldhq/herald/internal/storetest"
)

// TestSourceURLSealed: a source's URL, which holds the broker's
// credentials, is encrypted in the database file; ResealSources rewrites it
// under the newest key, after which that key alone opens it.
func TestSourceURLSealed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	oldKey, _ := secrets.NewKey()
	newKey, _ := secrets.NewKey()
	open := func(spec string) *sqlite.Store { return openSealed(t, path, spec) }
	s := open(oldKey)
	ten := storetest.MustTenant(t, s)
	src := store.Source{ID: "0190b8a0-0000-7000-8000-000000000001", TenantID: ten.ID, Type: store.SourceRabbitMQ,
		URL: "amqp://herald:pa55word-in-url@broker:5672/", Queue: "events", Status: store.SourceActive, Created: storetest.T0, Modified: storetest.T0}
	storetest.NoErr(t, s.CreateSource(t.Context(), src), "create source")
	storetest.NoErr(t, s.Close(), "close")

	raw, err := sql.Open("sqlite", path)
	storetest.NoErr(t, err, "open the file")
	var stored string
	storetest.NoErr(t, raw.QueryRowContext(t.Context(), `SELECT url FROM sources`).Scan(&stored), "read url")
	raw.Close()
	if strings.Contains(stored, "pa55word") || strings.Contains(stored, "broker") || !strings.HasPrefix(stored, "enc1:") {
		t.Fatalf("the url is stored as %q, want it sealed", stored)
	}

	s = open(newKey + "," + oldKey)
	n, err := s.ResealSources(t.Context())
	storetest.NoErr(t, err, "reseal")
	if n != 1 {
		t.Fatalf("resealed %d sources, want 1", n)
	}
	storetest.NoErr(t, s.Close(), "close")
	s = open(newKey)
	defer s.Close()
	got, err := s.Source(t.Context(), src.ID)
	storetest.NoErr(t, err, "read with the new key alone")
	if got.URL != src.URL {
		t.Fatalf("url after reseal = %q", got.URL)
	}
}
