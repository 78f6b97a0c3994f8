// Package tracing sets up OpenTelemetry tracing when
// OTEL_EXPORTER_OTLP_ENDPOINT is set: spans go to that OTLP/HTTP collector,
// and trace context follows an event from its publish to every delivery
// attempt and into the outgoing request (the traceparent header).
package tracing

import (
	"context"
	"fmt"
	"os"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// EnvEndpoint turns tracing on.
const EnvEndpoint = "OTEL_EXPORTER_OTLP_ENDPOINT"

// Propagator reads and writes the W3C trace context (traceparent).
var Propagator = propagation.TraceContext{}

// Tracing is a tracer provider and how to flush it at shutdown.
type Tracing struct {
	Provider trace.TracerProvider
	// Enabled is false for the no-op provider (nothing to instrument).
	Enabled  bool
	shutdown func(context.Context) error
}

// Setup returns tracing exporting to the OTLP endpoint of the environment
// (the standard OTEL_* variables configure it), or a no-op one when
// OTEL_EXPORTER_OTLP_ENDPOINT is unset.
func Setup(ctx context.Context, version string) (*Tracing, error) {
	if os.Getenv(EnvEndpoint) == "" {
		return &Tracing{Provider: noop.NewTracerProvider(), shutdown: func(context.Context) error { return nil }}, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("otlp exporter: %w", err)
	}
	res := resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName("herald"), semconv.ServiceVersion(version))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return &Tracing{Provider: tp, Enabled: true, shutdown: tp.Shutdown}, nil
}

// New wraps a provider someone else built (tests use an in-memory one).
func New(tp trace.TracerProvider, shutdown func(context.Context) error) *Tracing {
	if shutdown == nil {
		shutdown = func(context.Context) error { return nil }
	}
	return &Tracing{Provider: tp, Enabled: true, shutdown: shutdown}
}

// Shutdown flushes the spans not yet exported.
func (t *Tracing) Shutdown(ctx context.Context) error { return t.shutdown(ctx) }

// Traceparent is the W3C traceparent of ctx's span ("" when none), to be
// stored with an event so its deliveries join the publish trace.
func Traceparent(ctx context.Context) string {
	c := propagation.MapCarrier{}
	Propagator.Inject(ctx, c)
	return c["traceparent"]
}

// FromTraceparent returns ctx carrying the remote span of a stored
// traceparent.
func FromTraceparent(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return Propagator.Extract(ctx, propagation.MapCarrier{"traceparent": traceparent})
}
