-- Schema version 11: rollups of the actions, button presses and scores, kept by triggers,
-- that GET /v1/metrics reads for its tools, button presses and scores (see
-- storage/_rollups.py).  All are per project and UTC quarter hour of the
-- conversation's start (the selection of a request, as rollup_quarters):
--   rollup_tools: per action name, the actions, the errors, the timed ones
--     (duration_ms up to ingest's bound), the sum of their durations and the
--     conversations with any (the escalations of a request naming one);
--   rollup_buttons: per payload (the button event, label and value as stored),
--     the presses;
--   rollup_scores: per UTC quarter hour of the event (for local days) and score
--     name, the scores, the numeric ones and the sum of their values;
--   rollup_score_values: per score name and value (value_key: the value and the
--     label written exactly, a key that tells NULL from any value), the scores.
-- A sum of durations or values is kept in two columns: *_whole sums their whole
-- parts exactly (numeric), *_part what is left of each (less than one)
-- as a double.  A large value taken out again leaves the small ones as they
-- were; a single double would have rounded them away when it came in.  Counts
-- are exact.
-- What they hold, at every commit: the events of every stored conversation,
-- under its start, as rollup_messages (schema 8): an event counts once both it
-- and its conversation are stored, until either goes; a conversation whose
-- start moves into another quarter hour takes its events along.  Events never
-- change what counts here (only response_wait is updated).
-- The triggers read the other table: every transaction that writes events or
-- conversations takes the project's rollup lock first (storage/postgres:
-- lock_rollups), as for schema 8.
LOCK TABLE conversations, events IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE rollup_tools (
    project_id BIGINT NOT NULL,
    quarter BIGINT NOT NULL,
    action_name TEXT NOT NULL,
    actions BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    timed BIGINT NOT NULL,
    duration_whole NUMERIC NOT NULL,
    duration_part DOUBLE PRECISION NOT NULL,
    conversations BIGINT NOT NULL,
    PRIMARY KEY (project_id, quarter, action_name)
);

CREATE TABLE rollup_buttons (
    project_id BIGINT NOT NULL,
    quarter BIGINT NOT NULL,
    payload TEXT NOT NULL,
    presses BIGINT NOT NULL,
    PRIMARY KEY (project_id, quarter, payload)
);

CREATE TABLE rollup_scores (
    project_id BIGINT NOT NULL,
    quarter BIGINT NOT NULL,
    at BIGINT NOT NULL,
    score_name TEXT NOT NULL,
    scores BIGINT NOT NULL,
    valued BIGINT NOT NULL,
    value_whole NUMERIC NOT NULL,
    value_part DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (project_id, quarter, at, score_name)
);

CREATE TABLE rollup_score_values (
    project_id BIGINT NOT NULL,
    quarter BIGINT NOT NULL,
    score_name TEXT NOT NULL,
    value_key TEXT NOT NULL,
    score_value DOUBLE PRECISION,
    score_label TEXT,
    scores BIGINT NOT NULL,
    PRIMARY KEY (project_id, quarter, score_name, value_key)
);

CREATE TABLE rollup_wait_days (
    project_id BIGINT NOT NULL,
    day BIGINT NOT NULL,
    bucket BIGINT NOT NULL,
    waits BIGINT NOT NULL,
    wait_sum BIGINT NOT NULL,
    PRIMARY KEY (project_id, day, bucket)
);

CREATE TABLE rollup_duration_days (
    project_id BIGINT NOT NULL,
    day BIGINT NOT NULL,
    action_name TEXT NOT NULL,
    bucket BIGINT NOT NULL,
    actions BIGINT NOT NULL,
    PRIMARY KEY (project_id, day, action_name, bucket)
);

INSERT INTO rollup_tools (project_id, quarter, action_name, actions, errors, timed, duration_whole, duration_part, conversations)
SELECT c.project_id, c.started_at / 900000000, e.action_name, COUNT(*), COALESCE(SUM(e.is_error), 0), COUNT(CASE WHEN e.duration_ms <= 1e+12 THEN 1 END), COALESCE(SUM(CASE WHEN e.duration_ms <= 1e+12 THEN CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN trunc(e.duration_ms)::bigint ELSE 0 END END), 0), COALESCE(SUM(CASE WHEN e.duration_ms <= 1e+12 THEN e.duration_ms - CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN trunc(e.duration_ms) ELSE 0 END END), 0), COUNT(DISTINCT e.conversation_id)
FROM events e JOIN conversations c ON c.project_id = e.project_id AND c.conversation_id = e.conversation_id
WHERE e.action_name IS NOT NULL GROUP BY 1, 2, 3;

INSERT INTO rollup_buttons (project_id, quarter, payload, presses)
SELECT c.project_id, c.started_at / 900000000, e.payload, COUNT(*)
FROM events e JOIN conversations c ON c.project_id = e.project_id AND c.conversation_id = e.conversation_id
WHERE e.type = 'button' GROUP BY 1, 2, 3;

INSERT INTO rollup_scores (project_id, quarter, at, score_name, scores, valued, value_whole, value_part)
SELECT c.project_id, c.started_at / 900000000, e.ts / 900000000, e.score_name, COUNT(*), COUNT(e.score_value), COALESCE(SUM(CASE WHEN abs(e.score_value) < 9223372036854775808 THEN trunc(e.score_value)::bigint ELSE 0 END), 0), COALESCE(SUM(e.score_value - CASE WHEN abs(e.score_value) < 9223372036854775808 THEN trunc(e.score_value) ELSE 0 END), 0)
FROM events e JOIN conversations c ON c.project_id = e.project_id AND c.conversation_id = e.conversation_id
WHERE e.type = 'score' AND e.score_name IS NOT NULL GROUP BY 1, 2, 3, 4;

INSERT INTO rollup_score_values (project_id, quarter, score_name, value_key, score_value, score_label, scores)
SELECT c.project_id, c.started_at / 900000000, e.score_name, COALESCE(encode(float8send(e.score_value), 'hex'), 'NULL') || ' ' || quote_nullable(e.score_label), MIN(e.score_value), MIN(e.score_label), COUNT(*)
FROM events e JOIN conversations c ON c.project_id = e.project_id AND c.conversation_id = e.conversation_id
WHERE e.type = 'score' AND e.score_name IS NOT NULL GROUP BY 1, 2, 3, 4;

INSERT INTO rollup_wait_days (project_id, day, bucket, waits, wait_sum)
SELECT c.project_id, c.started_at / 86400000000, length((e.response_wait)::text) * 1000 + substr((e.response_wait)::text, 1, 3)::int, COUNT(*), COALESCE(SUM(e.response_wait), 0)
FROM events e JOIN conversations c ON c.project_id = e.project_id AND c.conversation_id = e.conversation_id
WHERE e.response_wait IS NOT NULL GROUP BY 1, 2, 3;

INSERT INTO rollup_duration_days (project_id, day, action_name, bucket, actions)
SELECT c.project_id, c.started_at / 86400000000, e.action_name, length((trunc(e.duration_ms)::bigint)::text) * 1000 + substr((trunc(e.duration_ms)::bigint)::text, 1, 3)::int, COUNT(*)
FROM events e JOIN conversations c ON c.project_id = e.project_id AND c.conversation_id = e.conversation_id
WHERE e.action_name IS NOT NULL AND e.duration_ms >= 0 AND e.duration_ms <= 1e+12 GROUP BY 1, 2, 3, 4;

-- Statement triggers: a batch's events are summed per bucket and added with one
-- statement per table, in key order.
CREATE FUNCTION agentsight_action_rollups() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO rollup_tools (project_id, quarter, action_name, actions, errors, timed, duration_whole, duration_part, conversations)
        SELECT project_id, quarter, action_name, SUM(actions), SUM(errors), SUM(timed), SUM(duration_whole), SUM(duration_part), SUM(conversations) FROM (
            SELECT project_id, quarter, action_name, SUM(actions), SUM(errors), SUM(timed), SUM(duration_whole), SUM(duration_part), SUM(conversations) FROM (SELECT c.project_id, c.started_at / 900000000, n.action_name, COUNT(*), COALESCE(SUM(n.is_error), 0), COUNT(CASE WHEN n.duration_ms <= 1e+12 THEN 1 END), COALESCE(SUM(CASE WHEN n.duration_ms <= 1e+12 THEN CASE WHEN abs(n.duration_ms) < 9223372036854775808 THEN trunc(n.duration_ms)::bigint ELSE 0 END END), 0), COALESCE(SUM(CASE WHEN n.duration_ms <= 1e+12 THEN n.duration_ms - CASE WHEN abs(n.duration_ms) < 9223372036854775808 THEN trunc(n.duration_ms) ELSE 0 END END), 0), CASE WHEN COUNT(*) = (SELECT COUNT(*) FROM events x WHERE x.project_id = c.project_id AND x.conversation_id = n.conversation_id AND x.action_name = n.action_name) THEN 1 ELSE 0 END FROM new_rows n JOIN conversations c ON c.project_id = n.project_id AND c.conversation_id = n.conversation_id WHERE n.action_name IS NOT NULL GROUP BY c.project_id, c.started_at, n.conversation_id, n.action_name) AS p (project_id, quarter, action_name, actions, errors, timed, duration_whole, duration_part, conversations) GROUP BY 1, 2, 3
        ) AS d (project_id, quarter, action_name, actions, errors, timed, duration_whole, duration_part, conversations)
        GROUP BY project_id, quarter, action_name HAVING SUM(actions) <> 0 OR SUM(errors) <> 0 OR SUM(timed) <> 0 OR SUM(duration_whole) <> 0 OR SUM(duration_part) <> 0 OR SUM(conversations) <> 0
        ORDER BY project_id, quarter, action_name
        ON CONFLICT (project_id, quarter, action_name) DO UPDATE SET actions = rollup_tools.actions + excluded.actions, errors = rollup_tools.errors + excluded.errors, timed = rollup_tools.timed + excluded.timed, duration_whole = rollup_tools.duration_whole + excluded.duration_whole, duration_part = rollup_tools.duration_part + excluded.duration_part, conversations = rollup_tools.conversations + excluded.conversations;
        INSERT INTO rollup_buttons (project_id, quarter, payload, presses)
        SELECT project_id, quarter, payload, SUM(presses) FROM (
            SELECT c.project_id, c.started_at / 900000000, n.payload, COUNT(*) FROM new_rows n JOIN conversations c ON c.project_id = n.project_id AND c.conversation_id = n.conversation_id WHERE n.type = 'button' GROUP BY 1, 2, 3
        ) AS d (project_id, quarter, payload, presses)
        GROUP BY project_id, quarter, payload HAVING SUM(presses) <> 0
        ORDER BY project_id, quarter, payload
        ON CONFLICT (project_id, quarter, payload) DO UPDATE SET presses = rollup_buttons.presses + excluded.presses;
        INSERT INTO rollup_scores (project_id, quarter, at, score_name, scores, valued, value_whole, value_part)
        SELECT project_id, quarter, at, score_name, SUM(scores), SUM(valued), SUM(value_whole), SUM(value_part) FROM (
            SELECT c.project_id, c.started_at / 900000000, n.ts / 900000000, n.score_name, COUNT(*), COUNT(n.score_value), COALESCE(SUM(CASE WHEN abs(n.score_value) < 9223372036854775808 THEN trunc(n.score_value)::bigint ELSE 0 END), 0), COALESCE(SUM(n.score_value - CASE WHEN abs(n.score_value) < 9223372036854775808 THEN trunc(n.score_value) ELSE 0 END), 0) FROM new_rows n JOIN conversations c ON c.project_id = n.project_id AND c.conversation_id = n.conversation_id WHERE n.type = 'score' AND n.score_name IS NOT NULL GROUP BY 1, 2, 3, 4
        ) AS d (project_id, quarter, at, score_name, scores, valued, value_whole, value_part)
        GROUP BY project_id, quarter, at, score_name HAVING SUM(scores) <> 0 OR SUM(valued) <> 0 OR SUM(value_whole) <> 0 OR SUM(value_part) <> 0
        ORDER BY project_id, quarter, at, score_name
        ON CONFLICT (project_id, quarter, at, score_name) DO UPDATE SET scores = rollup_scores.scores + excluded.scores, valued = rollup_scores.valued + excluded.valued, value_whole = rollup_scores.value_whole + excluded.value_whole, value_part = rollup_scores.value_part + excluded.value_part;
        INSERT INTO rollup_score_values (project_id, quarter, score_name, value_key, score_value, score_label, scores)
        SELECT project_id, quarter, score_name, value_key, MIN(score_value), MIN(score_label), SUM(scores) FROM (
            SELECT c.project_id, c.started_at / 900000000, n.score_name, COALESCE(encode(float8send(n.score_value), 'hex'), 'NULL') || ' ' || quote_nullable(n.score_label), MIN(n.score_value), MIN(n.score_label), COUNT(*) FROM new_rows n JOIN conversations c ON c.project_id = n.project_id AND c.conversation_id = n.conversation_id WHERE n.type = 'score' AND n.score_name IS NOT NULL GROUP BY 1, 2, 3, 4
        ) AS d (project_id, quarter, score_name, value_key, score_value, score_label, scores)
        GROUP BY project_id, quarter, score_name, value_key HAVING SUM(scores) <> 0
        ORDER BY project_id, quarter, score_name, value_key
        ON CONFLICT (project_id, quarter, score_name, value_key) DO UPDATE SET scores = rollup_score_values.scores + excluded.scores;
        INSERT INTO rollup_wait_days (project_id, day, bucket, waits, wait_sum)
        SELECT project_id, day, bucket, SUM(waits), SUM(wait_sum) FROM (
            SELECT c.project_id, c.started_at / 86400000000, length((n.response_wait)::text) * 1000 + substr((n.response_wait)::text, 1, 3)::int, COUNT(*), COALESCE(SUM(n.response_wait), 0) FROM new_rows n JOIN conversations c ON c.project_id = n.project_id AND c.conversation_id = n.conversation_id WHERE n.response_wait IS NOT NULL GROUP BY 1, 2, 3
        ) AS d (project_id, day, bucket, waits, wait_sum)
        GROUP BY project_id, day, bucket HAVING SUM(waits) <> 0 OR SUM(wait_sum) <> 0
        ORDER BY project_id, day, bucket
        ON CONFLICT (project_id, day, bucket) DO UPDATE SET waits = rollup_wait_days.waits + excluded.waits, wait_sum = rollup_wait_days.wait_sum + excluded.wait_sum;
        INSERT INTO rollup_duration_days (project_id, day, action_name, bucket, actions)
        SELECT project_id, day, action_name, bucket, SUM(actions) FROM (
            SELECT c.project_id, c.started_at / 86400000000, n.action_name, length((trunc(n.duration_ms)::bigint)::text) * 1000 + substr((trunc(n.duration_ms)::bigint)::text, 1, 3)::int, COUNT(*) FROM new_rows n JOIN conversations c ON c.project_id = n.project_id AND c.conversation_id = n.conversation_id WHERE n.action_name IS NOT NULL AND n.duration_ms >= 0 AND n.duration_ms <= 1e+12 GROUP BY 1, 2, 3, 4
        ) AS d (project_id, day, action_name, bucket, actions)
        GROUP BY project_id, day, action_name, bucket HAVING SUM(actions) <> 0
        ORDER BY project_id, day, action_name, bucket
        ON CONFLICT (project_id, day, action_name, bucket) DO UPDATE SET actions = rollup_duration_days.actions + excluded.actions;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO rollup_tools (project_id, quarter, action_name, actions, errors, timed, duration_whole, duration_part, conversations)
        SELECT project_id, quarter, action_name, SUM(actions), SUM(errors), SUM(timed), SUM(duration_whole), SUM(duration_part), SUM(conversations) FROM (
            SELECT project_id, quarter, action_name, SUM(actions), SUM(errors), SUM(timed), SUM(duration_whole), SUM(duration_part), SUM(conversations) FROM (SELECT c.project_id, c.started_at / 900000000, o.action_name, -(COUNT(*)), -(COALESCE(SUM(o.is_error), 0)), -(COUNT(CASE WHEN o.duration_ms <= 1e+12 THEN 1 END)), -(COALESCE(SUM(CASE WHEN o.duration_ms <= 1e+12 THEN CASE WHEN abs(o.duration_ms) < 9223372036854775808 THEN trunc(o.duration_ms)::bigint ELSE 0 END END), 0)), -(COALESCE(SUM(CASE WHEN o.duration_ms <= 1e+12 THEN o.duration_ms - CASE WHEN abs(o.duration_ms) < 9223372036854775808 THEN trunc(o.duration_ms) ELSE 0 END END), 0)), -(CASE WHEN EXISTS (SELECT 1 FROM events x WHERE x.project_id = c.project_id AND x.conversation_id = o.conversation_id AND x.action_name = o.action_name) THEN 0 ELSE 1 END) FROM old_rows o JOIN conversations c ON c.project_id = o.project_id AND c.conversation_id = o.conversation_id WHERE o.action_name IS NOT NULL GROUP BY c.project_id, c.started_at, o.conversation_id, o.action_name) AS p (project_id, quarter, action_name, actions, errors, timed, duration_whole, duration_part, conversations) GROUP BY 1, 2, 3
        ) AS d (project_id, quarter, action_name, actions, errors, timed, duration_whole, duration_part, conversations)
        GROUP BY project_id, quarter, action_name HAVING SUM(actions) <> 0 OR SUM(errors) <> 0 OR SUM(timed) <> 0 OR SUM(duration_whole) <> 0 OR SUM(duration_part) <> 0 OR SUM(conversations) <> 0
        ORDER BY project_id, quarter, action_name
        ON CONFLICT (project_id, quarter, action_name) DO UPDATE SET actions = rollup_tools.actions + excluded.actions, errors = rollup_tools.errors + excluded.errors, timed = rollup_tools.timed + excluded.timed, duration_whole = rollup_tools.duration_whole + excluded.duration_whole, duration_part = rollup_tools.duration_part + excluded.duration_part, conversations = rollup_tools.conversations + excluded.conversations;
        INSERT INTO rollup_buttons (project_id, quarter, payload, presses)
        SELECT project_id, quarter, payload, SUM(presses) FROM (
            SELECT c.project_id, c.started_at / 900000000, o.payload, -(COUNT(*)) FROM old_rows o JOIN conversations c ON c.project_id = o.project_id AND c.conversation_id = o.conversation_id WHERE o.type = 'button' GROUP BY 1, 2, 3
        ) AS d (project_id, quarter, payload, presses)
        GROUP BY project_id, quarter, payload HAVING SUM(presses) <> 0
        ORDER BY project_id, quarter, payload
        ON CONFLICT (project_id, quarter, payload) DO UPDATE SET presses = rollup_buttons.presses + excluded.presses;
        INSERT INTO rollup_scores (project_id, quarter, at, score_name, scores, valued, value_whole, value_part)
        SELECT project_id, quarter, at, score_name, SUM(scores), SUM(valued), SUM(value_whole), SUM(value_part) FROM (
            SELECT c.project_id, c.started_at / 900000000, o.ts / 900000000, o.score_name, -(COUNT(*)), -(COUNT(o.score_value)), -(COALESCE(SUM(CASE WHEN abs(o.score_value) < 9223372036854775808 THEN trunc(o.score_value)::bigint ELSE 0 END), 0)), -(COALESCE(SUM(o.score_value - CASE WHEN abs(o.score_value) < 9223372036854775808 THEN trunc(o.score_value) ELSE 0 END), 0)) FROM old_rows o JOIN conversations c ON c.project_id = o.project_id AND c.conversation_id = o.conversation_id WHERE o.type = 'score' AND o.score_name IS NOT NULL GROUP BY 1, 2, 3, 4
        ) AS d (project_id, quarter, at, score_name, scores, valued, value_whole, value_part)
        GROUP BY project_id, quarter, at, score_name HAVING SUM(scores) <> 0 OR SUM(valued) <> 0 OR SUM(value_whole) <> 0 OR SUM(value_part) <> 0
        ORDER BY project_id, quarter, at, score_name
        ON CONFLICT (project_id, quarter, at, score_name) DO UPDATE SET scores = rollup_scores.scores + excluded.scores, valued = rollup_scores.valued + excluded.valued, value_whole = rollup_scores.value_whole + excluded.value_whole, value_part = rollup_scores.value_part + excluded.value_part;
        INSERT INTO rollup_score_values (project_id, quarter, score_name, value_key, score_value, score_label, scores)
        SELECT project_id, quarter, score_name, value_key, MIN(score_value), MIN(score_label), SUM(scores) FROM (
            SELECT c.project_id, c.started_at / 900000000, o.score_name, COALESCE(encode(float8send(o.score_value), 'hex'), 'NULL') || ' ' || quote_nullable(o.score_label), MIN(o.score_value), MIN(o.score_label), -(COUNT(*)) FROM old_rows o JOIN conversations c ON c.project_id = o.project_id AND c.conversation_id = o.conversation_id WHERE o.type = 'score' AND o.score_name IS NOT NULL GROUP BY 1, 2, 3, 4
        ) AS d (project_id, quarter, score_name, value_key, score_value, score_label, scores)
        GROUP BY project_id, quarter, score_name, value_key HAVING SUM(scores) <> 0
        ORDER BY project_id, quarter, score_name, value_key
        ON CONFLICT (project_id, quarter, score_name, value_key) DO UPDATE SET scores = rollup_score_values.scores + excluded.scores;
        INSERT INTO rollup_wait_days (project_id, day, bucket, waits, wait_sum)
        SELECT project_id, day, bucket, SUM(waits), SUM(wait_sum) FROM (
            SELECT c.project_id, c.started_at / 86400000000, length((o.response_wait)::text) * 1000 + substr((o.response_wait)::text, 1, 3)::int, -(COUNT(*)), -(COALESCE(SUM(o.response_wait), 0)) FROM old_rows o JOIN conversations c ON c.project_id = o.project_id AND c.conversation_id = o.conversation_id WHERE o.response_wait IS NOT NULL GROUP BY 1, 2, 3
        ) AS d (project_id, day, bucket, waits, wait_sum)
        GROUP BY project_id, day, bucket HAVING SUM(waits) <> 0 OR SUM(wait_sum) <> 0
        ORDER BY project_id, day, bucket
        ON CONFLICT (project_id, day, bucket) DO UPDATE SET waits = rollup_wait_days.waits + excluded.waits, wait_sum = rollup_wait_days.wait_sum + excluded.wait_sum;
        INSERT INTO rollup_duration_days (project_id, day, action_name, bucket, actions)
        SELECT project_id, day, action_name, bucket, SUM(actions) FROM (
            SELECT c.project_id, c.started_at / 86400000000, o.action_name, length((trunc(o.duration_ms)::bigint)::text) * 1000 + substr((trunc(o.duration_ms)::bigint)::text, 1, 3)::int, -(COUNT(*)) FROM old_rows o JOIN conversations c ON c.project_id = o.project_id AND c.conversation_id = o.conversation_id WHERE o.action_name IS NOT NULL AND o.duration_ms >= 0 AND o.duration_ms <= 1e+12 GROUP BY 1, 2, 3, 4
        ) AS d (project_id, day, action_name, bucket, actions)
        GROUP BY project_id, day, action_name, bucket HAVING SUM(actions) <> 0
        ORDER BY project_id, day, action_name, bucket
        ON CONFLICT (project_id, day, action_name, bucket) DO UPDATE SET actions = rollup_duration_days.actions + excluded.actions;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER rollup_actions_add AFTER INSERT ON events
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION agentsight_action_rollups();

CREATE TRIGGER rollup_actions_remove AFTER DELETE ON events
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION agentsight_action_rollups();

-- A response wait is set, and changed, after its message is stored.
CREATE FUNCTION agentsight_wait_rollups() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
        INSERT INTO rollup_wait_days (project_id, day, bucket, waits, wait_sum)
        SELECT project_id, day, bucket, SUM(waits), SUM(wait_sum) FROM (
            SELECT c.project_id, c.started_at / 86400000000, length((o.response_wait)::text) * 1000 + substr((o.response_wait)::text, 1, 3)::int, -(COUNT(*)), -(COALESCE(SUM(o.response_wait), 0)) FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.id = o.id JOIN conversations c ON c.project_id = n.project_id AND c.conversation_id = n.conversation_id WHERE o.response_wait IS DISTINCT FROM n.response_wait AND o.response_wait IS NOT NULL GROUP BY 1, 2, 3 UNION ALL SELECT c.project_id, c.started_at / 86400000000, length((n.response_wait)::text) * 1000 + substr((n.response_wait)::text, 1, 3)::int, COUNT(*), COALESCE(SUM(n.response_wait), 0) FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.id = o.id JOIN conversations c ON c.project_id = n.project_id AND c.conversation_id = n.conversation_id WHERE o.response_wait IS DISTINCT FROM n.response_wait AND n.response_wait IS NOT NULL GROUP BY 1, 2, 3
        ) AS d (project_id, day, bucket, waits, wait_sum)
        GROUP BY project_id, day, bucket HAVING SUM(waits) <> 0 OR SUM(wait_sum) <> 0
        ORDER BY project_id, day, bucket
        ON CONFLICT (project_id, day, bucket) DO UPDATE SET waits = rollup_wait_days.waits + excluded.waits, wait_sum = rollup_wait_days.wait_sum + excluded.wait_sum;
    RETURN NULL;
END
$$;

CREATE TRIGGER rollup_waits_change AFTER UPDATE ON events
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION agentsight_wait_rollups();

-- A new conversation adds the events stored before it (in a batch, its events
-- come first); a start moved into another quarter hour takes the events along.
CREATE FUNCTION agentsight_conversation_action_rollups() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO rollup_tools (project_id, quarter, action_name, actions, errors, timed, duration_whole, duration_part, conversations)
        SELECT project_id, quarter, action_name, SUM(actions), SUM(errors), SUM(timed), SUM(duration_whole), SUM(duration_part), SUM(conversations) FROM (
            SELECT n.project_id, n.started_at / 900000000, e.action_name, COUNT(*), COALESCE(SUM(e.is_error), 0), COUNT(CASE WHEN e.duration_ms <= 1e+12 THEN 1 END), COALESCE(SUM(CASE WHEN e.duration_ms <= 1e+12 THEN CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN trunc(e.duration_ms)::bigint ELSE 0 END END), 0), COALESCE(SUM(CASE WHEN e.duration_ms <= 1e+12 THEN e.duration_ms - CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN trunc(e.duration_ms) ELSE 0 END END), 0), COUNT(DISTINCT e.conversation_id) FROM new_rows n JOIN events e ON e.project_id = n.project_id AND e.conversation_id = n.conversation_id WHERE e.action_name IS NOT NULL GROUP BY 1, 2, 3
        ) AS d (project_id, quarter, action_name, actions, errors, timed, duration_whole, duration_part, conversations)
        GROUP BY project_id, quarter, action_name HAVING SUM(actions) <> 0 OR SUM(errors) <> 0 OR SUM(timed) <> 0 OR SUM(duration_whole) <> 0 OR SUM(duration_part) <> 0 OR SUM(conversations) <> 0
        ORDER BY project_id, quarter, action_name
        ON CONFLICT (project_id, quarter, action_name) DO UPDATE SET actions = rollup_tools.actions + excluded.actions, errors = rollup_tools.errors + excluded.errors, timed = rollup_tools.timed + excluded.timed, duration_whole = rollup_tools.duration_whole + excluded.duration_whole, duration_part = rollup_tools.duration_part + excluded.duration_part, conversations = rollup_tools.conversations + excluded.conversations;
        INSERT INTO rollup_buttons (project_id, quarter, payload, presses)
        SELECT project_id, quarter, payload, SUM(presses) FROM (
            SELECT n.project_id, n.started_at / 900000000, e.payload, COUNT(*) FROM new_rows n JOIN events e ON e.project_id = n.project_id AND e.conversation_id = n.conversation_id WHERE e.type = 'button' GROUP BY 1, 2, 3
        ) AS d (project_id, quarter, payload, presses)
        GROUP BY project_id, quarter, payload HAVING SUM(presses) <> 0
        ORDER BY project_id, quarter, payload
        ON CONFLICT (project_id, quarter, payload) DO UPDATE SET presses = rollup_buttons.presses + excluded.presses;
        INSERT INTO rollup_scores (project_id, quarter, at, score_name, scores, valued, value_whole, value_part)
        SELECT project_id, quarter, at, score_name, SUM(scores), SUM(valued), SUM(value_whole), SUM(value_part) FROM (
            SELECT n.project_id, n.started_at / 900000000, e.ts / 900000000, e.score_name, COUNT(*), COUNT(e.score_value), COALESCE(SUM(CASE WHEN abs(e.score_value) < 9223372036854775808 THEN trunc(e.score_value)::bigint ELSE 0 END), 0), COALESCE(SUM(e.score_value - CASE WHEN abs(e.score_value) < 9223372036854775808 THEN trunc(e.score_value) ELSE 0 END), 0) FROM new_rows n JOIN events e ON e.project_id = n.project_id AND e.conversation_id = n.conversation_id WHERE e.type = 'score' AND e.score_name IS NOT NULL GROUP BY 1, 2, 3, 4
        ) AS d (project_id, quarter, at, score_name, scores, valued, value_whole, value_part)
        GROUP BY project_id, quarter, at, score_name HAVING SUM(scores) <> 0 OR SUM(valued) <> 0 OR SUM(value_whole) <> 0 OR SUM(value_part) <> 0
        ORDER BY project_id, quarter, at, score_name
        ON CONFLICT (project_id, quarter, at, score_name) DO UPDATE SET scores = rollup_scores.scores + excluded.scores, valued = rollup_scores.valued + excluded.valued, value_whole = rollup_scores.value_whole + excluded.value_whole, value_part = rollup_scores.value_part + excluded.value_part;
        INSERT INTO rollup_score_values (project_id, quarter, score_name, value_key, score_value, score_label, scores)
        SELECT project_id, quarter, score_name, value_key, MIN(score_value), MIN(score_label), SUM(scores) FROM (
            SELECT n.project_id, n.started_at / 900000000, e.score_name, COALESCE(encode(float8send(e.score_value), 'hex'), 'NULL') || ' ' || quote_nullable(e.score_label), MIN(e.score_value), MIN(e.score_label), COUNT(*) FROM new_rows n JOIN events e ON e.project_id = n.project_id AND e.conversation_id = n.conversation_id WHERE e.type = 'score' AND e.score_name IS NOT NULL GROUP BY 1, 2, 3, 4
        ) AS d (project_id, quarter, score_name, value_key, score_value, score_label, scores)
        GROUP BY project_id, quarter, score_name, value_key HAVING SUM(scores) <> 0
        ORDER BY project_id, quarter, score_name, value_key
        ON CONFLICT (project_id, quarter, score_name, value_key) DO UPDATE SET scores = rollup_score_values.scores + excluded.scores;
        INSERT INTO rollup_wait_days (project_id, day, bucket, waits, wait_sum)
        SELECT project_id, day, bucket, SUM(waits), SUM(wait_sum) FROM (
            SELECT n.project_id, n.started_at / 86400000000, length((e.response_wait)::text) * 1000 + substr((e.response_wait)::text, 1, 3)::int, COUNT(*), COALESCE(SUM(e.response_wait), 0) FROM new_rows n JOIN events e ON e.project_id = n.project_id AND e.conversation_id = n.conversation_id WHERE e.response_wait IS NOT NULL GROUP BY 1, 2, 3
        ) AS d (project_id, day, bucket, waits, wait_sum)
        GROUP BY project_id, day, bucket HAVING SUM(waits) <> 0 OR SUM(wait_sum) <> 0
        ORDER BY project_id, day, bucket
        ON CONFLICT (project_id, day, bucket) DO UPDATE SET waits = rollup_wait_days.waits + excluded.waits, wait_sum = rollup_wait_days.wait_sum + excluded.wait_sum;
        INSERT INTO rollup_duration_days (project_id, day, action_name, bucket, actions)
        SELECT project_id, day, action_name, bucket, SUM(actions) FROM (
            SELECT n.project_id, n.started_at / 86400000000, e.action_name, length((trunc(e.duration_ms)::bigint)::text) * 1000 + substr((trunc(e.duration_ms)::bigint)::text, 1, 3)::int, COUNT(*) FROM new_rows n JOIN events e ON e.project_id = n.project_id AND e.conversation_id = n.conversation_id WHERE e.action_name IS NOT NULL AND e.duration_ms >= 0 AND e.duration_ms <= 1e+12 GROUP BY 1, 2, 3, 4
        ) AS d (project_id, day, action_name, bucket, actions)
        GROUP BY project_id, day, action_name, bucket HAVING SUM(actions) <> 0
        ORDER BY project_id, day, action_name, bucket
        ON CONFLICT (project_id, day, action_name, bucket) DO UPDATE SET actions = rollup_duration_days.actions + excluded.actions;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO rollup_tools (project_id, quarter, action_name, actions, errors, timed, duration_whole, duration_part, conversations)
        SELECT project_id, quarter, action_name, SUM(actions), SUM(errors), SUM(timed), SUM(duration_whole), SUM(duration_part), SUM(conversations) FROM (
            SELECT o.project_id, o.started_at / 900000000, e.action_name, -(COUNT(*)), -(COALESCE(SUM(e.is_error), 0)), -(COUNT(CASE WHEN e.duration_ms <= 1e+12 THEN 1 END)), -(COALESCE(SUM(CASE WHEN e.duration_ms <= 1e+12 THEN CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN trunc(e.duration_ms)::bigint ELSE 0 END END), 0)), -(COALESCE(SUM(CASE WHEN e.duration_ms <= 1e+12 THEN e.duration_ms - CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN trunc(e.duration_ms) ELSE 0 END END), 0)), -(COUNT(DISTINCT e.conversation_id)) FROM old_rows o JOIN events e ON e.project_id = o.project_id AND e.conversation_id = o.conversation_id WHERE e.action_name IS NOT NULL GROUP BY 1, 2, 3
        ) AS d (project_id, quarter, action_name, actions, errors, timed, duration_whole, duration_part, conversations)
        GROUP BY project_id, quarter, action_name HAVING SUM(actions) <> 0 OR SUM(errors) <> 0 OR SUM(timed) <> 0 OR SUM(duration_whole) <> 0 OR SUM(duration_part) <> 0 OR SUM(conversations) <> 0
        ORDER BY project_id, quarter, action_name
        ON CONFLICT (project_id, quarter, action_name) DO UPDATE SET actions = rollup_tools.actions + excluded.actions, errors = rollup_tools.errors + excluded.errors, timed = rollup_tools.timed + excluded.timed, duration_whole = rollup_tools.duration_whole + excluded.duration_whole, duration_part = rollup_tools.duration_part + excluded.duration_part, conversations = rollup_tools.conversations + excluded.conversations;
        INSERT INTO rollup_buttons (project_id, quarter, payload, presses)
        SELECT project_id, quarter, payload, SUM(presses) FROM (
            SELECT o.project_id, o.started_at / 900000000, e.payload, -(COUNT(*)) FROM old_rows o JOIN events e ON e.project_id = o.project_id AND e.conversation_id = o.conversation_id WHERE e.type = 'button' GROUP BY 1, 2, 3
        ) AS d (project_id, quarter, payload, presses)
        GROUP BY project_id, quarter, payload HAVING SUM(presses) <> 0
        ORDER BY project_id, quarter, payload
        ON CONFLICT (project_id, quarter, payload) DO UPDATE SET presses = rollup_buttons.presses + excluded.presses;
        INSERT INTO rollup_scores (project_id, quarter, at, score_name, scores, valued, value_whole, value_part)
        SELECT project_id, quarter, at, score_name, SUM(scores), SUM(valued), SUM(value_whole), SUM(value_part) FROM (
            SELECT o.project_id, o.started_at / 900000000, e.ts / 900000000, e.score_name, -(COUNT(*)), -(COUNT(e.score_value)), -(COALESCE(SUM(CASE WHEN abs(e.score_value) < 9223372036854775808 THEN trunc(e.score_value)::bigint ELSE 0 END), 0)), -(COALESCE(SUM(e.score_value - CASE WHEN abs(e.score_value) < 9223372036854775808 THEN trunc(e.score_value) ELSE 0 END), 0)) FROM old_rows o JOIN events e ON e.project_id = o.project_id AND e.conversation_id = o.conversation_id WHERE e.type = 'score' AND e.score_name IS NOT NULL GROUP BY 1, 2, 3, 4
        ) AS d (project_id, quarter, at, score_name, scores, valued, value_whole, value_part)
        GROUP BY project_id, quarter, at, score_name HAVING SUM(scores) <> 0 OR SUM(valued) <> 0 OR SUM(value_whole) <> 0 OR SUM(value_part) <> 0
        ORDER BY project_id, quarter, at, score_name
        ON CONFLICT (project_id, quarter, at, score_name) DO UPDATE SET scores = rollup_scores.scores + excluded.scores, valued = rollup_scores.valued + excluded.valued, value_whole = rollup_scores.value_whole + excluded.value_whole, value_part = rollup_scores.value_part + excluded.value_part;
        INSERT INTO rollup_score_values (project_id, quarter, score_name, value_key, score_value, score_label, scores)
        SELECT project_id, quarter, score_name, value_key, MIN(score_value), MIN(score_label), SUM(scores) FROM (
            SELECT o.project_id, o.started_at / 900000000, e.score_name, COALESCE(encode(float8send(e.score_value), 'hex'), 'NULL') || ' ' || quote_nullable(e.score_label), MIN(e.score_value), MIN(e.score_label), -(COUNT(*)) FROM old_rows o JOIN events e ON e.project_id = o.project_id AND e.conversation_id = o.conversation_id WHERE e.type = 'score' AND e.score_name IS NOT NULL GROUP BY 1, 2, 3, 4
        ) AS d (project_id, quarter, score_name, value_key, score_value, score_label, scores)
        GROUP BY project_id, quarter, score_name, value_key HAVING SUM(scores) <> 0
        ORDER BY project_id, quarter, score_name, value_key
        ON CONFLICT (project_id, quarter, score_name, value_key) DO UPDATE SET scores = rollup_score_values.scores + excluded.scores;
        INSERT INTO rollup_wait_days (project_id, day, bucket, waits, wait_sum)
        SELECT project_id, day, bucket, SUM(waits), SUM(wait_sum) FROM (
            SELECT o.project_id, o.started_at / 86400000000, length((e.response_wait)::text) * 1000 + substr((e.response_wait)::text, 1, 3)::int, -(COUNT(*)), -(COALESCE(SUM(e.response_wait), 0)) FROM old_rows o JOIN events e ON e.project_id = o.project_id AND e.conversation_id = o.conversation_id WHERE e.response_wait IS NOT NULL GROUP BY 1, 2, 3
        ) AS d (project_id, day, bucket, waits, wait_sum)
        GROUP BY project_id, day, bucket HAVING SUM(waits) <> 0 OR SUM(wait_sum) <> 0
        ORDER BY project_id, day, bucket
        ON CONFLICT (project_id, day, bucket) DO UPDATE SET waits = rollup_wait_days.waits + excluded.waits, wait_sum = rollup_wait_days.wait_sum + excluded.wait_sum;
        INSERT INTO rollup_duration_days (project_id, day, action_name, bucket, actions)
        SELECT project_id, day, action_name, bucket, SUM(actions) FROM (
            SELECT o.project_id, o.started_at / 86400000000, e.action_name, length((trunc(e.duration_ms)::bigint)::text) * 1000 + substr((trunc(e.duration_ms)::bigint)::text, 1, 3)::int, -(COUNT(*)) FROM old_rows o JOIN events e ON e.project_id = o.project_id AND e.conversation_id = o.conversation_id WHERE e.action_name IS NOT NULL AND e.duration_ms >= 0 AND e.duration_ms <= 1e+12 GROUP BY 1, 2, 3, 4
        ) AS d (project_id, day, action_name, bucket, actions)
        GROUP BY project_id, day, action_name, bucket HAVING SUM(actions) <> 0
        ORDER BY project_id, day, action_name, bucket
        ON CONFLICT (project_id, day, action_name, bucket) DO UPDATE SET actions = rollup_duration_days.actions + excluded.actions;
    ELSIF TG_OP = 'UPDATE' THEN
        IF NOT EXISTS (SELECT 1 FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE o.started_at / 900000000 <> n.started_at / 900000000) THEN
            RETURN NULL;
        END IF;
        INSERT INTO rollup_tools (project_id, quarter, action_name, actions, errors, timed, duration_whole, duration_part, conversations)
        SELECT project_id, quarter, action_name, SUM(actions), SUM(errors), SUM(timed), SUM(duration_whole), SUM(duration_part), SUM(conversations) FROM (
            SELECT m.project_id, m.was / 900000000, e.action_name, -(COUNT(*)), -(COALESCE(SUM(e.is_error), 0)), -(COUNT(CASE WHEN e.duration_ms <= 1e+12 THEN 1 END)), -(COALESCE(SUM(CASE WHEN e.duration_ms <= 1e+12 THEN CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN trunc(e.duration_ms)::bigint ELSE 0 END END), 0)), -(COALESCE(SUM(CASE WHEN e.duration_ms <= 1e+12 THEN e.duration_ms - CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN trunc(e.duration_ms) ELSE 0 END END), 0)), -(COUNT(DISTINCT e.conversation_id)) FROM (SELECT o.project_id, o.conversation_id, o.started_at AS was, n.started_at AS now FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE o.started_at / 900000000 <> n.started_at / 900000000) m JOIN events e ON e.project_id = m.project_id AND e.conversation_id = m.conversation_id WHERE e.action_name IS NOT NULL GROUP BY 1, 2, 3 UNION ALL SELECT m.project_id, m.now / 900000000, e.action_name, COUNT(*), COALESCE(SUM(e.is_error), 0), COUNT(CASE WHEN e.duration_ms <= 1e+12 THEN 1 END), COALESCE(SUM(CASE WHEN e.duration_ms <= 1e+12 THEN CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN trunc(e.duration_ms)::bigint ELSE 0 END END), 0), COALESCE(SUM(CASE WHEN e.duration_ms <= 1e+12 THEN e.duration_ms - CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN trunc(e.duration_ms) ELSE 0 END END), 0), COUNT(DISTINCT e.conversation_id) FROM (SELECT o.project_id, o.conversation_id, o.started_at AS was, n.started_at AS now FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE o.started_at / 900000000 <> n.started_at / 900000000) m JOIN events e ON e.project_id = m.project_id AND e.conversation_id = m.conversation_id WHERE e.action_name IS NOT NULL GROUP BY 1, 2, 3
        ) AS d (project_id, quarter, action_name, actions, errors, timed, duration_whole, duration_part, conversations)
        GROUP BY project_id, quarter, action_name HAVING SUM(actions) <> 0 OR SUM(errors) <> 0 OR SUM(timed) <> 0 OR SUM(duration_whole) <> 0 OR SUM(duration_part) <> 0 OR SUM(conversations) <> 0
        ORDER BY project_id, quarter, action_name
        ON CONFLICT (project_id, quarter, action_name) DO UPDATE SET actions = rollup_tools.actions + excluded.actions, errors = rollup_tools.errors + excluded.errors, timed = rollup_tools.timed + excluded.timed, duration_whole = rollup_tools.duration_whole + excluded.duration_whole, duration_part = rollup_tools.duration_part + excluded.duration_part, conversations = rollup_tools.conversations + excluded.conversations;
        INSERT INTO rollup_buttons (project_id, quarter, payload, presses)
        SELECT project_id, quarter, payload, SUM(presses) FROM (
            SELECT m.project_id, m.was / 900000000, e.payload, -(COUNT(*)) FROM (SELECT o.project_id, o.conversation_id, o.started_at AS was, n.started_at AS now FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE o.started_at / 900000000 <> n.started_at / 900000000) m JOIN events e ON e.project_id = m.project_id AND e.conversation_id = m.conversation_id WHERE e.type = 'button' GROUP BY 1, 2, 3 UNION ALL SELECT m.project_id, m.now / 900000000, e.payload, COUNT(*) FROM (SELECT o.project_id, o.conversation_id, o.started_at AS was, n.started_at AS now FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE o.started_at / 900000000 <> n.started_at / 900000000) m JOIN events e ON e.project_id = m.project_id AND e.conversation_id = m.conversation_id WHERE e.type = 'button' GROUP BY 1, 2, 3
        ) AS d (project_id, quarter, payload, presses)
        GROUP BY project_id, quarter, payload HAVING SUM(presses) <> 0
        ORDER BY project_id, quarter, payload
        ON CONFLICT (project_id, quarter, payload) DO UPDATE SET presses = rollup_buttons.presses + excluded.presses;
        INSERT INTO rollup_scores (project_id, quarter, at, score_name, scores, valued, value_whole, value_part)
        SELECT project_id, quarter, at, score_name, SUM(scores), SUM(valued), SUM(value_whole), SUM(value_part) FROM (
            SELECT m.project_id, m.was / 900000000, e.ts / 900000000, e.score_name, -(COUNT(*)), -(COUNT(e.score_value)), -(COALESCE(SUM(CASE WHEN abs(e.score_value) < 9223372036854775808 THEN trunc(e.score_value)::bigint ELSE 0 END), 0)), -(COALESCE(SUM(e.score_value - CASE WHEN abs(e.score_value) < 9223372036854775808 THEN trunc(e.score_value) ELSE 0 END), 0)) FROM (SELECT o.project_id, o.conversation_id, o.started_at AS was, n.started_at AS now FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE o.started_at / 900000000 <> n.started_at / 900000000) m JOIN events e ON e.project_id = m.project_id AND e.conversation_id = m.conversation_id WHERE e.type = 'score' AND e.score_name IS NOT NULL GROUP BY 1, 2, 3, 4 UNION ALL SELECT m.project_id, m.now / 900000000, e.ts / 900000000, e.score_name, COUNT(*), COUNT(e.score_value), COALESCE(SUM(CASE WHEN abs(e.score_value) < 9223372036854775808 THEN trunc(e.score_value)::bigint ELSE 0 END), 0), COALESCE(SUM(e.score_value - CASE WHEN abs(e.score_value) < 9223372036854775808 THEN trunc(e.score_value) ELSE 0 END), 0) FROM (SELECT o.project_id, o.conversation_id, o.started_at AS was, n.started_at AS now FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE o.started_at / 900000000 <> n.started_at / 900000000) m JOIN events e ON e.project_id = m.project_id AND e.conversation_id = m.conversation_id WHERE e.type = 'score' AND e.score_name IS NOT NULL GROUP BY 1, 2, 3, 4
        ) AS d (project_id, quarter, at, score_name, scores, valued, value_whole, value_part)
        GROUP BY project_id, quarter, at, score_name HAVING SUM(scores) <> 0 OR SUM(valued) <> 0 OR SUM(value_whole) <> 0 OR SUM(value_part) <> 0
        ORDER BY project_id, quarter, at, score_name
        ON CONFLICT (project_id, quarter, at, score_name) DO UPDATE SET scores = rollup_scores.scores + excluded.scores, valued = rollup_scores.valued + excluded.valued, value_whole = rollup_scores.value_whole + excluded.value_whole, value_part = rollup_scores.value_part + excluded.value_part;
        INSERT INTO rollup_score_values (project_id, quarter, score_name, value_key, score_value, score_label, scores)
        SELECT project_id, quarter, score_name, value_key, MIN(score_value), MIN(score_label), SUM(scores) FROM (
            SELECT m.project_id, m.was / 900000000, e.score_name, COALESCE(encode(float8send(e.score_value), 'hex'), 'NULL') || ' ' || quote_nullable(e.score_label), MIN(e.score_value), MIN(e.score_label), -(COUNT(*)) FROM (SELECT o.project_id, o.conversation_id, o.started_at AS was, n.started_at AS now FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE o.started_at / 900000000 <> n.started_at / 900000000) m JOIN events e ON e.project_id = m.project_id AND e.conversation_id = m.conversation_id WHERE e.type = 'score' AND e.score_name IS NOT NULL GROUP BY 1, 2, 3, 4 UNION ALL SELECT m.project_id, m.now / 900000000, e.score_name, COALESCE(encode(float8send(e.score_value), 'hex'), 'NULL') || ' ' || quote_nullable(e.score_label), MIN(e.score_value), MIN(e.score_label), COUNT(*) FROM (SELECT o.project_id, o.conversation_id, o.started_at AS was, n.started_at AS now FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE o.started_at / 900000000 <> n.started_at / 900000000) m JOIN events e ON e.project_id = m.project_id AND e.conversation_id = m.conversation_id WHERE e.type = 'score' AND e.score_name IS NOT NULL GROUP BY 1, 2, 3, 4
        ) AS d (project_id, quarter, score_name, value_key, score_value, score_label, scores)
        GROUP BY project_id, quarter, score_name, value_key HAVING SUM(scores) <> 0
        ORDER BY project_id, quarter, score_name, value_key
        ON CONFLICT (project_id, quarter, score_name, value_key) DO UPDATE SET scores = rollup_score_values.scores + excluded.scores;
        INSERT INTO rollup_wait_days (project_id, day, bucket, waits, wait_sum)
        SELECT project_id, day, bucket, SUM(waits), SUM(wait_sum) FROM (
            SELECT m.project_id, m.was / 86400000000, length((e.response_wait)::text) * 1000 + substr((e.response_wait)::text, 1, 3)::int, -(COUNT(*)), -(COALESCE(SUM(e.response_wait), 0)) FROM (SELECT o.project_id, o.conversation_id, o.started_at AS was, n.started_at AS now FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE o.started_at / 900000000 <> n.started_at / 900000000) m JOIN events e ON e.project_id = m.project_id AND e.conversation_id = m.conversation_id WHERE e.response_wait IS NOT NULL GROUP BY 1, 2, 3 UNION ALL SELECT m.project_id, m.now / 86400000000, length((e.response_wait)::text) * 1000 + substr((e.response_wait)::text, 1, 3)::int, COUNT(*), COALESCE(SUM(e.response_wait), 0) FROM (SELECT o.project_id, o.conversation_id, o.started_at AS was, n.started_at AS now FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE o.started_at / 900000000 <> n.started_at / 900000000) m JOIN events e ON e.project_id = m.project_id AND e.conversation_id = m.conversation_id WHERE e.response_wait IS NOT NULL GROUP BY 1, 2, 3
        ) AS d (project_id, day, bucket, waits, wait_sum)
        GROUP BY project_id, day, bucket HAVING SUM(waits) <> 0 OR SUM(wait_sum) <> 0
        ORDER BY project_id, day, bucket
        ON CONFLICT (project_id, day, bucket) DO UPDATE SET waits = rollup_wait_days.waits + excluded.waits, wait_sum = rollup_wait_days.wait_sum + excluded.wait_sum;
        INSERT INTO rollup_duration_days (project_id, day, action_name, bucket, actions)
        SELECT project_id, day, action_name, bucket, SUM(actions) FROM (
            SELECT m.project_id, m.was / 86400000000, e.action_name, length((trunc(e.duration_ms)::bigint)::text) * 1000 + substr((trunc(e.duration_ms)::bigint)::text, 1, 3)::int, -(COUNT(*)) FROM (SELECT o.project_id, o.conversation_id, o.started_at AS was, n.started_at AS now FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE o.started_at / 900000000 <> n.started_at / 900000000) m JOIN events e ON e.project_id = m.project_id AND e.conversation_id = m.conversation_id WHERE e.action_name IS NOT NULL AND e.duration_ms >= 0 AND e.duration_ms <= 1e+12 GROUP BY 1, 2, 3, 4 UNION ALL SELECT m.project_id, m.now / 86400000000, e.action_name, length((trunc(e.duration_ms)::bigint)::text) * 1000 + substr((trunc(e.duration_ms)::bigint)::text, 1, 3)::int, COUNT(*) FROM (SELECT o.project_id, o.conversation_id, o.started_at AS was, n.started_at AS now FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE o.started_at / 900000000 <> n.started_at / 900000000) m JOIN events e ON e.project_id = m.project_id AND e.conversation_id = m.conversation_id WHERE e.action_name IS NOT NULL AND e.duration_ms >= 0 AND e.duration_ms <= 1e+12 GROUP BY 1, 2, 3, 4
        ) AS d (project_id, day, action_name, bucket, actions)
        GROUP BY project_id, day, action_name, bucket HAVING SUM(actions) <> 0
        ORDER BY project_id, day, action_name, bucket
        ON CONFLICT (project_id, day, action_name, bucket) DO UPDATE SET actions = rollup_duration_days.actions + excluded.actions;
    END IF;
    RETURN NULL;
END
$$;

-- Schema 8's conversation trigger kept a model's row only when its calls did not
-- net to zero: two conversations moving in opposite directions in one statement,
-- with calls of one model in the same quarter hours, could lose their tokens.
-- Every sum decides now (as for rollup_quarters), and rollup_models is rebuilt.
-- An update that moves no start into another quarter hour returns at once.
CREATE OR REPLACE FUNCTION agentsight_conversation_event_rollups() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO rollup_messages (project_id, quarter, at, messages)
        SELECT project_id, quarter, at, SUM(messages) FROM (
            SELECT n.project_id, n.started_at / 900000000, e.ts / 900000000, COUNT(*) FROM new_rows n JOIN events e ON e.project_id = n.project_id AND e.conversation_id = n.conversation_id WHERE e.type = 'message' GROUP BY 1, 2, 3
        ) AS d (project_id, quarter, at, messages)
        GROUP BY project_id, quarter, at HAVING SUM(messages) <> 0
        ORDER BY project_id, quarter, at
        ON CONFLICT (project_id, quarter, at) DO UPDATE SET messages = rollup_messages.messages + excluded.messages;
        INSERT INTO rollup_models (project_id, quarter, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
        SELECT project_id, quarter, at, model_key, MIN(model), MIN(provider), SUM(prompt_tokens), SUM(completion_tokens), SUM(total_tokens), SUM(embedding_tokens), SUM(cost_nanos), SUM(priced_calls), SUM(calls) FROM (
            SELECT n.project_id, n.started_at / 900000000, e.ts / 900000000, json_build_array(e.model, e.provider)::text, MIN(e.model), MIN(e.provider), COALESCE(SUM(e.prompt_tokens), 0), COALESCE(SUM(e.completion_tokens), 0), COALESCE(SUM(e.total_tokens), 0), COALESCE(SUM(e.embedding_tokens), 0), COALESCE(SUM(e.cost_nanos), 0), COUNT(e.cost_nanos), COUNT(*) FROM new_rows n JOIN events e ON e.project_id = n.project_id AND e.conversation_id = n.conversation_id WHERE e.type = 'token_usage' GROUP BY 1, 2, 3, 4
        ) AS d (project_id, quarter, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
        GROUP BY project_id, quarter, at, model_key HAVING SUM(prompt_tokens) <> 0 OR SUM(completion_tokens) <> 0 OR SUM(total_tokens) <> 0 OR SUM(embedding_tokens) <> 0 OR SUM(cost_nanos) <> 0 OR SUM(priced_calls) <> 0 OR SUM(calls) <> 0
        ORDER BY project_id, quarter, at, model_key
        ON CONFLICT (project_id, quarter, at, model_key) DO UPDATE SET prompt_tokens = rollup_models.prompt_tokens + excluded.prompt_tokens, completion_tokens = rollup_models.completion_tokens + excluded.completion_tokens, total_tokens = rollup_models.total_tokens + excluded.total_tokens, embedding_tokens = rollup_models.embedding_tokens + excluded.embedding_tokens, cost_nanos = rollup_models.cost_nanos + excluded.cost_nanos, priced_calls = rollup_models.priced_calls + excluded.priced_calls, calls = rollup_models.calls + excluded.calls;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO rollup_messages (project_id, quarter, at, messages)
        SELECT project_id, quarter, at, SUM(messages) FROM (
            SELECT o.project_id, o.started_at / 900000000, e.ts / 900000000, -COUNT(*) FROM old_rows o JOIN events e ON e.project_id = o.project_id AND e.conversation_id = o.conversation_id WHERE e.type = 'message' GROUP BY 1, 2, 3
        ) AS d (project_id, quarter, at, messages)
        GROUP BY project_id, quarter, at HAVING SUM(messages) <> 0
        ORDER BY project_id, quarter, at
        ON CONFLICT (project_id, quarter, at) DO UPDATE SET messages = rollup_messages.messages + excluded.messages;
        INSERT INTO rollup_models (project_id, quarter, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
        SELECT project_id, quarter, at, model_key, MIN(model), MIN(provider), SUM(prompt_tokens), SUM(completion_tokens), SUM(total_tokens), SUM(embedding_tokens), SUM(cost_nanos), SUM(priced_calls), SUM(calls) FROM (
            SELECT o.project_id, o.started_at / 900000000, e.ts / 900000000, json_build_array(e.model, e.provider)::text, MIN(e.model), MIN(e.provider), -(COALESCE(SUM(e.prompt_tokens), 0)), -(COALESCE(SUM(e.completion_tokens), 0)), -(COALESCE(SUM(e.total_tokens), 0)), -(COALESCE(SUM(e.embedding_tokens), 0)), -(COALESCE(SUM(e.cost_nanos), 0)), -(COUNT(e.cost_nanos)), -(COUNT(*)) FROM old_rows o JOIN events e ON e.project_id = o.project_id AND e.conversation_id = o.conversation_id WHERE e.type = 'token_usage' GROUP BY 1, 2, 3, 4
        ) AS d (project_id, quarter, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
        GROUP BY project_id, quarter, at, model_key HAVING SUM(prompt_tokens) <> 0 OR SUM(completion_tokens) <> 0 OR SUM(total_tokens) <> 0 OR SUM(embedding_tokens) <> 0 OR SUM(cost_nanos) <> 0 OR SUM(priced_calls) <> 0 OR SUM(calls) <> 0
        ORDER BY project_id, quarter, at, model_key
        ON CONFLICT (project_id, quarter, at, model_key) DO UPDATE SET prompt_tokens = rollup_models.prompt_tokens + excluded.prompt_tokens, completion_tokens = rollup_models.completion_tokens + excluded.completion_tokens, total_tokens = rollup_models.total_tokens + excluded.total_tokens, embedding_tokens = rollup_models.embedding_tokens + excluded.embedding_tokens, cost_nanos = rollup_models.cost_nanos + excluded.cost_nanos, priced_calls = rollup_models.priced_calls + excluded.priced_calls, calls = rollup_models.calls + excluded.calls;
    ELSIF TG_OP = 'UPDATE' THEN
        IF NOT EXISTS (SELECT 1 FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE o.started_at / 900000000 <> n.started_at / 900000000) THEN
            RETURN NULL;
        END IF;
        INSERT INTO rollup_messages (project_id, quarter, at, messages)
        SELECT project_id, quarter, at, SUM(messages) FROM (
            SELECT m.project_id, m.was / 900000000, e.ts / 900000000, -COUNT(*) FROM (SELECT o.project_id, o.conversation_id, o.started_at AS was, n.started_at AS now FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE o.started_at / 900000000 <> n.started_at / 900000000) m JOIN events e ON e.project_id = m.project_id AND e.conversation_id = m.conversation_id WHERE e.type = 'message' GROUP BY 1, 2, 3 UNION ALL SELECT m.project_id, m.now / 900000000, e.ts / 900000000, COUNT(*) FROM (SELECT o.project_id, o.conversation_id, o.started_at AS was, n.started_at AS now FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE o.started_at / 900000000 <> n.started_at / 900000000) m JOIN events e ON e.project_id = m.project_id AND e.conversation_id = m.conversation_id WHERE e.type = 'message' GROUP BY 1, 2, 3
        ) AS d (project_id, quarter, at, messages)
        GROUP BY project_id, quarter, at HAVING SUM(messages) <> 0
        ORDER BY project_id, quarter, at
        ON CONFLICT (project_id, quarter, at) DO UPDATE SET messages = rollup_messages.messages + excluded.messages;
        INSERT INTO rollup_models (project_id, quarter, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
        SELECT project_id, quarter, at, model_key, MIN(model), MIN(provider), SUM(prompt_tokens), SUM(completion_tokens), SUM(total_tokens), SUM(embedding_tokens), SUM(cost_nanos), SUM(priced_calls), SUM(calls) FROM (
            SELECT m.project_id, m.was / 900000000, e.ts / 900000000, json_build_array(e.model, e.provider)::text, MIN(e.model), MIN(e.provider), -(COALESCE(SUM(e.prompt_tokens), 0)), -(COALESCE(SUM(e.completion_tokens), 0)), -(COALESCE(SUM(e.total_tokens), 0)), -(COALESCE(SUM(e.embedding_tokens), 0)), -(COALESCE(SUM(e.cost_nanos), 0)), -(COUNT(e.cost_nanos)), -(COUNT(*)) FROM (SELECT o.project_id, o.conversation_id, o.started_at AS was, n.started_at AS now FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE o.started_at / 900000000 <> n.started_at / 900000000) m JOIN events e ON e.project_id = m.project_id AND e.conversation_id = m.conversation_id WHERE e.type = 'token_usage' GROUP BY 1, 2, 3, 4 UNION ALL SELECT m.project_id, m.now / 900000000, e.ts / 900000000, json_build_array(e.model, e.provider)::text, MIN(e.model), MIN(e.provider), COALESCE(SUM(e.prompt_tokens), 0), COALESCE(SUM(e.completion_tokens), 0), COALESCE(SUM(e.total_tokens), 0), COALESCE(SUM(e.embedding_tokens), 0), COALESCE(SUM(e.cost_nanos), 0), COUNT(e.cost_nanos), COUNT(*) FROM (SELECT o.project_id, o.conversation_id, o.started_at AS was, n.started_at AS now FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE o.started_at / 900000000 <> n.started_at / 900000000) m JOIN events e ON e.project_id = m.project_id AND e.conversation_id = m.conversation_id WHERE e.type = 'token_usage' GROUP BY 1, 2, 3, 4
        ) AS d (project_id, quarter, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
        GROUP BY project_id, quarter, at, model_key HAVING SUM(prompt_tokens) <> 0 OR SUM(completion_tokens) <> 0 OR SUM(total_tokens) <> 0 OR SUM(embedding_tokens) <> 0 OR SUM(cost_nanos) <> 0 OR SUM(priced_calls) <> 0 OR SUM(calls) <> 0
        ORDER BY project_id, quarter, at, model_key
        ON CONFLICT (project_id, quarter, at, model_key) DO UPDATE SET prompt_tokens = rollup_models.prompt_tokens + excluded.prompt_tokens, completion_tokens = rollup_models.completion_tokens + excluded.completion_tokens, total_tokens = rollup_models.total_tokens + excluded.total_tokens, embedding_tokens = rollup_models.embedding_tokens + excluded.embedding_tokens, cost_nanos = rollup_models.cost_nanos + excluded.cost_nanos, priced_calls = rollup_models.priced_calls + excluded.priced_calls, calls = rollup_models.calls + excluded.calls;
    END IF;
    RETURN NULL;
END
$$;

DELETE FROM rollup_models;

INSERT INTO rollup_models (project_id, quarter, at, model_key, model, provider, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos, priced_calls, calls)
SELECT c.project_id, c.started_at / 900000000, e.ts / 900000000, json_build_array(e.model, e.provider)::text, MIN(e.model), MIN(e.provider), COALESCE(SUM(e.prompt_tokens), 0), COALESCE(SUM(e.completion_tokens), 0), COALESCE(SUM(e.total_tokens), 0), COALESCE(SUM(e.embedding_tokens), 0), COALESCE(SUM(e.cost_nanos), 0), COUNT(e.cost_nanos), COUNT(*)
FROM events e JOIN conversations c ON c.project_id = e.project_id AND c.conversation_id = e.conversation_id
WHERE e.type = 'token_usage' GROUP BY c.project_id, c.started_at / 900000000, e.ts / 900000000, json_build_array(e.model, e.provider)::text;

CREATE TRIGGER rollup_actions_add AFTER INSERT ON conversations
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION agentsight_conversation_action_rollups();

CREATE TRIGGER rollup_actions_remove AFTER DELETE ON conversations
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION agentsight_conversation_action_rollups();

CREATE TRIGGER rollup_actions_move AFTER UPDATE ON conversations
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION agentsight_conversation_action_rollups();
