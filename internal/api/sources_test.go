package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// The sources API (broker consumption itself is tested in internal/source
// against the real brokers). Nothing listens on port 1, so every source here
// stays reconnecting.

type sourceAnswer struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	URL      string `json:"url"`
	TenantID string `json:"tenant_id"`
	Status   string `json:"status"`
	State    struct {
		State     string  `json:"state"`
		LastError *string `json:"last_error"`
	} `json:"state"`
}

func TestSourceValidation(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	for _, tc := range []struct {
		name  string
		body  string
		field string
	}{
		{"no type", `{"url": "amqp://h/", "tenant": "default", "queue": "q"}`, "type"},
		{"unknown type", `{"type": "kafka", "url": "amqp://h/", "tenant": "default", "queue": "q"}`, "type"},
		{"no url", `{"type": "rabbitmq", "tenant": "default", "queue": "q"}`, "url"},
		{"http url", `{"type": "rabbitmq", "url": "http://h/", "tenant": "default", "queue": "q"}`, "url"},
		{"relative url", `{"type": "rabbitmq", "url": "amqp:h", "tenant": "default", "queue": "q"}`, "url"},
		{"url with a space", `{"type": "rabbitmq", "url": "amqp://h/ x", "tenant": "default", "queue": "q"}`, "url"},
		{"nats scheme for rabbitmq", `{"type": "rabbitmq", "url": "nats://h:4222", "tenant": "default", "queue": "q"}`, "url"},
		{"no queue", `{"type": "rabbitmq", "url": "amqp://h/", "tenant": "default"}`, "queue"},
		{"queue too long", `{"type": "rabbitmq", "url": "amqp://h/", "tenant": "default", "queue": "` + strings.Repeat("q", 256) + `"}`, "queue"},
		{"stream on rabbitmq", `{"type": "rabbitmq", "url": "amqp://h/", "tenant": "default", "queue": "q", "stream": "S"}`, "stream"},
		{"no tenant", `{"type": "rabbitmq", "url": "amqp://h/", "queue": "q"}`, "tenant"},
		{"unknown tenant", `{"type": "rabbitmq", "url": "amqp://h/", "tenant": "nope", "queue": "q"}`, "tenant"},
		{"bad status", `{"type": "rabbitmq", "url": "amqp://h/", "tenant": "default", "queue": "q", "status": "DISABLED"}`, "status"},
		{"queue on nats", `{"type": "nats", "url": "nats://h:4222", "tenant": "default", "queue": "q", "stream": "S", "durable": "d"}`, "queue"},
		{"no stream", `{"type": "nats", "url": "nats://h:4222", "tenant": "default", "durable": "d"}`, "stream"},
		{"stream with a dot", `{"type": "nats", "url": "nats://h:4222", "tenant": "default", "stream": "a.b", "durable": "d"}`, "stream"},
		{"no durable", `{"type": "nats", "url": "nats://h:4222", "tenant": "default", "stream": "S"}`, "durable"},
		{"bad subject", `{"type": "nats", "url": "nats://h:4222", "tenant": "default", "stream": "S", "durable": "d", "subject": "a..b"}`, "subject"},
		{"one bad server of several", `{"type": "nats", "url": "nats://h:4222,ftp://g", "tenant": "default", "stream": "S", "durable": "d"}`, "url"},
		{"unknown member", `{"type": "nats", "url": "nats://h:4222", "tenant": "default", "stream": "S", "durable": "d", "group": "g"}`, "group"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, in.Admin(t, "POST", "/sources", tc.body), http.StatusBadRequest, "invalid_request", tc.field)
		})
	}
	if n := countRows(t, in, `SELECT count(*) FROM sources`); n != 0 {
		t.Errorf("%d sources stored from refused requests", n)
	}
}

// TestSourceLifecycle: a source is created for the tenant named (by name
// or id), its credentials never come back, it is paused and resumed,
// listed, and deleted; only admin keys may touch sources.
func TestSourceLifecycle(t *testing.T) {
	t.Parallel()
	in := newStart(t)
	tn := createTenant(t, in, "brokers")
	r := in.Admin(t, "POST", "/sources", `{"type": "rabbitmq", "url": "amqp://herald:s3cr3t-pw@127.0.0.1:1/vh", "tenant": "brokers", "queue": "events"}`)
	wantStatus(t, r, http.StatusCreated)
	var rabbit sourceAnswer
	r.JSON(t, &rabbit)
	if rabbit.TenantID != tn.ID || rabbit.Status != "ACTIVE" || rabbit.URL != "amqp://herald:********@127.0.0.1:1/vh" {
		t.Fatalf("created %+v", rabbit)
	}
	r = in.Admin(t, "POST", "/sources", `{"type": "nats", "url": "nats://tok3n-value@127.0.0.1:1,nats://127.0.0.1:2", "tenant": "`+tn.ID+`", "stream": "EVENTS", "subject": "cards.>", "durable": "herald", "status": "PAUSED"}`)
	wantStatus(t, r, http.StatusCreated)
	var nats sourceAnswer
	r.JSON(t, &nats)
	if nats.URL != "nats://********@127.0.0.1:1,nats://127.0.0.1:2" || nats.Status != "PAUSED" || nats.State.State != "paused" {
		t.Fatalf("created %+v", nats)
	}

	// This replica picks the active source up at once; it cannot connect.
	heraldtest.Eventually(t, 10*time.Second, "the rabbitmq source to report its failing connection", func() bool {
		r := in.Admin(t, "GET", "/sources/"+rabbit.ID, nil)
		var got sourceAnswer
		r.JSON(t, &got)
		return got.State.State == "reconnecting" && got.State.LastError != nil
	})
	r = in.Admin(t, "GET", "/sources/"+rabbit.ID, nil)
	if strings.Contains(string(r.Body), "s3cr3t-pw") {
		t.Fatalf("the answer shows the password: %s", r.Body)
	}
	ready := in.Do(t, "", "GET", "/readyz", nil)
	wantStatus(t, ready, http.StatusOK)
	if !strings.Contains(string(ready.Body), `{"id":"`+rabbit.ID+`","state":"reconnecting"}`) || strings.Contains(string(ready.Body), nats.ID) {
		t.Errorf("/readyz = %s, want the rabbitmq source reconnecting and not the paused one", ready.Body)
	}

	r = in.Admin(t, "GET", "/sources?limit=1", nil)
	wantStatus(t, r, http.StatusOK)
	var list struct {
		Data   []sourceAnswer
		Paging struct {
			After   *string
			HasMore bool `json:"has_more"`
		}
	}
	r.JSON(t, &list)
	if len(list.Data) != 1 || list.Data[0].ID != rabbit.ID || !list.Paging.HasMore {
		t.Fatalf("first page %s", r.Body)
	}
	if strings.Contains(string(in.Admin(t, "GET", "/sources", nil).Body), "tok3n-value") {
		t.Fatal("the list shows the NATS token")
	}

	r = in.Admin(t, "PUT", "/sources/"+rabbit.ID, `{"status": "PAUSED"}`)
	wantStatus(t, r, http.StatusOK)
	heraldtest.Eventually(t, 10*time.Second, "the paused source to leave /readyz", func() bool {
		return !strings.Contains(string(in.Do(t, "", "GET", "/readyz", nil).Body), rabbit.ID)
	})
	wantError(t, in.Admin(t, "PUT", "/sources/"+rabbit.ID, `{"status": "STOPPED"}`), http.StatusBadRequest, "invalid_request", "status")
	wantError(t, in.Admin(t, "PUT", "/sources/"+rabbit.ID, `{}`), http.StatusBadRequest, "invalid_request", "status")
	wantError(t, in.Admin(t, "PUT", "/sources/"+rabbit.ID, `{"url": "amqp://x/"}`), http.StatusBadRequest, "invalid_request", "url")

	// Tenant keys may not see or manage sources, not even their tenant's.
	_, publisher := newKey(t, in, tn.ID, "publisher")
	for _, key := range []string{tn.APIKey, publisher} {
		wantError(t, in.Do(t, key, "GET", "/sources/"+rabbit.ID, nil), http.StatusForbidden, "forbidden", "")
		wantError(t, in.Do(t, key, "POST", "/sources", `{"type": "rabbitmq", "url": "amqp://h/", "tenant": "brokers", "queue": "q"}`), http.StatusForbidden, "forbidden", "")
	}

	wantStatus(t, in.Admin(t, "DELETE", "/sources/"+rabbit.ID, nil), http.StatusNoContent)
	for _, req := range [][2]string{{"GET", ""}, {"DELETE", ""}, {"GET", "/rejected"}} {
		wantError(t, in.Admin(t, req[0], "/sources/"+rabbit.ID+req[1], nil), http.StatusNotFound, "not_found", "")
	}
	wantError(t, in.Admin(t, "PUT", "/sources/"+rabbit.ID, `{"status": "ACTIVE"}`), http.StatusNotFound, "not_found", "")
	r = in.Admin(t, "GET", "/sources/"+nats.ID+"/rejected", nil)
	wantStatus(t, r, http.StatusOK)
	if got := strings.TrimSpace(string(r.Body)); got != `{"data":[],"paging":{"after":null,"has_more":false}}` {
		t.Errorf("rejected of a new source = %s", got)
	}
	wantError(t, in.Admin(t, "GET", "/sources/"+nats.ID+"/rejected?after=nope", nil), http.StatusBadRequest, "invalid_request", "after")
}
