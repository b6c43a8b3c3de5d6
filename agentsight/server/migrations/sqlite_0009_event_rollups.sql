-- Schema version 9: rollups of the messages and model calls, kept by triggers,
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
-- stored (whichever comes first: an event's trigger adds it when its
-- conversation is there, a new conversation's trigger adds the events already
-- there), until either goes; a conversation whose start moves into another
-- quarter hour takes its events along.  Events never change what counts here
-- (only response_wait is updated).
CREATE TABLE rollup_messages (
    project_id INTEGER NOT NULL,
    quarter INTEGER NOT NULL,
    at INTEGER NOT NULL,
    messages INTEGER NOT NULL,
    PRIMARY KEY (project_id, quarter, at)
) WITHOUT ROWID;

CREATE TABLE rollup_models (
    project_id INTEGER NOT NULL,
    quarter INTEGER NOT NULL,
    at INTEGER NOT NULL,
    model_key TEXT NOT NULL,
    model TEXT,
    provider TEXT,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    total_tokens INTEGER NOT NULL,
    embedding_tokens INTEGER NOT NULL,
    cost_nanos INTEGER NOT NULL,
    priced_calls INTEGER NOT NULL,
    calls INTEGER NOT NULL,
    PRIMARY KEY (project_id, quarter, at, model_key)
) WITHOUT ROWID;

INSERT INTO rollup_messages (project_id, quarter, at, messages)
SELECT c.project_id, c.started_at / 900000000, e.ts / 900000000, COUNT(*)
FROM events e JOIN conversations c ON c.project_id = e.project_id AND c.conversation_id = e.conversation_id
WHERE e.type = 'message' GROUP BY c.project_id, c.started_at / 900000000, e.ts / 900000000;

INSERT INTO rollup_models (project_id, quarter, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
SELECT c.project_id, c.started_at / 900000000, e.ts / 900000000, json_array(e.model, e.provider), MIN(e.model), MIN(e.provider), COALESCE(SUM(e.prompt_tokens), 0), COALESCE(SUM(e.completion_tokens), 0), COALESCE(SUM(e.total_tokens), 0), COALESCE(SUM(e.embedding_tokens), 0), COALESCE(SUM(e.cost_nanos), 0), COUNT(e.cost_nanos), COUNT(*)
FROM events e JOIN conversations c ON c.project_id = e.project_id AND c.conversation_id = e.conversation_id
WHERE e.type = 'token_usage' GROUP BY c.project_id, c.started_at / 900000000, e.ts / 900000000, json_array(e.model, e.provider);

-- An event counts under its conversation's start, when the conversation is stored.
CREATE TRIGGER rollup_messages_add AFTER INSERT ON events WHEN new.type = 'message'
BEGIN
    INSERT INTO rollup_messages (project_id, quarter, at, messages)
    SELECT c.project_id, c.started_at / 900000000, new.ts / 900000000, 1 FROM conversations c
    WHERE c.project_id = new.project_id AND c.conversation_id = new.conversation_id
    ON CONFLICT (project_id, quarter, at) DO UPDATE SET messages = messages + excluded.messages;
END;

CREATE TRIGGER rollup_models_add AFTER INSERT ON events WHEN new.type = 'token_usage'
BEGIN
    INSERT INTO rollup_models (project_id, quarter, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
    SELECT c.project_id, c.started_at / 900000000, new.ts / 900000000, json_array(new.model, new.provider), new.model, new.provider, COALESCE(new.prompt_tokens, 0), COALESCE(new.completion_tokens, 0), COALESCE(new.total_tokens, 0), COALESCE(new.embedding_tokens, 0), COALESCE(new.cost_nanos, 0), CASE WHEN new.cost_nanos IS NULL THEN 0 ELSE 1 END, 1 FROM conversations c
    WHERE c.project_id = new.project_id AND c.conversation_id = new.conversation_id
    ON CONFLICT (project_id, quarter, at, model_key) DO UPDATE SET prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens, total_tokens = total_tokens + excluded.total_tokens, embedding_tokens = embedding_tokens + excluded.embedding_tokens, cost_nanos = cost_nanos + excluded.cost_nanos, priced_calls = priced_calls + excluded.priced_calls, calls = calls + excluded.calls;
END;

CREATE TRIGGER rollup_messages_remove AFTER DELETE ON events WHEN old.type = 'message'
BEGIN
    INSERT INTO rollup_messages (project_id, quarter, at, messages)
    SELECT c.project_id, c.started_at / 900000000, old.ts / 900000000, -1 FROM conversations c
    WHERE c.project_id = old.project_id AND c.conversation_id = old.conversation_id
    ON CONFLICT (project_id, quarter, at) DO UPDATE SET messages = messages + excluded.messages;
END;

CREATE TRIGGER rollup_models_remove AFTER DELETE ON events WHEN old.type = 'token_usage'
BEGIN
    INSERT INTO rollup_models (project_id, quarter, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
    SELECT c.project_id, c.started_at / 900000000, old.ts / 900000000, json_array(old.model, old.provider), old.model, old.provider, -(COALESCE(old.prompt_tokens, 0)), -(COALESCE(old.completion_tokens, 0)), -(COALESCE(old.total_tokens, 0)), -(COALESCE(old.embedding_tokens, 0)), -(COALESCE(old.cost_nanos, 0)), -(CASE WHEN old.cost_nanos IS NULL THEN 0 ELSE 1 END), -(1) FROM conversations c
    WHERE c.project_id = old.project_id AND c.conversation_id = old.conversation_id
    ON CONFLICT (project_id, quarter, at, model_key) DO UPDATE SET prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens, total_tokens = total_tokens + excluded.total_tokens, embedding_tokens = embedding_tokens + excluded.embedding_tokens, cost_nanos = cost_nanos + excluded.cost_nanos, priced_calls = priced_calls + excluded.priced_calls, calls = calls + excluded.calls;
END;

-- A new conversation adds the events stored before it (in a batch, its events come first).
CREATE TRIGGER rollup_events_add AFTER INSERT ON conversations
BEGIN
    INSERT INTO rollup_messages (project_id, quarter, at, messages)
    SELECT new.project_id, new.started_at / 900000000, e.ts / 900000000, COUNT(*) FROM events e
    WHERE e.project_id = new.project_id AND e.conversation_id = new.conversation_id AND e.type = 'message' GROUP BY e.ts / 900000000
    ON CONFLICT (project_id, quarter, at) DO UPDATE SET messages = messages + excluded.messages;
    INSERT INTO rollup_models (project_id, quarter, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
    SELECT new.project_id, new.started_at / 900000000, e.ts / 900000000, json_array(e.model, e.provider), MIN(e.model), MIN(e.provider), COALESCE(SUM(e.prompt_tokens), 0), COALESCE(SUM(e.completion_tokens), 0), COALESCE(SUM(e.total_tokens), 0), COALESCE(SUM(e.embedding_tokens), 0), COALESCE(SUM(e.cost_nanos), 0), COUNT(e.cost_nanos), COUNT(*) FROM events e
    WHERE e.project_id = new.project_id AND e.conversation_id = new.conversation_id AND e.type = 'token_usage' GROUP BY e.ts / 900000000, json_array(e.model, e.provider)
    ON CONFLICT (project_id, quarter, at, model_key) DO UPDATE SET prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens, total_tokens = total_tokens + excluded.total_tokens, embedding_tokens = embedding_tokens + excluded.embedding_tokens, cost_nanos = cost_nanos + excluded.cost_nanos, priced_calls = priced_calls + excluded.priced_calls, calls = calls + excluded.calls;
END;

CREATE TRIGGER rollup_events_remove AFTER DELETE ON conversations
BEGIN
    INSERT INTO rollup_messages (project_id, quarter, at, messages)
    SELECT old.project_id, old.started_at / 900000000, e.ts / 900000000, -COUNT(*) FROM events e
    WHERE e.project_id = old.project_id AND e.conversation_id = old.conversation_id AND e.type = 'message' GROUP BY e.ts / 900000000
    ON CONFLICT (project_id, quarter, at) DO UPDATE SET messages = messages + excluded.messages;
    INSERT INTO rollup_models (project_id, quarter, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
    SELECT old.project_id, old.started_at / 900000000, e.ts / 900000000, json_array(e.model, e.provider), MIN(e.model), MIN(e.provider), -(COALESCE(SUM(e.prompt_tokens), 0)), -(COALESCE(SUM(e.completion_tokens), 0)), -(COALESCE(SUM(e.total_tokens), 0)), -(COALESCE(SUM(e.embedding_tokens), 0)), -(COALESCE(SUM(e.cost_nanos), 0)), -(COUNT(e.cost_nanos)), -(COUNT(*)) FROM events e
    WHERE e.project_id = old.project_id AND e.conversation_id = old.conversation_id AND e.type = 'token_usage' GROUP BY e.ts / 900000000, json_array(e.model, e.provider)
    ON CONFLICT (project_id, quarter, at, model_key) DO UPDATE SET prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens, total_tokens = total_tokens + excluded.total_tokens, embedding_tokens = embedding_tokens + excluded.embedding_tokens, cost_nanos = cost_nanos + excluded.cost_nanos, priced_calls = priced_calls + excluded.priced_calls, calls = calls + excluded.calls;
END;

-- A start moved into another quarter hour takes the conversation's events along.
CREATE TRIGGER rollup_events_move AFTER UPDATE OF started_at ON conversations
WHEN NOT (old.started_at / 900000000 = new.started_at / 900000000)
BEGIN
    INSERT INTO rollup_messages (project_id, quarter, at, messages)
    SELECT old.project_id, old.started_at / 900000000, e.ts / 900000000, -COUNT(*) FROM events e
    WHERE e.project_id = old.project_id AND e.conversation_id = old.conversation_id AND e.type = 'message' GROUP BY e.ts / 900000000
    ON CONFLICT (project_id, quarter, at) DO UPDATE SET messages = messages + excluded.messages;
    INSERT INTO rollup_models (project_id, quarter, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
    SELECT old.project_id, old.started_at / 900000000, e.ts / 900000000, json_array(e.model, e.provider), MIN(e.model), MIN(e.provider), -(COALESCE(SUM(e.prompt_tokens), 0)), -(COALESCE(SUM(e.completion_tokens), 0)), -(COALESCE(SUM(e.total_tokens), 0)), -(COALESCE(SUM(e.embedding_tokens), 0)), -(COALESCE(SUM(e.cost_nanos), 0)), -(COUNT(e.cost_nanos)), -(COUNT(*)) FROM events e
    WHERE e.project_id = old.project_id AND e.conversation_id = old.conversation_id AND e.type = 'token_usage' GROUP BY e.ts / 900000000, json_array(e.model, e.provider)
    ON CONFLICT (project_id, quarter, at, model_key) DO UPDATE SET prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens, total_tokens = total_tokens + excluded.total_tokens, embedding_tokens = embedding_tokens + excluded.embedding_tokens, cost_nanos = cost_nanos + excluded.cost_nanos, priced_calls = priced_calls + excluded.priced_calls, calls = calls + excluded.calls;
    INSERT INTO rollup_messages (project_id, quarter, at, messages)
    SELECT new.project_id, new.started_at / 900000000, e.ts / 900000000, COUNT(*) FROM events e
    WHERE e.project_id = new.project_id AND e.conversation_id = new.conversation_id AND e.type = 'message' GROUP BY e.ts / 900000000
    ON CONFLICT (project_id, quarter, at) DO UPDATE SET messages = messages + excluded.messages;
    INSERT INTO rollup_models (project_id, quarter, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
    SELECT new.project_id, new.started_at / 900000000, e.ts / 900000000, json_array(e.model, e.provider), MIN(e.model), MIN(e.provider), COALESCE(SUM(e.prompt_tokens), 0), COALESCE(SUM(e.completion_tokens), 0), COALESCE(SUM(e.total_tokens), 0), COALESCE(SUM(e.embedding_tokens), 0), COALESCE(SUM(e.cost_nanos), 0), COUNT(e.cost_nanos), COUNT(*) FROM events e
    WHERE e.project_id = new.project_id AND e.conversation_id = new.conversation_id AND e.type = 'token_usage' GROUP BY e.ts / 900000000, json_array(e.model, e.provider)
    ON CONFLICT (project_id, quarter, at, model_key) DO UPDATE SET prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens, total_tokens = total_tokens + excluded.total_tokens, embedding_tokens = embedding_tokens + excluded.embedding_tokens, cost_nanos = cost_nanos + excluded.cost_nanos, priced_calls = priced_calls + excluded.priced_calls, calls = calls + excluded.calls;
END;
