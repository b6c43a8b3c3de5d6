-- Schema version 16: feedback in the conversation rollups, so GET /v1/metrics
-- reads its feedback figures (entries per sentiment, the conversations with
-- any) with the totals, from the rollups' whole buckets where they answer and
-- from the conversations' own columns elsewhere, instead of looking up each
-- feedback entry's conversation (see storage/_rollups.py).
--   conversations.feedback_positive/_neutral/_negative: the conversation's
--     feedback entries per sentiment, kept by triggers on feedback (every
--     insert, deletion or change of an entry, whichever path makes it);
--   rollup_quarters, rollup_days: their sums, and with_feedback (the
--     conversations with any entry), kept by triggers on conversations that
--     fire only for a conversation with feedback, so a batch of conversations
--     without any pays only their condition.

ALTER TABLE conversations ADD COLUMN feedback_positive INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN feedback_neutral INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN feedback_negative INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_quarters ADD COLUMN feedback_positive INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_quarters ADD COLUMN feedback_neutral INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_quarters ADD COLUMN feedback_negative INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_quarters ADD COLUMN with_feedback INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_days ADD COLUMN feedback_positive INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_days ADD COLUMN feedback_neutral INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_days ADD COLUMN feedback_negative INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_days ADD COLUMN with_feedback INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER feedback_counts_add AFTER INSERT ON feedback
BEGIN
    UPDATE conversations SET feedback_positive = feedback_positive + (new.sentiment = 'positive'), feedback_neutral = feedback_neutral + (new.sentiment = 'neutral'), feedback_negative = feedback_negative + (new.sentiment = 'negative')
    WHERE project_id = new.project_id AND conversation_id = new.conversation_id;
END;

CREATE TRIGGER feedback_counts_remove AFTER DELETE ON feedback
BEGIN
    UPDATE conversations SET feedback_positive = feedback_positive - (old.sentiment = 'positive'), feedback_neutral = feedback_neutral - (old.sentiment = 'neutral'), feedback_negative = feedback_negative - (old.sentiment = 'negative')
    WHERE project_id = old.project_id AND conversation_id = old.conversation_id;
END;

CREATE TRIGGER feedback_counts_change AFTER UPDATE OF project_id, conversation_id, sentiment ON feedback
BEGIN
    UPDATE conversations SET feedback_positive = feedback_positive - (old.sentiment = 'positive'), feedback_neutral = feedback_neutral - (old.sentiment = 'neutral'), feedback_negative = feedback_negative - (old.sentiment = 'negative')
    WHERE project_id = old.project_id AND conversation_id = old.conversation_id;
    UPDATE conversations SET feedback_positive = feedback_positive + (new.sentiment = 'positive'), feedback_neutral = feedback_neutral + (new.sentiment = 'neutral'), feedback_negative = feedback_negative + (new.sentiment = 'negative')
    WHERE project_id = new.project_id AND conversation_id = new.conversation_id;
END;

CREATE TRIGGER rollup_feedback_add AFTER INSERT ON conversations
WHEN new.feedback_positive + new.feedback_neutral + new.feedback_negative > 0
BEGIN
    INSERT INTO rollup_quarters (project_id, quarter, conversations, messages, end_user_messages, agent_messages, events, actions, used, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls, feedback_positive, feedback_neutral, feedback_negative, with_feedback)
    VALUES (new.project_id, new.started_at / 900000000, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, new.feedback_positive, new.feedback_neutral, new.feedback_negative, CASE WHEN new.feedback_positive + new.feedback_neutral + new.feedback_negative > 0 THEN 1 ELSE 0 END)
    ON CONFLICT (project_id, quarter) DO UPDATE SET feedback_positive = feedback_positive + excluded.feedback_positive, feedback_neutral = feedback_neutral + excluded.feedback_neutral, feedback_negative = feedback_negative + excluded.feedback_negative, with_feedback = with_feedback + excluded.with_feedback;
    INSERT INTO rollup_days (project_id, day, combo, environment, source, device, language, country, conversations, messages, end_user_messages, agent_messages, events, actions, used, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls, feedback_positive, feedback_neutral, feedback_negative, with_feedback)
    VALUES (new.project_id, new.started_at / 86400000000, json_array(new.environment, new.source, new.device, new.language, new.country), new.environment, new.source, new.device, new.language, new.country, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, new.feedback_positive, new.feedback_neutral, new.feedback_negative, CASE WHEN new.feedback_positive + new.feedback_neutral + new.feedback_negative > 0 THEN 1 ELSE 0 END)
    ON CONFLICT (project_id, day, combo) DO UPDATE SET feedback_positive = feedback_positive + excluded.feedback_positive, feedback_neutral = feedback_neutral + excluded.feedback_neutral, feedback_negative = feedback_negative + excluded.feedback_negative, with_feedback = with_feedback + excluded.with_feedback;
END;

CREATE TRIGGER rollup_feedback_remove AFTER DELETE ON conversations
WHEN old.feedback_positive + old.feedback_neutral + old.feedback_negative > 0
BEGIN
    INSERT INTO rollup_quarters (project_id, quarter, conversations, messages, end_user_messages, agent_messages, events, actions, used, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls, feedback_positive, feedback_neutral, feedback_negative, with_feedback)
    VALUES (old.project_id, old.started_at / 900000000, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -(old.feedback_positive), -(old.feedback_neutral), -(old.feedback_negative), -(CASE WHEN old.feedback_positive + old.feedback_neutral + old.feedback_negative > 0 THEN 1 ELSE 0 END))
    ON CONFLICT (project_id, quarter) DO UPDATE SET feedback_positive = feedback_positive + excluded.feedback_positive, feedback_neutral = feedback_neutral + excluded.feedback_neutral, feedback_negative = feedback_negative + excluded.feedback_negative, with_feedback = with_feedback + excluded.with_feedback;
    INSERT INTO rollup_days (project_id, day, combo, environment, source, device, language, country, conversations, messages, end_user_messages, agent_messages, events, actions, used, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls, feedback_positive, feedback_neutral, feedback_negative, with_feedback)
    VALUES (old.project_id, old.started_at / 86400000000, json_array(old.environment, old.source, old.device, old.language, old.country), old.environment, old.source, old.device, old.language, old.country, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -(old.feedback_positive), -(old.feedback_neutral), -(old.feedback_negative), -(CASE WHEN old.feedback_positive + old.feedback_neutral + old.feedback_negative > 0 THEN 1 ELSE 0 END))
    ON CONFLICT (project_id, day, combo) DO UPDATE SET feedback_positive = feedback_positive + excluded.feedback_positive, feedback_neutral = feedback_neutral + excluded.feedback_neutral, feedback_negative = feedback_negative + excluded.feedback_negative, with_feedback = with_feedback + excluded.with_feedback;
END;

-- A change of the counts, or a move of a conversation with feedback, takes back
-- the old contribution and adds the new one.
CREATE TRIGGER rollup_feedback_move AFTER UPDATE ON conversations
WHEN (old.feedback_positive + old.feedback_neutral + old.feedback_negative + new.feedback_positive + new.feedback_neutral + new.feedback_negative > 0)
    AND (old.feedback_positive IS NOT new.feedback_positive OR old.feedback_neutral IS NOT new.feedback_neutral OR old.feedback_negative IS NOT new.feedback_negative OR old.started_at IS NOT new.started_at OR old.environment IS NOT new.environment OR old.source IS NOT new.source OR old.device IS NOT new.device OR old.language IS NOT new.language OR old.country IS NOT new.country)
BEGIN
    INSERT INTO rollup_quarters (project_id, quarter, conversations, messages, end_user_messages, agent_messages, events, actions, used, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls, feedback_positive, feedback_neutral, feedback_negative, with_feedback)
    VALUES (old.project_id, old.started_at / 900000000, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -(old.feedback_positive), -(old.feedback_neutral), -(old.feedback_negative), -(CASE WHEN old.feedback_positive + old.feedback_neutral + old.feedback_negative > 0 THEN 1 ELSE 0 END))
    ON CONFLICT (project_id, quarter) DO UPDATE SET feedback_positive = feedback_positive + excluded.feedback_positive, feedback_neutral = feedback_neutral + excluded.feedback_neutral, feedback_negative = feedback_negative + excluded.feedback_negative, with_feedback = with_feedback + excluded.with_feedback;
    INSERT INTO rollup_days (project_id, day, combo, environment, source, device, language, country, conversations, messages, end_user_messages, agent_messages, events, actions, used, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls, feedback_positive, feedback_neutral, feedback_negative, with_feedback)
    VALUES (old.project_id, old.started_at / 86400000000, json_array(old.environment, old.source, old.device, old.language, old.country), old.environment, old.source, old.device, old.language, old.country, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -(old.feedback_positive), -(old.feedback_neutral), -(old.feedback_negative), -(CASE WHEN old.feedback_positive + old.feedback_neutral + old.feedback_negative > 0 THEN 1 ELSE 0 END))
    ON CONFLICT (project_id, day, combo) DO UPDATE SET feedback_positive = feedback_positive + excluded.feedback_positive, feedback_neutral = feedback_neutral + excluded.feedback_neutral, feedback_negative = feedback_negative + excluded.feedback_negative, with_feedback = with_feedback + excluded.with_feedback;
    INSERT INTO rollup_quarters (project_id, quarter, conversations, messages, end_user_messages, agent_messages, events, actions, used, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls, feedback_positive, feedback_neutral, feedback_negative, with_feedback)
    VALUES (new.project_id, new.started_at / 900000000, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, new.feedback_positive, new.feedback_neutral, new.feedback_negative, CASE WHEN new.feedback_positive + new.feedback_neutral + new.feedback_negative > 0 THEN 1 ELSE 0 END)
    ON CONFLICT (project_id, quarter) DO UPDATE SET feedback_positive = feedback_positive + excluded.feedback_positive, feedback_neutral = feedback_neutral + excluded.feedback_neutral, feedback_negative = feedback_negative + excluded.feedback_negative, with_feedback = with_feedback + excluded.with_feedback;
    INSERT INTO rollup_days (project_id, day, combo, environment, source, device, language, country, conversations, messages, end_user_messages, agent_messages, events, actions, used, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls, feedback_positive, feedback_neutral, feedback_negative, with_feedback)
    VALUES (new.project_id, new.started_at / 86400000000, json_array(new.environment, new.source, new.device, new.language, new.country), new.environment, new.source, new.device, new.language, new.country, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, new.feedback_positive, new.feedback_neutral, new.feedback_negative, CASE WHEN new.feedback_positive + new.feedback_neutral + new.feedback_negative > 0 THEN 1 ELSE 0 END)
    ON CONFLICT (project_id, day, combo) DO UPDATE SET feedback_positive = feedback_positive + excluded.feedback_positive, feedback_neutral = feedback_neutral + excluded.feedback_neutral, feedback_negative = feedback_negative + excluded.feedback_negative, with_feedback = with_feedback + excluded.with_feedback;
END;

-- The feedback stored so far (its triggers above fill the rollups).
UPDATE conversations SET feedback_positive = (SELECT COUNT(*) FROM feedback f WHERE f.project_id = conversations.project_id AND f.conversation_id = conversations.conversation_id AND f.sentiment = 'positive'), feedback_neutral = (SELECT COUNT(*) FROM feedback f WHERE f.project_id = conversations.project_id AND f.conversation_id = conversations.conversation_id AND f.sentiment = 'neutral'), feedback_negative = (SELECT COUNT(*) FROM feedback f WHERE f.project_id = conversations.project_id AND f.conversation_id = conversations.conversation_id AND f.sentiment = 'negative')
WHERE (project_id, conversation_id) IN (SELECT project_id, conversation_id FROM feedback);
