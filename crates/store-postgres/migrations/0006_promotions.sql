-- Bindery schema, version 6: promotion policies and requests (gates on moving a binding).
-- Both are audited but do not bump the revision: read nodes serve nothing of them. The binding
-- move of an applied request is an ordinary binding write in the same transaction.

-- The gates a binding name must pass at a scope ('*', 'ns/' or a model); the most specific wins.
CREATE TABLE promotion_policies (
    binding    text COLLATE "C" NOT NULL,
    scope      text COLLATE "C" NOT NULL,
    gates      jsonb            NOT NULL,
    updated_at timestamptz      NOT NULL,
    updated_by text             NOT NULL,
    PRIMARY KEY (binding, scope)
);

-- One request to move a gated binding; `doc` is the whole request (bindery_core's
-- PromotionRequest), the columns are what listings filter on.
CREATE TABLE promotion_requests (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_id   bigint           NOT NULL REFERENCES models (id),
    binding    text COLLATE "C" NOT NULL,
    state      text             NOT NULL
        CHECK (state IN ('PENDING', 'APPLIED', 'REJECTED', 'SUPERSEDED', 'EXPIRED', 'CANCELLED')),
    expires_at timestamptz      NOT NULL,
    doc        jsonb            NOT NULL
);
CREATE INDEX promotion_requests_binding_idx ON promotion_requests (model_id, binding, id);
CREATE INDEX promotion_requests_pending_idx ON promotion_requests (model_id, binding) WHERE state = 'PENDING';
