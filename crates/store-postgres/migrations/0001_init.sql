-- Bindery schema, version 1.
-- Every write transaction bumps registry_state.revision (the row lock orders writers, so revisions
-- commit in order without gaps), appends one row to `changes` and one to `audit_log`, and sends
-- pg_notify('bindery_changes', ...) which Postgres delivers at commit.

CREATE TABLE registry_state (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    revision  bigint  NOT NULL CHECK (revision >= 0)
);
INSERT INTO registry_state (singleton, revision) VALUES (true, 0);

CREATE TABLE models (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Byte-order collation: listings paginate by name and must not depend on the server locale.
    name         text COLLATE "C" NOT NULL,
    description  text        NOT NULL,
    owner        text        NOT NULL,
    tags         jsonb       NOT NULL,
    -- The per-model version counter: RegisterVersion takes this row's lock and increments it.
    last_version bigint      NOT NULL DEFAULT 0 CHECK (last_version >= 0),
    created_at   timestamptz NOT NULL,
    created_by   text        NOT NULL,
    updated_at   timestamptz NOT NULL,
    updated_by   text        NOT NULL,
    deleted_at   timestamptz,
    deleted_by   text,
    revision     bigint      NOT NULL
);
-- Unique across deleted models too: a name is never reused, so versions are never ambiguous.
CREATE UNIQUE INDEX models_name_key ON models (name);

CREATE TABLE versions (
    model_id          bigint      NOT NULL REFERENCES models (id),
    version           bigint      NOT NULL CHECK (version > 0),
    status            text        NOT NULL CHECK (status IN ('READY', 'ARCHIVED', 'DELETED')),
    request_id        text,
    -- Canonical JSON of the registration payload: an idempotent retry must match it exactly.
    request_payload   jsonb       NOT NULL,
    artifact_uri      text        NOT NULL,
    artifact_sha256   text        NOT NULL,
    artifact_size     bigint      NOT NULL CHECK (artifact_size >= 0),
    artifact_format   text        NOT NULL,
    params            jsonb       NOT NULL,
    metrics           jsonb       NOT NULL,
    tags              jsonb       NOT NULL,
    lineage           jsonb       NOT NULL,
    signature_inputs  text        NOT NULL,
    signature_outputs text        NOT NULL,
    description       text        NOT NULL,
    created_at        timestamptz NOT NULL,
    created_by        text        NOT NULL,
    updated_at        timestamptz NOT NULL,
    updated_by        text        NOT NULL,
    revision          bigint      NOT NULL,
    PRIMARY KEY (model_id, version)
);
CREATE UNIQUE INDEX versions_request_id_key ON versions (model_id, request_id)
    WHERE request_id IS NOT NULL;

CREATE TABLE bindings (
    model_id   bigint           NOT NULL,
    name       text COLLATE "C" NOT NULL,
    version    bigint           NOT NULL,
    generation bigint           NOT NULL CHECK (generation > 0),
    updated_at timestamptz      NOT NULL,
    updated_by text             NOT NULL,
    revision   bigint           NOT NULL,
    PRIMARY KEY (model_id, name),
    FOREIGN KEY (model_id, version) REFERENCES versions (model_id, version)
);
CREATE INDEX bindings_version_idx ON bindings (model_id, version);

CREATE TABLE binding_history (
    model_id       bigint           NOT NULL REFERENCES models (id),
    name           text COLLATE "C" NOT NULL,
    generation     bigint           NOT NULL CHECK (generation > 0),
    action         text             NOT NULL CHECK (action IN ('SET', 'DELETE', 'ROLLBACK')),
    before_version bigint,
    after_version  bigint,
    revision       bigint           NOT NULL,
    actor          text             NOT NULL,
    reason         text             NOT NULL,
    created_at     timestamptz      NOT NULL,
    PRIMARY KEY (model_id, name, generation)
);

-- The change log read nodes catch up from (DESIGN.md §3): one row per revision.
CREATE TABLE changes (
    revision   bigint      PRIMARY KEY,
    kind       text        NOT NULL CHECK (kind IN ('model', 'version', 'binding')),
    model      text        NOT NULL,
    binding    text,
    payload    jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE audit_log (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    revision   bigint      NOT NULL,
    actor      text        NOT NULL,
    action     text        NOT NULL,
    target     text        NOT NULL,
    before     jsonb,
    after      jsonb,
    request_id text        NOT NULL,
    trace_id   text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_target_idx ON audit_log (target, id);
CREATE INDEX audit_log_actor_idx ON audit_log (actor, id);
CREATE INDEX audit_log_created_at_idx ON audit_log (created_at);
