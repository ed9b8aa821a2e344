-- Compact snapshots of what read nodes cache (issue 20). The primary writes one now and then
-- (`bindery primary --snapshot-interval-secs`); a read node starting up loads the newest one and
-- replays the change log after it, instead of joining every binding with its version.
-- A snapshot and its parts are written in one transaction: a row in `snapshots` means every
-- part is there.
CREATE TABLE snapshots (
    revision   bigint PRIMARY KEY,
    parts      integer NOT NULL CHECK (parts > 0),
    bindings   bigint NOT NULL,
    bytes      bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE snapshot_parts (
    revision bigint NOT NULL REFERENCES snapshots (revision) ON DELETE CASCADE,
    part     integer NOT NULL,
    data     bytea NOT NULL,
    PRIMARY KEY (revision, part)
);

-- The parts are already compact: stored out of line and uncompressed, so reading them back is
-- a copy, not a decompression.
ALTER TABLE snapshot_parts ALTER COLUMN data SET STORAGE EXTERNAL;
