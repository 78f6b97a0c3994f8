package sqlstore

import (
	"context"
	"fmt"
)

// Reseal rewrites every webhook's secrets (deleted webhooks included) with
// the Sealer's current key, in small transactions, and says how many it
// rewrote. Run it after adding a new key in front of the keyring; then the
// old key can be dropped.
func (s *Store) Reseal(ctx context.Context) (int, error) {
	if s.seal == nil {
		return 0, fmt.Errorf("reseal: the store has no encryption key")
	}
	n, after := 0, ""
	for {
		rows, err := s.r.QueryContext(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE id > ? ORDER BY id LIMIT 100`, after)
		if err != nil {
			return n, fmt.Errorf("reseal: %w", err)
		}
		hooks, err := s.scanWebhooks(rows)
		if err != nil {
			return n, fmt.Errorf("reseal: %w", err)
		}
		if len(hooks) == 0 {
			return n, nil
		}
		err = s.write(ctx, func(tx *tx) error {
			for _, w := range hooks {
				enc, err := s.encodeWebhook(w)
				if err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, `UPDATE webhooks SET config = ?, secret = ?, previous_secret = ? WHERE id = ?`,
					enc.config, enc.secret, enc.previous, w.ID); err != nil {
					return fmt.Errorf("reseal webhook %s: %w", w.ID, err)
				}
			}
			return nil
		})
		if err != nil {
			return n, err
		}
		n += len(hooks)
		after = hooks[len(hooks)-1].ID
	}
}

// CheckSecrets opens the secrets of one webhook, so that a process started
// with the wrong encryption key fails at once instead of at its first
// delivery.
func (s *Store) CheckSecrets(ctx context.Context) error {
	rows, err := s.r.QueryContext(ctx, `SELECT `+webhookColumns+` FROM webhooks ORDER BY id DESC LIMIT 1`)
	if err != nil {
		return fmt.Errorf("check secrets: %w", err)
	}
	if _, err := s.scanWebhooks(rows); err != nil {
		return fmt.Errorf("the encryption key does not open the stored webhook secrets (set %s to the key they were written with): %w", "HERALD_ENCRYPTION_KEY", err)
	}
	return nil
}
