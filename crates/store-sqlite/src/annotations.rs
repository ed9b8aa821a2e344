//! Model cards and annotations on the embedded store (issue 14): persistence only, as in the
//! PostgreSQL store. Every decision is `bindery_core::annotation`'s.

use bindery_core::annotation::{Annotated, Annotation, AnnotationKind, Card, CardEdit, NewAnnotation};
use bindery_core::{Cursor, Error, Page, PageRequest, Result, VersionStatus, WriteContext};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::models::live_model;
use crate::ops::{Sql, append_audit_only, corrupt, i, immediate, now, time, u};

const CARD_COLUMNS: &str = "edition, markdown, updated_by, updated_at";
const ANNOTATION_COLUMNS: &str = "id, kind, url, title, created_by, created_at";

type CardRow = (i64, String, String, i64);
type AnnotationRow = (i64, String, String, String, String, i64);

fn card_row(r: &Row<'_>) -> rusqlite::Result<CardRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

fn annotation_row(r: &Row<'_>) -> rusqlite::Result<AnnotationRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
}

fn card(of: &Annotated, (edition, markdown, updated_by, at): CardRow) -> Result<Card> {
    Ok(Card { of: of.clone(), edition: u(edition)?, markdown, updated_by, updated_at: time(at) })
}

fn annotation(of: &Annotated, (id, kind, url, title, created_by, at): AnnotationRow) -> Result<Annotation> {
    Ok(Annotation {
        id: u(id)?,
        of: of.clone(),
        kind: AnnotationKind::parse(&kind).ok_or_else(|| corrupt(format!("annotation kind {kind:?}")))?,
        url,
        title,
        created_by,
        created_at: time(at),
    })
}

/// The target's model id and version column, and the version's status; `NotFound` unless the
/// model is live and has the version.
fn target(conn: &Connection, of: &Annotated) -> Result<(i64, i64, Option<VersionStatus>)> {
    let (model_id, _) = live_model(conn, &of.model)?;
    let Some(version) = of.version else {
        return Ok((model_id, 0, None));
    };
    let status: String = conn
        .query_row(
            "SELECT status FROM versions WHERE model_id = ?1 AND version = ?2",
            params![model_id, i(version)?],
            |r| r.get(0),
        )
        .optional()
        .sql()?
        .ok_or_else(|| Error::version_not_found(&of.model, version))?;
    let status =
        VersionStatus::parse(&status).ok_or_else(|| corrupt(format!("version status {status:?}")))?;
    Ok((model_id, i(version)?, Some(status)))
}

fn writable(conn: &Connection, of: &Annotated) -> Result<(i64, i64)> {
    let (model_id, version, status) = target(conn, of)?;
    if let Some(status) = status {
        of.check_writable(status)?;
    }
    Ok((model_id, version))
}

fn newest(conn: &Connection, of: &Annotated, (model_id, version): (i64, i64)) -> Result<Option<Card>> {
    let sql = format!(
        "SELECT {CARD_COLUMNS} FROM cards WHERE model_id = ?1 AND version = ?2 ORDER BY edition DESC LIMIT 1"
    );
    let row = conn.query_row(&sql, params![model_id, version], card_row).optional().sql()?;
    row.map(|r| card(of, r)).transpose()
}

pub(crate) fn set_card(conn: &mut Connection, ctx: &WriteContext, edit: &CardEdit) -> Result<Option<Card>> {
    let tx = immediate(conn)?;
    let ids = writable(&tx, &edit.of)?;
    let current = newest(&tx, &edit.of, ids)?;
    let Some(edition) = edit.decide(current.as_ref())? else {
        return Ok(current);
    };
    let sql = format!(
        "INSERT INTO cards (model_id, version, edition, markdown, updated_by, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING {CARD_COLUMNS}"
    );
    let row = tx
        .query_row(&sql, params![ids.0, ids.1, i(edition)?, edit.markdown, ctx.actor, now()], card_row)
        .sql()?;
    let written = card(&edit.of, row)?;
    append_audit_only(&tx, ctx, edit.audit(current.as_ref(), edition))?;
    tx.commit().sql()?;
    Ok(Some(written))
}

pub(crate) fn get_card(conn: &Connection, of: &Annotated) -> Result<Option<Card>> {
    let (model_id, version, _) = target(conn, of)?;
    newest(conn, of, (model_id, version))
}

pub(crate) fn card_history(conn: &Connection, of: &Annotated, page: &PageRequest) -> Result<Page<Card>> {
    let (model_id, version, _) = target(conn, of)?;
    let before = match &page.after {
        None => i64::MAX,
        Some(Cursor::Number(n)) => i(*n)?,
        Some(Cursor::Name(_)) => return Err(Error::invalid("page_token", "is not a card history token")),
    };
    let sql = format!(
        "SELECT {CARD_COLUMNS} FROM cards WHERE model_id = ?1 AND version = ?2 AND edition < ?3
         ORDER BY edition DESC LIMIT {}",
        u64::from(page.size) + 1
    );
    let mut stmt = conn.prepare_cached(&sql).sql()?;
    let rows = stmt
        .query_map(params![model_id, version, before], card_row)
        .sql()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .sql()?;
    let cards = rows.into_iter().map(|r| card(of, r)).collect::<Result<Vec<_>>>()?;
    Ok(Page::from_rows(cards, page.size, |c| Cursor::Number(c.edition)))
}

fn annotations_of(
    conn: &Connection,
    of: &Annotated,
    (model_id, version): (i64, i64),
) -> Result<Vec<Annotation>> {
    let sql = format!(
        "SELECT {ANNOTATION_COLUMNS} FROM annotations WHERE model_id = ?1 AND version = ?2 ORDER BY id"
    );
    let mut stmt = conn.prepare_cached(&sql).sql()?;
    let rows = stmt
        .query_map(params![model_id, version], annotation_row)
        .sql()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .sql()?;
    rows.into_iter().map(|r| annotation(of, r)).collect()
}

pub(crate) fn add(conn: &mut Connection, ctx: &WriteContext, new: &NewAnnotation) -> Result<Annotation> {
    let tx = immediate(conn)?;
    let ids = writable(&tx, &new.of)?;
    new.admit(&annotations_of(&tx, &new.of, ids)?)?;
    let sql = format!(
        "INSERT INTO annotations (model_id, version, kind, url, title, created_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING {ANNOTATION_COLUMNS}"
    );
    let row = tx
        .query_row(
            &sql,
            params![ids.0, ids.1, new.kind.as_str(), new.url, new.title, ctx.actor, now()],
            annotation_row,
        )
        .sql()?;
    let added = annotation(&new.of, row)?;
    append_audit_only(&tx, ctx, new.audit_added(added.id))?;
    tx.commit().sql()?;
    Ok(added)
}

pub(crate) fn list(conn: &Connection, of: &Annotated) -> Result<Vec<Annotation>> {
    let (model_id, version, _) = target(conn, of)?;
    annotations_of(conn, of, (model_id, version))
}

pub(crate) fn remove(conn: &mut Connection, ctx: &WriteContext, of: &Annotated, id: u64) -> Result<()> {
    let tx = immediate(conn)?;
    let (model_id, version) = writable(&tx, of)?;
    let sql = format!(
        "DELETE FROM annotations WHERE model_id = ?1 AND version = ?2 AND id = ?3 RETURNING {ANNOTATION_COLUMNS}"
    );
    let row = tx
        .query_row(&sql, params![model_id, version, i(id)?], annotation_row)
        .optional()
        .sql()?
        .ok_or_else(|| Error::NotFound(format!("{of} has no annotation {id}")))?;
    let removed = annotation(of, row)?;
    append_audit_only(&tx, ctx, removed.audit_removed())?;
    tx.commit().sql()?;
    Ok(())
}
