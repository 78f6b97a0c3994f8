package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/auth"
	"github.com/heraldhq/herald/internal/store"
)

// DefaultTenant is created on first start; admin keys act on it unless a
// request names another tenant.
const DefaultTenant = "default"

// AdminKeyFile is where a generated admin key is written (mode 0600).
const AdminKeyFile = "admin.key"

// bootstrap makes sure the default tenant and an admin key exist. A key
// given in the configuration is registered if new; otherwise, when no admin
// key exists yet, one is generated, printed once and written to admin.key.
func bootstrap(ctx context.Context, st Backend, cfg Config) error {
	if l, ok := st.(interface {
		Lock(ctx context.Context, name string) (func(), error)
	}); ok {
		unlock, err := l.Lock(ctx, "herald-bootstrap")
		if err != nil {
			return fmt.Errorf("bootstrap: %w", err)
		}
		defer unlock()
	}
	now := time.Now().UTC()
	t, err := st.Tenant(ctx, DefaultTenant)
	if errors.Is(err, store.ErrNotFound) {
		t = store.Tenant{ID: uuid.Must(uuid.NewV7()).String(), Name: DefaultTenant, Created: now}
		if err := st.CreateTenant(ctx, t); err != nil {
			return fmt.Errorf("create default tenant: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if cfg.AdminKey != "" {
		if _, err := st.APIKeyByHash(ctx, auth.Hash(cfg.AdminKey)); err == nil {
			return nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("bootstrap: %w", err)
		}
		k := store.APIKey{ID: uuid.Must(uuid.NewV7()).String(), TenantID: t.ID, Role: store.RoleAdmin,
			Hash: auth.Hash(cfg.AdminKey), Prefix: auth.Prefix(cfg.AdminKey), Created: now}
		if err := st.CreateAPIKey(ctx, k); err != nil {
			return fmt.Errorf("register admin key: %w", err)
		}
		return nil
	}
	keys, err := st.APIKeys(ctx, t.ID)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	for _, k := range keys {
		if k.Role == store.RoleAdmin && k.Revoked == nil {
			return nil
		}
	}
	k, key, err := auth.NewAPIKey(t.ID, store.RoleAdmin, now)
	if err != nil {
		return err
	}
	path := filepath.Join(cfg.DataDir, AdminKeyFile)
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := st.CreateAPIKey(ctx, k); err != nil {
		return fmt.Errorf("store admin key: %w", err)
	}
	fmt.Fprintf(cfg.Out, "Herald admin API key (shown once; also written to %s):\n\n    %s\n\n", path, key)
	return nil
}
