-- Schema version 6 (wire schema 2): models and their cost, scores.
--   token_usage: model, provider, cost_nanos (the call's price in nano-dollars,
--     10^-9 USD, set by the collector as it stores the event; NULL: unpriced).
--   score: score_name; score_value (a number; 1/0 for true/false; NULL for a
--     category); score_label (the category, or 'true'/'false'; NULL for numbers).
-- Conversations add up their calls' cost and count the priced and unpriced
-- ones; calls stored before this version had no model: unpriced.
ALTER TABLE events ADD COLUMN model TEXT;
ALTER TABLE events ADD COLUMN provider TEXT;
ALTER TABLE events ADD COLUMN cost_nanos INTEGER;
ALTER TABLE events ADD COLUMN score_name TEXT;
ALTER TABLE events ADD COLUMN score_value REAL;
ALTER TABLE events ADD COLUMN score_label TEXT;
ALTER TABLE conversations ADD COLUMN cost_nanos INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN priced_calls INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN unpriced_calls INTEGER NOT NULL DEFAULT 0;

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
