-- Webhook subscriptions (issue 16). Events are audit rows (bindery_core::event), so the audit
-- log is the outbox; a subscription keeps its place in it (`event_cursor`, the last audit id it
-- handled) and the delivery worker's lease. Settings live in `config` (bindery_core::webhook);
-- times are microseconds since the epoch.
CREATE TABLE webhooks (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    config          TEXT      NOT NULL,
    secret          TEXT      NOT NULL,
    enabled         INTEGER   NOT NULL,
    disabled_reason TEXT      NOT NULL DEFAULT '',
    event_cursor    INTEGER   NOT NULL,
    attempts        INTEGER   NOT NULL DEFAULT 0,
    failing_since   INTEGER,
    next_attempt_at INTEGER   NOT NULL,
    lease_owner     TEXT,
    lease_until     INTEGER   NOT NULL DEFAULT 0,
    created_at      INTEGER   NOT NULL,
    updated_at      INTEGER   NOT NULL
);
CREATE INDEX webhooks_due_idx ON webhooks (next_attempt_at) WHERE enabled;

-- Every attempt, for ListWebhookDeliveries (pruned by age).
CREATE TABLE webhook_deliveries (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id  INTEGER   NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id    INTEGER   NOT NULL,
    event_type  TEXT      NOT NULL,
    attempt     INTEGER   NOT NULL,
    result      TEXT      NOT NULL,
    status_code INTEGER   NOT NULL,
    error       TEXT      NOT NULL,
    latency_us  INTEGER   NOT NULL,
    created_at  INTEGER   NOT NULL
);
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_created_idx ON webhook_deliveries (created_at);
