package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

func newSource(tenantID, typ string) store.Source {
	src := store.Source{ID: newID(), TenantID: tenantID, Type: typ, Status: store.SourceActive, Created: T0, Modified: T0}
	if typ == store.SourceNATS {
		src.URL, src.Stream, src.Subject, src.Durable = "nats://token@broker:4222", "EVENTS", "cards.>", "herald"
	} else {
		src.URL, src.Queue = "amqp://user:s3cret@broker:5672/vhost", "herald-events"
	}
	return src
}

// testSources: sources are stored with their URLs (credentials included)
// as given, listed in creation order across tenants, paused and resumed,
// and deleted; only active ones are to be consumed.
func testSources(t *testing.T, newStore NewStoreFunc) {
	s, reopen := newStore(t)
	ctx := ctxOf(t)
	a, b := MustTenant(t, s), MustTenant(t, s)
	rabbit, nats := newSource(a.ID, store.SourceRabbitMQ), newSource(b.ID, store.SourceNATS)
	NoErr(t, s.CreateSource(ctx, rabbit), "create rabbitmq source")
	NoErr(t, s.CreateSource(ctx, nats), "create nats source")
	wantErr(t, s.CreateSource(ctx, rabbit), store.ErrConflict, "same id twice")
	orphan := newSource(newID(), store.SourceRabbitMQ)
	wantErr(t, s.CreateSource(ctx, orphan), store.ErrNotFound, "source of an unknown tenant")

	got, err := s.Source(ctx, rabbit.ID)
	NoErr(t, err, "get source")
	if got != rabbit {
		t.Fatalf("Source = %+v, want %+v", got, rabbit)
	}
	_, err = s.Source(ctx, newID())
	wantErr(t, err, store.ErrNotFound, "unknown source")

	list, paging, err := s.Sources(ctx, store.Page{Limit: 1})
	NoErr(t, err, "list sources")
	if len(list) != 1 || list[0].ID != rabbit.ID || !paging.HasMore {
		t.Fatalf("first page %+v %+v, want the rabbitmq source and more", list, paging)
	}
	list, paging, err = s.Sources(ctx, store.Page{Limit: 1, After: paging.After})
	NoErr(t, err, "list sources")
	if len(list) != 1 || list[0] != nats || paging.HasMore {
		t.Fatalf("second page %+v %+v, want the nats source and no more", list, paging)
	}

	paused, err := s.SetSourceStatus(ctx, nats.ID, store.SourcePaused, T0.Add(time.Second))
	NoErr(t, err, "pause")
	if paused.Status != store.SourcePaused || !paused.Modified.Equal(T0.Add(time.Second)) || paused.URL != nats.URL {
		t.Fatalf("paused source %+v", paused)
	}
	again, err := s.SetSourceStatus(ctx, nats.ID, store.SourcePaused, T0.Add(time.Hour))
	NoErr(t, err, "pause twice")
	if !again.Modified.Equal(paused.Modified) {
		t.Fatalf("pausing a paused source changed it: %+v", again)
	}
	_, err = s.SetSourceStatus(ctx, newID(), store.SourcePaused, T0)
	wantErr(t, err, store.ErrNotFound, "pause an unknown source")
	active, err := s.ActiveSources(ctx)
	NoErr(t, err, "active sources")
	if len(active) != 1 || active[0] != rabbit {
		t.Fatalf("active sources %+v, want only the rabbitmq one", active)
	}

	NoErr(t, s.DeleteSource(ctx, rabbit.ID), "delete")
	wantErr(t, s.DeleteSource(ctx, rabbit.ID), store.ErrNotFound, "delete twice")
	_, err = s.Source(ctx, rabbit.ID)
	wantErr(t, err, store.ErrNotFound, "deleted source")

	// Another handle (a restarted process) reads the same URL back.
	NoErr(t, s.Close(), "close")
	s = reopen()
	got, err = s.Source(ctx, nats.ID)
	NoErr(t, err, "source after reopening")
	if got.URL != nats.URL || got.Status != store.SourcePaused {
		t.Fatalf("source after reopening %+v", got)
	}
}

// testRejectedMessages: rejected messages are listed newest first, counted
// on their source for good, bounded to the newest keep per source, cleaned
// of what text columns cannot hold, and deleted with their source.
func testRejectedMessages(t *testing.T, newStore NewStoreFunc) {
	s, _ := newStore(t)
	ctx := ctxOf(t)
	ten := MustTenant(t, s)
	src, other := newSource(ten.ID, store.SourceRabbitMQ), newSource(ten.ID, store.SourceNATS)
	NoErr(t, s.CreateSource(ctx, src), "create source")
	NoErr(t, s.CreateSource(ctx, other), "create other source")
	reject := func(sourceID string, n int) []store.RejectedMessage {
		msgs := make([]store.RejectedMessage, n)
		for i := range msgs {
			msgs[i] = store.RejectedMessage{ID: newID(), SourceID: sourceID, MessageID: fmt.Sprintf("m-%d", i),
				Error: "event: is required", Field: "event", Payload: `{"x": 1}`, Size: 8, Received: T0}
		}
		return msgs
	}
	first := reject(src.ID, 3)
	first[0].Payload, first[0].Error = "\xff\x00{", "bad \x00"
	NoErr(t, s.RecordRejected(ctx, append(first, reject(other.ID, 1)...), 4), "record")
	NoErr(t, s.RecordRejected(ctx, reject(src.ID, 3), 4), "record more")
	NoErr(t, s.RecordRejected(ctx, nil, 4), "record nothing")

	got, paging, err := s.RejectedMessages(ctx, src.ID, store.Page{Limit: 10})
	NoErr(t, err, "list rejected")
	if len(got) != 4 || paging.HasMore {
		t.Fatalf("%d rejected messages kept (more: %v), want the newest 4", len(got), paging.HasMore)
	}
	for i := 1; i < len(got); i++ {
		if got[i-1].ID <= got[i].ID {
			t.Fatalf("rejected messages not newest first: %s before %s", got[i-1].ID, got[i].ID)
		}
	}
	if got[3].ID != first[2].ID || got[3].MessageID != "m-2" || got[3].Field != "event" || got[3].Size != 8 || !got[3].Received.Equal(T0) {
		t.Fatalf("oldest kept %+v, want the third of the first batch", got[3])
	}
	page, paging, err := s.RejectedMessages(ctx, src.ID, store.Page{Limit: 3})
	NoErr(t, err, "first page")
	rest, last, err := s.RejectedMessages(ctx, src.ID, store.Page{Limit: 3, After: paging.After})
	NoErr(t, err, "second page")
	if len(page) != 3 || !paging.HasMore || len(rest) != 1 || rest[0].ID != got[3].ID || last.HasMore {
		t.Fatalf("pages of 3: %d (more %v) then %d (more %v)", len(page), paging.HasMore, len(rest), last.HasMore)
	}
	counted, err := s.Source(ctx, src.ID)
	NoErr(t, err, "source")
	if counted.Rejected != 6 {
		t.Fatalf("source counts %d rejected, want 6 (the list keeps 4)", counted.Rejected)
	}

	// Text that PostgreSQL cannot store is cleaned, not refused.
	dirty := first[0]
	dirty.ID = newID()
	NoErr(t, s.RecordRejected(ctx, []store.RejectedMessage{dirty}, 10), "record dirty text again")
	got, _, err = s.RejectedMessages(ctx, src.ID, store.Page{Limit: 1})
	NoErr(t, err, "list")
	if got[0].Payload != "\uFFFD\uFFFD{" || got[0].Error != "bad \uFFFD" {
		t.Fatalf("dirty text stored as %q / %q", got[0].Payload, got[0].Error)
	}

	NoErr(t, s.DeleteSource(ctx, src.ID), "delete source")
	_, _, err = s.RejectedMessages(ctx, src.ID, store.Page{})
	wantErr(t, err, store.ErrNotFound, "rejected messages of a deleted source")
	// A source deleted while its consumer was rejecting: the rows go too.
	NoErr(t, s.RecordRejected(ctx, reject(src.ID, 2), 4), "record for a deleted source")
	kept, _, err := s.RejectedMessages(ctx, other.ID, store.Page{})
	NoErr(t, err, "other source's rejected")
	if len(kept) != 1 {
		t.Fatalf("the other source keeps %d rejected messages, want 1", len(kept))
	}
}
