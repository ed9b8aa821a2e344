-- Bindery schema, version 3: who may do what, and a hash-chained audit trail.
-- Tokens, grants and protections change through ordinary writes: each bumps the revision and
-- appends a change of kind 'access' (model ''), so read nodes authenticate from memory.

-- API tokens: only the SHA-256 of the secret is stored.
CREATE TABLE api_tokens (
    id          text COLLATE "C" PRIMARY KEY CHECK (length(id) = 36),
    principal   text        NOT NULL,
    description text        NOT NULL,
    hash        text        NOT NULL UNIQUE CHECK (length(hash) = 64),
    created_at  timestamptz NOT NULL,
    created_by  text        NOT NULL,
    expires_at  timestamptz,
    revoked_at  timestamptz,
    revision    bigint      NOT NULL
);
CREATE INDEX api_tokens_principal_idx ON api_tokens (principal, id);

-- (subject, role, scope): subject is a principal or 'group:<name>'; scope '*', 'ns/' or a model.
CREATE TABLE grants (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject    text COLLATE "C" NOT NULL,
    role       text             NOT NULL CHECK (role IN ('VIEWER', 'CONTRIBUTOR', 'APPROVER', 'ADMIN')),
    scope      text COLLATE "C" NOT NULL,
    created_at timestamptz      NOT NULL,
    created_by text             NOT NULL,
    revision   bigint           NOT NULL,
    UNIQUE (subject, role, scope)
);

-- Whether moving a binding name needs APPROVER at a scope (the most specific row decides;
-- without one, 'production' and 'staging' are protected).
CREATE TABLE binding_protections (
    binding    text COLLATE "C" NOT NULL,
    scope      text COLLATE "C" NOT NULL,
    protected  boolean          NOT NULL,
    updated_at timestamptz      NOT NULL,
    updated_by text             NOT NULL,
    revision   bigint           NOT NULL,
    PRIMARY KEY (binding, scope)
);

ALTER TABLE changes DROP CONSTRAINT changes_kind_check;
ALTER TABLE changes ADD CONSTRAINT changes_kind_check CHECK (kind IN ('model', 'version', 'binding', 'access'));

-- hash = SHA-256(prev_hash || '\n' || canonical content), prev_hash = the previous row's hash.
-- Rows written before this migration keep NULL (they are reported as unchained).
ALTER TABLE audit_log ADD COLUMN prev_hash text;
ALTER TABLE audit_log ADD COLUMN hash text;
