-- Schema version 18: the model calls and the scores of one conversation in an
-- index of their own, holding what the metrics read of them (as schema 11 did
-- for the actions and the waits), so a request with attribute filters reads
-- each selected conversation's tokens, cost and scores from the index alone
-- instead of a table row per event.  Writes wait while they are built.
CREATE INDEX events_models_by_conversation ON events (
    project_id, conversation_id, ts, model, provider, cost_nanos, prompt_tokens,
    completion_tokens, total_tokens, embedding_tokens
) WHERE total_tokens IS NOT NULL;
CREATE INDEX events_scores_by_conversation ON events (
    project_id, conversation_id, score_name, score_value, score_label, ts
) WHERE score_name IS NOT NULL;
