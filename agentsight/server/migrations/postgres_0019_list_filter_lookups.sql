-- Schema version 19: the list's sentiment and mark filters (?sentiment=negative,
-- ?is_marked=true) find their conversations by index.  Without them a page walked the
-- list's order and looked up each row's feedback (or read its mark) until it had a
-- page, and a total did so for every conversation of the project.
--   feedback_by_sentiment: a sentiment's conversations, read in order of id.  The
--     sentiment leads: a statement that reads a conversation's feedback, or a
--     project's, names no sentiment, and must not find this index (which holds every
--     column it reads) cheaper than a seek of feedback_by_conversation: SQLite, without
--     statistics, took it to read the whole project's feedback for a page's 25
--     conversations;
--   conversations_marked: the marked conversations alone, so the rewrites of every
--     other conversation's row (one per batch of its events) leave it alone.
-- Writes wait while they are built (a pass over the feedback and the conversations);
-- readers do not.  The two builds lock feedback, then conversations; a deletion of a
-- conversation locks them the other way round (retention, feedback first): every
-- writer of them takes its project's rollup lock before any table
-- (storage/postgres/_write.py: lock_rollups; 0x726F6C6C, the project), so taking
-- every project's first waits for the writers under way and holds the next ones back
-- before they lock anything (as schemas 17 and 18 do).

SELECT pg_advisory_xact_lock(1919904876, id::int) FROM projects ORDER BY id;
CREATE INDEX feedback_by_sentiment ON feedback (sentiment, project_id, conversation_id);
CREATE INDEX conversations_marked ON conversations (project_id, conversation_id)
    WHERE is_marked;
