package metrics

import "github.com/prometheus/client_golang/prometheus"

// sourceMetrics count what the broker sources consumed.
type sourceMetrics struct {
	messages  *prometheus.CounterVec
	connected *prometheus.GaugeVec
}

func newSourceMetrics(reg *prometheus.Registry) sourceMetrics {
	m := sourceMetrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_source_messages_total",
			Help: "Broker messages consumed by this process, by source and outcome: published, duplicate (its message id was published already) or rejected (dead-lettered).",
		}, []string{"source", "outcome"}),
		connected: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "herald_source_connected", Help: "Whether this process's connection to a source's broker is up (1) or being re-established (0).",
		}, []string{"source"}),
	}
	reg.MustRegister(m.messages, m.connected)
	return m
}

// SourceMessages counts n messages of a source by outcome.
func (m *Metrics) SourceMessages(sourceID, outcome string, n int) {
	m.sources.messages.WithLabelValues(sourceID, outcome).Add(float64(n))
}

// SourceConnected reports a source's connection; removed drops the source's
// series (it was paused or deleted).
func (m *Metrics) SourceConnected(sourceID string, connected, removed bool) {
	if removed {
		m.sources.connected.DeleteLabelValues(sourceID)
		for _, o := range []string{"published", "duplicate", "rejected"} {
			m.sources.messages.DeleteLabelValues(sourceID, o)
		}
		return
	}
	v := 0.0
	if connected {
		v = 1
	}
	m.sources.connected.WithLabelValues(sourceID).Set(v)
}
