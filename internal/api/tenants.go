package api

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/auth"
	"github.com/heraldhq/herald/internal/store"
)

type tenantJSON struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Created string `json:"created"`
	// APIKey is the tenant's first client key, shown only when created.
	APIKey string `json:"api_key,omitempty"`
}

type keyJSON struct {
	ID       string  `json:"id"`
	TenantID string  `json:"tenant_id"`
	Role     string  `json:"role"`
	Prefix   string  `json:"prefix"`
	Created  string  `json:"created"`
	Revoked  *string `json:"revoked"`
	// Key is the secret itself, shown only when created.
	Key string `json:"key,omitempty"`
}

func toKeyJSON(k store.APIKey) keyJSON {
	out := keyJSON{ID: k.ID, TenantID: k.TenantID, Role: string(k.Role), Prefix: k.Prefix, Created: formatTime(k.Created)}
	if k.Revoked != nil {
		r := formatTime(*k.Revoked)
		out.Revoked = &r
	}
	return out
}

func (s *server) createTenant(w http.ResponseWriter, r *http.Request, _ principal) error {
	var in struct {
		Name *string `json:"name"`
	}
	if err := decode(r, &in, false); err != nil {
		return err
	}
	if in.Name == nil {
		return invalid("name", "is required")
	}
	if err := store.CheckTenantName(*in.Name); err != nil {
		return invalid("name", "%v", err)
	}
	now := time.Now().UTC()
	t := store.Tenant{ID: uuid.Must(uuid.NewV7()).String(), Name: *in.Name, Created: now}
	k, key, err := auth.NewAPIKey(t.ID, store.RoleClient, now)
	if err != nil {
		return err
	}
	if err := s.Store.CreateTenant(r.Context(), t, k); err != nil {
		return s.storeError(r, err, "tenant "+t.Name)
	}
	noteCreated(r, t.ID)
	writeJSON(w, http.StatusCreated, tenantJSON{ID: t.ID, Name: t.Name, Created: formatTime(t.Created), APIKey: key})
	return nil
}

func (s *server) listTenants(w http.ResponseWriter, r *http.Request, _ principal) error {
	page, aerr := pageFromQuery(r)
	if aerr != nil {
		return aerr
	}
	ts, paging, err := s.Store.Tenants(r.Context(), page)
	if err != nil {
		return err
	}
	data := make([]tenantJSON, len(ts))
	for i, t := range ts {
		data[i] = tenantJSON{ID: t.ID, Name: t.Name, Created: formatTime(t.Created)}
	}
	writeJSON(w, http.StatusOK, listJSON[tenantJSON]{Data: data, Paging: pagingJSON(paging)})
	return nil
}

func (s *server) getTenant(w http.ResponseWriter, r *http.Request, _ principal) error {
	id := chi.URLParam(r, "id")
	t, err := s.Store.Tenant(r.Context(), id)
	if err != nil {
		return s.storeError(r, err, "tenant "+id)
	}
	writeJSON(w, http.StatusOK, tenantJSON{ID: t.ID, Name: t.Name, Created: formatTime(t.Created)})
	return nil
}

func (s *server) createKey(w http.ResponseWriter, r *http.Request, _ principal) error {
	id := chi.URLParam(r, "id")
	var in struct {
		Role *string `json:"role"`
	}
	if err := decode(r, &in, false); err != nil {
		return err
	}
	if in.Role == nil {
		return invalid("role", "is required")
	}
	role := store.Role(*in.Role)
	if role != store.RoleClient && role != store.RolePublisher {
		return invalid("role", "must be client or publisher")
	}
	t, err := s.Store.Tenant(r.Context(), id)
	if err != nil {
		return s.storeError(r, err, "tenant "+id)
	}
	k, key, err := auth.NewAPIKey(t.ID, role, time.Now().UTC())
	if err != nil {
		return err
	}
	if err := s.Store.CreateAPIKey(r.Context(), k); err != nil {
		return s.storeError(r, err, "tenant "+id)
	}
	noteCreated(r, k.ID)
	out := toKeyJSON(k)
	out.Key = key
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *server) listKeys(w http.ResponseWriter, r *http.Request, _ principal) error {
	id := chi.URLParam(r, "id")
	t, err := s.Store.Tenant(r.Context(), id)
	if err != nil {
		return s.storeError(r, err, "tenant "+id)
	}
	keys, err := s.Store.APIKeys(r.Context(), t.ID)
	if err != nil {
		return err
	}
	data := make([]keyJSON, len(keys))
	for i, k := range keys {
		data[i] = toKeyJSON(k)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
	return nil
}

func (s *server) revokeKey(w http.ResponseWriter, r *http.Request, _ principal) error {
	id := chi.URLParam(r, "id")
	err := s.Store.RevokeAPIKey(r.Context(), id, time.Now().UTC())
	s.creds.forgetKeys()
	if err != nil {
		return s.storeError(r, err, "key "+id)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
