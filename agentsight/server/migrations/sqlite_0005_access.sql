-- Schema version 5: who may do what, for how long data is kept, and who did
-- what (issue 17).
--
-- Keys get a scope (ingest, read or admin).  Every key made before this
-- schema could do everything, and keeps every right it had: they become admin
-- keys.  (The column default only fills the rows that exist now: the
-- collector names the scope of each key it creates.)  last_used_at is written
-- by the collector at most once a minute per key, never on the request path.
ALTER TABLE api_keys ADD COLUMN scope TEXT NOT NULL DEFAULT 'admin'
    CHECK (scope IN ('ingest', 'read', 'admin'));
ALTER TABLE api_keys ADD COLUMN last_used_at INTEGER;

-- Days a conversation is kept after its last event; NULL: for ever.
ALTER TABLE projects ADD COLUMN retention_days INTEGER;

-- People who sign in to the dashboard.  email is kept lower-cased; the
-- password as an scrypt string (algorithm, cost, salt and hash together).
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'admin')),
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- The projects a viewer may see (an admin sees every project).
CREATE TABLE user_projects (
    user_id INTEGER NOT NULL REFERENCES users (id),
    project_id INTEGER NOT NULL REFERENCES projects (id),
    PRIMARY KEY (user_id, project_id)
);

-- Dashboard sessions: the SHA-256 of the cookie's token, never the token.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    address TEXT
);

CREATE INDEX sessions_by_user ON sessions (user_id);

-- Who did what, when, from where.  project_id is NULL for what concerns the
-- whole collector (users); details is a JSON object.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    project_id INTEGER,
    target TEXT,
    details TEXT,
    address TEXT
);

CREATE INDEX audit_by_project ON audit_log (project_id, id);

-- Retention finds a project's conversations by their last event, oldest
-- first; erasure finds them by customer.
CREATE INDEX conversations_by_age ON conversations (project_id, ended_at);
CREATE INDEX conversations_by_customer ON conversations (project_id, customer_id);
