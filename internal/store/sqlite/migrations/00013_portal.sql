-- +goose Up
-- Portal links (POST /portal-sessions): one-time tokens that sign a browser
-- into one tenant's dashboard with client (or read-only) rights. Only the
-- token's SHA-256 is stored; redeeming it deletes it. key_id is the API key
-- that made it: the session it opens lasts no longer than that key.
CREATE TABLE portal_links (
    hash       TEXT PRIMARY KEY,
    key_id     TEXT NOT NULL REFERENCES api_keys (id),
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    read_only  INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX portal_links_expiry ON portal_links (expires_at);
-- A portal session acts with client rights on portal_tenant alone ('' for
-- a session signed in with a key), read_only refusing every change.
ALTER TABLE sessions ADD COLUMN portal_tenant TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN read_only INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE sessions DROP COLUMN read_only;
ALTER TABLE sessions DROP COLUMN portal_tenant;
DROP TABLE portal_links;
