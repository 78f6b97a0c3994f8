package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// Counts returns the totals of notifications by status, webhooks by state
// and client certificates expired or expiring as of now, for monitoring. It counts whole tables: call it seldom (the metrics
// collector caches it).
func (s *Store) Counts(ctx context.Context) (store.Counts, error) {
	c := store.Counts{Notifications: map[string]int{}}
	rows, err := s.r.QueryContext(ctx, `SELECT status, count(*) FROM notifications GROUP BY status`)
	if err != nil {
		return c, fmt.Errorf("count notifications: %w", err)
	}
	for rows.Next() {
		var status string
		var n int
		if err := rows.Scan(&status, &n); err != nil {
			rows.Close()
			return c, fmt.Errorf("count notifications: %w", err)
		}
		c.Notifications[status] = n
	}
	if err := rows.Close(); err != nil {
		return c, fmt.Errorf("count notifications: %w", err)
	}
	err = s.r.QueryRowContext(ctx, `SELECT
			COALESCE(SUM(CASE WHEN status = 'ACTIVE' AND consecutive_failures < ? THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN status = 'ACTIVE' AND consecutive_failures >= ? THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN status = 'DISABLED' THEN 1 ELSE 0 END), 0)
		FROM webhooks WHERE deleted_at IS NULL`, store.CircuitThreshold, store.CircuitThreshold).
		Scan(&c.WebhooksActive, &c.WebhooksFailing, &c.WebhooksDisabled)
	if err != nil {
		return c, fmt.Errorf("count webhooks: %w", err)
	}
	now := time.Now()
	err = s.r.QueryRowContext(ctx, `SELECT
			COALESCE(SUM(CASE WHEN client_cert_expires_at <= ? THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN client_cert_expires_at > ? THEN 1 ELSE 0 END), 0)
		FROM webhooks WHERE deleted_at IS NULL AND client_cert_expires_at > 0 AND client_cert_expires_at <= ?`,
		ms(now), ms(now), ms(now.Add(store.CertificateWarning))).Scan(&c.CertificatesExpired, &c.CertificatesExpiring)
	if err != nil {
		return c, fmt.Errorf("count client certificates: %w", err)
	}
	return c, nil
}
