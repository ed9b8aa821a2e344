-- Bindery embedded schema, version 5: promotion policies and requests (the same tables and
-- rules as PostgreSQL's 0006_promotions.sql).

CREATE TABLE promotion_policies (
    binding    TEXT    NOT NULL,
    scope      TEXT    NOT NULL,
    gates      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT    NOT NULL,
    PRIMARY KEY (binding, scope)
);

CREATE TABLE promotion_requests (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    model_id   INTEGER NOT NULL REFERENCES models (id),
    binding    TEXT    NOT NULL,
    state      TEXT    NOT NULL
        CHECK (state IN ('PENDING', 'APPLIED', 'REJECTED', 'SUPERSEDED', 'EXPIRED', 'CANCELLED')),
    expires_at INTEGER NOT NULL,
    doc        TEXT    NOT NULL
);
CREATE INDEX promotion_requests_binding_idx ON promotion_requests (model_id, binding, id);
