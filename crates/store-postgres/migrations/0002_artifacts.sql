-- Bindery schema, version 2: verified artifacts, version deletes and upload sessions (DESIGN.md §4).

-- What the registry found when it verified the artifact (etag, last_modified, verified,
-- sha256_verified, files of a prefix); JSON null for versions registered unverified.
ALTER TABLE versions ADD COLUMN artifact_verification jsonb NOT NULL DEFAULT 'null'::jsonb;
-- Set with status DELETED; garbage collection keeps the objects for a grace period after it.
ALTER TABLE versions ADD COLUMN deleted_at timestamptz;

-- Files a client uploads through presigned URLs under the registry-managed prefix, then registers.
CREATE TABLE upload_sessions (
    id         text        PRIMARY KEY CHECK (length(id) = 36),
    model_id   bigint      NOT NULL REFERENCES models (id),
    bucket     text        NOT NULL,
    prefix     text        NOT NULL,
    -- [{path, size_bytes, sha256, multipart: {upload_id, part_size, parts}}]
    files      jsonb       NOT NULL,
    state      text        NOT NULL CHECK (state IN ('OPEN', 'REGISTERED', 'EXPIRED')),
    version    bigint,
    created_at timestamptz NOT NULL,
    created_by text        NOT NULL,
    expires_at timestamptz NOT NULL,
    CHECK ((state = 'REGISTERED') = (version IS NOT NULL))
);
CREATE INDEX upload_sessions_open_idx ON upload_sessions (expires_at) WHERE state = 'OPEN';
