-- +goose Up
-- Deferred fan-outs: a publish of more notifications than a transaction
-- should hold the writer for commits its events and this plan (which webhook
-- gets which event); its notifications are then written a chunk at a time,
-- done counting those written.
CREATE TABLE fanouts (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    plan BYTEA NOT NULL,
    total BIGINT NOT NULL,
    done BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE fanouts;
