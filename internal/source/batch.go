package source

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/publish"
	"github.com/heraldhq/herald/internal/store"
)

const (
	// rejectedExcerpt is how much of a rejected message is kept.
	rejectedExcerpt = 16 << 10
	// poisonAfter is how many times a message may fail to publish, while
	// the database commits other writes, before it is rejected as one the
	// database refuses (rather than retried for ever, holding its queue).
	poisonAfter = 5
)

// item is a valid message on its way to the store.
type item struct {
	msg      message
	event    store.Event
	res      store.PublishResult
	err      error
	failures int
}

// handle publishes a batch of messages and says how to settle each: the
// ones committed (or already published under their message id) are to be
// acknowledged, the invalid ones, recorded by then, are to be rejected. It
// retries what the database could not take until it takes it or ctx ends
// (then it fails, and nothing of the batch is settled: the broker delivers
// those messages again).
func (c *consumer) handle(ctx context.Context, msgs []message) ([]message, []rejection, error) {
	now := time.Now().UTC()
	var rejects []rejection
	pending := make([]*item, 0, len(msgs))
	for _, m := range msgs {
		e, r, bad := c.check(m, now)
		if bad {
			rejects = append(rejects, r)
			continue
		}
		pending = append(pending, &item{msg: m, event: e})
	}
	acks := make([]message, 0, len(pending))
	published, duplicates := 0, 0
	for attempt := 0; len(pending) > 0; attempt++ {
		c.publishAll(ctx, pending)
		retry := pending[:0]
		var failed error
		for _, it := range pending {
			switch {
			case it.err == nil:
				acks = append(acks, it.msg)
				if it.res.Replayed {
					duplicates++
				} else {
					published++
				}
			case errors.Is(it.err, store.ErrIdempotencyMismatch):
				rejects = append(rejects, rejection{msg: it.msg, field: "message_id",
					err: fmt.Sprintf("message id %q was published in the last 24 hours with a different body", it.msg.ID)})
			case errors.Is(it.err, store.ErrFanout):
				rejects = append(rejects, rejection{msg: it.msg,
					err: "this message would create more than " + strconv.Itoa(c.r.cfg.Publisher.MaxFanout) + " notifications"})
			default:
				it.failures++
				failed = it.err
				retry = append(retry, it)
			}
		}
		pending = retry
		if len(pending) == 0 {
			break
		}
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		c.fail(fmt.Errorf("publish: %w", failed))
		pending, rejects = c.poison(ctx, pending, rejects)
		if len(pending) > 0 && !sleep(ctx, backoff(attempt)) {
			return nil, nil, ctx.Err()
		}
	}
	if err := c.record(ctx, rejects); err != nil {
		return nil, nil, err
	}
	c.counted(published, duplicates, len(rejects))
	return acks, rejects, nil
}

// check makes a message an event, or refuses it as POST /events would.
func (c *consumer) check(m message, now time.Time) (store.Event, rejection, bool) {
	if len(m.Body) > publish.MaxPayload {
		return store.Event{}, rejection{msg: m, err: "the message is larger than " + strconv.Itoa(publish.MaxPayload) + " bytes, the limit of POST /events"}, true
	}
	if len(m.ID) > publish.MaxIdempotencyKey {
		return store.Event{}, rejection{msg: m, field: "message_id", err: "the message id is longer than " + strconv.Itoa(publish.MaxIdempotencyKey) + " bytes"}, true
	}
	e, err := c.r.cfg.Publisher.Event(m.Body, now)
	if err != nil {
		var pe *catalog.PayloadError
		if errors.As(err, &pe) {
			return e, rejection{msg: m, field: pe.Field, err: pe.Message}, true
		}
		return e, rejection{msg: m, err: err.Error()}, true
	}
	return e, rejection{}, false
}

// publishAll publishes each item in a call of its own, all at once, so that
// the store's group commit takes them in one transaction while each keeps
// its own idempotency key and fails alone.
func (c *consumer) publishAll(ctx context.Context, items []*item) {
	var wg sync.WaitGroup
	for _, it := range items {
		if it.failures > 0 {
			// A retry is a new event: the failed try may have committed
			// after all, and only its idempotency key (if any) may find it.
			it.event.ID = uuid.Must(uuid.NewV7()).String()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			it.res, it.err = c.r.cfg.Publisher.Publish(ctx, publish.Request{
				TenantID: c.src.TenantID, Events: []store.Event{it.event}, IdempotencyKey: it.msg.ID, Body: it.msg.Body})
		}()
	}
	wg.Wait()
}

// poison rejects the items that failed poisonAfter times while the
// database commits other writes: the database refuses them, and retrying
// would hold the queue for ever.
func (c *consumer) poison(ctx context.Context, items []*item, rejects []rejection) ([]*item, []rejection) {
	due := false
	for _, it := range items {
		due = due || it.failures >= poisonAfter
	}
	if !due || c.r.cfg.Store.CheckWrites(ctx) != nil {
		return items, rejects
	}
	keep := items[:0]
	for _, it := range items {
		if it.failures >= poisonAfter {
			rejects = append(rejects, rejection{msg: it.msg, err: "the database refused this message: " + it.err.Error()})
			continue
		}
		keep = append(keep, it)
	}
	return keep, rejects
}

// record stores the rejected messages before they are dead-lettered, so
// that none is lost from view; it retries until the database takes them or
// ctx ends.
func (c *consumer) record(ctx context.Context, rejects []rejection) error {
	if len(rejects) == 0 {
		return nil
	}
	now := time.Now().UTC()
	rows := make([]store.RejectedMessage, len(rejects))
	for i, r := range rejects {
		body := r.msg.Body
		if len(body) > rejectedExcerpt {
			body = body[:rejectedExcerpt]
		}
		rows[i] = store.RejectedMessage{ID: uuid.Must(uuid.NewV7()).String(), SourceID: c.src.ID, MessageID: r.msg.ID,
			Error: r.err, Field: r.field, Payload: string(body), Size: len(r.msg.Body), Received: now}
	}
	for attempt := 0; ; attempt++ {
		err := c.r.cfg.Store.RecordRejected(ctx, rows, KeepRejected)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.fail(fmt.Errorf("record rejected messages: %w", err))
		if !sleep(ctx, backoff(attempt)) {
			return ctx.Err()
		}
	}
}
