-- +goose NO TRANSACTION
-- +goose Up
-- A tenant's events in publish order, for replays of a time window: the
-- walk costs the tenant's events of the window, not every tenant's. Built
-- concurrently, so that an upgrade does not hold publishes up while it
-- reads a large events table.
CREATE INDEX CONCURRENTLY IF NOT EXISTS events_tenant_created ON events (tenant_id, created_at, id);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS events_tenant_created;
