// Package sqlite is Herald's embedded store: one SQLite database file in WAL
// mode, written through a single connection (SQLite has one writer anyway;
// queuing in Go is cheaper than busy retries) and read through a small pool.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"

	"github.com/heraldhq/herald/internal/store/sqlstore"
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrations embed.FS

// dialect: one writer connection serializes writes, so no row locks.
var dialect = &sqlstore.Dialect{IsUnique: isUnique, IsDataError: isDataError, OneProcess: true, PrepareAll: true, SubjectLog: true,
	OrRollback: " OR ROLLBACK", Explain: "EXPLAIN QUERY PLAN "}

// Store is the SQLite store: the shared SQL store plus a connection of its
// own for checkpoints (checkpoint.go).
type Store struct {
	*sqlstore.Store
	ckpt *sql.DB
}

// Open opens (creating if needed, mode 0600) the database file at path and
// brings its schema up to date.
func Open(ctx context.Context, path string, opts ...sqlstore.Option) (*Store, error) {
	if err := restrictFiles(path); err != nil {
		return nil, err
	}
	// The writer's page cache holds the queue's hot index pages: 8 MiB
	// rather than SQLite's default 2 MiB. With pageSize pages, 16 MiB took
	// the peak RSS of 1,000,000 pending notifications from 104 to 128 MB,
	// for no throughput, publish, ingest or drain difference measured.
	w, err := sql.Open("sqlite", dsn(path, "immediate", "cache_size(-8192)"))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	if err := setJournal(ctx, w); err != nil {
		w.Close()
		return nil, err
	}
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", dsn(path, "deferred", "query_only(1)"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite readers %s: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	// synchronous(NORMAL), in every dsn, is what makes a pass fsync the
	// WAL before it copies and the database file after.
	c, err := sql.Open("sqlite", dsn(path, "deferred"))
	if err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("open sqlite checkpointer %s: %w", path, err)
	}
	c.SetMaxOpenConns(1)
	c.SetMaxIdleConns(1)
	return &Store{Store: sqlstore.New(w, r, dialect, opts...), ckpt: c}, nil
}

// Close closes the store and the checkpointer's connection.
func (s *Store) Close() error {
	var errs []error
	if err := s.ckpt.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close sqlite checkpointer: %w", err))
	}
	if err := s.Store.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close sqlite: %w", err))
	}
	return errors.Join(errs...)
}

// pageSize is the page size of a database Open creates: 8 KiB, not
// SQLite's 4 KiB. A commit writes every page it changed to the WAL, two
// write(2) calls a page, and a checkpoint copies each one back with another:
// a batch of 1,000 events of ~2 KiB wrote some 600 pages, and those calls
// were a quarter of ingest's CPU. With 8 KiB pages `/events:batch` ingests
// 25 to 70% more events a second (the more, the more the database already
// holds), throughput is 4% faster and publish unchanged; 16 KiB ingests 5%
// faster still but makes single-event publishes 5 to 8% slower, each small
// commit writing bigger pages
// (docs/performance.md, "Bigger pages"). A database created before keeps
// its page size: in WAL mode SQLite cannot change it.
const pageSize = 8192

// setJournal gives a new database its page size and puts the database in
// WAL mode, on the writer's connection before anything is written (SQLite
// fixes a database's page size at its first write). Both are statements
// rather than pragmas of the connection string: the driver runs those in
// alphabetical order, so journal_mode(WAL) would write the new file, with
// 4 KiB pages, before page_size ran. On an existing database the first is
// a no-op and the second confirms what the file already records.
func setJournal(ctx context.Context, w *sql.DB) error {
	// One connection for both: a page size set on a connection the pool
	// then dropped would not reach the file.
	c, err := w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("open sqlite writer: %w", err)
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, fmt.Sprintf("PRAGMA page_size = %d", pageSize)); err != nil {
		return fmt.Errorf("set sqlite page size: %w", err)
	}
	var mode string
	if err := c.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		return fmt.Errorf("set sqlite WAL mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("set sqlite WAL mode: the database stays in %s mode", mode)
	}
	return nil
}

// dsn builds a connection string with Herald's pragmas: WAL with
// synchronous=NORMAL survives a process crash (kill -9) without an fsync per
// commit; busy_timeout covers other processes such as "herald tenants".
func dsn(path, txlock string, extra ...string) string {
	q := url.Values{}
	for _, p := range append([]string{"synchronous(NORMAL)", "busy_timeout(10000)", "foreign_keys(1)",
		fmt.Sprintf("wal_autocheckpoint(%d)", walBackstop)}, extra...) {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", txlock)
	// SQLite reads the path as a URI: '?' and '#' would end it and '%'
	// would start an escape, putting the database somewhere else.
	path = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + path + "?" + q.Encode()
}

// migrate applies every pending schema migration.
func migrate(ctx context.Context, db *sql.DB) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sub)
	if err != nil {
		return fmt.Errorf("prepare migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate sqlite: %w", err)
	}
	return nil
}

// isDataError reports errors of the data written (a constraint, a value
// too big or of the wrong type), not of the database.
func isDataError(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_CONSTRAINT, sqlite3.SQLITE_MISMATCH, sqlite3.SQLITE_TOOBIG, sqlite3.SQLITE_RANGE:
		return true
	}
	return false
}

// isUnique reports whether err is a unique or primary key violation.
func isUnique(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}
