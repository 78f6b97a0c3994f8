-- +goose Up
-- Dashboard sessions, shared by every process using the database. The
-- browser holds a random session id; only its SHA-256 is stored, with the
-- API key that signed in (no key material).
CREATE TABLE sessions (
    hash         TEXT PRIMARY KEY,
    key_id       TEXT NOT NULL REFERENCES api_keys (id),
    tenant       TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX sessions_key ON sessions (key_id);
-- A webhook's notifications by last change, for its newest attempts on the
-- dashboard. Only notifications with attempts are indexed, so publishing
-- does not write it.
CREATE INDEX notifications_attempted ON notifications (webhook_id, modified_at) WHERE attempts > 0;

-- +goose Down
DROP INDEX notifications_attempted;
DROP TABLE sessions;
