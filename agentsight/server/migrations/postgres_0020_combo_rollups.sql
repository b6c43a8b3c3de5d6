-- Schema version 20: the event rollups per combination of attributes, kept by triggers,
-- that GET /v1/metrics reads for a request with attribute filters (environment, source,
-- device, language, country; see storage/_rollups.py).  The same rollups as schema 8's
-- and 11's (17's key of the presses), with the selection per combination (combo: the
-- MD5 of the attributes' JSON array, which rollup_days keys; the array itself, as this
-- migration first wrote it, outgrew a B-tree row with the longest attributes and names:
-- schema 21) and UTC day of the conversation's start instead of per quarter hour, and
-- the event times per UTC hour (at) instead of per quarter hour:
--   rollup_combo_messages: the messages;
--   rollup_combo_models: per model and provider, the token sums, the cost, the priced
--     calls and the calls;
--   rollup_combo_tools: per action name, the actions, the errors, the timed ones, the
--     sum of their durations (kept in two parts, as schema 11's) and the conversations
--     with any;
--   rollup_combo_buttons: per payload (keyed by its MD5, as schema 17 keys
--     rollup_buttons), the presses;
--   rollup_combo_scores: per UTC hour of the event and score name, the scores, the
--     numeric ones and the sum of their values;
--   rollup_combo_score_values: per score name and value, the scores.
-- A request reads the combinations its filters select from rollup_days, then each
-- one's rows by key (the combination leads the keys).  The histograms of the waits and
-- the durations have no such rollup: per day, combination and bucket they would hold
-- about a row per value.
-- What they hold, at every commit: the events of every stored conversation, under its
-- start and attributes.  An event counts once both it and its conversation are stored,
-- until either goes; a conversation whose day of start or whose attributes change (an
-- attribute filled by a later batch) takes its events along.  The statement triggers
-- are those of schemas 8 and 11 with that selection.
-- The triggers read the other table: every writer of events or conversations takes its
-- project's rollup lock before any table (storage/postgres/_write.py: lock_rollups), so
-- taking every project's first waits for the writers under way and holds the next ones
-- back (as schemas 17 to 19 do).  Writes wait while the tables are built (a pass over
-- the events).

SELECT pg_advisory_xact_lock(1919904876, id::int) FROM projects ORDER BY id;
LOCK TABLE conversations, events IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE rollup_combo_messages (
    project_id BIGINT NOT NULL,
    combo TEXT NOT NULL,
    day BIGINT NOT NULL,
    at BIGINT NOT NULL,
    messages BIGINT NOT NULL,
    PRIMARY KEY (project_id, combo, day, at)
);

CREATE TABLE rollup_combo_models (
    project_id BIGINT NOT NULL,
    combo TEXT NOT NULL,
    day BIGINT NOT NULL,
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
    PRIMARY KEY (project_id, combo, day, at, model_key)
);

CREATE TABLE rollup_combo_tools (
    project_id BIGINT NOT NULL,
    combo TEXT NOT NULL,
    day BIGINT NOT NULL,
    action_name TEXT NOT NULL,
    actions BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    timed BIGINT NOT NULL,
    duration_whole NUMERIC NOT NULL,
    duration_part DOUBLE PRECISION NOT NULL,
    conversations BIGINT NOT NULL,
    PRIMARY KEY (project_id, combo, day, action_name)
);

CREATE TABLE rollup_combo_buttons (
    project_id BIGINT NOT NULL,
    combo TEXT NOT NULL,
    day BIGINT NOT NULL,
    payload TEXT NOT NULL,
    presses BIGINT NOT NULL,
    payload_key TEXT GENERATED ALWAYS AS (md5(payload)) STORED,
    PRIMARY KEY (project_id, combo, day, payload_key)
);

CREATE TABLE rollup_combo_scores (
    project_id BIGINT NOT NULL,
    combo TEXT NOT NULL,
    day BIGINT NOT NULL,
    at BIGINT NOT NULL,
    score_name TEXT NOT NULL,
    scores BIGINT NOT NULL,
    valued BIGINT NOT NULL,
    value_whole NUMERIC NOT NULL,
    value_part DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (project_id, combo, day, at, score_name)
);

CREATE TABLE rollup_combo_score_values (
    project_id BIGINT NOT NULL,
    combo TEXT NOT NULL,
    day BIGINT NOT NULL,
    score_name TEXT NOT NULL,
    value_key TEXT NOT NULL,
    score_value DOUBLE PRECISION,
    score_label TEXT,
    scores BIGINT NOT NULL,
    PRIMARY KEY (project_id, combo, day, score_name, value_key)
);

INSERT INTO rollup_combo_messages (project_id, combo, day, at, messages)
SELECT c.project_id, md5(json_build_array(c.environment, c.source, c.device, c.language, c.country)::text), c.started_at / 86400000000, e.ts / 3600000000, COUNT(*)
FROM events e JOIN conversations c ON c.project_id = e.project_id AND c.conversation_id = e.conversation_id
WHERE e.type = 'message' GROUP BY c.project_id, md5(json_build_array(c.environment, c.source, c.device, c.language, c.country)::text), c.started_at / 86400000000, e.ts / 3600000000;

INSERT INTO rollup_combo_models (project_id, combo, day, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
SELECT c.project_id, md5(json_build_array(c.environment, c.source, c.device, c.language, c.country)::text), c.started_at / 86400000000, e.ts / 3600000000, json_build_array(e.model, e.provider)::text, MIN(e.model), MIN(e.provider), COALESCE(SUM(e.prompt_tokens), 0), COALESCE(SUM(e.completion_tokens), 0), COALESCE(SUM(e.total_tokens), 0), COALESCE(SUM(e.embedding_tokens), 0), COALESCE(SUM(e.cost_nanos), 0), COUNT(e.cost_nanos), COUNT(*)
FROM events e JOIN conversations c ON c.project_id = e.project_id AND c.conversation_id = e.conversation_id
WHERE e.type = 'token_usage' GROUP BY c.project_id, md5(json_build_array(c.environment, c.source, c.device, c.language, c.country)::text), c.started_at / 86400000000, e.ts / 3600000000, json_build_array(e.model, e.provider)::text;

INSERT INTO rollup_combo_tools (project_id, combo, day, action_name, actions, errors, timed, duration_whole, duration_part, conversations)
SELECT c.project_id, md5(json_build_array(c.environment, c.source, c.device, c.language, c.country)::text), c.started_at / 86400000000, e.action_name, COUNT(*), COALESCE(SUM(e.is_error), 0), COUNT(CASE WHEN e.duration_ms <= 1e+12 THEN 1 END), COALESCE(SUM(CASE WHEN e.duration_ms <= 1e+12 THEN CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN trunc(e.duration_ms)::bigint ELSE 0 END END), 0), COALESCE(SUM(CASE WHEN e.duration_ms <= 1e+12 THEN e.duration_ms - CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN trunc(e.duration_ms) ELSE 0 END END), 0), COUNT(DISTINCT e.conversation_id)
FROM events e JOIN conversations c ON c.project_id = e.project_id AND c.conversation_id = e.conversation_id
WHERE e.action_name IS NOT NULL GROUP BY 1, 2, 3, 4;

INSERT INTO rollup_combo_buttons (project_id, combo, day, payload, presses)
SELECT c.project_id, md5(json_build_array(c.environment, c.source, c.device, c.language, c.country)::text), c.started_at / 86400000000, e.payload, COUNT(*)
FROM events e JOIN conversations c ON c.project_id = e.project_id AND c.conversation_id = e.conversation_id
WHERE e.type = 'button' GROUP BY 1, 2, 3, 4;

INSERT INTO rollup_combo_scores (project_id, combo, day, at, score_name, scores, valued, value_whole, value_part)
SELECT c.project_id, md5(json_build_array(c.environment, c.source, c.device, c.language, c.country)::text), c.started_at / 86400000000, e.ts / 3600000000, e.score_name, COUNT(*), COUNT(e.score_value), COALESCE(SUM(CASE WHEN abs(e.score_value) < 9223372036854775808 THEN trunc(e.score_value)::bigint ELSE 0 END), 0), COALESCE(SUM(e.score_value - CASE WHEN abs(e.score_value) < 9223372036854775808 THEN trunc(e.score_value) ELSE 0 END), 0)
FROM events e JOIN conversations c ON c.project_id = e.project_id AND c.conversation_id = e.conversation_id
WHERE e.type = 'score' AND e.score_name IS NOT NULL GROUP BY 1, 2, 3, 4, 5;

INSERT INTO rollup_combo_score_values (project_id, combo, day, score_name, value_key, score_value, score_label, scores)
SELECT c.project_id, md5(json_build_array(c.environment, c.source, c.device, c.language, c.country)::text), c.started_at / 86400000000, e.score_name, COALESCE(encode(float8send(e.score_value), 'hex'), 'NULL') || ' ' || quote_nullable(e.score_label), MIN(e.score_value), MIN(e.score_label), COUNT(*)
FROM events e JOIN conversations c ON c.project_id = e.project_id AND c.conversation_id = e.conversation_id
WHERE e.type = 'score' AND e.score_name IS NOT NULL GROUP BY 1, 2, 3, 4, 5;

CREATE FUNCTION agentsight_combo_event_rollups() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO rollup_combo_messages (project_id, combo, day, at, messages)
        SELECT project_id, combo, day, at, SUM(messages) FROM (
            SELECT c.project_id, md5(json_build_array(c.environment, c.source, c.device, c.language, c.country)::text), c.started_at / 86400000000, n.ts / 3600000000, COUNT(*) FROM new_rows n JOIN conversations c ON c.project_id = n.project_id AND c.conversation_id = n.conversation_id WHERE n.type = 'message' GROUP BY 1, 2, 3, 4
        ) AS d (project_id, combo, day, at, messages)
        GROUP BY project_id, combo, day, at HAVING SUM(messages) <> 0
        ORDER BY project_id, combo, day, at
        ON CONFLICT (project_id, combo, day, at) DO UPDATE SET messages = rollup_combo_messages.messages + excluded.messages;
        INSERT INTO rollup_combo_models (project_id, combo, day, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
        SELECT project_id, combo, day, at, model_key, MIN(model), MIN(provider), SUM(prompt_tokens), SUM(completion_tokens), SUM(total_tokens), SUM(embedding_tokens), SUM(cost_nanos), SUM(priced_calls), SUM(calls) FROM (
            SELECT c.project_id, md5(json_build_array(c.environment, c.source, c.device, c.language, c.country)::text), c.started_at / 86400000000, n.ts / 3600000000, json_build_array(n.model, n.provider)::text, MIN(n.model), MIN(n.provider), COALESCE(SUM(n.prompt_tokens), 0), COALESCE(SUM(n.completion_tokens), 0), COALESCE(SUM(n.total_tokens), 0), COALESCE(SUM(n.embedding_tokens), 0), COALESCE(SUM(n.cost_nanos), 0), COUNT(n.cost_nanos), COUNT(*) FROM new_rows n JOIN conversations c ON c.project_id = n.project_id AND c.conversation_id = n.conversation_id WHERE n.type = 'token_usage' GROUP BY 1, 2, 3, 4, 5
        ) AS d (project_id, combo, day, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
        GROUP BY project_id, combo, day, at, model_key HAVING SUM(calls) <> 0
        ORDER BY project_id, combo, day, at, model_key
        ON CONFLICT (project_id, combo, day, at, model_key) DO UPDATE SET prompt_tokens = rollup_combo_models.prompt_tokens + excluded.prompt_tokens, completion_tokens = rollup_combo_models.completion_tokens + excluded.completion_tokens, total_tokens = rollup_combo_models.total_tokens + excluded.total_tokens, embedding_tokens = rollup_combo_models.embedding_tokens + excluded.embedding_tokens, cost_nanos = rollup_combo_models.cost_nanos + excluded.cost_nanos, priced_calls = rollup_combo_models.priced_calls + excluded.priced_calls, calls = rollup_combo_models.calls + excluded.calls;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO rollup_combo_messages (project_id, combo, day, at, messages)
        SELECT project_id, combo, day, at, SUM(messages) FROM (
            SELECT c.project_id, md5(json_build_array(c.environment, c.source, c.device, c.language, c.country)::text), c.started_at / 86400000000, o.ts / 3600000000, -COUNT(*) FROM old_rows o JOIN conversations c ON c.project_id = o.project_id AND c.conversation_id = o.conversation_id WHERE o.type = 'message' GROUP BY 1, 2, 3, 4
        ) AS d (project_id, combo, day, at, messages)
        GROUP BY project_id, combo, day, at HAVING SUM(messages) <> 0
        ORDER BY project_id, combo, day, at
        ON CONFLICT (project_id, combo, day, at) DO UPDATE SET messages = rollup_combo_messages.messages + excluded.messages;
        INSERT INTO rollup_combo_models (project_id, combo, day, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
        SELECT project_id, combo, day, at, model_key, MIN(model), MIN(provider), SUM(prompt_tokens), SUM(completion_tokens), SUM(total_tokens), SUM(embedding_tokens), SUM(cost_nanos), SUM(priced_calls), SUM(calls) FROM (
            SELECT c.project_id, md5(json_build_array(c.environment, c.source, c.device, c.language, c.country)::text), c.started_at / 86400000000, o.ts / 3600000000, json_build_array(o.model, o.provider)::text, MIN(o.model), MIN(o.provider), -(COALESCE(SUM(o.prompt_tokens), 0)), -(COALESCE(SUM(o.completion_tokens), 0)), -(COALESCE(SUM(o.total_tokens), 0)), -(COALESCE(SUM(o.embedding_tokens), 0)), -(COALESCE(SUM(o.cost_nanos), 0)), -(COUNT(o.cost_nanos)), -(COUNT(*)) FROM old_rows o JOIN conversations c ON c.project_id = o.project_id AND c.conversation_id = o.conversation_id WHERE o.type = 'token_usage' GROUP BY 1, 2, 3, 4, 5
        ) AS d (project_id, combo, day, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
        GROUP BY project_id, combo, day, at, model_key HAVING SUM(calls) <> 0
        ORDER BY project_id, combo, day, at, model_key
        ON CONFLICT (project_id, combo, day, at, model_key) DO UPDATE SET prompt_tokens = rollup_combo_models.prompt_tokens + excluded.prompt_tokens, completion_tokens = rollup_combo_models.completion_tokens + excluded.completion_tokens, total_tokens = rollup_combo_models.total_tokens + excluded.total_tokens, embedding_tokens = rollup_combo_models.embedding_tokens + excluded.embedding_tokens, cost_nanos = rollup_combo_models.cost_nanos + excluded.cost_nanos, priced_calls = rollup_combo_models.priced_calls + excluded.priced_calls, calls = rollup_combo_models.calls + excluded.calls;
    END IF;
    RETURN NULL;
END$$;

CREATE TRIGGER rollup_combo_events_add AFTER INSERT ON events
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION agentsight_combo_event_rollups();

CREATE TRIGGER rollup_combo_events_remove AFTER DELETE ON events
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION agentsight_combo_event_rollups();

CREATE FUNCTION agentsight_combo_action_rollups() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO rollup_combo_tools (project_id, combo, day, action_name, actions, errors, timed, duration_whole, duration_part, conversations)
        SELECT project_id, combo, day, action_name, SUM(actions), SUM(errors), SUM(timed), SUM(duration_whole), SUM(duration_part), SUM(conversations) FROM (
            SELECT project_id, combo, day, action_name, SUM(actions), SUM(errors), SUM(timed), SUM(duration_whole), SUM(duration_part), SUM(conversations) FROM (SELECT c.project_id, md5(json_build_array(c.environment, c.source, c.device, c.language, c.country)::text), c.started_at / 86400000000, n.action_name, COUNT(*), COALESCE(SUM(n.is_error), 0), COUNT(CASE WHEN n.duration_ms <= 1e+12 THEN 1 END), COALESCE(SUM(CASE WHEN n.duration_ms <= 1e+12 THEN CASE WHEN abs(n.duration_ms) < 9223372036854775808 THEN trunc(n.duration_ms)::bigint ELSE 0 END END), 0), COALESCE(SUM(CASE WHEN n.duration_ms <= 1e+12 THEN n.duration_ms - CASE WHEN abs(n.duration_ms) < 9223372036854775808 THEN trunc(n.duration_ms) ELSE 0 END END), 0), CASE WHEN COUNT(*) = (SELECT COUNT(*) FROM events x WHERE x.project_id = c.project_id AND x.conversation_id = n.conversation_id AND x.action_name = n.action_name) THEN 1 ELSE 0 END FROM new_rows n JOIN conversations c ON c.project_id = n.project_id AND c.conversation_id = n.conversation_id WHERE n.action_name IS NOT NULL GROUP BY c.project_id, c.started_at, c.environment, c.source, c.device, c.language, c.country, n.conversation_id, n.action_name) AS p (project_id, combo, day, action_name, actions, errors, timed, duration_whole, duration_part, conversations) GROUP BY 1, 2, 3, 4
        ) AS d (project_id, combo, day, action_name, actions, errors, timed, duration_whole, duration_part, conversations)
        GROUP BY project_id, combo, day, action_name HAVING SUM(actions) <> 0 OR SUM(errors) <> 0 OR SUM(timed) <> 0 OR SUM(duration_whole) <> 0 OR SUM(duration_part) <> 0 OR SUM(conversations) <> 0
        ORDER BY project_id, combo, day, action_name
        ON CONFLICT (project_id, combo, day, action_name) DO UPDATE SET actions = rollup_combo_tools.actions + excluded.actions, errors = rollup_combo_tools.errors + excluded.errors, timed = rollup_combo_tools.timed + excluded.timed, duration_whole = rollup_combo_tools.duration_whole + excluded.duration_whole, duration_part = rollup_combo_tools.duration_part + excluded.duration_part, conversations = rollup_combo_tools.conversations + excluded.conversations;
        INSERT INTO rollup_combo_buttons (project_id, combo, day, payload, presses)
        SELECT project_id, combo, day, payload, SUM(presses) FROM (
            SELECT c.project_id, md5(json_build_array(c.environment, c.source, c.device, c.language, c.country)::text), c.started_at / 86400000000, n.payload, COUNT(*) FROM new_rows n JOIN conversations c ON c.project_id = n.project_id AND c.conversation_id = n.conversation_id WHERE n.type = 'button' GROUP BY 1, 2, 3, 4
        ) AS d (project_id, combo, day, payload, presses)
        GROUP BY project_id, combo, day, payload HAVING SUM(presses) <> 0
        ORDER BY project_id, combo, day, payload
        ON CONFLICT (project_id, combo, day, payload_key) DO UPDATE SET presses = rollup_combo_buttons.presses + excluded.presses;
        INSERT INTO rollup_combo_scores (project_id, combo, day, at, score_name, scores, valued, value_whole, value_part)
        SELECT project_id, combo, day, at, score_name, SUM(scores), SUM(valued), SUM(value_whole), SUM(value_part) FROM (
            SELECT c.project_id, md5(json_build_array(c.environment, c.source, c.device, c.language, c.country)::text), c.started_at / 86400000000, n.ts / 3600000000, n.score_name, COUNT(*), COUNT(n.score_value), COALESCE(SUM(CASE WHEN abs(n.score_value) < 9223372036854775808 THEN trunc(n.score_value)::bigint ELSE 0 END), 0), COALESCE(SUM(n.score_value - CASE WHEN abs(n.score_value) < 9223372036854775808 THEN trunc(n.score_value) ELSE 0 END), 0) FROM new_rows n JOIN conversations c ON c.project_id = n.project_id AND c.conversation_id = n.conversation_id WHERE n.type = 'score' AND n.score_name IS NOT NULL GROUP BY 1, 2, 3, 4, 5
        ) AS d (project_id, combo, day, at, score_name, scores, valued, value_whole, value_part)
        GROUP BY project_id, combo, day, at, score_name HAVING SUM(scores) <> 0 OR SUM(valued) <> 0 OR SUM(value_whole) <> 0 OR SUM(value_part) <> 0
        ORDER BY project_id, combo, day, at, score_name
        ON CONFLICT (project_id, combo, day, at, score_name) DO UPDATE SET scores = rollup_combo_scores.scores + excluded.scores, valued = rollup_combo_scores.valued + excluded.valued, value_whole = rollup_combo_scores.value_whole + excluded.value_whole, value_part = rollup_combo_scores.value_part + excluded.value_part;
        INSERT INTO rollup_combo_score_values (project_id, combo, day, score_name, value_key, score_value, score_label, scores)
        SELECT project_id, combo, day, score_name, value_key, MIN(score_value), MIN(score_label), SUM(scores) FROM (
            SELECT c.project_id, md5(json_build_array(c.environment, c.source, c.device, c.language, c.country)::text), c.started_at / 86400000000, n.score_name, COALESCE(encode(float8send(n.score_value), 'hex'), 'NULL') || ' ' || quote_nullable(n.score_label), MIN(n.score_value), MIN(n.score_label), COUNT(*) FROM new_rows n JOIN conversations c ON c.project_id = n.project_id AND c.conversation_id = n.conversation_id WHERE n.type = 'score' AND n.score_name IS NOT NULL GROUP BY 1, 2, 3, 4, 5
        ) AS d (project_id, combo, day, score_name, value_key, score_value, score_label, scores)
        GROUP BY project_id, combo, day, score_name, value_key HAVING SUM(scores) <> 0
        ORDER BY project_id, combo, day, score_name, value_key
        ON CONFLICT (project_id, combo, day, score_name, value_key) DO UPDATE SET scores = rollup_combo_score_values.scores + excluded.scores;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO rollup_combo_tools (project_id, combo, day, action_name, actions, errors, timed, duration_whole, duration_part, conversations)
        SELECT project_id, combo, day, action_name, SUM(actions), SUM(errors), SUM(timed), SUM(duration_whole), SUM(duration_part), SUM(conversations) FROM (
            SELECT project_id, combo, day, action_name, SUM(actions), SUM(errors), SUM(timed), SUM(duration_whole), SUM(duration_part), SUM(conversations) FROM (SELECT c.project_id, md5(json_build_array(c.environment, c.source, c.device, c.language, c.country)::text), c.started_at / 86400000000, o.action_name, -(COUNT(*)), -(COALESCE(SUM(o.is_error), 0)), -(COUNT(CASE WHEN o.duration_ms <= 1e+12 THEN 1 END)), -(COALESCE(SUM(CASE WHEN o.duration_ms <= 1e+12 THEN CASE WHEN abs(o.duration_ms) < 9223372036854775808 THEN trunc(o.duration_ms)::bigint ELSE 0 END END), 0)), -(COALESCE(SUM(CASE WHEN o.duration_ms <= 1e+12 THEN o.duration_ms - CASE WHEN abs(o.duration_ms) < 9223372036854775808 THEN trunc(o.duration_ms) ELSE 0 END END), 0)), -(CASE WHEN EXISTS (SELECT 1 FROM events x WHERE x.project_id = c.project_id AND x.conversation_id = o.conversation_id AND x.action_name = o.action_name) THEN 0 ELSE 1 END) FROM old_rows o JOIN conversations c ON c.project_id = o.project_id AND c.conversation_id = o.conversation_id WHERE o.action_name IS NOT NULL GROUP BY c.project_id, c.started_at, c.environment, c.source, c.device, c.language, c.country, o.conversation_id, o.action_name) AS p (project_id, combo, day, action_name, actions, errors, timed, duration_whole, duration_part, conversations) GROUP BY 1, 2, 3, 4
        ) AS d (project_id, combo, day, action_name, actions, errors, timed, duration_whole, duration_part, conversations)
        GROUP BY project_id, combo, day, action_name HAVING SUM(actions) <> 0 OR SUM(errors) <> 0 OR SUM(timed) <> 0 OR SUM(duration_whole) <> 0 OR SUM(duration_part) <> 0 OR SUM(conversations) <> 0
        ORDER BY project_id, combo, day, action_name
        ON CONFLICT (project_id, combo, day, action_name) DO UPDATE SET actions = rollup_combo_tools.actions + excluded.actions, errors = rollup_combo_tools.errors + excluded.errors, timed = rollup_combo_tools.timed + excluded.timed, duration_whole = rollup_combo_tools.duration_whole + excluded.duration_whole, duration_part = rollup_combo_tools.duration_part + excluded.duration_part, conversations = rollup_combo_tools.conversations + excluded.conversations;
        INSERT INTO rollup_combo_buttons (project_id, combo, day, payload, presses)
        SELECT project_id, combo, day, payload, SUM(presses) FROM (
            SELECT c.project_id, md5(json_build_array(c.environment, c.source, c.device, c.language, c.country)::text), c.started_at / 86400000000, o.payload, -(COUNT(*)) FROM old_rows o JOIN conversations c ON c.project_id = o.project_id AND c.conversation_id = o.conversation_id WHERE o.type = 'button' GROUP BY 1, 2, 3, 4
        ) AS d (project_id, combo, day, payload, presses)
        GROUP BY project_id, combo, day, payload HAVING SUM(presses) <> 0
        ORDER BY project_id, combo, day, payload
        ON CONFLICT (project_id, combo, day, payload_key) DO UPDATE SET presses = rollup_combo_buttons.presses + excluded.presses;
        INSERT INTO rollup_combo_scores (project_id, combo, day, at, score_name, scores, valued, value_whole, value_part)
        SELECT project_id, combo, day, at, score_name, SUM(scores), SUM(valued), SUM(value_whole), SUM(value_part) FROM (
            SELECT c.project_id, md5(json_build_array(c.environment, c.source, c.device, c.language, c.country)::text), c.started_at / 86400000000, o.ts / 3600000000, o.score_name, -(COUNT(*)), -(COUNT(o.score_value)), -(COALESCE(SUM(CASE WHEN abs(o.score_value) < 9223372036854775808 THEN trunc(o.score_value)::bigint ELSE 0 END), 0)), -(COALESCE(SUM(o.score_value - CASE WHEN abs(o.score_value) < 9223372036854775808 THEN trunc(o.score_value) ELSE 0 END), 0)) FROM old_rows o JOIN conversations c ON c.project_id = o.project_id AND c.conversation_id = o.conversation_id WHERE o.type = 'score' AND o.score_name IS NOT NULL GROUP BY 1, 2, 3, 4, 5
        ) AS d (project_id, combo, day, at, score_name, scores, valued, value_whole, value_part)
        GROUP BY project_id, combo, day, at, score_name HAVING SUM(scores) <> 0 OR SUM(valued) <> 0 OR SUM(value_whole) <> 0 OR SUM(value_part) <> 0
        ORDER BY project_id, combo, day, at, score_name
        ON CONFLICT (project_id, combo, day, at, score_name) DO UPDATE SET scores = rollup_combo_scores.scores + excluded.scores, valued = rollup_combo_scores.valued + excluded.valued, value_whole = rollup_combo_scores.value_whole + excluded.value_whole, value_part = rollup_combo_scores.value_part + excluded.value_part;
        INSERT INTO rollup_combo_score_values (project_id, combo, day, score_name, value_key, score_value, score_label, scores)
        SELECT project_id, combo, day, score_name, value_key, MIN(score_value), MIN(score_label), SUM(scores) FROM (
            SELECT c.project_id, md5(json_build_array(c.environment, c.source, c.device, c.language, c.country)::text), c.started_at / 86400000000, o.score_name, COALESCE(encode(float8send(o.score_value), 'hex'), 'NULL') || ' ' || quote_nullable(o.score_label), MIN(o.score_value), MIN(o.score_label), -(COUNT(*)) FROM old_rows o JOIN conversations c ON c.project_id = o.project_id AND c.conversation_id = o.conversation_id WHERE o.type = 'score' AND o.score_name IS NOT NULL GROUP BY 1, 2, 3, 4, 5
        ) AS d (project_id, combo, day, score_name, value_key, score_value, score_label, scores)
        GROUP BY project_id, combo, day, score_name, value_key HAVING SUM(scores) <> 0
        ORDER BY project_id, combo, day, score_name, value_key
        ON CONFLICT (project_id, combo, day, score_name, value_key) DO UPDATE SET scores = rollup_combo_score_values.scores + excluded.scores;
    END IF;
    RETURN NULL;
END$$;

CREATE TRIGGER rollup_combo_actions_add AFTER INSERT ON events
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION agentsight_combo_action_rollups();

CREATE TRIGGER rollup_combo_actions_remove AFTER DELETE ON events
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION agentsight_combo_action_rollups();

CREATE FUNCTION agentsight_conversation_combo_event_rollups() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO rollup_combo_messages (project_id, combo, day, at, messages)
        SELECT project_id, combo, day, at, SUM(messages) FROM (
            SELECT n.project_id, md5(json_build_array(n.environment, n.source, n.device, n.language, n.country)::text), n.started_at / 86400000000, e.ts / 3600000000, COUNT(*) FROM new_rows n JOIN events e ON e.project_id = n.project_id AND e.conversation_id = n.conversation_id WHERE e.type = 'message' GROUP BY 1, 2, 3, 4
        ) AS d (project_id, combo, day, at, messages)
        GROUP BY project_id, combo, day, at HAVING SUM(messages) <> 0
        ORDER BY project_id, combo, day, at
        ON CONFLICT (project_id, combo, day, at) DO UPDATE SET messages = rollup_combo_messages.messages + excluded.messages;
        INSERT INTO rollup_combo_models (project_id, combo, day, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
        SELECT project_id, combo, day, at, model_key, MIN(model), MIN(provider), SUM(prompt_tokens), SUM(completion_tokens), SUM(total_tokens), SUM(embedding_tokens), SUM(cost_nanos), SUM(priced_calls), SUM(calls) FROM (
            SELECT n.project_id, md5(json_build_array(n.environment, n.source, n.device, n.language, n.country)::text), n.started_at / 86400000000, e.ts / 3600000000, json_build_array(e.model, e.provider)::text, MIN(e.model), MIN(e.provider), COALESCE(SUM(e.prompt_tokens), 0), COALESCE(SUM(e.completion_tokens), 0), COALESCE(SUM(e.total_tokens), 0), COALESCE(SUM(e.embedding_tokens), 0), COALESCE(SUM(e.cost_nanos), 0), COUNT(e.cost_nanos), COUNT(*) FROM new_rows n JOIN events e ON e.project_id = n.project_id AND e.conversation_id = n.conversation_id WHERE e.type = 'token_usage' GROUP BY 1, 2, 3, 4, 5
        ) AS d (project_id, combo, day, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
        GROUP BY project_id, combo, day, at, model_key HAVING SUM(prompt_tokens) <> 0 OR SUM(completion_tokens) <> 0 OR SUM(total_tokens) <> 0 OR SUM(embedding_tokens) <> 0 OR SUM(cost_nanos) <> 0 OR SUM(priced_calls) <> 0 OR SUM(calls) <> 0
        ORDER BY project_id, combo, day, at, model_key
        ON CONFLICT (project_id, combo, day, at, model_key) DO UPDATE SET prompt_tokens = rollup_combo_models.prompt_tokens + excluded.prompt_tokens, completion_tokens = rollup_combo_models.completion_tokens + excluded.completion_tokens, total_tokens = rollup_combo_models.total_tokens + excluded.total_tokens, embedding_tokens = rollup_combo_models.embedding_tokens + excluded.embedding_tokens, cost_nanos = rollup_combo_models.cost_nanos + excluded.cost_nanos, priced_calls = rollup_combo_models.priced_calls + excluded.priced_calls, calls = rollup_combo_models.calls + excluded.calls;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO rollup_combo_messages (project_id, combo, day, at, messages)
        SELECT project_id, combo, day, at, SUM(messages) FROM (
            SELECT o.project_id, md5(json_build_array(o.environment, o.source, o.device, o.language, o.country)::text), o.started_at / 86400000000, e.ts / 3600000000, -COUNT(*) FROM old_rows o JOIN events e ON e.project_id = o.project_id AND e.conversation_id = o.conversation_id WHERE e.type = 'message' GROUP BY 1, 2, 3, 4
        ) AS d (project_id, combo, day, at, messages)
        GROUP BY project_id, combo, day, at HAVING SUM(messages) <> 0
        ORDER BY project_id, combo, day, at
        ON CONFLICT (project_id, combo, day, at) DO UPDATE SET messages = rollup_combo_messages.messages + excluded.messages;
        INSERT INTO rollup_combo_models (project_id, combo, day, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
        SELECT project_id, combo, day, at, model_key, MIN(model), MIN(provider), SUM(prompt_tokens), SUM(completion_tokens), SUM(total_tokens), SUM(embedding_tokens), SUM(cost_nanos), SUM(priced_calls), SUM(calls) FROM (
            SELECT o.project_id, md5(json_build_array(o.environment, o.source, o.device, o.language, o.country)::text), o.started_at / 86400000000, e.ts / 3600000000, json_build_array(e.model, e.provider)::text, MIN(e.model), MIN(e.provider), -(COALESCE(SUM(e.prompt_tokens), 0)), -(COALESCE(SUM(e.completion_tokens), 0)), -(COALESCE(SUM(e.total_tokens), 0)), -(COALESCE(SUM(e.embedding_tokens), 0)), -(COALESCE(SUM(e.cost_nanos), 0)), -(COUNT(e.cost_nanos)), -(COUNT(*)) FROM old_rows o JOIN events e ON e.project_id = o.project_id AND e.conversation_id = o.conversation_id WHERE e.type = 'token_usage' GROUP BY 1, 2, 3, 4, 5
        ) AS d (project_id, combo, day, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
        GROUP BY project_id, combo, day, at, model_key HAVING SUM(prompt_tokens) <> 0 OR SUM(completion_tokens) <> 0 OR SUM(total_tokens) <> 0 OR SUM(embedding_tokens) <> 0 OR SUM(cost_nanos) <> 0 OR SUM(priced_calls) <> 0 OR SUM(calls) <> 0
        ORDER BY project_id, combo, day, at, model_key
        ON CONFLICT (project_id, combo, day, at, model_key) DO UPDATE SET prompt_tokens = rollup_combo_models.prompt_tokens + excluded.prompt_tokens, completion_tokens = rollup_combo_models.completion_tokens + excluded.completion_tokens, total_tokens = rollup_combo_models.total_tokens + excluded.total_tokens, embedding_tokens = rollup_combo_models.embedding_tokens + excluded.embedding_tokens, cost_nanos = rollup_combo_models.cost_nanos + excluded.cost_nanos, priced_calls = rollup_combo_models.priced_calls + excluded.priced_calls, calls = rollup_combo_models.calls + excluded.calls;
    ELSIF TG_OP = 'UPDATE' THEN
        IF NOT EXISTS (SELECT 1 FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE (o.started_at / 86400000000 <> n.started_at / 86400000000 OR o.environment IS DISTINCT FROM n.environment OR o.source IS DISTINCT FROM n.source OR o.device IS DISTINCT FROM n.device OR o.language IS DISTINCT FROM n.language OR o.country IS DISTINCT FROM n.country)) THEN
            RETURN NULL;
        END IF;
        INSERT INTO rollup_combo_messages (project_id, combo, day, at, messages)
        SELECT project_id, combo, day, at, SUM(messages) FROM (
            SELECT m.project_id, m.was_combo, m.was / 86400000000, e.ts / 3600000000, -COUNT(*) FROM (SELECT o.project_id, o.conversation_id, md5(json_build_array(o.environment, o.source, o.device, o.language, o.country)::text) AS was_combo, o.started_at AS was, md5(json_build_array(n.environment, n.source, n.device, n.language, n.country)::text) AS now_combo, n.started_at AS now FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE (o.started_at / 86400000000 <> n.started_at / 86400000000 OR o.environment IS DISTINCT FROM n.environment OR o.source IS DISTINCT FROM n.source OR o.device IS DISTINCT FROM n.device OR o.language IS DISTINCT FROM n.language OR o.country IS DISTINCT FROM n.country)) m JOIN events e ON e.project_id = m.project_id AND e.conversation_id = m.conversation_id WHERE e.type = 'message' GROUP BY 1, 2, 3, 4 UNION ALL SELECT m.project_id, m.now_combo, m.now / 86400000000, e.ts / 3600000000, COUNT(*) FROM (SELECT o.project_id, o.conversation_id, md5(json_build_array(o.environment, o.source, o.device, o.language, o.country)::text) AS was_combo, o.started_at AS was, md5(json_build_array(n.environment, n.source, n.device, n.language, n.country)::text) AS now_combo, n.started_at AS now FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE (o.started_at / 86400000000 <> n.started_at / 86400000000 OR o.environment IS DISTINCT FROM n.environment OR o.source IS DISTINCT FROM n.source OR o.device IS DISTINCT FROM n.device OR o.language IS DISTINCT FROM n.language OR o.country IS DISTINCT FROM n.country)) m JOIN events e ON e.project_id = m.project_id AND e.conversation_id = m.conversation_id WHERE e.type = 'message' GROUP BY 1, 2, 3, 4
        ) AS d (project_id, combo, day, at, messages)
        GROUP BY project_id, combo, day, at HAVING SUM(messages) <> 0
        ORDER BY project_id, combo, day, at
        ON CONFLICT (project_id, combo, day, at) DO UPDATE SET messages = rollup_combo_messages.messages + excluded.messages;
        INSERT INTO rollup_combo_models (project_id, combo, day, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
        SELECT project_id, combo, day, at, model_key, MIN(model), MIN(provider), SUM(prompt_tokens), SUM(completion_tokens), SUM(total_tokens), SUM(embedding_tokens), SUM(cost_nanos), SUM(priced_calls), SUM(calls) FROM (
            SELECT m.project_id, m.was_combo, m.was / 86400000000, e.ts / 3600000000, json_build_array(e.model, e.provider)::text, MIN(e.model), MIN(e.provider), -(COALESCE(SUM(e.prompt_tokens), 0)), -(COALESCE(SUM(e.completion_tokens), 0)), -(COALESCE(SUM(e.total_tokens), 0)), -(COALESCE(SUM(e.embedding_tokens), 0)), -(COALESCE(SUM(e.cost_nanos), 0)), -(COUNT(e.cost_nanos)), -(COUNT(*)) FROM (SELECT o.project_id, o.conversation_id, md5(json_build_array(o.environment, o.source, o.device, o.language, o.country)::text) AS was_combo, o.started_at AS was, md5(json_build_array(n.environment, n.source, n.device, n.language, n.country)::text) AS now_combo, n.started_at AS now FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE (o.started_at / 86400000000 <> n.started_at / 86400000000 OR o.environment IS DISTINCT FROM n.environment OR o.source IS DISTINCT FROM n.source OR o.device IS DISTINCT FROM n.device OR o.language IS DISTINCT FROM n.language OR o.country IS DISTINCT FROM n.country)) m JOIN events e ON e.project_id = m.project_id AND e.conversation_id = m.conversation_id WHERE e.type = 'token_usage' GROUP BY 1, 2, 3, 4, 5 UNION ALL SELECT m.project_id, m.now_combo, m.now / 86400000000, e.ts / 3600000000, json_build_array(e.model, e.provider)::text, MIN(e.model), MIN(e.provider), COALESCE(SUM(e.prompt_tokens), 0), COALESCE(SUM(e.completion_tokens), 0), COALESCE(SUM(e.total_tokens), 0), COALESCE(SUM(e.embedding_tokens), 0), COALESCE(SUM(e.cost_nanos), 0), COUNT(e.cost_nanos), COUNT(*) FROM (SELECT o.project_id, o.conversation_id, md5(json_build_array(o.environment, o.source, o.device, o.language, o.country)::text) AS was_combo, o.started_at AS was, md5(json_build_array(n.environment, n.source, n.device, n.language, n.country)::text) AS now_combo, n.started_at AS now FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE (o.started_at / 86400000000 <> n.started_at / 86400000000 OR o.environment IS DISTINCT FROM n.environment OR o.source IS DISTINCT FROM n.source OR o.device IS DISTINCT FROM n.device OR o.language IS DISTINCT FROM n.language OR o.country IS DISTINCT FROM n.country)) m JOIN events e ON e.project_id = m.project_id AND e.conversation_id = m.conversation_id WHERE e.type = 'token_usage' GROUP BY 1, 2, 3, 4, 5
        ) AS d (project_id, combo, day, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
        GROUP BY project_id, combo, day, at, model_key HAVING SUM(prompt_tokens) <> 0 OR SUM(completion_tokens) <> 0 OR SUM(total_tokens) <> 0 OR SUM(embedding_tokens) <> 0 OR SUM(cost_nanos) <> 0 OR SUM(priced_calls) <> 0 OR SUM(calls) <> 0
        ORDER BY project_id, combo, day, at, model_key
        ON CONFLICT (project_id, combo, day, at, model_key) DO UPDATE SET prompt_tokens = rollup_combo_models.prompt_tokens + excluded.prompt_tokens, completion_tokens = rollup_combo_models.completion_tokens + excluded.completion_tokens, total_tokens = rollup_combo_models.total_tokens + excluded.total_tokens, embedding_tokens = rollup_combo_models.embedding_tokens + excluded.embedding_tokens, cost_nanos = rollup_combo_models.cost_nanos + excluded.cost_nanos, priced_calls = rollup_combo_models.priced_calls + excluded.priced_calls, calls = rollup_combo_models.calls + excluded.calls;
    END IF;
    RETURN NULL;
END$$;

CREATE TRIGGER rollup_combo_events_add AFTER INSERT ON conversations
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION agentsight_conversation_combo_event_rollups();

CREATE TRIGGER rollup_combo_events_remove AFTER DELETE ON conversations
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION agentsight_conversation_combo_event_rollups();

CREATE TRIGGER rollup_combo_events_move AFTER UPDATE ON conversations
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION agentsight_conversation_combo_event_rollups();

CREATE FUNCTION agentsight_conversation_combo_action_rollups() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO rollup_combo_tools (project_id, combo, day, action_name, actions, errors, timed, duration_whole, duration_part, conversations)
        SELECT project_id, combo, day, action_name, SUM(actions), SUM(errors), SUM(timed), SUM(duration_whole), SUM(duration_part), SUM(conversations) FROM (
            SELECT n.project_id, md5(json_build_array(n.environment, n.source, n.device, n.language, n.country)::text), n.started_at / 86400000000, e.action_name, COUNT(*), COALESCE(SUM(e.is_error), 0), COUNT(CASE WHEN e.duration_ms <= 1e+12 THEN 1 END), COALESCE(SUM(CASE WHEN e.duration_ms <= 1e+12 THEN CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN trunc(e.duration_ms)::bigint ELSE 0 END END), 0), COALESCE(SUM(CASE WHEN e.duration_ms <= 1e+12 THEN e.duration_ms - CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN trunc(e.duration_ms) ELSE 0 END END), 0), COUNT(DISTINCT e.conversation_id) FROM new_rows n JOIN events e ON e.project_id = n.project_id AND e.conversation_id = n.conversation_id WHERE e.action_name IS NOT NULL GROUP BY 1, 2, 3, 4
        ) AS d (project_id, combo, day, action_name, actions, errors, timed, duration_whole, duration_part, conversations)
        GROUP BY project_id, combo, day, action_name HAVING SUM(actions) <> 0 OR SUM(errors) <> 0 OR SUM(timed) <> 0 OR SUM(duration_whole) <> 0 OR SUM(duration_part) <> 0 OR SUM(conversations) <> 0
        ORDER BY project_id, combo, day, action_name
        ON CONFLICT (project_id, combo, day, action_name) DO UPDATE SET actions = rollup_combo_tools.actions + excluded.actions, errors = rollup_combo_tools.errors + excluded.errors, timed = rollup_combo_tools.timed + excluded.timed, duration_whole = rollup_combo_tools.duration_whole + excluded.duration_whole, duration_part = rollup_combo_tools.duration_part + excluded.duration_part, conversations = rollup_combo_tools.conversations + excluded.conversations;
        INSERT INTO rollup_combo_buttons (project_id, combo, day, payload, presses)
        SELECT project_id, combo, day, payload, SUM(presses) FROM (
            SELECT n.project_id, md5(json_build_array(n.environment, n.source, n.device, n.language, n.country)::text), n.started_at / 86400000000, e.payload, COUNT(*) FROM new_rows n JOIN events e ON e.project_id = n.project_id AND e.conversation_id = n.conversation_id WHERE e.type = 'button' GROUP BY 1, 2, 3, 4
        ) AS d (project_id, combo, day, payload, presses)
        GROUP BY project_id, combo, day, payload HAVING SUM(presses) <> 0
        ORDER BY project_id, combo, day, payload
        ON CONFLICT (project_id, combo, day, payload_key) DO UPDATE SET presses = rollup_combo_buttons.presses + excluded.presses;
        INSERT INTO rollup_combo_scores (project_id, combo, day, at, score_name, scores, valued, value_whole, value_part)
        SELECT project_id, combo, day, at, score_name, SUM(scores), SUM(valued), SUM(value_whole), SUM(value_part) FROM (
            SELECT n.project_id, md5(json_build_array(n.environment, n.source, n.device, n.language, n.country)::text), n.started_at / 86400000000, e.ts / 3600000000, e.score_name, COUNT(*), COUNT(e.score_value), COALESCE(SUM(CASE WHEN abs(e.score_value) < 9223372036854775808 THEN trunc(e.score_value)::bigint ELSE 0 END), 0), COALESCE(SUM(e.score_value - CASE WHEN abs(e.score_value) < 9223372036854775808 THEN trunc(e.score_value) ELSE 0 END), 0) FROM new_rows n JOIN events e ON e.project_id = n.project_id AND e.conversation_id = n.conversation_id WHERE e.type = 'score' AND e.score_name IS NOT NULL GROUP BY 1, 2, 3, 4, 5
        ) AS d (project_id, combo, day, at, score_name, scores, valued, value_whole, value_part)
        GROUP BY project_id, combo, day, at, score_name HAVING SUM(scores) <> 0 OR SUM(valued) <> 0 OR SUM(value_whole) <> 0 OR SUM(value_part) <> 0
        ORDER BY project_id, combo, day, at, score_name
        ON CONFLICT (project_id, combo, day, at, score_name) DO UPDATE SET scores = rollup_combo_scores.scores + excluded.scores, valued = rollup_combo_scores.valued + excluded.valued, value_whole = rollup_combo_scores.value_whole + excluded.value_whole, value_part = rollup_combo_scores.value_part + excluded.value_part;
        INSERT INTO rollup_combo_score_values (project_id, combo, day, score_name, value_key, score_value, score_label, scores)
        SELECT project_id, combo, day, score_name, value_key, MIN(score_value), MIN(score_label), SUM(scores) FROM (
            SELECT n.project_id, md5(json_build_array(n.environment, n.source, n.device, n.language, n.country)::text), n.started_at / 86400000000, e.score_name, COALESCE(encode(float8send(e.score_value), 'hex'), 'NULL') || ' ' || quote_nullable(e.score_label), MIN(e.score_value), MIN(e.score_label), COUNT(*) FROM new_rows n JOIN events e ON e.project_id = n.project_id AND e.conversation_id = n.conversation_id WHERE e.type = 'score' AND e.score_name IS NOT NULL GROUP BY 1, 2, 3, 4, 5
        ) AS d (project_id, combo, day, score_name, value_key, score_value, score_label, scores)
        GROUP BY project_id, combo, day, score_name, value_key HAVING SUM(scores) <> 0
        ORDER BY project_id, combo, day, score_name, value_key
        ON CONFLICT (project_id, combo, day, score_name, value_key) DO UPDATE SET scores = rollup_combo_score_values.scores + excluded.scores;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO rollup_combo_tools (project_id, combo, day, action_name, actions, errors, timed, duration_whole, duration_part, conversations)
        SELECT project_id, combo, day, action_name, SUM(actions), SUM(errors), SUM(timed), SUM(duration_whole), SUM(duration_part), SUM(conversations) FROM (
            SELECT o.project_id, md5(json_build_array(o.environment, o.source, o.device, o.language, o.country)::text), o.started_at / 86400000000, e.action_name, -(COUNT(*)), -(COALESCE(SUM(e.is_error), 0)), -(COUNT(CASE WHEN e.duration_ms <= 1e+12 THEN 1 END)), -(COALESCE(SUM(CASE WHEN e.duration_ms <= 1e+12 THEN CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN trunc(e.duration_ms)::bigint ELSE 0 END END), 0)), -(COALESCE(SUM(CASE WHEN e.duration_ms <= 1e+12 THEN e.duration_ms - CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN trunc(e.duration_ms) ELSE 0 END END), 0)), -(COUNT(DISTINCT e.conversation_id)) FROM old_rows o JOIN events e ON e.project_id = o.project_id AND e.conversation_id = o.conversation_id WHERE e.action_name IS NOT NULL GROUP BY 1, 2, 3, 4
        ) AS d (project_id, combo, day, action_name, actions, errors, timed, duration_whole, duration_part, conversations)
        GROUP BY project_id, combo, day, action_name HAVING SUM(actions) <> 0 OR SUM(errors) <> 0 OR SUM(timed) <> 0 OR SUM(duration_whole) <> 0 OR SUM(duration_part) <> 0 OR SUM(conversations) <> 0
        ORDER BY project_id, combo, day, action_name
        ON CONFLICT (project_id, combo, day, action_name) DO UPDATE SET actions = rollup_combo_tools.actions + excluded.actions, errors = rollup_combo_tools.errors + excluded.errors, timed = rollup_combo_tools.timed + excluded.timed, duration_whole = rollup_combo_tools.duration_whole + excluded.duration_whole, duration_part = rollup_combo_tools.duration_part + excluded.duration_part, conversations = rollup_combo_tools.conversations + excluded.conversations;
        INSERT INTO rollup_combo_buttons (project_id, combo, day, payload, presses)
        SELECT project_id, combo, day, payload, SUM(presses) FROM (
            SELECT o.project_id, md5(json_build_array(o.environment, o.source, o.device, o.language, o.country)::text), o.started_at / 86400000000, e.payload, -(COUNT(*)) FROM old_rows o JOIN events e ON e.project_id = o.project_id AND e.conversation_id = o.conversation_id WHERE e.type = 'button' GROUP BY 1, 2, 3, 4
        ) AS d (project_id, combo, day, payload, presses)
        GROUP BY project_id, combo, day, payload HAVING SUM(presses) <> 0
        ORDER BY project_id, combo, day, payload
        ON CONFLICT (project_id, combo, day, payload_key) DO UPDATE SET presses = rollup_combo_buttons.presses + excluded.presses;
        INSERT INTO rollup_combo_scores (project_id, combo, day, at, score_name, scores, valued, value_whole, value_part)
        SELECT project_id, combo, day, at, score_name, SUM(scores), SUM(valued), SUM(value_whole), SUM(value_part) FROM (
            SELECT o.project_id, md5(json_build_array(o.environment, o.source, o.device, o.language, o.country)::text), o.started_at / 86400000000, e.ts / 3600000000, e.score_name, -(COUNT(*)), -(COUNT(e.score_value)), -(COALESCE(SUM(CASE WHEN abs(e.score_value) < 9223372036854775808 THEN trunc(e.score_value)::bigint ELSE 0 END), 0)), -(COALESCE(SUM(e.score_value - CASE WHEN abs(e.score_value) < 9223372036854775808 THEN trunc(e.score_value) ELSE 0 END), 0)) FROM old_rows o JOIN events e ON e.project_id = o.project_id AND e.conversation_id = o.conversation_id WHERE e.type = 'score' AND e.score_name IS NOT NULL GROUP BY 1, 2, 3, 4, 5
        ) AS d (project_id, combo, day, at, score_name, scores, valued, value_whole, value_part)
        GROUP BY project_id, combo, day, at, score_name HAVING SUM(scores) <> 0 OR SUM(valued) <> 0 OR SUM(value_whole) <> 0 OR SUM(value_part) <> 0
        ORDER BY project_id, combo, day, at, score_name
        ON CONFLICT (project_id, combo, day, at, score_name) DO UPDATE SET scores = rollup_combo_scores.scores + excluded.scores, valued = rollup_combo_scores.valued + excluded.valued, value_whole = rollup_combo_scores.value_whole + excluded.value_whole, value_part = rollup_combo_scores.value_part + excluded.value_part;
        INSERT INTO rollup_combo_score_values (project_id, combo, day, score_name, value_key, score_value, score_label, scores)
        SELECT project_id, combo, day, score_name, value_key, MIN(score_value), MIN(score_label), SUM(scores) FROM (
            SELECT o.project_id, md5(json_build_array(o.environment, o.source, o.device, o.language, o.country)::text), o.started_at / 86400000000, e.score_name, COALESCE(encode(float8send(e.score_value), 'hex'), 'NULL') || ' ' || quote_nullable(e.score_label), MIN(e.score_value), MIN(e.score_label), -(COUNT(*)) FROM old_rows o JOIN events e ON e.project_id = o.project_id AND e.conversation_id = o.conversation_id WHERE e.type = 'score' AND e.score_name IS NOT NULL GROUP BY 1, 2, 3, 4, 5
        ) AS d (project_id, combo, day, score_name, value_key, score_value, score_label, scores)
        GROUP BY project_id, combo, day, score_name, value_key HAVING SUM(scores) <> 0
        ORDER BY project_id, combo, day, score_name, value_key
        ON CONFLICT (project_id, combo, day, score_name, value_key) DO UPDATE SET scores = rollup_combo_score_values.scores + excluded.scores;
    ELSIF TG_OP = 'UPDATE' THEN
        IF NOT EXISTS (SELECT 1 FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE (o.started_at / 86400000000 <> n.started_at / 86400000000 OR o.environment IS DISTINCT FROM n.environment OR o.source IS DISTINCT FROM n.source OR o.device IS DISTINCT FROM n.device OR o.language IS DISTINCT FROM n.language OR o.country IS DISTINCT FROM n.country)) THEN
            RETURN NULL;
        END IF;
        INSERT INTO rollup_combo_tools (project_id, combo, day, action_name, actions, errors, timed, duration_whole, duration_part, conversations)
        SELECT project_id, combo, day, action_name, SUM(actions), SUM(errors), SUM(timed), SUM(duration_whole), SUM(duration_part), SUM(conversations) FROM (
            SELECT m.project_id, m.was_combo, m.was / 86400000000, e.action_name, -(COUNT(*)), -(COALESCE(SUM(e.is_error), 0)), -(COUNT(CASE WHEN e.duration_ms <= 1e+12 THEN 1 END)), -(COALESCE(SUM(CASE WHEN e.duration_ms <= 1e+12 THEN CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN trunc(e.duration_ms)::bigint ELSE 0 END END), 0)), -(COALESCE(SUM(CASE WHEN e.duration_ms <= 1e+12 THEN e.duration_ms - CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN trunc(e.duration_ms) ELSE 0 END END), 0)), -(COUNT(DISTINCT e.conversation_id)) FROM (SELECT o.project_id, o.conversation_id, md5(json_build_array(o.environment, o.source, o.device, o.language, o.country)::text) AS was_combo, o.started_at AS was, md5(json_build_array(n.environment, n.source, n.device, n.language, n.country)::text) AS now_combo, n.started_at AS now FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE (o.started_at / 86400000000 <> n.started_at / 86400000000 OR o.environment IS DISTINCT FROM n.environment OR o.source IS DISTINCT FROM n.source OR o.device IS DISTINCT FROM n.device OR o.language IS DISTINCT FROM n.language OR o.country IS DISTINCT FROM n.country)) m JOIN events e ON e.project_id = m.project_id AND e.conversation_id = m.conversation_id WHERE e.action_name IS NOT NULL GROUP BY 1, 2, 3, 4 UNION ALL SELECT m.project_id, m.now_combo, m.now / 86400000000, e.action_name, COUNT(*), COALESCE(SUM(e.is_error), 0), COUNT(CASE WHEN e.duration_ms <= 1e+12 THEN 1 END), COALESCE(SUM(CASE WHEN e.duration_ms <= 1e+12 THEN CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN trunc(e.duration_ms)::bigint ELSE 0 END END), 0), COALESCE(SUM(CASE WHEN e.duration_ms <= 1e+12 THEN e.duration_ms - CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN trunc(e.duration_ms) ELSE 0 END END), 0), COUNT(DISTINCT e.conversation_id) FROM (SELECT o.project_id, o.conversation_id, md5(json_build_array(o.environment, o.source, o.device, o.language, o.country)::text) AS was_combo, o.started_at AS was, md5(json_build_array(n.environment, n.source, n.device, n.language, n.country)::text) AS now_combo, n.started_at AS now FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE (o.started_at / 86400000000 <> n.started_at / 86400000000 OR o.environment IS DISTINCT FROM n.environment OR o.source IS DISTINCT FROM n.source OR o.device IS DISTINCT FROM n.device OR o.language IS DISTINCT FROM n.language OR o.country IS DISTINCT FROM n.country)) m JOIN events e ON e.project_id = m.project_id AND e.conversation_id = m.conversation_id WHERE e.action_name IS NOT NULL GROUP BY 1, 2, 3, 4
        ) AS d (project_id, combo, day, action_name, actions, errors, timed, duration_whole, duration_part, conversations)
        GROUP BY project_id, combo, day, action_name HAVING SUM(actions) <> 0 OR SUM(errors) <> 0 OR SUM(timed) <> 0 OR SUM(duration_whole) <> 0 OR SUM(duration_part) <> 0 OR SUM(conversations) <> 0
        ORDER BY project_id, combo, day, action_name
        ON CONFLICT (project_id, combo, day, action_name) DO UPDATE SET actions = rollup_combo_tools.actions + excluded.actions, errors = rollup_combo_tools.errors + excluded.errors, timed = rollup_combo_tools.timed + excluded.timed, duration_whole = rollup_combo_tools.duration_whole + excluded.duration_whole, duration_part = rollup_combo_tools.duration_part + excluded.duration_part, conversations = rollup_combo_tools.conversations + excluded.conversations;
        INSERT INTO rollup_combo_buttons (project_id, combo, day, payload, presses)
        SELECT project_id, combo, day, payload, SUM(presses) FROM (
            SELECT m.project_id, m.was_combo, m.was / 86400000000, e.payload, -(COUNT(*)) FROM (SELECT o.project_id, o.conversation_id, md5(json_build_array(o.environment, o.source, o.device, o.language, o.country)::text) AS was_combo, o.started_at AS was, md5(json_build_array(n.environment, n.source, n.device, n.language, n.country)::text) AS now_combo, n.started_at AS now FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE (o.started_at / 86400000000 <> n.started_at / 86400000000 OR o.environment IS DISTINCT FROM n.environment OR o.source IS DISTINCT FROM n.source OR o.device IS DISTINCT FROM n.device OR o.language IS DISTINCT FROM n.language OR o.country IS DISTINCT FROM n.country)) m JOIN events e ON e.project_id = m.project_id AND e.conversation_id = m.conversation_id WHERE e.type = 'button' GROUP BY 1, 2, 3, 4 UNION ALL SELECT m.project_id, m.now_combo, m.now / 86400000000, e.payload, COUNT(*) FROM (SELECT o.project_id, o.conversation_id, md5(json_build_array(o.environment, o.source, o.device, o.language, o.country)::text) AS was_combo, o.started_at AS was, md5(json_build_array(n.environment, n.source, n.device, n.language, n.country)::text) AS now_combo, n.started_at AS now FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE (o.started_at / 86400000000 <> n.started_at / 86400000000 OR o.environment IS DISTINCT FROM n.environment OR o.source IS DISTINCT FROM n.source OR o.device IS DISTINCT FROM n.device OR o.language IS DISTINCT FROM n.language OR o.country IS DISTINCT FROM n.country)) m JOIN events e ON e.project_id = m.project_id AND e.conversation_id = m.conversation_id WHERE e.type = 'button' GROUP BY 1, 2, 3, 4
        ) AS d (project_id, combo, day, payload, presses)
        GROUP BY project_id, combo, day, payload HAVING SUM(presses) <> 0
        ORDER BY project_id, combo, day, payload
        ON CONFLICT (project_id, combo, day, payload_key) DO UPDATE SET presses = rollup_combo_buttons.presses + excluded.presses;
        INSERT INTO rollup_combo_scores (project_id, combo, day, at, score_name, scores, valued, value_whole, value_part)
        SELECT project_id, combo, day, at, score_name, SUM(scores), SUM(valued), SUM(value_whole), SUM(value_part) FROM (
            SELECT m.project_id, m.was_combo, m.was / 86400000000, e.ts / 3600000000, e.score_name, -(COUNT(*)), -(COUNT(e.score_value)), -(COALESCE(SUM(CASE WHEN abs(e.score_value) < 9223372036854775808 THEN trunc(e.score_value)::bigint ELSE 0 END), 0)), -(COALESCE(SUM(e.score_value - CASE WHEN abs(e.score_value) < 9223372036854775808 THEN trunc(e.score_value) ELSE 0 END), 0)) FROM (SELECT o.project_id, o.conversation_id, md5(json_build_array(o.environment, o.source, o.device, o.language, o.country)::text) AS was_combo, o.started_at AS was, md5(json_build_array(n.environment, n.source, n.device, n.language, n.country)::text) AS now_combo, n.started_at AS now FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE (o.started_at / 86400000000 <> n.started_at / 86400000000 OR o.environment IS DISTINCT FROM n.environment OR o.source IS DISTINCT FROM n.source OR o.device IS DISTINCT FROM n.device OR o.language IS DISTINCT FROM n.language OR o.country IS DISTINCT FROM n.country)) m JOIN events e ON e.project_id = m.project_id AND e.conversation_id = m.conversation_id WHERE e.type = 'score' AND e.score_name IS NOT NULL GROUP BY 1, 2, 3, 4, 5 UNION ALL SELECT m.project_id, m.now_combo, m.now / 86400000000, e.ts / 3600000000, e.score_name, COUNT(*), COUNT(e.score_value), COALESCE(SUM(CASE WHEN abs(e.score_value) < 9223372036854775808 THEN trunc(e.score_value)::bigint ELSE 0 END), 0), COALESCE(SUM(e.score_value - CASE WHEN abs(e.score_value) < 9223372036854775808 THEN trunc(e.score_value) ELSE 0 END), 0) FROM (SELECT o.project_id, o.conversation_id, md5(json_build_array(o.environment, o.source, o.device, o.language, o.country)::text) AS was_combo, o.started_at AS was, md5(json_build_array(n.environment, n.source, n.device, n.language, n.country)::text) AS now_combo, n.started_at AS now FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE (o.started_at / 86400000000 <> n.started_at / 86400000000 OR o.environment IS DISTINCT FROM n.environment OR o.source IS DISTINCT FROM n.source OR o.device IS DISTINCT FROM n.device OR o.language IS DISTINCT FROM n.language OR o.country IS DISTINCT FROM n.country)) m JOIN events e ON e.project_id = m.project_id AND e.conversation_id = m.conversation_id WHERE e.type = 'score' AND e.score_name IS NOT NULL GROUP BY 1, 2, 3, 4, 5
        ) AS d (project_id, combo, day, at, score_name, scores, valued, value_whole, value_part)
        GROUP BY project_id, combo, day, at, score_name HAVING SUM(scores) <> 0 OR SUM(valued) <> 0 OR SUM(value_whole) <> 0 OR SUM(value_part) <> 0
        ORDER BY project_id, combo, day, at, score_name
        ON CONFLICT (project_id, combo, day, at, score_name) DO UPDATE SET scores = rollup_combo_scores.scores + excluded.scores, valued = rollup_combo_scores.valued + excluded.valued, value_whole = rollup_combo_scores.value_whole + excluded.value_whole, value_part = rollup_combo_scores.value_part + excluded.value_part;
        INSERT INTO rollup_combo_score_values (project_id, combo, day, score_name, value_key, score_value, score_label, scores)
        SELECT project_id, combo, day, score_name, value_key, MIN(score_value), MIN(score_label), SUM(scores) FROM (
            SELECT m.project_id, m.was_combo, m.was / 86400000000, e.score_name, COALESCE(encode(float8send(e.score_value), 'hex'), 'NULL') || ' ' || quote_nullable(e.score_label), MIN(e.score_value), MIN(e.score_label), -(COUNT(*)) FROM (SELECT o.project_id, o.conversation_id, md5(json_build_array(o.environment, o.source, o.device, o.language, o.country)::text) AS was_combo, o.started_at AS was, md5(json_build_array(n.environment, n.source, n.device, n.language, n.country)::text) AS now_combo, n.started_at AS now FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE (o.started_at / 86400000000 <> n.started_at / 86400000000 OR o.environment IS DISTINCT FROM n.environment OR o.source IS DISTINCT FROM n.source OR o.device IS DISTINCT FROM n.device OR o.language IS DISTINCT FROM n.language OR o.country IS DISTINCT FROM n.country)) m JOIN events e ON e.project_id = m.project_id AND e.conversation_id = m.conversation_id WHERE e.type = 'score' AND e.score_name IS NOT NULL GROUP BY 1, 2, 3, 4, 5 UNION ALL SELECT m.project_id, m.now_combo, m.now / 86400000000, e.score_name, COALESCE(encode(float8send(e.score_value), 'hex'), 'NULL') || ' ' || quote_nullable(e.score_label), MIN(e.score_value), MIN(e.score_label), COUNT(*) FROM (SELECT o.project_id, o.conversation_id, md5(json_build_array(o.environment, o.source, o.device, o.language, o.country)::text) AS was_combo, o.started_at AS was, md5(json_build_array(n.environment, n.source, n.device, n.language, n.country)::text) AS now_combo, n.started_at AS now FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE (o.started_at / 86400000000 <> n.started_at / 86400000000 OR o.environment IS DISTINCT FROM n.environment OR o.source IS DISTINCT FROM n.source OR o.device IS DISTINCT FROM n.device OR o.language IS DISTINCT FROM n.language OR o.country IS DISTINCT FROM n.country)) m JOIN events e ON e.project_id = m.project_id AND e.conversation_id = m.conversation_id WHERE e.type = 'score' AND e.score_name IS NOT NULL GROUP BY 1, 2, 3, 4, 5
        ) AS d (project_id, combo, day, score_name, value_key, score_value, score_label, scores)
        GROUP BY project_id, combo, day, score_name, value_key HAVING SUM(scores) <> 0
        ORDER BY project_id, combo, day, score_name, value_key
        ON CONFLICT (project_id, combo, day, score_name, value_key) DO UPDATE SET scores = rollup_combo_score_values.scores + excluded.scores;
    END IF;
    RETURN NULL;
END$$;

CREATE TRIGGER rollup_combo_actions_add AFTER INSERT ON conversations
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION agentsight_conversation_combo_action_rollups();

CREATE TRIGGER rollup_combo_actions_remove AFTER DELETE ON conversations
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION agentsight_conversation_combo_action_rollups();

CREATE TRIGGER rollup_combo_actions_move AFTER UPDATE ON conversations
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION agentsight_conversation_combo_action_rollups();
