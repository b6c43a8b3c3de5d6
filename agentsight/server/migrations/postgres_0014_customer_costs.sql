-- Schema version 14: conversations_by_customer also holds the cost columns,
-- so GET /v1/metrics reads its customers figures (unique users, returning
-- customers, weekly cohorts, the top customers by cost) in one pass over the
-- index (an index-only scan), in its order.  It serves every use of the
-- index it replaces.  Writes wait while it is built (seconds per million
-- conversations).
DROP INDEX conversations_by_customer;
CREATE INDEX conversations_by_customer ON conversations (project_id, customer_id, started_at)
    INCLUDE (priced_calls, cost_nanos, unpriced_calls);
