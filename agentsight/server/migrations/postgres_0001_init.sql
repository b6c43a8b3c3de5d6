-- Schema version 1 of the PostgreSQL collector database, the same tables as
-- SQLite's: times are integer microseconds since the epoch (UTC), JSON is kept
-- as the text the collector wrote, so both answer with the same bytes.

CREATE TABLE projects (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id BIGSERIAL PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES projects (id),
    key_hash TEXT NOT NULL UNIQUE,
    redacted TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

-- pk orders conversations by creation and gives keyset pagination.  Under
-- several collectors the order is the order of the sequence, not of commits.
CREATE TABLE conversations (
    pk BIGSERIAL PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES projects (id),
    conversation_id TEXT NOT NULL,
    customer_id TEXT,
    customer_ip_address TEXT,
    device TEXT,
    source TEXT,
    language TEXT,
    name TEXT,
    environment TEXT,
    metadata TEXT,
    country TEXT,
    is_used BOOLEAN NOT NULL DEFAULT FALSE,
    is_marked BOOLEAN NOT NULL DEFAULT FALSE,
    started_at BIGINT NOT NULL,
    ended_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    event_count BIGINT NOT NULL DEFAULT 0,
    message_count BIGINT NOT NULL DEFAULT 0,
    end_user_message_count BIGINT NOT NULL DEFAULT 0,
    agent_message_count BIGINT NOT NULL DEFAULT 0,
    action_count BIGINT NOT NULL DEFAULT 0,
    prompt_tokens BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0,
    total_tokens BIGINT NOT NULL DEFAULT 0,
    embedding_tokens BIGINT NOT NULL DEFAULT 0,
    UNIQUE (project_id, conversation_id)
);

CREATE INDEX conversations_by_project ON conversations (project_id, pk);

CREATE TABLE events (
    project_id BIGINT NOT NULL,
    id TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    type TEXT NOT NULL,
    seq BIGINT NOT NULL,
    ts BIGINT NOT NULL,
    payload TEXT NOT NULL,
    -- The text of a message, kept out of payload so that search reads one column.
    content TEXT,
    PRIMARY KEY (project_id, id)
);

CREATE INDEX events_by_conversation ON events (project_id, conversation_id, ts, seq);

CREATE TABLE feedback (
    id BIGSERIAL PRIMARY KEY,
    project_id BIGINT NOT NULL,
    conversation_id TEXT NOT NULL,
    sentiment TEXT NOT NULL,
    comment TEXT,
    metadata TEXT,
    created_at BIGINT NOT NULL
);

CREATE INDEX feedback_by_conversation ON feedback (project_id, conversation_id);

-- Where `agentsight migrate` got to, per source file and table: each chunk
-- is copied in the same transaction as its checkpoint, so a resumed copy
-- starts exactly after the last committed chunk.
CREATE TABLE import_checkpoints (
    source TEXT NOT NULL,
    table_name TEXT NOT NULL,
    last_key BIGINT NOT NULL,
    copied BIGINT NOT NULL,
    PRIMARY KEY (source, table_name)
);

-- RFC 7396 JSON merge patch, as SQLite's json_patch(target, patch): keys of
-- *patch* win, recursively; a null in *patch* removes the key.
CREATE FUNCTION agentsight_json_patch(target JSONB, patch JSONB) RETURNS JSONB
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    result JSONB;
    item RECORD;
BEGIN
    IF patch IS NULL OR jsonb_typeof(patch) <> 'object' THEN
        RETURN patch;
    END IF;
    IF target IS NULL OR jsonb_typeof(target) <> 'object' THEN
        result := '{}'::JSONB;
    ELSE
        result := target;
    END IF;
    FOR item IN SELECT key, value FROM jsonb_each(patch) LOOP
        IF jsonb_typeof(item.value) = 'null' THEN
            result := result - item.key;
        ELSE
            result := jsonb_set(
                result, ARRAY[item.key], agentsight_json_patch(result -> item.key, item.value)
            );
        END IF;
    END LOOP;
    RETURN result;
END
$$;
