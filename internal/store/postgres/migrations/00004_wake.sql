-- +goose Up
-- The earliest time (ms) a claim for the webhook may find work: a lower
-- bound that every write making work due sooner lowers, and a claim that
-- exhausts the webhook's due work raises to its next due time, lease expiry,
-- circuit probe or rate-limit refill. Dispatchers look only at webhooks whose
-- wake time has come, so a pass costs what is due, not what is registered.
ALTER TABLE webhooks ADD COLUMN wake_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX webhooks_wake ON webhooks (wake_at) WHERE deleted_at IS NULL AND status = 'ACTIVE';

-- +goose Down
DROP INDEX webhooks_wake;
ALTER TABLE webhooks DROP COLUMN wake_at;
