-- Schema version 3: what GET /v1/metrics reads of an event's payload, as
-- columns, so that the metrics no longer parse JSON.  The collector fills them
-- when it stores an event (NULL for the other types); existing rows are filled
-- here from their payload.
--   messages: sender; for an end_user message, response_wait: microseconds to
--     the first agent message after it in its conversation (in ts, seq, id
--     order), NULL while there is none.  Every batch recomputes it for the
--     end_user messages of the conversations it adds messages to.
--   actions: action_name, duration_ms (as the payload has it, integer or real,
--     hence no declared type), is_error (1 when error_msg is not null).
--   token_usage: the four token counts.
ALTER TABLE events ADD COLUMN sender TEXT;
ALTER TABLE events ADD COLUMN response_wait INTEGER;
ALTER TABLE events ADD COLUMN action_name TEXT;
ALTER TABLE events ADD COLUMN duration_ms;
ALTER TABLE events ADD COLUMN is_error INTEGER;
ALTER TABLE events ADD COLUMN prompt_tokens INTEGER;
ALTER TABLE events ADD COLUMN completion_tokens INTEGER;
ALTER TABLE events ADD COLUMN total_tokens INTEGER;
ALTER TABLE events ADD COLUMN embedding_tokens INTEGER;

UPDATE events SET sender = json_extract(payload, '$.sender') WHERE type = 'message';
UPDATE events SET
    action_name = json_extract(payload, '$.action_name'),
    duration_ms = json_extract(payload, '$.duration_ms'),
    is_error = json_extract(payload, '$.error_msg') IS NOT NULL
WHERE type = 'action';
UPDATE events SET
    prompt_tokens = json_extract(payload, '$.prompt_tokens'),
    completion_tokens = json_extract(payload, '$.completion_tokens'),
    total_tokens = json_extract(payload, '$.total_tokens'),
    embedding_tokens = json_extract(payload, '$.embedding_tokens')
WHERE type = 'token_usage';

-- A conversation's messages by sender and order: finds the first agent
-- message after an end_user message.
CREATE INDEX events_messages ON events (project_id, conversation_id, sender, ts, seq, id)
    WHERE type = 'message';
-- Response times in order (the percentiles read them by rank).
CREATE INDEX events_waits ON events (project_id, response_wait)
    WHERE response_wait IS NOT NULL;
-- Tool usage: actions by name and duration (the order of the percentiles).
CREATE INDEX events_actions ON events (project_id, action_name, duration_ms, is_error)
    WHERE action_name IS NOT NULL;
-- Token usage per day.
CREATE INDEX events_tokens ON events (
    project_id, ts, prompt_tokens, completion_tokens, total_tokens, embedding_tokens
) WHERE total_tokens IS NOT NULL;

UPDATE events SET response_wait = (
    SELECT a.ts FROM events a
    WHERE a.project_id = events.project_id AND a.type = 'message'
        AND a.conversation_id = events.conversation_id AND a.sender = 'agent'
        AND (a.ts, a.seq, a.id) > (events.ts, events.seq, events.id)
    ORDER BY a.ts, a.seq, a.id LIMIT 1
) - ts
WHERE type = 'message' AND sender = 'end_user';
