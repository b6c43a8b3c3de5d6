-- Schema version 2: an index for the analytics of GET /v1/metrics.
-- Every metrics statement reads the events of one type of a project (messages
-- for response times and peak hours, actions for tools and escalation,
-- token_usage per day); this index finds them without visiting the others, in
-- conversation and time order (what the response-time window walks).
CREATE INDEX events_by_type ON events (project_id, type, conversation_id, ts, seq);
