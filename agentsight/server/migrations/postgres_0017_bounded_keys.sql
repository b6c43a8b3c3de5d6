-- Schema version 17: no B-tree key grows with an event's text beyond what a
-- B-tree row holds.  PostgreSQL refuses a row of more than 2704 bytes (after
-- its own compression, which text of 4-byte characters defeats), and a refused
-- row fails the whole batch; two keys could outgrow it with valid events:
--   rollup_buttons was keyed by the whole press (its payload: event, label and
--     value of up to 4096 characters each, and the metadata).  It is keyed by
--     payload_key, the payload's MD5 (a stored generated column): presses whose
--     payloads differ count apart unless their MD5s collide, which a client
--     could only arrange within its own project, and only by sending payloads
--     crafted for it; the rows still hold the payload the metrics read;
--   events_scores held the name, the conversation id and the category (score_label),
--     each up to 256 characters.  It holds the name, the conversation, the value
--     and the time: the category, which only the list's score filter reads
--     (a few rows per conversation), comes from the table.
-- The trigger functions that add to rollup_buttons take the new conflict
-- target; the rest of their text is unchanged.
-- A batch's writes reach conversations, events and rollup_buttons, and a
-- retention step holds rows of conversations before it deletes: the strongest
-- lock on all three from the start (see postgres_0015), after every project's
-- rollup lock, which each of those writers takes before any table (see
-- postgres_0018: a batch locks the events first, a deletion the conversation).
-- Readers and writers wait while events_scores is built: one pass over the
-- events (seconds at 10M).

SELECT pg_advisory_xact_lock(1919904876, id::int) FROM projects ORDER BY id;
LOCK TABLE conversations, events, rollup_buttons IN ACCESS EXCLUSIVE MODE;

ALTER TABLE rollup_buttons ADD COLUMN payload_key TEXT GENERATED ALWAYS AS (md5(payload)) STORED;
ALTER TABLE rollup_buttons DROP CONSTRAINT rollup_buttons_pkey;
ALTER TABLE rollup_buttons ADD PRIMARY KEY (project_id, quarter, payload_key);

DO $$
DECLARE
    name TEXT;
    body TEXT;
BEGIN
    FOREACH name IN ARRAY ARRAY['agentsight_action_rollups', 'agentsight_conversation_action_rollups'] LOOP
        body := pg_get_functiondef(name::regproc);
        IF position('ON CONFLICT (project_id, quarter, payload) ' IN body) = 0 THEN
            RAISE EXCEPTION '% does not add to rollup_buttons as schema 11 wrote it', name;
        END IF;
        EXECUTE replace(
            body,
            'ON CONFLICT (project_id, quarter, payload) ',
            'ON CONFLICT (project_id, quarter, payload_key) '
        );
    END LOOP;
END
$$;

DROP INDEX events_scores;
CREATE INDEX events_scores ON events (project_id, score_name, conversation_id, score_value, ts)
    WHERE score_name IS NOT NULL;
