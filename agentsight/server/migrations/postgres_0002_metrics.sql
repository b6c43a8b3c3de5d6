-- Schema version 2: an index for the analytics of GET /v1/metrics (as SQLite's).
-- Every metrics statement reads the events of one type of a project; this
-- index finds them without visiting the others, in conversation and time order.
CREATE INDEX events_by_type ON events (project_id, type, conversation_id, ts, seq);
