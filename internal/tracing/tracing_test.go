package tracing_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/tracing"
)

// TestTraceFollowsEventToReceiver: the publish request's span is the parent
// of the delivery attempt's span, and the receiver gets a traceparent of
// the same trace.
func TestTraceFollowsEventToReceiver(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	in := heraldtest.Start(t, heraldtest.Options{Tracing: tracing.New(tp, tp.Shutdown)})
	var mu sync.Mutex
	var got string
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = r.Header.Get("traceparent")
		mu.Unlock()
	}))
	defer rc.Close()
	if r := in.Admin(t, "POST", "/webhooks", map[string]any{"endpoint": rc.URL, "events": []string{"*"}}); r.Status != http.StatusCreated {
		t.Fatal(string(r.Body))
	}
	if r := in.Admin(t, "POST", "/events", `{"event":"PIN_CHANGE","card_id":"c1"}`); r.Status != http.StatusAccepted {
		t.Fatal(string(r.Body))
	}
	heraldtest.Eventually(t, 5*time.Second, "the delivery span", func() bool {
		for _, s := range exp.GetSpans() {
			if s.Name == "herald.deliver" {
				return true
			}
		}
		return false
	})
	var publish, deliver tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		switch {
		case s.Name == "herald.deliver":
			deliver = s
		case s.SpanKind.String() == "server" && strings.Contains(spanAttr(s, "url.path"), "/events"):
			publish = s
		}
	}
	if !publish.SpanContext.IsValid() {
		t.Fatalf("no server span for POST /events among %d spans", len(exp.GetSpans()))
	}
	if deliver.SpanContext.TraceID() != publish.SpanContext.TraceID() || deliver.Parent.SpanID() != publish.SpanContext.SpanID() {
		t.Errorf("delivery span %s (parent %s) is not a child of the publish span %s",
			deliver.SpanContext.TraceID(), deliver.Parent.SpanID(), publish.SpanContext.SpanID())
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(got, publish.SpanContext.TraceID().String()) || !strings.Contains(got, deliver.SpanContext.SpanID().String()) {
		t.Errorf("receiver's traceparent %q, want trace %s and the delivery span %s", got,
			publish.SpanContext.TraceID(), deliver.SpanContext.SpanID())
	}
}

func spanAttr(s tracetest.SpanStub, key string) string {
	for _, a := range s.Attributes {
		if string(a.Key) == key {
			return a.Value.String()
		}
	}
	return ""
}

// TestSetupExportsToTheEnvironmentEndpoint: with OTEL_EXPORTER_OTLP_ENDPOINT
// set, spans reach that collector over OTLP/HTTP; without it, tracing is off.
func TestSetupExportsToTheEnvironmentEndpoint(t *testing.T) {
	off, err := tracing.Setup(context.Background(), "test")
	if err != nil || off.Enabled {
		t.Fatalf("without %s: enabled %v, %v", tracing.EnvEndpoint, off.Enabled, err)
	}
	var mu sync.Mutex
	var paths []string
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.Method+" "+r.URL.Path)
		mu.Unlock()
	}))
	defer collector.Close()
	t.Setenv(tracing.EnvEndpoint, collector.URL)
	tr, err := tracing.Setup(context.Background(), "test")
	if err != nil || !tr.Enabled {
		t.Fatalf("Setup: %v", err)
	}
	_, span := tr.Provider.Tracer("t").Start(context.Background(), "hello")
	span.End()
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatalf("flush: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(paths) == 0 || paths[0] != "POST /v1/traces" {
		t.Errorf("collector got %v, want POST /v1/traces", paths)
	}
}
