package service

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/heraldhq/herald/internal/api"
	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/metrics"
	"github.com/heraldhq/herald/internal/secrets"
	"github.com/heraldhq/herald/internal/source"
	"github.com/heraldhq/herald/internal/store/postgres"
	"github.com/heraldhq/herald/internal/store/sqlite"
	"github.com/heraldhq/herald/internal/store/sqlstore"
	"github.com/heraldhq/herald/internal/web"
)

// Backend is what Herald needs of a store.
type Backend interface {
	api.Store
	delivery.Queue
	purger
	metrics.Source
	web.Store
	source.Store
	Close() error
}

// DatabaseFile is the embedded SQLite database in the data directory.
const DatabaseFile = "herald.db"

// OpenStore opens the PostgreSQL database at databaseURL or, when it is
// empty, the embedded SQLite database in dataDir; either way its schema is
// brought up to date, and webhook secrets are encrypted with the keyring of
// HERALD_ENCRYPTION_KEY or, without it, of dataDir's key file (created on
// first use).
func OpenStore(ctx context.Context, dataDir, databaseURL string, log *slog.Logger) (Backend, error) {
	keys, created, err := secrets.Load(os.Getenv(secrets.EnvKey), dataDir)
	if err != nil {
		return nil, err
	}
	if created && log != nil {
		log.Warn("created an encryption key for webhook secrets; back it up, and give every replica the same key in "+secrets.EnvKey,
			"path", filepath.Join(dataDir, secrets.KeyFile))
	}
	seal := sqlstore.WithSealer(keys)
	var st interface {
		Backend
		CheckSecrets(ctx context.Context) error
	}
	if databaseURL != "" {
		st, err = postgres.Open(ctx, databaseURL, seal)
	} else {
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
		st, err = sqlite.Open(ctx, filepath.Join(dataDir, DatabaseFile), seal)
	}
	if err != nil {
		return nil, err
	}
	if err := st.CheckSecrets(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// opened is a store ready to serve, with what must be released with it.
type opened struct {
	Backend
	lock *os.File // SQLite: this process owns the data directory
}

func (o *opened) Close() error {
	err := o.Backend.Close()
	if o.lock != nil {
		o.lock.Close()
	}
	return err
}

// openForServe opens the store for `herald serve`. On SQLite the process
// takes the data directory's lock, so no other dispatcher can hold a lease:
// whatever a crashed run had in flight is released at once. On PostgreSQL
// other replicas may be running: leases of a dead one run out instead.
func openForServe(ctx context.Context, cfg Config) (*opened, error) {
	if cfg.DatabaseURL != "" {
		st, err := OpenStore(ctx, cfg.DataDir, cfg.DatabaseURL, cfg.Logger)
		if err != nil {
			return nil, err
		}
		return &opened{Backend: st}, nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	lock, err := lockDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	st, err := OpenStore(ctx, cfg.DataDir, "", cfg.Logger)
	if err != nil {
		lock.Close()
		return nil, err
	}
	o := &opened{Backend: st, lock: lock}
	n, err := st.ReleaseLeases(ctx, "")
	if err != nil {
		o.Close()
		return nil, err
	}
	if n > 0 {
		cfg.Logger.Info("resuming notifications that were in flight when the last run stopped", "count", n)
	}
	return o, nil
}

// listener is a store that can wake dispatchers of other processes.
type listener interface {
	Listen(ctx context.Context, wake func(), log *slog.Logger)
}

// checkpointer copies SQLite's WAL into its database file, off the
// writer's path, until its context ends.
type checkpointer interface {
	Checkpoint(ctx context.Context, interval time.Duration, log *slog.Logger)
}

// subjectIndexer indexes events' subject ids outside the publish commit
// (SQLite's subject log) until its context ends.
type subjectIndexer interface {
	IndexSubjects(ctx context.Context, log *slog.Logger)
}

// fanoutWriter writes deferred fan-outs until its context ends.
type fanoutWriter interface {
	WriteFanouts(ctx context.Context, wake func(), log *slog.Logger)
}

// lockDir takes an exclusive lock on the data directory: one SQLite
// database has one Herald serving it.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "herald.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("data directory %s is in use by another herald serve: %w", dir, err)
	}
	return f, nil
}
