-- Schema version 7: rollups of the conversations, kept by triggers, that
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
-- Several collectors may write at once: every transaction that changes
-- conversations takes the project's rollup lock first (storage/postgres:
-- lock_rollups), so two never wait on each other's rollup rows in opposite
-- orders.  Collectors of an earlier version do not take it: upgrade every
-- collector of a database together (until then their batches may deadlock
-- and be retried).
-- No batch may commit between the backfill below and the triggers: writers
-- wait here (and the ones in progress finish first) until this migration
-- commits.
LOCK TABLE conversations IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE rollup_quarters (
    project_id BIGINT NOT NULL,
    quarter BIGINT NOT NULL,
    conversations BIGINT NOT NULL,
    used BIGINT NOT NULL,
    messages BIGINT NOT NULL,
    end_user_messages BIGINT NOT NULL,
    agent_messages BIGINT NOT NULL,
    events BIGINT NOT NULL,
    actions BIGINT NOT NULL,
    multi BIGINT NOT NULL,
    multi_span BIGINT NOT NULL,
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    total_tokens BIGINT NOT NULL,
    embedding_tokens BIGINT NOT NULL,
    cost_nanos BIGINT NOT NULL,
    priced_calls BIGINT NOT NULL,
    unpriced_calls BIGINT NOT NULL,
    PRIMARY KEY (project_id, quarter)
);

CREATE TABLE rollup_days (
    project_id BIGINT NOT NULL,
    day BIGINT NOT NULL,
    combo TEXT NOT NULL,
    environment TEXT,
    source TEXT,
    device TEXT,
    language TEXT,
    country TEXT,
    conversations BIGINT NOT NULL,
    used BIGINT NOT NULL,
    messages BIGINT NOT NULL,
    end_user_messages BIGINT NOT NULL,
    agent_messages BIGINT NOT NULL,
    events BIGINT NOT NULL,
    actions BIGINT NOT NULL,
    multi BIGINT NOT NULL,
    multi_span BIGINT NOT NULL,
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    total_tokens BIGINT NOT NULL,
    embedding_tokens BIGINT NOT NULL,
    cost_nanos BIGINT NOT NULL,
    priced_calls BIGINT NOT NULL,
    unpriced_calls BIGINT NOT NULL,
    PRIMARY KEY (project_id, day, combo)
);

INSERT INTO rollup_quarters (project_id, quarter, conversations, used, messages, end_user_messages, agent_messages, events, actions, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls)
SELECT c.project_id, c.started_at / 900000000, SUM(1), SUM(c.is_used::int), SUM(c.message_count), SUM(c.end_user_message_count), SUM(c.agent_message_count), SUM(c.event_count), SUM(c.action_count), SUM(CASE WHEN c.event_count > 1 THEN 1 ELSE 0 END), SUM(CASE WHEN c.event_count > 1 THEN c.ended_at - c.started_at ELSE 0 END), SUM(c.prompt_tokens), SUM(c.completion_tokens), SUM(c.total_tokens), SUM(c.embedding_tokens), SUM(c.cost_nanos), SUM(c.priced_calls), SUM(c.unpriced_calls)
FROM conversations c GROUP BY c.project_id, c.started_at / 900000000;

INSERT INTO rollup_days (project_id, day, combo, environment, source, device, language, country, conversations, used, messages, end_user_messages, agent_messages, events, actions, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls)
SELECT c.project_id, c.started_at / 86400000000, json_build_array(c.environment, c.source, c.device, c.language, c.country)::text, MIN(c.environment), MIN(c.source), MIN(c.device), MIN(c.language), MIN(c.country), SUM(1), SUM(c.is_used::int), SUM(c.message_count), SUM(c.end_user_message_count), SUM(c.agent_message_count), SUM(c.event_count), SUM(c.action_count), SUM(CASE WHEN c.event_count > 1 THEN 1 ELSE 0 END), SUM(CASE WHEN c.event_count > 1 THEN c.ended_at - c.started_at ELSE 0 END), SUM(c.prompt_tokens), SUM(c.completion_tokens), SUM(c.total_tokens), SUM(c.embedding_tokens), SUM(c.cost_nanos), SUM(c.priced_calls), SUM(c.unpriced_calls)
FROM conversations c GROUP BY c.project_id, c.started_at / 86400000000, json_build_array(c.environment, c.source, c.device, c.language, c.country)::text;

CREATE INDEX conversations_by_start ON conversations (project_id, started_at);

-- Statement triggers: one batch's conversations are summed per bucket and
-- added with one statement per table, in key order (a row trigger per
-- conversation cost a third of the write rate: benchmarks/ingest_ab.py).
CREATE FUNCTION agentsight_rollups() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO rollup_quarters (project_id, quarter, conversations, used, messages, end_user_messages, agent_messages, events, actions, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls)
        SELECT project_id, quarter, SUM(conversations), SUM(used), SUM(messages), SUM(end_user_messages), SUM(agent_messages), SUM(events), SUM(actions), SUM(multi), SUM(multi_span), SUM(prompt_tokens), SUM(completion_tokens), SUM(total_tokens), SUM(embedding_tokens), SUM(cost_nanos), SUM(priced_calls), SUM(unpriced_calls) FROM (
            SELECT n.project_id, n.started_at / 900000000, 1, n.is_used::int, n.message_count, n.end_user_message_count, n.agent_message_count, n.event_count, n.action_count, CASE WHEN n.event_count > 1 THEN 1 ELSE 0 END, CASE WHEN n.event_count > 1 THEN n.ended_at - n.started_at ELSE 0 END, n.prompt_tokens, n.completion_tokens, n.total_tokens, n.embedding_tokens, n.cost_nanos, n.priced_calls, n.unpriced_calls FROM new_rows n
        ) AS d (project_id, quarter, conversations, used, messages, end_user_messages, agent_messages, events, actions, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls)
        GROUP BY project_id, quarter HAVING SUM(conversations) <> 0 OR SUM(used) <> 0 OR SUM(messages) <> 0 OR SUM(end_user_messages) <> 0 OR SUM(agent_messages) <> 0 OR SUM(events) <> 0 OR SUM(actions) <> 0 OR SUM(multi) <> 0 OR SUM(multi_span) <> 0 OR SUM(prompt_tokens) <> 0 OR SUM(completion_tokens) <> 0 OR SUM(total_tokens) <> 0 OR SUM(embedding_tokens) <> 0 OR SUM(cost_nanos) <> 0 OR SUM(priced_calls) <> 0 OR SUM(unpriced_calls) <> 0
        ORDER BY project_id, quarter
        ON CONFLICT (project_id, quarter) DO UPDATE SET conversations = rollup_quarters.conversations + excluded.conversations, used = rollup_quarters.used + excluded.used, messages = rollup_quarters.messages + excluded.messages, end_user_messages = rollup_quarters.end_user_messages + excluded.end_user_messages, agent_messages = rollup_quarters.agent_messages + excluded.agent_messages, events = rollup_quarters.events + excluded.events, actions = rollup_quarters.actions + excluded.actions, multi = rollup_quarters.multi + excluded.multi, multi_span = rollup_quarters.multi_span + excluded.multi_span, prompt_tokens = rollup_quarters.prompt_tokens + excluded.prompt_tokens, completion_tokens = rollup_quarters.completion_tokens + excluded.completion_tokens, total_tokens = rollup_quarters.total_tokens + excluded.total_tokens, embedding_tokens = rollup_quarters.embedding_tokens + excluded.embedding_tokens, cost_nanos = rollup_quarters.cost_nanos + excluded.cost_nanos, priced_calls = rollup_quarters.priced_calls + excluded.priced_calls, unpriced_calls = rollup_quarters.unpriced_calls + excluded.unpriced_calls;
        INSERT INTO rollup_days (project_id, day, combo, environment, source, device, language, country, conversations, used, messages, end_user_messages, agent_messages, events, actions, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls)
        SELECT project_id, day, combo, environment, source, device, language, country, SUM(conversations), SUM(used), SUM(messages), SUM(end_user_messages), SUM(agent_messages), SUM(events), SUM(actions), SUM(multi), SUM(multi_span), SUM(prompt_tokens), SUM(completion_tokens), SUM(total_tokens), SUM(embedding_tokens), SUM(cost_nanos), SUM(priced_calls), SUM(unpriced_calls) FROM (
            SELECT n.project_id, n.started_at / 86400000000, json_build_array(n.environment, n.source, n.device, n.language, n.country)::text, n.environment, n.source, n.device, n.language, n.country, 1, n.is_used::int, n.message_count, n.end_user_message_count, n.agent_message_count, n.event_count, n.action_count, CASE WHEN n.event_count > 1 THEN 1 ELSE 0 END, CASE WHEN n.event_count > 1 THEN n.ended_at - n.started_at ELSE 0 END, n.prompt_tokens, n.completion_tokens, n.total_tokens, n.embedding_tokens, n.cost_nanos, n.priced_calls, n.unpriced_calls FROM new_rows n
        ) AS d (project_id, day, combo, environment, source, device, language, country, conversations, used, messages, end_user_messages, agent_messages, events, actions, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls)
        GROUP BY project_id, day, combo, environment, source, device, language, country HAVING SUM(conversations) <> 0 OR SUM(used) <> 0 OR SUM(messages) <> 0 OR SUM(end_user_messages) <> 0 OR SUM(agent_messages) <> 0 OR SUM(events) <> 0 OR SUM(actions) <> 0 OR SUM(multi) <> 0 OR SUM(multi_span) <> 0 OR SUM(prompt_tokens) <> 0 OR SUM(completion_tokens) <> 0 OR SUM(total_tokens) <> 0 OR SUM(embedding_tokens) <> 0 OR SUM(cost_nanos) <> 0 OR SUM(priced_calls) <> 0 OR SUM(unpriced_calls) <> 0
        ORDER BY project_id, day, combo, environment, source, device, language, country
        ON CONFLICT (project_id, day, combo) DO UPDATE SET conversations = rollup_days.conversations + excluded.conversations, used = rollup_days.used + excluded.used, messages = rollup_days.messages + excluded.messages, end_user_messages = rollup_days.end_user_messages + excluded.end_user_messages, agent_messages = rollup_days.agent_messages + excluded.agent_messages, events = rollup_days.events + excluded.events, actions = rollup_days.actions + excluded.actions, multi = rollup_days.multi + excluded.multi, multi_span = rollup_days.multi_span + excluded.multi_span, prompt_tokens = rollup_days.prompt_tokens + excluded.prompt_tokens, completion_tokens = rollup_days.completion_tokens + excluded.completion_tokens, total_tokens = rollup_days.total_tokens + excluded.total_tokens, embedding_tokens = rollup_days.embedding_tokens + excluded.embedding_tokens, cost_nanos = rollup_days.cost_nanos + excluded.cost_nanos, priced_calls = rollup_days.priced_calls + excluded.priced_calls, unpriced_calls = rollup_days.unpriced_calls + excluded.unpriced_calls;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO rollup_quarters (project_id, quarter, conversations, used, messages, end_user_messages, agent_messages, events, actions, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls)
        SELECT project_id, quarter, SUM(conversations), SUM(used), SUM(messages), SUM(end_user_messages), SUM(agent_messages), SUM(events), SUM(actions), SUM(multi), SUM(multi_span), SUM(prompt_tokens), SUM(completion_tokens), SUM(total_tokens), SUM(embedding_tokens), SUM(cost_nanos), SUM(priced_calls), SUM(unpriced_calls) FROM (
            SELECT o.project_id, o.started_at / 900000000, -(1), -(o.is_used::int), -(o.message_count), -(o.end_user_message_count), -(o.agent_message_count), -(o.event_count), -(o.action_count), -(CASE WHEN o.event_count > 1 THEN 1 ELSE 0 END), -(CASE WHEN o.event_count > 1 THEN o.ended_at - o.started_at ELSE 0 END), -(o.prompt_tokens), -(o.completion_tokens), -(o.total_tokens), -(o.embedding_tokens), -(o.cost_nanos), -(o.priced_calls), -(o.unpriced_calls) FROM old_rows o
        ) AS d (project_id, quarter, conversations, used, messages, end_user_messages, agent_messages, events, actions, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls)
        GROUP BY project_id, quarter HAVING SUM(conversations) <> 0 OR SUM(used) <> 0 OR SUM(messages) <> 0 OR SUM(end_user_messages) <> 0 OR SUM(agent_messages) <> 0 OR SUM(events) <> 0 OR SUM(actions) <> 0 OR SUM(multi) <> 0 OR SUM(multi_span) <> 0 OR SUM(prompt_tokens) <> 0 OR SUM(completion_tokens) <> 0 OR SUM(total_tokens) <> 0 OR SUM(embedding_tokens) <> 0 OR SUM(cost_nanos) <> 0 OR SUM(priced_calls) <> 0 OR SUM(unpriced_calls) <> 0
        ORDER BY project_id, quarter
        ON CONFLICT (project_id, quarter) DO UPDATE SET conversations = rollup_quarters.conversations + excluded.conversations, used = rollup_quarters.used + excluded.used, messages = rollup_quarters.messages + excluded.messages, end_user_messages = rollup_quarters.end_user_messages + excluded.end_user_messages, agent_messages = rollup_quarters.agent_messages + excluded.agent_messages, events = rollup_quarters.events + excluded.events, actions = rollup_quarters.actions + excluded.actions, multi = rollup_quarters.multi + excluded.multi, multi_span = rollup_quarters.multi_span + excluded.multi_span, prompt_tokens = rollup_quarters.prompt_tokens + excluded.prompt_tokens, completion_tokens = rollup_quarters.completion_tokens + excluded.completion_tokens, total_tokens = rollup_quarters.total_tokens + excluded.total_tokens, embedding_tokens = rollup_quarters.embedding_tokens + excluded.embedding_tokens, cost_nanos = rollup_quarters.cost_nanos + excluded.cost_nanos, priced_calls = rollup_quarters.priced_calls + excluded.priced_calls, unpriced_calls = rollup_quarters.unpriced_calls + excluded.unpriced_calls;
        INSERT INTO rollup_days (project_id, day, combo, environment, source, device, language, country, conversations, used, messages, end_user_messages, agent_messages, events, actions, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls)
        SELECT project_id, day, combo, environment, source, device, language, country, SUM(conversations), SUM(used), SUM(messages), SUM(end_user_messages), SUM(agent_messages), SUM(events), SUM(actions), SUM(multi), SUM(multi_span), SUM(prompt_tokens), SUM(completion_tokens), SUM(total_tokens), SUM(embedding_tokens), SUM(cost_nanos), SUM(priced_calls), SUM(unpriced_calls) FROM (
            SELECT o.project_id, o.started_at / 86400000000, json_build_array(o.environment, o.source, o.device, o.language, o.country)::text, o.environment, o.source, o.device, o.language, o.country, -(1), -(o.is_used::int), -(o.message_count), -(o.end_user_message_count), -(o.agent_message_count), -(o.event_count), -(o.action_count), -(CASE WHEN o.event_count > 1 THEN 1 ELSE 0 END), -(CASE WHEN o.event_count > 1 THEN o.ended_at - o.started_at ELSE 0 END), -(o.prompt_tokens), -(o.completion_tokens), -(o.total_tokens), -(o.embedding_tokens), -(o.cost_nanos), -(o.priced_calls), -(o.unpriced_calls) FROM old_rows o
        ) AS d (project_id, day, combo, environment, source, device, language, country, conversations, used, messages, end_user_messages, agent_messages, events, actions, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls)
        GROUP BY project_id, day, combo, environment, source, device, language, country HAVING SUM(conversations) <> 0 OR SUM(used) <> 0 OR SUM(messages) <> 0 OR SUM(end_user_messages) <> 0 OR SUM(agent_messages) <> 0 OR SUM(events) <> 0 OR SUM(actions) <> 0 OR SUM(multi) <> 0 OR SUM(multi_span) <> 0 OR SUM(prompt_tokens) <> 0 OR SUM(completion_tokens) <> 0 OR SUM(total_tokens) <> 0 OR SUM(embedding_tokens) <> 0 OR SUM(cost_nanos) <> 0 OR SUM(priced_calls) <> 0 OR SUM(unpriced_calls) <> 0
        ORDER BY project_id, day, combo, environment, source, device, language, country
        ON CONFLICT (project_id, day, combo) DO UPDATE SET conversations = rollup_days.conversations + excluded.conversations, used = rollup_days.used + excluded.used, messages = rollup_days.messages + excluded.messages, end_user_messages = rollup_days.end_user_messages + excluded.end_user_messages, agent_messages = rollup_days.agent_messages + excluded.agent_messages, events = rollup_days.events + excluded.events, actions = rollup_days.actions + excluded.actions, multi = rollup_days.multi + excluded.multi, multi_span = rollup_days.multi_span + excluded.multi_span, prompt_tokens = rollup_days.prompt_tokens + excluded.prompt_tokens, completion_tokens = rollup_days.completion_tokens + excluded.completion_tokens, total_tokens = rollup_days.total_tokens + excluded.total_tokens, embedding_tokens = rollup_days.embedding_tokens + excluded.embedding_tokens, cost_nanos = rollup_days.cost_nanos + excluded.cost_nanos, priced_calls = rollup_days.priced_calls + excluded.priced_calls, unpriced_calls = rollup_days.unpriced_calls + excluded.unpriced_calls;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO rollup_quarters (project_id, quarter, conversations, used, messages, end_user_messages, agent_messages, events, actions, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls)
        SELECT project_id, quarter, SUM(conversations), SUM(used), SUM(messages), SUM(end_user_messages), SUM(agent_messages), SUM(events), SUM(actions), SUM(multi), SUM(multi_span), SUM(prompt_tokens), SUM(completion_tokens), SUM(total_tokens), SUM(embedding_tokens), SUM(cost_nanos), SUM(priced_calls), SUM(unpriced_calls) FROM (
            SELECT o.project_id, o.started_at / 900000000, -(1), -(o.is_used::int), -(o.message_count), -(o.end_user_message_count), -(o.agent_message_count), -(o.event_count), -(o.action_count), -(CASE WHEN o.event_count > 1 THEN 1 ELSE 0 END), -(CASE WHEN o.event_count > 1 THEN o.ended_at - o.started_at ELSE 0 END), -(o.prompt_tokens), -(o.completion_tokens), -(o.total_tokens), -(o.embedding_tokens), -(o.cost_nanos), -(o.priced_calls), -(o.unpriced_calls) FROM old_rows o
            UNION ALL SELECT n.project_id, n.started_at / 900000000, 1, n.is_used::int, n.message_count, n.end_user_message_count, n.agent_message_count, n.event_count, n.action_count, CASE WHEN n.event_count > 1 THEN 1 ELSE 0 END, CASE WHEN n.event_count > 1 THEN n.ended_at - n.started_at ELSE 0 END, n.prompt_tokens, n.completion_tokens, n.total_tokens, n.embedding_tokens, n.cost_nanos, n.priced_calls, n.unpriced_calls FROM new_rows n
        ) AS d (project_id, quarter, conversations, used, messages, end_user_messages, agent_messages, events, actions, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls)
        GROUP BY project_id, quarter HAVING SUM(conversations) <> 0 OR SUM(used) <> 0 OR SUM(messages) <> 0 OR SUM(end_user_messages) <> 0 OR SUM(agent_messages) <> 0 OR SUM(events) <> 0 OR SUM(actions) <> 0 OR SUM(multi) <> 0 OR SUM(multi_span) <> 0 OR SUM(prompt_tokens) <> 0 OR SUM(completion_tokens) <> 0 OR SUM(total_tokens) <> 0 OR SUM(embedding_tokens) <> 0 OR SUM(cost_nanos) <> 0 OR SUM(priced_calls) <> 0 OR SUM(unpriced_calls) <> 0
        ORDER BY project_id, quarter
        ON CONFLICT (project_id, quarter) DO UPDATE SET conversations = rollup_quarters.conversations + excluded.conversations, used = rollup_quarters.used + excluded.used, messages = rollup_quarters.messages + excluded.messages, end_user_messages = rollup_quarters.end_user_messages + excluded.end_user_messages, agent_messages = rollup_quarters.agent_messages + excluded.agent_messages, events = rollup_quarters.events + excluded.events, actions = rollup_quarters.actions + excluded.actions, multi = rollup_quarters.multi + excluded.multi, multi_span = rollup_quarters.multi_span + excluded.multi_span, prompt_tokens = rollup_quarters.prompt_tokens + excluded.prompt_tokens, completion_tokens = rollup_quarters.completion_tokens + excluded.completion_tokens, total_tokens = rollup_quarters.total_tokens + excluded.total_tokens, embedding_tokens = rollup_quarters.embedding_tokens + excluded.embedding_tokens, cost_nanos = rollup_quarters.cost_nanos + excluded.cost_nanos, priced_calls = rollup_quarters.priced_calls + excluded.priced_calls, unpriced_calls = rollup_quarters.unpriced_calls + excluded.unpriced_calls;
        INSERT INTO rollup_days (project_id, day, combo, environment, source, device, language, country, conversations, used, messages, end_user_messages, agent_messages, events, actions, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls)
        SELECT project_id, day, combo, environment, source, device, language, country, SUM(conversations), SUM(used), SUM(messages), SUM(end_user_messages), SUM(agent_messages), SUM(events), SUM(actions), SUM(multi), SUM(multi_span), SUM(prompt_tokens), SUM(completion_tokens), SUM(total_tokens), SUM(embedding_tokens), SUM(cost_nanos), SUM(priced_calls), SUM(unpriced_calls) FROM (
            SELECT o.project_id, o.started_at / 86400000000, json_build_array(o.environment, o.source, o.device, o.language, o.country)::text, o.environment, o.source, o.device, o.language, o.country, -(1), -(o.is_used::int), -(o.message_count), -(o.end_user_message_count), -(o.agent_message_count), -(o.event_count), -(o.action_count), -(CASE WHEN o.event_count > 1 THEN 1 ELSE 0 END), -(CASE WHEN o.event_count > 1 THEN o.ended_at - o.started_at ELSE 0 END), -(o.prompt_tokens), -(o.completion_tokens), -(o.total_tokens), -(o.embedding_tokens), -(o.cost_nanos), -(o.priced_calls), -(o.unpriced_calls) FROM old_rows o
            UNION ALL SELECT n.project_id, n.started_at / 86400000000, json_build_array(n.environment, n.source, n.device, n.language, n.country)::text, n.environment, n.source, n.device, n.language, n.country, 1, n.is_used::int, n.message_count, n.end_user_message_count, n.agent_message_count, n.event_count, n.action_count, CASE WHEN n.event_count > 1 THEN 1 ELSE 0 END, CASE WHEN n.event_count > 1 THEN n.ended_at - n.started_at ELSE 0 END, n.prompt_tokens, n.completion_tokens, n.total_tokens, n.embedding_tokens, n.cost_nanos, n.priced_calls, n.unpriced_calls FROM new_rows n
        ) AS d (project_id, day, combo, environment, source, device, language, country, conversations, used, messages, end_user_messages, agent_messages, events, actions, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls)
        GROUP BY project_id, day, combo, environment, source, device, language, country HAVING SUM(conversations) <> 0 OR SUM(used) <> 0 OR SUM(messages) <> 0 OR SUM(end_user_messages) <> 0 OR SUM(agent_messages) <> 0 OR SUM(events) <> 0 OR SUM(actions) <> 0 OR SUM(multi) <> 0 OR SUM(multi_span) <> 0 OR SUM(prompt_tokens) <> 0 OR SUM(completion_tokens) <> 0 OR SUM(total_tokens) <> 0 OR SUM(embedding_tokens) <> 0 OR SUM(cost_nanos) <> 0 OR SUM(priced_calls) <> 0 OR SUM(unpriced_calls) <> 0
        ORDER BY project_id, day, combo, environment, source, device, language, country
        ON CONFLICT (project_id, day, combo) DO UPDATE SET conversations = rollup_days.conversations + excluded.conversations, used = rollup_days.used + excluded.used, messages = rollup_days.messages + excluded.messages, end_user_messages = rollup_days.end_user_messages + excluded.end_user_messages, agent_messages = rollup_days.agent_messages + excluded.agent_messages, events = rollup_days.events + excluded.events, actions = rollup_days.actions + excluded.actions, multi = rollup_days.multi + excluded.multi, multi_span = rollup_days.multi_span + excluded.multi_span, prompt_tokens = rollup_days.prompt_tokens + excluded.prompt_tokens, completion_tokens = rollup_days.completion_tokens + excluded.completion_tokens, total_tokens = rollup_days.total_tokens + excluded.total_tokens, embedding_tokens = rollup_days.embedding_tokens + excluded.embedding_tokens, cost_nanos = rollup_days.cost_nanos + excluded.cost_nanos, priced_calls = rollup_days.priced_calls + excluded.priced_calls, unpriced_calls = rollup_days.unpriced_calls + excluded.unpriced_calls;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER rollups_add AFTER INSERT ON conversations
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION agentsight_rollups();

CREATE TRIGGER rollups_remove AFTER DELETE ON conversations
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION agentsight_rollups();

CREATE TRIGGER rollups_move AFTER UPDATE ON conversations
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION agentsight_rollups();
