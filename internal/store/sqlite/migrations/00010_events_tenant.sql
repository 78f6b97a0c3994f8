-- +goose Up
-- A tenant's events in publish order, for replays of a time window: the
-- walk costs the tenant's events of the window, not every tenant's.
CREATE INDEX events_tenant_created ON events (tenant_id, created_at, id);

-- +goose Down
DROP INDEX events_tenant_created;
