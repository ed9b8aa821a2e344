-- Bindery embedded schema, version 6: model cards and annotations (the same tables and rules as
-- PostgreSQL's 0008_annotations.sql). Version 0 is the model's own.

CREATE TABLE cards (
    model_id   INTEGER NOT NULL REFERENCES models (id),
    version    INTEGER NOT NULL CHECK (version >= 0),
    edition    INTEGER NOT NULL CHECK (edition > 0),
    markdown   TEXT    NOT NULL,
    updated_by TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (model_id, version, edition)
);

CREATE TABLE annotations (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    model_id   INTEGER NOT NULL REFERENCES models (id),
    version    INTEGER NOT NULL CHECK (version >= 0),
    kind       TEXT    NOT NULL CHECK (kind IN ('model_card', 'fairness_report', 'bias_audit',
                                                'architecture', 'docs', 'other')),
    url        TEXT    NOT NULL,
    title      TEXT    NOT NULL,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (model_id, version, kind, url)
);
CREATE INDEX annotations_kind_idx ON annotations (kind, model_id, version);
