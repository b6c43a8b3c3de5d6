-- Schema version 13: the conversation list sorted by duration or by messages
-- walks an index in the sort's order (ties by creation: the rowid, pk, ends
-- every index entry) and stops after a page, instead of sorting every
-- conversation of the project; the other sorts had theirs (pk, the start,
-- the last event).
CREATE INDEX conversations_by_duration ON conversations (project_id, (ended_at - started_at));
CREATE INDEX conversations_by_messages ON conversations (project_id, message_count);
