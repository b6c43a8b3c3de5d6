-- Schema version 6: the bytes of attachment events (the official SDKs'
-- POST /api/attachments/), kept beside the event that describes them: one row
-- per file, in the event's order.  Deleting the event (a conversation's
-- deletion, retention, erasure) deletes its files, by the trigger, so no
-- deletion path has to know about them.
CREATE TABLE attachment_files (
    project_id BIGINT NOT NULL,
    event_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    conversation_id TEXT NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (project_id, event_id, idx)
);

CREATE FUNCTION agentsight_drop_attachment_files() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM attachment_files WHERE project_id = OLD.project_id AND event_id = OLD.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER attachment_files_follow_events AFTER DELETE ON events
FOR EACH ROW WHEN (OLD.type = 'attachment')
EXECUTE FUNCTION agentsight_drop_attachment_files();
