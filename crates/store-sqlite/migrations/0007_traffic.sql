-- Splits and shadows (issue 15). A binding's `version` stays its primary (the single version, or
-- the split's first side); `traffic` holds the whole target and the other members' artifacts.
ALTER TABLE bindings ADD COLUMN traffic TEXT;
ALTER TABLE binding_history ADD COLUMN before_traffic TEXT;
ALTER TABLE binding_history ADD COLUMN after_traffic TEXT;

-- Every version a binding uses (sides and shadows): what "bound by" means for archive, delete,
-- ModelVersion.bindings and the `binding` search field.
CREATE TABLE binding_versions (
    model_id INTEGER NOT NULL,
    name     TEXT    NOT NULL,
    version  INTEGER NOT NULL,
    PRIMARY KEY (model_id, name, version),
    FOREIGN KEY (model_id, name) REFERENCES bindings (model_id, name) ON DELETE CASCADE,
    FOREIGN KEY (model_id, version) REFERENCES versions (model_id, version)
);
CREATE INDEX binding_versions_version_idx ON binding_versions (model_id, version);
INSERT INTO binding_versions (model_id, name, version) SELECT model_id, name, version FROM bindings;

-- Progressive rollouts: a document per rollout (the rules are bindery_core::rollout's); at most
-- one running or paused rollout per binding.
CREATE TABLE rollouts (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    model_id INTEGER NOT NULL REFERENCES models (id),
    binding  TEXT    NOT NULL,
    state    TEXT    NOT NULL,
    next_at  INTEGER NOT NULL,
    doc      TEXT    NOT NULL
);
CREATE UNIQUE INDEX rollouts_active_key ON rollouts (model_id, binding) WHERE state IN ('RUNNING', 'PAUSED');
CREATE INDEX rollouts_due_idx ON rollouts (next_at) WHERE state = 'RUNNING';
