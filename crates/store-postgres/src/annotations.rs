//! Model cards and annotations (issue 14): persistence only. What an edit does, what a link may
//! be and when a target has room are `bindery_core::annotation`'s. Writes lock the model row
//! (as every write to a model does) and are audited without a revision bump.

use bindery_core::annotation::{Annotated, Annotation, AnnotationKind, Card, CardEdit, NewAnnotation};
use bindery_core::{Cursor, Error, Page, PageRequest, VersionStatus, WriteContext};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use crate::error::{StoreResult, corrupt};
use crate::rows::{i, u};
use crate::{PgStore, models, write};

const CARD_COLUMNS: &str = "edition, markdown, updated_by, updated_at";
const ANNOTATION_COLUMNS: &str = "id, kind, url, title, created_by, created_at";

fn card(of: &Annotated, row: &Row) -> StoreResult<Card> {
    Ok(Card {
        of: of.clone(),
        edition: u(row.try_get("edition")?)?,
        markdown: row.try_get("markdown")?,
        updated_by: row.try_get("updated_by")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn annotation(of: &Annotated, row: &Row) -> StoreResult<Annotation> {
    let kind: String = row.try_get("kind")?;
    Ok(Annotation {
        id: u(row.try_get("id")?)?,
        of: of.clone(),
        kind: AnnotationKind::parse(&kind).ok_or_else(|| corrupt(format!("annotation kind {kind:?}")))?,
        url: row.try_get("url")?,
        title: row.try_get("title")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
    })
}

/// The target's model id and version column; `NotFound` unless the model is live and the
/// version exists. With `model_id` given (the locked row), only the version is checked.
async fn target(
    client: &impl GenericClient,
    of: &Annotated,
    model_id: Option<i64>,
) -> StoreResult<(i64, i64, Option<VersionStatus>)> {
    let model_id = match model_id {
        Some(id) => id,
        None => models::live_id(client, &of.model).await?,
    };
    let Some(version) = of.version else {
        return Ok((model_id, 0, None));
    };
    let stmt =
        client.prepare_cached("SELECT status FROM versions WHERE model_id = $1 AND version = $2").await?;
    let row = client
        .query_opt(&stmt, &[&model_id, &i(version)?])
        .await?
        .ok_or_else(|| Error::version_not_found(&of.model, version))?;
    let status: String = row.try_get(0)?;
    let status =
        VersionStatus::parse(&status).ok_or_else(|| corrupt(format!("version status {status:?}")))?;
    Ok((model_id, i(version)?, Some(status)))
}

/// Locks the model, checks the target may change and returns its keys.
async fn writable(tx: &deadpool_postgres::Transaction<'_>, of: &Annotated) -> StoreResult<(i64, i64)> {
    let model_id = models::lock(tx, &of.model).await?;
    let (model_id, version, status) = target(tx, of, Some(model_id)).await?;
    if let Some(status) = status {
        of.check_writable(status)?;
    }
    Ok((model_id, version))
}

async fn newest(client: &impl GenericClient, of: &Annotated, ids: (i64, i64)) -> StoreResult<Option<Card>> {
    let sql = format!(
        "SELECT {CARD_COLUMNS} FROM cards WHERE model_id = $1 AND version = $2 ORDER BY edition DESC LIMIT 1"
    );
    let stmt = client.prepare_cached(&sql).await?;
    client.query_opt(&stmt, &[&ids.0, &ids.1]).await?.map(|r| card(of, &r)).transpose()
}

pub(crate) async fn set_card(
    store: &PgStore,
    ctx: &WriteContext,
    edit: &CardEdit,
) -> StoreResult<Option<Card>> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    let ids = writable(&tx, &edit.of).await?;
    let current = newest(&tx, &edit.of, ids).await?;
    let Some(edition) = edit.decide(current.as_ref())? else {
        return Ok(current);
    };
    let sql = format!(
        "INSERT INTO cards (model_id, version, edition, markdown, updated_by, updated_at)
         VALUES ($1, $2, $3, $4, $5, now()) RETURNING {CARD_COLUMNS}"
    );
    let stmt = tx.prepare_cached(&sql).await?;
    let row = tx.query_one(&stmt, &[&ids.0, &ids.1, &i(edition)?, &edit.markdown, &ctx.actor]).await?;
    let written = card(&edit.of, &row)?;
    write::record_audit_only(&tx, ctx, edit.audit(current.as_ref(), edition)).await?;
    tx.commit().await?;
    Ok(Some(written))
}

pub(crate) async fn get_card(store: &PgStore, of: &Annotated) -> StoreResult<Option<Card>> {
    let client = store.client().await?;
    let (model_id, version, _) = target(&client, of, None).await?;
    newest(&client, of, (model_id, version)).await
}

pub(crate) async fn card_history(
    store: &PgStore,
    of: &Annotated,
    page: &PageRequest,
) -> StoreResult<Page<Card>> {
    let client = store.client().await?;
    let (model_id, version, _) = target(&client, of, None).await?;
    let before = match &page.after {
        None => i64::MAX,
        Some(Cursor::Number(n)) => i(*n)?,
        Some(Cursor::Name(_)) => {
            return Err(Error::invalid("page_token", "is not a card history token").into());
        }
    };
    let sql = format!(
        "SELECT {CARD_COLUMNS} FROM cards WHERE model_id = $1 AND version = $2 AND edition < $3
         ORDER BY edition DESC LIMIT {}",
        u64::from(page.size) + 1
    );
    let stmt = client.prepare_cached(&sql).await?;
    let rows = client.query(&stmt, &[&model_id, &version, &before]).await?;
    let cards = rows.iter().map(|r| card(of, r)).collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::from_rows(cards, page.size, |c| Cursor::Number(c.edition)))
}

async fn annotations_of(
    client: &impl GenericClient,
    of: &Annotated,
    ids: (i64, i64),
) -> StoreResult<Vec<Annotation>> {
    let sql = format!(
        "SELECT {ANNOTATION_COLUMNS} FROM annotations WHERE model_id = $1 AND version = $2 ORDER BY id"
    );
    let stmt = client.prepare_cached(&sql).await?;
    client.query(&stmt, &[&ids.0, &ids.1]).await?.iter().map(|r| annotation(of, r)).collect()
}

pub(crate) async fn add(store: &PgStore, ctx: &WriteContext, new: &NewAnnotation) -> StoreResult<Annotation> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    let ids = writable(&tx, &new.of).await?;
    new.admit(&annotations_of(&tx, &new.of, ids).await?)?;
    let sql = format!(
        "INSERT INTO annotations (model_id, version, kind, url, title, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, now()) RETURNING {ANNOTATION_COLUMNS}"
    );
    let stmt = tx.prepare_cached(&sql).await?;
    let row =
        tx.query_one(&stmt, &[&ids.0, &ids.1, &new.kind.as_str(), &new.url, &new.title, &ctx.actor]).await?;
    let added = annotation(&new.of, &row)?;
    write::record_audit_only(&tx, ctx, new.audit_added(added.id)).await?;
    tx.commit().await?;
    Ok(added)
}

pub(crate) async fn list(store: &PgStore, of: &Annotated) -> StoreResult<Vec<Annotation>> {
    let client = store.client().await?;
    let (model_id, version, _) = target(&client, of, None).await?;
    annotations_of(&client, of, (model_id, version)).await
}

pub(crate) async fn remove(store: &PgStore, ctx: &WriteContext, of: &Annotated, id: u64) -> StoreResult<()> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    let ids = writable(&tx, of).await?;
    let sql = format!(
        "DELETE FROM annotations WHERE model_id = $1 AND version = $2 AND id = $3 RETURNING {ANNOTATION_COLUMNS}"
    );
    let stmt = tx.prepare_cached(&sql).await?;
    let row = tx
        .query_opt(&stmt, &[&ids.0, &ids.1, &i(id)?])
        .await?
        .ok_or_else(|| Error::NotFound(format!("{of} has no annotation {id}")))?;
    let removed = annotation(of, &row)?;
    write::record_audit_only(&tx, ctx, removed.audit_removed()).await?;
    tx.commit().await?;
    Ok(())
}
