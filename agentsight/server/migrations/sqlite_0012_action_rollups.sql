-- Schema version 12: rollups of the actions, button presses and scores, kept by triggers,
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
-- parts exactly (while within 64 bits), *_part what is left of each (less than one)
-- as a double.  A large value taken out again leaves the small ones as they
-- were; a single double would have rounded them away when it came in.  Counts
-- are exact.
-- What they hold, at every commit: the events of every stored conversation,
-- under its start, as rollup_messages (schema 9): an event counts once both it
-- and its conversation are stored, until either goes; a conversation whose
-- start moves into another quarter hour takes its events along.  Events never
-- change what counts here (only response_wait is updated).

CREATE TABLE rollup_tools (
    project_id INTEGER NOT NULL,
    quarter INTEGER NOT NULL,
    action_name TEXT NOT NULL,
    actions INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    timed INTEGER NOT NULL,
    duration_whole INTEGER NOT NULL,
    duration_part REAL NOT NULL,
    conversations INTEGER NOT NULL,
    PRIMARY KEY (project_id, quarter, action_name)
) WITHOUT ROWID;

CREATE TABLE rollup_buttons (
    project_id INTEGER NOT NULL,
    quarter INTEGER NOT NULL,
    payload TEXT NOT NULL,
    presses INTEGER NOT NULL,
    PRIMARY KEY (project_id, quarter, payload)
) WITHOUT ROWID;

CREATE TABLE rollup_scores (
    project_id INTEGER NOT NULL,
    quarter INTEGER NOT NULL,
    at INTEGER NOT NULL,
    score_name TEXT NOT NULL,
    scores INTEGER NOT NULL,
    valued INTEGER NOT NULL,
    value_whole INTEGER NOT NULL,
    value_part REAL NOT NULL,
    PRIMARY KEY (project_id, quarter, at, score_name)
) WITHOUT ROWID;

CREATE TABLE rollup_score_values (
    project_id INTEGER NOT NULL,
    quarter INTEGER NOT NULL,
    score_name TEXT NOT NULL,
    value_key TEXT NOT NULL,
    score_value REAL,
    score_label TEXT,
    scores INTEGER NOT NULL,
    PRIMARY KEY (project_id, quarter, score_name, value_key)
) WITHOUT ROWID;

CREATE TABLE rollup_wait_days (
    project_id INTEGER NOT NULL,
    day INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    waits INTEGER NOT NULL,
    wait_sum INTEGER NOT NULL,
    PRIMARY KEY (project_id, day, bucket)
) WITHOUT ROWID;

CREATE TABLE rollup_duration_days (
    project_id INTEGER NOT NULL,
    day INTEGER NOT NULL,
    action_name TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    actions INTEGER NOT NULL,
    PRIMARY KEY (project_id, day, action_name, bucket)
) WITHOUT ROWID;

INSERT INTO rollup_tools (project_id, quarter, action_name, actions, errors, timed, duration_whole, duration_part, conversations)
SELECT c.project_id, c.started_at / 900000000, e.action_name, COUNT(*), COALESCE(SUM(e.is_error), 0), COUNT(CASE WHEN e.duration_ms <= 1e+12 THEN 1 END), COALESCE(SUM((CASE WHEN e.duration_ms <= 1e+12 THEN CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN CAST(e.duration_ms AS INTEGER) ELSE 0 END END) / 4294967296) * 4294967296 + SUM((CASE WHEN e.duration_ms <= 1e+12 THEN CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN CAST(e.duration_ms AS INTEGER) ELSE 0 END END) % 4294967296), 0), TOTAL(CASE WHEN e.duration_ms <= 1e+12 THEN e.duration_ms - CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN CAST(e.duration_ms AS INTEGER) ELSE 0 END END), COUNT(DISTINCT e.conversation_id)
FROM events e JOIN conversations c ON c.project_id = e.project_id AND c.conversation_id = e.conversation_id
WHERE e.action_name IS NOT NULL GROUP BY c.project_id, c.started_at / 900000000, e.action_name;

INSERT INTO rollup_buttons (project_id, quarter, payload, presses)
SELECT c.project_id, c.started_at / 900000000, e.payload, COUNT(*)
FROM events e JOIN conversations c ON c.project_id = e.project_id AND c.conversation_id = e.conversation_id
WHERE e.type = 'button' GROUP BY c.project_id, c.started_at / 900000000, e.payload;

INSERT INTO rollup_scores (project_id, quarter, at, score_name, scores, valued, value_whole, value_part)
SELECT c.project_id, c.started_at / 900000000, e.ts / 900000000, e.score_name, COUNT(*), COUNT(e.score_value), COALESCE(SUM((CASE WHEN abs(e.score_value) < 9223372036854775808 THEN CAST(e.score_value AS INTEGER) ELSE 0 END) / 4294967296) * 4294967296 + SUM((CASE WHEN abs(e.score_value) < 9223372036854775808 THEN CAST(e.score_value AS INTEGER) ELSE 0 END) % 4294967296), 0), TOTAL(e.score_value - CASE WHEN abs(e.score_value) < 9223372036854775808 THEN CAST(e.score_value AS INTEGER) ELSE 0 END)
FROM events e JOIN conversations c ON c.project_id = e.project_id AND c.conversation_id = e.conversation_id
WHERE e.type = 'score' AND +e.score_name IS NOT NULL GROUP BY c.project_id, c.started_at / 900000000, e.ts / 900000000, e.score_name;

INSERT INTO rollup_score_values (project_id, quarter, score_name, value_key, score_value, score_label, scores)
SELECT c.project_id, c.started_at / 900000000, e.score_name, quote(e.score_value) || ' ' || COALESCE('x' || hex(e.score_label), 'NULL'), MIN(e.score_value), MIN(e.score_label), COUNT(*)
FROM events e JOIN conversations c ON c.project_id = e.project_id AND c.conversation_id = e.conversation_id
WHERE e.type = 'score' AND +e.score_name IS NOT NULL GROUP BY c.project_id, c.started_at / 900000000, e.score_name, quote(e.score_value) || ' ' || COALESCE('x' || hex(e.score_label), 'NULL');

INSERT INTO rollup_wait_days (project_id, day, bucket, waits, wait_sum)
SELECT c.project_id, c.started_at / 86400000000, length(CAST(e.response_wait AS TEXT)) * 1000 + CAST(substr(CAST(e.response_wait AS TEXT), 1, 3) AS INTEGER), COUNT(*), COALESCE(SUM(e.response_wait), 0)
FROM events e JOIN conversations c ON c.project_id = e.project_id AND c.conversation_id = e.conversation_id
WHERE e.response_wait IS NOT NULL GROUP BY c.project_id, c.started_at / 86400000000, length(CAST(e.response_wait AS TEXT)) * 1000 + CAST(substr(CAST(e.response_wait AS TEXT), 1, 3) AS INTEGER);

INSERT INTO rollup_duration_days (project_id, day, action_name, bucket, actions)
SELECT c.project_id, c.started_at / 86400000000, e.action_name, length(CAST(CAST(e.duration_ms AS INTEGER) AS TEXT)) * 1000 + CAST(substr(CAST(CAST(e.duration_ms AS INTEGER) AS TEXT), 1, 3) AS INTEGER), COUNT(*)
FROM events e JOIN conversations c ON c.project_id = e.project_id AND c.conversation_id = e.conversation_id
WHERE e.action_name IS NOT NULL AND +e.duration_ms >= 0 AND +e.duration_ms <= 1e+12 GROUP BY c.project_id, c.started_at / 86400000000, e.action_name, length(CAST(CAST(e.duration_ms AS INTEGER) AS TEXT)) * 1000 + CAST(substr(CAST(CAST(e.duration_ms AS INTEGER) AS TEXT), 1, 3) AS INTEGER);

-- An event counts under its conversation's start, when the conversation is stored.
CREATE TRIGGER rollup_tools_add AFTER INSERT ON events WHEN new.action_name IS NOT NULL
BEGIN
    INSERT INTO rollup_tools (project_id, quarter, action_name, actions, errors, timed, duration_whole, duration_part, conversations)
    SELECT c.project_id, c.started_at / 900000000, new.action_name, COUNT(*), COALESCE(SUM(new.is_error), 0), COUNT(CASE WHEN new.duration_ms <= 1e+12 THEN 1 END), COALESCE(SUM((CASE WHEN new.duration_ms <= 1e+12 THEN CASE WHEN abs(new.duration_ms) < 9223372036854775808 THEN CAST(new.duration_ms AS INTEGER) ELSE 0 END END) / 4294967296) * 4294967296 + SUM((CASE WHEN new.duration_ms <= 1e+12 THEN CASE WHEN abs(new.duration_ms) < 9223372036854775808 THEN CAST(new.duration_ms AS INTEGER) ELSE 0 END END) % 4294967296), 0), TOTAL(CASE WHEN new.duration_ms <= 1e+12 THEN new.duration_ms - CASE WHEN abs(new.duration_ms) < 9223372036854775808 THEN CAST(new.duration_ms AS INTEGER) ELSE 0 END END), SUM(CASE WHEN (SELECT COUNT(*) FROM events x WHERE x.project_id = new.project_id AND x.conversation_id = new.conversation_id AND x.action_name = new.action_name) = 1 THEN 1 ELSE 0 END) FROM conversations c
    WHERE c.project_id = new.project_id AND c.conversation_id = new.conversation_id GROUP BY c.project_id
    ON CONFLICT (project_id, quarter, action_name) DO UPDATE SET actions = actions + excluded.actions, errors = errors + excluded.errors, timed = timed + excluded.timed, duration_whole = duration_whole + excluded.duration_whole, duration_part = duration_part + excluded.duration_part, conversations = conversations + excluded.conversations;
END;

CREATE TRIGGER rollup_tools_remove AFTER DELETE ON events WHEN old.action_name IS NOT NULL
BEGIN
    INSERT INTO rollup_tools (project_id, quarter, action_name, actions, errors, timed, duration_whole, duration_part, conversations)
    SELECT c.project_id, c.started_at / 900000000, old.action_name, -(COUNT(*)), -(COALESCE(SUM(old.is_error), 0)), -(COUNT(CASE WHEN old.duration_ms <= 1e+12 THEN 1 END)), -(COALESCE(SUM((CASE WHEN old.duration_ms <= 1e+12 THEN CASE WHEN abs(old.duration_ms) < 9223372036854775808 THEN CAST(old.duration_ms AS INTEGER) ELSE 0 END END) / 4294967296) * 4294967296 + SUM((CASE WHEN old.duration_ms <= 1e+12 THEN CASE WHEN abs(old.duration_ms) < 9223372036854775808 THEN CAST(old.duration_ms AS INTEGER) ELSE 0 END END) % 4294967296), 0)), -(TOTAL(CASE WHEN old.duration_ms <= 1e+12 THEN old.duration_ms - CASE WHEN abs(old.duration_ms) < 9223372036854775808 THEN CAST(old.duration_ms AS INTEGER) ELSE 0 END END)), -(SUM(CASE WHEN EXISTS (SELECT 1 FROM events x WHERE x.project_id = old.project_id AND x.conversation_id = old.conversation_id AND x.action_name = old.action_name) THEN 0 ELSE 1 END)) FROM conversations c
    WHERE c.project_id = old.project_id AND c.conversation_id = old.conversation_id GROUP BY c.project_id
    ON CONFLICT (project_id, quarter, action_name) DO UPDATE SET actions = actions + excluded.actions, errors = errors + excluded.errors, timed = timed + excluded.timed, duration_whole = duration_whole + excluded.duration_whole, duration_part = duration_part + excluded.duration_part, conversations = conversations + excluded.conversations;
END;

CREATE TRIGGER rollup_buttons_add AFTER INSERT ON events WHEN new.type = 'button'
BEGIN
    INSERT INTO rollup_buttons (project_id, quarter, payload, presses)
    SELECT c.project_id, c.started_at / 900000000, new.payload, COUNT(*) FROM conversations c
    WHERE c.project_id = new.project_id AND c.conversation_id = new.conversation_id GROUP BY c.project_id
    ON CONFLICT (project_id, quarter, payload) DO UPDATE SET presses = presses + excluded.presses;
END;

CREATE TRIGGER rollup_buttons_remove AFTER DELETE ON events WHEN old.type = 'button'
BEGIN
    INSERT INTO rollup_buttons (project_id, quarter, payload, presses)
    SELECT c.project_id, c.started_at / 900000000, old.payload, -(COUNT(*)) FROM conversations c
    WHERE c.project_id = old.project_id AND c.conversation_id = old.conversation_id GROUP BY c.project_id
    ON CONFLICT (project_id, quarter, payload) DO UPDATE SET presses = presses + excluded.presses;
END;

CREATE TRIGGER rollup_scores_add AFTER INSERT ON events WHEN new.type = 'score' AND +new.score_name IS NOT NULL
BEGIN
    INSERT INTO rollup_scores (project_id, quarter, at, score_name, scores, valued, value_whole, value_part)
    SELECT c.project_id, c.started_at / 900000000, new.ts / 900000000, new.score_name, COUNT(*), COUNT(new.score_value), COALESCE(SUM((CASE WHEN abs(new.score_value) < 9223372036854775808 THEN CAST(new.score_value AS INTEGER) ELSE 0 END) / 4294967296) * 4294967296 + SUM((CASE WHEN abs(new.score_value) < 9223372036854775808 THEN CAST(new.score_value AS INTEGER) ELSE 0 END) % 4294967296), 0), TOTAL(new.score_value - CASE WHEN abs(new.score_value) < 9223372036854775808 THEN CAST(new.score_value AS INTEGER) ELSE 0 END) FROM conversations c
    WHERE c.project_id = new.project_id AND c.conversation_id = new.conversation_id GROUP BY c.project_id
    ON CONFLICT (project_id, quarter, at, score_name) DO UPDATE SET scores = scores + excluded.scores, valued = valued + excluded.valued, value_whole = value_whole + excluded.value_whole, value_part = value_part + excluded.value_part;
    INSERT INTO rollup_score_values (project_id, quarter, score_name, value_key, score_value, score_label, scores)
    SELECT c.project_id, c.started_at / 900000000, new.score_name, quote(new.score_value) || ' ' || COALESCE('x' || hex(new.score_label), 'NULL'), MIN(new.score_value), MIN(new.score_label), COUNT(*) FROM conversations c
    WHERE c.project_id = new.project_id AND c.conversation_id = new.conversation_id GROUP BY c.project_id
    ON CONFLICT (project_id, quarter, score_name, value_key) DO UPDATE SET scores = scores + excluded.scores;
END;

CREATE TRIGGER rollup_scores_remove AFTER DELETE ON events WHEN old.type = 'score' AND +old.score_name IS NOT NULL
BEGIN
    INSERT INTO rollup_scores (project_id, quarter, at, score_name, scores, valued, value_whole, value_part)
    SELECT c.project_id, c.started_at / 900000000, old.ts / 900000000, old.score_name, -(COUNT(*)), -(COUNT(old.score_value)), -(COALESCE(SUM((CASE WHEN abs(old.score_value) < 9223372036854775808 THEN CAST(old.score_value AS INTEGER) ELSE 0 END) / 4294967296) * 4294967296 + SUM((CASE WHEN abs(old.score_value) < 9223372036854775808 THEN CAST(old.score_value AS INTEGER) ELSE 0 END) % 4294967296), 0)), -(TOTAL(old.score_value - CASE WHEN abs(old.score_value) < 9223372036854775808 THEN CAST(old.score_value AS INTEGER) ELSE 0 END)) FROM conversations c
    WHERE c.project_id = old.project_id AND c.conversation_id = old.conversation_id GROUP BY c.project_id
    ON CONFLICT (project_id, quarter, at, score_name) DO UPDATE SET scores = scores + excluded.scores, valued = valued + excluded.valued, value_whole = value_whole + excluded.value_whole, value_part = value_part + excluded.value_part;
    INSERT INTO rollup_score_values (project_id, quarter, score_name, value_key, score_value, score_label, scores)
    SELECT c.project_id, c.started_at / 900000000, old.score_name, quote(old.score_value) || ' ' || COALESCE('x' || hex(old.score_label), 'NULL'), MIN(old.score_value), MIN(old.score_label), -(COUNT(*)) FROM conversations c
    WHERE c.project_id = old.project_id AND c.conversation_id = old.conversation_id GROUP BY c.project_id
    ON CONFLICT (project_id, quarter, score_name, value_key) DO UPDATE SET scores = scores + excluded.scores;
END;

CREATE TRIGGER rollup_waits_add AFTER INSERT ON events WHEN new.response_wait IS NOT NULL
BEGIN
    INSERT INTO rollup_wait_days (project_id, day, bucket, waits, wait_sum)
    SELECT c.project_id, c.started_at / 86400000000, length(CAST(new.response_wait AS TEXT)) * 1000 + CAST(substr(CAST(new.response_wait AS TEXT), 1, 3) AS INTEGER), COUNT(*), COALESCE(SUM(new.response_wait), 0) FROM conversations c
    WHERE c.project_id = new.project_id AND c.conversation_id = new.conversation_id GROUP BY c.project_id
    ON CONFLICT (project_id, day, bucket) DO UPDATE SET waits = waits + excluded.waits, wait_sum = wait_sum + excluded.wait_sum;
END;

CREATE TRIGGER rollup_waits_remove AFTER DELETE ON events WHEN old.response_wait IS NOT NULL
BEGIN
    INSERT INTO rollup_wait_days (project_id, day, bucket, waits, wait_sum)
    SELECT c.project_id, c.started_at / 86400000000, length(CAST(old.response_wait AS TEXT)) * 1000 + CAST(substr(CAST(old.response_wait AS TEXT), 1, 3) AS INTEGER), -(COUNT(*)), -(COALESCE(SUM(old.response_wait), 0)) FROM conversations c
    WHERE c.project_id = old.project_id AND c.conversation_id = old.conversation_id GROUP BY c.project_id
    ON CONFLICT (project_id, day, bucket) DO UPDATE SET waits = waits + excluded.waits, wait_sum = wait_sum + excluded.wait_sum;
END;

CREATE TRIGGER rollup_durations_add AFTER INSERT ON events WHEN new.action_name IS NOT NULL AND +new.duration_ms >= 0 AND +new.duration_ms <= 1e+12
BEGIN
    INSERT INTO rollup_duration_days (project_id, day, action_name, bucket, actions)
    SELECT c.project_id, c.started_at / 86400000000, new.action_name, length(CAST(CAST(new.duration_ms AS INTEGER) AS TEXT)) * 1000 + CAST(substr(CAST(CAST(new.duration_ms AS INTEGER) AS TEXT), 1, 3) AS INTEGER), COUNT(*) FROM conversations c
    WHERE c.project_id = new.project_id AND c.conversation_id = new.conversation_id GROUP BY c.project_id
    ON CONFLICT (project_id, day, action_name, bucket) DO UPDATE SET actions = actions + excluded.actions;
END;

CREATE TRIGGER rollup_durations_remove AFTER DELETE ON events WHEN old.action_name IS NOT NULL AND +old.duration_ms >= 0 AND +old.duration_ms <= 1e+12
BEGIN
    INSERT INTO rollup_duration_days (project_id, day, action_name, bucket, actions)
    SELECT c.project_id, c.started_at / 86400000000, old.action_name, length(CAST(CAST(old.duration_ms AS INTEGER) AS TEXT)) * 1000 + CAST(substr(CAST(CAST(old.duration_ms AS INTEGER) AS TEXT), 1, 3) AS INTEGER), -(COUNT(*)) FROM conversations c
    WHERE c.project_id = old.project_id AND c.conversation_id = old.conversation_id GROUP BY c.project_id
    ON CONFLICT (project_id, day, action_name, bucket) DO UPDATE SET actions = actions + excluded.actions;
END;

-- A response wait is set, and changed, after its message is stored.
CREATE TRIGGER rollup_waits_change AFTER UPDATE OF response_wait ON events
WHEN old.response_wait IS NOT new.response_wait
BEGIN
    INSERT INTO rollup_wait_days (project_id, day, bucket, waits, wait_sum)
    SELECT c.project_id, c.started_at / 86400000000, length(CAST(old.response_wait AS TEXT)) * 1000 + CAST(substr(CAST(old.response_wait AS TEXT), 1, 3) AS INTEGER), -(COUNT(*)), -(COALESCE(SUM(old.response_wait), 0)) FROM conversations c
    WHERE c.project_id = old.project_id AND c.conversation_id = old.conversation_id AND old.response_wait IS NOT NULL GROUP BY c.project_id
    ON CONFLICT (project_id, day, bucket) DO UPDATE SET waits = waits + excluded.waits, wait_sum = wait_sum + excluded.wait_sum;
    INSERT INTO rollup_wait_days (project_id, day, bucket, waits, wait_sum)
    SELECT c.project_id, c.started_at / 86400000000, length(CAST(new.response_wait AS TEXT)) * 1000 + CAST(substr(CAST(new.response_wait AS TEXT), 1, 3) AS INTEGER), COUNT(*), COALESCE(SUM(new.response_wait), 0) FROM conversations c
    WHERE c.project_id = new.project_id AND c.conversation_id = new.conversation_id AND new.response_wait IS NOT NULL GROUP BY c.project_id
    ON CONFLICT (project_id, day, bucket) DO UPDATE SET waits = waits + excluded.waits, wait_sum = wait_sum + excluded.wait_sum;
END;

-- A new conversation adds the events stored before it (in a batch, its events come first).
CREATE TRIGGER rollup_actions_add AFTER INSERT ON conversations
BEGIN
    INSERT INTO rollup_tools (project_id, quarter, action_name, actions, errors, timed, duration_whole, duration_part, conversations)
    SELECT new.project_id, new.started_at / 900000000, e.action_name, COUNT(*), COALESCE(SUM(e.is_error), 0), COUNT(CASE WHEN e.duration_ms <= 1e+12 THEN 1 END), COALESCE(SUM((CASE WHEN e.duration_ms <= 1e+12 THEN CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN CAST(e.duration_ms AS INTEGER) ELSE 0 END END) / 4294967296) * 4294967296 + SUM((CASE WHEN e.duration_ms <= 1e+12 THEN CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN CAST(e.duration_ms AS INTEGER) ELSE 0 END END) % 4294967296), 0), TOTAL(CASE WHEN e.duration_ms <= 1e+12 THEN e.duration_ms - CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN CAST(e.duration_ms AS INTEGER) ELSE 0 END END), COUNT(DISTINCT e.conversation_id) FROM events e
    WHERE e.project_id = new.project_id AND e.conversation_id = new.conversation_id AND e.action_name IS NOT NULL GROUP BY e.action_name
    ON CONFLICT (project_id, quarter, action_name) DO UPDATE SET actions = actions + excluded.actions, errors = errors + excluded.errors, timed = timed + excluded.timed, duration_whole = duration_whole + excluded.duration_whole, duration_part = duration_part + excluded.duration_part, conversations = conversations + excluded.conversations;
    INSERT INTO rollup_buttons (project_id, quarter, payload, presses)
    SELECT new.project_id, new.started_at / 900000000, e.payload, COUNT(*) FROM events e
    WHERE e.project_id = new.project_id AND e.conversation_id = new.conversation_id AND e.type = 'button' GROUP BY e.payload
    ON CONFLICT (project_id, quarter, payload) DO UPDATE SET presses = presses + excluded.presses;
    INSERT INTO rollup_scores (project_id, quarter, at, score_name, scores, valued, value_whole, value_part)
    SELECT new.project_id, new.started_at / 900000000, e.ts / 900000000, e.score_name, COUNT(*), COUNT(e.score_value), COALESCE(SUM((CASE WHEN abs(e.score_value) < 9223372036854775808 THEN CAST(e.score_value AS INTEGER) ELSE 0 END) / 4294967296) * 4294967296 + SUM((CASE WHEN abs(e.score_value) < 9223372036854775808 THEN CAST(e.score_value AS INTEGER) ELSE 0 END) % 4294967296), 0), TOTAL(e.score_value - CASE WHEN abs(e.score_value) < 9223372036854775808 THEN CAST(e.score_value AS INTEGER) ELSE 0 END) FROM events e
    WHERE e.project_id = new.project_id AND e.conversation_id = new.conversation_id AND e.type = 'score' AND +e.score_name IS NOT NULL GROUP BY e.ts / 900000000, e.score_name
    ON CONFLICT (project_id, quarter, at, score_name) DO UPDATE SET scores = scores + excluded.scores, valued = valued + excluded.valued, value_whole = value_whole + excluded.value_whole, value_part = value_part + excluded.value_part;
    INSERT INTO rollup_score_values (project_id, quarter, score_name, value_key, score_value, score_label, scores)
    SELECT new.project_id, new.started_at / 900000000, e.score_name, quote(e.score_value) || ' ' || COALESCE('x' || hex(e.score_label), 'NULL'), MIN(e.score_value), MIN(e.score_label), COUNT(*) FROM events e
    WHERE e.project_id = new.project_id AND e.conversation_id = new.conversation_id AND e.type = 'score' AND +e.score_name IS NOT NULL GROUP BY e.score_name, quote(e.score_value) || ' ' || COALESCE('x' || hex(e.score_label), 'NULL')
    ON CONFLICT (project_id, quarter, score_name, value_key) DO UPDATE SET scores = scores + excluded.scores;
    INSERT INTO rollup_wait_days (project_id, day, bucket, waits, wait_sum)
    SELECT new.project_id, new.started_at / 86400000000, length(CAST(e.response_wait AS TEXT)) * 1000 + CAST(substr(CAST(e.response_wait AS TEXT), 1, 3) AS INTEGER), COUNT(*), COALESCE(SUM(e.response_wait), 0) FROM events e
    WHERE e.project_id = new.project_id AND e.conversation_id = new.conversation_id AND e.response_wait IS NOT NULL GROUP BY length(CAST(e.response_wait AS TEXT)) * 1000 + CAST(substr(CAST(e.response_wait AS TEXT), 1, 3) AS INTEGER)
    ON CONFLICT (project_id, day, bucket) DO UPDATE SET waits = waits + excluded.waits, wait_sum = wait_sum + excluded.wait_sum;
    INSERT INTO rollup_duration_days (project_id, day, action_name, bucket, actions)
    SELECT new.project_id, new.started_at / 86400000000, e.action_name, length(CAST(CAST(e.duration_ms AS INTEGER) AS TEXT)) * 1000 + CAST(substr(CAST(CAST(e.duration_ms AS INTEGER) AS TEXT), 1, 3) AS INTEGER), COUNT(*) FROM events e
    WHERE e.project_id = new.project_id AND e.conversation_id = new.conversation_id AND e.action_name IS NOT NULL AND +e.duration_ms >= 0 AND +e.duration_ms <= 1e+12 GROUP BY e.action_name, length(CAST(CAST(e.duration_ms AS INTEGER) AS TEXT)) * 1000 + CAST(substr(CAST(CAST(e.duration_ms AS INTEGER) AS TEXT), 1, 3) AS INTEGER)
    ON CONFLICT (project_id, day, action_name, bucket) DO UPDATE SET actions = actions + excluded.actions;
END;

CREATE TRIGGER rollup_actions_remove AFTER DELETE ON conversations
BEGIN
    INSERT INTO rollup_tools (project_id, quarter, action_name, actions, errors, timed, duration_whole, duration_part, conversations)
    SELECT old.project_id, old.started_at / 900000000, e.action_name, -(COUNT(*)), -(COALESCE(SUM(e.is_error), 0)), -(COUNT(CASE WHEN e.duration_ms <= 1e+12 THEN 1 END)), -(COALESCE(SUM((CASE WHEN e.duration_ms <= 1e+12 THEN CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN CAST(e.duration_ms AS INTEGER) ELSE 0 END END) / 4294967296) * 4294967296 + SUM((CASE WHEN e.duration_ms <= 1e+12 THEN CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN CAST(e.duration_ms AS INTEGER) ELSE 0 END END) % 4294967296), 0)), -(TOTAL(CASE WHEN e.duration_ms <= 1e+12 THEN e.duration_ms - CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN CAST(e.duration_ms AS INTEGER) ELSE 0 END END)), -(COUNT(DISTINCT e.conversation_id)) FROM events e
    WHERE e.project_id = old.project_id AND e.conversation_id = old.conversation_id AND e.action_name IS NOT NULL GROUP BY e.action_name
    ON CONFLICT (project_id, quarter, action_name) DO UPDATE SET actions = actions + excluded.actions, errors = errors + excluded.errors, timed = timed + excluded.timed, duration_whole = duration_whole + excluded.duration_whole, duration_part = duration_part + excluded.duration_part, conversations = conversations + excluded.conversations;
    INSERT INTO rollup_buttons (project_id, quarter, payload, presses)
    SELECT old.project_id, old.started_at / 900000000, e.payload, -(COUNT(*)) FROM events e
    WHERE e.project_id = old.project_id AND e.conversation_id = old.conversation_id AND e.type = 'button' GROUP BY e.payload
    ON CONFLICT (project_id, quarter, payload) DO UPDATE SET presses = presses + excluded.presses;
    INSERT INTO rollup_scores (project_id, quarter, at, score_name, scores, valued, value_whole, value_part)
    SELECT old.project_id, old.started_at / 900000000, e.ts / 900000000, e.score_name, -(COUNT(*)), -(COUNT(e.score_value)), -(COALESCE(SUM((CASE WHEN abs(e.score_value) < 9223372036854775808 THEN CAST(e.score_value AS INTEGER) ELSE 0 END) / 4294967296) * 4294967296 + SUM((CASE WHEN abs(e.score_value) < 9223372036854775808 THEN CAST(e.score_value AS INTEGER) ELSE 0 END) % 4294967296), 0)), -(TOTAL(e.score_value - CASE WHEN abs(e.score_value) < 9223372036854775808 THEN CAST(e.score_value AS INTEGER) ELSE 0 END)) FROM events e
    WHERE e.project_id = old.project_id AND e.conversation_id = old.conversation_id AND e.type = 'score' AND +e.score_name IS NOT NULL GROUP BY e.ts / 900000000, e.score_name
    ON CONFLICT (project_id, quarter, at, score_name) DO UPDATE SET scores = scores + excluded.scores, valued = valued + excluded.valued, value_whole = value_whole + excluded.value_whole, value_part = value_part + excluded.value_part;
    INSERT INTO rollup_score_values (project_id, quarter, score_name, value_key, score_value, score_label, scores)
    SELECT old.project_id, old.started_at / 900000000, e.score_name, quote(e.score_value) || ' ' || COALESCE('x' || hex(e.score_label), 'NULL'), MIN(e.score_value), MIN(e.score_label), -(COUNT(*)) FROM events e
    WHERE e.project_id = old.project_id AND e.conversation_id = old.conversation_id AND e.type = 'score' AND +e.score_name IS NOT NULL GROUP BY e.score_name, quote(e.score_value) || ' ' || COALESCE('x' || hex(e.score_label), 'NULL')
    ON CONFLICT (project_id, quarter, score_name, value_key) DO UPDATE SET scores = scores + excluded.scores;
    INSERT INTO rollup_wait_days (project_id, day, bucket, waits, wait_sum)
    SELECT old.project_id, old.started_at / 86400000000, length(CAST(e.response_wait AS TEXT)) * 1000 + CAST(substr(CAST(e.response_wait AS TEXT), 1, 3) AS INTEGER), -(COUNT(*)), -(COALESCE(SUM(e.response_wait), 0)) FROM events e
    WHERE e.project_id = old.project_id AND e.conversation_id = old.conversation_id AND e.response_wait IS NOT NULL GROUP BY length(CAST(e.response_wait AS TEXT)) * 1000 + CAST(substr(CAST(e.response_wait AS TEXT), 1, 3) AS INTEGER)
    ON CONFLICT (project_id, day, bucket) DO UPDATE SET waits = waits + excluded.waits, wait_sum = wait_sum + excluded.wait_sum;
    INSERT INTO rollup_duration_days (project_id, day, action_name, bucket, actions)
    SELECT old.project_id, old.started_at / 86400000000, e.action_name, length(CAST(CAST(e.duration_ms AS INTEGER) AS TEXT)) * 1000 + CAST(substr(CAST(CAST(e.duration_ms AS INTEGER) AS TEXT), 1, 3) AS INTEGER), -(COUNT(*)) FROM events e
    WHERE e.project_id = old.project_id AND e.conversation_id = old.conversation_id AND e.action_name IS NOT NULL AND +e.duration_ms >= 0 AND +e.duration_ms <= 1e+12 GROUP BY e.action_name, length(CAST(CAST(e.duration_ms AS INTEGER) AS TEXT)) * 1000 + CAST(substr(CAST(CAST(e.duration_ms AS INTEGER) AS TEXT), 1, 3) AS INTEGER)
    ON CONFLICT (project_id, day, action_name, bucket) DO UPDATE SET actions = actions + excluded.actions;
END;

-- A start moved into another quarter hour takes the conversation's events along.
CREATE TRIGGER rollup_actions_move AFTER UPDATE OF started_at ON conversations
WHEN NOT (old.started_at / 900000000 = new.started_at / 900000000)
BEGIN
    INSERT INTO rollup_tools (project_id, quarter, action_name, actions, errors, timed, duration_whole, duration_part, conversations)
    SELECT old.project_id, old.started_at / 900000000, e.action_name, -(COUNT(*)), -(COALESCE(SUM(e.is_error), 0)), -(COUNT(CASE WHEN e.duration_ms <= 1e+12 THEN 1 END)), -(COALESCE(SUM((CASE WHEN e.duration_ms <= 1e+12 THEN CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN CAST(e.duration_ms AS INTEGER) ELSE 0 END END) / 4294967296) * 4294967296 + SUM((CASE WHEN e.duration_ms <= 1e+12 THEN CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN CAST(e.duration_ms AS INTEGER) ELSE 0 END END) % 4294967296), 0)), -(TOTAL(CASE WHEN e.duration_ms <= 1e+12 THEN e.duration_ms - CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN CAST(e.duration_ms AS INTEGER) ELSE 0 END END)), -(COUNT(DISTINCT e.conversation_id)) FROM events e
    WHERE e.project_id = old.project_id AND e.conversation_id = old.conversation_id AND e.action_name IS NOT NULL GROUP BY e.action_name
    ON CONFLICT (project_id, quarter, action_name) DO UPDATE SET actions = actions + excluded.actions, errors = errors + excluded.errors, timed = timed + excluded.timed, duration_whole = duration_whole + excluded.duration_whole, duration_part = duration_part + excluded.duration_part, conversations = conversations + excluded.conversations;
    INSERT INTO rollup_buttons (project_id, quarter, payload, presses)
    SELECT old.project_id, old.started_at / 900000000, e.payload, -(COUNT(*)) FROM events e
    WHERE e.project_id = old.project_id AND e.conversation_id = old.conversation_id AND e.type = 'button' GROUP BY e.payload
    ON CONFLICT (project_id, quarter, payload) DO UPDATE SET presses = presses + excluded.presses;
    INSERT INTO rollup_scores (project_id, quarter, at, score_name, scores, valued, value_whole, value_part)
    SELECT old.project_id, old.started_at / 900000000, e.ts / 900000000, e.score_name, -(COUNT(*)), -(COUNT(e.score_value)), -(COALESCE(SUM((CASE WHEN abs(e.score_value) < 9223372036854775808 THEN CAST(e.score_value AS INTEGER) ELSE 0 END) / 4294967296) * 4294967296 + SUM((CASE WHEN abs(e.score_value) < 9223372036854775808 THEN CAST(e.score_value AS INTEGER) ELSE 0 END) % 4294967296), 0)), -(TOTAL(e.score_value - CASE WHEN abs(e.score_value) < 9223372036854775808 THEN CAST(e.score_value AS INTEGER) ELSE 0 END)) FROM events e
    WHERE e.project_id = old.project_id AND e.conversation_id = old.conversation_id AND e.type = 'score' AND +e.score_name IS NOT NULL GROUP BY e.ts / 900000000, e.score_name
    ON CONFLICT (project_id, quarter, at, score_name) DO UPDATE SET scores = scores + excluded.scores, valued = valued + excluded.valued, value_whole = value_whole + excluded.value_whole, value_part = value_part + excluded.value_part;
    INSERT INTO rollup_score_values (project_id, quarter, score_name, value_key, score_value, score_label, scores)
    SELECT old.project_id, old.started_at / 900000000, e.score_name, quote(e.score_value) || ' ' || COALESCE('x' || hex(e.score_label), 'NULL'), MIN(e.score_value), MIN(e.score_label), -(COUNT(*)) FROM events e
    WHERE e.project_id = old.project_id AND e.conversation_id = old.conversation_id AND e.type = 'score' AND +e.score_name IS NOT NULL GROUP BY e.score_name, quote(e.score_value) || ' ' || COALESCE('x' || hex(e.score_label), 'NULL')
    ON CONFLICT (project_id, quarter, score_name, value_key) DO UPDATE SET scores = scores + excluded.scores;
    INSERT INTO rollup_wait_days (project_id, day, bucket, waits, wait_sum)
    SELECT old.project_id, old.started_at / 86400000000, length(CAST(e.response_wait AS TEXT)) * 1000 + CAST(substr(CAST(e.response_wait AS TEXT), 1, 3) AS INTEGER), -(COUNT(*)), -(COALESCE(SUM(e.response_wait), 0)) FROM events e
    WHERE e.project_id = old.project_id AND e.conversation_id = old.conversation_id AND e.response_wait IS NOT NULL GROUP BY length(CAST(e.response_wait AS TEXT)) * 1000 + CAST(substr(CAST(e.response_wait AS TEXT), 1, 3) AS INTEGER)
    ON CONFLICT (project_id, day, bucket) DO UPDATE SET waits = waits + excluded.waits, wait_sum = wait_sum + excluded.wait_sum;
    INSERT INTO rollup_duration_days (project_id, day, action_name, bucket, actions)
    SELECT old.project_id, old.started_at / 86400000000, e.action_name, length(CAST(CAST(e.duration_ms AS INTEGER) AS TEXT)) * 1000 + CAST(substr(CAST(CAST(e.duration_ms AS INTEGER) AS TEXT), 1, 3) AS INTEGER), -(COUNT(*)) FROM events e
    WHERE e.project_id = old.project_id AND e.conversation_id = old.conversation_id AND e.action_name IS NOT NULL AND +e.duration_ms >= 0 AND +e.duration_ms <= 1e+12 GROUP BY e.action_name, length(CAST(CAST(e.duration_ms AS INTEGER) AS TEXT)) * 1000 + CAST(substr(CAST(CAST(e.duration_ms AS INTEGER) AS TEXT), 1, 3) AS INTEGER)
    ON CONFLICT (project_id, day, action_name, bucket) DO UPDATE SET actions = actions + excluded.actions;
    INSERT INTO rollup_tools (project_id, quarter, action_name, actions, errors, timed, duration_whole, duration_part, conversations)
    SELECT new.project_id, new.started_at / 900000000, e.action_name, COUNT(*), COALESCE(SUM(e.is_error), 0), COUNT(CASE WHEN e.duration_ms <= 1e+12 THEN 1 END), COALESCE(SUM((CASE WHEN e.duration_ms <= 1e+12 THEN CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN CAST(e.duration_ms AS INTEGER) ELSE 0 END END) / 4294967296) * 4294967296 + SUM((CASE WHEN e.duration_ms <= 1e+12 THEN CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN CAST(e.duration_ms AS INTEGER) ELSE 0 END END) % 4294967296), 0), TOTAL(CASE WHEN e.duration_ms <= 1e+12 THEN e.duration_ms - CASE WHEN abs(e.duration_ms) < 9223372036854775808 THEN CAST(e.duration_ms AS INTEGER) ELSE 0 END END), COUNT(DISTINCT e.conversation_id) FROM events e
    WHERE e.project_id = new.project_id AND e.conversation_id = new.conversation_id AND e.action_name IS NOT NULL GROUP BY e.action_name
    ON CONFLICT (project_id, quarter, action_name) DO UPDATE SET actions = actions + excluded.actions, errors = errors + excluded.errors, timed = timed + excluded.timed, duration_whole = duration_whole + excluded.duration_whole, duration_part = duration_part + excluded.duration_part, conversations = conversations + excluded.conversations;
    INSERT INTO rollup_buttons (project_id, quarter, payload, presses)
    SELECT new.project_id, new.started_at / 900000000, e.payload, COUNT(*) FROM events e
    WHERE e.project_id = new.project_id AND e.conversation_id = new.conversation_id AND e.type = 'button' GROUP BY e.payload
    ON CONFLICT (project_id, quarter, payload) DO UPDATE SET presses = presses + excluded.presses;
    INSERT INTO rollup_scores (project_id, quarter, at, score_name, scores, valued, value_whole, value_part)
    SELECT new.project_id, new.started_at / 900000000, e.ts / 900000000, e.score_name, COUNT(*), COUNT(e.score_value), COALESCE(SUM((CASE WHEN abs(e.score_value) < 9223372036854775808 THEN CAST(e.score_value AS INTEGER) ELSE 0 END) / 4294967296) * 4294967296 + SUM((CASE WHEN abs(e.score_value) < 9223372036854775808 THEN CAST(e.score_value AS INTEGER) ELSE 0 END) % 4294967296), 0), TOTAL(e.score_value - CASE WHEN abs(e.score_value) < 9223372036854775808 THEN CAST(e.score_value AS INTEGER) ELSE 0 END) FROM events e
    WHERE e.project_id = new.project_id AND e.conversation_id = new.conversation_id AND e.type = 'score' AND +e.score_name IS NOT NULL GROUP BY e.ts / 900000000, e.score_name
    ON CONFLICT (project_id, quarter, at, score_name) DO UPDATE SET scores = scores + excluded.scores, valued = valued + excluded.valued, value_whole = value_whole + excluded.value_whole, value_part = value_part + excluded.value_part;
    INSERT INTO rollup_score_values (project_id, quarter, score_name, value_key, score_value, score_label, scores)
    SELECT new.project_id, new.started_at / 900000000, e.score_name, quote(e.score_value) || ' ' || COALESCE('x' || hex(e.score_label), 'NULL'), MIN(e.score_value), MIN(e.score_label), COUNT(*) FROM events e
    WHERE e.project_id = new.project_id AND e.conversation_id = new.conversation_id AND e.type = 'score' AND +e.score_name IS NOT NULL GROUP BY e.score_name, quote(e.score_value) || ' ' || COALESCE('x' || hex(e.score_label), 'NULL')
    ON CONFLICT (project_id, quarter, score_name, value_key) DO UPDATE SET scores = scores + excluded.scores;
    INSERT INTO rollup_wait_days (project_id, day, bucket, waits, wait_sum)
    SELECT new.project_id, new.started_at / 86400000000, length(CAST(e.response_wait AS TEXT)) * 1000 + CAST(substr(CAST(e.response_wait AS TEXT), 1, 3) AS INTEGER), COUNT(*), COALESCE(SUM(e.response_wait), 0) FROM events e
    WHERE e.project_id = new.project_id AND e.conversation_id = new.conversation_id AND e.response_wait IS NOT NULL GROUP BY length(CAST(e.response_wait AS TEXT)) * 1000 + CAST(substr(CAST(e.response_wait AS TEXT), 1, 3) AS INTEGER)
    ON CONFLICT (project_id, day, bucket) DO UPDATE SET waits = waits + excluded.waits, wait_sum = wait_sum + excluded.wait_sum;
    INSERT INTO rollup_duration_days (project_id, day, action_name, bucket, actions)
    SELECT new.project_id, new.started_at / 86400000000, e.action_name, length(CAST(CAST(e.duration_ms AS INTEGER) AS TEXT)) * 1000 + CAST(substr(CAST(CAST(e.duration_ms AS INTEGER) AS TEXT), 1, 3) AS INTEGER), COUNT(*) FROM events e
    WHERE e.project_id = new.project_id AND e.conversation_id = new.conversation_id AND e.action_name IS NOT NULL AND +e.duration_ms >= 0 AND +e.duration_ms <= 1e+12 GROUP BY e.action_name, length(CAST(CAST(e.duration_ms AS INTEGER) AS TEXT)) * 1000 + CAST(substr(CAST(CAST(e.duration_ms AS INTEGER) AS TEXT), 1, 3) AS INTEGER)
    ON CONFLICT (project_id, day, action_name, bucket) DO UPDATE SET actions = actions + excluded.actions;
END;

-- The index on the start also holds the customer: returning customers and
-- cohorts over a range of starts read it alone, not a table row per conversation.
DROP INDEX conversations_by_start;
CREATE INDEX conversations_by_start ON conversations (project_id, started_at, customer_id);
