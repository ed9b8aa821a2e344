-- Webhook subscriptions (issue 16). Events are audit rows (bindery_core::event), so the audit
-- log is the outbox; a subscription keeps its place in it (`event_cursor`, the last audit id it
-- handled) and the delivery worker's lease. Settings live in `config` (bindery_core::webhook);
-- times are microseconds since the epoch.
CREATE TABLE webhooks (
    id              bigserial PRIMARY KEY,
    config          jsonb     NOT NULL,
    secret          text      NOT NULL,
    enabled         boolean   NOT NULL,
    disabled_reason text      NOT NULL DEFAULT '',
    event_cursor    bigint    NOT NULL,
    attempts        integer   NOT NULL DEFAULT 0,
    failing_since   bigint,
    next_attempt_at bigint    NOT NULL,
    lease_owner     text,
    lease_until     bigint    NOT NULL DEFAULT 0,
    created_at      bigint    NOT NULL,
    updated_at      bigint    NOT NULL
);
CREATE INDEX webhooks_due_idx ON webhooks (next_attempt_at) WHERE enabled;

-- Every attempt, for ListWebhookDeliveries (pruned by age).
CREATE TABLE webhook_deliveries (
    id          bigserial PRIMARY KEY,
    webhook_id  bigint    NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id    bigint    NOT NULL,
    event_type  text      NOT NULL,
    attempt     integer   NOT NULL,
    result      text      NOT NULL,
    status_code integer   NOT NULL,
    error       text      NOT NULL,
    latency_us  bigint    NOT NULL,
    created_at  bigint    NOT NULL
);
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_created_idx ON webhook_deliveries (created_at);
