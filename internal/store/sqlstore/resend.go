package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// testFanOut sends every event to the webhook id alone (a test event,
// store.PublishRequest.Webhook): its index in hooks for each, or none when
// it is not among the tenant's webhooks.
func testFanOut(events []store.Event, hooks []store.Subscriber, id string) ([][]int, int) {
	for i := range hooks {
		if hooks[i].ID == id {
			receivers := make([][]int, len(events))
			for k := range receivers {
				receivers[k] = []int{i}
			}
			return receivers, len(events)
		}
	}
	return make([][]int, len(events)), 0
}

// resendBatch is how many notifications one re-send transaction moves.
const resendBatch = 500

// Resend puts the notifications matching f that are in a final status
// (DELIVERED, EXPIRED or CANCELLED) and whose webhook is not deleted back
// to PENDING, due at now, with a fresh retry budget: at most max of them,
// newest first (0: no bound). It says how many it moved and whether more
// matched beyond max. With dryRun it moves nothing and counts.
//
// The matching notifications are found as a search finds them (through
// the indexes of its filters), and moved by id, resendBatch per
// transaction, so a large re-send never holds the writer long.
func (s *Store) Resend(ctx context.Context, f store.NotificationFilter, now time.Time, max int, dryRun bool) (int, bool, error) {
	f.Final = true
	page := store.Page{Limit: resendBatch}
	moved := 0
	for {
		notes, paging, err := s.SearchNotifications(ctx, f, page)
		if err != nil {
			return moved, false, err
		}
		ids := make([]string, 0, len(notes))
		for _, n := range notes {
			ids = append(ids, n.ID)
		}
		// Some may not move (their webhook is deleted): take them in
		// chunks of what the bound has left.
		for len(ids) > 0 {
			chunk := ids
			if max > 0 && len(chunk) > max-moved {
				chunk = chunk[:max-moved]
			}
			n, err := s.move(ctx, f.TenantID, chunk, now, dryRun)
			moved += n
			if err != nil {
				return moved, false, err
			}
			ids = ids[len(chunk):]
			if max > 0 && moved >= max {
				return moved, len(ids) > 0 || paging.HasMore, nil
			}
		}
		if !paging.HasMore {
			return moved, false, nil
		}
		page.After = paging.After
	}
}

// move re-queues the final notifications of live webhooks among ids, or
// counts them.
func (s *Store) move(ctx context.Context, tenantID string, ids []string, now time.Time, dryRun bool) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	f := store.NotificationFilter{TenantID: tenantID, NotificationIDs: ids, Final: true}
	if !dryRun {
		return s.requeue(ctx, f, now)
	}
	where, args := s.filterSQL(f)
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM notifications AS n WHERE `+where+`
		AND n.webhook_id IN (SELECT id FROM webhooks WHERE deleted_at IS NULL)`, args...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count re-sendable notifications: %w", err)
	}
	return n, nil
}
