-- Schema version 1 of the SQLite collector database.
-- Times are integer microseconds since the epoch (UTC); JSON is stored as text.

CREATE TABLE projects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects (id),
    key_hash TEXT NOT NULL UNIQUE,
    redacted TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

-- pk only grows (AUTOINCREMENT), so it orders conversations by creation and
-- gives stable keyset pagination.
CREATE TABLE conversations (
    pk INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects (id),
    conversation_id TEXT NOT NULL,
    customer_id TEXT,
    customer_ip_address TEXT,
    device TEXT,
    source TEXT,
    language TEXT,
    name TEXT,
    environment TEXT,
    metadata TEXT,
    country TEXT,
    is_used INTEGER NOT NULL DEFAULT 0,
    is_marked INTEGER NOT NULL DEFAULT 0,
    started_at INTEGER NOT NULL,
    ended_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    event_count INTEGER NOT NULL DEFAULT 0,
    message_count INTEGER NOT NULL DEFAULT 0,
    end_user_message_count INTEGER NOT NULL DEFAULT 0,
    agent_message_count INTEGER NOT NULL DEFAULT 0,
    action_count INTEGER NOT NULL DEFAULT 0,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    total_tokens INTEGER NOT NULL DEFAULT 0,
    embedding_tokens INTEGER NOT NULL DEFAULT 0,
    UNIQUE (project_id, conversation_id)
);

CREATE INDEX conversations_by_project ON conversations (project_id, pk);

CREATE TABLE events (
    project_id INTEGER NOT NULL,
    id TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    type TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    payload TEXT NOT NULL,
    -- The text of a message, kept out of payload so that search reads one column.
    content TEXT,
    PRIMARY KEY (project_id, id)
);

CREATE INDEX events_by_conversation ON events (project_id, conversation_id, ts, seq);

CREATE TABLE feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL,
    conversation_id TEXT NOT NULL,
    sentiment TEXT NOT NULL,
    comment TEXT,
    metadata TEXT,
    created_at INTEGER NOT NULL
);

CREATE INDEX feedback_by_conversation ON feedback (project_id, conversation_id);
