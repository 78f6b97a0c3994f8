package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// CreateTenant stores a tenant and its first API keys in one transaction.
func (s *Store) CreateTenant(ctx context.Context, t store.Tenant, keys ...store.APIKey) error {
	return s.write(ctx, func(tx *tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)`,
			t.ID, t.Name, ms(t.Created)); err != nil {
			if s.d.IsUnique(err) {
				return fmt.Errorf("create tenant %q: %w", t.Name, store.ErrConflict)
			}
			return fmt.Errorf("create tenant: %w", err)
		}
		for _, k := range keys {
			if err := s.insertKey(ctx, tx, k); err != nil {
				return err
			}
		}
		return nil
	})
}

// Tenant finds a tenant by id or, failing that, by name.
func (s *Store) Tenant(ctx context.Context, idOrName string) (store.Tenant, error) {
	var t store.Tenant
	var created int64
	err := s.r.QueryRowContext(ctx, `SELECT id, name, created_at FROM tenants WHERE id = ? OR name = ? ORDER BY id = ? DESC LIMIT 1`,
		idOrName, idOrName, idOrName).Scan(&t.ID, &t.Name, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("tenant %q: %w", idOrName, store.ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("get tenant: %w", err)
	}
	t.Created = fromMS(created)
	return t, nil
}

// Tenants lists tenants in creation order.
func (s *Store) Tenants(ctx context.Context, p store.Page) ([]store.Tenant, store.Paging, error) {
	limit := pageLimit(p)
	rows, err := s.r.QueryContext(ctx, `SELECT id, name, created_at FROM tenants WHERE id > ? ORDER BY id LIMIT ?`, p.After, limit+1)
	if err != nil {
		return nil, store.Paging{}, fmt.Errorf("list tenants: %w", err)
	}
	defer rows.Close()
	var out []store.Tenant
	for rows.Next() {
		var t store.Tenant
		var created int64
		if err := rows.Scan(&t.ID, &t.Name, &created); err != nil {
			return nil, store.Paging{}, fmt.Errorf("list tenants: %w", err)
		}
		t.Created = fromMS(created)
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, store.Paging{}, fmt.Errorf("list tenants: %w", err)
	}
	out, paging := trim(out, limit, func(t store.Tenant) string { return t.ID })
	return out, paging, nil
}

// CreateAPIKey stores a new key of an existing tenant.
func (s *Store) CreateAPIKey(ctx context.Context, k store.APIKey) error {
	return s.write(ctx, func(tx *tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM tenants WHERE id = ?`, k.TenantID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("tenant %q: %w", k.TenantID, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("create api key: %w", err)
		}
		return s.insertKey(ctx, tx, k)
	})
}

func (s *Store) insertKey(ctx context.Context, tx *tx, k store.APIKey) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO api_keys (id, tenant_id, role, hash, prefix, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		k.ID, k.TenantID, string(k.Role), k.Hash, k.Prefix, ms(k.Created))
	if s.d.IsUnique(err) {
		return fmt.Errorf("create api key: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create api key: %w", err)
	}
	return nil
}

// APIKeyByHash finds the unrevoked key whose hash is hash.
func (s *Store) APIKeyByHash(ctx context.Context, hash string) (store.APIKey, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, tenant_id, role, hash, prefix, created_at, revoked_at FROM api_keys WHERE hash = ? AND revoked_at IS NULL`, hash)
	if err != nil {
		return store.APIKey{}, fmt.Errorf("find api key: %w", err)
	}
	keys, err := scanKeys(rows)
	if err != nil {
		return store.APIKey{}, err
	}
	if len(keys) == 0 {
		return store.APIKey{}, fmt.Errorf("api key: %w", store.ErrNotFound)
	}
	return keys[0], nil
}

// APIKeys lists a tenant's keys (revoked ones included) in creation order;
// an empty tenantID lists every key.
func (s *Store) APIKeys(ctx context.Context, tenantID string) ([]store.APIKey, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, tenant_id, role, hash, prefix, created_at, revoked_at FROM api_keys
		WHERE ? = '' OR tenant_id = ? ORDER BY created_at, id`, tenantID, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	return scanKeys(rows)
}

func scanKeys(rows *sql.Rows) ([]store.APIKey, error) {
	defer rows.Close()
	var out []store.APIKey
	for rows.Next() {
		var k store.APIKey
		var role string
		var created int64
		var revoked sql.NullInt64
		if err := rows.Scan(&k.ID, &k.TenantID, &role, &k.Hash, &k.Prefix, &created, &revoked); err != nil {
			return nil, fmt.Errorf("scan api key: %w", err)
		}
		k.Role = store.Role(role)
		k.Created = fromMS(created)
		if revoked.Valid {
			t := fromMS(revoked.Int64)
			k.Revoked = &t
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("scan api keys: %w", err)
	}
	return out, nil
}

// RevokeAPIKey revokes a key; revoking twice is not an error.
func (s *Store) RevokeAPIKey(ctx context.Context, id string, now time.Time) error {
	return s.write(ctx, func(tx *tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, ms(now), id)
		if err != nil {
			return fmt.Errorf("revoke api key: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("api key %q: %w", id, store.ErrNotFound)
		}
		return nil
	})
}

// trim cuts a listing fetched with one extra row down to limit and says
// where the next page starts.
func trim[T any](items []T, limit int, id func(T) string) ([]T, store.Paging) {
	if len(items) <= limit {
		p := store.Paging{}
		if len(items) > 0 {
			p.After = id(items[len(items)-1])
		}
		return items, p
	}
	items = items[:limit]
	return items, store.Paging{After: id(items[limit-1]), HasMore: true}
}
