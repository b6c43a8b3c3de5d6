-- Schema version 5 (wire schema 2): models and their cost, scores; as SQLite's
-- schema 6 (see sqlite_0006_models_scores.sql for the columns).
ALTER TABLE events
    ADD COLUMN model TEXT,
    ADD COLUMN provider TEXT,
    ADD COLUMN cost_nanos BIGINT,
    ADD COLUMN score_name TEXT,
    ADD COLUMN score_value FLOAT8,
    ADD COLUMN score_label TEXT;
ALTER TABLE conversations
    ADD COLUMN cost_nanos BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN priced_calls BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN unpriced_calls BIGINT NOT NULL DEFAULT 0;

UPDATE conversations SET unpriced_calls = t.calls
FROM (
    SELECT project_id, conversation_id, COUNT(*) AS calls FROM events
    WHERE total_tokens IS NOT NULL GROUP BY project_id, conversation_id
) AS t
WHERE conversations.project_id = t.project_id AND conversations.conversation_id = t.conversation_id;

-- The model calls by time with their model, cost and counts: what the metrics
-- read of them, all in the index (events_tokens held the same rows without
-- model and cost, and goes).
CREATE INDEX events_models ON events (
    project_id, ts, model, provider, cost_nanos, prompt_tokens, completion_tokens, total_tokens,
    embedding_tokens
) WHERE total_tokens IS NOT NULL;
DROP INDEX events_tokens;
CREATE INDEX events_scores ON events (
    project_id, score_name, conversation_id, score_value, score_label, ts
) WHERE score_name IS NOT NULL;
