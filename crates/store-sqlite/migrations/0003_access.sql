-- Bindery embedded schema, version 3: who may do what, and a hash-chained audit trail
-- (the same tables and rules as PostgreSQL's 0003_access.sql).

CREATE TABLE api_tokens (
    id          TEXT    PRIMARY KEY,
    principal   TEXT    NOT NULL,
    description TEXT    NOT NULL,
    hash        TEXT    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    created_by  TEXT    NOT NULL,
    expires_at  INTEGER,
    revoked_at  INTEGER,
    revision    INTEGER NOT NULL
);
CREATE INDEX api_tokens_principal_idx ON api_tokens (principal, id);

CREATE TABLE grants (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    subject    TEXT    NOT NULL,
    role       TEXT    NOT NULL CHECK (role IN ('VIEWER', 'CONTRIBUTOR', 'APPROVER', 'ADMIN')),
    scope      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT    NOT NULL,
    revision   INTEGER NOT NULL,
    UNIQUE (subject, role, scope)
);

CREATE TABLE binding_protections (
    binding    TEXT    NOT NULL,
    scope      TEXT    NOT NULL,
    protected  INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT    NOT NULL,
    revision   INTEGER NOT NULL,
    PRIMARY KEY (binding, scope)
);

ALTER TABLE audit_log ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_log ADD COLUMN hash TEXT;
