//! The audit trail: one row per mutation, hash-chained so that editing or deleting a row is
//! detectable. Each row stores `hash = SHA-256(prev_hash || "\n" || canonical content)`, where
//! `prev_hash` is the previous row's hash (empty before the first). Writers append under the
//! store's global write lock, so the chain follows row order. The canonical content and the check
//! live here; stores only write and stream rows.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{Error, Grant, ModelName, Protection, Result, Token, WriteContext, hex};

/// What one mutation says in the audit trail, before the store places it in the chain.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// e.g. `model.create`, `binding.set`, `token.revoke`.
    pub action: &'static str,
    /// e.g. `models/fraud/bindings/production`, `tokens/<id>`.
    pub target: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl AuditEntry {
    pub fn token_created(t: &Token) -> Self {
        Self {
            action: "token.create",
            target: format!("tokens/{}", t.id),
            before: None,
            after: Some(token_json(t)),
        }
    }

    pub fn token_revoked(t: &Token) -> Self {
        Self {
            action: "token.revoke",
            target: format!("tokens/{}", t.id),
            before: Some(token_json(t)),
            after: None,
        }
    }

    pub fn grant_created(g: &Grant) -> Self {
        Self { action: "grant.create", target: grant_target(g), before: None, after: Some(grant_json(g)) }
    }

    pub fn grant_deleted(g: &Grant) -> Self {
        Self { action: "grant.delete", target: grant_target(g), before: Some(grant_json(g)), after: None }
    }

    /// `replaced`: a protection of the same binding and scope existed (with the other value).
    pub fn protection_set(p: &Protection, replaced: bool) -> Self {
        let scope = p.scope.to_wire();
        let state = |protected: bool| serde_json::json!({ "binding": p.binding.as_str(), "scope": scope, "protected": protected });
        Self {
            action: "binding.protect",
            target: format!("protections/{scope}/{}", p.binding),
            before: replaced.then(|| state(!p.protected)),
            after: Some(state(p.protected)),
        }
    }
}

fn token_json(t: &Token) -> Value {
    let secs = |t: Option<SystemTime>| t.and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map(|d| d.as_secs());
    serde_json::json!({ "id": t.id, "principal": t.principal, "description": t.description, "expires_at": secs(t.expires_at) })
}

fn grant_target(g: &Grant) -> String {
    format!("grants/{}/{}/{}", g.subject, g.role, g.scope.to_wire())
}

fn grant_json(g: &Grant) -> Value {
    serde_json::json!({ "subject": g.subject.to_wire(), "role": g.role.as_str(), "scope": g.scope.to_wire() })
}

/// One audit row, as stored (ids and hashes are the store's).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub id: u64,
    pub record: AuditRecord,
    pub prev_hash: String,
    /// Empty for rows written before the chain existed (schema 3).
    pub hash: String,
}

/// What a row says: everything its hash covers.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub revision: u64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub request_id: String,
    pub trace_id: String,
    pub time: SystemTime,
}

impl AuditRecord {
    /// The record of `entry` by `ctx` at `revision`, stamped now (to the microsecond: the
    /// precision both stores keep, so it reads back identical and hashes the same).
    pub fn new(revision: u64, ctx: &WriteContext, entry: AuditEntry) -> Self {
        Self {
            revision,
            actor: ctx.actor.clone(),
            action: entry.action.to_owned(),
            target: entry.target,
            before: entry.before,
            after: entry.after,
            request_id: ctx.request_id.clone(),
            trace_id: ctx.trace_id.clone(),
            time: from_unix_micros(unix_micros(SystemTime::now())),
        }
    }

    /// Microseconds since the epoch: the precision both stores keep.
    pub fn time_micros(&self) -> i64 {
        unix_micros(self.time)
    }

    /// The row's hash after `prev_hash`.
    pub fn chain_hash(&self, prev_hash: &str) -> String {
        let mut content = String::new();
        canonical(
            &serde_json::json!({
                "revision": self.revision,
                "actor": self.actor,
                "action": self.action,
                "target": self.target,
                "before": self.before,
                "after": self.after,
                "request_id": self.request_id,
                "trace_id": self.trace_id,
                "time": self.time_micros(),
            }),
            &mut content,
        );
        let mut h = Sha256::new();
        h.update(prev_hash.as_bytes());
        h.update(b"\n");
        h.update(content.as_bytes());
        hex(&h.finalize())
    }
}

pub fn unix_micros(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

pub fn from_unix_micros(m: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(u64::try_from(m).unwrap_or(0))
}

/// JSON with object keys sorted at every level, whatever map order the JSON library keeps, so a
/// value read back from a database (which may reorder keys) hashes like the one written.
fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(k) {
                    canonical(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(v, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Where the chain first breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditBreak {
    pub id: u64,
    pub revision: u64,
    pub expected_hash: String,
    pub found_hash: String,
    pub reason: String,
}

/// The outcome of walking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChainReport {
    pub rows_checked: u64,
    /// Rows from before the chain existed (schema 3), at the start of the log.
    pub unchained_rows: u64,
    pub first_break: Option<AuditBreak>,
    /// The last row's hash: record it elsewhere to detect a truncated tail later.
    pub head_hash: String,
}

/// Walks rows in id order; stops noting breaks after the first.
#[derive(Debug, Default)]
pub struct ChainCheck {
    report: ChainReport,
    prev: String,
    started: bool,
}

impl ChainCheck {
    pub fn check(&mut self, row: &AuditEvent) {
        self.report.rows_checked += 1;
        if self.report.first_break.is_some() {
            return;
        }
        if row.hash.is_empty() {
            if self.started {
                self.broken(row, String::new(), "the row has no hash although earlier rows are chained: it was written outside the registry");
            } else {
                self.report.unchained_rows += 1;
            }
            return;
        }
        self.started = true;
        let expected = row.record.chain_hash(&self.prev);
        if row.prev_hash != self.prev {
            self.broken(row, expected, "its prev_hash is not the hash of the row before it: a row before it was deleted, inserted or altered");
        } else if row.hash != expected {
            self.broken(row, expected, "its content does not match its hash: the row was altered");
        }
        self.prev.clone_from(&row.hash);
        self.report.head_hash.clone_from(&row.hash);
    }

    fn broken(&mut self, row: &AuditEvent, expected: String, reason: &str) {
        self.report.first_break = Some(AuditBreak {
            id: row.id,
            revision: row.record.revision,
            expected_hash: expected,
            found_hash: row.hash.clone(),
            reason: reason.to_owned(),
        });
    }

    pub fn finish(self) -> ChainReport {
        self.report
    }
}

/// Which audit rows `ListAuditEvents` returns (newest first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Rows about this model (its target and everything under it).
    pub model: Option<ModelName>,
    /// Rows about any model in this namespace.
    pub namespace: Option<String>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub since: Option<SystemTime>,
    pub until: Option<SystemTime>,
}

impl AuditFilter {
    /// The target prefixes the filter selects: `models/<m>` (exactly, or followed by `/`), or
    /// `models/<ns>/`.
    pub fn target_prefix(&self) -> Option<(String, bool)> {
        if let Some(m) = &self.model {
            return Some((format!("models/{m}"), true));
        }
        self.namespace.as_ref().map(|ns| (format!("models/{ns}/"), false))
    }

    pub fn validate(&self) -> Result<()> {
        if self.model.is_some() && self.namespace.is_some() {
            return Err(Error::invalid("namespace", "give a model or a namespace, not both"));
        }
        if let Some(ns) = &self.namespace {
            crate::names::check_namespace("namespace", ns)?;
        }
        for (field, v) in [("actor", &self.actor), ("action", &self.action)] {
            if let Some(v) = v {
                crate::validate::text(field, v, crate::validate::MAX_SHORT_TEXT_BYTES)?;
            }
        }
        if let (Some(a), Some(b)) = (self.since, self.until)
            && a > b
        {
            return Err(Error::invalid("until", "is before since"));
        }
        Ok(())
    }

    /// Whether `target` is selected by the model/namespace part of the filter.
    pub fn matches_target(&self, target: &str) -> bool {
        match self.target_prefix() {
            None => true,
            Some((prefix, exact_or_child)) => {
                if exact_or_child {
                    target == prefix || target.strip_prefix(&prefix).is_some_and(|rest| rest.starts_with('/'))
                } else {
                    target.starts_with(&prefix)
                }
            }
        }
    }
}

/// The trace id (32 lowercase hex characters) of a W3C `traceparent` header value, if valid.
pub fn trace_id(traceparent: &str) -> Option<String> {
    let mut parts = traceparent.trim().split('-');
    let (version, trace, span, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex_of = |s: &str, n: usize| {
        s.len() == n && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let valid = hex_of(version, 2)
        && version != "ff"
        && hex_of(trace, 32)
        && trace.bytes().any(|b| b != b'0')
        && hex_of(span, 16)
        && hex_of(flags, 2);
    valid.then(|| trace.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: u64, actor: &str, prev: &str) -> AuditEvent {
        let record = AuditRecord {
            revision: id,
            actor: actor.into(),
            action: "model.create".into(),
            target: format!("models/m{id}"),
            before: None,
            after: Some(serde_json::json!({"b": 2.5, "a": [1, {"z": null, "y": "x"}]})),
            request_id: String::new(),
            trace_id: String::new(),
            time: from_unix_micros(1_700_000_000_000_000 + i64::try_from(id).unwrap_or(0)),
        };
        let hash = record.chain_hash(prev);
        AuditEvent { id, record, prev_hash: prev.to_owned(), hash }
    }

    fn chain(n: u64) -> Vec<AuditEvent> {
        let mut rows: Vec<AuditEvent> = Vec::new();
        for id in 1..=n {
            let prev = rows.last().map(|r| r.hash.clone()).unwrap_or_default();
            rows.push(row(id, "alice", &prev));
        }
        rows
    }

    fn verify(rows: &[AuditEvent]) -> ChainReport {
        let mut check = ChainCheck::default();
        rows.iter().for_each(|r| check.check(r));
        check.finish()
    }

    #[test]
    fn key_order_does_not_change_the_hash() {
        let a = serde_json::json!({"x": 1, "y": {"b": 1, "a": 2}});
        let mut reordered = serde_json::Map::new();
        reordered.insert("y".into(), serde_json::json!({"a": 2, "b": 1}));
        reordered.insert("x".into(), serde_json::json!(1));
        let (mut s1, mut s2) = (String::new(), String::new());
        canonical(&a, &mut s1);
        canonical(&Value::Object(reordered), &mut s2);
        assert_eq!(s1, s2);
        assert_eq!(s1, r#"{"x":1,"y":{"a":2,"b":1}}"#);
    }

    #[test]
    fn an_intact_chain_verifies_and_reports_its_head() {
        let rows = chain(5);
        let report = verify(&rows);
        assert_eq!((report.rows_checked, report.first_break.clone()), (5, None));
        assert_eq!(report.head_hash, rows[4].hash);
    }

    #[test]
    fn an_altered_row_is_named() {
        let mut rows = chain(5);
        rows[2].record.actor = "mallory".into();
        let broken = verify(&rows).first_break.unwrap_or_else(|| panic!("not detected"));
        assert_eq!(broken.id, 3);
        assert!(broken.reason.contains("altered"), "{}", broken.reason);
        assert_eq!(broken.found_hash, rows[2].hash);
        assert_ne!(broken.expected_hash, broken.found_hash);
    }

    #[test]
    fn a_deleted_row_breaks_the_next_one() {
        let mut rows = chain(5);
        rows.remove(1);
        let broken = verify(&rows).first_break.unwrap_or_else(|| panic!("not detected"));
        assert_eq!(broken.id, 3);
        assert!(broken.reason.contains("deleted"), "{}", broken.reason);
    }

    #[test]
    fn legacy_rows_before_the_chain_are_counted_not_failed() {
        let mut legacy = row(1, "old", "");
        legacy.hash.clear();
        let mut rows = vec![legacy];
        let mut rest = chain(3);
        for r in &mut rest {
            r.id += 1;
        }
        rows.extend(rest);
        let report = verify(&rows);
        assert_eq!((report.unchained_rows, report.first_break), (1, None));
        let mut late = row(9, "x", "");
        late.hash.clear();
        rows.push(late);
        assert!(verify(&rows).first_break.is_some_and(|b| b.id == 9));
    }

    #[test]
    fn trace_ids_come_from_valid_traceparents_only() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(trace_id(tp).as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
        for bad in [
            "",
            "garbage",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(trace_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn filters_select_a_model_and_what_is_under_it() {
        let f = AuditFilter { model: ModelName::parse("m", "fraud/det").ok(), ..Default::default() };
        assert!(f.matches_target("models/fraud/det"));
        assert!(f.matches_target("models/fraud/det/bindings/production"));
        assert!(!f.matches_target("models/fraud/detector"));
        let ns = AuditFilter { namespace: Some("fraud".into()), ..Default::default() };
        assert!(ns.matches_target("models/fraud/detector"));
        assert!(!ns.matches_target("models/fraudx/y"));
        assert!(
            AuditFilter { model: f.model, namespace: Some("x".into()), ..Default::default() }
                .validate()
                .is_err()
        );
    }
}
