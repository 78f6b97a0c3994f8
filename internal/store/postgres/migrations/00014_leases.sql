-- +goose Up
-- Leases in a table of their own (sqlstore's leases.go): a claim inserts a
-- narrow row here instead of updating the notification, whose new version
-- would have needed an entry in every index of notifications. A replica
-- still running an older Herald fails its claims from here on instead of
-- leasing unseen by the others: stop every replica before upgrading.
CREATE TABLE leases (
    notification_id  TEXT PRIMARY KEY,
    webhook_id       TEXT NOT NULL,
    lease_owner      TEXT NOT NULL,
    lease_token      TEXT NOT NULL,
    lease_expires_at BIGINT NOT NULL
);
-- Live leases by webhook (max_in_flight across replicas), and the first to
-- run out (wake times).
CREATE INDEX leases_webhook ON leases (webhook_id, lease_expires_at);
INSERT INTO leases (notification_id, webhook_id, lease_owner, lease_token, lease_expires_at)
    SELECT id, webhook_id, lease_owner, lease_token, lease_expires_at FROM notifications
    WHERE lease_owner IS NOT NULL AND status = 'PENDING';
DROP INDEX notifications_leased;
ALTER TABLE notifications DROP COLUMN lease_owner, DROP COLUMN lease_token, DROP COLUMN lease_expires_at;

-- +goose Down
ALTER TABLE notifications ADD COLUMN lease_owner TEXT, ADD COLUMN lease_token TEXT,
    ADD COLUMN lease_expires_at BIGINT NOT NULL DEFAULT 0;
UPDATE notifications AS n SET lease_owner = l.lease_owner, lease_token = l.lease_token, lease_expires_at = l.lease_expires_at
    FROM leases AS l WHERE l.notification_id = n.id;
CREATE INDEX notifications_leased ON notifications (webhook_id, lease_expires_at) WHERE lease_owner IS NOT NULL;
DROP TABLE leases;
