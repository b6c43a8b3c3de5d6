-- Schema version 13: the files of attachment events that are no longer stored.
-- Files were kept in a second step after their event: a conversation deleted in
-- between (through the API, by retention or erasure) left them behind, where
-- nothing reads or deletes them; and files sent under the id of another
-- conversation's event, or of an event of another kind, were never deleted with
-- it.  Now kept only while their event is stored (put_files checks, in its
-- transaction), so those left before go now: one anti-join of attachment_files
-- with the attachment events (an index of events has the type; a small table
-- seeks the events' primary key), the files' bytes, in TOAST, left unread.
DELETE FROM attachment_files AS f
WHERE NOT EXISTS (
    SELECT 1 FROM events AS e
    WHERE e.project_id = f.project_id
        AND e.id = f.event_id
        AND e.type = 'attachment'
        AND e.conversation_id = f.conversation_id
);
