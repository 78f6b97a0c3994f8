package service

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/postgres"
	"github.com/heraldhq/herald/internal/store/sqlstore"
)

// Both backends purge.
var (
	_ purger = (*sqlstore.Store)(nil)
	_ purger = (*postgres.Store)(nil)
)

type fakePurger struct {
	mu       sync.Mutex
	policies []store.PurgePolicy
	calls    chan struct{}
	answer   func(n int) (store.Purged, error)
}

func (f *fakePurger) Purge(_ context.Context, p store.PurgePolicy) (store.Purged, error) {
	f.mu.Lock()
	f.policies = append(f.policies, p)
	n := len(f.policies)
	f.mu.Unlock()
	defer func() { f.calls <- struct{}{} }()
	return f.answer(n)
}

// syncBuffer is a log destination safe for the job's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunRetention(t *testing.T) {
	defer func(d time.Duration) { retentionStartDelay = d }(retentionStartDelay)
	retentionStartDelay = 10 * time.Millisecond
	f := &fakePurger{calls: make(chan struct{}, 10), answer: func(n int) (store.Purged, error) {
		switch n {
		case 1:
			return store.Purged{Notifications: 3, Attempts: 5, Events: 2, IdempotencyKeys: 7}, nil
		case 2:
			return store.Purged{Notifications: 1}, errors.New("database is locked")
		default:
			return store.Purged{}, nil
		}
	}}
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	retention := 48 * time.Hour
	start := time.Now()
	go func() {
		runRetention(ctx, f, 30*time.Millisecond, retention, log)
		close(done)
	}()
	for i := range 3 {
		select {
		case <-f.calls:
		case <-time.After(5 * time.Second):
			t.Fatalf("purge %d did not run", i+1)
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("runRetention did not return when its context ended")
	}
	end := time.Now()

	f.mu.Lock()
	defer f.mu.Unlock()
	for i, p := range f.policies {
		if p.FinishedBefore.Before(start.Add(-retention)) || p.FinishedBefore.After(end.Add(-retention)) {
			t.Errorf("purge %d: FinishedBefore %v, want now - %v", i, p.FinishedBefore, retention)
		}
		if got := p.FinishedBefore.Sub(p.ExpiredBefore); got != retention {
			t.Errorf("purge %d: expired kept %v longer than finished, want %v", i, got, retention)
		}
		if got := p.IdempotencyBefore.Sub(p.FinishedBefore); got != retention-24*time.Hour {
			t.Errorf("purge %d: idempotency keys kept %v, want 24h", i, retention-got)
		}
		if p.Batch <= 0 || p.Pause <= 0 {
			t.Errorf("purge %d: batch %d, pause %v: want both set", i, p.Batch, p.Pause)
		}
	}
	out := logs.String()
	for _, want := range []string{
		`msg="retention purge" notifications=3 attempts=5 events=2 idempotency_keys=7`,
		`msg="retention purge failed" notifications=1`, `err="database is locked"`,
		`msg="retention purge: nothing to delete"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestRunRetentionDisabled(t *testing.T) {
	defer func(d time.Duration) { retentionStartDelay = d }(retentionStartDelay)
	retentionStartDelay = time.Millisecond
	f := &fakePurger{calls: make(chan struct{}, 10), answer: func(int) (store.Purged, error) { return store.Purged{}, nil }}
	done := make(chan struct{})
	go func() {
		runRetention(t.Context(), f, time.Millisecond, 0, nil)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("runRetention with no retention did not return")
	}
	if len(f.policies) != 0 {
		t.Fatalf("purged %d times with retention off", len(f.policies))
	}
}

func TestRetentionAtLeastADay(t *testing.T) {
	defer func(d time.Duration) { retentionStartDelay = d }(retentionStartDelay)
	retentionStartDelay = time.Millisecond
	f := &fakePurger{calls: make(chan struct{}, 10), answer: func(int) (store.Purged, error) { return store.Purged{}, nil }}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	before := time.Now()
	go runRetention(ctx, f, time.Hour, time.Minute, nil)
	select {
	case <-f.calls:
	case <-time.After(5 * time.Second):
		t.Fatal("purge did not run")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	after := time.Now()
	if p := f.policies[0]; p.FinishedBefore.Before(before.Add(-24*time.Hour)) || p.FinishedBefore.After(after.Add(-24*time.Hour)) {
		t.Fatalf("a 1m retention purged up to %v, want a day ago", p.FinishedBefore)
	}
}
