-- +goose Up
-- The ids each event is about (catalog.Subjects), read at publish, so that
-- a search by card, user, account or transaction walks an index instead of
-- the payloads. NULL: the event carries none. Events published before this
-- migration have none.
ALTER TABLE events ADD COLUMN card_id TEXT;
ALTER TABLE events ADD COLUMN user_id TEXT;
ALTER TABLE events ADD COLUMN account_id TEXT;
ALTER TABLE events ADD COLUMN transaction_id TEXT;
-- A test event (POST /webhooks/{id}:test): sent to one webhook only.
ALTER TABLE events ADD COLUMN test SMALLINT NOT NULL DEFAULT 0;
-- Newest first within a tenant, by each id (partial: an event without the
-- id costs nothing). Each index costs a publish transaction about one page
-- write per id the event carries; GET /events without an id filter walks the
-- primary key instead of a tenant index of its own.
CREATE INDEX events_card ON events (tenant_id, card_id, id) WHERE card_id IS NOT NULL;
CREATE INDEX events_user ON events (tenant_id, user_id, id) WHERE user_id IS NOT NULL;
CREATE INDEX events_account ON events (tenant_id, account_id, id) WHERE account_id IS NOT NULL;
CREATE INDEX events_transaction ON events (tenant_id, transaction_id, id) WHERE transaction_id IS NOT NULL;

-- +goose Down
DROP INDEX events_transaction;
DROP INDEX events_account;
DROP INDEX events_user;
DROP INDEX events_card;
ALTER TABLE events DROP COLUMN test;
ALTER TABLE events DROP COLUMN transaction_id;
ALTER TABLE events DROP COLUMN account_id;
ALTER TABLE events DROP COLUMN user_id;
ALTER TABLE events DROP COLUMN card_id;
