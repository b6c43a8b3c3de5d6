-- Schema version 15: feedback in the conversation rollups, so GET /v1/metrics
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
-- Every writer of feedback takes the project's rollup lock first, as a
-- batch does (storage/postgres: lock_rollups).  Row triggers with a
-- condition: a batch's statement queues none for conversations without
-- feedback.  No batch may commit between the backfill and the triggers, and
-- adding a column needs the table to itself: the strongest lock from the
-- start (taking a weaker one first could deadlock with a retention step
-- that holds row locks and then deletes).

LOCK TABLE conversations IN ACCESS EXCLUSIVE MODE;

ALTER TABLE conversations ADD COLUMN feedback_positive BIGINT NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN feedback_neutral BIGINT NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN feedback_negative BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rollup_quarters ADD COLUMN feedback_positive BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rollup_quarters ADD COLUMN feedback_neutral BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rollup_quarters ADD COLUMN feedback_negative BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rollup_quarters ADD COLUMN with_feedback BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rollup_days ADD COLUMN feedback_positive BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rollup_days ADD COLUMN feedback_neutral BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rollup_days ADD COLUMN feedback_negative BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rollup_days ADD COLUMN with_feedback BIGINT NOT NULL DEFAULT 0;

CREATE FUNCTION agentsight_feedback_counts() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE conversations SET feedback_positive = feedback_positive - (old.sentiment = 'positive')::int, feedback_neutral = feedback_neutral - (old.sentiment = 'neutral')::int, feedback_negative = feedback_negative - (old.sentiment = 'negative')::int
        WHERE project_id = old.project_id AND conversation_id = old.conversation_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE conversations SET feedback_positive = feedback_positive + (new.sentiment = 'positive')::int, feedback_neutral = feedback_neutral + (new.sentiment = 'neutral')::int, feedback_negative = feedback_negative + (new.sentiment = 'negative')::int
        WHERE project_id = new.project_id AND conversation_id = new.conversation_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER feedback_counts AFTER INSERT OR DELETE OR UPDATE OF project_id, conversation_id, sentiment
ON feedback FOR EACH ROW EXECUTE FUNCTION agentsight_feedback_counts();

CREATE FUNCTION agentsight_feedback_rollups() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        INSERT INTO rollup_quarters (project_id, quarter, conversations, messages, end_user_messages, agent_messages, events, actions, used, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls, feedback_positive, feedback_neutral, feedback_negative, with_feedback)
        VALUES (old.project_id, old.started_at / 900000000, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -(old.feedback_positive), -(old.feedback_neutral), -(old.feedback_negative), -(CASE WHEN old.feedback_positive + old.feedback_neutral + old.feedback_negative > 0 THEN 1 ELSE 0 END))
        ON CONFLICT (project_id, quarter) DO UPDATE SET feedback_positive = rollup_quarters.feedback_positive + excluded.feedback_positive, feedback_neutral = rollup_quarters.feedback_neutral + excluded.feedback_neutral, feedback_negative = rollup_quarters.feedback_negative + excluded.feedback_negative, with_feedback = rollup_quarters.with_feedback + excluded.with_feedback;
        INSERT INTO rollup_days (project_id, day, combo, environment, source, device, language, country, conversations, messages, end_user_messages, agent_messages, events, actions, used, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls, feedback_positive, feedback_neutral, feedback_negative, with_feedback)
        VALUES (old.project_id, old.started_at / 86400000000, json_build_array(old.environment, old.source, old.device, old.language, old.country)::text, old.environment, old.source, old.device, old.language, old.country, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -(old.feedback_positive), -(old.feedback_neutral), -(old.feedback_negative), -(CASE WHEN old.feedback_positive + old.feedback_neutral + old.feedback_negative > 0 THEN 1 ELSE 0 END))
        ON CONFLICT (project_id, day, combo) DO UPDATE SET feedback_positive = rollup_days.feedback_positive + excluded.feedback_positive, feedback_neutral = rollup_days.feedback_neutral + excluded.feedback_neutral, feedback_negative = rollup_days.feedback_negative + excluded.feedback_negative, with_feedback = rollup_days.with_feedback + excluded.with_feedback;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO rollup_quarters (project_id, quarter, conversations, messages, end_user_messages, agent_messages, events, actions, used, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls, feedback_positive, feedback_neutral, feedback_negative, with_feedback)
        VALUES (new.project_id, new.started_at / 900000000, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, new.feedback_positive, new.feedback_neutral, new.feedback_negative, CASE WHEN new.feedback_positive + new.feedback_neutral + new.feedback_negative > 0 THEN 1 ELSE 0 END)
        ON CONFLICT (project_id, quarter) DO UPDATE SET feedback_positive = rollup_quarters.feedback_positive + excluded.feedback_positive, feedback_neutral = rollup_quarters.feedback_neutral + excluded.feedback_neutral, feedback_negative = rollup_quarters.feedback_negative + excluded.feedback_negative, with_feedback = rollup_quarters.with_feedback + excluded.with_feedback;
        INSERT INTO rollup_days (project_id, day, combo, environment, source, device, language, country, conversations, messages, end_user_messages, agent_messages, events, actions, used, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls, feedback_positive, feedback_neutral, feedback_negative, with_feedback)
        VALUES (new.project_id, new.started_at / 86400000000, json_build_array(new.environment, new.source, new.device, new.language, new.country)::text, new.environment, new.source, new.device, new.language, new.country, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, new.feedback_positive, new.feedback_neutral, new.feedback_negative, CASE WHEN new.feedback_positive + new.feedback_neutral + new.feedback_negative > 0 THEN 1 ELSE 0 END)
        ON CONFLICT (project_id, day, combo) DO UPDATE SET feedback_positive = rollup_days.feedback_positive + excluded.feedback_positive, feedback_neutral = rollup_days.feedback_neutral + excluded.feedback_neutral, feedback_negative = rollup_days.feedback_negative + excluded.feedback_negative, with_feedback = rollup_days.with_feedback + excluded.with_feedback;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER rollup_feedback_add AFTER INSERT ON conversations
FOR EACH ROW WHEN (new.feedback_positive + new.feedback_neutral + new.feedback_negative > 0)
EXECUTE FUNCTION agentsight_feedback_rollups();

CREATE TRIGGER rollup_feedback_remove AFTER DELETE ON conversations
FOR EACH ROW WHEN (old.feedback_positive + old.feedback_neutral + old.feedback_negative > 0)
EXECUTE FUNCTION agentsight_feedback_rollups();

-- A change of the counts, or a move of a conversation with feedback.
CREATE TRIGGER rollup_feedback_move AFTER UPDATE ON conversations
FOR EACH ROW WHEN ((old.feedback_positive + old.feedback_neutral + old.feedback_negative + new.feedback_positive + new.feedback_neutral + new.feedback_negative > 0)
    AND (old.feedback_positive IS DISTINCT FROM new.feedback_positive OR old.feedback_neutral IS DISTINCT FROM new.feedback_neutral OR old.feedback_negative IS DISTINCT FROM new.feedback_negative OR old.started_at IS DISTINCT FROM new.started_at OR old.environment IS DISTINCT FROM new.environment OR old.source IS DISTINCT FROM new.source OR old.device IS DISTINCT FROM new.device OR old.language IS DISTINCT FROM new.language OR old.country IS DISTINCT FROM new.country))
EXECUTE FUNCTION agentsight_feedback_rollups();

-- The feedback stored so far, set by set: the conversations' counts with their
-- update triggers off (a statement trigger's join of two large transition
-- tables took minutes; none of them reads these columns), then the rollups'
-- sums (each conversation's rows are there already).
ALTER TABLE conversations DISABLE TRIGGER rollups_move;
ALTER TABLE conversations DISABLE TRIGGER rollup_events_move;
ALTER TABLE conversations DISABLE TRIGGER rollup_actions_move;
ALTER TABLE conversations DISABLE TRIGGER rollup_feedback_move;
UPDATE conversations c SET feedback_positive = f.positive, feedback_neutral = f.neutral, feedback_negative = f.negative
FROM (SELECT project_id, conversation_id, COUNT(*) FILTER (WHERE sentiment = 'positive') AS positive, COUNT(*) FILTER (WHERE sentiment = 'neutral') AS neutral, COUNT(*) FILTER (WHERE sentiment = 'negative') AS negative
    FROM feedback GROUP BY project_id, conversation_id) f
WHERE c.project_id = f.project_id AND c.conversation_id = f.conversation_id;
ALTER TABLE conversations ENABLE TRIGGER rollups_move;
ALTER TABLE conversations ENABLE TRIGGER rollup_events_move;
ALTER TABLE conversations ENABLE TRIGGER rollup_actions_move;
ALTER TABLE conversations ENABLE TRIGGER rollup_feedback_move;
UPDATE rollup_quarters r SET feedback_positive = s.feedback_positive, feedback_neutral = s.feedback_neutral, feedback_negative = s.feedback_negative, with_feedback = s.with_feedback
FROM (SELECT c.project_id, c.started_at / 900000000 AS quarter, SUM(c.feedback_positive), SUM(c.feedback_neutral), SUM(c.feedback_negative), COUNT(*)
    FROM conversations c WHERE c.feedback_positive + c.feedback_neutral + c.feedback_negative > 0 GROUP BY 1, 2) AS s (project_id, quarter, feedback_positive, feedback_neutral, feedback_negative, with_feedback)
WHERE r.project_id = s.project_id AND r.quarter = s.quarter;
UPDATE rollup_days r SET feedback_positive = s.feedback_positive, feedback_neutral = s.feedback_neutral, feedback_negative = s.feedback_negative, with_feedback = s.with_feedback
FROM (SELECT c.project_id, c.started_at / 86400000000 AS day, json_build_array(c.environment, c.source, c.device, c.language, c.country)::text AS combo, SUM(c.feedback_positive), SUM(c.feedback_neutral), SUM(c.feedback_negative), COUNT(*)
    FROM conversations c WHERE c.feedback_positive + c.feedback_neutral + c.feedback_negative > 0 GROUP BY 1, 2, 3) AS s (project_id, day, combo, feedback_positive, feedback_neutral, feedback_negative, with_feedback)
WHERE r.project_id = s.project_id AND r.day = s.day AND r.combo = s.combo;
