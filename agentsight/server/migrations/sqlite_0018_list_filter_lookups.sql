-- Schema version 18: the list's sentiment and mark filters (?sentiment=negative,
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
-- Writes wait while they are built (a pass over the feedback and the conversations).
CREATE INDEX feedback_by_sentiment ON feedback (sentiment, project_id, conversation_id);
-- (The mark is in the key too: SQLite reads an index alone only when it holds every
-- column the statement names, the partial index's own term included.)
CREATE INDEX conversations_marked ON conversations (project_id, is_marked, conversation_id)
    WHERE is_marked = 1;
