-- Schema version 20: the histograms of the waits and the durations per combination of
-- attributes and UTC day of the start, kept by triggers, that GET /v1/metrics reads for
-- a request with attribute filters (see storage/_rollups.py):
--   rollup_combo_wait_days: per bucket of the response waits, the waits and their sum;
--   rollup_combo_duration_days: per tool and bucket of the timed durations from 0, the
--     actions.
-- Schema 12's rollup_wait_days and rollup_duration_days with schema 19's selection
-- (combo: the attributes' JSON array, as rollup_days keys it).  They hold about a row per
-- value (a day's values of one combination rarely share a bucket), but a request reads
-- its combinations' rows in key order instead of each selected conversation's events by
-- an index seek; each percentile then reads its rank's bucket alone, as with schema 12's.
-- What they hold, at every commit: the waits and timed actions of every stored
-- conversation, under its start and attributes; a conversation whose day of start or
-- whose attributes change takes them along.  Writes wait while they are built (a pass
-- over the waits and the actions).
CREATE TABLE rollup_combo_wait_days (
    project_id INTEGER NOT NULL,
    combo TEXT NOT NULL,
    day INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    waits INTEGER NOT NULL,
    wait_sum INTEGER NOT NULL,
    PRIMARY KEY (project_id, combo, day, bucket)
) WITHOUT ROWID;

CREATE TABLE rollup_combo_duration_days (
    project_id INTEGER NOT NULL,
    combo TEXT NOT NULL,
    day INTEGER NOT NULL,
    action_name TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    actions INTEGER NOT NULL,
    PRIMARY KEY (project_id, combo, day, action_name, bucket)
) WITHOUT ROWID;

INSERT INTO rollup_combo_wait_days (project_id, combo, day, bucket, waits, wait_sum)
SELECT c.project_id, json_array(c.environment, c.source, c.device, c.language, c.country), c.started_at / 86400000000, length(CAST(e.response_wait AS TEXT)) * 1000 + CAST(substr(CAST(e.response_wait AS TEXT), 1, 3) AS INTEGER), COUNT(*), COALESCE(SUM(e.response_wait), 0)
FROM events e JOIN conversations c ON c.project_id = e.project_id AND c.conversation_id = e.conversation_id
WHERE e.response_wait IS NOT NULL GROUP BY 1, 2, 3, 4;

INSERT INTO rollup_combo_duration_days (project_id, combo, day, action_name, bucket, actions)
SELECT c.project_id, json_array(c.environment, c.source, c.device, c.language, c.country), c.started_at / 86400000000, e.action_name, length(CAST(CAST(e.duration_ms AS INTEGER) AS TEXT)) * 1000 + CAST(substr(CAST(CAST(e.duration_ms AS INTEGER) AS TEXT), 1, 3) AS INTEGER), COUNT(*)
FROM events e JOIN conversations c ON c.project_id = e.project_id AND c.conversation_id = e.conversation_id
WHERE e.action_name IS NOT NULL AND +e.duration_ms >= 0 AND +e.duration_ms <= 1e+12 GROUP BY 1, 2, 3, 4, 5;

-- An event counts under its conversation's start and attributes, when the conversation is stored.
CREATE TRIGGER rollup_combo_waits_add AFTER INSERT ON events WHEN new.response_wait IS NOT NULL
BEGIN
    INSERT INTO rollup_combo_wait_days (project_id, combo, day, bucket, waits, wait_sum)
    SELECT c.project_id, json_array(c.environment, c.source, c.device, c.language, c.country), c.started_at / 86400000000, length(CAST(new.response_wait AS TEXT)) * 1000 + CAST(substr(CAST(new.response_wait AS TEXT), 1, 3) AS INTEGER), COUNT(*), COALESCE(SUM(new.response_wait), 0) FROM conversations c
    WHERE c.project_id = new.project_id AND c.conversation_id = new.conversation_id GROUP BY c.project_id
    ON CONFLICT (project_id, combo, day, bucket) DO UPDATE SET waits = waits + excluded.waits, wait_sum = wait_sum + excluded.wait_sum;
END;

CREATE TRIGGER rollup_combo_waits_remove AFTER DELETE ON events WHEN old.response_wait IS NOT NULL
BEGIN
    INSERT INTO rollup_combo_wait_days (project_id, combo, day, bucket, waits, wait_sum)
    SELECT c.project_id, json_array(c.environment, c.source, c.device, c.language, c.country), c.started_at / 86400000000, length(CAST(old.response_wait AS TEXT)) * 1000 + CAST(substr(CAST(old.response_wait AS TEXT), 1, 3) AS INTEGER), -(COUNT(*)), -(COALESCE(SUM(old.response_wait), 0)) FROM conversations c
    WHERE c.project_id = old.project_id AND c.conversation_id = old.conversation_id GROUP BY c.project_id
    ON CONFLICT (project_id, combo, day, bucket) DO UPDATE SET waits = waits + excluded.waits, wait_sum = wait_sum + excluded.wait_sum;
END;

CREATE TRIGGER rollup_combo_durations_add AFTER INSERT ON events WHEN new.action_name IS NOT NULL AND +new.duration_ms >= 0 AND +new.duration_ms <= 1e+12
BEGIN
    INSERT INTO rollup_combo_duration_days (project_id, combo, day, action_name, bucket, actions)
    SELECT c.project_id, json_array(c.environment, c.source, c.device, c.language, c.country), c.started_at / 86400000000, new.action_name, length(CAST(CAST(new.duration_ms AS INTEGER) AS TEXT)) * 1000 + CAST(substr(CAST(CAST(new.duration_ms AS INTEGER) AS TEXT), 1, 3) AS INTEGER), COUNT(*) FROM conversations c
    WHERE c.project_id = new.project_id AND c.conversation_id = new.conversation_id GROUP BY c.project_id
    ON CONFLICT (project_id, combo, day, action_name, bucket) DO UPDATE SET actions = actions + excluded.actions;
END;

CREATE TRIGGER rollup_combo_durations_remove AFTER DELETE ON events WHEN old.action_name IS NOT NULL AND +old.duration_ms >= 0 AND +old.duration_ms <= 1e+12
BEGIN
    INSERT INTO rollup_combo_duration_days (project_id, combo, day, action_name, bucket, actions)
    SELECT c.project_id, json_array(c.environment, c.source, c.device, c.language, c.country), c.started_at / 86400000000, old.action_name, length(CAST(CAST(old.duration_ms AS INTEGER) AS TEXT)) * 1000 + CAST(substr(CAST(CAST(old.duration_ms AS INTEGER) AS TEXT), 1, 3) AS INTEGER), -(COUNT(*)) FROM conversations c
    WHERE c.project_id = old.project_id AND c.conversation_id = old.conversation_id GROUP BY c.project_id
    ON CONFLICT (project_id, combo, day, action_name, bucket) DO UPDATE SET actions = actions + excluded.actions;
END;

-- A response wait is set, and changed, after its message is stored.
CREATE TRIGGER rollup_combo_waits_change AFTER UPDATE OF response_wait ON events
WHEN old.response_wait IS NOT new.response_wait
BEGIN
    INSERT INTO rollup_combo_wait_days (project_id, combo, day, bucket, waits, wait_sum)
    SELECT c.project_id, json_array(c.environment, c.source, c.device, c.language, c.country), c.started_at / 86400000000, length(CAST(old.response_wait AS TEXT)) * 1000 + CAST(substr(CAST(old.response_wait AS TEXT), 1, 3) AS INTEGER), -(COUNT(*)), -(COALESCE(SUM(old.response_wait), 0)) FROM conversations c
    WHERE c.project_id = old.project_id AND c.conversation_id = old.conversation_id AND old.response_wait IS NOT NULL GROUP BY c.project_id
    ON CONFLICT (project_id, combo, day, bucket) DO UPDATE SET waits = waits + excluded.waits, wait_sum = wait_sum + excluded.wait_sum;
    INSERT INTO rollup_combo_wait_days (project_id, combo, day, bucket, waits, wait_sum)
    SELECT c.project_id, json_array(c.environment, c.source, c.device, c.language, c.country), c.started_at / 86400000000, length(CAST(new.response_wait AS TEXT)) * 1000 + CAST(substr(CAST(new.response_wait AS TEXT), 1, 3) AS INTEGER), COUNT(*), COALESCE(SUM(new.response_wait), 0) FROM conversations c
    WHERE c.project_id = new.project_id AND c.conversation_id = new.conversation_id AND new.response_wait IS NOT NULL GROUP BY c.project_id
    ON CONFLICT (project_id, combo, day, bucket) DO UPDATE SET waits = waits + excluded.waits, wait_sum = wait_sum + excluded.wait_sum;
END;

-- A new conversation adds the events stored before it (in a batch, its events come first).
CREATE TRIGGER rollup_combo_histograms_add AFTER INSERT ON conversations
BEGIN
    INSERT INTO rollup_combo_wait_days (project_id, combo, day, bucket, waits, wait_sum)
    SELECT new.project_id, json_array(new.environment, new.source, new.device, new.language, new.country), new.started_at / 86400000000, length(CAST(e.response_wait AS TEXT)) * 1000 + CAST(substr(CAST(e.response_wait AS TEXT), 1, 3) AS INTEGER), COUNT(*), COALESCE(SUM(e.response_wait), 0) FROM events e
    WHERE e.project_id = new.project_id AND e.conversation_id = new.conversation_id AND e.response_wait IS NOT NULL GROUP BY length(CAST(e.response_wait AS TEXT)) * 1000 + CAST(substr(CAST(e.response_wait AS TEXT), 1, 3) AS INTEGER)
    ON CONFLICT (project_id, combo, day, bucket) DO UPDATE SET waits = waits + excluded.waits, wait_sum = wait_sum + excluded.wait_sum;
    INSERT INTO rollup_combo_duration_days (project_id, combo, day, action_name, bucket, actions)
    SELECT new.project_id, json_array(new.environment, new.source, new.device, new.language, new.country), new.started_at / 86400000000, e.action_name, length(CAST(CAST(e.duration_ms AS INTEGER) AS TEXT)) * 1000 + CAST(substr(CAST(CAST(e.duration_ms AS INTEGER) AS TEXT), 1, 3) AS INTEGER), COUNT(*) FROM events e
    WHERE e.project_id = new.project_id AND e.conversation_id = new.conversation_id AND e.action_name IS NOT NULL AND +e.duration_ms >= 0 AND +e.duration_ms <= 1e+12 GROUP BY e.action_name, length(CAST(CAST(e.duration_ms AS INTEGER) AS TEXT)) * 1000 + CAST(substr(CAST(CAST(e.duration_ms AS INTEGER) AS TEXT), 1, 3) AS INTEGER)
    ON CONFLICT (project_id, combo, day, action_name, bucket) DO UPDATE SET actions = actions + excluded.actions;
END;

CREATE TRIGGER rollup_combo_histograms_remove AFTER DELETE ON conversations
BEGIN
    INSERT INTO rollup_combo_wait_days (project_id, combo, day, bucket, waits, wait_sum)
    SELECT old.project_id, json_array(old.environment, old.source, old.device, old.language, old.country), old.started_at / 86400000000, length(CAST(e.response_wait AS TEXT)) * 1000 + CAST(substr(CAST(e.response_wait AS TEXT), 1, 3) AS INTEGER), -(COUNT(*)), -(COALESCE(SUM(e.response_wait), 0)) FROM events e
    WHERE e.project_id = old.project_id AND e.conversation_id = old.conversation_id AND e.response_wait IS NOT NULL GROUP BY length(CAST(e.response_wait AS TEXT)) * 1000 + CAST(substr(CAST(e.response_wait AS TEXT), 1, 3) AS INTEGER)
    ON CONFLICT (project_id, combo, day, bucket) DO UPDATE SET waits = waits + excluded.waits, wait_sum = wait_sum + excluded.wait_sum;
    INSERT INTO rollup_combo_duration_days (project_id, combo, day, action_name, bucket, actions)
    SELECT old.project_id, json_array(old.environment, old.source, old.device, old.language, old.country), old.started_at / 86400000000, e.action_name, length(CAST(CAST(e.duration_ms AS INTEGER) AS TEXT)) * 1000 + CAST(substr(CAST(CAST(e.duration_ms AS INTEGER) AS TEXT), 1, 3) AS INTEGER), -(COUNT(*)) FROM events e
    WHERE e.project_id = old.project_id AND e.conversation_id = old.conversation_id AND e.action_name IS NOT NULL AND +e.duration_ms >= 0 AND +e.duration_ms <= 1e+12 GROUP BY e.action_name, length(CAST(CAST(e.duration_ms AS INTEGER) AS TEXT)) * 1000 + CAST(substr(CAST(CAST(e.duration_ms AS INTEGER) AS TEXT), 1, 3) AS INTEGER)
    ON CONFLICT (project_id, combo, day, action_name, bucket) DO UPDATE SET actions = actions + excluded.actions;
END;

-- A start moved into another day, or an attribute changed, takes the conversation's events along.
CREATE TRIGGER rollup_combo_histograms_move AFTER UPDATE OF started_at, environment, source, device, language, country ON conversations
WHEN NOT (old.started_at / 86400000000 = new.started_at / 86400000000 AND old.environment IS new.environment AND old.source IS new.source AND old.device IS new.device AND old.language IS new.language AND old.country IS new.country)
BEGIN
    INSERT INTO rollup_combo_wait_days (project_id, combo, day, bucket, waits, wait_sum)
    SELECT old.project_id, json_array(old.environment, old.source, old.device, old.language, old.country), old.started_at / 86400000000, length(CAST(e.response_wait AS TEXT)) * 1000 + CAST(substr(CAST(e.response_wait AS TEXT), 1, 3) AS INTEGER), -(COUNT(*)), -(COALESCE(SUM(e.response_wait), 0)) FROM events e
    WHERE e.project_id = old.project_id AND e.conversation_id = old.conversation_id AND e.response_wait IS NOT NULL GROUP BY length(CAST(e.response_wait AS TEXT)) * 1000 + CAST(substr(CAST(e.response_wait AS TEXT), 1, 3) AS INTEGER)
    ON CONFLICT (project_id, combo, day, bucket) DO UPDATE SET waits = waits + excluded.waits, wait_sum = wait_sum + excluded.wait_sum;
    INSERT INTO rollup_combo_duration_days (project_id, combo, day, action_name, bucket, actions)
    SELECT old.project_id, json_array(old.environment, old.source, old.device, old.language, old.country), old.started_at / 86400000000, e.action_name, length(CAST(CAST(e.duration_ms AS INTEGER) AS TEXT)) * 1000 + CAST(substr(CAST(CAST(e.duration_ms AS INTEGER) AS TEXT), 1, 3) AS INTEGER), -(COUNT(*)) FROM events e
    WHERE e.project_id = old.project_id AND e.conversation_id = old.conversation_id AND e.action_name IS NOT NULL AND +e.duration_ms >= 0 AND +e.duration_ms <= 1e+12 GROUP BY e.action_name, length(CAST(CAST(e.duration_ms AS INTEGER) AS TEXT)) * 1000 + CAST(substr(CAST(CAST(e.duration_ms AS INTEGER) AS TEXT), 1, 3) AS INTEGER)
    ON CONFLICT (project_id, combo, day, action_name, bucket) DO UPDATE SET actions = actions + excluded.actions;
    INSERT INTO rollup_combo_wait_days (project_id, combo, day, bucket, waits, wait_sum)
    SELECT new.project_id, json_array(new.environment, new.source, new.device, new.language, new.country), new.started_at / 86400000000, length(CAST(e.response_wait AS TEXT)) * 1000 + CAST(substr(CAST(e.response_wait AS TEXT), 1, 3) AS INTEGER), COUNT(*), COALESCE(SUM(e.response_wait), 0) FROM events e
    WHERE e.project_id = new.project_id AND e.conversation_id = new.conversation_id AND e.response_wait IS NOT NULL GROUP BY length(CAST(e.response_wait AS TEXT)) * 1000 + CAST(substr(CAST(e.response_wait AS TEXT), 1, 3) AS INTEGER)
    ON CONFLICT (project_id, combo, day, bucket) DO UPDATE SET waits = waits + excluded.waits, wait_sum = wait_sum + excluded.wait_sum;
    INSERT INTO rollup_combo_duration_days (project_id, combo, day, action_name, bucket, actions)
    SELECT new.project_id, json_array(new.environment, new.source, new.device, new.language, new.country), new.started_at / 86400000000, e.action_name, length(CAST(CAST(e.duration_ms AS INTEGER) AS TEXT)) * 1000 + CAST(substr(CAST(CAST(e.duration_ms AS INTEGER) AS TEXT), 1, 3) AS INTEGER), COUNT(*) FROM events e
    WHERE e.project_id = new.project_id AND e.conversation_id = new.conversation_id AND e.action_name IS NOT NULL AND +e.duration_ms >= 0 AND +e.duration_ms <= 1e+12 GROUP BY e.action_name, length(CAST(CAST(e.duration_ms AS INTEGER) AS TEXT)) * 1000 + CAST(substr(CAST(CAST(e.duration_ms AS INTEGER) AS TEXT), 1, 3) AS INTEGER)
    ON CONFLICT (project_id, combo, day, action_name, bucket) DO UPDATE SET actions = actions + excluded.actions;
END;
