//! The change feed read nodes follow (design.md §3): committed writes in revision order, a way to
//! fetch the ones a node missed, and a consistent snapshot. PostgreSQL implements it with
//! LISTEN/NOTIFY and the `changes` table; an embedded store can implement it in-process.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{AccessChange, BindingChange, ModelName, Result};

/// One committed write, as resolvers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub revision: u64,
    /// The model the change touched; `None` for access changes (tokens, grants, protections).
    pub model: Option<ModelName>,
    pub effect: ChangeEffect,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeEffect {
    /// The model was created or its metadata changed.
    ModelUpserted,
    /// The model was (soft-)deleted; it has no bindings left.
    ModelDeleted,
    /// One or more bindings of the model changed, atomically.
    Bindings(Vec<BindingChange>),
    /// A change resolvers do not cache (version metadata); it still advances the revision.
    Other,
    /// Who may do what changed (read nodes authenticate and authorize from their cache).
    Access(AccessChange),
}

impl Change {
    /// Decodes a change-log entry: its `kind` (`model`, `version`, `binding` or `access`), the
    /// model it touched (empty for `access`), and its JSON payload, as every store writes them.
    pub fn decode(revision: u64, kind: &str, model: &str, payload: serde_json::Value) -> Option<Self> {
        if kind == ACCESS_KIND {
            let access = serde_json::from_value::<AccessChange>(payload).ok()?;
            return Some(Self { revision, model: None, effect: ChangeEffect::Access(access) });
        }
        let model = Some(ModelName::parse("model", model).ok()?);
        let effect = match kind {
            "model" if payload.get("deleted").and_then(serde_json::Value::as_bool) == Some(true) => {
                ChangeEffect::ModelDeleted
            }
            "model" => ChangeEffect::ModelUpserted,
            "binding" => ChangeEffect::Bindings(
                serde_json::from_value::<BindingsPayload>(payload).ok()?.into_bindings(),
            ),
            "version" => ChangeEffect::Other,
            _ => return None,
        };
        Some(Self { revision, model, effect })
    }
}

impl Change {
    /// The change-log entry (`kind`, model, JSON payload) that [`Change::decode`] reads back as
    /// this change: what a read node sends the tier-2 nodes following it. `None` for a model
    /// change without a model, which no store writes.
    pub fn encode(&self) -> Option<(&'static str, String, serde_json::Value)> {
        let model = || self.model.as_ref().map(|m| m.as_str().to_owned());
        Some(match &self.effect {
            ChangeEffect::Access(access) => (ACCESS_KIND, String::new(), serde_json::to_value(access).ok()?),
            ChangeEffect::ModelUpserted => ("model", model()?, serde_json::json!({})),
            ChangeEffect::ModelDeleted => ("model", model()?, serde_json::json!({ "deleted": true })),
            ChangeEffect::Bindings(bindings) => {
                ("binding", model()?, serde_json::to_value(BindingsPayload::new(bindings.clone())).ok()?)
            }
            ChangeEffect::Other => ("version", model()?, serde_json::json!({})),
        })
    }
}

/// One row of the change log as stored: revision, kind, model and payload (`None` when the
/// payload is not even JSON).
pub type LogRow = (u64, String, String, Option<serde_json::Value>);

/// A read of the change log, decoded in order up to the first change this version cannot decode
/// (e.g. one written by a newer primary): the changes before it are good and come back to be
/// applied; when it is the first, the error names it. Followers stop there (design.md §3.3).
pub fn decode_log(rows: impl IntoIterator<Item = LogRow>) -> Result<Vec<Change>> {
    let mut changes = Vec::new();
    for (revision, kind, model, payload) in rows {
        match payload.and_then(|p| Change::decode(revision, &kind, &model, p)) {
            Some(change) => changes.push(change),
            None if !changes.is_empty() => break,
            None => {
                return Err(crate::Error::Internal(format!(
                    "change {revision} (kind '{kind}') cannot be decoded by this version of bindery; \
                     upgrade this node if a newer primary wrote it"
                )));
            }
        }
    }
    Ok(changes)
}

/// The change-log `kind` of access changes (their `model` column is empty).
pub const ACCESS_KIND: &str = "access";

/// The payload of a `binding` change in the change log. A prefix artifact's manifest is carried
/// once per version (`manifests`), not once per binding pointing at it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindingsPayload {
    pub bindings: Vec<BindingChange>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub manifests: std::collections::BTreeMap<u64, Vec<crate::ArtifactFile>>,
}

impl BindingsPayload {
    /// The payload of `bindings` (all of one model), each manifest moved out once.
    pub fn new(mut bindings: Vec<BindingChange>) -> Self {
        let mut manifests = std::collections::BTreeMap::new();
        for target in bindings.iter_mut().filter_map(|b| b.target.as_mut()) {
            let files = std::mem::take(&mut target.artifact.files);
            if !files.is_empty() {
                manifests.entry(target.version).or_insert(files);
            }
        }
        Self { bindings, manifests }
    }

    /// The bindings with their manifests back in place.
    pub fn into_bindings(self) -> Vec<BindingChange> {
        let Self { mut bindings, manifests } = self;
        for target in bindings.iter_mut().filter_map(|b| b.target.as_mut()) {
            if let Some(files) = manifests.get(&target.version) {
                target.artifact.files.clone_from(files);
            }
        }
        bindings
    }
}

/// Everything resolvers cache, at exactly `revision`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    pub revision: u64,
    pub models: Vec<ModelName>,
    /// Current bindings (every `target` is `Some`).
    pub bindings: Vec<BindingChange>,
    /// Who may do what: live tokens, grants and protections, as creations.
    pub access: Vec<AccessChange>,
    /// More of the same state in the compact encoding ([`crate::snapshot_codec`]), as stored
    /// parts: models, bindings and access entries besides those listed above.
    pub packed: Vec<Vec<u8>>,
}

/// What a notification carried: the whole change when it fit, else only its revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    Change(Change),
    Revision(u64),
}

/// A source of changes: connect, then follow.
#[async_trait]
pub trait ChangeFeed: Send + Sync + 'static {
    type Connection: FeedConnection;

    /// Opens a connection that is already subscribed (LISTENing) when this returns, so that a
    /// snapshot taken afterwards cannot miss a change.
    async fn connect(&self) -> Result<Self::Connection>;
}

#[async_trait]
pub trait FeedConnection: Send + 'static {
    /// The next notification. Cancel-safe. `Unavailable` once the connection is lost.
    async fn notification(&mut self) -> Result<Notification>;
    /// A consistent snapshot (one REPEATABLE READ transaction in Postgres).
    async fn snapshot(&mut self) -> Result<Snapshot>;

    /// A snapshot built from the tables themselves, never from a stored compact one (for when
    /// the stored one does not read).
    async fn full_snapshot(&mut self) -> Result<Snapshot> {
        self.snapshot().await
    }
    /// Up to `limit` changes with revision > `after`, in order. An empty answer means none are
    /// committed yet; a first revision above `after + 1` means the log was pruned past `after`.
    async fn changes_after(&mut self, after: u64, limit: u32) -> Result<Vec<Change>>;
    /// The source's current revision (the anti-entropy poll).
    async fn revision(&mut self) -> Result<u64>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_read_stops_before_the_first_undecodable_change() {
        let row = |revision: u64, kind: &str, payload: Option<serde_json::Value>| {
            (revision, kind.to_owned(), "m".to_owned(), payload)
        };
        let good = || Some(serde_json::json!({}));
        let rows =
            vec![row(1, "version", good()), row(2, "model", good()), row(3, "from-the-future", good())];
        let changes = decode_log(rows.clone()).unwrap();
        assert_eq!(changes.iter().map(|c| c.revision).collect::<Vec<_>>(), [1, 2]);
        let err = decode_log(rows.into_iter().skip(2)).unwrap_err();
        assert!(err.to_string().contains("change 3 (kind 'from-the-future')"), "{err}");
        assert!(decode_log([row(4, "binding", None)]).is_err(), "not JSON");
        assert!(decode_log([row(5, "binding", Some(serde_json::json!({"bindings": 1})))]).is_err());
        assert!(decode_log(Vec::new()).unwrap().is_empty());
    }

    #[test]
    fn every_change_encodes_to_the_entry_that_decodes_back_to_it() {
        let model = Some(ModelName::parse("model", "fraud/detector").unwrap());
        let artifact = crate::Artifact {
            uri: "s3://m/fraud/2/".into(),
            sha256: "ab".repeat(32),
            size_bytes: 10,
            format: "onnx".into(),
            files: vec![crate::ArtifactFile { path: "a.bin".into(), size_bytes: 10, ..Default::default() }],
            ..Default::default()
        };
        let binding = BindingChange {
            model_name: model.clone().unwrap(),
            binding: crate::BindingName::parse("binding", "production").unwrap(),
            generation: 3,
            target: Some(crate::BindingTarget::single(2, artifact)),
        };
        let unbound = BindingChange { target: None, ..binding.clone() };
        let access: AccessChange = serde_json::from_value(serde_json::json!({
            "op": "token_revoked", "hash": "00"
        }))
        .unwrap();
        for (revision, effect) in [
            ChangeEffect::ModelUpserted,
            ChangeEffect::ModelDeleted,
            ChangeEffect::Bindings(vec![binding, unbound]),
            ChangeEffect::Other,
            ChangeEffect::Access(access),
        ]
        .into_iter()
        .enumerate()
        {
            let is_access = matches!(effect, ChangeEffect::Access(_));
            let change = Change {
                revision: revision as u64 + 1,
                model: if is_access { None } else { model.clone() },
                effect,
            };
            let (kind, name, payload) = change.encode().unwrap();
            assert_eq!(Change::decode(change.revision, kind, &name, payload), Some(change));
        }
        let nameless = Change { revision: 9, model: None, effect: ChangeEffect::ModelUpserted };
        assert_eq!(nameless.encode(), None);
    }
}
