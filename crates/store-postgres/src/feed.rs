//! The PostgreSQL change feed (design.md §3): a dedicated connection outside the pool (a pooled
//! one is recycled and forgets its LISTEN), driven with `poll_message`; snapshots in one
//! REPEATABLE READ transaction; gap fill from the `changes` table.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use bindery_core::{
    BindingChange, BindingName, Change, ChangeFeed, Error, FeedConnection, ModelName, Notification, Result,
    Snapshot, decode_log,
};
use futures_util::{StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, IsolationLevel, Row, Transaction};

use crate::error::{StoreError, StoreResult, corrupt};
use crate::write::{NOTIFY_CHANNEL, SELECT_REVISION};
use crate::{PgConfig, rows};

/// Notifications buffered per connection; beyond that they are dropped, which is safe: the
/// follower notices the gap (or the anti-entropy poll does) and reads the `changes` table.
const NOTIFICATION_BUFFER: usize = 65_536;

/// Follows one PostgreSQL database.
#[derive(Clone)]
pub struct PgFeed {
    config: PgConfig,
}

impl PgFeed {
    pub fn new(mut config: PgConfig) -> Self {
        // A connection that died silently must be noticed: TCP keepalives, on top of the
        // follower's poll timeout.
        config.keepalives(true).keepalives_idle(Duration::from_secs(10));
        if config.get_application_name().is_none_or(|n| n == "bindery") {
            config.application_name("bindery-reader");
        }
        Self { config }
    }
}

pub struct PgFeedConnection {
    client: tokio_postgres::Client,
    notifications: mpsc::Receiver<Notification>,
}

#[async_trait]
impl ChangeFeed for PgFeed {
    type Connection = PgFeedConnection;

    async fn connect(&self) -> Result<PgFeedConnection> {
        let (client, mut connection) = self
            .config
            .pg
            .connect(self.config.tls.clone())
            .await
            .map_err(|e| StoreError::from(e).into_domain("feed_connect"))?;
        let (tx, rx) = mpsc::channel(NOTIFICATION_BUFFER);
        tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(AsyncMessage::Notification(n)) if n.channel() == NOTIFY_CHANNEL => {
                        match parse_notification(n.payload()) {
                            Some(parsed) => {
                                if tx.try_send(parsed).is_err() && tx.is_closed() {
                                    break;
                                }
                            }
                            None => tracing::warn!(payload = n.payload(), "ignoring unparsable notification"),
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "change feed connection failed");
                        break;
                    }
                }
            }
            // Dropping `tx` tells the follower the connection is gone.
        });
        client
            .batch_execute(&format!("LISTEN {NOTIFY_CHANNEL}"))
            .await
            .map_err(|e| StoreError::from(e).into_domain("feed_listen"))?;
        // Readers never migrate; they only refuse a schema they do not understand.
        crate::migrate::check_schema(&client).await.map_err(|e| e.into_domain("feed_schema"))?;
        Ok(PgFeedConnection { client, notifications: rx })
    }
}

#[async_trait]
impl FeedConnection for PgFeedConnection {
    async fn notification(&mut self) -> Result<Notification> {
        self.notifications
            .recv()
            .await
            .ok_or_else(|| Error::Unavailable("the change feed connection to the database was lost".into()))
    }

    async fn snapshot(&mut self) -> Result<Snapshot> {
        snapshot(&mut self.client, true).await.map_err(|e| e.into_domain("feed_snapshot"))
    }

    async fn full_snapshot(&mut self) -> Result<Snapshot> {
        snapshot(&mut self.client, false).await.map_err(|e| e.into_domain("feed_snapshot"))
    }

    async fn changes_after(&mut self, after: u64, limit: u32) -> Result<Vec<Change>> {
        changes_after(&self.client, after, limit).await.map_err(|e| e.into_domain("feed_changes"))
    }

    async fn revision(&mut self) -> Result<u64> {
        async { rows::u(self.client.query_one(SELECT_REVISION, &[]).await?.try_get(0)?) }
            .await
            .map_err(|e: StoreError| e.into_domain("feed_revision"))
    }
}

const SNAPSHOT_MODELS: &str = "SELECT id, name FROM models WHERE deleted_at IS NULL";
/// Bindings carry their model's id, not its name: the names come once per model from
/// [`SNAPSHOT_MODELS`] (a deleted model has no bindings), which spares Postgres a join and the
/// reader a name check per binding.
pub(crate) const SNAPSHOT_BINDINGS: &str =
    "SELECT b.model_id, b.name AS binding_name, b.generation, b.version, b.traffic,
        v.artifact_uri, v.artifact_sha256, v.artifact_size, v.artifact_format, v.artifact_verification
    FROM bindings b
    JOIN versions v ON v.model_id = b.model_id AND v.version = b.version";

/// The live models' names by id.
pub(crate) async fn model_names(tx: &Transaction<'_>) -> StoreResult<HashMap<i64, ModelName>> {
    tx.query(SNAPSHOT_MODELS, &[])
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get::<_, i64>(0)?,
                ModelName::parse("model", r.try_get::<_, String>(1)?).map_err(corrupt)?,
            ))
        })
        .collect()
}

/// The state at one revision: the newest stored compact snapshot when it is usable (`packed`),
/// else read from the tables.
async fn snapshot(client: &mut tokio_postgres::Client, packed: bool) -> StoreResult<Snapshot> {
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let revision = rows::u(tx.query_one(SELECT_REVISION, &[]).await?.try_get(0)?)?;
    if packed && let Some((at, parts)) = crate::snapshots::read(&tx, revision).await? {
        tx.commit().await?;
        return Ok(Snapshot { revision: at, packed: parts, ..Snapshot::default() });
    }
    let names = model_names(&tx).await?;
    // Streamed: rows are decoded while Postgres is still producing them (a million bindings
    // arrive over about a second), instead of after the last one.
    let stream = tx.query_raw(SNAPSHOT_BINDINGS, std::iter::empty::<i32>()).await?;
    futures_util::pin_mut!(stream);
    let mut bindings = Vec::with_capacity(names.len());
    while let Some(row) = stream.try_next().await? {
        bindings.push(snapshot_binding(&row, &names)?);
    }
    let access = crate::access::snapshot(&tx).await?;
    tx.commit().await?;
    let models = names.into_values().collect();
    Ok(Snapshot { revision, models, bindings, access, packed: Vec::new() })
}

pub(crate) fn snapshot_binding(row: &Row, models: &HashMap<i64, ModelName>) -> StoreResult<BindingChange> {
    let model_id: i64 = row.try_get("model_id")?;
    let model_name = models
        .get(&model_id)
        .cloned()
        .ok_or_else(|| corrupt(format!("binding of unknown model id {model_id}")))?;
    Ok(BindingChange {
        model_name,
        binding: BindingName::parse("binding", row.try_get::<_, String>("binding_name")?).map_err(corrupt)?,
        generation: rows::u(row.try_get("generation")?)?,
        target: Some(rows::binding_target(row)?),
    })
}

const CHANGES_AFTER: &str = "SELECT revision, kind, model, payload FROM changes
    WHERE revision > $1 ORDER BY revision LIMIT $2";

async fn changes_after(client: &tokio_postgres::Client, after: u64, limit: u32) -> StoreResult<Vec<Change>> {
    let found = client.query(CHANGES_AFTER, &[&rows::i(after)?, &i64::from(limit)]).await?;
    let rows = found
        .iter()
        .map(|row| {
            Ok((
                rows::u(row.try_get("revision")?)?,
                row.try_get("kind")?,
                row.try_get("model")?,
                Some(row.try_get::<_, Value>("payload")?),
            ))
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(decode_log(rows)?)
}

#[derive(Deserialize)]
struct NotificationJson {
    revision: u64,
}

/// `{"revision": N, …}`: only the revision is read. A notification is a doorbell, never the
/// truth: any database role can NOTIFY, so what changed is always read from `changes` (where
/// only the registry's own writers can write). A forged one costs a read of the log, nothing more.
fn parse_notification(text: &str) -> Option<Notification> {
    let n: NotificationJson = serde_json::from_str(text).ok()?;
    Some(Notification::Revision(n.revision))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_are_doorbells_whatever_they_carry() {
        assert_eq!(parse_notification(r#"{"revision":9}"#), Some(Notification::Revision(9)));
        assert_eq!(parse_notification("garbage"), None);
        // An inline change (as older primaries sent, or a forger would) is not applied from the
        // notification: only its revision rings the bell.
        let inline = r#"{"revision":3,"kind":"access","model":"","payload":{"op":"token_created",
            "hash":"00","token":{"principal":"mallory"}}}"#;
        assert_eq!(parse_notification(inline), Some(Notification::Revision(3)));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2_000, ..Default::default() })]

        /// Whatever any database role NOTIFYs, parsing never panics and yields a revision at most.
        #[test]
        fn any_notification_payload_is_at_most_a_revision(text in ".{0,300}", n in proptest::prelude::any::<u64>()) {
            let _ = parse_notification(&text);
            let framed = format!("{{\"revision\":{n},{text}}}");
            if let Some(Notification::Revision(r)) = parse_notification(&framed) {
                proptest::prop_assert_eq!(r, n);
            }
        }
    }
}
