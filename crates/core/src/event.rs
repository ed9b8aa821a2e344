//! Events: what webhooks deliver and `WatchEvents` streams (issue 16). An event is a projection
//! of one audit row: every write appends its audit row in the write's own transaction, so the
//! audit log is the outbox. Nothing is lost (a committed change always has its row) and nothing
//! is invented (a rolled-back write has none). Which audit actions are events, and under which
//! type, is the table [`EVENTS`]: adding an event is one line there.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::{AuditEvent, Error, ModelName, Result, Scope};

/// Audit action → event type. Actions not listed (tokens, grants, upload sessions, ...) are not
/// events: they are about access, not models, and stay in the audit log only.
pub const EVENTS: &[(&str, &str)] = &[
    ("model.create", "model.created"),
    ("model.update", "model.updated"),
    ("model.delete", "model.deleted"),
    ("version.register", "version.registered"),
    ("version.update", "version.updated"),
    ("version.archive", "version.archived"),
    ("version.delete", "version.deleted"),
    ("binding.set", "binding.changed"),
    ("binding.delete", "binding.changed"),
    ("binding.rollback", "binding.changed"),
    ("promotion.request", "promotion.requested"),
    ("promotion.approve", "promotion.approved"),
    ("promotion.reject", "promotion.rejected"),
    ("promotion.cancel", "promotion.cancelled"),
    ("promotion.apply", "promotion.applied"),
    ("rollout.start", "rollout.started"),
    ("rollout.step", "rollout.step"),
    ("rollout.pause", "rollout.paused"),
    ("rollout.hold", "rollout.paused"),
    ("rollout.resume", "rollout.resumed"),
    ("rollout.abort", "rollout.aborted"),
    ("rollout.stop", "rollout.stopped"),
    ("rollout.complete", "rollout.completed"),
];

/// The type of the synthetic event `TestWebhook` sends (never stored, never in [`EVENTS`]).
pub const PING: &str = "webhook.ping";

/// The most types one subscription or watch may name.
pub const MAX_TYPES: usize = 64;

/// Every event type, once each, in [`EVENTS`] order.
pub fn event_types() -> Vec<&'static str> {
    let mut types: Vec<&'static str> = Vec::new();
    for (_, t) in EVENTS {
        if !types.contains(t) {
            types.push(t);
        }
    }
    types
}

/// One event, as delivered.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The audit row's id: increasing in commit order, the same on every redelivery (receivers
    /// deduplicate on it).
    pub id: u64,
    pub event_type: &'static str,
    pub revision: u64,
    pub time: SystemTime,
    pub actor: String,
    pub model: ModelName,
    pub data: Value,
}

impl Event {
    /// The event an audit row is, if it is one.
    pub fn from_audit(row: &AuditEvent) -> Option<Self> {
        let r = &row.record;
        let event_type = EVENTS.iter().find(|(action, _)| *action == r.action).map(|(_, t)| *t)?;
        let (model, rest) = split_target(&r.target)?;
        let mut data = json!({
            "action": r.action,
            "model": model.as_str(),
            "target": r.target,
            "before": r.before,
            "after": r.after,
            "request_id": r.request_id,
        });
        if let (Some(map), Some(("bindings", binding))) =
            (data.as_object_mut(), rest.first().zip(rest.get(1)).map(|(a, b)| (*a, *b)))
        {
            map.insert("binding".to_owned(), Value::from(binding));
        }
        Some(Self {
            id: row.id,
            event_type,
            revision: r.revision,
            time: r.time,
            actor: r.actor.clone(),
            model,
            data,
        })
    }

    /// The JSON document delivered: `{id, type, revision, time, actor, data}`.
    pub fn document(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "type": self.event_type,
            "revision": self.revision,
            "time": rfc3339(self.time),
            "actor": self.actor,
            "data": self.data,
        })
    }

    /// [`Event::document`] serialized: the exact bytes that are signed and sent.
    pub fn body(&self) -> Vec<u8> {
        self.document().to_string().into_bytes()
    }
}

/// The model an audit target names and the path segments after it. Targets are
/// `models/<model>` followed by `(kind, id)` pairs (`/bindings/production`,
/// `/bindings/production/rollouts/3`), and a model name has one or two segments, so the parity
/// of the segment count tells them apart whatever the names are.
fn split_target(target: &str) -> Option<(ModelName, Vec<&str>)> {
    let segments: Vec<&str> = target.strip_prefix("models/")?.split('/').collect();
    let model_len = if segments.len() % 2 == 1 { 1 } else { 2 };
    let model = ModelName::parse("target", segments.get(..model_len)?.join("/")).ok()?;
    Some((model, segments[model_len..].to_vec()))
}

/// Which events a subscription or a watch wants: types (exact, `family.*` or `*`) and a scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFilter {
    /// Empty means every type.
    pub types: Vec<String>,
    pub scope: Scope,
}

impl EventFilter {
    /// Validates `types`: each a known event type, `family.*` of a known family, or `*`.
    pub fn new(field: &str, types: Vec<String>, scope: Scope) -> Result<Self> {
        if types.len() > MAX_TYPES {
            return Err(Error::invalid(field, format!("at most {MAX_TYPES} event types")));
        }
        let known = event_types();
        for t in &types {
            let ok = t == "*"
                || known.contains(&t.as_str())
                || t.strip_suffix(".*").is_some_and(|family| {
                    known.iter().any(|k| k.split_once('.').is_some_and(|(f, _)| f == family))
                });
            if !ok {
                return Err(Error::invalid(
                    field,
                    format!(
                        "unknown event type {t:?}; known: {}, a family such as `binding.*`, or `*`",
                        known.join(", ")
                    ),
                ));
            }
        }
        let mut types = types;
        types.sort();
        types.dedup();
        Ok(Self { types, scope })
    }

    pub fn matches(&self, event: &Event) -> bool {
        self.scope.covers_model(&event.model) && self.matches_type(event.event_type)
    }

    pub fn matches_type(&self, event_type: &str) -> bool {
        self.types.is_empty()
            || self.types.iter().any(|t| {
                t == "*"
                    || t == event_type
                    || t.strip_suffix(".*")
                        .is_some_and(|family| event_type.split_once('.').is_some_and(|(f, _)| f == family))
            })
    }
}

/// RFC 3339 in UTC with microseconds: `2026-12-01T01:02:03.000004Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        d.subsec_micros()
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{AuditRecord, from_unix_micros};

    fn row(id: u64, action: &str, target: &str) -> AuditEvent {
        AuditEvent {
            id,
            record: AuditRecord {
                revision: 7,
                actor: "alice".into(),
                action: action.into(),
                target: target.into(),
                before: Some(json!({"version": 1})),
                after: Some(json!({"version": 2})),
                request_id: "r-1".into(),
                trace_id: String::new(),
                time: from_unix_micros(1_764_550_923_000_004),
            },
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    #[test]
    fn audit_rows_project_to_events_by_the_table() {
        let e = Event::from_audit(&row(3, "binding.rollback", "models/fraud/detector/bindings/production"))
            .unwrap_or_else(|| panic!("binding.rollback is an event"));
        assert_eq!(e.event_type, "binding.changed");
        assert_eq!(e.model.as_str(), "fraud/detector");
        assert_eq!(e.data["binding"], "production");
        assert_eq!(e.data["action"], "binding.rollback");
        let doc = e.document();
        assert_eq!(doc["id"], "3");
        assert_eq!(doc["time"], "2025-12-01T01:02:03.000004Z");
        assert_eq!(doc["data"]["before"]["version"], 1);
        // Access changes are not events.
        assert!(Event::from_audit(&row(4, "token.create", "tokens/abc")).is_none());
        assert!(Event::from_audit(&row(5, "grant.create", "grants/user:a/admin/*")).is_none());
    }

    #[test]
    fn targets_split_by_parity_whatever_the_names() {
        let model = |t: &str| split_target(t).map(|(m, rest)| (m.into_string(), rest.join("/")));
        assert_eq!(model("models/m"), Some(("m".into(), String::new())));
        assert_eq!(model("models/ns/m"), Some(("ns/m".into(), String::new())));
        assert_eq!(model("models/m/versions/3"), Some(("m".into(), "versions/3".into())));
        assert_eq!(model("models/ns/versions/bindings/b"), Some(("ns/versions".into(), "bindings/b".into())));
        assert_eq!(
            model("models/ns/m/bindings/b/rollouts/9"),
            Some(("ns/m".into(), "bindings/b/rollouts/9".into()))
        );
        assert_eq!(model("tokens/x"), None);
    }

    #[test]
    fn filters_take_exact_types_families_and_star() {
        let e = Event::from_audit(&row(1, "version.register", "models/ns/m/versions/1"))
            .unwrap_or_else(|| panic!("an event"));
        let f = |types: &[&str], scope: Scope| {
            EventFilter::new("events", types.iter().map(|s| (*s).to_owned()).collect(), scope)
        };
        assert!(f(&["version.registered"], Scope::Global).is_ok_and(|f| f.matches(&e)));
        assert!(f(&["version.*"], Scope::Namespace("ns".into())).is_ok_and(|f| f.matches(&e)));
        assert!(f(&["*"], Scope::Namespace("other".into())).is_ok_and(|f| !f.matches(&e)));
        assert!(f(&[], Scope::Global).is_ok_and(|f| f.matches(&e)));
        assert!(f(&["binding.changed"], Scope::Global).is_ok_and(|f| !f.matches(&e)));
        assert!(f(&["version.exploded"], Scope::Global).is_err());
        assert!(f(&["nope.*"], Scope::Global).is_err());
    }

    #[test]
    fn every_event_type_has_a_family_and_every_action_is_listed_once() {
        for (i, (action, t)) in EVENTS.iter().enumerate() {
            assert!(t.contains('.'), "{t}");
            assert!(!EVENTS[..i].iter().any(|(a, _)| a == action), "{action} listed twice");
        }
        assert!(event_types().contains(&"binding.changed"));
    }

    #[test]
    fn rfc3339_formats_utc() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)), "2000-02-29T00:00:00.000000Z");
    }
}
