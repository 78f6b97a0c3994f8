-- +goose Up
-- Live leases per webhook, counted at every claim to bound max_in_flight.
CREATE INDEX notifications_leased ON notifications (webhook_id, lease_expires_at) WHERE lease_owner IS NOT NULL;

-- +goose Down
DROP INDEX notifications_leased;
