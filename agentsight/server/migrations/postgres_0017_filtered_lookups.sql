-- Schema version 17: the model calls, the scores and the button presses of one
-- conversation in indexes of their own, holding what the metrics read of them
-- (as schema 10 did for the actions and the waits), so a request with
-- attribute filters reads each selected conversation's tokens, cost, scores
-- and presses from the index (alone, once vacuumed) instead of a table row per
-- event.  Writers wait while they are built.  SQLite has no such indexes:
-- there the first two cost the write path x0.87 for about a tenth of a
-- filtered request (benchmarks/results/ingest_ab_call_lookups.json).
CREATE INDEX events_models_by_conversation ON events (project_id, conversation_id)
    INCLUDE (ts, model, provider, cost_nanos, prompt_tokens, completion_tokens, total_tokens,
             embedding_tokens) WHERE total_tokens IS NOT NULL;
CREATE INDEX events_scores_by_conversation ON events (project_id, conversation_id)
    INCLUDE (score_name, score_value, score_label, ts) WHERE score_name IS NOT NULL;
CREATE INDEX events_buttons_by_conversation ON events (project_id, conversation_id)
    INCLUDE (payload) WHERE type = 'button';
