//! Tokens, grants and binding protections on the embedded store: the same rows, changes and audit
//! records as PostgreSQL's `access.rs`; decisions are `bindery_core::Policy`'s.

use std::time::SystemTime;

use bindery_core::{
    ACCESS_KIND, AccessChange, BindingName, Change, Cursor, Error, Grant, GrantRecord, NewToken, Page,
    PageRequest, Policy, Protection, ProtectionRecord, Result, Role, Scope, Subject, Token, TokenEntry,
    WriteContext,
};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use crate::bindings::revision;
use crate::ops::{Audit, Sql, bump, corrupt, i, immediate, now, record, time, u};

fn opt_micros(t: Option<SystemTime>) -> Option<i64> {
    t.map(bindery_core::unix_micros)
}

fn write(
    tx: &Transaction<'_>,
    revision: i64,
    ctx: &WriteContext,
    change: &AccessChange,
    audit: Audit,
) -> Result<Change> {
    let payload = serde_json::to_value(change).map_err(corrupt)?;
    record(tx, revision, ctx, (ACCESS_KIND, "", None), payload, audit)
}

const TOKEN_COLUMNS: &str = "id, principal, description, created_at, created_by, expires_at, revoked_at";

fn token(r: &Row<'_>) -> rusqlite::Result<Token> {
    Ok(Token {
        id: r.get("id")?,
        principal: r.get("principal")?,
        description: r.get("description")?,
        created_at: time(r.get("created_at")?),
        created_by: r.get("created_by")?,
        expires_at: r.get::<_, Option<i64>>("expires_at")?.map(time),
        revoked_at: r.get::<_, Option<i64>>("revoked_at")?.map(time),
    })
}

pub(crate) fn create_token(
    conn: &mut Connection,
    ctx: &WriteContext,
    new: &NewToken,
) -> Result<((Token, u64), Option<Change>)> {
    let tx = immediate(conn)?;
    let rev = bump(&tx)?;
    tx.execute(
        "INSERT INTO api_tokens (id, principal, description, hash, created_at, created_by, expires_at, revision)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![new.id, new.principal, new.description, new.hash, now(), ctx.actor, opt_micros(new.expires_at), rev],
    )
    .sql()?;
    let created = tx
        .query_row(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = ?1"), [&new.id], token)
        .sql()?;
    let change = AccessChange::TokenCreated { hash: new.hash.clone(), token: new.entry() };
    let audit = Audit::token_created(&created);
    let change = write(&tx, rev, ctx, &change, audit)?;
    tx.commit().sql()?;
    Ok(((created, u(rev)?), Some(change)))
}

pub(crate) fn list_tokens(
    conn: &Connection,
    principal: Option<&str>,
    include_revoked: bool,
    page: &PageRequest,
) -> Result<Page<Token>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens
             WHERE (?1 IS NULL OR principal = ?1) AND (?2 OR revoked_at IS NULL) AND (?3 IS NULL OR id > ?3)
             ORDER BY id LIMIT ?4"
        ))
        .sql()?;
    let items = stmt
        .query_map(params![principal, include_revoked, page.after_name(), i64::from(page.size) + 1], token)
        .sql()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .sql()?;
    Ok(Page::from_rows(items, page.size, |t| Cursor::Name(t.id.clone())))
}

pub(crate) fn revoke_token(
    conn: &mut Connection,
    ctx: &WriteContext,
    id: &str,
) -> Result<(u64, Option<Change>)> {
    let tx = immediate(conn)?;
    let found = tx
        .query_row(&format!("SELECT hash, {TOKEN_COLUMNS} FROM api_tokens WHERE id = ?1"), [id], |r| {
            Ok((r.get::<_, String>("hash")?, token(r)?))
        })
        .optional()
        .sql()?;
    let (hash, before) = found.ok_or_else(|| Error::NotFound(format!("token {id} not found")))?;
    if before.revoked_at.is_some() {
        return Ok((revision(&tx)?, None));
    }
    let rev = bump(&tx)?;
    tx.execute("UPDATE api_tokens SET revoked_at = ?2, revision = ?3 WHERE id = ?1", params![id, now(), rev])
        .sql()?;
    let audit = Audit::token_revoked(&before);
    let change = write(&tx, rev, ctx, &AccessChange::TokenRevoked { hash }, audit)?;
    tx.commit().sql()?;
    Ok((u(rev)?, Some(change)))
}

pub(crate) fn find_token(conn: &Connection, hash: &str) -> Result<Option<TokenEntry>> {
    conn.query_row(
        "SELECT principal, expires_at FROM api_tokens WHERE hash = ?1 AND revoked_at IS NULL",
        [hash],
        |r| Ok(TokenEntry { principal: r.get(0)?, expires_at: r.get::<_, Option<i64>>(1)?.map(time) }),
    )
    .optional()
    .sql()
}

fn grant(subject: &str, role: &str, scope: &str) -> Result<Grant> {
    Ok(Grant {
        subject: Subject::parse("subject", subject).map_err(corrupt)?,
        role: Role::parse(role).ok_or_else(|| corrupt(format!("role {role:?}")))?,
        scope: Scope::parse("scope", scope).map_err(corrupt)?,
    })
}

pub(crate) fn create_grant(
    conn: &mut Connection,
    ctx: &WriteContext,
    g: &Grant,
) -> Result<((GrantRecord, u64), Option<Change>)> {
    let tx = immediate(conn)?;
    let rev = bump(&tx)?;
    let at = now();
    let inserted = tx
        .execute(
            "INSERT INTO grants (subject, role, scope, created_at, created_by, revision) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT DO NOTHING",
            params![g.subject.to_wire(), g.role.as_str(), g.scope.to_wire(), at, ctx.actor, rev],
        )
        .sql()?;
    if inserted == 0 {
        return Err(Error::AlreadyExists(format!("'{}' already holds {} on {}", g.subject, g.role, g.scope)));
    }
    let audit = Audit::grant_created(g);
    let change = write(&tx, rev, ctx, &AccessChange::GrantCreated { grant: g.clone() }, audit)?;
    tx.commit().sql()?;
    let created = GrantRecord { grant: g.clone(), created_at: time(at), created_by: ctx.actor.clone() };
    Ok(((created, u(rev)?), Some(change)))
}

pub(crate) fn delete_grant(
    conn: &mut Connection,
    ctx: &WriteContext,
    g: &Grant,
) -> Result<(u64, Option<Change>)> {
    let tx = immediate(conn)?;
    let deleted = tx
        .execute(
            "DELETE FROM grants WHERE subject = ?1 AND role = ?2 AND scope = ?3",
            params![g.subject.to_wire(), g.role.as_str(), g.scope.to_wire()],
        )
        .sql()?;
    if deleted == 0 {
        return Err(Error::NotFound(format!("'{}' holds no {} grant on {}", g.subject, g.role, g.scope)));
    }
    let rev = bump(&tx)?;
    let audit = Audit::grant_deleted(g);
    let change = write(&tx, rev, ctx, &AccessChange::GrantDeleted { grant: g.clone() }, audit)?;
    tx.commit().sql()?;
    Ok((u(rev)?, Some(change)))
}

pub(crate) fn list_grants(
    conn: &Connection,
    subject: Option<&Subject>,
    page: &PageRequest,
) -> Result<Page<GrantRecord>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, subject, role, scope, created_at, created_by FROM grants
             WHERE (?1 IS NULL OR subject = ?1) AND id > ?2 ORDER BY id LIMIT ?3",
        )
        .sql()?;
    let rows = stmt
        .query_map(
            params![
                subject.map(Subject::to_wire),
                i(page.after_number().unwrap_or(0))?,
                i64::from(page.size) + 1
            ],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, String>(5)?,
                ))
            },
        )
        .sql()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .sql()?;
    let items = rows
        .into_iter()
        .map(|(id, s, role, scope, at, by)| {
            Ok((
                u(id)?,
                GrantRecord { grant: grant(&s, &role, &scope)?, created_at: time(at), created_by: by },
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let page = Page::from_rows(items, page.size, |(id, _)| Cursor::Number(*id));
    Ok(Page { items: page.items.into_iter().map(|(_, g)| g).collect(), next: page.next })
}

fn protection(binding: String, scope: &str, protected: bool) -> Result<Protection> {
    Ok(Protection {
        binding: BindingName::parse("binding", binding).map_err(corrupt)?,
        scope: Scope::parse("scope", scope).map_err(corrupt)?,
        protected,
    })
}

type ProtectionRow = (String, String, bool, i64, String);

fn protection_row(r: &Row<'_>) -> rusqlite::Result<ProtectionRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn protection_record((binding, scope, protected, at, by): ProtectionRow) -> Result<ProtectionRecord> {
    Ok(ProtectionRecord {
        protection: protection(binding, &scope, protected)?,
        updated_at: time(at),
        updated_by: by,
    })
}

const PROTECTION_COLUMNS: &str = "binding, scope, protected, updated_at, updated_by";
const MAX_PROTECTIONS: i64 = 10_000;

pub(crate) fn set_protection(
    conn: &mut Connection,
    ctx: &WriteContext,
    p: &Protection,
) -> Result<((ProtectionRecord, u64), Option<Change>)> {
    let tx = immediate(conn)?;
    let scope = p.scope.to_wire();
    let select =
        format!("SELECT {PROTECTION_COLUMNS} FROM binding_protections WHERE binding = ?1 AND scope = ?2");
    let existing =
        tx.query_row(&select, params![p.binding.as_str(), scope], protection_row).optional().sql()?;
    if let Some(row) = &existing
        && row.2 == p.protected
    {
        let current = protection_record(row.clone())?;
        return Ok(((current, revision(&tx)?), None));
    }
    let rev = bump(&tx)?;
    tx.execute(
        "INSERT INTO binding_protections (binding, scope, protected, updated_at, updated_by, revision)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (binding, scope) DO UPDATE SET protected = excluded.protected,
             updated_at = excluded.updated_at, updated_by = excluded.updated_by, revision = excluded.revision",
        params![p.binding.as_str(), scope, p.protected, now(), ctx.actor, rev],
    )
    .sql()?;
    let written =
        protection_record(tx.query_row(&select, params![p.binding.as_str(), scope], protection_row).sql()?)?;
    let audit = Audit::protection_set(p, existing.is_some());
    let change = write(&tx, rev, ctx, &AccessChange::ProtectionSet { protection: p.clone() }, audit)?;
    tx.commit().sql()?;
    Ok(((written, u(rev)?), Some(change)))
}

pub(crate) fn list_protections(conn: &Connection) -> Result<Vec<ProtectionRecord>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {PROTECTION_COLUMNS} FROM binding_protections ORDER BY binding, scope LIMIT ?1"
        ))
        .sql()?;
    let rows = stmt
        .query_map([MAX_PROTECTIONS], protection_row)
        .sql()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .sql()?;
    rows.into_iter().map(protection_record).collect()
}

fn all_grants(conn: &Connection) -> Result<Vec<Grant>> {
    let mut stmt = conn.prepare_cached("SELECT subject, role, scope FROM grants").sql()?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))
        .sql()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .sql()?;
    rows.iter().map(|(s, r, sc)| grant(s, r, sc)).collect()
}

fn all_protections(conn: &Connection) -> Result<Vec<Protection>> {
    list_protections(conn).map(|v| v.into_iter().map(|p| p.protection).collect())
}

pub(crate) fn policy_for(conn: &Connection, subjects: &[String]) -> Result<Policy> {
    let mut grants = all_grants(conn)?;
    grants.retain(|g| subjects.contains(&g.subject.to_wire()));
    Ok(Policy::new(grants, all_protections(conn)?))
}

/// Every live token, grant and protection, as creations (inside the snapshot's transaction).
pub(crate) fn snapshot(conn: &Connection) -> Result<Vec<AccessChange>> {
    let mut stmt = conn
        .prepare_cached("SELECT hash, principal, expires_at FROM api_tokens WHERE revoked_at IS NULL")
        .sql()?;
    let tokens = stmt
        .query_map([], |r| {
            Ok(AccessChange::TokenCreated {
                hash: r.get(0)?,
                token: TokenEntry { principal: r.get(1)?, expires_at: r.get::<_, Option<i64>>(2)?.map(time) },
            })
        })
        .sql()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .sql()?;
    let mut out = tokens;
    out.extend(all_grants(conn)?.into_iter().map(|grant| AccessChange::GrantCreated { grant }));
    out.extend(
        all_protections(conn)?.into_iter().map(|protection| AccessChange::ProtectionSet { protection }),
    );
    Ok(out)
}
