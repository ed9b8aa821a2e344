-- Bindery embedded schema, version 4: objects garbage collection has decided to delete (the
-- same table and rule as PostgreSQL's 0005_gc_tombstones.sql).
CREATE TABLE gc_tombstones (
    location  TEXT    PRIMARY KEY,
    marked_at INTEGER NOT NULL
);
CREATE INDEX gc_tombstones_marked_at_idx ON gc_tombstones (marked_at);
