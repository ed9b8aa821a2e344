//! Bindings on the embedded store: set (compare-and-set), delete, rollback, list, history, resolve.

use bindery_core::promotion;
use bindery_core::traffic::{MemberArtifact, Traffic, TrafficRecord, traffic_from_json, traffic_to_json};
use bindery_core::{
    Artifact, Binding, BindingAction, BindingChange, BindingHistoryEntry, BindingName, BindingTarget,
    BindingWrite, BindingsPayload, BindingsWrite, Change, Cursor, DeleteBinding, Error, ModelName, Page,
    PageRequest, Resolved, Result, RollbackBinding, SetBindings, VersionStatus, WriteContext,
    check_generation,
};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use serde_json::{Value, json};

use crate::models::live_model;
use crate::ops::{
    Audit, Sql, binding_name, bump, corrupt, from_json, i, immediate, model_name, now, record, time, u, value,
};
use crate::promotions;
use crate::versions::{ArtifactRow, artifact, to_artifact};

pub(crate) const BINDING_COLUMNS: &str = "m.name AS model_name, b.name AS binding_name, b.version, b.generation, \
     b.updated_at, b.updated_by, b.revision, b.traffic";

type BindingRow = (String, String, i64, i64, i64, String, i64, Option<String>);

pub(crate) fn binding_from(row: &Row<'_>) -> rusqlite::Result<BindingRow> {
    Ok((
        row.get("model_name")?,
        row.get("binding_name")?,
        row.get("version")?,
        row.get("generation")?,
        row.get("updated_at")?,
        row.get("updated_by")?,
        row.get("revision")?,
        row.get("traffic")?,
    ))
}

/// A binding row's `traffic` column.
pub(crate) fn traffic_record(text: Option<&str>) -> Result<Option<TrafficRecord>> {
    text.map(|t| TrafficRecord::from_json(from_json(t)?)).transpose()
}

fn history_traffic(text: Option<&str>) -> Result<Option<Traffic>> {
    traffic_from_json(text.map(from_json).transpose()?)
}

pub(crate) fn binding(
    (model, name, version, generation, updated_at, updated_by, revision, traffic): BindingRow,
) -> Result<Binding> {
    Ok(Binding {
        model_name: model_name(model)?,
        name: binding_name(name)?,
        version: u(version)?,
        traffic: traffic_record(traffic.as_deref())?.map(|r| r.traffic),
        generation: u(generation)?,
        updated_at: time(updated_at),
        updated_by,
        revision: u(revision)?,
    })
}

pub(crate) fn bindings_of(conn: &Connection, model_id: i64) -> Result<Vec<Binding>> {
    let sql = format!(
        "SELECT {BINDING_COLUMNS} FROM bindings b JOIN models m ON m.id = b.model_id WHERE b.model_id = ?1 ORDER BY b.name"
    );
    let mut stmt = conn.prepare_cached(&sql).sql()?;
    let rows = stmt.query_map([model_id], binding_from).sql()?.collect::<rusqlite::Result<Vec<_>>>().sql()?;
    rows.into_iter().map(binding).collect()
}

/// A binding that exists: its whole target and generation.
pub(crate) struct Current {
    pub target: Traffic,
    pub generation: u64,
}

impl Current {
    fn version(&self) -> u64 {
        self.target.primary()
    }

    fn traffic(&self) -> Option<&Traffic> {
        bindery_core::stored_traffic(&self.target)
    }
}

pub(crate) fn current(conn: &Connection, model_id: i64, name: &BindingName) -> Result<Option<Current>> {
    let row: Option<(i64, i64, Option<String>)> = conn
        .query_row(
            "SELECT version, generation, traffic FROM bindings WHERE model_id = ?1 AND name = ?2",
            params![model_id, name.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .sql()?;
    row.map(|(v, g, t)| {
        let target =
            traffic_record(t.as_deref())?.map_or_else(|| Ok(Traffic::single(u(v)?)), |r| Ok(r.traffic))?;
        Ok(Current { target, generation: u(g)? })
    })
    .transpose()
}

fn generation_of(current: Option<&Current>) -> u64 {
    current.map_or(0, |c| c.generation)
}

pub(crate) fn bindable(
    conn: &Connection,
    model_id: i64,
    model: &ModelName,
    version: u64,
) -> Result<Artifact> {
    let row: Option<(String, ArtifactRow)> = conn
        .query_row(
            "SELECT status, artifact_uri, artifact_sha256, artifact_size, artifact_format, artifact_verification FROM versions
             WHERE model_id = ?1 AND version = ?2",
            params![model_id, i(version)?],
            |r| Ok((r.get("status")?, artifact(r)?)),
        )
        .optional()
        .sql()?;
    let (status, artifact) = row.ok_or_else(|| Error::version_not_found(model, version))?;
    if status != VersionStatus::Ready.as_str() {
        return Err(Error::FailedPrecondition(format!(
            "version {version} of model '{model}' is {status}; only READY versions can be bound"
        )));
    }
    to_artifact(artifact)
}

/// A target whose every version may be bound (exists and is READY), with their artifacts.
pub(crate) fn bindable_target(
    conn: &Connection,
    model_id: i64,
    model: &ModelName,
    target: &Traffic,
) -> Result<BindingTarget> {
    let primary = target.primary();
    let artifact = bindable(conn, model_id, model, primary)?;
    let Some(traffic) = bindery_core::stored_traffic(target) else {
        return Ok(BindingTarget::single(primary, artifact));
    };
    let others = traffic
        .members()
        .filter(|v| *v != primary)
        .map(|version| Ok(MemberArtifact { version, artifact: bindable(conn, model_id, model, version)? }))
        .collect::<Result<Vec<_>>>()?;
    let specs = others.iter().map(|o| (o.version, o.artifact.deployment.as_deref()));
    traffic.check_override(std::iter::once((primary, artifact.deployment.as_deref())).chain(specs))?;
    Ok(BindingTarget { version: primary, artifact, traffic: Some(traffic.clone()), others })
}

pub(crate) struct Rebind<'a> {
    pub name: &'a BindingName,
    pub before: Option<Current>,
    /// `None` deletes the binding.
    pub after: Option<BindingTarget>,
}

pub(crate) fn rebind(
    tx: &Transaction<'_>,
    ctx: &WriteContext,
    (model_id, model): (i64, &ModelName),
    changes: &[Rebind<'_>],
    action: BindingAction,
    reason: &str,
) -> Result<(i64, Change)> {
    let revision = bump(tx)?;
    let at = now();
    let mut payload = Vec::with_capacity(changes.len());
    let (mut before_audit, mut after_audit) = (serde_json::Map::new(), serde_json::Map::new());
    for change in changes {
        let name = change.name;
        promotions::supersede_pending(
            tx,
            model_id,
            name,
            &format!("binding moved by {} ({reason})", ctx.actor),
        )?;
        let generation = match &change.before {
            Some(c) => c.generation + 1,
            None => {
                let max: i64 = tx
                    .query_row(
                        "SELECT COALESCE(max(generation), 0) FROM binding_history WHERE model_id = ?1 AND name = ?2",
                        params![model_id, name.as_str()],
                        |r| r.get(0),
                    )
                    .sql()?;
                u(max)? + 1
            }
        };
        match &change.after {
            Some(target) => {
                let record = target.record().map(|r| r.to_json().to_string());
                tx.execute(
                    "INSERT INTO bindings (model_id, name, version, generation, updated_at, updated_by, revision, traffic)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (model_id, name) DO UPDATE SET version = excluded.version,
                         generation = excluded.generation, updated_at = excluded.updated_at,
                         updated_by = excluded.updated_by, revision = excluded.revision,
                         traffic = excluded.traffic",
                    params![model_id, name.as_str(), i(target.version)?, i(generation)?, at, ctx.actor, revision, record],
                )
                .sql()?;
                tx.execute(
                    "DELETE FROM binding_versions WHERE model_id = ?1 AND name = ?2",
                    params![model_id, name.as_str()],
                )
                .sql()?;
                for version in target.members() {
                    tx.execute(
                        "INSERT INTO binding_versions (model_id, name, version) VALUES (?1, ?2, ?3)",
                        params![model_id, name.as_str(), i(version)?],
                    )
                    .sql()?;
                }
            }
            None => {
                tx.execute(
                    "DELETE FROM bindings WHERE model_id = ?1 AND name = ?2",
                    params![model_id, name.as_str()],
                )
                .sql()?;
            }
        }
        let before_version = change.before.as_ref().map(|c| i(c.version())).transpose()?;
        let after_version = change.after.as_ref().map(|t| i(t.version)).transpose()?;
        let before_traffic = traffic_to_json(change.before.as_ref().and_then(Current::traffic));
        let after_traffic = traffic_to_json(change.after.as_ref().and_then(|t| t.traffic.as_ref()));
        tx.execute(
            "INSERT INTO binding_history (model_id, name, generation, action, before_version, after_version, revision,
                 actor, reason, created_at, before_traffic, after_traffic)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                model_id,
                name.as_str(),
                i(generation)?,
                action.as_str(),
                before_version,
                after_version,
                revision,
                ctx.actor,
                reason,
                at,
                before_traffic.as_ref().map(ToString::to_string),
                after_traffic.as_ref().map(ToString::to_string)
            ],
        )
        .sql()?;
        if let Some(c) = &change.before {
            let state = bindery_core::binding_audit_state(c.version(), generation - 1, c.traffic());
            before_audit.insert(name.to_string(), with_reason(state, reason));
        }
        if let Some(t) = &change.after {
            let state = bindery_core::binding_audit_state(t.version, generation, t.traffic.as_ref());
            after_audit.insert(name.to_string(), with_reason(state, reason));
        }
        payload.push(BindingChange {
            model_name: model.clone(),
            binding: name.clone(),
            generation,
            target: change.after.clone(),
        });
    }
    let names: Vec<&str> = changes.iter().map(|c| c.name.as_str()).collect();
    let single = names.len() == 1;
    let target = if single {
        format!("models/{model}/bindings/{}", names[0])
    } else {
        format!("models/{model}/bindings/{{{}}}", names.join(","))
    };
    let state = |m: serde_json::Map<String, Value>| match (m.is_empty(), single) {
        (true, _) => None,
        (false, true) => m.into_iter().next().map(|(_, v)| v),
        (false, false) => Some(Value::Object(m)),
    };
    let audit_action = match action {
        BindingAction::Set => "binding.set",
        BindingAction::Delete => "binding.delete",
        BindingAction::Rollback => "binding.rollback",
    };
    let audit =
        Audit { action: audit_action, target, before: state(before_audit), after: state(after_audit) };
    let change = record(
        tx,
        revision,
        ctx,
        ("binding", model.as_str(), single.then(|| names[0])),
        value(&BindingsPayload::new(payload)),
        audit,
    )?;
    Ok((revision, change))
}

/// The change that moves `name` (now at `before`) to `requested`, every precondition checked:
/// each version exists and is READY, and on a gated binding each version gaining weight passes
/// the gates. `None` when the binding already has that target.
pub(crate) fn plan<'a>(
    conn: &Connection,
    (model_id, model): (i64, &ModelName),
    name: &'a BindingName,
    before: Option<Current>,
    requested: &Traffic,
) -> Result<Option<Rebind<'a>>> {
    let before_target = before.as_ref().map(|c| &c.target);
    let Some(next) = bindery_core::plan_target(requested, before_target) else {
        return Ok(None);
    };
    let target = bindable_target(conn, model_id, model, &next)?;
    let policy = promotions::gate_policy(conn, model, name)?;
    if policy.is_some() {
        // Every version gaining traffic passes the gates; shadows serve no user.
        for version in next.gaining(before_target) {
            let gathered = promotions::gather(conn, model_id, model, policy.clone(), version)?;
            if let Some(policy) = &gathered.policy {
                promotion::check_direct(policy, model, &gathered.facts(std::time::SystemTime::now()))?;
            }
        }
    }
    Ok(Some(Rebind { name, before, after: Some(target) }))
}

fn with_reason(mut state: Value, reason: &str) -> Value {
    if let Some(obj) = state.as_object_mut() {
        obj.insert("reason".into(), json!(reason));
    }
    state
}

pub(crate) fn set_bindings(
    conn: &mut Connection,
    ctx: &WriteContext,
    req: &SetBindings,
) -> Result<(BindingsWrite, Option<Change>)> {
    let tx = immediate(conn)?;
    let (model_id, _) = live_model(&tx, &req.model)?;
    let mut changes = Vec::with_capacity(req.bindings.len());
    for a in &req.bindings {
        let before = current(&tx, model_id, &a.name)?;
        check_generation(a.expected_generation, generation_of(before.as_ref()), &req.model, &a.name)?;
        // Already bound there: nothing to record for this binding (e.g. a retried request).
        if let Some(change) = plan(&tx, (model_id, &req.model), &a.name, before, &a.target())? {
            changes.push(change);
        }
    }
    let requested = |b: &Binding| req.bindings.iter().any(|a| a.name == b.name);
    if changes.is_empty() {
        let bindings: Vec<Binding> = bindings_of(&tx, model_id)?.into_iter().filter(requested).collect();
        let revision = bindings.iter().map(|b| b.revision).max().unwrap_or_default();
        return Ok((BindingsWrite { bindings, revision }, None));
    }
    let (revision, change) =
        rebind(&tx, ctx, (model_id, &req.model), &changes, BindingAction::Set, &req.reason)?;
    let bindings = bindings_of(&tx, model_id)?.into_iter().filter(requested).collect();
    tx.commit().sql()?;
    Ok((BindingsWrite { bindings, revision: u(revision)? }, Some(change)))
}

pub(crate) fn delete_binding(
    conn: &mut Connection,
    ctx: &WriteContext,
    req: &DeleteBinding,
) -> Result<(u64, Change)> {
    let tx = immediate(conn)?;
    let (model_id, _) = live_model(&tx, &req.model)?;
    let before = current(&tx, model_id, &req.name)?;
    check_generation(req.expected_generation, generation_of(before.as_ref()), &req.model, &req.name)?;
    if before.is_none() {
        return Err(Error::binding_not_found(&req.model, &req.name));
    }
    let change = Rebind { name: &req.name, before, after: None };
    let (revision, change) =
        rebind(&tx, ctx, (model_id, &req.model), &[change], BindingAction::Delete, &req.reason)?;
    tx.commit().sql()?;
    Ok((u(revision)?, change))
}

pub(crate) fn rollback_binding(
    conn: &mut Connection,
    ctx: &WriteContext,
    req: &RollbackBinding,
) -> Result<(BindingWrite, Change)> {
    let tx = immediate(conn)?;
    let (model, name) = (&req.model, &req.name);
    let (model_id, _) = live_model(&tx, model)?;
    let before = current(&tx, model_id, name)?;
    check_generation(req.expected_generation, generation_of(before.as_ref()), model, name)?;
    type Side = (Option<i64>, Option<String>);
    let target: Side = match req.to_generation {
        Some(generation) => {
            let (version, traffic): Side = tx
                .query_row(
                    "SELECT after_version, after_traffic FROM binding_history
                     WHERE model_id = ?1 AND name = ?2 AND generation = ?3",
                    params![model_id, name.as_str(), i(generation)?],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .sql()?
                .ok_or_else(|| {
                    Error::NotFound(format!(
                        "binding '{name}' of model '{model}' has no generation {generation} in its history"
                    ))
                })?;
            if version.is_none() {
                return Err(Error::FailedPrecondition(format!(
                    "generation {generation} of binding '{name}' of model '{model}' deleted the binding; \
                     there is no target to roll back to"
                )));
            }
            (version, traffic)
        }
        None => tx
            .query_row(
                "SELECT before_version, before_traffic FROM binding_history WHERE model_id = ?1 AND name = ?2
                 ORDER BY generation DESC LIMIT 1",
                params![model_id, name.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .sql()?
            .ok_or_else(|| Error::binding_not_found(model, name))?,
    };
    let (version, traffic) = target;
    let version = u(version.ok_or_else(|| {
        Error::FailedPrecondition(format!(
            "binding '{name}' of model '{model}' had no target before its latest change; nothing to roll back to"
        ))
    })?)?;
    let target = history_traffic(traffic.as_deref())?.unwrap_or_else(|| Traffic::single(version));
    if before.as_ref().is_some_and(|c| c.target.same_declaration(&target)) {
        let what = target.as_single().map_or_else(|| "that split".to_owned(), |v| format!("version {v}"));
        return Err(Error::FailedPrecondition(format!(
            "binding '{name}' of model '{model}' is already bound to {what}; nothing to roll back"
        )));
    }
    // The earlier target exactly as it was, buckets included: every routing key goes back.
    let target = bindable_target(&tx, model_id, model, &target)?;
    let change = Rebind { name, before, after: Some(target) };
    let (revision, change) =
        rebind(&tx, ctx, (model_id, model), &[change], BindingAction::Rollback, &req.reason)?;
    let binding = bindings_of(&tx, model_id)?
        .into_iter()
        .find(|b| &b.name == name)
        .ok_or_else(|| corrupt("rolled back binding missing"))?;
    tx.commit().sql()?;
    Ok((BindingWrite { binding, revision: u(revision)? }, change))
}

pub(crate) fn list_bindings(conn: &Connection, model: &ModelName) -> Result<Vec<Binding>> {
    let (model_id, _) = live_model(conn, model)?;
    bindings_of(conn, model_id)
}

pub(crate) fn binding_history(
    conn: &Connection,
    model: &ModelName,
    name: &BindingName,
    page: &PageRequest,
) -> Result<Page<BindingHistoryEntry>> {
    let (model_id, _) = live_model(conn, model)?;
    let mut stmt = conn
        .prepare_cached(
            "SELECT generation, action, before_version, after_version, revision, actor, reason, created_at,
                    before_traffic, after_traffic
             FROM binding_history WHERE model_id = ?1 AND name = ?2 AND (?3 IS NULL OR generation < ?3)
             ORDER BY generation DESC LIMIT ?4",
        )
        .sql()?;
    let after = page.after_number().map(i).transpose()?;
    type Traffics = (Option<String>, Option<String>);
    type HistoryRow = (i64, String, Option<i64>, Option<i64>, i64, String, String, i64, Traffics);
    let rows = stmt
        .query_map(params![model_id, name.as_str(), after, i64::from(page.size) + 1], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                (r.get(8)?, r.get(9)?),
            ))
        })
        .sql()?
        .collect::<rusqlite::Result<Vec<HistoryRow>>>()
        .sql()?;
    let entries = rows
        .into_iter()
        .map(|(generation, action, before, after, revision, actor, reason, at, (before_t, after_t))| {
            Ok(BindingHistoryEntry {
                model_name: model.clone(),
                binding: name.clone(),
                generation: u(generation)?,
                action: BindingAction::parse(&action).ok_or_else(|| corrupt(format!("action {action:?}")))?,
                before_version: before.map(u).transpose()?,
                after_version: after.map(u).transpose()?,
                before_traffic: history_traffic(before_t.as_deref())?,
                after_traffic: history_traffic(after_t.as_deref())?,
                revision: u(revision)?,
                actor,
                reason,
                time: time(at),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Page::from_rows(entries, page.size, |e| Cursor::Number(e.generation)))
}

pub(crate) fn revision(conn: &Connection) -> Result<u64> {
    u(conn.query_row("SELECT revision FROM registry_state", [], |r| r.get(0)).sql()?)
}

pub(crate) fn resolve(conn: &Connection, model: &ModelName, name: &BindingName) -> Result<Resolved> {
    let row: Option<(i64, i64, ArtifactRow, Option<String>)> = conn
        .query_row(
            "SELECT b.version, b.generation, v.artifact_uri, v.artifact_sha256, v.artifact_size, v.artifact_format,
                    v.artifact_verification, b.traffic
             FROM models m JOIN bindings b ON b.model_id = m.id
             JOIN versions v ON v.model_id = b.model_id AND v.version = b.version
             WHERE m.name = ?1 AND m.deleted_at IS NULL AND b.name = ?2",
            params![model.as_str(), name.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?, artifact(r)?, r.get("traffic")?)),
        )
        .optional()
        .sql()?;
    let Some((version, generation, artifact, traffic)) = row else {
        live_model(conn, model)?;
        return Err(Error::binding_not_found(model, name));
    };
    Ok(Resolved {
        model_name: model.clone(),
        binding: name.clone(),
        target: BindingTarget::from_record(
            u(version)?,
            to_artifact(artifact)?,
            traffic_record(traffic.as_deref())?,
        ),
        generation: u(generation)?,
        revision: revision(conn)?,
    })
}
