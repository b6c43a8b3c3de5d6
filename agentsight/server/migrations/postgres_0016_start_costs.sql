-- Schema version 16: conversations_by_start also holds the customer and the
-- cost columns, so GET /v1/metrics's customers figures over a range (the
-- last 30 days, say) read the range's entries alone (an index-only scan)
-- instead of the whole project's conversations_by_customer.  Its key is
-- unchanged: it serves every use of the index it replaces.  Writes wait while
-- it is built (about a second per million conversations).
DROP INDEX conversations_by_start;
CREATE INDEX conversations_by_start ON conversations (project_id, started_at)
    INCLUDE (customer_id, priced_calls, cost_nanos, unpriced_calls);
