//! Tokens, grants and binding protections. Each change is an ordinary write: it bumps the
//! revision and appends an `access` change (read nodes apply it to their cache) and an audit row.
//! The decisions themselves are `bindery_core::Policy`'s.

use bindery_core::{
    ACCESS_KIND, AccessChange, BindingName, Cursor, Error, Grant, GrantRecord, NewToken, Page, PageRequest,
    Policy, Protection, ProtectionRecord, Role, Scope, Subject, Token, TokenEntry, WriteContext,
};
use deadpool_postgres::Transaction;
use tokio_postgres::Row;

use crate::error::{StoreResult, corrupt};
use crate::write::{self, Audit, Change};
use crate::{PgStore, rows};

async fn record(
    tx: &Transaction<'_>,
    bump: &write::Bump,
    ctx: &WriteContext,
    change: &AccessChange,
    audit: Audit,
) -> StoreResult<()> {
    let payload = serde_json::to_value(change).map_err(corrupt)?;
    write::record(tx, bump, ctx, Change { kind: ACCESS_KIND, model: "", binding: None, payload }, audit).await
}

const TOKEN_COLUMNS: &str = "id, principal, description, created_at, created_by, expires_at, revoked_at";

fn token(row: &Row) -> StoreResult<Token> {
    Ok(Token {
        id: row.try_get("id")?,
        principal: row.try_get("principal")?,
        description: row.try_get("description")?,
        created_at: row.try_get("created_at")?,
        created_by: row.try_get("created_by")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

pub(crate) async fn create_token(
    store: &PgStore,
    ctx: &WriteContext,
    new: &NewToken,
) -> StoreResult<(Token, u64)> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    let bump = write::bump_revision(&tx).await?;
    let revision = bump.revision;
    let sql = format!(
        "INSERT INTO api_tokens (id, principal, description, hash, created_at, created_by, expires_at, revision)
         VALUES ($1, $2, $3, $4, now(), $5, $6, $7) RETURNING {TOKEN_COLUMNS}"
    );
    let stmt = tx.prepare_cached(&sql).await?;
    let row = tx
        .query_one(
            &stmt,
            &[&new.id, &new.principal, &new.description, &new.hash, &ctx.actor, &new.expires_at, &revision],
        )
        .await?;
    let created = token(&row)?;
    let change = AccessChange::TokenCreated { hash: new.hash.clone(), token: new.entry() };
    let audit = Audit::token_created(&created);
    record(&tx, &bump, ctx, &change, audit).await?;
    tx.commit().await?;
    Ok((created, rows::u(revision)?))
}

pub(crate) async fn list_tokens(
    store: &PgStore,
    principal: Option<&str>,
    include_revoked: bool,
    page: &PageRequest,
) -> StoreResult<Page<Token>> {
    let client = store.client().await?;
    let sql = format!(
        "SELECT {TOKEN_COLUMNS} FROM api_tokens
         WHERE ($1::text IS NULL OR principal = $1) AND ($2 OR revoked_at IS NULL) AND ($3::text IS NULL OR id > $3)
         ORDER BY id LIMIT $4"
    );
    let stmt = client.prepare_cached(&sql).await?;
    let limit = i64::from(page.size) + 1;
    let found = client.query(&stmt, &[&principal, &include_revoked, &page.after_name(), &limit]).await?;
    let items = found.iter().map(token).collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::from_rows(items, page.size, |t| Cursor::Name(t.id.clone())))
}

pub(crate) async fn revoke_token(store: &PgStore, ctx: &WriteContext, id: &str) -> StoreResult<u64> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    let sql = format!("SELECT hash, {TOKEN_COLUMNS} FROM api_tokens WHERE id = $1 FOR UPDATE");
    let stmt = tx.prepare_cached(&sql).await?;
    let row =
        tx.query_opt(&stmt, &[&id]).await?.ok_or_else(|| Error::NotFound(format!("token {id} not found")))?;
    let before = token(&row)?;
    if before.revoked_at.is_some() {
        let revision = rows::u(tx.query_one(write::SELECT_REVISION, &[]).await?.try_get(0)?)?;
        return Ok(revision);
    }
    let hash: String = row.try_get("hash")?;
    let bump = write::bump_revision(&tx).await?;
    let revision = bump.revision;
    let stmt =
        tx.prepare_cached("UPDATE api_tokens SET revoked_at = now(), revision = $2 WHERE id = $1").await?;
    tx.execute(&stmt, &[&id, &revision]).await?;
    let audit = Audit::token_revoked(&before);
    record(&tx, &bump, ctx, &AccessChange::TokenRevoked { hash }, audit).await?;
    tx.commit().await?;
    rows::u(revision)
}

pub(crate) async fn find_token(store: &PgStore, hash: &str) -> StoreResult<Option<TokenEntry>> {
    let client = store.client().await?;
    let stmt = client
        .prepare_cached("SELECT principal, expires_at FROM api_tokens WHERE hash = $1 AND revoked_at IS NULL")
        .await?;
    client
        .query_opt(&stmt, &[&hash])
        .await?
        .map(|r| Ok(TokenEntry { principal: r.try_get("principal")?, expires_at: r.try_get("expires_at")? }))
        .transpose()
}

pub(crate) fn grant(row: &Row) -> StoreResult<Grant> {
    let role: String = row.try_get("role")?;
    Ok(Grant {
        subject: Subject::parse("subject", &row.try_get::<_, String>("subject")?).map_err(corrupt)?,
        role: Role::parse(&role).ok_or_else(|| corrupt(format!("role {role:?}")))?,
        scope: Scope::parse("scope", &row.try_get::<_, String>("scope")?).map_err(corrupt)?,
    })
}

fn grant_record(row: &Row) -> StoreResult<GrantRecord> {
    Ok(GrantRecord {
        grant: grant(row)?,
        created_at: row.try_get("created_at")?,
        created_by: row.try_get("created_by")?,
    })
}

pub(crate) async fn create_grant(
    store: &PgStore,
    ctx: &WriteContext,
    g: &Grant,
) -> StoreResult<(GrantRecord, u64)> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    let bump = write::bump_revision(&tx).await?;
    let revision = bump.revision;
    let stmt = tx
        .prepare_cached(
            "INSERT INTO grants (subject, role, scope, created_at, created_by, revision)
             VALUES ($1, $2, $3, now(), $4, $5) ON CONFLICT DO NOTHING
             RETURNING subject, role, scope, created_at, created_by",
        )
        .await?;
    let row = tx
        .query_opt(
            &stmt,
            &[&g.subject.to_wire(), &g.role.as_str(), &g.scope.to_wire(), &ctx.actor, &revision],
        )
        .await?
        .ok_or_else(|| {
            Error::AlreadyExists(format!("'{}' already holds {} on {}", g.subject, g.role, g.scope))
        })?;
    let created = grant_record(&row)?;
    let audit = Audit::grant_created(g);
    record(&tx, &bump, ctx, &AccessChange::GrantCreated { grant: g.clone() }, audit).await?;
    tx.commit().await?;
    Ok((created, rows::u(revision)?))
}

pub(crate) async fn delete_grant(store: &PgStore, ctx: &WriteContext, g: &Grant) -> StoreResult<u64> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    let bump = write::bump_revision(&tx).await?;
    let revision = bump.revision;
    let stmt = tx
        .prepare_cached("DELETE FROM grants WHERE subject = $1 AND role = $2 AND scope = $3 RETURNING id")
        .await?;
    if tx.query_opt(&stmt, &[&g.subject.to_wire(), &g.role.as_str(), &g.scope.to_wire()]).await?.is_none() {
        return Err(
            Error::NotFound(format!("'{}' holds no {} grant on {}", g.subject, g.role, g.scope)).into()
        );
    }
    let audit = Audit::grant_deleted(g);
    record(&tx, &bump, ctx, &AccessChange::GrantDeleted { grant: g.clone() }, audit).await?;
    tx.commit().await?;
    rows::u(revision)
}

pub(crate) async fn list_grants(
    store: &PgStore,
    subject: Option<&Subject>,
    page: &PageRequest,
) -> StoreResult<Page<GrantRecord>> {
    let client = store.client().await?;
    let stmt = client
        .prepare_cached(
            "SELECT id, subject, role, scope, created_at, created_by FROM grants
             WHERE ($1::text IS NULL OR subject = $1) AND id > $2 ORDER BY id LIMIT $3",
        )
        .await?;
    let after = rows::i(page.after_number().unwrap_or(0))?;
    let found =
        client.query(&stmt, &[&subject.map(Subject::to_wire), &after, &(i64::from(page.size) + 1)]).await?;
    let items = found
        .iter()
        .map(|r| Ok((rows::u(r.try_get("id")?)?, grant_record(r)?)))
        .collect::<StoreResult<Vec<_>>>()?;
    let page = Page::from_rows(items, page.size, |(id, _)| Cursor::Number(*id));
    Ok(Page { items: page.items.into_iter().map(|(_, g)| g).collect(), next: page.next })
}

pub(crate) fn protection(row: &Row) -> StoreResult<Protection> {
    Ok(Protection {
        binding: BindingName::parse("binding", row.try_get::<_, String>("binding")?).map_err(corrupt)?,
        scope: Scope::parse("scope", &row.try_get::<_, String>("scope")?).map_err(corrupt)?,
        protected: row.try_get("protected")?,
    })
}

fn protection_record(row: &Row) -> StoreResult<ProtectionRecord> {
    Ok(ProtectionRecord {
        protection: protection(row)?,
        updated_at: row.try_get("updated_at")?,
        updated_by: row.try_get("updated_by")?,
    })
}

const PROTECTION_COLUMNS: &str = "binding, scope, protected, updated_at, updated_by";

pub(crate) async fn set_protection(
    store: &PgStore,
    ctx: &WriteContext,
    p: &Protection,
) -> StoreResult<(ProtectionRecord, u64)> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    let scope = p.scope.to_wire();
    let sql = format!(
        "SELECT {PROTECTION_COLUMNS} FROM binding_protections WHERE binding = $1 AND scope = $2 FOR UPDATE"
    );
    let stmt = tx.prepare_cached(&sql).await?;
    let existing = tx.query_opt(&stmt, &[&p.binding.as_str(), &scope]).await?;
    if let Some(row) = &existing {
        let current = protection_record(row)?;
        if current.protection.protected == p.protected {
            let revision = rows::u(tx.query_one(write::SELECT_REVISION, &[]).await?.try_get(0)?)?;
            return Ok((current, revision));
        }
    }
    let bump = write::bump_revision(&tx).await?;
    let revision = bump.revision;
    let sql = format!(
        "INSERT INTO binding_protections (binding, scope, protected, updated_at, updated_by, revision)
         VALUES ($1, $2, $3, now(), $4, $5)
         ON CONFLICT (binding, scope) DO UPDATE SET protected = EXCLUDED.protected,
             updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by, revision = EXCLUDED.revision
         RETURNING {PROTECTION_COLUMNS}"
    );
    let stmt = tx.prepare_cached(&sql).await?;
    let row =
        tx.query_one(&stmt, &[&p.binding.as_str(), &scope, &p.protected, &ctx.actor, &revision]).await?;
    let written = protection_record(&row)?;
    let audit = Audit::protection_set(p, existing.is_some());
    record(&tx, &bump, ctx, &AccessChange::ProtectionSet { protection: p.clone() }, audit).await?;
    tx.commit().await?;
    Ok((written, rows::u(revision)?))
}

/// Protections are a handful per registry; more than this many is refused as a listing.
const MAX_PROTECTIONS: i64 = 10_000;

pub(crate) async fn list_protections(store: &PgStore) -> StoreResult<Vec<ProtectionRecord>> {
    let client = store.client().await?;
    let sql =
        format!("SELECT {PROTECTION_COLUMNS} FROM binding_protections ORDER BY binding, scope LIMIT $1");
    let stmt = client.prepare_cached(&sql).await?;
    client.query(&stmt, &[&MAX_PROTECTIONS]).await?.iter().map(protection_record).collect()
}

pub(crate) async fn policy_for(store: &PgStore, subjects: &[String]) -> StoreResult<Policy> {
    let client = store.client().await?;
    let stmt =
        client.prepare_cached("SELECT subject, role, scope FROM grants WHERE subject = ANY($1)").await?;
    let grants =
        client.query(&stmt, &[&subjects]).await?.iter().map(grant).collect::<StoreResult<Vec<_>>>()?;
    let stmt =
        client.prepare_cached("SELECT binding, scope, protected FROM binding_protections LIMIT $1").await?;
    let protections = client
        .query(&stmt, &[&MAX_PROTECTIONS])
        .await?
        .iter()
        .map(protection)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Policy::new(grants, protections))
}

/// Every live token, grant and protection, as creations (part of a read node's snapshot; run in
/// the snapshot's transaction).
pub(crate) async fn snapshot(tx: &tokio_postgres::Transaction<'_>) -> StoreResult<Vec<AccessChange>> {
    let mut out = Vec::new();
    for r in
        tx.query("SELECT hash, principal, expires_at FROM api_tokens WHERE revoked_at IS NULL", &[]).await?
    {
        out.push(AccessChange::TokenCreated {
            hash: r.try_get("hash")?,
            token: TokenEntry { principal: r.try_get("principal")?, expires_at: r.try_get("expires_at")? },
        });
    }
    for r in tx.query("SELECT subject, role, scope FROM grants", &[]).await? {
        out.push(AccessChange::GrantCreated { grant: grant(&r)? });
    }
    for r in tx.query("SELECT binding, scope, protected FROM binding_protections", &[]).await? {
        out.push(AccessChange::ProtectionSet { protection: protection(&r)? });
    }
    Ok(out)
}
