package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"sync/atomic"
)

// maxCachedStmts and maxCachedBytes bound the statements kept prepared per
// pool: queries built with a varying number of placeholders (multi-row
// inserts, IN lists) would otherwise grow the cache without end; past
// either bound, new texts are prepared per use. The byte bound is on the
// query text, which a prepared statement's program grows with, on every
// connection of the pool: without it, SQLite's peak RSS with 1,000,000
// notifications pending was 41 MB higher. Concurrent first uses may pass
// the byte bound by a few texts.
const (
	maxCachedStmts = 1024
	maxCachedBytes = 256 << 10
)

// stmtCache holds statements prepared once on a pool: database/sql prepares
// each on a connection the first time that connection runs it and reuses it
// afterwards, inside transactions too (Tx.StmtContext).
type stmtCache struct {
	pool *sql.DB
	m    sync.Map // rebound query -> *sql.Stmt
	n    atomic.Int32
	size atomic.Int64 // bytes of query text cached
}

// full reports whether caching q would pass a bound.
func (c *stmtCache) full(q string) bool {
	return c.n.Load() >= maxCachedStmts || c.size.Load()+int64(len(q)) > maxCachedBytes
}

// added counts q as cached.
func (c *stmtCache) added(q string) {
	c.n.Add(1)
	c.size.Add(int64(len(q)))
}

func (c *stmtCache) load(q string) (*sql.Stmt, bool) {
	st, ok := c.m.Load(q)
	if !ok {
		return nil, false
	}
	return st.(*sql.Stmt), true
}

// prepare returns the pool's statement for q, preparing it once; nil once
// the cache is full and q is not in it.
func (c *stmtCache) prepare(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := c.load(q); ok {
		return st, nil
	}
	if c.full(q) {
		return nil, nil
	}
	st, err := c.pool.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if prev, loaded := c.m.LoadOrStore(q, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	c.added(q)
	return st, nil
}

// adopt caches the statements a transaction used for the first time. It
// runs once the transaction has ended, because a pool may have a single
// connection that the transaction held.
func (c *stmtCache) adopt(ctx context.Context, queries []string) {
	for _, q := range queries {
		if _, ok := c.load(q); ok || c.full(q) {
			continue
		}
		st, err := c.pool.PrepareContext(ctx, q)
		if err != nil {
			continue // prepared per transaction until it works
		}
		if _, loaded := c.m.LoadOrStore(q, st); loaded {
			st.Close()
			continue
		}
		c.added(q)
	}
}

func (c *stmtCache) close() {
	c.m.Range(func(_, st any) bool {
		st.(*sql.Stmt).Close()
		return true
	})
}

// cacheable reports whether q is one statement: a prepared statement runs
// only the first of several.
func cacheable(q string) bool {
	return !strings.Contains(strings.TrimRight(q, "; \t\n"), ";")
}

// db and tx rebind the ? placeholders of every query for the dialect and,
// where the dialect asks for it (PrepareAll), run each through a statement
// prepared once.
type db struct {
	*sql.DB
	d     *Dialect
	stmts *stmtCache
}

func newDB(pool *sql.DB, d *Dialect) *db {
	return &db{DB: pool, d: d, stmts: &stmtCache{pool: pool}}
}

// tx starts the wrapper of a transaction begun on c's pool.
func (c *db) tx(t *sql.Tx) *tx { return &tx{Tx: t, d: c.d, stmts: c.stmts} }

// stmt returns the cached statement for q, or nil where q runs as text.
func (c *db) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if !c.d.PrepareAll || !cacheable(q) {
		return nil, nil
	}
	return c.stmts.prepare(ctx, q)
}

func (c *db) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	q = c.d.rebind(q)
	st, err := c.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return c.DB.ExecContext(ctx, q, args...)
	}
	return st.ExecContext(ctx, args...)
}

func (c *db) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	q = c.d.rebind(q)
	st, err := c.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return c.DB.QueryContext(ctx, q, args...)
	}
	return st.QueryContext(ctx, args...)
}

func (c *db) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	q = c.d.rebind(q)
	st, err := c.stmt(ctx, q)
	if err != nil || st == nil {
		return c.DB.QueryRowContext(ctx, q, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

type tx struct {
	*sql.Tx
	d        *Dialect
	stmts    *stmtCache
	uncached []string // statements this transaction prepared for itself
	// detached: statements run without the cancellation of the contexts
	// they are given (see Store.writeAs).
	detached bool
}

// context is ctx, without its cancellation where t is detached (once: a
// context already without one is returned as it is).
func (t *tx) context(ctx context.Context) context.Context {
	if t.detached && ctx.Done() != nil {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

// txStmt is a statement prepared within a transaction, run with the
// transaction's contexts.
type txStmt struct {
	*sql.Stmt
	t *tx
}

func (s txStmt) ExecContext(ctx context.Context, args ...any) (sql.Result, error) {
	return s.Stmt.ExecContext(s.t.context(ctx), args...)
}

func (s txStmt) QueryContext(ctx context.Context, args ...any) (*sql.Rows, error) {
	return s.Stmt.QueryContext(s.t.context(ctx), args...)
}

// prepare returns the statement for query within t: the pool's if it has
// one, else prepared within t and adopted by the pool when t ends.
func (t *tx) prepare(ctx context.Context, query string) (txStmt, error) {
	ctx = t.context(ctx)
	q := t.d.rebind(query)
	if st, ok := t.stmts.load(q); ok {
		return txStmt{t.Tx.StmtContext(ctx, st), t}, nil
	}
	t.uncached = append(t.uncached, q)
	st, err := t.Tx.PrepareContext(ctx, q)
	return txStmt{st, t}, err
}

// end caches the statements t prepared for itself; call it after commit or
// rollback.
func (t *tx) end(ctx context.Context) { t.stmts.adopt(ctx, t.uncached) }

// stmt is prepare for dialects that prepare every statement, else nil.
func (t *tx) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if !t.d.PrepareAll || !cacheable(q) {
		return nil, nil
	}
	st, err := t.prepare(ctx, q)
	return st.Stmt, err
}

func (t *tx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	ctx = t.context(ctx)
	st, err := t.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return t.Tx.ExecContext(ctx, t.d.rebind(q), args...)
	}
	return st.ExecContext(ctx, args...)
}

func (t *tx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	ctx = t.context(ctx)
	st, err := t.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return t.Tx.QueryContext(ctx, t.d.rebind(q), args...)
	}
	return st.QueryContext(ctx, args...)
}

func (t *tx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	ctx = t.context(ctx)
	st, err := t.stmt(ctx, q)
	if err != nil || st == nil {
		return t.Tx.QueryRowContext(ctx, t.d.rebind(q), args...)
	}
	return st.QueryRowContext(ctx, args...)
}
