// Package publish turns payloads into stored events, the same way for every
// way in (POST /events, POST /events:batch, the broker sources): the
// catalogue check, then one publish through the store's group commit with
// the idempotency window, the fan-out bound, the hand-off to this process's
// dispatcher, the wake-up of the queue and the metrics. Keeping it in one
// place keeps the guarantees of the ways in the same.
package publish

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/tracing"
)

// Limits every way in holds publishes to (SPEC section 4.4).
const (
	// IdempotencyWindow is how long a repeated idempotency key returns the
	// first publish.
	IdempotencyWindow = 24 * time.Hour
	// MaxIdempotencyKey is the longest idempotency key, in bytes.
	MaxIdempotencyKey = 255
	// MaxPayload is the largest event, in bytes (the body limit of
	// POST /events).
	MaxPayload = 1 << 20
)

// Store is what publishing needs of Herald's store.
type Store interface {
	Publish(ctx context.Context, req store.PublishRequest) (store.PublishResult, error)
}

// Waker is told when a publish left work for a claim (the dispatcher).
type Waker interface{ Wake() }

// Observer is told of every accepted event (the metrics).
type Observer interface {
	Published(event string, notifications int)
}

// Publisher validates and publishes events. Its fields are set once; it is
// safe for concurrent use.
type Publisher struct {
	Store   Store
	Catalog *catalog.Catalog
	// Waker, Observer and Handoff may be nil.
	Waker    Waker
	Observer Observer
	Handoff  store.Handoff
	// MaxFanout bounds the notifications one publish may create (0: no
	// bound).
	MaxFanout int
}

// Event checks one payload against the catalogue and makes it an event
// created at now, with the ids it is about (catalog.Subjects, read in the
// same pass over the payload). An invalid payload is a *catalog.PayloadError naming the
// offending member.
func (p *Publisher) Event(payload []byte, now time.Time) (store.Event, error) {
	name, subjects, err := p.Catalog.Check(payload)
	if err != nil {
		return store.Event{}, err
	}
	return store.Event{ID: uuid.Must(uuid.NewV7()).String(), Name: name, Payload: payload, Created: now,
		Subjects: store.Subjects(subjects)}, nil
}

// Request is one atomic publish of checked events.
type Request struct {
	TenantID string
	Events   []store.Event
	// IdempotencyKey ("" for none) makes a repeat within IdempotencyWindow
	// of the same Body return the first publish; Body is what the caller
	// sent (the request body, or the broker message), hashed to tell a
	// repeat from a reuse of the key.
	IdempotencyKey string
	Body           []byte
	// Webhook, when set, sends the events to this webhook alone (test
	// events: store.PublishRequest.Webhook).
	Webhook string
}

// Publish stores the events and their notifications; when it returns nil
// they are committed. The events join the trace of ctx. It fails with
// store.ErrFanout or store.ErrIdempotencyMismatch for the request's own
// faults, and with another error when the database does.
func (p *Publisher) Publish(ctx context.Context, r Request) (store.PublishResult, error) {
	if len(r.IdempotencyKey) > MaxIdempotencyKey {
		return store.PublishResult{}, fmt.Errorf("idempotency key of %d bytes: %w", len(r.IdempotencyKey), ErrKeyTooLong)
	}
	tp := tracing.Traceparent(ctx)
	for i := range r.Events {
		r.Events[i].TenantID = r.TenantID
		if tp != "" {
			r.Events[i].TraceParent = tp
		}
	}
	sum := sha256.Sum256(r.Body)
	res, err := p.Store.Publish(ctx, store.PublishRequest{
		TenantID: r.TenantID, Events: r.Events, IdempotencyKey: r.IdempotencyKey, RequestHash: hex.EncodeToString(sum[:]),
		IdempotencyWindow: IdempotencyWindow, Now: time.Now().UTC(), MaxFanout: p.MaxFanout, Handoff: p.Handoff, Webhook: r.Webhook,
	})
	if err != nil {
		return res, err
	}
	if !res.Replayed {
		if res.Queued && p.Waker != nil {
			p.Waker.Wake() // what was handed over needs no dispatch pass
		}
		if p.Observer != nil {
			for _, pe := range res.Events {
				p.Observer.Published(pe.Event.Name, len(pe.Notifications))
			}
		}
	}
	return res, nil
}

// ErrKeyTooLong: an idempotency key is longer than MaxIdempotencyKey.
var ErrKeyTooLong = errors.New("idempotency key too long")
