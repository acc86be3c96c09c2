-- Version 18: the audit log filtered by actor and event together reads only the
-- entries it shows. Through audit_actor (actor, id) it walked every entry of the
-- actor, newest first, looking for the event: 180 ms for an agent key's 167,000
-- entries when none matched, on a database of a million pauses. The new index takes
-- audit_actor's place, so an entry writes no more indexes than before; the actor
-- alone is read as one ordered walk per event, merged by id (src/db/audit.rs).
CREATE INDEX audit_actor_event ON audit (actor, event, id);
DROP INDEX audit_actor;
