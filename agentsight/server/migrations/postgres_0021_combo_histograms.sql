-- Schema version 21: the histograms of the waits and the durations per combination of
-- attributes and UTC day of the start, kept by triggers, that GET /v1/metrics reads for
-- a request with attribute filters (see storage/_rollups.py):
--   rollup_combo_wait_days: per bucket of the response waits, the waits and their sum;
--   rollup_combo_duration_days: per tool and bucket of the timed durations from 0, the
--     actions.
-- Schema 11's rollup_wait_days and rollup_duration_days with schema 20's selection
-- (combo: the MD5 of the attributes' JSON array, which rollup_days keys, as every
-- rollup per combination now keys it: below).  They hold about a row per
-- value (a day's values of one combination rarely share a bucket), but a request reads
-- its combinations' rows in key order instead of each selected conversation's events by
-- an index seek; each percentile then reads its rank's bucket alone, as with schema 11's.
-- What they hold, at every commit: the waits and timed actions of every stored
-- conversation, under its start and attributes; a conversation whose day of start or
-- whose attributes change takes them along.  The statement triggers are schema 11's
-- with that selection.
-- The triggers read the other table: every writer of events or conversations takes its
-- project's rollup lock before any table (storage/postgres/_write.py: lock_rollups), so
-- taking every project's first waits for the writers under way and holds the next ones
-- back (as schemas 17 to 20 do).  Writes wait while the tables are built (a pass over
-- the waits and the actions).

SELECT pg_advisory_xact_lock(1919904876, id::int) FROM projects ORDER BY id;
LOCK TABLE conversations, events IN SHARE ROW EXCLUSIVE MODE;

-- First, the rollups per combination of schema 20 are keyed by the MD5 of their
-- combination (its JSON array, as rollup_days keys it), and their triggers write that:
-- a combination of the longest source and language (256 characters of 4 bytes each)
-- with the longest action name, model, score name or category outgrew PostgreSQL's
-- largest B-tree row (2704 bytes), which refused the whole batch.  Schema 20 as first
-- written keyed them by the array: its trigger functions' sources are rewritten (each
-- must then change) and its rows, whose arrays begin with '[', rehashed.  Schema 20 as
-- it is now writes the MD5 itself (a database migrating from 19 may already hold such a
-- batch): then nothing here changes.
DO $$
DECLARE
    f TEXT;
    a TEXT;
    body TEXT;
    before TEXT;
BEGIN
    FOREACH f IN ARRAY ARRAY['agentsight_combo_event_rollups', 'agentsight_combo_action_rollups',
                             'agentsight_conversation_combo_event_rollups',
                             'agentsight_conversation_combo_action_rollups'] LOOP
        body := pg_get_functiondef(f::regproc);
        IF position('md5(json_build_array(' IN body) = 0 THEN  -- schema 20 as first written
            before := body;
            FOREACH a IN ARRAY ARRAY['c', 'n', 'o'] LOOP
                body := replace(body,
                    format('json_build_array(%1$s.environment, %1$s.source, %1$s.device, %1$s.language, %1$s.country)::text', a),
                    format('md5(json_build_array(%1$s.environment, %1$s.source, %1$s.device, %1$s.language, %1$s.country)::text)', a));
            END LOOP;
            IF body = before THEN
                RAISE EXCEPTION 'schema 21: % names no combination', f;
            END IF;
            EXECUTE body;
        END IF;
    END LOOP;
END $$;

UPDATE rollup_combo_messages SET combo = md5(combo) WHERE combo LIKE '[%';
UPDATE rollup_combo_models SET combo = md5(combo) WHERE combo LIKE '[%';
UPDATE rollup_combo_tools SET combo = md5(combo) WHERE combo LIKE '[%';
UPDATE rollup_combo_buttons SET combo = md5(combo) WHERE combo LIKE '[%';
UPDATE rollup_combo_scores SET combo = md5(combo) WHERE combo LIKE '[%';
UPDATE rollup_combo_score_values SET combo = md5(combo) WHERE combo LIKE '[%';

CREATE TABLE rollup_combo_wait_days (
    project_id BIGINT NOT NULL,
    combo TEXT NOT NULL,
    day BIGINT NOT NULL,
    bucket BIGINT NOT NULL,
    waits BIGINT NOT NULL,
    wait_sum BIGINT NOT NULL,
    PRIMARY KEY (project_id, combo, day, bucket)
);

CREATE TABLE rollup_combo_duration_days (
    project_id BIGINT NOT NULL,
    combo TEXT NOT NULL,
    day BIGINT NOT NULL,
    action_name TEXT NOT NULL,
    bucket BIGINT NOT NULL,
    actions BIGINT NOT NULL,
    PRIMARY KEY (project_id, combo, day, action_name, bucket)
);

INSERT INTO rollup_combo_wait_days (project_id, combo, day, bucket, waits, wait_sum)
SELECT c.project_id, md5(json_build_array(c.environment, c.source, c.device, c.language, c.country)::text), c.started_at / 86400000000, length((e.response_wait)::text) * 1000 + substr((e.response_wait)::text, 1, 3)::int, COUNT(*), COALESCE(SUM(e.response_wait), 0)
FROM events e JOIN conversations c ON c.project_id = e.project_id AND c.conversation_id = e.conversation_id
WHERE e.response_wait IS NOT NULL GROUP BY 1, 2, 3, 4;

INSERT INTO rollup_combo_duration_days (project_id, combo, day, action_name, bucket, actions)
SELECT c.project_id, md5(json_build_array(c.environment, c.source, c.device, c.language, c.country)::text), c.started_at / 86400000000, e.action_name, length((trunc(e.duration_ms)::bigint)::text) * 1000 + substr((trunc(e.duration_ms)::bigint)::text, 1, 3)::int, COUNT(*)
FROM events e JOIN conversations c ON c.project_id = e.project_id AND c.conversation_id = e.conversation_id
WHERE e.action_name IS NOT NULL AND e.duration_ms >= 0 AND e.duration_ms <= 1e+12 GROUP BY 1, 2, 3, 4, 5;

-- Statistics now: until autovacuum's first look, the planner would take millions of rows
-- for a few thousand and read every combination's days to pick the selected ones.
ANALYZE rollup_combo_wait_days, rollup_combo_duration_days, rollup_combo_messages,
    rollup_combo_models, rollup_combo_tools, rollup_combo_buttons, rollup_combo_scores,
    rollup_combo_score_values;

CREATE FUNCTION agentsight_combo_histograms() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO rollup_combo_wait_days (project_id, combo, day, bucket, waits, wait_sum)
        SELECT project_id, combo, day, bucket, SUM(waits), SUM(wait_sum) FROM (
            SELECT c.project_id, md5(json_build_array(c.environment, c.source, c.device, c.language, c.country)::text), c.started_at / 86400000000, length((n.response_wait)::text) * 1000 + substr((n.response_wait)::text, 1, 3)::int, COUNT(*), COALESCE(SUM(n.response_wait), 0) FROM new_rows n JOIN conversations c ON c.project_id = n.project_id AND c.conversation_id = n.conversation_id WHERE n.response_wait IS NOT NULL GROUP BY 1, 2, 3, 4
        ) AS d (project_id, combo, day, bucket, waits, wait_sum)
        GROUP BY project_id, combo, day, bucket HAVING SUM(waits) <> 0 OR SUM(wait_sum) <> 0
        ORDER BY project_id, combo, day, bucket
        ON CONFLICT (project_id, combo, day, bucket) DO UPDATE SET waits = rollup_combo_wait_days.waits + excluded.waits, wait_sum = rollup_combo_wait_days.wait_sum + excluded.wait_sum;
        INSERT INTO rollup_combo_duration_days (project_id, combo, day, action_name, bucket, actions)
        SELECT project_id, combo, day, action_name, bucket, SUM(actions) FROM (
            SELECT c.project_id, md5(json_build_array(c.environment, c.source, c.device, c.language, c.country)::text), c.started_at / 86400000000, n.action_name, length((trunc(n.duration_ms)::bigint)::text) * 1000 + substr((trunc(n.duration_ms)::bigint)::text, 1, 3)::int, COUNT(*) FROM new_rows n JOIN conversations c ON c.project_id = n.project_id AND c.conversation_id = n.conversation_id WHERE n.action_name IS NOT NULL AND n.duration_ms >= 0 AND n.duration_ms <= 1e+12 GROUP BY 1, 2, 3, 4, 5
        ) AS d (project_id, combo, day, action_name, bucket, actions)
        GROUP BY project_id, combo, day, action_name, bucket HAVING SUM(actions) <> 0
        ORDER BY project_id, combo, day, action_name, bucket
        ON CONFLICT (project_id, combo, day, action_name, bucket) DO UPDATE SET actions = rollup_combo_duration_days.actions + excluded.actions;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO rollup_combo_wait_days (project_id, combo, day, bucket, waits, wait_sum)
        SELECT project_id, combo, day, bucket, SUM(waits), SUM(wait_sum) FROM (
            SELECT c.project_id, md5(json_build_array(c.environment, c.source, c.device, c.language, c.country)::text), c.started_at / 86400000000, length((o.response_wait)::text) * 1000 + substr((o.response_wait)::text, 1, 3)::int, -(COUNT(*)), -(COALESCE(SUM(o.response_wait), 0)) FROM old_rows o JOIN conversations c ON c.project_id = o.project_id AND c.conversation_id = o.conversation_id WHERE o.response_wait IS NOT NULL GROUP BY 1, 2, 3, 4
        ) AS d (project_id, combo, day, bucket, waits, wait_sum)
        GROUP BY project_id, combo, day, bucket HAVING SUM(waits) <> 0 OR SUM(wait_sum) <> 0
        ORDER BY project_id, combo, day, bucket
        ON CONFLICT (project_id, combo, day, bucket) DO UPDATE SET waits = rollup_combo_wait_days.waits + excluded.waits, wait_sum = rollup_combo_wait_days.wait_sum + excluded.wait_sum;
        INSERT INTO rollup_combo_duration_days (project_id, combo, day, action_name, bucket, actions)
        SELECT project_id, combo, day, action_name, bucket, SUM(actions) FROM (
            SELECT c.project_id, md5(json_build_array(c.environment, c.source, c.device, c.language, c.country)::text), c.started_at / 86400000000, o.action_name, length((trunc(o.duration_ms)::bigint)::text) * 1000 + substr((trunc(o.duration_ms)::bigint)::text, 1, 3)::int, -(COUNT(*)) FROM old_rows o JOIN conversations c ON c.project_id = o.project_id AND c.conversation_id = o.conversation_id WHERE o.action_name IS NOT NULL AND o.duration_ms >= 0 AND o.duration_ms <= 1e+12 GROUP BY 1, 2, 3, 4, 5
        ) AS d (project_id, combo, day, action_name, bucket, actions)
        GROUP BY project_id, combo, day, action_name, bucket HAVING SUM(actions) <> 0
        ORDER BY project_id, combo, day, action_name, bucket
        ON CONFLICT (project_id, combo, day, action_name, bucket) DO UPDATE SET actions = rollup_combo_duration_days.actions + excluded.actions;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO rollup_combo_wait_days (project_id, combo, day, bucket, waits, wait_sum)
        SELECT project_id, combo, day, bucket, SUM(waits), SUM(wait_sum) FROM (
            SELECT c.project_id, md5(json_build_array(c.environment, c.source, c.device, c.language, c.country)::text), c.started_at / 86400000000, length((o.response_wait)::text) * 1000 + substr((o.response_wait)::text, 1, 3)::int, -(COUNT(*)), -(COALESCE(SUM(o.response_wait), 0)) FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.id = o.id JOIN conversations c ON c.project_id = n.project_id AND c.conversation_id = n.conversation_id WHERE o.response_wait IS DISTINCT FROM n.response_wait AND o.response_wait IS NOT NULL GROUP BY 1, 2, 3, 4 UNION ALL SELECT c.project_id, md5(json_build_array(c.environment, c.source, c.device, c.language, c.country)::text), c.started_at / 86400000000, length((n.response_wait)::text) * 1000 + substr((n.response_wait)::text, 1, 3)::int, COUNT(*), COALESCE(SUM(n.response_wait), 0) FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.id = o.id JOIN conversations c ON c.project_id = n.project_id AND c.conversation_id = n.conversation_id WHERE o.response_wait IS DISTINCT FROM n.response_wait AND n.response_wait IS NOT NULL GROUP BY 1, 2, 3, 4
        ) AS d (project_id, combo, day, bucket, waits, wait_sum)
        GROUP BY project_id, combo, day, bucket HAVING SUM(waits) <> 0 OR SUM(wait_sum) <> 0
        ORDER BY project_id, combo, day, bucket
        ON CONFLICT (project_id, combo, day, bucket) DO UPDATE SET waits = rollup_combo_wait_days.waits + excluded.waits, wait_sum = rollup_combo_wait_days.wait_sum + excluded.wait_sum;
    END IF;
    RETURN NULL;
END$$;

CREATE TRIGGER rollup_combo_histograms_add AFTER INSERT ON events
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION agentsight_combo_histograms();

CREATE TRIGGER rollup_combo_histograms_remove AFTER DELETE ON events
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION agentsight_combo_histograms();

-- A response wait is set, and changed, after its message is stored.
CREATE TRIGGER rollup_combo_waits_change AFTER UPDATE ON events
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION agentsight_combo_histograms();

CREATE FUNCTION agentsight_conversation_combo_histograms() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO rollup_combo_wait_days (project_id, combo, day, bucket, waits, wait_sum)
        SELECT project_id, combo, day, bucket, SUM(waits), SUM(wait_sum) FROM (
            SELECT n.project_id, md5(json_build_array(n.environment, n.source, n.device, n.language, n.country)::text), n.started_at / 86400000000, length((e.response_wait)::text) * 1000 + substr((e.response_wait)::text, 1, 3)::int, COUNT(*), COALESCE(SUM(e.response_wait), 0) FROM new_rows n JOIN events e ON e.project_id = n.project_id AND e.conversation_id = n.conversation_id WHERE e.response_wait IS NOT NULL GROUP BY 1, 2, 3, 4
        ) AS d (project_id, combo, day, bucket, waits, wait_sum)
        GROUP BY project_id, combo, day, bucket HAVING SUM(waits) <> 0 OR SUM(wait_sum) <> 0
        ORDER BY project_id, combo, day, bucket
        ON CONFLICT (project_id, combo, day, bucket) DO UPDATE SET waits = rollup_combo_wait_days.waits + excluded.waits, wait_sum = rollup_combo_wait_days.wait_sum + excluded.wait_sum;
        INSERT INTO rollup_combo_duration_days (project_id, combo, day, action_name, bucket, actions)
        SELECT project_id, combo, day, action_name, bucket, SUM(actions) FROM (
            SELECT n.project_id, md5(json_build_array(n.environment, n.source, n.device, n.language, n.country)::text), n.started_at / 86400000000, e.action_name, length((trunc(e.duration_ms)::bigint)::text) * 1000 + substr((trunc(e.duration_ms)::bigint)::text, 1, 3)::int, COUNT(*) FROM new_rows n JOIN events e ON e.project_id = n.project_id AND e.conversation_id = n.conversation_id WHERE e.action_name IS NOT NULL AND e.duration_ms >= 0 AND e.duration_ms <= 1e+12 GROUP BY 1, 2, 3, 4, 5
        ) AS d (project_id, combo, day, action_name, bucket, actions)
        GROUP BY project_id, combo, day, action_name, bucket HAVING SUM(actions) <> 0
        ORDER BY project_id, combo, day, action_name, bucket
        ON CONFLICT (project_id, combo, day, action_name, bucket) DO UPDATE SET actions = rollup_combo_duration_days.actions + excluded.actions;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO rollup_combo_wait_days (project_id, combo, day, bucket, waits, wait_sum)
        SELECT project_id, combo, day, bucket, SUM(waits), SUM(wait_sum) FROM (
            SELECT o.project_id, md5(json_build_array(o.environment, o.source, o.device, o.language, o.country)::text), o.started_at / 86400000000, length((e.response_wait)::text) * 1000 + substr((e.response_wait)::text, 1, 3)::int, -(COUNT(*)), -(COALESCE(SUM(e.response_wait), 0)) FROM old_rows o JOIN events e ON e.project_id = o.project_id AND e.conversation_id = o.conversation_id WHERE e.response_wait IS NOT NULL GROUP BY 1, 2, 3, 4
        ) AS d (project_id, combo, day, bucket, waits, wait_sum)
        GROUP BY project_id, combo, day, bucket HAVING SUM(waits) <> 0 OR SUM(wait_sum) <> 0
        ORDER BY project_id, combo, day, bucket
        ON CONFLICT (project_id, combo, day, bucket) DO UPDATE SET waits = rollup_combo_wait_days.waits + excluded.waits, wait_sum = rollup_combo_wait_days.wait_sum + excluded.wait_sum;
        INSERT INTO rollup_combo_duration_days (project_id, combo, day, action_name, bucket, actions)
        SELECT project_id, combo, day, action_name, bucket, SUM(actions) FROM (
            SELECT o.project_id, md5(json_build_array(o.environment, o.source, o.device, o.language, o.country)::text), o.started_at / 86400000000, e.action_name, length((trunc(e.duration_ms)::bigint)::text) * 1000 + substr((trunc(e.duration_ms)::bigint)::text, 1, 3)::int, -(COUNT(*)) FROM old_rows o JOIN events e ON e.project_id = o.project_id AND e.conversation_id = o.conversation_id WHERE e.action_name IS NOT NULL AND e.duration_ms >= 0 AND e.duration_ms <= 1e+12 GROUP BY 1, 2, 3, 4, 5
        ) AS d (project_id, combo, day, action_name, bucket, actions)
        GROUP BY project_id, combo, day, action_name, bucket HAVING SUM(actions) <> 0
        ORDER BY project_id, combo, day, action_name, bucket
        ON CONFLICT (project_id, combo, day, action_name, bucket) DO UPDATE SET actions = rollup_combo_duration_days.actions + excluded.actions;
    ELSIF TG_OP = 'UPDATE' THEN
        IF NOT EXISTS (SELECT 1 FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE (o.started_at / 86400000000 <> n.started_at / 86400000000 OR o.environment IS DISTINCT FROM n.environment OR o.source IS DISTINCT FROM n.source OR o.device IS DISTINCT FROM n.device OR o.language IS DISTINCT FROM n.language OR o.country IS DISTINCT FROM n.country)) THEN
            RETURN NULL;
        END IF;
        INSERT INTO rollup_combo_wait_days (project_id, combo, day, bucket, waits, wait_sum)
        SELECT project_id, combo, day, bucket, SUM(waits), SUM(wait_sum) FROM (
            SELECT m.project_id, m.was_combo, m.was / 86400000000, length((e.response_wait)::text) * 1000 + substr((e.response_wait)::text, 1, 3)::int, -(COUNT(*)), -(COALESCE(SUM(e.response_wait), 0)) FROM (SELECT o.project_id, o.conversation_id, md5(json_build_array(o.environment, o.source, o.device, o.language, o.country)::text) AS was_combo, o.started_at AS was, md5(json_build_array(n.environment, n.source, n.device, n.language, n.country)::text) AS now_combo, n.started_at AS now FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE (o.started_at / 86400000000 <> n.started_at / 86400000000 OR o.environment IS DISTINCT FROM n.environment OR o.source IS DISTINCT FROM n.source OR o.device IS DISTINCT FROM n.device OR o.language IS DISTINCT FROM n.language OR o.country IS DISTINCT FROM n.country)) m JOIN events e ON e.project_id = m.project_id AND e.conversation_id = m.conversation_id WHERE e.response_wait IS NOT NULL GROUP BY 1, 2, 3, 4 UNION ALL SELECT m.project_id, m.now_combo, m.now / 86400000000, length((e.response_wait)::text) * 1000 + substr((e.response_wait)::text, 1, 3)::int, COUNT(*), COALESCE(SUM(e.response_wait), 0) FROM (SELECT o.project_id, o.conversation_id, md5(json_build_array(o.environment, o.source, o.device, o.language, o.country)::text) AS was_combo, o.started_at AS was, md5(json_build_array(n.environment, n.source, n.device, n.language, n.country)::text) AS now_combo, n.started_at AS now FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE (o.started_at / 86400000000 <> n.started_at / 86400000000 OR o.environment IS DISTINCT FROM n.environment OR o.source IS DISTINCT FROM n.source OR o.device IS DISTINCT FROM n.device OR o.language IS DISTINCT FROM n.language OR o.country IS DISTINCT FROM n.country)) m JOIN events e ON e.project_id = m.project_id AND e.conversation_id = m.conversation_id WHERE e.response_wait IS NOT NULL GROUP BY 1, 2, 3, 4
        ) AS d (project_id, combo, day, bucket, waits, wait_sum)
        GROUP BY project_id, combo, day, bucket HAVING SUM(waits) <> 0 OR SUM(wait_sum) <> 0
        ORDER BY project_id, combo, day, bucket
        ON CONFLICT (project_id, combo, day, bucket) DO UPDATE SET waits = rollup_combo_wait_days.waits + excluded.waits, wait_sum = rollup_combo_wait_days.wait_sum + excluded.wait_sum;
        INSERT INTO rollup_combo_duration_days (project_id, combo, day, action_name, bucket, actions)
        SELECT project_id, combo, day, action_name, bucket, SUM(actions) FROM (
            SELECT m.project_id, m.was_combo, m.was / 86400000000, e.action_name, length((trunc(e.duration_ms)::bigint)::text) * 1000 + substr((trunc(e.duration_ms)::bigint)::text, 1, 3)::int, -(COUNT(*)) FROM (SELECT o.project_id, o.conversation_id, md5(json_build_array(o.environment, o.source, o.device, o.language, o.country)::text) AS was_combo, o.started_at AS was, md5(json_build_array(n.environment, n.source, n.device, n.language, n.country)::text) AS now_combo, n.started_at AS now FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE (o.started_at / 86400000000 <> n.started_at / 86400000000 OR o.environment IS DISTINCT FROM n.environment OR o.source IS DISTINCT FROM n.source OR o.device IS DISTINCT FROM n.device OR o.language IS DISTINCT FROM n.language OR o.country IS DISTINCT FROM n.country)) m JOIN events e ON e.project_id = m.project_id AND e.conversation_id = m.conversation_id WHERE e.action_name IS NOT NULL AND e.duration_ms >= 0 AND e.duration_ms <= 1e+12 GROUP BY 1, 2, 3, 4, 5 UNION ALL SELECT m.project_id, m.now_combo, m.now / 86400000000, e.action_name, length((trunc(e.duration_ms)::bigint)::text) * 1000 + substr((trunc(e.duration_ms)::bigint)::text, 1, 3)::int, COUNT(*) FROM (SELECT o.project_id, o.conversation_id, md5(json_build_array(o.environment, o.source, o.device, o.language, o.country)::text) AS was_combo, o.started_at AS was, md5(json_build_array(n.environment, n.source, n.device, n.language, n.country)::text) AS now_combo, n.started_at AS now FROM old_rows o JOIN new_rows n ON n.project_id = o.project_id AND n.conversation_id = o.conversation_id WHERE (o.started_at / 86400000000 <> n.started_at / 86400000000 OR o.environment IS DISTINCT FROM n.environment OR o.source IS DISTINCT FROM n.source OR o.device IS DISTINCT FROM n.device OR o.language IS DISTINCT FROM n.language OR o.country IS DISTINCT FROM n.country)) m JOIN events e ON e.project_id = m.project_id AND e.conversation_id = m.conversation_id WHERE e.action_name IS NOT NULL AND e.duration_ms >= 0 AND e.duration_ms <= 1e+12 GROUP BY 1, 2, 3, 4, 5
        ) AS d (project_id, combo, day, action_name, bucket, actions)
        GROUP BY project_id, combo, day, action_name, bucket HAVING SUM(actions) <> 0
        ORDER BY project_id, combo, day, action_name, bucket
        ON CONFLICT (project_id, combo, day, action_name, bucket) DO UPDATE SET actions = rollup_combo_duration_days.actions + excluded.actions;
    END IF;
    RETURN NULL;
END$$;

CREATE TRIGGER rollup_combo_histograms_add AFTER INSERT ON conversations
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION agentsight_conversation_combo_histograms();

CREATE TRIGGER rollup_combo_histograms_remove AFTER DELETE ON conversations
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION agentsight_conversation_combo_histograms();

CREATE TRIGGER rollup_combo_histograms_move AFTER UPDATE ON conversations
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION agentsight_conversation_combo_histograms();
