-- +goose Up
-- The W3C traceparent of the publish, so deliveries join its trace.
ALTER TABLE events ADD COLUMN trace_parent TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE events DROP COLUMN trace_parent;
