-- +goose Up
-- A webhook's content filter (config.filter) as JSON, '' for none. It is
-- kept out of the sealed config so that every publish can read it for
-- every subscriber without decrypting anything; it holds payload values,
-- never a credential.
ALTER TABLE webhooks ADD COLUMN content_filter TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE webhooks DROP COLUMN content_filter;
