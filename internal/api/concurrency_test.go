package api_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/store/postgres/pgtest"
)

// TestConcurrentPutsKeepEachOthersChanges: PUTs of one webhook that change
// different members at the same moment all take effect, on both stores.
// Each round releases one PUT per member at once, then reads the webhook.
func TestConcurrentPutsKeepEachOthersChanges(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			opts := heraldtest.Options{}
			if backend == "postgres" {
				opts.DatabaseURL = pgtest.Database(t)
			}
			concurrentPuts(t, heraldtest.Start(t, opts))
		})
	}
}

func concurrentPuts(t *testing.T, in *heraldtest.Instance) {
	hook := createHook(t, in, heraldtest.AdminKey, hookBody("https://client.example/hooks"))
	events := [][]string{{"CARD_STATUS_CHANGE"}, {"TRANSACTION"}, {"KYC_RESULT"}}
	for round := 1; round <= 25; round++ {
		members := []map[string]any{
			{"config": map[string]any{"timeout_seconds": 1 + round%30}},
			{"config": map[string]any{"max_in_flight": 1 + round}},
			{"config": map[string]any{"max_retries": round}},
			{"config": map[string]any{"retry_interval_seconds": 60 + round}},
			{"config": map[string]any{"basic_auth_username": fmt.Sprintf("user%d", round)}},
			{"events": events[round%len(events)]},
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		statuses := make([]int, len(members))
		for i, body := range members {
			wg.Go(func() {
				<-start
				statuses[i] = in.Admin(t, "PUT", "/webhooks/"+hook.ID, body).Status
			})
		}
		close(start)
		wg.Wait()
		for i, status := range statuses {
			if status != http.StatusOK {
				t.Fatalf("round %d: PUT %v answered %d", round, members[i], status)
			}
		}
		var w webhook
		r := in.Admin(t, "GET", "/webhooks/"+hook.ID, nil)
		wantStatus(t, r, http.StatusOK)
		r.JSON(t, &w)
		c := w.Config
		got := fmt.Sprintf("timeout %d, max_in_flight %d, max_retries %v, retry_interval %v, username %v, events %v",
			c.TimeoutSeconds, c.MaxInFlight, deref(c.MaxRetries), deref(c.RetryIntervalSeconds), derefS(c.BasicAuthUsername), w.Events)
		want := fmt.Sprintf("timeout %d, max_in_flight %d, max_retries %v, retry_interval %v, username %v, events %v",
			1+round%30, 1+round, round, 60+round, fmt.Sprintf("user%d", round), events[round%len(events)])
		if got != want {
			t.Fatalf("round %d: a concurrent change was lost:\ngot  %s\nwant %s", round, got, want)
		}
	}
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

func derefS(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}
