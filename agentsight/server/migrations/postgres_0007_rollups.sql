-- Schema version 7: rollups of the conversations, kept by triggers, that
-- GET /v1/metrics reads instead of every conversation where it can (see
-- storage/_rollups.py).  Every change of a conversation's row adds its new
-- contribution and takes back its old one, whichever path changes it (a
-- batch, a later attribute, feedback's is_used, a deletion, retention,
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
-- orders.
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

CREATE FUNCTION agentsight_rollups() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        INSERT INTO rollup_quarters (project_id, quarter, conversations, used, messages, end_user_messages, agent_messages, events, actions, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls)
        VALUES (OLD.project_id, OLD.started_at / 900000000, -(1), -(OLD.is_used::int), -(OLD.message_count), -(OLD.end_user_message_count), -(OLD.agent_message_count), -(OLD.event_count), -(OLD.action_count), -(CASE WHEN OLD.event_count > 1 THEN 1 ELSE 0 END), -(CASE WHEN OLD.event_count > 1 THEN OLD.ended_at - OLD.started_at ELSE 0 END), -(OLD.prompt_tokens), -(OLD.completion_tokens), -(OLD.total_tokens), -(OLD.embedding_tokens), -(OLD.cost_nanos), -(OLD.priced_calls), -(OLD.unpriced_calls))
        ON CONFLICT (project_id, quarter) DO UPDATE SET conversations = rollup_quarters.conversations + excluded.conversations, used = rollup_quarters.used + excluded.used, messages = rollup_quarters.messages + excluded.messages, end_user_messages = rollup_quarters.end_user_messages + excluded.end_user_messages, agent_messages = rollup_quarters.agent_messages + excluded.agent_messages, events = rollup_quarters.events + excluded.events, actions = rollup_quarters.actions + excluded.actions, multi = rollup_quarters.multi + excluded.multi, multi_span = rollup_quarters.multi_span + excluded.multi_span, prompt_tokens = rollup_quarters.prompt_tokens + excluded.prompt_tokens, completion_tokens = rollup_quarters.completion_tokens + excluded.completion_tokens, total_tokens = rollup_quarters.total_tokens + excluded.total_tokens, embedding_tokens = rollup_quarters.embedding_tokens + excluded.embedding_tokens, cost_nanos = rollup_quarters.cost_nanos + excluded.cost_nanos, priced_calls = rollup_quarters.priced_calls + excluded.priced_calls, unpriced_calls = rollup_quarters.unpriced_calls + excluded.unpriced_calls;
        INSERT INTO rollup_days (project_id, day, combo, environment, source, device, language, country, conversations, used, messages, end_user_messages, agent_messages, events, actions, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls)
        VALUES (OLD.project_id, OLD.started_at / 86400000000, json_build_array(OLD.environment, OLD.source, OLD.device, OLD.language, OLD.country)::text, OLD.environment, OLD.source, OLD.device, OLD.language, OLD.country, -(1), -(OLD.is_used::int), -(OLD.message_count), -(OLD.end_user_message_count), -(OLD.agent_message_count), -(OLD.event_count), -(OLD.action_count), -(CASE WHEN OLD.event_count > 1 THEN 1 ELSE 0 END), -(CASE WHEN OLD.event_count > 1 THEN OLD.ended_at - OLD.started_at ELSE 0 END), -(OLD.prompt_tokens), -(OLD.completion_tokens), -(OLD.total_tokens), -(OLD.embedding_tokens), -(OLD.cost_nanos), -(OLD.priced_calls), -(OLD.unpriced_calls))
        ON CONFLICT (project_id, day, combo) DO UPDATE SET conversations = rollup_days.conversations + excluded.conversations, used = rollup_days.used + excluded.used, messages = rollup_days.messages + excluded.messages, end_user_messages = rollup_days.end_user_messages + excluded.end_user_messages, agent_messages = rollup_days.agent_messages + excluded.agent_messages, events = rollup_days.events + excluded.events, actions = rollup_days.actions + excluded.actions, multi = rollup_days.multi + excluded.multi, multi_span = rollup_days.multi_span + excluded.multi_span, prompt_tokens = rollup_days.prompt_tokens + excluded.prompt_tokens, completion_tokens = rollup_days.completion_tokens + excluded.completion_tokens, total_tokens = rollup_days.total_tokens + excluded.total_tokens, embedding_tokens = rollup_days.embedding_tokens + excluded.embedding_tokens, cost_nanos = rollup_days.cost_nanos + excluded.cost_nanos, priced_calls = rollup_days.priced_calls + excluded.priced_calls, unpriced_calls = rollup_days.unpriced_calls + excluded.unpriced_calls;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO rollup_quarters (project_id, quarter, conversations, used, messages, end_user_messages, agent_messages, events, actions, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls)
        VALUES (NEW.project_id, NEW.started_at / 900000000, 1, NEW.is_used::int, NEW.message_count, NEW.end_user_message_count, NEW.agent_message_count, NEW.event_count, NEW.action_count, CASE WHEN NEW.event_count > 1 THEN 1 ELSE 0 END, CASE WHEN NEW.event_count > 1 THEN NEW.ended_at - NEW.started_at ELSE 0 END, NEW.prompt_tokens, NEW.completion_tokens, NEW.total_tokens, NEW.embedding_tokens, NEW.cost_nanos, NEW.priced_calls, NEW.unpriced_calls)
        ON CONFLICT (project_id, quarter) DO UPDATE SET conversations = rollup_quarters.conversations + excluded.conversations, used = rollup_quarters.used + excluded.used, messages = rollup_quarters.messages + excluded.messages, end_user_messages = rollup_quarters.end_user_messages + excluded.end_user_messages, agent_messages = rollup_quarters.agent_messages + excluded.agent_messages, events = rollup_quarters.events + excluded.events, actions = rollup_quarters.actions + excluded.actions, multi = rollup_quarters.multi + excluded.multi, multi_span = rollup_quarters.multi_span + excluded.multi_span, prompt_tokens = rollup_quarters.prompt_tokens + excluded.prompt_tokens, completion_tokens = rollup_quarters.completion_tokens + excluded.completion_tokens, total_tokens = rollup_quarters.total_tokens + excluded.total_tokens, embedding_tokens = rollup_quarters.embedding_tokens + excluded.embedding_tokens, cost_nanos = rollup_quarters.cost_nanos + excluded.cost_nanos, priced_calls = rollup_quarters.priced_calls + excluded.priced_calls, unpriced_calls = rollup_quarters.unpriced_calls + excluded.unpriced_calls;
        INSERT INTO rollup_days (project_id, day, combo, environment, source, device, language, country, conversations, used, messages, end_user_messages, agent_messages, events, actions, multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, unpriced_calls)
        VALUES (NEW.project_id, NEW.started_at / 86400000000, json_build_array(NEW.environment, NEW.source, NEW.device, NEW.language, NEW.country)::text, NEW.environment, NEW.source, NEW.device, NEW.language, NEW.country, 1, NEW.is_used::int, NEW.message_count, NEW.end_user_message_count, NEW.agent_message_count, NEW.event_count, NEW.action_count, CASE WHEN NEW.event_count > 1 THEN 1 ELSE 0 END, CASE WHEN NEW.event_count > 1 THEN NEW.ended_at - NEW.started_at ELSE 0 END, NEW.prompt_tokens, NEW.completion_tokens, NEW.total_tokens, NEW.embedding_tokens, NEW.cost_nanos, NEW.priced_calls, NEW.unpriced_calls)
        ON CONFLICT (project_id, day, combo) DO UPDATE SET conversations = rollup_days.conversations + excluded.conversations, used = rollup_days.used + excluded.used, messages = rollup_days.messages + excluded.messages, end_user_messages = rollup_days.end_user_messages + excluded.end_user_messages, agent_messages = rollup_days.agent_messages + excluded.agent_messages, events = rollup_days.events + excluded.events, actions = rollup_days.actions + excluded.actions, multi = rollup_days.multi + excluded.multi, multi_span = rollup_days.multi_span + excluded.multi_span, prompt_tokens = rollup_days.prompt_tokens + excluded.prompt_tokens, completion_tokens = rollup_days.completion_tokens + excluded.completion_tokens, total_tokens = rollup_days.total_tokens + excluded.total_tokens, embedding_tokens = rollup_days.embedding_tokens + excluded.embedding_tokens, cost_nanos = rollup_days.cost_nanos + excluded.cost_nanos, priced_calls = rollup_days.priced_calls + excluded.priced_calls, unpriced_calls = rollup_days.unpriced_calls + excluded.unpriced_calls;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER rollups_add_remove AFTER INSERT OR DELETE ON conversations
FOR EACH ROW EXECUTE FUNCTION agentsight_rollups();

CREATE TRIGGER rollups_move AFTER UPDATE ON conversations
FOR EACH ROW WHEN (OLD.is_used IS DISTINCT FROM NEW.is_used OR OLD.started_at IS DISTINCT FROM NEW.started_at OR OLD.ended_at IS DISTINCT FROM NEW.ended_at OR OLD.event_count IS DISTINCT FROM NEW.event_count OR OLD.message_count IS DISTINCT FROM NEW.message_count OR OLD.end_user_message_count IS DISTINCT FROM NEW.end_user_message_count OR OLD.agent_message_count IS DISTINCT FROM NEW.agent_message_count OR OLD.action_count IS DISTINCT FROM NEW.action_count OR OLD.prompt_tokens IS DISTINCT FROM NEW.prompt_tokens OR OLD.completion_tokens IS DISTINCT FROM NEW.completion_tokens OR OLD.total_tokens IS DISTINCT FROM NEW.total_tokens OR OLD.embedding_tokens IS DISTINCT FROM NEW.embedding_tokens OR OLD.cost_nanos IS DISTINCT FROM NEW.cost_nanos OR OLD.priced_calls IS DISTINCT FROM NEW.priced_calls OR OLD.unpriced_calls IS DISTINCT FROM NEW.unpriced_calls OR OLD.project_id IS DISTINCT FROM NEW.project_id OR OLD.environment IS DISTINCT FROM NEW.environment OR OLD.source IS DISTINCT FROM NEW.source OR OLD.device IS DISTINCT FROM NEW.device OR OLD.language IS DISTINCT FROM NEW.language OR OLD.country IS DISTINCT FROM NEW.country)
EXECUTE FUNCTION agentsight_rollups();
