-- Schema version 3: what GET /v1/metrics reads of an event's payload, as
-- columns (as SQLite's), so that the metrics no longer parse JSON.  The
-- collector fills them when it stores an event (NULL for the other types);
-- existing rows are filled here from their payload.
--   messages: sender; for an end_user message, response_wait: microseconds to
--     the first agent message after it in its conversation (in ts, seq, id
--     order), NULL while there is none.  Every batch recomputes it for the
--     end_user messages of the conversations it adds messages to.
--   actions: action_name, duration_ms, is_error (1 when error_msg is not null).
--   token_usage: the four token counts.
ALTER TABLE events
    ADD COLUMN sender TEXT,
    ADD COLUMN response_wait BIGINT,
    ADD COLUMN action_name TEXT,
    ADD COLUMN duration_ms FLOAT8,
    ADD COLUMN is_error SMALLINT,
    ADD COLUMN prompt_tokens BIGINT,
    ADD COLUMN completion_tokens BIGINT,
    ADD COLUMN total_tokens BIGINT,
    ADD COLUMN embedding_tokens BIGINT;

-- json cannot give text out of a document holding \u0000: such a payload is
-- read with \ufffd in its place (an escape after an even number of
-- backslashes), as the columns written by the collector have U+FFFD.  Two
-- passes catch runs of \u0000.
CREATE FUNCTION pg_temp.agentsight_json(payload TEXT) RETURNS JSON
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN strpos(payload, '\u0000') = 0 THEN payload::json
    ELSE regexp_replace(
        regexp_replace(payload, '(^|[^\\])((\\\\)*)\\u0000', '\1\2\\ufffd', 'g'),
        '(^|[^\\])((\\\\)*)\\u0000', '\1\2\\ufffd', 'g'
    )::json END
$$;

UPDATE events SET sender = pg_temp.agentsight_json(payload) ->> 'sender' WHERE type = 'message';
UPDATE events SET
    action_name = j ->> 'action_name',
    duration_ms = (j ->> 'duration_ms')::float8,
    is_error = CASE WHEN j ->> 'error_msg' IS NULL THEN 0 ELSE 1 END
FROM (SELECT project_id AS p, id AS i, pg_temp.agentsight_json(payload) AS j
      FROM events WHERE type = 'action') x
WHERE events.project_id = x.p AND events.id = x.i;
UPDATE events SET
    prompt_tokens = (j ->> 'prompt_tokens')::bigint,
    completion_tokens = (j ->> 'completion_tokens')::bigint,
    total_tokens = (j ->> 'total_tokens')::bigint,
    embedding_tokens = (j ->> 'embedding_tokens')::bigint
FROM (SELECT project_id AS p, id AS i, pg_temp.agentsight_json(payload) AS j
      FROM events WHERE type = 'token_usage') x
WHERE events.project_id = x.p AND events.id = x.i;

DROP FUNCTION pg_temp.agentsight_json(TEXT);

-- A conversation's messages by sender and order: finds the first agent
-- message after an end_user message.
CREATE INDEX events_messages ON events (project_id, conversation_id, sender, ts, seq, id)
    WHERE type = 'message';
-- Response times in order (the percentiles read them by rank).
CREATE INDEX events_waits ON events (project_id, response_wait)
    WHERE response_wait IS NOT NULL;
-- Tool usage: actions by name and duration (the order of the percentiles).
CREATE INDEX events_actions ON events (project_id, action_name, duration_ms)
    INCLUDE (is_error) WHERE action_name IS NOT NULL;
-- Token usage per day.
CREATE INDEX events_tokens ON events (project_id, ts)
    INCLUDE (prompt_tokens, completion_tokens, total_tokens, embedding_tokens)
    WHERE total_tokens IS NOT NULL;

UPDATE events SET response_wait = w.wait
FROM (
    SELECT u.project_id AS p, u.id AS i, (
        SELECT a.ts FROM events a
        WHERE a.project_id = u.project_id AND a.type = 'message'
            AND a.conversation_id = u.conversation_id AND a.sender = 'agent'
            AND (a.ts, a.seq, a.id) > (u.ts, u.seq, u.id)
        ORDER BY a.ts, a.seq, a.id LIMIT 1
    ) - u.ts AS wait
    FROM events u WHERE u.type = 'message' AND u.sender = 'end_user'
) w
WHERE events.project_id = w.p AND events.id = w.i AND w.wait IS NOT NULL;
