-- Schema version 8: rollups of the conversations, kept by triggers, that
-- GET /v1/metrics reads instead of every conversation where it can (see
-- storage/_rollups.py).  Every change of a conversation's row adds its new
-- contribution and takes back its old one, whichever path changes it (a
-- batch, a later attribute, a moved start, a deletion, retention,
-- erasure), so the sums equal a direct computation at every commit.
--   rollup_quarters: per project and UTC quarter hour of the start (any time
--     zone's local days are whole quarter hours of UTC);
--   rollup_days: per project, UTC day of the start and combination of the
--     attributes the metrics filter on (combo: their JSON array, a key that
--     tells NULL from any text).
-- multi / multi_span: the conversations of more than one event, and the sum of
-- their durations.  Quarters and days are integer divisions, as the metrics'
-- own statements divide.
CREATE TABLE rollup_quarters (
    project_id INTEGER NOT NULL,
    quarter INTEGER NOT NULL,
    conversations INTEGER NOT NULL,
    used INTEGER NOT NULL,
    messages INTEGER NOT NULL,
    end_user_messages INTEGER NOT NULL,
    agent_messages INTEGER NOT NULL,
    events INTEGER NOT NULL,
    actions INTEGER NOT NULL,
    multi INTEGER NOT NULL,
    multi_span INTEGER NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    total_tokens INTEGER NOT NULL,
    embedding_tokens INTEGER NOT NULL,
    cost_nanos INTEGER NOT NULL,
    priced_calls INTEGER NOT NULL,
    unpriced_calls INTEGER NOT NULL,
    PRIMARY KEY (project_id, quarter)
) WITHOUT ROWID;

CREATE TABLE rollup_days (
    project_id INTEGER NOT NULL,
    day INTEGER NOT NULL,
    combo TEXT NOT NULL,
    environment TEXT,
    source TEXT,
    device TEXT,
    language TEXT,
    country TEXT,
    conversations INTEGER NOT NULL,
    used INTEGER NOT NULL,
    messages INTEGER NOT NULL,
    end_user_messages INTEGER NOT NULL,
    agent_messages INTEGER NOT NULL,
    events INTEGER NOT NULL,
    actions INTEGER NOT NULL,
    multi INTEGER NOT NULL,
    multi_span INTEGER NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    total_tokens INTEGER NOT NULL,
    embedding_tokens INTEGER NOT NULL,
    cost_nanos INTEGER NOT NULL,
    priced_calls INTEGER NOT NULL,
    unpriced_calls INTEGER NOT NULL,
    PRIMARY KEY (project_id, day, combo)
) WITHOUT ROWID;

INSERT INTO rollup_quarters (project_id, quarter, conversations, used, messages, end_user_messages, agent_messages, events, actions, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls)
SELECT c.project_id, c.started_at / 900000000, SUM(1), SUM(c.is_used), SUM(c.message_count), SUM(c.end_user_message_count), SUM(c.agent_message_count), SUM(c.event_count), SUM(c.action_count), SUM(CASE WHEN c.event_count > 1 THEN 1 ELSE 0 END), SUM(CASE WHEN c.event_count > 1 THEN c.ended_at - c.started_at ELSE 0 END), SUM(c.prompt_tokens), SUM(c.completion_tokens), SUM(c.total_tokens), SUM(c.embedding_tokens), SUM(c.cost_nanos), SUM(c.priced_calls), SUM(c.unpriced_calls)
FROM conversations c GROUP BY c.project_id, c.started_at / 900000000;

INSERT INTO rollup_days (project_id, day, combo, environment, source, device, language, country, conversations, used, messages, end_user_messages, agent_messages, events, actions, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls)
SELECT c.project_id, c.started_at / 86400000000, json_array(c.environment, c.source, c.device, c.language, c.country), MIN(c.environment), MIN(c.source), MIN(c.device), MIN(c.language), MIN(c.country), SUM(1), SUM(c.is_used), SUM(c.message_count), SUM(c.end_user_message_count), SUM(c.agent_message_count), SUM(c.event_count), SUM(c.action_count), SUM(CASE WHEN c.event_count > 1 THEN 1 ELSE 0 END), SUM(CASE WHEN c.event_count > 1 THEN c.ended_at - c.started_at ELSE 0 END), SUM(c.prompt_tokens), SUM(c.completion_tokens), SUM(c.total_tokens), SUM(c.embedding_tokens), SUM(c.cost_nanos), SUM(c.priced_calls), SUM(c.unpriced_calls)
FROM conversations c GROUP BY c.project_id, c.started_at / 86400000000, json_array(c.environment, c.source, c.device, c.language, c.country);

CREATE INDEX conversations_by_start ON conversations (project_id, started_at);

CREATE TRIGGER rollups_add AFTER INSERT ON conversations
BEGIN
    INSERT INTO rollup_quarters (project_id, quarter, conversations, used, messages, end_user_messages, agent_messages, events, actions, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls)
    VALUES (new.project_id, new.started_at / 900000000, 1, new.is_used, new.message_count, new.end_user_message_count, new.agent_message_count, new.event_count, new.action_count, CASE WHEN new.event_count > 1 THEN 1 ELSE 0 END, CASE WHEN new.event_count > 1 THEN new.ended_at - new.started_at ELSE 0 END, new.prompt_tokens, new.completion_tokens, new.total_tokens, new.embedding_tokens, new.cost_nanos, new.priced_calls, new.unpriced_calls)
    ON CONFLICT (project_id, quarter) DO UPDATE SET conversations = conversations + excluded.conversations, used = used + excluded.used, messages = messages + excluded.messages, end_user_messages = end_user_messages + excluded.end_user_messages, agent_messages = agent_messages + excluded.agent_messages, events = events + excluded.events, actions = actions + excluded.actions, multi = multi + excluded.multi, multi_span = multi_span + excluded.multi_span, prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens, total_tokens = total_tokens + excluded.total_tokens, embedding_tokens = embedding_tokens + excluded.embedding_tokens, cost_nanos = cost_nanos + excluded.cost_nanos, priced_calls = priced_calls + excluded.priced_calls, unpriced_calls = unpriced_calls + excluded.unpriced_calls;
    INSERT INTO rollup_days (project_id, day, combo, environment, source, device, language, country, conversations, used, messages, end_user_messages, agent_messages, events, actions, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls)
    VALUES (new.project_id, new.started_at / 86400000000, json_array(new.environment, new.source, new.device, new.language, new.country), new.environment, new.source, new.device, new.language, new.country, 1, new.is_used, new.message_count, new.end_user_message_count, new.agent_message_count, new.event_count, new.action_count, CASE WHEN new.event_count > 1 THEN 1 ELSE 0 END, CASE WHEN new.event_count > 1 THEN new.ended_at - new.started_at ELSE 0 END, new.prompt_tokens, new.completion_tokens, new.total_tokens, new.embedding_tokens, new.cost_nanos, new.priced_calls, new.unpriced_calls)
    ON CONFLICT (project_id, day, combo) DO UPDATE SET conversations = conversations + excluded.conversations, used = used + excluded.used, messages = messages + excluded.messages, end_user_messages = end_user_messages + excluded.end_user_messages, agent_messages = agent_messages + excluded.agent_messages, events = events + excluded.events, actions = actions + excluded.actions, multi = multi + excluded.multi, multi_span = multi_span + excluded.multi_span, prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens, total_tokens = total_tokens + excluded.total_tokens, embedding_tokens = embedding_tokens + excluded.embedding_tokens, cost_nanos = cost_nanos + excluded.cost_nanos, priced_calls = priced_calls + excluded.priced_calls, unpriced_calls = unpriced_calls + excluded.unpriced_calls;
END;

CREATE TRIGGER rollups_remove AFTER DELETE ON conversations
BEGIN
    INSERT INTO rollup_quarters (project_id, quarter, conversations, used, messages, end_user_messages, agent_messages, events, actions, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls)
    VALUES (old.project_id, old.started_at / 900000000, -(1), -(old.is_used), -(old.message_count), -(old.end_user_message_count), -(old.agent_message_count), -(old.event_count), -(old.action_count), -(CASE WHEN old.event_count > 1 THEN 1 ELSE 0 END), -(CASE WHEN old.event_count > 1 THEN old.ended_at - old.started_at ELSE 0 END), -(old.prompt_tokens), -(old.completion_tokens), -(old.total_tokens), -(old.embedding_tokens), -(old.cost_nanos), -(old.priced_calls), -(old.unpriced_calls))
    ON CONFLICT (project_id, quarter) DO UPDATE SET conversations = conversations + excluded.conversations, used = used + excluded.used, messages = messages + excluded.messages, end_user_messages = end_user_messages + excluded.end_user_messages, agent_messages = agent_messages + excluded.agent_messages, events = events + excluded.events, actions = actions + excluded.actions, multi = multi + excluded.multi, multi_span = multi_span + excluded.multi_span, prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens, total_tokens = total_tokens + excluded.total_tokens, embedding_tokens = embedding_tokens + excluded.embedding_tokens, cost_nanos = cost_nanos + excluded.cost_nanos, priced_calls = priced_calls + excluded.priced_calls, unpriced_calls = unpriced_calls + excluded.unpriced_calls;
    INSERT INTO rollup_days (project_id, day, combo, environment, source, device, language, country, conversations, used, messages, end_user_messages, agent_messages, events, actions, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls)
    VALUES (old.project_id, old.started_at / 86400000000, json_array(old.environment, old.source, old.device, old.language, old.country), old.environment, old.source, old.device, old.language, old.country, -(1), -(old.is_used), -(old.message_count), -(old.end_user_message_count), -(old.agent_message_count), -(old.event_count), -(old.action_count), -(CASE WHEN old.event_count > 1 THEN 1 ELSE 0 END), -(CASE WHEN old.event_count > 1 THEN old.ended_at - old.started_at ELSE 0 END), -(old.prompt_tokens), -(old.completion_tokens), -(old.total_tokens), -(old.embedding_tokens), -(old.cost_nanos), -(old.priced_calls), -(old.unpriced_calls))
    ON CONFLICT (project_id, day, combo) DO UPDATE SET conversations = conversations + excluded.conversations, used = used + excluded.used, messages = messages + excluded.messages, end_user_messages = end_user_messages + excluded.end_user_messages, agent_messages = agent_messages + excluded.agent_messages, events = events + excluded.events, actions = actions + excluded.actions, multi = multi + excluded.multi, multi_span = multi_span + excluded.multi_span, prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens, total_tokens = total_tokens + excluded.total_tokens, embedding_tokens = embedding_tokens + excluded.embedding_tokens, cost_nanos = cost_nanos + excluded.cost_nanos, priced_calls = priced_calls + excluded.priced_calls, unpriced_calls = unpriced_calls + excluded.unpriced_calls;
END;

-- An update within one bucket adds the difference; a move takes back and adds.
CREATE TRIGGER rollups_change_quarter AFTER UPDATE ON conversations
WHEN old.started_at / 900000000 = new.started_at / 900000000
    AND (old.is_used IS NOT new.is_used OR old.started_at IS NOT new.started_at OR old.ended_at IS NOT new.ended_at OR old.event_count IS NOT new.event_count OR old.message_count IS NOT new.message_count OR old.end_user_message_count IS NOT new.end_user_message_count OR old.agent_message_count IS NOT new.agent_message_count OR old.action_count IS NOT new.action_count OR old.prompt_tokens IS NOT new.prompt_tokens OR old.completion_tokens IS NOT new.completion_tokens OR old.total_tokens IS NOT new.total_tokens OR old.embedding_tokens IS NOT new.embedding_tokens OR old.cost_nanos IS NOT new.cost_nanos OR old.priced_calls IS NOT new.priced_calls OR old.unpriced_calls IS NOT new.unpriced_calls OR old.environment IS NOT new.environment OR old.source IS NOT new.source OR old.device IS NOT new.device OR old.language IS NOT new.language OR old.country IS NOT new.country)
BEGIN
    INSERT INTO rollup_quarters (project_id, quarter, conversations, used, messages, end_user_messages, agent_messages, events, actions, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls)
    VALUES (new.project_id, new.started_at / 900000000, (1) - (1), (new.is_used) - (old.is_used), (new.message_count) - (old.message_count), (new.end_user_message_count) - (old.end_user_message_count), (new.agent_message_count) - (old.agent_message_count), (new.event_count) - (old.event_count), (new.action_count) - (old.action_count), (CASE WHEN new.event_count > 1 THEN 1 ELSE 0 END) - (CASE WHEN old.event_count > 1 THEN 1 ELSE 0 END), (CASE WHEN new.event_count > 1 THEN new.ended_at - new.started_at ELSE 0 END) - (CASE WHEN old.event_count > 1 THEN old.ended_at - old.started_at ELSE 0 END), (new.prompt_tokens) - (old.prompt_tokens), (new.completion_tokens) - (old.completion_tokens), (new.total_tokens) - (old.total_tokens), (new.embedding_tokens) - (old.embedding_tokens), (new.cost_nanos) - (old.cost_nanos), (new.priced_calls) - (old.priced_calls), (new.unpriced_calls) - (old.unpriced_calls))
    ON CONFLICT (project_id, quarter) DO UPDATE SET conversations = conversations + excluded.conversations, used = used + excluded.used, messages = messages + excluded.messages, end_user_messages = end_user_messages + excluded.end_user_messages, agent_messages = agent_messages + excluded.agent_messages, events = events + excluded.events, actions = actions + excluded.actions, multi = multi + excluded.multi, multi_span = multi_span + excluded.multi_span, prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens, total_tokens = total_tokens + excluded.total_tokens, embedding_tokens = embedding_tokens + excluded.embedding_tokens, cost_nanos = cost_nanos + excluded.cost_nanos, priced_calls = priced_calls + excluded.priced_calls, unpriced_calls = unpriced_calls + excluded.unpriced_calls;
END;

CREATE TRIGGER rollups_move_quarter AFTER UPDATE ON conversations
WHEN NOT (old.started_at / 900000000 = new.started_at / 900000000)
BEGIN
    INSERT INTO rollup_quarters (project_id, quarter, conversations, used, messages, end_user_messages, agent_messages, events, actions, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls)
    VALUES (old.project_id, old.started_at / 900000000, -(1), -(old.is_used), -(old.message_count), -(old.end_user_message_count), -(old.agent_message_count), -(old.event_count), -(old.action_count), -(CASE WHEN old.event_count > 1 THEN 1 ELSE 0 END), -(CASE WHEN old.event_count > 1 THEN old.ended_at - old.started_at ELSE 0 END), -(old.prompt_tokens), -(old.completion_tokens), -(old.total_tokens), -(old.embedding_tokens), -(old.cost_nanos), -(old.priced_calls), -(old.unpriced_calls))
    ON CONFLICT (project_id, quarter) DO UPDATE SET conversations = conversations + excluded.conversations, used = used + excluded.used, messages = messages + excluded.messages, end_user_messages = end_user_messages + excluded.end_user_messages, agent_messages = agent_messages + excluded.agent_messages, events = events + excluded.events, actions = actions + excluded.actions, multi = multi + excluded.multi, multi_span = multi_span + excluded.multi_span, prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens, total_tokens = total_tokens + excluded.total_tokens, embedding_tokens = embedding_tokens + excluded.embedding_tokens, cost_nanos = cost_nanos + excluded.cost_nanos, priced_calls = priced_calls + excluded.priced_calls, unpriced_calls = unpriced_calls + excluded.unpriced_calls;
    INSERT INTO rollup_quarters (project_id, quarter, conversations, used, messages, end_user_messages, agent_messages, events, actions, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls)
    VALUES (new.project_id, new.started_at / 900000000, 1, new.is_used, new.message_count, new.end_user_message_count, new.agent_message_count, new.event_count, new.action_count, CASE WHEN new.event_count > 1 THEN 1 ELSE 0 END, CASE WHEN new.event_count > 1 THEN new.ended_at - new.started_at ELSE 0 END, new.prompt_tokens, new.completion_tokens, new.total_tokens, new.embedding_tokens, new.cost_nanos, new.priced_calls, new.unpriced_calls)
    ON CONFLICT (project_id, quarter) DO UPDATE SET conversations = conversations + excluded.conversations, used = used + excluded.used, messages = messages + excluded.messages, end_user_messages = end_user_messages + excluded.end_user_messages, agent_messages = agent_messages + excluded.agent_messages, events = events + excluded.events, actions = actions + excluded.actions, multi = multi + excluded.multi, multi_span = multi_span + excluded.multi_span, prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens, total_tokens = total_tokens + excluded.total_tokens, embedding_tokens = embedding_tokens + excluded.embedding_tokens, cost_nanos = cost_nanos + excluded.cost_nanos, priced_calls = priced_calls + excluded.priced_calls, unpriced_calls = unpriced_calls + excluded.unpriced_calls;
END;

CREATE TRIGGER rollups_change_day AFTER UPDATE ON conversations
WHEN old.started_at / 86400000000 = new.started_at / 86400000000 AND old.environment IS new.environment AND old.source IS new.source AND old.device IS new.device AND old.language IS new.language AND old.country IS new.country
    AND (old.is_used IS NOT new.is_used OR old.started_at IS NOT new.started_at OR old.ended_at IS NOT new.ended_at OR old.event_count IS NOT new.event_count OR old.message_count IS NOT new.message_count OR old.end_user_message_count IS NOT new.end_user_message_count OR old.agent_message_count IS NOT new.agent_message_count OR old.action_count IS NOT new.action_count OR old.prompt_tokens IS NOT new.prompt_tokens OR old.completion_tokens IS NOT new.completion_tokens OR old.total_tokens IS NOT new.total_tokens OR old.embedding_tokens IS NOT new.embedding_tokens OR old.cost_nanos IS NOT new.cost_nanos OR old.priced_calls IS NOT new.priced_calls OR old.unpriced_calls IS NOT new.unpriced_calls OR old.environment IS NOT new.environment OR old.source IS NOT new.source OR old.device IS NOT new.device OR old.language IS NOT new.language OR old.country IS NOT new.country)
BEGIN
    INSERT INTO rollup_days (project_id, day, combo, environment, source, device, language, country, conversations, used, messages, end_user_messages, agent_messages, events, actions, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls)
    VALUES (new.project_id, new.started_at / 86400000000, json_array(new.environment, new.source, new.device, new.language, new.country), new.environment, new.source, new.device, new.language, new.country, (1) - (1), (new.is_used) - (old.is_used), (new.message_count) - (old.message_count), (new.end_user_message_count) - (old.end_user_message_count), (new.agent_message_count) - (old.agent_message_count), (new.event_count) - (old.event_count), (new.action_count) - (old.action_count), (CASE WHEN new.event_count > 1 THEN 1 ELSE 0 END) - (CASE WHEN old.event_count > 1 THEN 1 ELSE 0 END), (CASE WHEN new.event_count > 1 THEN new.ended_at - new.started_at ELSE 0 END) - (CASE WHEN old.event_count > 1 THEN old.ended_at - old.started_at ELSE 0 END), (new.prompt_tokens) - (old.prompt_tokens), (new.completion_tokens) - (old.completion_tokens), (new.total_tokens) - (old.total_tokens), (new.embedding_tokens) - (old.embedding_tokens), (new.cost_nanos) - (old.cost_nanos), (new.priced_calls) - (old.priced_calls), (new.unpriced_calls) - (old.unpriced_calls))
    ON CONFLICT (project_id, day, combo) DO UPDATE SET conversations = conversations + excluded.conversations, used = used + excluded.used, messages = messages + excluded.messages, end_user_messages = end_user_messages + excluded.end_user_messages, agent_messages = agent_messages + excluded.agent_messages, events = events + excluded.events, actions = actions + excluded.actions, multi = multi + excluded.multi, multi_span = multi_span + excluded.multi_span, prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens, total_tokens = total_tokens + excluded.total_tokens, embedding_tokens = embedding_tokens + excluded.embedding_tokens, cost_nanos = cost_nanos + excluded.cost_nanos, priced_calls = priced_calls + excluded.priced_calls, unpriced_calls = unpriced_calls + excluded.unpriced_calls;
END;

CREATE TRIGGER rollups_move_day AFTER UPDATE ON conversations
WHEN NOT (old.started_at / 86400000000 = new.started_at / 86400000000 AND old.environment IS new.environment AND old.source IS new.source AND old.device IS new.device AND old.language IS new.language AND old.country IS new.country)
BEGIN
    INSERT INTO rollup_days (project_id, day, combo, environment, source, device, language, country, conversations, used, messages, end_user_messages, agent_messages, events, actions, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls)
    VALUES (old.project_id, old.started_at / 86400000000, json_array(old.environment, old.source, old.device, old.language, old.country), old.environment, old.source, old.device, old.language, old.country, -(1), -(old.is_used), -(old.message_count), -(old.end_user_message_count), -(old.agent_message_count), -(old.event_count), -(old.action_count), -(CASE WHEN old.event_count > 1 THEN 1 ELSE 0 END), -(CASE WHEN old.event_count > 1 THEN old.ended_at - old.started_at ELSE 0 END), -(old.prompt_tokens), -(old.completion_tokens), -(old.total_tokens), -(old.embedding_tokens), -(old.cost_nanos), -(old.priced_calls), -(old.unpriced_calls))
    ON CONFLICT (project_id, day, combo) DO UPDATE SET conversations = conversations + excluded.conversations, used = used + excluded.used, messages = messages + excluded.messages, end_user_messages = end_user_messages + excluded.end_user_messages, agent_messages = agent_messages + excluded.agent_messages, events = events + excluded.events, actions = actions + excluded.actions, multi = multi + excluded.multi, multi_span = multi_span + excluded.multi_span, prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens, total_tokens = total_tokens + excluded.total_tokens, embedding_tokens = embedding_tokens + excluded.embedding_tokens, cost_nanos = cost_nanos + excluded.cost_nanos, priced_calls = priced_calls + excluded.priced_calls, unpriced_calls = unpriced_calls + excluded.unpriced_calls;
    INSERT INTO rollup_days (project_id, day, combo, environment, source, device, language, country, conversations, used, messages, end_user_messages, agent_messages, events, actions, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls)
    VALUES (new.project_id, new.started_at / 86400000000, json_array(new.environment, new.source, new.device, new.language, new.country), new.environment, new.source, new.device, new.language, new.country, 1, new.is_used, new.message_count, new.end_user_message_count, new.agent_message_count, new.event_count, new.action_count, CASE WHEN new.event_count > 1 THEN 1 ELSE 0 END, CASE WHEN new.event_count > 1 THEN new.ended_at - new.started_at ELSE 0 END, new.prompt_tokens, new.completion_tokens, new.total_tokens, new.embedding_tokens, new.cost_nanos, new.priced_calls, new.unpriced_calls)
    ON CONFLICT (project_id, day, combo) DO UPDATE SET conversations = conversations + excluded.conversations, used = used + excluded.used, messages = messages + excluded.messages, end_user_messages = end_user_messages + excluded.end_user_messages, agent_messages = agent_messages + excluded.agent_messages, events = events + excluded.events, actions = actions + excluded.actions, multi = multi + excluded.multi, multi_span = multi_span + excluded.multi_span, prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens, total_tokens = total_tokens + excluded.total_tokens, embedding_tokens = embedding_tokens + excluded.embedding_tokens, cost_nanos = cost_nanos + excluded.cost_nanos, priced_calls = priced_calls + excluded.priced_calls, unpriced_calls = unpriced_calls + excluded.unpriced_calls;
END;
