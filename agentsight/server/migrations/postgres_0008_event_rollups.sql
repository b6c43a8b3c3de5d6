-- Schema version 8: rollups of the messages and model calls, kept by triggers,
-- that GET /v1/metrics reads for its messages per hour and its tokens and cost
-- per day and model (see storage/_rollups.py).  Both are per project, UTC
-- quarter hour of the conversation's start (the selection of a request, as
-- rollup_quarters) and UTC quarter hour of the event (any time zone's local
-- hours and days are whole quarter hours of UTC, where its offsets are):
--   rollup_messages: the messages;
--   rollup_models: per model and provider (model_key: their JSON array, a key
--     that tells NULL from any text), the token sums, the cost, the priced
--     calls and the calls.
-- What they hold, at every commit: the events of every stored conversation,
-- under its start.  An event counts once both it and its conversation are
-- stored (whichever comes first: the events' trigger adds those whose
-- conversation is there, the new conversations' trigger the events already
-- there), until either goes; a conversation whose start moves into another
-- quarter hour takes its events along.  Events never change what counts here
-- (only response_wait is updated).
-- The triggers read the other table: every transaction that writes events or
-- conversations takes the project's rollup lock before its first write
-- (storage/postgres: lock_rollups), so none sees another's rows half written.
LOCK TABLE conversations, events IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE rollup_messages (
    project_id BIGINT NOT NULL,
    quarter BIGINT NOT NULL,
    at BIGINT NOT NULL,
    messages BIGINT NOT NULL,
    PRIMARY KEY (project_id, quarter, at)
);

CREATE TABLE rollup_models (
    project_id BIGINT NOT NULL,
    quarter BIGINT NOT NULL,
    at BIGINT NOT NULL,
    model_key TEXT NOT NULL,
    model TEXT,
    provider TEXT,
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    total_tokens BIGINT NOT NULL,
    embedding_tokens BIGINT NOT NULL,
    cost_nanos BIGINT NOT NULL,
    priced_calls BIGINT NOT NULL,
    calls BIGINT NOT NULL,
    PRIMARY KEY (project_id, quarter, at, model_key)
);

INSERT INTO rollup_messages (project_id, quarter, at, messages)
SELECT c.project_id, c.started_at / 900000000, e.ts / 900000000, COUNT(*)
FROM events e JOIN conversations c ON c.project_id = e.project_id AND c.conversation_id = e.conversation_id
WHERE e.type = 'message' GROUP BY c.project_id, c.started_at / 900000000, e.ts / 900000000;

INSERT INTO rollup_models (project_id, quarter, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
SELECT c.project_id, c.started_at / 900000000, e.ts / 900000000, json_build_array(e.model, e.provider)::text, MIN(e.model), MIN(e.provider), COALESCE(SUM(e.prompt_tokens), 0), COALESCE(SUM(e.completion_tokens), 0), COALESCE(SUM(e.total_tokens), 0), COALESCE(SUM(e.embedding_tokens), 0), COALESCE(SUM(e.cost_nanos), 0), COUNT(e.cost_nanos), COUNT(*)
FROM events e JOIN conversations c ON c.project_id = e.project_id AND c.conversation_id = e.conversation_id
WHERE e.type = 'token_usage' GROUP BY c.project_id, c.started_at / 900000000, e.ts / 900000000, json_build_array(e.model, e.provider)::text;

-- Statement triggers: a batch's events are summed per bucket and added with one
-- statement per table, in key order.
CREATE FUNCTION agentsight_event_rollups() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO rollup_messages (project_id, quarter, at, messages)
        SELECT project_id, quarter, at, SUM(messages) FROM (
            SELECT c.project_id, c.started_at / 900000000, n.ts / 900000000, COUNT(*) FROM new_rows n JOIN conversations c ON c.project_id = n.project_id AND c.conversation_id = n.conversation_id WHERE n.type = 'message' GROUP BY 1, 2, 3
        ) AS d (project_id, quarter, at, messages)
        GROUP BY project_id, quarter, at HAVING SUM(messages) <> 0
        ORDER BY project_id, quarter, at
        ON CONFLICT (project_id, quarter, at) DO UPDATE SET messages = rollup_messages.messages + excluded.messages;
        INSERT INTO rollup_models (project_id, quarter, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
        SELECT project_id, quarter, at, model_key, MIN(model), MIN(provider), SUM(prompt_tokens), SUM(completion_tokens), SUM(total_tokens), SUM(embedding_tokens), SUM(cost_nanos), SUM(priced_calls), SUM(calls) FROM (
            SELECT c.project_id, c.started_at / 900000000, n.ts / 900000000, json_build_array(n.model, n.provider)::text, MIN(n.model), MIN(n.provider), COALESCE(SUM(n.prompt_tokens), 0), COALESCE(SUM(n.completion_tokens), 0), COALESCE(SUM(n.total_tokens), 0), COALESCE(SUM(n.embedding_tokens), 0), COALESCE(SUM(n.cost_nanos), 0), COUNT(n.cost_nanos), COUNT(*) FROM new_rows n JOIN conversations c ON c.project_id = n.project_id AND c.conversation_id = n.conversation_id WHERE n.type = 'token_usage' GROUP BY 1, 2, 3, 4
        ) AS d (project_id, quarter, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
        GROUP BY project_id, quarter, at, model_key HAVING SUM(calls) <> 0
        ORDER BY project_id, quarter, at, model_key
        ON CONFLICT (project_id, quarter, at, model_key) DO UPDATE SET prompt_tokens = rollup_models.prompt_tokens + excluded.prompt_tokens, completion_tokens = rollup_models.completion_tokens + excluded.completion_tokens, total_tokens = rollup_models.total_tokens + excluded.total_tokens, embedding_tokens = rollup_models.embedding_tokens + excluded.embedding_tokens, cost_nanos = rollup_models.cost_nanos + excluded.cost_nanos, priced_calls = rollup_models.priced_calls + excluded.priced_calls, calls = rollup_models.calls + excluded.calls;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO rollup_messages (project_id, quarter, at, messages)
        SELECT project_id, quarter, at, SUM(messages) FROM (
            SELECT c.project_id, c.started_at / 900000000, o.ts / 900000000, -COUNT(*) FROM old_rows o JOIN conversations c ON c.project_id = o.project_id AND c.conversation_id = o.conversation_id WHERE o.type = 'message' GROUP BY 1, 2, 3
        ) AS d (project_id, quarter, at, messages)
        GROUP BY project_id, quarter, at HAVING SUM(messages) <> 0
        ORDER BY project_id, quarter, at
        ON CONFLICT (project_id, quarter, at) DO UPDATE SET messages = rollup_messages.messages + excluded.messages;
        INSERT INTO rollup_models (project_id, quarter, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
        SELECT project_id, quarter, at, model_key, MIN(model), MIN(provider), SUM(prompt_tokens), SUM(completion_tokens), SUM(total_tokens), SUM(embedding_tokens), SUM(cost_nanos), SUM(priced_calls), SUM(calls) FROM (
            SELECT c.project_id, c.started_at / 900000000, o.ts / 900000000, json_build_array(o.model, o.provider)::text, MIN(o.model), MIN(o.provider), -(COALESCE(SUM(o.prompt_tokens), 0)), -(COALESCE(SUM(o.completion_tokens), 0)), -(COALESCE(SUM(o.total_tokens), 0)), -(COALESCE(SUM(o.embedding_tokens), 0)), -(COALESCE(SUM(o.cost_nanos), 0)), -(COUNT(o.cost_nanos)), -(COUNT(*)) FROM old_rows o JOIN conversations c ON c.project_id = o.project_id AND c.conversation_id = o.conversation_id WHERE o.type = 'token_usage' GROUP BY 1, 2, 3, 4
        ) AS d (project_id, quarter, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
        GROUP BY project_id, quarter, at, model_key HAVING SUM(calls) <> 0
        ORDER BY project_id, quarter, at, model_key
        ON CONFLICT (project_id, quarter, at, model_key) DO UPDATE SET prompt_tokens = rollup_models.prompt_tokens + excluded.prompt_tokens, completion_tokens = rollup_models.completion_tokens + excluded.completion_tokens, total_tokens = rollup_models.total_tokens + excluded.total_tokens, embedding_tokens = rollup_models.embedding_tokens + excluded.embedding_tokens, cost_nanos = rollup_models.cost_nanos + excluded.cost_nanos, priced_calls = rollup_models.priced_calls + excluded.priced_calls, calls = rollup_models.calls + excluded.calls;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER rollup_events_add AFTER INSERT ON events
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION agentsight_event_rollups();

CREATE TRIGGER rollup_events_remove AFTER DELETE ON events
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION agentsight_event_rollups();

-- A new conversation adds the events stored before it (in a batch, its events
-- come first); a start moved into another quarter hour takes the events along.
CREATE FUNCTION agentsight_conversation_event_rollups() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO rollup_messages (project_id, quarter, at, messages)
        SELECT project_id, quarter, at, SUM(messages) FROM (
            SELECT n.project_id, n.started_at / 900000000, e.ts / 900000000, COUNT(*) FROM new_rows n JOIN events e ON e.project_id = n.project_id AND e.conversation_id = n.conversation_id WHERE e.type = 'message' GROUP BY 1, 2, 3
        ) AS d (project_id, quarter, at, messages)
        GROUP BY project_id, quarter, at HAVING SUM(messages) <> 0
        ORDER BY project_id, quarter, at
        ON CONFLICT (project_id, quarter, at) DO UPDATE SET messages = rollup_messages.messages + excluded.messages;
        INSERT INTO rollup_models (project_id, quarter, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
        SELECT project_id, quarter, at, model_key, MIN(model), MIN(provider), SUM(prompt_tokens), SUM(completion_tokens), SUM(total_tokens), SUM(embedding_tokens), SUM(cost_nanos), SUM(priced_calls), SUM(calls) FROM (
            SELECT n.project_id, n.started_at / 900000000, e.ts / 900000000, json_build_array(e.model, e.provider)::text, MIN(e.model), MIN(e.provider), COALESCE(SUM(e.prompt_tokens), 0), COALESCE(SUM(e.completion_tokens), 0), COALESCE(SUM(e.total_tokens), 0), COALESCE(SUM(e.embedding_tokens), 0), COALESCE(SUM(e.cost_nanos), 0), COUNT(e.cost_nanos), COUNT(*) FROM new_rows n JOIN events e ON e.project_id = n.project_id AND e.conversation_id = n.conversation_id WHERE e.type = 'token_usage' GROUP BY 1, 2, 3, 4
        ) AS d (project_id, quarter, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
        GROUP BY project_id, quarter, at, model_key HAVING SUM(calls) <> 0
        ORDER BY project_id, quarter, at, model_key
        ON CONFLICT (project_id, quarter, at, model_key) DO UPDATE SET prompt_tokens = rollup_models.prompt_tokens + excluded.prompt_tokens, completion_tokens = rollup_models.completion_tokens + excluded.completion_tokens, total_tokens = rollup_models.total_tokens + excluded.total_tokens, embedding_tokens = rollup_models.embedding_tokens + excluded.embedding_tokens, cost_nanos = rollup_models.cost_nanos + excluded.cost_nanos, priced_calls = rollup_models.priced_calls + excluded.priced_calls, calls = rollup_models.calls + excluded.calls;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO rollup_messages (project_id, quarter, at, messages)
        SELECT project_id, quarter, at, SUM(messages) FROM (
            SELECT o.project_id, o.started_at / 900000000, e.ts / 900000000, -COUNT(*) FROM old_rows o JOIN events e ON e.project_id = o.project_id AND e.conversation_id = o.conversation_id WHERE e.type = 'message' GROUP BY 1, 2, 3
        ) AS d (project_id, quarter, at, messages)
        GROUP BY project_id, quarter, at HAVING SUM(messages) <> 0
        ORDER BY project_id, quarter, at
        ON CONFLICT (project_id, quarter, at) DO UPDATE SET messages = rollup_messages.messages + excluded.messages;
        INSERT INTO rollup_models (project_id, quarter, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
        SELECT project_id, quarter, at, model_key, MIN(model), MIN(provider), SUM(prompt_tokens), SUM(completion_tokens), SUM(total_tokens), SUM(embedding_tokens), SUM(cost_nanos), SUM(priced_calls), SUM(calls) FROM (
            SELECT o.project_id, o.started_at / 900000000, e.ts / 900000000, json_build_array(e.model, e.provider)::text, MIN(e.model), MIN(e.provider), -(COALESCE(SUM(e.prompt_tokens), 0)), -(COALESCE(SUM(e.completion_tokens), 0)), -(COALESCE(SUM(e.total_tokens), 0)), -(COALESCE(SUM(e.embedding_tokens), 0)), -(COALESCE(SUM(e.cost_nanos), 0)), -(COUNT(e.cost_nanos)), -(COUNT(*)) FROM old_rows o JOIN events e ON e.project_id = o.project_id AND e.conversation_id = o.conversation_id WHERE e.type = 'token_usage' GROUP BY 1, 2, 3, 4
        ) AS d (project_id, quarter, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
        GROUP BY project_id, quarter, at, model_key HAVING SUM(calls) <> 0
        ORDER BY project_id, quarter, at, model_key
        ON CONFLICT (project_id, quarter, at, model_key) DO UPDATE SET prompt_tokens = rollup_models.prompt_tokens + excluded.prompt_tokens, completion_tokens = rollup_models.completion_tokens + excluded.completion_tokens, total_tokens = rollup_models.total_tokens + excluded.total_tokens, embedding_tokens = rollup_models.embedding_tokens + excluded.embedding_tokens, cost_nanos = rollup_models.cost_nanos + excluded.cost_nanos, priced_calls = rollup_models.priced_calls + excluded.priced_calls, calls = rollup_models.calls + excluded.calls;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO rollup_messages (project_id, quarter, at, messages)
        SELECT project_id, quarter, at, SUM(messages) FROM (
            SELECT m.project_id, m.was / 900000000, e.ts / 900000000, -COUNT(*) FROM (SELECT o.project_id, o.conversation_id, o.started_at AS was, n.started_at AS now FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE o.started_at / 900000000 <> n.started_at / 900000000) m JOIN events e ON e.project_id = m.project_id AND e.conversation_id = m.conversation_id WHERE e.type = 'message' GROUP BY 1, 2, 3 UNION ALL SELECT m.project_id, m.now / 900000000, e.ts / 900000000, COUNT(*) FROM (SELECT o.project_id, o.conversation_id, o.started_at AS was, n.started_at AS now FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE o.started_at / 900000000 <> n.started_at / 900000000) m JOIN events e ON e.project_id = m.project_id AND e.conversation_id = m.conversation_id WHERE e.type = 'message' GROUP BY 1, 2, 3
        ) AS d (project_id, quarter, at, messages)
        GROUP BY project_id, quarter, at HAVING SUM(messages) <> 0
        ORDER BY project_id, quarter, at
        ON CONFLICT (project_id, quarter, at) DO UPDATE SET messages = rollup_messages.messages + excluded.messages;
        INSERT INTO rollup_models (project_id, quarter, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
        SELECT project_id, quarter, at, model_key, MIN(model), MIN(provider), SUM(prompt_tokens), SUM(completion_tokens), SUM(total_tokens), SUM(embedding_tokens), SUM(cost_nanos), SUM(priced_calls), SUM(calls) FROM (
            SELECT m.project_id, m.was / 900000000, e.ts / 900000000, json_build_array(e.model, e.provider)::text, MIN(e.model), MIN(e.provider), -(COALESCE(SUM(e.prompt_tokens), 0)), -(COALESCE(SUM(e.completion_tokens), 0)), -(COALESCE(SUM(e.total_tokens), 0)), -(COALESCE(SUM(e.embedding_tokens), 0)), -(COALESCE(SUM(e.cost_nanos), 0)), -(COUNT(e.cost_nanos)), -(COUNT(*)) FROM (SELECT o.project_id, o.conversation_id, o.started_at AS was, n.started_at AS now FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE o.started_at / 900000000 <> n.started_at / 900000000) m JOIN events e ON e.project_id = m.project_id AND e.conversation_id = m.conversation_id WHERE e.type = 'token_usage' GROUP BY 1, 2, 3, 4 UNION ALL SELECT m.project_id, m.now / 900000000, e.ts / 900000000, json_build_array(e.model, e.provider)::text, MIN(e.model), MIN(e.provider), COALESCE(SUM(e.prompt_tokens), 0), COALESCE(SUM(e.completion_tokens), 0), COALESCE(SUM(e.total_tokens), 0), COALESCE(SUM(e.embedding_tokens), 0), COALESCE(SUM(e.cost_nanos), 0), COUNT(e.cost_nanos), COUNT(*) FROM (SELECT o.project_id, o.conversation_id, o.started_at AS was, n.started_at AS now FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE o.started_at / 900000000 <> n.started_at / 900000000) m JOIN events e ON e.project_id = m.project_id AND e.conversation_id = m.conversation_id WHERE e.type = 'token_usage' GROUP BY 1, 2, 3, 4
        ) AS d (project_id, quarter, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
        GROUP BY project_id, quarter, at, model_key HAVING SUM(calls) <> 0
        ORDER BY project_id, quarter, at, model_key
        ON CONFLICT (project_id, quarter, at, model_key) DO UPDATE SET prompt_tokens = rollup_models.prompt_tokens + excluded.prompt_tokens, completion_tokens = rollup_models.completion_tokens + excluded.completion_tokens, total_tokens = rollup_models.total_tokens + excluded.total_tokens, embedding_tokens = rollup_models.embedding_tokens + excluded.embedding_tokens, cost_nanos = rollup_models.cost_nanos + excluded.cost_nanos, priced_calls = rollup_models.priced_calls + excluded.priced_calls, calls = rollup_models.calls + excluded.calls;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER rollup_events_add AFTER INSERT ON conversations
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION agentsight_conversation_event_rollups();

CREATE TRIGGER rollup_events_remove AFTER DELETE ON conversations
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION agentsight_conversation_event_rollups();

CREATE TRIGGER rollup_events_move AFTER UPDATE ON conversations
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION agentsight_conversation_event_rollups();
