-- Schema version 17: GET /v1/metrics over a long range (all time, say) sums
-- the durations' histogram per tool and bucket over every day's rows of
-- rollup_duration_days, and the score values per score and value over every
-- quarter hour's rows of rollup_score_values.  These indexes hold those
-- groups in order and every column read, so the sums stream from them
-- instead of sorting every row first (SQLite sorts; PostgreSQL hashes).
-- Writes wait while they are built.
CREATE INDEX rollup_durations_by_bucket
    ON rollup_duration_days (project_id, action_name, bucket, actions);
CREATE INDEX rollup_score_values_by_value
    ON rollup_score_values (project_id, score_name, score_value, score_label, scores);
