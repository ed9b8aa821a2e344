-- Bindery schema, version 4: the audit chain's head hash lives in the row every write already
-- locks and updates, so appending to the chain costs no extra query.
ALTER TABLE registry_state ADD COLUMN audit_head text NOT NULL DEFAULT '';
UPDATE registry_state SET audit_head = COALESCE(
    (SELECT hash FROM audit_log WHERE hash IS NOT NULL ORDER BY id DESC LIMIT 1), '');
