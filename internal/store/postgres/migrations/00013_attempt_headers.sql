-- +goose Up
-- The headers an attempt sent (credentials masked) and received (bounded),
-- for the dashboard's attempt details: {"q": [[name, value], ...], "r": [...]}
-- ('' for attempts recorded before).
ALTER TABLE attempts ADD COLUMN headers TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE attempts DROP COLUMN headers;
