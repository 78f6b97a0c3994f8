-- +goose Up
-- Broker sources (RabbitMQ queues, NATS JetStream streams) that every
-- replica consumes events from. url may hold credentials: it is sealed like
-- a webhook's secrets, bound to the source's id.
CREATE TABLE sources (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    type        TEXT NOT NULL,
    url         TEXT NOT NULL,
    queue       TEXT NOT NULL DEFAULT '',
    stream      TEXT NOT NULL DEFAULT '',
    subject     TEXT NOT NULL DEFAULT '',
    durable     TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL,
    rejected    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    modified_at INTEGER NOT NULL
);
-- The newest messages each source refused as invalid (bounded per source
-- by the store), newest first by id (UUIDv7).
CREATE TABLE source_rejected (
    id          TEXT PRIMARY KEY,
    source_id   TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    error       TEXT NOT NULL,
    field       TEXT NOT NULL,
    payload     TEXT NOT NULL,
    size        INTEGER NOT NULL,
    received_at INTEGER NOT NULL
);
CREATE INDEX source_rejected_source ON source_rejected (source_id, id);

-- +goose Down
DROP TABLE source_rejected;
DROP TABLE sources;
