package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/heraldhq/herald/internal/store/sqlite"
)

// TestPageSize: Open creates a database with 8 KiB pages in WAL mode, and
// opens one created before with 4 KiB pages (in either journal mode) as it
// is, its schema brought up to date.
func TestPageSize(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before []string // statements run on the file before Open; none: a new file
		want   int
	}{
		{name: "new database", want: 8192},
		{name: "4 KiB, rollback journal", before: []string{"PRAGMA page_size = 4096", "CREATE TABLE older (a)"}, want: 4096},
		{name: "4 KiB, WAL", before: []string{"PRAGMA page_size = 4096", "PRAGMA journal_mode = WAL", "CREATE TABLE older (a)"}, want: 4096},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			path := filepath.Join(t.TempDir(), "herald.db")
			if len(tc.before) > 0 {
				db := openRaw(t, path)
				for _, q := range tc.before {
					if _, err := db.ExecContext(ctx, q); err != nil {
						t.Fatalf("%s: %v", q, err)
					}
				}
				db.Close()
			}
			s, err := sqlite.Open(ctx, path)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			defer s.Close()
			db := openRaw(t, path)
			defer db.Close()
			var size, events int
			var mode string
			if err := db.QueryRowContext(ctx, "PRAGMA page_size").Scan(&size); err != nil {
				t.Fatal(err)
			}
			if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
				t.Fatal(err)
			}
			if err := db.QueryRowContext(ctx, "SELECT count(*) FROM events").Scan(&events); err != nil {
				t.Fatalf("schema not migrated: %v", err)
			}
			if size != tc.want || mode != "wal" {
				t.Errorf("page size %d in %s mode, want %d in wal mode", size, mode, tc.want)
			}
		})
	}
}

// openRaw opens the file through the driver alone, one connection.
func openRaw(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	return db
}
