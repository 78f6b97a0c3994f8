package service

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// Retention settings (SPEC section 3).
const (
	// DefaultRetention is how long delivered and cancelled notifications
	// are kept; expired ones are kept twice as long.
	DefaultRetention = 30 * 24 * time.Hour
	// RetentionInterval is how often the purge runs.
	RetentionInterval = time.Hour
	// minRetention keeps events at least as long as an idempotency key can
	// replay them (SPEC section 4.4: 24 hours).
	minRetention = 24 * time.Hour
	// idempotencyKept is how long idempotency keys are kept: their window.
	idempotencyKept = 24 * time.Hour
	retentionBatch  = 500
	// retentionPause leaves the database to deliveries between two batches
	// (SQLite has one writer).
	retentionPause = 20 * time.Millisecond
)

// retentionStartDelay is how long after start the first purge runs.
var retentionStartDelay = time.Minute

// purger is the store's retention.
type purger interface {
	Purge(ctx context.Context, p store.PurgePolicy) (store.Purged, error)
}

// runRetention purges what retention allows shortly after start and then
// every interval, until ctx ends. A retention of 0 or less keeps everything;
// one below a day is raised to a day, so that an idempotency key never
// outlives the event it replays. Every replica may run it: batches skip rows
// another replica holds.
func runRetention(ctx context.Context, st purger, every, retention time.Duration, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if retention <= 0 {
		log.Info("retention disabled: notifications are kept forever")
		return
	}
	if retention < minRetention {
		log.Warn("retention raised to the idempotency window", "retention", retention.String(), "used", minRetention.String())
		retention = minRetention
	}
	if every <= 0 {
		every = RetentionInterval
	}
	t := time.NewTimer(min(retentionStartDelay, every))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		purgeOnce(ctx, st, retentionPolicy(time.Now().UTC(), retention), log)
		t.Reset(every)
	}
}

// retentionPolicy is what a purge at now deletes.
func retentionPolicy(now time.Time, retention time.Duration) store.PurgePolicy {
	return store.PurgePolicy{
		FinishedBefore:    now.Add(-retention),
		ExpiredBefore:     now.Add(-2 * retention),
		IdempotencyBefore: now.Add(-idempotencyKept),
		Batch:             retentionBatch,
		Pause:             retentionPause,
	}
}

// purgeOnce runs one purge and logs what it deleted. A failure is logged and
// left to the next run.
func purgeOnce(ctx context.Context, st purger, p store.PurgePolicy, log *slog.Logger) {
	start := time.Now()
	got, err := st.Purge(ctx, p)
	attrs := []any{"notifications", got.Notifications, "attempts", got.Attempts, "events", got.Events,
		"idempotency_keys", got.IdempotencyKeys, "duration", time.Since(start).Round(time.Millisecond).String()}
	switch {
	case err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()):
		log.Info("retention purge interrupted", attrs...)
	case err != nil:
		log.Error("retention purge failed", append(attrs, "err", err)...)
	case got == store.Purged{}:
		log.Debug("retention purge: nothing to delete", attrs...)
	default:
		log.Info("retention purge", attrs...)
	}
}
