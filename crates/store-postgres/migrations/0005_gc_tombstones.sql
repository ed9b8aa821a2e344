-- Bindery schema, version 5: objects garbage collection has decided to delete. Registering an
-- artifact that is or covers one is refused (checked under the same write lock GC marks under),
-- so a version can never be registered onto bytes that are about to go.
CREATE TABLE gc_tombstones (
    location  text        PRIMARY KEY,
    marked_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX gc_tombstones_marked_at_idx ON gc_tombstones (marked_at);
