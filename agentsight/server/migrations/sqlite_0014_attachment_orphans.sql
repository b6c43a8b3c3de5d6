-- Schema version 14: the files of attachment events that are no longer stored.
-- Files were kept in a second step after their event: a conversation deleted in
-- between (through the API, by retention or erasure) left them behind, where
-- nothing reads or deletes them; and files sent under the id of another
-- conversation's event, or of an event of another kind, were never deleted with
-- it.  Now kept only while their event is stored (put_files checks, in its
-- transaction), so those left before go now: one pass over attachment_files,
-- each row a seek in the events' primary key.
DELETE FROM attachment_files
WHERE NOT EXISTS (
    SELECT 1 FROM events
    WHERE events.project_id = attachment_files.project_id
        AND events.id = attachment_files.event_id
        AND events.type = 'attachment'
        AND events.conversation_id = attachment_files.conversation_id
);
