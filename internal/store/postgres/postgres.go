// Package postgres is Herald's store on PostgreSQL, for running several
// replicas against one database. Replicas divide the queue with
// FOR UPDATE SKIP LOCKED claims and leases, and wake each other with
// LISTEN/NOTIFY when work is published.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/heraldhq/herald/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// channel is the LISTEN/NOTIFY channel that announces due work.
const channel = "herald_work"

var dialect = &sqlstore.Dialect{
	Numbered:    true,
	IsUnique:    isUnique,
	IsDataError: isDataError,
	ForUpdate:   " FOR UPDATE",
	SkipLocked:  " FOR UPDATE SKIP LOCKED",
	Notify:      "SELECT pg_notify('" + channel + "', '')",
	Arrays:      true,
	LeaseRows:   true,
	// Claims and completions walk a webhook's queue in index order from
	// its start and stop after a few rows. Without statistics (a new
	// database, autovacuum off or behind) the planner takes that queue for
	// a handful of rows and reads all of it through a bitmap and a sort
	// instead: tens of thousands of rows per statement in a backlog. Their
	// transactions turn those plans off; every query in them has an index
	// that gives its order. A plan that must still sort (a few lease rows,
	// locked in order) then costs more than jit_above_cost, and compiling
	// it took 300 ms: JIT is off in them too.
	QueueTx: "SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off; SET LOCAL jit = off",
	ClaimTx: "SET LOCAL synchronous_commit = off",
	// A replay walks one tenant's events of a window in the order of
	// events_tenant_created and looks up each one's notifications of the
	// webhook in notifications_event. Without statistics the planner may
	// read either table whole instead (a sequential scan, a hash or merge
	// join, a bitmap and a sort): those plans are off in its transactions.
	ScanTx: "SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off; " +
		"SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off; SET LOCAL jit = off",
	Explain: "EXPLAIN ",
}

// Store is the PostgreSQL store: the shared SQL store plus the wake-ups
// only PostgreSQL can send between processes.
type Store struct {
	*sqlstore.Store
	pool *pgxpool.Pool
}

// Open connects to the database at url (a postgres:// URL or DSN), applies
// pending migrations (one replica at a time, under a session lock) and
// returns the store.
func Open(ctx context.Context, url string, opts ...sqlstore.Option) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if cfg.MaxConns < 8 {
		cfg.MaxConns = 8
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	if err := migrate(ctx, db); err != nil {
		db.Close()
		pool.Close()
		return nil, err
	}
	if err := forgetEndedLeases(ctx, db, time.Now()); err != nil {
		db.Close()
		pool.Close()
		return nil, err
	}
	return &Store{Store: sqlstore.New(db, db, dialect, opts...), pool: pool}, nil
}

// migrate applies pending migrations; a PostgreSQL session lock makes
// replicas that start together take turns.
func migrate(ctx context.Context, db *sql.DB) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub, goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("prepare migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate postgres: %w", err)
	}
	return nil
}

// forgetEndedLeases deletes the lease rows (sqlstore's leaserows.go) whose
// last lease ended before now, with their counts of results: they count
// nothing, and a dispatcher that stopped without releasing its leases (a
// crash) leaves them behind for every webhook it leased. A store opening is
// when a replica has just (re)started.
func forgetEndedLeases(ctx context.Context, db *sql.DB, now time.Time) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("forget ended leases: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_lease_ends e WHERE NOT EXISTS (SELECT 1 FROM webhook_leases l
		WHERE l.webhook_id = e.webhook_id AND l.owner = e.owner AND l.until_at >= $1)`, now.UnixMilli()); err != nil {
		return fmt.Errorf("forget ended leases: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_leases WHERE until_at < $1`, now.UnixMilli()); err != nil {
		return fmt.Errorf("forget ended leases: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("forget ended leases: %w", err)
	}
	return nil
}

// Close closes the store and its pool.
func (s *Store) Close() error {
	err := s.Store.Close()
	s.pool.Close()
	return err
}

// Listen calls wake whenever another process (or this one) announces due
// work, until ctx ends. It holds one connection of its own and reconnects
// after failures, waking once after each reconnect in case it missed a
// notification meanwhile.
func (s *Store) Listen(ctx context.Context, wake func(), log *slog.Logger) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := s.listen(ctx, wake, func() { backoff = 100 * time.Millisecond })
		if ctx.Err() != nil {
			return
		}
		log.Warn("listen for work lost its connection; reconnecting", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (s *Store) listen(ctx context.Context, wake, connected func()) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	connected()
	wake()
	for {
		if _, err := conn.Conn().WaitForNotification(ctx); err != nil {
			// The connection may be mid-wait: never return it to the pool.
			_ = conn.Conn().Close(context.WithoutCancel(ctx))
			return fmt.Errorf("wait for notification: %w", err)
		}
		wake()
	}
}

// isDataError reports errors of the data written: SQLSTATE classes 22
// (data exception, such as invalid UTF-8 or NUL in text) and 23 (integrity
// constraint violation).
func isDataError(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (strings.HasPrefix(pgErr.Code, "22") || strings.HasPrefix(pgErr.Code, "23"))
}

// isUnique reports whether err is a unique or primary key violation.
func isUnique(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// Lock takes a cluster-wide advisory lock called name, so that replicas
// starting together do one-time work (the first-start bootstrap) one at a
// time. The returned function releases it.
func (s *Store) Lock(ctx context.Context, name string) (func(), error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(hashtext($1))", name); err != nil {
		conn.Release()
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	return func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(hashtext($1))", name)
		conn.Release()
	}, nil
}
