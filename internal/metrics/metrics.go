// Package metrics exposes Herald's Prometheus metrics (SPEC section 5):
// events published, attempts by outcome, delivery latency, attempts in
// flight, and, read from the store at scrape time, notifications by status
// (the queue depth) and webhooks by circuit state.
package metrics

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/heraldhq/herald/internal/store"
)

// Source reads the totals that are cheaper to count than to track.
type Source interface {
	Counts(ctx context.Context) (store.Counts, error)
}

// Metrics holds Herald's collectors on a registry of its own.
type Metrics struct {
	reg             *prometheus.Registry
	published       *prometheus.CounterVec
	notifications   prometheus.Counter
	attempts        *prometheus.CounterVec
	attemptDuration prometheus.Histogram
	latency         prometheus.Histogram
	inFlight        prometheus.Gauge
	setAside        prometheus.Counter
	sources         sourceMetrics
}

// New builds the collectors; counts of notifications and webhooks come from
// src, at most once per cacheFor (scrapes in between see the last counts).
func New(src Source, cacheFor time.Duration) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_events_published_total", Help: "Events accepted for delivery, by event name.",
		}, []string{"event"}),
		notifications: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_notifications_created_total", Help: "Notifications created by published events (one per subscribed webhook).",
		}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_attempts_total", Help: "Delivery attempts by outcome: delivered, the error kind (timeout, http_status, ...), or abandoned at shutdown.",
		}, []string{"outcome"}),
		attemptDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "herald_attempt_duration_seconds", Help: "Duration of delivery attempts.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "herald_delivery_latency_seconds", Help: "Time from publish to successful delivery.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5, 30, 300, 3600, 86400},
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "herald_attempts_in_flight", Help: "Delivery attempts under way in this process.",
		}),
		setAside: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_results_set_aside_total",
			Help: "Attempt results that could not be recorded even alone (logged; their notifications are tried again when the lease runs out).",
		}),
	}
	m.reg.MustRegister(m.published, m.notifications, m.attempts, m.attemptDuration, m.latency, m.inFlight, m.setAside,
		&counts{src: src, cacheFor: cacheFor},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.sources = newSourceMetrics(m.reg)
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Published records an accepted event and the notifications it made.
func (m *Metrics) Published(event string, notifications int) {
	m.published.WithLabelValues(event).Inc()
	m.notifications.Add(float64(notifications))
}

// AttemptStarted records an attempt going out.
func (m *Metrics) AttemptStarted() { m.inFlight.Inc() }

// AttemptFinished records an attempt's outcome ("delivered" or the error
// kind), its duration and, when delivered, the time since publish.
func (m *Metrics) AttemptFinished(outcome string, took, sincePublish time.Duration) {
	m.inFlight.Dec()
	m.attempts.WithLabelValues(outcome).Inc()
	m.attemptDuration.Observe(took.Seconds())
	if outcome == "delivered" {
		m.latency.Observe(sincePublish.Seconds())
	}
}

// ResultsSetAside records attempt results the store could not record.
func (m *Metrics) ResultsSetAside(n int) { m.setAside.Add(float64(n)) }

// counts collects the store's totals, cached between scrapes.
type counts struct {
	src      Source
	cacheFor time.Duration

	mu   sync.Mutex
	at   time.Time
	last store.Counts
}

var (
	notificationsDesc = prometheus.NewDesc("herald_notifications", "Notifications by status (PENDING is the queue depth).", []string{"status"}, nil)
	webhooksDesc      = prometheus.NewDesc("herald_webhooks", "Webhooks by state: active (circuit closed), failing (circuit open), disabled.", []string{"state"}, nil)
	countsUpDesc      = prometheus.NewDesc("herald_store_up", "Whether the last count from the store succeeded.", nil, nil)
	certsDesc         = prometheus.NewDesc("herald_client_certificates",
		"Client certificates of webhooks (config.tls) that have expired, or expire within 30 days.", []string{"state"}, nil)
)

func (c *counts) Describe(ch chan<- *prometheus.Desc) {
	ch <- notificationsDesc
	ch <- webhooksDesc
	ch <- countsUpDesc
	ch <- certsDesc
}

func (c *counts) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	up := 1.0
	if time.Since(c.at) >= c.cacheFor {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		got, err := c.src.Counts(ctx)
		cancel()
		if err != nil {
			up = 0
		} else {
			c.last, c.at = got, time.Now()
		}
	}
	ch <- prometheus.MustNewConstMetric(countsUpDesc, prometheus.GaugeValue, up)
	for _, s := range []string{store.StatusPending, store.StatusDelivered, store.StatusExpired, store.StatusCancelled} {
		ch <- prometheus.MustNewConstMetric(notificationsDesc, prometheus.GaugeValue, float64(c.last.Notifications[s]), s)
	}
	for state, n := range map[string]int{"active": c.last.WebhooksActive, "failing": c.last.WebhooksFailing, "disabled": c.last.WebhooksDisabled} {
		ch <- prometheus.MustNewConstMetric(webhooksDesc, prometheus.GaugeValue, float64(n), state)
	}
	ch <- prometheus.MustNewConstMetric(certsDesc, prometheus.GaugeValue, float64(c.last.CertificatesExpired), "expired")
	ch <- prometheus.MustNewConstMetric(certsDesc, prometheus.GaugeValue, float64(c.last.CertificatesExpiring), "expiring")
}
