-- Bindery embedded schema, version 1: the PostgreSQL schema in SQLite's dialect.
-- Timestamps are microseconds since the Unix epoch; JSON columns are TEXT.

CREATE TABLE registry_state (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    revision  INTEGER NOT NULL CHECK (revision >= 0)
);
INSERT INTO registry_state (singleton, revision) VALUES (1, 0);

CREATE TABLE models (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL UNIQUE,
    description  TEXT    NOT NULL,
    owner        TEXT    NOT NULL,
    tags         TEXT    NOT NULL,
    last_version INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    created_by   TEXT    NOT NULL,
    updated_at   INTEGER NOT NULL,
    updated_by   TEXT    NOT NULL,
    deleted_at   INTEGER,
    deleted_by   TEXT,
    revision     INTEGER NOT NULL
);

CREATE TABLE versions (
    model_id          INTEGER NOT NULL REFERENCES models (id),
    version           INTEGER NOT NULL CHECK (version > 0),
    status            TEXT    NOT NULL CHECK (status IN ('READY', 'ARCHIVED', 'DELETED')),
    request_id        TEXT,
    request_payload   TEXT    NOT NULL,
    artifact_uri      TEXT    NOT NULL,
    artifact_sha256   TEXT    NOT NULL,
    artifact_size     INTEGER NOT NULL,
    artifact_format   TEXT    NOT NULL,
    params            TEXT    NOT NULL,
    metrics           TEXT    NOT NULL,
    tags              TEXT    NOT NULL,
    lineage           TEXT    NOT NULL,
    signature_inputs  TEXT    NOT NULL,
    signature_outputs TEXT    NOT NULL,
    description       TEXT    NOT NULL,
    created_at        INTEGER NOT NULL,
    created_by        TEXT    NOT NULL,
    updated_at        INTEGER NOT NULL,
    updated_by        TEXT    NOT NULL,
    revision          INTEGER NOT NULL,
    PRIMARY KEY (model_id, version)
);
CREATE UNIQUE INDEX versions_request_id_key ON versions (model_id, request_id) WHERE request_id IS NOT NULL;

CREATE TABLE bindings (
    model_id   INTEGER NOT NULL,
    name       TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT    NOT NULL,
    revision   INTEGER NOT NULL,
    PRIMARY KEY (model_id, name),
    FOREIGN KEY (model_id, version) REFERENCES versions (model_id, version)
);

CREATE TABLE binding_history (
    model_id       INTEGER NOT NULL REFERENCES models (id),
    name           TEXT    NOT NULL,
    generation     INTEGER NOT NULL,
    action         TEXT    NOT NULL,
    before_version INTEGER,
    after_version  INTEGER,
    revision       INTEGER NOT NULL,
    actor          TEXT    NOT NULL,
    reason         TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (model_id, name, generation)
);

CREATE TABLE changes (
    revision   INTEGER PRIMARY KEY,
    kind       TEXT    NOT NULL,
    model      TEXT    NOT NULL,
    binding    TEXT,
    payload    TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    revision   INTEGER NOT NULL,
    actor      TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    target     TEXT    NOT NULL,
    before     TEXT,
    after      TEXT,
    request_id TEXT    NOT NULL,
    trace_id   TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
