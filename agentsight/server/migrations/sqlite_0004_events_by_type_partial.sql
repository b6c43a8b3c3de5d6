-- Schema version 4: events_by_type leaves out messages.
-- Messages are most events, and every batch paid an entry per message in
-- events_by_type; the statements that read messages use events_messages
-- (schema 3, WHERE type = 'message') instead.  The metrics statements that
-- read another type by events_by_type repeat type <> 'message' in their WHERE:
-- SQLite uses a partial index only for a query whose WHERE contains its terms.
-- (PostgreSQL keeps schema 3's indexes: there the change saved no write time
-- and made the messages per hour slower.)
DROP INDEX IF EXISTS events_by_type;
CREATE INDEX events_by_type ON events (project_id, type, conversation_id, ts, seq)
    WHERE type <> 'message';
-- events_messages gains type: a query on messages names type = 'message' (to
-- use this partial index), and SQLite (3.40 at least) reads an index alone,
-- without the rows, only when it holds every column the query names.  The
-- messages per hour of GET /v1/metrics read their ts from it alone, as they
-- did from events_by_type (without type: from every event of the project).
DROP INDEX IF EXISTS events_messages;
CREATE INDEX events_messages ON events (project_id, conversation_id, sender, ts, seq, id, type)
    WHERE type = 'message';
