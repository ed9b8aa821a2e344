-- Bindery schema, version 8: model cards and annotations (issue 14). Both attach to a model
-- (version 0) or to one of its versions. A card is a numbered series of editions: the newest is
-- the card, an empty one clears it, and every edition stays as its history. Neither bumps the
-- revision: read nodes serve nothing of them.

CREATE TABLE cards (
    model_id   bigint      NOT NULL REFERENCES models (id),
    version    bigint      NOT NULL CHECK (version >= 0),
    edition    bigint      NOT NULL CHECK (edition > 0),
    markdown   text        NOT NULL,
    updated_by text        NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (model_id, version, edition)
);

CREATE TABLE annotations (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_id   bigint      NOT NULL REFERENCES models (id),
    version    bigint      NOT NULL CHECK (version >= 0),
    kind       text        NOT NULL CHECK (kind IN ('model_card', 'fairness_report', 'bias_audit',
                                                    'architecture', 'docs', 'other')),
    url        text        NOT NULL,
    title      text        NOT NULL,
    created_by text        NOT NULL,
    created_at timestamptz NOT NULL,
    UNIQUE (model_id, version, kind, url)
);
-- `annotations.kind = 'bias_audit'` from the kind's side.
CREATE INDEX annotations_kind_idx ON annotations (kind, model_id, version);
