-- Schema version 19: the event rollups per combination of attributes, kept by triggers,
-- that GET /v1/metrics reads for a request with attribute filters (environment, source,
-- device, language, country; see storage/_rollups.py).  The same rollups as schema 9's
-- and 12's, with the selection per combination (combo: the attributes' JSON array, as
-- rollup_days keys it) and UTC day of the conversation's start instead of per quarter
-- hour, and the event times per UTC hour (at) instead of per quarter hour:
--   rollup_combo_messages: the messages;
--   rollup_combo_models: per model and provider, the token sums, the cost, the priced
--     calls and the calls;
--   rollup_combo_tools: per action name, the actions, the errors, the timed ones, the
--     sum of their durations (kept in two parts, as schema 12's) and the conversations
--     with any;
--   rollup_combo_buttons: per payload, the presses;
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
-- attribute filled by a later batch) takes its events along.
-- Writes wait while they are built (a pass over the events).
CREATE TABLE rollup_combo_messages (
    project_id INTEGER NOT NULL,
    combo TEXT NOT NULL,
    day INTEGER NOT NULL,
    at INTEGER NOT NULL,
    messages INTEGER NOT NULL,
    PRIMARY KEY (project_id, combo, day, at)
) WITHOUT ROWID;

CREATE TABLE rollup_combo_models (
    project_id INTEGER NOT NULL,
    combo TEXT NOT NULL,
    day INTEGER NOT NULL,
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
    PRIMARY KEY (project_id, combo, day, at, model_key)
) WITHOUT ROWID;

INSERT INTO rollup_combo_messages (project_id, combo, day, at, messages)
SELECT c.project_id, json_array(c.environment, c.source, c.device, c.language, c.country), c.started_at / 86400000000, e.ts / 3600000000, COUNT(*)
FROM events e JOIN conversations c ON c.project_id = e.project_id AND c.conversation_id = e.conversation_id
WHERE e.type = 'message' GROUP BY c.project_id, json_array(c.environment, c.source, c.device, c.language, c.country), c.started_at / 86400000000, e.ts / 3600000000;

INSERT INTO rollup_combo_models (project_id, combo, day, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
SELECT c.project_id, json_array(c.environment, c.source, c.device, c.language, c.country), c.started_at / 86400000000, e.ts / 3600000000, json_array(e.model, e.provider), MIN(e.model), MIN(e.provider), COALESCE(SUM(e.prompt_tokens), 0), COALESCE(SUM(e.completion_tokens), 0), COALESCE(SUM(e.total_tokens), 0), COALESCE(SUM(e.embedding_tokens), 0), COALESCE(SUM(e.cost_nanos), 0), COUNT(e.cost_nanos), COUNT(*)
FROM events e JOIN conversations c ON c.project_id = e.project_id AND c.conversation_id = e.conversation_id
WHERE e.type = 'token_usage' GROUP BY c.project_id, json_array(c.environment, c.source, c.device, c.language, c.country), c.started_at / 86400000000, e.ts / 3600000000, json_array(e.model, e.provider);

CREATE TRIGGER rollup_combo_messages_add AFTER INSERT ON events WHEN new.type = 'message'
BEGIN
    INSERT INTO rollup_combo_messages (project_id, combo, day, at, messages)
    SELECT c.project_id, json_array(c.environment, c.source, c.device, c.language, c.country), c.started_at / 86400000000, new.ts / 3600000000, 1 FROM conversations c
    WHERE c.project_id = new.project_id AND c.conversation_id = new.conversation_id
    ON CONFLICT (project_id, combo, day, at) DO UPDATE SET messages = messages + excluded.messages;
END;

CREATE TRIGGER rollup_combo_models_add AFTER INSERT ON events WHEN new.type = 'token_usage'
BEGIN
    INSERT INTO rollup_combo_models (project_id, combo, day, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
    SELECT c.project_id, json_array(c.environment, c.source, c.device, c.language, c.country), c.started_at / 86400000000, new.ts / 3600000000, json_array(new.model, new.provider), new.model, new.provider, COALESCE(new.prompt_tokens, 0), COALESCE(new.completion_tokens, 0), COALESCE(new.total_tokens, 0), COALESCE(new.embedding_tokens, 0), COALESCE(new.cost_nanos, 0), CASE WHEN new.cost_nanos IS NULL THEN 0 ELSE 1 END, 1 FROM conversations c
    WHERE c.project_id = new.project_id AND c.conversation_id = new.conversation_id
    ON CONFLICT (project_id, combo, day, at, model_key) DO UPDATE SET prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens, total_tokens = total_tokens + excluded.total_tokens, embedding_tokens = embedding_tokens + excluded.embedding_tokens, cost_nanos = cost_nanos + excluded.cost_nanos, priced_calls = priced_calls + excluded.priced_calls, calls = calls + excluded.calls;
END;

CREATE TRIGGER rollup_combo_messages_remove AFTER DELETE ON events WHEN old.type = 'message'
BEGIN
    INSERT INTO rollup_combo_messages (project_id, combo, day, at, messages)
    SELECT c.project_id, json_array(c.environment, c.source, c.device, c.language, c.country), c.started_at / 86400000000, old.ts / 3600000000, -1 FROM conversations c
    WHERE c.project_id = old.project_id AND c.conversation_id = old.conversation_id
    ON CONFLICT (project_id, combo, day, at) DO UPDATE SET messages = messages + excluded.messages;
END;

CREATE TRIGGER rollup_combo_models_remove AFTER DELETE ON events WHEN old.type = 'token_usage'
BEGIN
    INSERT INTO rollup_combo_models (project_id, combo, day, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
    SELECT c.project_id, json_array(c.environment, c.source, c.device, c.language, c.country), c.started_at / 86400000000, old.ts / 3600000000, json_array(old.model, old.provider), old.model, old.provider, -(COALESCE(old.prompt_tokens, 0)), -(COALESCE(old.completion_tokens, 0)), -(COALESCE(old.total_tokens, 0)), -(COALESCE(old.embedding_tokens, 0)), -(COALESCE(old.cost_nanos, 0)), -(CASE WHEN old.cost_nanos IS NULL THEN 0 ELSE 1 END), -(1) FROM conversations c
    WHERE c.project_id = old.project_id AND c.conversation_id = old.conversation_id
    ON CONFLICT (project_id, combo, day, at, model_key) DO UPDATE SET prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens, total_tokens = total_tokens + excluded.total_tokens, embedding_tokens = embedding_tokens + excluded.embedding_tokens, cost_nanos = cost_nanos + excluded.cost_nanos, priced_calls = priced_calls + excluded.priced_calls, calls = calls + excluded.calls;
END;

CREATE TRIGGER rollup_combo_events_add AFTER INSERT ON conversations
BEGIN
    INSERT INTO rollup_combo_messages (project_id, combo, day, at, messages)
    SELECT new.project_id, json_array(new.environment, new.source, new.device, new.language, new.country), new.started_at / 86400000000, e.ts / 3600000000, COUNT(*) FROM events e
    WHERE e.project_id = new.project_id AND e.conversation_id = new.conversation_id AND e.type = 'message' GROUP BY e.ts / 3600000000
    ON CONFLICT (project_id, combo, day, at) DO UPDATE SET messages = messages + excluded.messages;
    INSERT INTO rollup_combo_models (project_id, combo, day, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
    SELECT new.project_id, json_array(new.environment, new.source, new.device, new.language, new.country), new.started_at / 86400000000, e.ts / 3600000000, json_array(e.model, e.provider), MIN(e.model), MIN(e.provider), COALESCE(SUM(e.prompt_tokens), 0), COALESCE(SUM(e.completion_tokens), 0), COALESCE(SUM(e.total_tokens), 0), COALESCE(SUM(e.embedding_tokens), 0), COALESCE(SUM(e.cost_nanos), 0), COUNT(e.cost_nanos), COUNT(*) FROM events e
    WHERE e.project_id = new.project_id AND e.conversation_id = new.conversation_id AND e.type = 'token_usage' GROUP BY e.ts / 3600000000, json_array(e.model, e.provider)
    ON CONFLICT (project_id, combo, day, at, model_key) DO UPDATE SET prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens, total_tokens = total_tokens + excluded.total_tokens, embedding_tokens = embedding_tokens + excluded.embedding_tokens, cost_nanos = cost_nanos + excluded.cost_nanos, priced_calls = priced_calls + excluded.priced_calls, calls = calls + excluded.calls;
END;

CREATE TRIGGER rollup_combo_events_remove AFTER DELETE ON conversations
BEGIN
    INSERT INTO rollup_combo_messages (project_id, combo, day, at, messages)
    SELECT old.project_id, json_array(old.environment, old.source, old.device, old.language, old.country), old.started_at / 86400000000, e.ts / 3600000000, -COUNT(*) FROM events e
    WHERE e.project_id = old.project_id AND e.conversation_id = old.conversation_id AND e.type = 'message' GROUP BY e.ts / 3600000000
    ON CONFLICT (project_id, combo, day, at) DO UPDATE SET messages = messages + excluded.messages;
    INSERT INTO rollup_combo_models (project_id, combo, day, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
    SELECT old.project_id, json_array(old.environment, old.source, old.device, old.language, old.country), old.started_at / 86400000000, e.ts / 3600000000, json_array(e.model, e.provider), MIN(e.model), MIN(e.provider), -(COALESCE(SUM(e.prompt_tokens), 0)), -(COALESCE(SUM(e.completion_tokens), 0)), -(COALESCE(SUM(e.total_tokens), 0)), -(COALESCE(SUM(e.embedding_tokens), 0)), -(COALESCE(SUM(e.cost_nanos), 0)), -(COUNT(e.cost_nanos)), -(COUNT(*)) FROM events e
    WHERE e.project_id = old.project_id AND e.conversation_id = old.conversation_id AND e.type = 'token_usage' GROUP BY e.ts / 3600000000, json_array(e.model, e.provider)
    ON CONFLICT (project_id, combo, day, at, model_key) DO UPDATE SET prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens, total_tokens = total_tokens + excluded.total_tokens, embedding_tokens = embedding_tokens + excluded.embedding_tokens, cost_nanos = cost_nanos + excluded.cost_nanos, priced_calls = priced_calls + excluded.priced_calls, calls = calls + excluded.calls;
END;

CREATE TRIGGER rollup_combo_events_move AFTER UPDATE OF started_at, environment, source, device, language, country ON conversations
WHEN NOT (old.started_at / 86400000000 = new.started_at / 86400000000 AND old.environment IS new.environment AND old.source IS new.source AND old.device IS new.device AND old.language IS new.language AND old.country IS new.country)
BEGIN
    INSERT INTO rollup_combo_messages (project_id, combo, day, at, messages)
    SELECT old.project_id, json_array(old.environment, old.source, old.device, old.language, old.country), old.started_at / 86400000000, e.ts / 3600000000, -COUNT(*) FROM events e
    WHERE e.project_id = old.project_id AND e.conversation_id = old.conversation_id AND e.type = 'message' GROUP BY e.ts / 3600000000
    ON CONFLICT (project_id, combo, day, at) DO UPDATE SET messages = messages + excluded.messages;
    INSERT INTO rollup_combo_models (project_id, combo, day, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
    SELECT old.project_id, json_array(old.environment, old.source, old.device, old.language, old.country), old.started_at / 86400000000, e.ts / 3600000000, json_array(e.model, e.provider), MIN(e.model), MIN(e.provider), -(COALESCE(SUM(e.prompt_tokens), 0)), -(COALESCE(SUM(e.completion_tokens), 0)), -(COALESCE(SUM(e.total_tokens), 0)), -(COALESCE(SUM(e.embedding_tokens), 0)), -(COALESCE(SUM(e.cost_nanos), 0)), -(COUNT(e.cost_nanos)), -(COUNT(*)) FROM events e
    WHERE e.project_id = old.project_id AND e.conversation_id = old.conversation_id AND e.type = 'token_usage' GROUP BY e.ts / 3600000000, json_array(e.model, e.provider)
    ON CONFLICT (project_id, combo, day, at, model_key) DO UPDATE SET prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens, total_tokens = total_tokens + excluded.total_tokens, embedding_tokens = embedding_tokens + excluded.embedding_tokens, cost_nanos = cost_nanos + excluded.cost_nanos, priced_calls = priced_calls + excluded.priced_calls, calls = calls + excluded.calls;
    INSERT INTO rollup_combo_messages (project_id, combo, day, at, messages)
    SELECT new.project_id, json_array(new.environment, new.source, new.device, new.language, new.country), new.started_at / 86400000000, e.ts / 3600000000, COUNT(*) FROM events e
    WHERE e.project_id = new.project_id AND e.conversation_id = new.conversation_id AND e.type = 'message' GROUP BY e.ts / 3600000000
    ON CONFLICT (project_id, combo, day, at) DO UPDATE SET messages = messages + excluded.messages;
    INSERT INTO rollup_combo_models (project_id, combo, day, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
    SELECT new.project_id, json_array(new.environment, new.source, new.device, new.language, new.country), new.started_at / 86400000000, e.ts / 3600000000, json_array(e.model, e.provider), MIN(e.model), MIN(e.provider), COALESCE(SUM(e.prompt_tokens), 0), COALESCE(SUM(e.completion_tokens), 0), COALESCE(SUM(e.total_tokens), 0), COALESCE(SUM(e.embedding_tokens), 0), COALESCE(SUM(e.cost_nanos), 0), COUNT(e.cost_nanos), COUNT(*) FROM events e
    WHERE e.project_id = new.project_id AND e.conversation_id = new.conversation_id AND e.type = 'token_usage' GROUP BY e.ts / 3600000000, json_array(e.model, e.provider)
    ON CONFLICT (project_id, combo, day, at, model_key) DO UPDATE SET prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens, total_tokens = total_tokens + excluded.total_tokens, embedding_tokens = embedding_tokens + excluded.embedding_tokens, cost_nanos = cost_nanos + excluded.cost_nanos, priced_calls = priced_calls + excluded.priced_calls, calls = calls + excluded.calls;
END;

CREATE TABLE rollup_combo_tools (
    project_id INTEGER NOT NULL,
    combo TEXT NOT NULL,
    day INTEGER NOT NULL,
    action_name TEXT NOT NULL,
    actions INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    timed INTEGER NOT NULL,
    duration_whole INTEGER NOT NULL,
    duration_part REAL NOT NULL,
    conversations INTEGER NOT NULL,
    PRIMARY KEY (project_id, combo, day, action_name)
) WITHOUT ROWID;

CREATE TABLE rollup_combo_buttons (
    project_id INTEGER NOT NULL,
    combo TEXT NOT NULL,
    day INTEGER NOT NULL,
    payload TEXT NOT NULL,
    presses INTEGER NOT NULL,
    PRIMARY KEY (project_id, combo, day, payload)
) WITHOUT ROWID;

CREATE TABLE rollup_combo_scores (
    project_id INTEGER NOT NULL,
    combo TEXT NOT NULL,
    day INTEGER NOT NULL,
    at INTEGER NOT NULL,
    score_name TEXT NOT NULL,
    scores INTEGER NOT NULL,
    valued INTEGER NOT NULL,
    value_whole INTEGER NOT NULL,
    value_part REAL NOT NULL,
    PRIMARY KEY (project_id, combo, day, at, score_name)
) WITHOUT ROWID;

CREATE TABLE rollup_combo_score_values (
    project_id INTEGER NOT NULL,
    combo TEXT NOT NULL,
    day INTEGER NOT NULL,
    score_name TEXT NOT NULL,
    value_key TEXT NOT NULL,
    score_value REAL,
    score_label TEXT,
    scores INTEGER NOT NULL,
    PRIMARY KEY (project_id, combo, day, score_name, value_key)
) WITHOUT ROWID;

INSERT INTO rollup_combo_tools (project_id, combo, day, action_name, actions, errors, timed, duration_whole, duration_part, conversations)
SELECT c.project_id, json_array(c.environment, c.source, c.device, c.language, c.country), c.started_at / 86400000000, e.action_name, COUNT(*), COALESCE(SUM(e.is_error), 0), COUNT(CASE WHEN e.duration_ms <= 1e+12 THEN 1 END), COALESCE(SUM((CASE WHEN e.duration_ms <= 1e+12 THEN CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN CAST(e.duration_ms AS INTEGER) ELSE 0 END END) / 4294967296) * 4294967296 + SUM((CASE WHEN e.duration_ms <= 1e+12 THEN CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN CAST(e.duration_ms AS INTEGER) ELSE 0 END END) % 4294967296), 0), TOTAL(CASE WHEN e.duration_ms <= 1e+12 THEN e.duration_ms - CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN CAST(e.duration_ms AS INTEGER) ELSE 0 END END), COUNT(DISTINCT e.conversation_id)
FROM events e JOIN conversations c ON c.project_id = e.project_id AND c.conversation_id = e.conversation_id
WHERE e.action_name IS NOT NULL GROUP BY c.project_id, json_array(c.environment, c.source, c.device, c.language, c.country), c.started_at / 86400000000, e.action_name;

INSERT INTO rollup_combo_buttons (project_id, combo, day, payload, presses)
SELECT c.project_id, json_array(c.environment, c.source, c.device, c.language, c.country), c.started_at / 86400000000, e.payload, COUNT(*)
FROM events e JOIN conversations c ON c.project_id = e.project_id AND c.conversation_id = e.conversation_id
WHERE e.type = 'button' GROUP BY c.project_id, json_array(c.environment, c.source, c.device, c.language, c.country), c.started_at / 86400000000, e.payload;

INSERT INTO rollup_combo_scores (project_id, combo, day, at, score_name, scores, valued, value_whole, value_part)
SELECT c.project_id, json_array(c.environment, c.source, c.device, c.language, c.country), c.started_at / 86400000000, e.ts / 3600000000, e.score_name, COUNT(*), COUNT(e.score_value), COALESCE(SUM((CASE WHEN abs(e.score_value) < 9223372036854775808 THEN CAST(e.score_value AS INTEGER) ELSE 0 END) / 4294967296) * 4294967296 + SUM((CASE WHEN abs(e.score_value) < 9223372036854775808 THEN CAST(e.score_value AS INTEGER) ELSE 0 END) % 4294967296), 0), TOTAL(e.score_value - CASE WHEN abs(e.score_value) < 9223372036854775808 THEN CAST(e.score_value AS INTEGER) ELSE 0 END)
FROM events e JOIN conversations c ON c.project_id = e.project_id AND c.conversation_id = e.conversation_id
WHERE e.type = 'score' AND +e.score_name IS NOT NULL GROUP BY c.project_id, json_array(c.environment, c.source, c.device, c.language, c.country), c.started_at / 86400000000, e.ts / 3600000000, e.score_name;

INSERT INTO rollup_combo_score_values (project_id, combo, day, score_name, value_key, score_value, score_label, scores)
SELECT c.project_id, json_array(c.environment, c.source, c.device, c.language, c.country), c.started_at / 86400000000, e.score_name, quote(e.score_value) || ' ' || COALESCE('x' || hex(e.score_label), 'NULL'), MIN(e.score_value), MIN(e.score_label), COUNT(*)
FROM events e JOIN conversations c ON c.project_id = e.project_id AND c.conversation_id = e.conversation_id
WHERE e.type = 'score' AND +e.score_name IS NOT NULL GROUP BY c.project_id, json_array(c.environment, c.source, c.device, c.language, c.country), c.started_at / 86400000000, e.score_name, quote(e.score_value) || ' ' || COALESCE('x' || hex(e.score_label), 'NULL');

CREATE TRIGGER rollup_combo_tools_add AFTER INSERT ON events WHEN new.action_name IS NOT NULL
BEGIN
    INSERT INTO rollup_combo_tools (project_id, combo, day, action_name, actions, errors, timed, duration_whole, duration_part, conversations)
    SELECT c.project_id, json_array(c.environment, c.source, c.device, c.language, c.country), c.started_at / 86400000000, new.action_name, COUNT(*), COALESCE(SUM(new.is_error), 0), COUNT(CASE WHEN new.duration_ms <= 1e+12 THEN 1 END), COALESCE(SUM((CASE WHEN new.duration_ms <= 1e+12 THEN CASE WHEN abs(new.duration_ms) < 9223372036854775808 THEN CAST(new.duration_ms AS INTEGER) ELSE 0 END END) / 4294967296) * 4294967296 + SUM((CASE WHEN new.duration_ms <= 1e+12 THEN CASE WHEN abs(new.duration_ms) < 9223372036854775808 THEN CAST(new.duration_ms AS INTEGER) ELSE 0 END END) % 4294967296), 0), TOTAL(CASE WHEN new.duration_ms <= 1e+12 THEN new.duration_ms - CASE WHEN abs(new.duration_ms) < 9223372036854775808 THEN CAST(new.duration_ms AS INTEGER) ELSE 0 END END), SUM(CASE WHEN (SELECT COUNT(*) FROM events x WHERE x.project_id = new.project_id AND x.conversation_id = new.conversation_id AND x.action_name = new.action_name) = 1 THEN 1 ELSE 0 END) FROM conversations c
    WHERE c.project_id = new.project_id AND c.conversation_id = new.conversation_id GROUP BY c.project_id
    ON CONFLICT (project_id, combo, day, action_name) DO UPDATE SET actions = actions + excluded.actions, errors = errors + excluded.errors, timed = timed + excluded.timed, duration_whole = duration_whole + excluded.duration_whole, duration_part = duration_part + excluded.duration_part, conversations = conversations + excluded.conversations;
END;

CREATE TRIGGER rollup_combo_tools_remove AFTER DELETE ON events WHEN old.action_name IS NOT NULL
BEGIN
    INSERT INTO rollup_combo_tools (project_id, combo, day, action_name, actions, errors, timed, duration_whole, duration_part, conversations)
    SELECT c.project_id, json_array(c.environment, c.source, c.device, c.language, c.country), c.started_at / 86400000000, old.action_name, -(COUNT(*)), -(COALESCE(SUM(old.is_error), 0)), -(COUNT(CASE WHEN old.duration_ms <= 1e+12 THEN 1 END)), -(COALESCE(SUM((CASE WHEN old.duration_ms <= 1e+12 THEN CASE WHEN abs(old.duration_ms) < 9223372036854775808 THEN CAST(old.duration_ms AS INTEGER) ELSE 0 END END) / 4294967296) * 4294967296 + SUM((CASE WHEN old.duration_ms <= 1e+12 THEN CASE WHEN abs(old.duration_ms) < 9223372036854775808 THEN CAST(old.duration_ms AS INTEGER) ELSE 0 END END) % 4294967296), 0)), -(TOTAL(CASE WHEN old.duration_ms <= 1e+12 THEN old.duration_ms - CASE WHEN abs(old.duration_ms) < 9223372036854775808 THEN CAST(old.duration_ms AS INTEGER) ELSE 0 END END)), -(SUM(CASE WHEN EXISTS (SELECT 1 FROM events x WHERE x.project_id = old.project_id AND x.conversation_id = old.conversation_id AND x.action_name = old.action_name) THEN 0 ELSE 1 END)) FROM conversations c
    WHERE c.project_id = old.project_id AND c.conversation_id = old.conversation_id GROUP BY c.project_id
    ON CONFLICT (project_id, combo, day, action_name) DO UPDATE SET actions = actions + excluded.actions, errors = errors + excluded.errors, timed = timed + excluded.timed, duration_whole = duration_whole + excluded.duration_whole, duration_part = duration_part + excluded.duration_part, conversations = conversations + excluded.conversations;
END;

CREATE TRIGGER rollup_combo_buttons_add AFTER INSERT ON events WHEN new.type = 'button'
BEGIN
    INSERT INTO rollup_combo_buttons (project_id, combo, day, payload, presses)
    SELECT c.project_id, json_array(c.environment, c.source, c.device, c.language, c.country), c.started_at / 86400000000, new.payload, COUNT(*) FROM conversations c
    WHERE c.project_id = new.project_id AND c.conversation_id = new.conversation_id GROUP BY c.project_id
    ON CONFLICT (project_id, combo, day, payload) DO UPDATE SET presses = presses + excluded.presses;
END;

CREATE TRIGGER rollup_combo_buttons_remove AFTER DELETE ON events WHEN old.type = 'button'
BEGIN
    INSERT INTO rollup_combo_buttons (project_id, combo, day, payload, presses)
    SELECT c.project_id, json_array(c.environment, c.source, c.device, c.language, c.country), c.started_at / 86400000000, old.payload, -(COUNT(*)) FROM conversations c
    WHERE c.project_id = old.project_id AND c.conversation_id = old.conversation_id GROUP BY c.project_id
    ON CONFLICT (project_id, combo, day, payload) DO UPDATE SET presses = presses + excluded.presses;
END;

CREATE TRIGGER rollup_combo_scores_add AFTER INSERT ON events WHEN new.type = 'score' AND +new.score_name IS NOT NULL
BEGIN
    INSERT INTO rollup_combo_scores (project_id, combo, day, at, score_name, scores, valued, value_whole, value_part)
    SELECT c.project_id, json_array(c.environment, c.source, c.device, c.language, c.country), c.started_at / 86400000000, new.ts / 3600000000, new.score_name, COUNT(*), COUNT(new.score_value), COALESCE(SUM((CASE WHEN abs(new.score_value) < 9223372036854775808 THEN CAST(new.score_value AS INTEGER) ELSE 0 END) / 4294967296) * 4294967296 + SUM((CASE WHEN abs(new.score_value) < 9223372036854775808 THEN CAST(new.score_value AS INTEGER) ELSE 0 END) % 4294967296), 0), TOTAL(new.score_value - CASE WHEN abs(new.score_value) < 9223372036854775808 THEN CAST(new.score_value AS INTEGER) ELSE 0 END) FROM conversations c
    WHERE c.project_id = new.project_id AND c.conversation_id = new.conversation_id GROUP BY c.project_id
    ON CONFLICT (project_id, combo, day, at, score_name) DO UPDATE SET scores = scores + excluded.scores, valued = valued + excluded.valued, value_whole = value_whole + excluded.value_whole, value_part = value_part + excluded.value_part;
    INSERT INTO rollup_combo_score_values (project_id, combo, day, score_name, value_key, score_value, score_label, scores)
    SELECT c.project_id, json_array(c.environment, c.source, c.device, c.language, c.country), c.started_at / 86400000000, new.score_name, quote(new.score_value) || ' ' || COALESCE('x' || hex(new.score_label), 'NULL'), MIN(new.score_value), MIN(new.score_label), COUNT(*) FROM conversations c
    WHERE c.project_id = new.project_id AND c.conversation_id = new.conversation_id GROUP BY c.project_id
    ON CONFLICT (project_id, combo, day, score_name, value_key) DO UPDATE SET scores = scores + excluded.scores;
END;

CREATE TRIGGER rollup_combo_scores_remove AFTER DELETE ON events WHEN old.type = 'score' AND +old.score_name IS NOT NULL
BEGIN
    INSERT INTO rollup_combo_scores (project_id, combo, day, at, score_name, scores, valued, value_whole, value_part)
    SELECT c.project_id, json_array(c.environment, c.source, c.device, c.language, c.country), c.started_at / 86400000000, old.ts / 3600000000, old.score_name, -(COUNT(*)), -(COUNT(old.score_value)), -(COALESCE(SUM((CASE WHEN abs(old.score_value) < 9223372036854775808 THEN CAST(old.score_value AS INTEGER) ELSE 0 END) / 4294967296) * 4294967296 + SUM((CASE WHEN abs(old.score_value) < 9223372036854775808 THEN CAST(old.score_value AS INTEGER) ELSE 0 END) % 4294967296), 0)), -(TOTAL(old.score_value - CASE WHEN abs(old.score_value) < 9223372036854775808 THEN CAST(old.score_value AS INTEGER) ELSE 0 END)) FROM conversations c
    WHERE c.project_id = old.project_id AND c.conversation_id = old.conversation_id GROUP BY c.project_id
    ON CONFLICT (project_id, combo, day, at, score_name) DO UPDATE SET scores = scores + excluded.scores, valued = valued + excluded.valued, value_whole = value_whole + excluded.value_whole, value_part = value_part + excluded.value_part;
    INSERT INTO rollup_combo_score_values (project_id, combo, day, score_name, value_key, score_value, score_label, scores)
    SELECT c.project_id, json_array(c.environment, c.source, c.device, c.language, c.country), c.started_at / 86400000000, old.score_name, quote(old.score_value) || ' ' || COALESCE('x' || hex(old.score_label), 'NULL'), MIN(old.score_value), MIN(old.score_label), -(COUNT(*)) FROM conversations c
    WHERE c.project_id = old.project_id AND c.conversation_id = old.conversation_id GROUP BY c.project_id
    ON CONFLICT (project_id, combo, day, score_name, value_key) DO UPDATE SET scores = scores + excluded.scores;
END;

CREATE TRIGGER rollup_combo_actions_add AFTER INSERT ON conversations
BEGIN
    INSERT INTO rollup_combo_tools (project_id, combo, day, action_name, actions, errors, timed, duration_whole, duration_part, conversations)
    SELECT new.project_id, json_array(new.environment, new.source, new.device, new.language, new.country), new.started_at / 86400000000, e.action_name, COUNT(*), COALESCE(SUM(e.is_error), 0), COUNT(CASE WHEN e.duration_ms <= 1e+12 THEN 1 END), COALESCE(SUM((CASE WHEN e.duration_ms <= 1e+12 THEN CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN CAST(e.duration_ms AS INTEGER) ELSE 0 END END) / 4294967296) * 4294967296 + SUM((CASE WHEN e.duration_ms <= 1e+12 THEN CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN CAST(e.duration_ms AS INTEGER) ELSE 0 END END) % 4294967296), 0), TOTAL(CASE WHEN e.duration_ms <= 1e+12 THEN e.duration_ms - CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN CAST(e.duration_ms AS INTEGER) ELSE 0 END END), COUNT(DISTINCT e.conversation_id) FROM events e
    WHERE e.project_id = new.project_id AND e.conversation_id = new.conversation_id AND e.action_name IS NOT NULL GROUP BY e.action_name
    ON CONFLICT (project_id, combo, day, action_name) DO UPDATE SET actions = actions + excluded.actions, errors = errors + excluded.errors, timed = timed + excluded.timed, duration_whole = duration_whole + excluded.duration_whole, duration_part = duration_part + excluded.duration_part, conversations = conversations + excluded.conversations;
    INSERT INTO rollup_combo_buttons (project_id, combo, day, payload, presses)
    SELECT new.project_id, json_array(new.environment, new.source, new.device, new.language, new.country), new.started_at / 86400000000, e.payload, COUNT(*) FROM events e
    WHERE e.project_id = new.project_id AND e.conversation_id = new.conversation_id AND e.type = 'button' GROUP BY e.payload
    ON CONFLICT (project_id, combo, day, payload) DO UPDATE SET presses = presses + excluded.presses;
    INSERT INTO rollup_combo_scores (project_id, combo, day, at, score_name, scores, valued, value_whole, value_part)
    SELECT new.project_id, json_array(new.environment, new.source, new.device, new.language, new.country), new.started_at / 86400000000, e.ts / 3600000000, e.score_name, COUNT(*), COUNT(e.score_value), COALESCE(SUM((CASE WHEN abs(e.score_value) < 9223372036854775808 THEN CAST(e.score_value AS INTEGER) ELSE 0 END) / 4294967296) * 4294967296 + SUM((CASE WHEN abs(e.score_value) < 9223372036854775808 THEN CAST(e.score_value AS INTEGER) ELSE 0 END) % 4294967296), 0), TOTAL(e.score_value - CASE WHEN abs(e.score_value) < 9223372036854775808 THEN CAST(e.score_value AS INTEGER) ELSE 0 END) FROM events e
    WHERE e.project_id = new.project_id AND e.conversation_id = new.conversation_id AND e.type = 'score' AND +e.score_name IS NOT NULL GROUP BY e.ts / 3600000000, e.score_name
    ON CONFLICT (project_id, combo, day, at, score_name) DO UPDATE SET scores = scores + excluded.scores, valued = valued + excluded.valued, value_whole = value_whole + excluded.value_whole, value_part = value_part + excluded.value_part;
    INSERT INTO rollup_combo_score_values (project_id, combo, day, score_name, value_key, score_value, score_label, scores)
    SELECT new.project_id, json_array(new.environment, new.source, new.device, new.language, new.country), new.started_at / 86400000000, e.score_name, quote(e.score_value) || ' ' || COALESCE('x' || hex(e.score_label), 'NULL'), MIN(e.score_value), MIN(e.score_label), COUNT(*) FROM events e
    WHERE e.project_id = new.project_id AND e.conversation_id = new.conversation_id AND e.type = 'score' AND +e.score_name IS NOT NULL GROUP BY e.score_name, quote(e.score_value) || ' ' || COALESCE('x' || hex(e.score_label), 'NULL')
    ON CONFLICT (project_id, combo, day, score_name, value_key) DO UPDATE SET scores = scores + excluded.scores;
END;

CREATE TRIGGER rollup_combo_actions_remove AFTER DELETE ON conversations
BEGIN
    INSERT INTO rollup_combo_tools (project_id, combo, day, action_name, actions, errors, timed, duration_whole, duration_part, conversations)
    SELECT old.project_id, json_array(old.environment, old.source, old.device, old.language, old.country), old.started_at / 86400000000, e.action_name, -(COUNT(*)), -(COALESCE(SUM(e.is_error), 0)), -(COUNT(CASE WHEN e.duration_ms <= 1e+12 THEN 1 END)), -(COALESCE(SUM((CASE WHEN e.duration_ms <= 1e+12 THEN CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN CAST(e.duration_ms AS INTEGER) ELSE 0 END END) / 4294967296) * 4294967296 + SUM((CASE WHEN e.duration_ms <= 1e+12 THEN CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN CAST(e.duration_ms AS INTEGER) ELSE 0 END END) % 4294967296), 0)), -(TOTAL(CASE WHEN e.duration_ms <= 1e+12 THEN e.duration_ms - CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN CAST(e.duration_ms AS INTEGER) ELSE 0 END END)), -(COUNT(DISTINCT e.conversation_id)) FROM events e
    WHERE e.project_id = old.project_id AND e.conversation_id = old.conversation_id AND e.action_name IS NOT NULL GROUP BY e.action_name
    ON CONFLICT (project_id, combo, day, action_name) DO UPDATE SET actions = actions + excluded.actions, errors = errors + excluded.errors, timed = timed + excluded.timed, duration_whole = duration_whole + excluded.duration_whole, duration_part = duration_part + excluded.duration_part, conversations = conversations + excluded.conversations;
    INSERT INTO rollup_combo_buttons (project_id, combo, day, payload, presses)
    SELECT old.project_id, json_array(old.environment, old.source, old.device, old.language, old.country), old.started_at / 86400000000, e.payload, -(COUNT(*)) FROM events e
    WHERE e.project_id = old.project_id AND e.conversation_id = old.conversation_id AND e.type = 'button' GROUP BY e.payload
    ON CONFLICT (project_id, combo, day, payload) DO UPDATE SET presses = presses + excluded.presses;
    INSERT INTO rollup_combo_scores (project_id, combo, day, at, score_name, scores, valued, value_whole, value_part)
    SELECT old.project_id, json_array(old.environment, old.source, old.device, old.language, old.country), old.started_at / 86400000000, e.ts / 3600000000, e.score_name, -(COUNT(*)), -(COUNT(e.score_value)), -(COALESCE(SUM((CASE WHEN abs(e.score_value) < 9223372036854775808 THEN CAST(e.score_value AS INTEGER) ELSE 0 END) / 4294967296) * 4294967296 + SUM((CASE WHEN abs(e.score_value) < 9223372036854775808 THEN CAST(e.score_value AS INTEGER) ELSE 0 END) % 4294967296), 0)), -(TOTAL(e.score_value - CASE WHEN abs(e.score_value) < 9223372036854775808 THEN CAST(e.score_value AS INTEGER) ELSE 0 END)) FROM events e
    WHERE e.project_id = old.project_id AND e.conversation_id = old.conversation_id AND e.type = 'score' AND +e.score_name IS NOT NULL GROUP BY e.ts / 3600000000, e.score_name
    ON CONFLICT (project_id, combo, day, at, score_name) DO UPDATE SET scores = scores + excluded.scores, valued = valued + excluded.valued, value_whole = value_whole + excluded.value_whole, value_part = value_part + excluded.value_part;
    INSERT INTO rollup_combo_score_values (project_id, combo, day, score_name, value_key, score_value, score_label, scores)
    SELECT old.project_id, json_array(old.environment, old.source, old.device, old.language, old.country), old.started_at / 86400000000, e.score_name, quote(e.score_value) || ' ' || COALESCE('x' || hex(e.score_label), 'NULL'), MIN(e.score_value), MIN(e.score_label), -(COUNT(*)) FROM events e
    WHERE e.project_id = old.project_id AND e.conversation_id = old.conversation_id AND e.type = 'score' AND +e.score_name IS NOT NULL GROUP BY e.score_name, quote(e.score_value) || ' ' || COALESCE('x' || hex(e.score_label), 'NULL')
    ON CONFLICT (project_id, combo, day, score_name, value_key) DO UPDATE SET scores = scores + excluded.scores;
END;

CREATE TRIGGER rollup_combo_actions_move AFTER UPDATE OF started_at, environment, source, device, language, country ON conversations
WHEN NOT (old.started_at / 86400000000 = new.started_at / 86400000000 AND old.environment IS new.environment AND old.source IS new.source AND old.device IS new.device AND old.language IS new.language AND old.country IS new.country)
BEGIN
    INSERT INTO rollup_combo_tools (project_id, combo, day, action_name, actions, errors, timed, duration_whole, duration_part, conversations)
    SELECT old.project_id, json_array(old.environment, old.source, old.device, old.language, old.country), old.started_at / 86400000000, e.action_name, -(COUNT(*)), -(COALESCE(SUM(e.is_error), 0)), -(COUNT(CASE WHEN e.duration_ms <= 1e+12 THEN 1 END)), -(COALESCE(SUM((CASE WHEN e.duration_ms <= 1e+12 THEN CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN CAST(e.duration_ms AS INTEGER) ELSE 0 END END) / 4294967296) * 4294967296 + SUM((CASE WHEN e.duration_ms <= 1e+12 THEN CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN CAST(e.duration_ms AS INTEGER) ELSE 0 END END) % 4294967296), 0)), -(TOTAL(CASE WHEN e.duration_ms <= 1e+12 THEN e.duration_ms - CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN CAST(e.duration_ms AS INTEGER) ELSE 0 END END)), -(COUNT(DISTINCT e.conversation_id)) FROM events e
    WHERE e.project_id = old.project_id AND e.conversation_id = old.conversation_id AND e.action_name IS NOT NULL GROUP BY e.action_name
    ON CONFLICT (project_id, combo, day, action_name) DO UPDATE SET actions = actions + excluded.actions, errors = errors + excluded.errors, timed = timed + excluded.timed, duration_whole = duration_whole + excluded.duration_whole, duration_part = duration_part + excluded.duration_part, conversations = conversations + excluded.conversations;
    INSERT INTO rollup_combo_buttons (project_id, combo, day, payload, presses)
    SELECT old.project_id, json_array(old.environment, old.source, old.device, old.language, old.country), old.started_at / 86400000000, e.payload, -(COUNT(*)) FROM events e
    WHERE e.project_id = old.project_id AND e.conversation_id = old.conversation_id AND e.type = 'button' GROUP BY e.payload
    ON CONFLICT (project_id, combo, day, payload) DO UPDATE SET presses = presses + excluded.presses;
    INSERT INTO rollup_combo_scores (project_id, combo, day, at, score_name, scores, valued, value_whole, value_part)
    SELECT old.project_id, json_array(old.environment, old.source, old.device, old.language, old.country), old.started_at / 86400000000, e.ts / 3600000000, e.score_name, -(COUNT(*)), -(COUNT(e.score_value)), -(COALESCE(SUM((CASE WHEN abs(e.score_value) < 9223372036854775808 THEN CAST(e.score_value AS INTEGER) ELSE 0 END) / 4294967296) * 4294967296 + SUM((CASE WHEN abs(e.score_value) < 9223372036854775808 THEN CAST(e.score_value AS INTEGER) ELSE 0 END) % 4294967296), 0)), -(TOTAL(e.score_value - CASE WHEN abs(e.score_value) < 9223372036854775808 THEN CAST(e.score_value AS INTEGER) ELSE 0 END)) FROM events e
    WHERE e.project_id = old.project_id AND e.conversation_id = old.conversation_id AND e.type = 'score' AND +e.score_name IS NOT NULL GROUP BY e.ts / 3600000000, e.score_name
    ON CONFLICT (project_id, combo, day, at, score_name) DO UPDATE SET scores = scores + excluded.scores, valued = valued + excluded.valued, value_whole = value_whole + excluded.value_whole, value_part = value_part + excluded.value_part;
    INSERT INTO rollup_combo_score_values (project_id, combo, day, score_name, value_key, score_value, score_label, scores)
    SELECT old.project_id, json_array(old.environment, old.source, old.device, old.language, old.country), old.started_at / 86400000000, e.score_name, quote(e.score_value) || ' ' || COALESCE('x' || hex(e.score_label), 'NULL'), MIN(e.score_value), MIN(e.score_label), -(COUNT(*)) FROM events e
    WHERE e.project_id = old.project_id AND e.conversation_id = old.conversation_id AND e.type = 'score' AND +e.score_name IS NOT NULL GROUP BY e.score_name, quote(e.score_value) || ' ' || COALESCE('x' || hex(e.score_label), 'NULL')
    ON CONFLICT (project_id, combo, day, score_name, value_key) DO UPDATE SET scores = scores + excluded.scores;
    INSERT INTO rollup_combo_tools (project_id, combo, day, action_name, actions, errors, timed, duration_whole, duration_part, conversations)
    SELECT new.project_id, json_array(new.environment, new.source, new.device, new.language, new.country), new.started_at / 86400000000, e.action_name, COUNT(*), COALESCE(SUM(e.is_error), 0), COUNT(CASE WHEN e.duration_ms <= 1e+12 THEN 1 END), COALESCE(SUM((CASE WHEN e.duration_ms <= 1e+12 THEN CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN CAST(e.duration_ms AS INTEGER) ELSE 0 END END) / 4294967296) * 4294967296 + SUM((CASE WHEN e.duration_ms <= 1e+12 THEN CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN CAST(e.duration_ms AS INTEGER) ELSE 0 END END) % 4294967296), 0), TOTAL(CASE WHEN e.duration_ms <= 1e+12 THEN e.duration_ms - CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN CAST(e.duration_ms AS INTEGER) ELSE 0 END END), COUNT(DISTINCT e.conversation_id) FROM events e
    WHERE e.project_id = new.project_id AND e.conversation_id = new.conversation_id AND e.action_name IS NOT NULL GROUP BY e.action_name
    ON CONFLICT (project_id, combo, day, action_name) DO UPDATE SET actions = actions + excluded.actions, errors = errors + excluded.errors, timed = timed + excluded.timed, duration_whole = duration_whole + excluded.duration_whole, duration_part = duration_part + excluded.duration_part, conversations = conversations + excluded.conversations;
    INSERT INTO rollup_combo_buttons (project_id, combo, day, payload, presses)
    SELECT new.project_id, json_array(new.environment, new.source, new.device, new.language, new.country), new.started_at / 86400000000, e.payload, COUNT(*) FROM events e
    WHERE e.project_id = new.project_id AND e.conversation_id = new.conversation_id AND e.type = 'button' GROUP BY e.payload
    ON CONFLICT (project_id, combo, day, payload) DO UPDATE SET presses = presses + excluded.presses;
    INSERT INTO rollup_combo_scores (project_id, combo, day, at, score_name, scores, valued, value_whole, value_part)
    SELECT new.project_id, json_array(new.environment, new.source, new.device, new.language, new.country), new.started_at / 86400000000, e.ts / 3600000000, e.score_name, COUNT(*), COUNT(e.score_value), COALESCE(SUM((CASE WHEN abs(e.score_value) < 9223372036854775808 THEN CAST(e.score_value AS INTEGER) ELSE 0 END) / 4294967296) * 4294967296 + SUM((CASE WHEN abs(e.score_value) < 9223372036854775808 THEN CAST(e.score_value AS INTEGER) ELSE 0 END) % 4294967296), 0), TOTAL(e.score_value - CASE WHEN abs(e.score_value) < 9223372036854775808 THEN CAST(e.score_value AS INTEGER) ELSE 0 END) FROM events e
    WHERE e.project_id = new.project_id AND e.conversation_id = new.conversation_id AND e.type = 'score' AND +e.score_name IS NOT NULL GROUP BY e.ts / 3600000000, e.score_name
    ON CONFLICT (project_id, combo, day, at, score_name) DO UPDATE SET scores = scores + excluded.scores, valued = valued + excluded.valued, value_whole = value_whole + excluded.value_whole, value_part = value_part + excluded.value_part;
    INSERT INTO rollup_combo_score_values (project_id, combo, day, score_name, value_key, score_value, score_label, scores)
    SELECT new.project_id, json_array(new.environment, new.source, new.device, new.language, new.country), new.started_at / 86400000000, e.score_name, quote(e.score_value) || ' ' || COALESCE('x' || hex(e.score_label), 'NULL'), MIN(e.score_value), MIN(e.score_label), COUNT(*) FROM events e
    WHERE e.project_id = new.project_id AND e.conversation_id = new.conversation_id AND e.type = 'score' AND +e.score_name IS NOT NULL GROUP BY e.score_name, quote(e.score_value) || ' ' || COALESCE('x' || hex(e.score_label), 'NULL')
    ON CONFLICT (project_id, combo, day, score_name, value_key) DO UPDATE SET scores = scores + excluded.scores;
END;
