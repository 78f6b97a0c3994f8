package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

const webhookColumns = `id, tenant_id, endpoint, events, status, config, secret, previous_secret, previous_secret_until, created_at, modified_at,
	consecutive_failures, failing_since, circuit_open_until, last_success_at, last_failure_at, content_filter`

// CreateWebhook stores a new webhook unless its tenant already has
// maxPerTenant of them (0: no limit).
func (s *Store) CreateWebhook(ctx context.Context, w store.Webhook, maxPerTenant int) error {
	enc, err := s.encodeWebhook(w)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *tx) error {
		if maxPerTenant > 0 {
			// Lock the tenant so concurrent creates count one at a time.
			var id string
			if err := tx.QueryRowContext(ctx, `SELECT id FROM tenants WHERE id = ?`+s.d.ForUpdate, w.TenantID).Scan(&id); err != nil {
				return fmt.Errorf("lock tenant: %w", err)
			}
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM webhooks WHERE tenant_id = ? AND deleted_at IS NULL`, w.TenantID).Scan(&n); err != nil {
				return fmt.Errorf("count webhooks: %w", err)
			}
			if n >= maxPerTenant {
				return fmt.Errorf("tenant has %d webhooks: %w", n, store.ErrLimit)
			}
		}
		// A new webhook has nothing pending: nothing to wake for.
		_, err := tx.ExecContext(ctx, `INSERT INTO webhooks (`+webhookColumns+`, wake_at, client_cert_expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			w.ID, w.TenantID, w.Endpoint, enc.events, w.Status, enc.config, enc.secret, enc.previous, ms(w.PreviousSecretUntil), ms(w.Created), ms(w.Modified),
			w.Health.ConsecutiveFailures, ms(w.Health.FailingSince), ms(w.Health.CircuitOpenUntil), ms(w.Health.LastSuccess), ms(w.Health.LastFailure), enc.filter, neverWake,
			ms(certExpires(w)))
		if err != nil {
			return fmt.Errorf("create webhook: %w", err)
		}
		return nil
	})
}

// Webhook returns one of a tenant's webhooks.
func (s *Store) Webhook(ctx context.Context, tenantID, id string) (store.Webhook, error) {
	return s.getWebhook(ctx, s.r, tenantID, id, "")
}

// getWebhook reads one webhook; lock is the dialect's row lock clause when
// the caller is about to change it.
func (s *Store) getWebhook(ctx context.Context, q queryer, tenantID, id, lock string) (store.Webhook, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE id = ? AND tenant_id = ? AND deleted_at IS NULL`+lock, id, tenantID)
	if err != nil {
		return store.Webhook{}, fmt.Errorf("get webhook: %w", err)
	}
	ws, err := s.scanWebhooks(rows)
	if err != nil {
		return store.Webhook{}, err
	}
	if len(ws) == 0 {
		return store.Webhook{}, fmt.Errorf("webhook %q: %w", id, store.ErrNotFound)
	}
	return ws[0], nil
}

// Webhooks lists a tenant's webhooks in creation order.
func (s *Store) Webhooks(ctx context.Context, tenantID string, p store.Page) ([]store.Webhook, store.Paging, error) {
	limit := pageLimit(p)
	rows, err := s.r.QueryContext(ctx, `SELECT `+webhookColumns+` FROM webhooks
		WHERE tenant_id = ? AND deleted_at IS NULL AND id > ? ORDER BY id LIMIT ?`, tenantID, p.After, limit+1)
	if err != nil {
		return nil, store.Paging{}, fmt.Errorf("list webhooks: %w", err)
	}
	ws, err := s.scanWebhooks(rows)
	if err != nil {
		return nil, store.Paging{}, err
	}
	ws, paging := trim(ws, limit, func(w store.Webhook) string { return w.ID })
	return ws, paging, nil
}

// UpdateWebhook applies change to a webhook inside one transaction, so that
// concurrent updates and secret rotations never lose each other's writes.
// change may return an error to abandon the update.
func (s *Store) UpdateWebhook(ctx context.Context, tenantID, id string, change func(*store.Webhook) error) (store.Webhook, error) {
	var out store.Webhook
	err := s.write(ctx, func(tx *tx) error {
		w, err := s.getWebhook(ctx, tx, tenantID, id, s.d.ForUpdate)
		if err != nil {
			return err
		}
		if err := change(&w); err != nil {
			return err
		}
		enc, err := s.encodeWebhook(w)
		if err != nil {
			return err
		}
		h := w.Health
		_, err = tx.ExecContext(ctx, `UPDATE webhooks SET endpoint = ?, events = ?, status = ?, config = ?, secret = ?,
			previous_secret = ?, previous_secret_until = ?, modified_at = ?, consecutive_failures = ?, failing_since = ?,
			circuit_open_until = ?, content_filter = ?, wake_at = 0, client_cert_expires_at = ? WHERE id = ? AND tenant_id = ?`,
			w.Endpoint, enc.events, w.Status, enc.config, enc.secret, enc.previous, ms(w.PreviousSecretUntil), ms(w.Modified),
			h.ConsecutiveFailures, ms(h.FailingSince), ms(h.CircuitOpenUntil), enc.filter, ms(certExpires(w)), id, tenantID)
		if err != nil {
			return fmt.Errorf("update webhook: %w", err)
		}
		out = w
		return s.notify(ctx, tx) // a re-enabled webhook may have work waiting
	})
	return out, err
}

// DeleteWebhook removes a webhook and cancels its pending notifications in
// one transaction. Its delivered and expired notifications stay searchable.
func (s *Store) DeleteWebhook(ctx context.Context, tenantID, id string, now time.Time) (cancelled int, err error) {
	err = s.write(ctx, func(tx *tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE webhooks SET deleted_at = ?, modified_at = ? WHERE id = ? AND tenant_id = ? AND deleted_at IS NULL`,
			ms(now), ms(now), id, tenantID)
		if err != nil {
			return fmt.Errorf("delete webhook: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("webhook %q: %w", id, store.ErrNotFound)
		}
		res, err = tx.ExecContext(ctx, `UPDATE notifications SET status = 'CANCELLED', lease_owner = NULL, lease_token = NULL,
			lease_expires_at = 0, modified_at = ? WHERE webhook_id = ? AND status = 'PENDING'`, ms(now), id)
		if err != nil {
			return fmt.Errorf("cancel notifications: %w", err)
		}
		n, _ := res.RowsAffected()
		cancelled = int(n)
		return nil
	})
	return cancelled, err
}

// certExpires is when w's client certificate expires (zero: it has none).
func certExpires(w store.Webhook) time.Time {
	if w.Config.TLS == nil {
		return time.Time{}
	}
	return w.Config.TLS.ClientCertificateExpires
}

// encodedWebhook is a webhook's columns as stored: its config (which holds
// passwords, client secrets and header values) and signing secrets sealed
// when the store has a Sealer; its content filter in clear ("" for none).
type encodedWebhook struct {
	events           []byte
	config           string
	secret, previous string
	filter           string
}

func (s *Store) encodeWebhook(w store.Webhook) (encodedWebhook, error) {
	events, err := json.Marshal(w.Events)
	if err != nil {
		return encodedWebhook{}, fmt.Errorf("encode webhook events: %w", err)
	}
	config, err := json.Marshal(w.Config)
	if err != nil {
		return encodedWebhook{}, fmt.Errorf("encode webhook config: %w", err)
	}
	filter, err := encodeFilter(w.Config.Filter)
	if err != nil {
		return encodedWebhook{}, err
	}
	enc := encodedWebhook{events: events, config: string(config), secret: w.Secret, previous: w.PreviousSecret, filter: filter}
	if s.seal != nil {
		aad := []byte(w.ID)
		enc.config = s.seal.Seal(config, aad)
		enc.secret = s.seal.Seal([]byte(w.Secret), aad)
		if w.PreviousSecret != "" {
			enc.previous = s.seal.Seal([]byte(w.PreviousSecret), aad)
		}
	}
	return enc, nil
}

// open decrypts a stored column of webhook id (as it is without a Sealer).
func (s *Store) open(value, id string) ([]byte, error) {
	if s.seal == nil || value == "" {
		return []byte(value), nil
	}
	plain, err := s.seal.Open(value, []byte(id))
	if err != nil {
		return nil, fmt.Errorf("decrypt secrets of webhook %s: %w", id, err)
	}
	return plain, nil
}

func (s *Store) scanWebhooks(rows *sql.Rows) ([]store.Webhook, error) {
	defer rows.Close()
	var out []store.Webhook
	for rows.Next() {
		var w store.Webhook
		var events []byte
		var config, secret, previous, filter string
		var prevUntil, created, modified, failingSince, openUntil, lastOK, lastFail int64
		if err := rows.Scan(&w.ID, &w.TenantID, &w.Endpoint, &events, &w.Status, &config, &secret,
			&previous, &prevUntil, &created, &modified,
			&w.Health.ConsecutiveFailures, &failingSince, &openUntil, &lastOK, &lastFail, &filter); err != nil {
			return nil, fmt.Errorf("scan webhook: %w", err)
		}
		if err := json.Unmarshal(events, &w.Events); err != nil {
			return nil, fmt.Errorf("decode webhook %s events: %w", w.ID, err)
		}
		plainConfig, err := s.open(config, w.ID)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(plainConfig, &w.Config); err != nil {
			return nil, fmt.Errorf("decode webhook %s config: %w", w.ID, err)
		}
		if w.Config.Filter, err = decodeFilter(w.ID, filter); err != nil {
			return nil, err
		}
		for _, c := range []struct {
			dst    *string
			sealed string
		}{{&w.Secret, secret}, {&w.PreviousSecret, previous}} {
			plain, err := s.open(c.sealed, w.ID)
			if err != nil {
				return nil, err
			}
			*c.dst = string(plain)
		}
		w.PreviousSecretUntil = fromMS(prevUntil)
		w.Health.FailingSince, w.Health.CircuitOpenUntil = fromMS(failingSince), fromMS(openUntil)
		w.Health.LastSuccess, w.Health.LastFailure = fromMS(lastOK), fromMS(lastFail)
		w.Created = fromMS(created)
		w.Modified = fromMS(modified)
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("scan webhooks: %w", err)
	}
	return out, nil
}
