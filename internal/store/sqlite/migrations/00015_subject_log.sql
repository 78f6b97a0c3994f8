-- +goose Up
-- Subject ids are indexed outside the publish commit (sqlstore's
-- subjectlog.go). Under single-event publishes a commit holds one or two
-- events, and each partial index of events was one more page written to the
-- WAL per commit: the ids cost `publish` 5 to 15% (docs/performance.md). The
-- columns stay on events, written at publish; the writer copies their ids
-- into event_subjects in batches, for the events past subject_mark (a
-- rowid of events), and moves the mark in the same transaction (a publish
-- of many events copies its own). A search reads event_subjects and the few
-- events past the mark, so it stays exact.
-- kind: 1 card_id, 2 user_id, 3 account_id, 4 transaction_id. The column
-- names differ from every events column, so that a condition on events
-- stays unambiguous in a join of the two.
CREATE TABLE event_subjects (
    subject_tenant TEXT NOT NULL,
    subject_kind   INTEGER NOT NULL,
    subject_value  TEXT NOT NULL,
    event_id       TEXT NOT NULL,
    PRIMARY KEY (subject_tenant, subject_kind, subject_value, event_id)
) WITHOUT ROWID;
CREATE TABLE subject_mark (
    one  INTEGER PRIMARY KEY CHECK (one = 1),
    upto INTEGER NOT NULL
);
INSERT INTO event_subjects
    SELECT tenant_id, 1, card_id, id FROM events WHERE card_id IS NOT NULL
    UNION ALL SELECT tenant_id, 2, user_id, id FROM events WHERE user_id IS NOT NULL
    UNION ALL SELECT tenant_id, 3, account_id, id FROM events WHERE account_id IS NOT NULL
    UNION ALL SELECT tenant_id, 4, transaction_id, id FROM events WHERE transaction_id IS NOT NULL;
INSERT INTO subject_mark VALUES (1, (SELECT coalesce(max(rowid), 0) FROM events));
-- Dropped only now: the copy above walks them, in key order.
DROP INDEX events_card;
DROP INDEX events_user;
DROP INDEX events_account;
DROP INDEX events_transaction;
-- Whatever deletes an event deletes its entries. SQLite gives a new row the
-- rowid after the largest one: once the newest events are deleted, new ones
-- could get rowids at or below the mark and never be indexed, so the mark
-- comes down with the largest rowid.
-- +goose StatementBegin
CREATE TRIGGER events_forget_subjects AFTER DELETE ON events BEGIN
    DELETE FROM event_subjects WHERE subject_tenant = old.tenant_id AND subject_kind = 1 AND subject_value = old.card_id AND event_id = old.id;
    DELETE FROM event_subjects WHERE subject_tenant = old.tenant_id AND subject_kind = 2 AND subject_value = old.user_id AND event_id = old.id;
    DELETE FROM event_subjects WHERE subject_tenant = old.tenant_id AND subject_kind = 3 AND subject_value = old.account_id AND event_id = old.id;
    DELETE FROM event_subjects WHERE subject_tenant = old.tenant_id AND subject_kind = 4 AND subject_value = old.transaction_id AND event_id = old.id;
    UPDATE subject_mark SET upto = (SELECT coalesce(max(rowid), 0) FROM events)
        WHERE upto > (SELECT coalesce(max(rowid), 0) FROM events);
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER events_forget_subjects;
DROP TABLE subject_mark;
DROP TABLE event_subjects;
CREATE INDEX events_card ON events (tenant_id, card_id, id) WHERE card_id IS NOT NULL;
CREATE INDEX events_user ON events (tenant_id, user_id, id) WHERE user_id IS NOT NULL;
CREATE INDEX events_account ON events (tenant_id, account_id, id) WHERE account_id IS NOT NULL;
CREATE INDEX events_transaction ON events (tenant_id, transaction_id, id) WHERE transaction_id IS NOT NULL;
