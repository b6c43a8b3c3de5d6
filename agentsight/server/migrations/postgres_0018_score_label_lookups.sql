-- Schema version 18: the list's category filters (?score=...&score_value=...) find
-- their scores by index again.  events_scores no longer holds the category (schema 17:
-- with the name and the conversation it could outgrow a B-tree row), so a category's
-- scores were found by reading every score of the name from the table.
--   events_score_labels: the scores with a category, by name, the category's MD5 (32
--     characters, where the category is up to 256) and conversation: a category's
--     scores are read, and a conversation's looked up, without the other scores of the
--     name.  The readers match the MD5 and the category itself, so two categories
--     whose MD5s collide are still told apart;
--   rollup_score_labels: the rollups' scores per name and category, read whole by
--     index, so the list knows that a category is common (and walks its order)
--     before it reads any of its scores.
-- Writers wait while the indexes are built (one pass over the events); readers do not.
-- Every writer of events, conversations and their rollups takes its project's rollup
-- lock before any table (storage/postgres/_write.py: lock_rollups; 0x726F6C6C, the
-- project): taking every project's first waits for the writers under way and holds
-- the next ones back before they lock anything, so the table locks cannot deadlock
-- with a writer that takes them in another order (a batch writes the events first, a
-- deletion the conversation first).

SELECT pg_advisory_xact_lock(1919904876, id::int) FROM projects ORDER BY id;
LOCK TABLE events, rollup_score_values IN SHARE MODE;

CREATE INDEX events_score_labels ON events (project_id, score_name, md5(score_label), conversation_id)
    WHERE score_label IS NOT NULL;

CREATE INDEX rollup_score_labels ON rollup_score_values (project_id, score_name, score_label)
    INCLUDE (scores) WHERE score_label IS NOT NULL;
