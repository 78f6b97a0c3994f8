-- +goose Up
-- A claim leases a notification by setting its lease columns. While an
-- index covered them (notifications_leased, which counted each webhook's
-- live leases across replicas), every lease was a new version of the row in
-- all of its indexes; without one it is a heap-only (HOT) update, on the
-- row's own page. The live leases are counted in these two tables instead
-- (sqlstore's leaserows.go): per webhook and dispatcher, what its claims
-- and hand-offs leased and until when, and how many results it recorded
-- under them. A replica of an earlier version, which counts leases through
-- the dropped index, must not run beside this one.
CREATE TABLE webhook_leases (
    webhook_id TEXT NOT NULL,
    owner      TEXT NOT NULL,
    taken      BIGINT NOT NULL,
    until_at   BIGINT NOT NULL,
    PRIMARY KEY (webhook_id, owner)
);
CREATE TABLE webhook_lease_ends (
    webhook_id TEXT NOT NULL,
    owner      TEXT NOT NULL,
    ended      BIGINT NOT NULL,
    PRIMARY KEY (webhook_id, owner)
);
DROP INDEX notifications_leased;
-- Room on each page for the leased version of its rows, so that the HOT
-- update needs no other page (new pages only; a notification row is about
-- 250 bytes).
ALTER TABLE notifications SET (fillfactor = 80);

-- +goose Down
ALTER TABLE notifications RESET (fillfactor);
CREATE INDEX notifications_leased ON notifications (webhook_id, lease_expires_at) WHERE lease_owner IS NOT NULL;
DROP TABLE webhook_lease_ends;
DROP TABLE webhook_leases;
