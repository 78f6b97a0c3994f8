-- +goose Up
-- When the client certificate of a webhook's config.tls expires (Unix ms;
-- 0: no client certificate), kept beside the sealed config so that the
-- metric of certificates about to expire is one query.
ALTER TABLE webhooks ADD COLUMN client_cert_expires_at INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE webhooks DROP COLUMN client_cert_expires_at;
