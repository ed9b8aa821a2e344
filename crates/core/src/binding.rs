//! Bindings: `(model, name) -> target`, and the inputs that set, delete and roll them back. A
//! target is one version or a split (`crate::traffic`); the change-log payload and the resolved
//! answer carry it whole.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::model::unix_micros;
use crate::traffic::{MemberArtifact, Traffic, TrafficRecord};
use crate::{Artifact, BindingName, Error, ModelName, Result, validate};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Binding {
    pub model_name: ModelName,
    pub name: BindingName,
    /// The single version bound, or the first side of a split.
    pub version: u64,
    /// A split or shadows (issue 15); `None` for a plain binding to `version`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traffic: Option<Traffic>,
    pub generation: u64,
    #[serde(with = "unix_micros")]
    pub updated_at: SystemTime,
    pub updated_by: String,
    pub revision: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetBinding {
    pub model: ModelName,
    pub name: BindingName,
    pub version: u64,
    /// A split or shadows (validated); `version` is then its primary.
    pub traffic: Option<Traffic>,
    /// Compare-and-set: `Some(0)` means the binding must not exist yet.
    pub expected_generation: Option<u64>,
    pub reason: String,
}

/// Several bindings of one model changed in one write: all of them or none, one revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetBindings {
    pub model: ModelName,
    pub bindings: Vec<BindingAssignment>,
    pub reason: String,
}

/// One binding of a [`SetBindings`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingAssignment {
    pub name: BindingName,
    pub version: u64,
    /// A split or shadows (validated); `version` is then its primary.
    pub traffic: Option<Traffic>,
    pub expected_generation: Option<u64>,
}

impl BindingAssignment {
    /// The requested target as traffic (one side for a plain version).
    pub fn target(&self) -> Traffic {
        self.traffic.clone().unwrap_or_else(|| Traffic::single(self.version))
    }
}

/// What a binding write stores for a requested target, given the binding's current one (`None`
/// when the binding is absent): `None` when the binding already has that target (nothing to
/// write), else the target with its buckets assigned so that as few routing keys move as the
/// weights allow.
pub fn plan_target(requested: &Traffic, current: Option<&Traffic>) -> Option<Traffic> {
    if current.is_some_and(|c| c.same_declaration(requested)) {
        return None;
    }
    let mut next = requested.clone();
    next.allocate(current);
    Some(next)
}

/// The traffic column of a stored target: `None` for a plain single version.
pub fn stored_traffic(target: &Traffic) -> Option<&Traffic> {
    target.as_single().is_none().then_some(target)
}

impl SetBindings {
    pub const MAX_BINDINGS: usize = 100;

    pub fn validate(&self) -> Result<()> {
        validate_reason(&self.reason)?;
        if self.bindings.is_empty() {
            return Err(Error::invalid("bindings", "must name at least one binding"));
        }
        validate::list_len("bindings", self.bindings.len())?;
        for (i, b) in self.bindings.iter().enumerate() {
            if self.bindings[..i].iter().any(|earlier| earlier.name == b.name) {
                return Err(Error::invalid("bindings", format!("binding '{}' appears twice", b.name)));
            }
        }
        Ok(())
    }
}

impl From<SetBinding> for SetBindings {
    fn from(s: SetBinding) -> Self {
        Self {
            model: s.model,
            bindings: vec![BindingAssignment {
                name: s.name,
                version: s.version,
                traffic: s.traffic,
                expected_generation: s.expected_generation,
            }],
            reason: s.reason,
        }
    }
}

/// The outcome of a multi-binding write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingsWrite {
    pub bindings: Vec<Binding>,
    pub revision: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteBinding {
    pub model: ModelName,
    pub name: BindingName,
    pub expected_generation: Option<u64>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackBinding {
    pub model: ModelName,
    pub name: BindingName,
    /// Rebind to what this generation bound; `None`: to the target before the latest change.
    pub to_generation: Option<u64>,
    pub expected_generation: Option<u64>,
    pub reason: String,
}

/// Compare-and-set on a binding: `expected` is the generation the caller last saw (0: "must not
/// exist"), `actual` the current one (0 when absent). A mismatch is `Aborted`.
pub fn check_generation(
    expected: Option<u64>,
    actual: u64,
    model: &ModelName,
    name: &BindingName,
) -> Result<()> {
    let Some(expected) = expected else { return Ok(()) };
    if actual == expected {
        return Ok(());
    }
    let now = if actual == 0 { "does not exist".to_owned() } else { format!("is at generation {actual}") };
    let wanted = if expected == 0 { "not to exist".to_owned() } else { format!("generation {expected}") };
    Err(Error::Aborted(format!(
        "binding '{name}' of model '{model}' {now}, but the request expected {wanted}; re-read it and retry"
    )))
}

pub fn validate_reason(reason: &str) -> Result<()> {
    validate::text("reason", reason, 1_000)
}

/// The outcome of a binding write: the binding as it now is, and the revision of the write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingWrite {
    pub binding: Binding,
    pub revision: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BindingAction {
    Set,
    Delete,
    Rollback,
}

impl BindingAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Set => "SET",
            Self::Delete => "DELETE",
            Self::Rollback => "ROLLBACK",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "SET" => Some(Self::Set),
            "DELETE" => Some(Self::Delete),
            "ROLLBACK" => Some(Self::Rollback),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BindingHistoryEntry {
    pub model_name: ModelName,
    pub binding: BindingName,
    pub generation: u64,
    pub action: BindingAction,
    pub before_version: Option<u64>,
    pub after_version: Option<u64>,
    /// The whole targets before and after, when either was a split or had shadows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before_traffic: Option<Traffic>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_traffic: Option<Traffic>,
    pub revision: u64,
    pub actor: String,
    pub reason: String,
    #[serde(with = "unix_micros")]
    pub time: SystemTime,
}

/// What a change to a binding means for a resolver: the payload of a `binding` change in the
/// change log (and of its NOTIFY, when small enough). `target: None` means the binding is gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindingChange {
    pub model_name: ModelName,
    pub binding: BindingName,
    pub generation: u64,
    pub target: Option<BindingTarget>,
}

/// The resolved target of a binding, as resolvers cache it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindingTarget {
    /// The single version, or the split's first side.
    pub version: u64,
    pub artifact: Artifact,
    /// A split or shadows, with the artifacts of its other versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic: Option<Traffic>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub others: Vec<MemberArtifact>,
}

impl BindingTarget {
    pub fn single(version: u64, artifact: Artifact) -> Self {
        Self { version, artifact, traffic: None, others: Vec::new() }
    }

    /// A stored target: the primary version and artifact, and the row's traffic record.
    pub fn from_record(version: u64, artifact: Artifact, record: Option<TrafficRecord>) -> Self {
        match record {
            Some(r) => Self { version, artifact, traffic: Some(r.traffic), others: r.others },
            None => Self::single(version, artifact),
        }
    }

    /// The row's traffic record (`None` for a plain single version).
    pub fn record(&self) -> Option<TrafficRecord> {
        self.traffic.as_ref().map(|t| TrafficRecord { traffic: t.clone(), others: self.others.clone() })
    }

    /// Every version of the target (the primary, then the others).
    pub fn members(&self) -> Vec<u64> {
        match &self.traffic {
            Some(t) => t.members().collect(),
            None => vec![self.version],
        }
    }

    /// The artifact of one of the target's versions.
    pub fn artifact_of(&self, version: u64) -> Option<&Artifact> {
        if version == self.version {
            return Some(&self.artifact);
        }
        self.others.iter().find(|o| o.version == version).map(|o| &o.artifact)
    }
}

/// The answer to "model M, binding B": a version, its artifact, and the revision it was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub model_name: ModelName,
    pub binding: BindingName,
    pub target: BindingTarget,
    pub generation: u64,
    pub revision: u64,
}

/// A binding's state as the audit log records it (both stores): version, generation, and the
/// whole target when it is more than one version.
pub fn binding_audit_state(version: u64, generation: u64, traffic: Option<&Traffic>) -> serde_json::Value {
    let mut state = serde_json::json!({ "version": version, "generation": generation });
    if let (Some(obj), Some(traffic)) = (state.as_object_mut(), traffic) {
        obj.insert("traffic".into(), serde_json::to_value(traffic).unwrap_or_default());
    }
    state
}
