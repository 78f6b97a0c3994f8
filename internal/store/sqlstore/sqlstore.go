// Package sqlstore is Herald's store written once against database/sql: the
// queue, publishing, webhooks, tenants and keys. The backends (sqlite,
// postgres) open the database, run their migrations and describe their SQL
// differences in a Dialect; everything else is shared, so both keep one
// contract (see storetest).
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// Dialect is what differs between the SQL backends.
type Dialect struct {
	// Numbered says placeholders are $1, $2, ... (queries are written with ?).
	Numbered bool
	// IsUnique reports a unique or primary key violation.
	IsUnique func(error) bool
	// IsDataError reports an error of the rows written (a constraint,
	// invalid data), as opposed to the database being unavailable: only
	// such an error is blamed on one row of a batch.
	IsDataError func(error) bool
	// ForUpdate locks rows read in a write transaction (" FOR UPDATE"), and
	// SkipLocked claims rows no other transaction holds
	// (" FOR UPDATE SKIP LOCKED"); both empty where a database has a single
	// writer.
	ForUpdate, SkipLocked string
	// Notify, when set, runs in every transaction that makes work due, so
	// that other processes wake up (PostgreSQL: pg_notify).
	Notify string
	// OneProcess says a single process uses the database (SQLite, under
	// its directory lock): its dispatcher's own count of requests in flight
	// is exact, so claims need not count leases (a lease still held while
	// its result is being recorded does not hold back the next claim).
	OneProcess bool
	// LeaseRows says live leases are counted in webhook_leases, one row per
	// webhook and dispatcher, instead of from the notifications
	// (PostgreSQL, where an index over the lease columns made every lease a
	// new version of the row in all of its indexes): see leaserows.go.
	LeaseRows bool
	// SubjectLog says events' subject ids are indexed in batches outside
	// the publish commit (SQLite): see subjectlog.go.
	SubjectLog bool
	// QueueTx, when set, runs first in every claim and completion
	// transaction (planner settings for the queue's index walks).
	QueueTx string
	// ClaimTx, when set, runs next in every claim transaction. A claim
	// only leases: when its commit is lost (the database server crashes
	// before its log reaches the disk) its leases never existed, and the
	// notifications are claimed again, which a crash repeats anyway. So a
	// claim need not wait for its commit to reach the disk while it holds
	// the rows of its webhooks (PostgreSQL: synchronous_commit off).
	ClaimTx string
	// ScanTx, when set, runs first in a replay's transactions and in every
	// read of a listing (searches, GET /events): planner settings that
	// keep a walk on the index that gives its order, instead of reading and
	// sorting a table that looked small to a planner without statistics.
	ScanTx string
	// OrRollback, when set, follows the verb of the inserts and updates of
	// publishes, claims and results (SQLite: " OR ROLLBACK"). A statement
	// that may fail a constraint halfway must be able to undo itself alone,
	// so SQLite copies every page it changes into a statement journal first
	// (3.6% of Herald's CPU in `publish`, a sixth of its publish
	// transactions, docs/performance.md); one whose failure
	// rolls the whole transaction back needs no such copy, and Herald rolls
	// back a publish group, claim or result batch that fails anyway.
	OrRollback string
	// Explain is the prefix that asks for a statement's plan.
	Explain string
	// Arrays says the database takes arrays as parameters (PostgreSQL's
	// unnest): a batch is written in one statement instead of one per row.
	Arrays bool
	// PrepareAll says every statement is prepared once per connection and
	// reused, as the driver does not (SQLite parses a statement's text on
	// every call otherwise: a tenth of a publish's CPU was the parser).
	PrepareAll bool
}

// Store is Herald's store on a SQL database. It is safe for concurrent use.
type Store struct {
	w, r *db // writer and readers (the same pool where writers are not limited)
	d    *Dialect
	seal Sealer   // nil: secrets stored as they are
	subs sync.Map // webhook id -> subscription (decoded event lists)
	pub  publishers
	// deferral and fan: publishes of many notifications write them after
	// their answer (deferred.go).
	deferral Deferral
	fan      fanouts
	// gate orders the writers where the database has a single one.
	gate *writerGate
	// filters caches decoded content filters (webhook id -> storedFilter).
	filters sync.Map
	// writes tells CheckWrites when a write last committed.
	writes writeCheck
	// payloads spares claims the read of recent events' payloads.
	payloads *payloadCache
	// subjects wakes IndexSubjects after publishes (Dialect.SubjectLog).
	subjects chan struct{}
}

// Sealer encrypts webhook secrets at rest; aad binds a sealed value to its
// row.
type Sealer interface {
	Seal(plain, aad []byte) string
	Open(sealed string, aad []byte) ([]byte, error)
}

// Option configures a Store.
type Option func(*Store)

// WithSealer encrypts every webhook's config and signing secrets with x.
func WithSealer(x Sealer) Option { return func(s *Store) { s.seal = x } }

// New returns a Store writing through w and reading through r.
func New(w, r *sql.DB, d *Dialect, opts ...Option) *Store {
	s := &Store{w: newDB(w, d), r: newDB(r, d), d: d, deferral: DefaultDeferral, fan: newFanouts(),
		writes: writeCheck{commits: make(chan struct{}, 1)}, payloads: newPayloadCache(payloadCacheBytes),
		subjects: make(chan struct{}, 1)}
	if r == w {
		s.r = s.w
	}
	if d.OneProcess {
		s.gate = newWriterGate()
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// Close stops the publishers and closes the pools.
func (s *Store) Close() error {
	s.stopPublishers()
	s.w.stmts.close()
	s.r.stmts.close()
	if s.r.DB == s.w.DB {
		return s.w.Close()
	}
	return errors.Join(s.r.Close(), s.w.Close())
}

// write runs fn in one write transaction and commits it.
func (s *Store) write(ctx context.Context, fn func(tx *tx) error) error {
	return s.writeAs(ctx, false, fn)
}

// writeAs is write; where the database has a single writer, an urgent one
// (a publish) is let in before the others waiting (writergate.go).
func (s *Store) writeAs(ctx context.Context, urgent bool, fn func(tx *tx) error) error {
	if s.gate != nil {
		if err := s.gate.enter(ctx, urgent); err != nil {
			return fmt.Errorf("wait for the writer: %w", err)
		}
		defer s.gate.leave()
	}
	// Where the database has a single writer (SQLite), the transaction runs
	// without the caller's cancellation once it has the writer: it holds
	// it for milliseconds, and the driver watches a cancellable context
	// with a goroutine and a progress handler per statement (without them,
	// claims and results took 7% less CPU, docs/performance.md). A caller that has
	// gone meanwhile sees its transaction commit, as it would have a moment
	// earlier.
	if s.gate != nil {
		ctx = context.WithoutCancel(ctx)
	}
	t, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	wtx := s.w.tx(t)
	wtx.detached = s.gate != nil
	defer wtx.end(ctx)
	if err := fn(wtx); err != nil {
		_ = t.Rollback()
		return err
	}
	if err := t.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	s.writes.committed()
	return nil
}

// queueTx runs the dialect's settings for a claim or completion.
func (s *Store) queueTx(ctx context.Context, t *tx) error {
	return settings(ctx, t, s.d.QueueTx)
}

// claimTx runs the dialect's settings for a claim transaction: the queue's
// and the claim's in one round trip.
func (s *Store) claimTx(ctx context.Context, t *tx) error {
	q := s.d.QueueTx
	if q != "" && s.d.ClaimTx != "" {
		q += "; "
	}
	return settings(ctx, t, q+s.d.ClaimTx)
}

func settings(ctx context.Context, t *tx, q string) error {
	if q == "" {
		return nil
	}
	if _, err := t.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("transaction settings: %w", err)
	}
	return nil
}

// listTx begins a read-only transaction for a listing, with the dialect's
// settings; end it with the function returned.
func (s *Store) listTx(ctx context.Context) (*tx, func(), error) {
	rtx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, nil, err
	}
	read := s.r.tx(rtx)
	end := func() {
		_ = rtx.Rollback()
		read.end(ctx) // once the rollback has let go of the connection
	}
	if s.d.ScanTx != "" {
		if _, err := read.ExecContext(ctx, s.d.ScanTx); err != nil {
			end()
			return nil, nil, fmt.Errorf("listing settings: %w", err)
		}
	}
	return read, end, nil
}

// notify tells other processes that work is due, when the dialect can.
func (s *Store) notify(ctx context.Context, t *tx) error {
	if s.d.Notify == "" {
		return nil
	}
	if _, err := t.ExecContext(ctx, s.d.Notify); err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	return nil
}

func (d *Dialect) isDataError(err error) bool {
	return d.IsDataError != nil && d.IsDataError(err)
}

// queryer reads, inside or outside a transaction.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

var rebound sync.Map // query with ? -> query with $n

// rebind turns ? placeholders into $1, $2, ... for dialects that number them.
func (d *Dialect) rebind(q string) string {
	if !d.Numbered {
		return q
	}
	if v, ok := rebound.Load(q); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	out := b.String()
	rebound.Store(q, out)
	return out
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// placeholders returns "?,?,?" for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// pageLimit is a page's size (50 when unset).
func pageLimit(p store.Page) int {
	if p.Limit <= 0 {
		return 50
	}
	return p.Limit
}
