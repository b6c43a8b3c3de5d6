-- Schema version 12: the conversation list sorted by duration or by messages
-- walks an index in the sort's order (ties by creation, pk) and stops after a
-- page, instead of sorting every conversation of the project; the other
-- sorts had theirs (pk, the start, the last event).  Writers wait while they
-- are built (seconds per million conversations).
CREATE INDEX conversations_by_duration ON conversations (project_id, (ended_at - started_at), pk);
CREATE INDEX conversations_by_messages ON conversations (project_id, message_count, pk);
