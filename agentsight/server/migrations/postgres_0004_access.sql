-- Schema version 4: who may do what, for how long data is kept, and who did
-- what (issue 17); the same tables as SQLite's schema 5.
--
-- Keys get a scope (ingest, read or admin).  Every key made before this
-- schema could do everything, and keeps every right it had: they become admin
-- keys.  New keys name their scope (the default is dropped).
ALTER TABLE api_keys
    ADD COLUMN scope TEXT NOT NULL DEFAULT 'admin'
        CHECK (scope IN ('ingest', 'read', 'admin')),
    ADD COLUMN last_used_at BIGINT;
ALTER TABLE api_keys ALTER COLUMN scope DROP DEFAULT;

-- Days a conversation is kept after its last event; NULL: for ever.
ALTER TABLE projects ADD COLUMN retention_days INTEGER;

CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'admin')),
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE user_projects (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL REFERENCES projects (id),
    PRIMARY KEY (user_id, project_id)
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    address TEXT
);

CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    project_id BIGINT,
    target TEXT,
    details TEXT,
    address TEXT
);

CREATE INDEX audit_by_project ON audit_log (project_id, id);

CREATE INDEX conversations_by_age ON conversations (project_id, ended_at);
CREATE INDEX conversations_by_customer ON conversations (project_id, customer_id);
