-- +goose Up
CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    role       TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    prefix     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, id);

CREATE TABLE webhooks (
    id                    TEXT PRIMARY KEY,
    tenant_id             TEXT NOT NULL REFERENCES tenants (id),
    endpoint              TEXT NOT NULL,
    events                TEXT NOT NULL,
    status                TEXT NOT NULL,
    config                TEXT NOT NULL,
    secret                TEXT NOT NULL,
    previous_secret       TEXT NOT NULL DEFAULT '',
    previous_secret_until BIGINT NOT NULL DEFAULT 0,
    created_at            BIGINT NOT NULL,
    modified_at           BIGINT NOT NULL,
    deleted_at            BIGINT
);
CREATE INDEX webhooks_tenant ON webhooks (tenant_id, id) WHERE deleted_at IS NULL;

CREATE TABLE events (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    name       TEXT NOT NULL,
    payload    BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE idempotency_keys (
    tenant_id    TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    event_ids    TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, key)
);

CREATE TABLE notifications (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    webhook_id       TEXT NOT NULL,
    event_name       TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    retry_base       BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    lease_owner      TEXT,
    lease_token      TEXT,
    lease_expires_at BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    modified_at      BIGINT NOT NULL
);
-- The dispatcher's queue: due notifications of one webhook, oldest first.
CREATE INDEX notifications_due ON notifications (webhook_id, next_attempt_at) WHERE status = 'PENDING';
CREATE INDEX notifications_event ON notifications (event_id);
CREATE INDEX notifications_tenant ON notifications (tenant_id, id);

-- Attempts are numbered as Herald-Attempt was sent. Two attempts may share a
-- number when a lease ran out mid-attempt and another dispatcher took over;
-- both are kept.
CREATE TABLE attempts (
    id              BIGSERIAL PRIMARY KEY,
    notification_id TEXT NOT NULL,
    number          BIGINT NOT NULL,
    started_at      BIGINT NOT NULL,
    duration_us     BIGINT NOT NULL,
    status_code     BIGINT NOT NULL DEFAULT 0,
    response_body   TEXT NOT NULL DEFAULT '',
    error_kind      TEXT NOT NULL DEFAULT '',
    error           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX attempts_notification ON attempts (notification_id, number);

-- Live leases per webhook, counted at every claim to bound max_in_flight.
CREATE INDEX notifications_leased ON notifications (webhook_id, lease_expires_at) WHERE lease_owner IS NOT NULL;

-- +goose Down
DROP TABLE attempts;
DROP TABLE notifications;
DROP TABLE idempotency_keys;
DROP TABLE events;
DROP TABLE webhooks;
DROP TABLE api_keys;
DROP TABLE tenants;
