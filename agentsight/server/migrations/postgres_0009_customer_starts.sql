-- Schema version 9: conversations_by_customer also holds the start, so the
-- customers figures of GET /v1/metrics (unique users, returning customers,
-- weekly cohorts) read the index alone, in its order, instead of a table row
-- per conversation.  It serves every use of the index it replaces.  Writes
-- wait while it is built (seconds per million conversations).
DROP INDEX conversations_by_customer;
CREATE INDEX conversations_by_customer ON conversations (project_id, customer_id, started_at);
