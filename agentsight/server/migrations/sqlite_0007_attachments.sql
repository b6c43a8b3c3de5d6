-- Schema version 7: the bytes of attachment events (the official SDKs'
-- POST /api/attachments/), kept beside the event that describes them: one row
-- per file, in the event's order.  Deleting the event (a conversation's
-- deletion, retention, erasure) deletes its files, by the trigger, so no
-- deletion path has to know about them.
CREATE TABLE attachment_files (
    project_id INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    conversation_id TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (project_id, event_id, idx)
);

CREATE TRIGGER attachment_files_follow_events AFTER DELETE ON events
WHEN old.type = 'attachment'
BEGIN
    DELETE FROM attachment_files WHERE project_id = old.project_id AND event_id = old.id;
END;
