-- Bindery embedded schema, version 2: verified artifacts, version deletes and upload sessions.

ALTER TABLE versions ADD COLUMN artifact_verification TEXT NOT NULL DEFAULT 'null';
ALTER TABLE versions ADD COLUMN deleted_at INTEGER;

CREATE TABLE upload_sessions (
    id         TEXT    PRIMARY KEY CHECK (length(id) = 36),
    model_id   INTEGER NOT NULL REFERENCES models (id),
    bucket     TEXT    NOT NULL,
    prefix     TEXT    NOT NULL,
    files      TEXT    NOT NULL,
    state      TEXT    NOT NULL CHECK (state IN ('OPEN', 'REGISTERED', 'EXPIRED')),
    version    INTEGER,
    created_at INTEGER NOT NULL,
    created_by TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    CHECK ((state = 'REGISTERED') = (version IS NOT NULL))
);
CREATE INDEX upload_sessions_open_idx ON upload_sessions (expires_at) WHERE state = 'OPEN';
