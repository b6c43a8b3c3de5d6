-- Schema version 11: the actions and the response waits of one conversation
-- in an index of their own, holding what the metrics read of them, so a
-- request that selects conversations (a range of starts, attribute filters)
-- reads each selected conversation's tools, escalations and waits from the
-- index alone instead of a table row per event.
CREATE INDEX events_actions_by_conversation ON events (
    project_id, conversation_id, action_name, duration_ms, is_error
) WHERE action_name IS NOT NULL;
CREATE INDEX events_waits_by_conversation ON events (project_id, conversation_id, response_wait)
    WHERE response_wait IS NOT NULL;
