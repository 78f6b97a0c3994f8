-- +goose Up
-- Circuit breaker and auto-disable state, shared by every replica.
ALTER TABLE webhooks ADD COLUMN consecutive_failures BIGINT NOT NULL DEFAULT 0;
ALTER TABLE webhooks ADD COLUMN failing_since BIGINT NOT NULL DEFAULT 0;
ALTER TABLE webhooks ADD COLUMN circuit_open_until BIGINT NOT NULL DEFAULT 0;
ALTER TABLE webhooks ADD COLUMN last_success_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE webhooks ADD COLUMN last_failure_at BIGINT NOT NULL DEFAULT 0;
-- Token bucket of rate_limit_per_second, shared by every replica.
ALTER TABLE webhooks ADD COLUMN rate_tokens DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE webhooks ADD COLUMN rate_updated_at BIGINT NOT NULL DEFAULT 0;
-- The head of an ordered webhook's queue: its oldest pending notification.
CREATE INDEX notifications_head ON notifications (webhook_id, id) WHERE status = 'PENDING';

-- +goose Down
DROP INDEX notifications_head;
ALTER TABLE webhooks DROP COLUMN rate_updated_at;
ALTER TABLE webhooks DROP COLUMN rate_tokens;
ALTER TABLE webhooks DROP COLUMN last_failure_at;
ALTER TABLE webhooks DROP COLUMN last_success_at;
ALTER TABLE webhooks DROP COLUMN circuit_open_until;
ALTER TABLE webhooks DROP COLUMN failing_since;
ALTER TABLE webhooks DROP COLUMN consecutive_failures;
