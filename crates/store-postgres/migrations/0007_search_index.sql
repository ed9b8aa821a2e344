-- Bindery schema, version 7: what search filters on, indexed (issue 14). Metrics, tags, params
-- and dataset refs of each version get typed side tables keyed by (key, value), kept in step with
-- `versions` by a trigger (so every write path, and this backfill, maintains them the same way);
-- bindings get an index by name, versions indexes by time. The side tables' search indexes
-- cover the version key, so a filter is answered from the index alone. The JSON columns stay the source of truth.

CREATE TABLE version_metrics (
    model_id bigint           NOT NULL,
    version  bigint           NOT NULL,
    key      text COLLATE "C" NOT NULL,
    value    float8           NOT NULL,
    PRIMARY KEY (model_id, version, key),
    FOREIGN KEY (model_id, version) REFERENCES versions (model_id, version) ON DELETE CASCADE
);
CREATE INDEX version_metrics_search_idx ON version_metrics (key, value) INCLUDE (model_id, version);

CREATE TABLE version_tags (
    model_id bigint           NOT NULL,
    version  bigint           NOT NULL,
    key      text COLLATE "C" NOT NULL,
    value    text COLLATE "C" NOT NULL,
    PRIMARY KEY (model_id, version, key),
    FOREIGN KEY (model_id, version) REFERENCES versions (model_id, version) ON DELETE CASCADE
);
CREATE INDEX version_tags_search_idx ON version_tags (key, value) INCLUDE (model_id, version);

CREATE TABLE version_params (
    model_id bigint           NOT NULL,
    version  bigint           NOT NULL,
    key      text COLLATE "C" NOT NULL,
    value    text COLLATE "C" NOT NULL,
    PRIMARY KEY (model_id, version, key),
    FOREIGN KEY (model_id, version) REFERENCES versions (model_id, version) ON DELETE CASCADE
);
CREATE INDEX version_params_search_idx ON version_params (key, value) INCLUDE (model_id, version);

-- Each dataset as `uri` and, when it has a version, `uri@version`.
CREATE TABLE version_datasets (
    model_id bigint           NOT NULL,
    version  bigint           NOT NULL,
    ref      text COLLATE "C" NOT NULL,
    PRIMARY KEY (model_id, version, ref),
    FOREIGN KEY (model_id, version) REFERENCES versions (model_id, version) ON DELETE CASCADE
);
CREATE INDEX version_datasets_search_idx ON version_datasets (ref) INCLUDE (model_id, version);

CREATE INDEX bindings_name_idx ON bindings (name, model_id, version);
-- Searches ordered by time read these in order instead of sorting every match.
CREATE INDEX versions_created_at_idx ON versions (created_at);
CREATE INDEX versions_updated_at_idx ON versions (updated_at);

CREATE FUNCTION bindery_index_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM version_metrics WHERE model_id = NEW.model_id AND version = NEW.version;
    INSERT INTO version_metrics (model_id, version, key, value)
        SELECT NEW.model_id, NEW.version, e.key, e.value::float8 FROM jsonb_each_text(NEW.metrics) e;
    DELETE FROM version_tags WHERE model_id = NEW.model_id AND version = NEW.version;
    INSERT INTO version_tags (model_id, version, key, value)
        SELECT NEW.model_id, NEW.version, e.key, e.value FROM jsonb_each_text(NEW.tags) e;
    DELETE FROM version_params WHERE model_id = NEW.model_id AND version = NEW.version;
    INSERT INTO version_params (model_id, version, key, value)
        SELECT NEW.model_id, NEW.version, e.key, e.value FROM jsonb_each_text(NEW.params) e;
    DELETE FROM version_datasets WHERE model_id = NEW.model_id AND version = NEW.version;
    INSERT INTO version_datasets (model_id, version, ref)
        SELECT DISTINCT NEW.model_id, NEW.version, r.ref
        FROM jsonb_array_elements(COALESCE(NEW.lineage -> 'datasets', '[]'::jsonb)) d,
             LATERAL (VALUES (d ->> 'uri'),
                             (CASE WHEN COALESCE(d ->> 'version', '') <> ''
                                   THEN (d ->> 'uri') || '@' || (d ->> 'version') END)) AS r(ref)
        WHERE r.ref IS NOT NULL;
    RETURN NULL;
END
$$;

CREATE TRIGGER versions_search_index
    AFTER INSERT OR UPDATE OF metrics, tags, params, lineage ON versions
    FOR EACH ROW EXECUTE FUNCTION bindery_index_version();

-- Backfill what is already registered.
INSERT INTO version_metrics (model_id, version, key, value)
    SELECT v.model_id, v.version, e.key, e.value::float8 FROM versions v, jsonb_each_text(v.metrics) e;
INSERT INTO version_tags (model_id, version, key, value)
    SELECT v.model_id, v.version, e.key, e.value FROM versions v, jsonb_each_text(v.tags) e;
INSERT INTO version_params (model_id, version, key, value)
    SELECT v.model_id, v.version, e.key, e.value FROM versions v, jsonb_each_text(v.params) e;
INSERT INTO version_datasets (model_id, version, ref)
    SELECT DISTINCT v.model_id, v.version, r.ref
    FROM versions v,
         jsonb_array_elements(COALESCE(v.lineage -> 'datasets', '[]'::jsonb)) d,
         LATERAL (VALUES (d ->> 'uri'),
                         (CASE WHEN COALESCE(d ->> 'version', '') <> ''
                               THEN (d ->> 'uri') || '@' || (d ->> 'version') END)) AS r(ref)
    WHERE r.ref IS NOT NULL;
