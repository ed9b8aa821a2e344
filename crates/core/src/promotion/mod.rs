//! Promotion policies and requests (issue 13), decided once: which policy gates a binding, what
//! the gates see, and how a request moves between states. Stores load [`Facts`] under their write
//! lock, call these functions, and persist what they return; they decide nothing themselves.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::gates::{self, Gate, GateInputs, GateResult};
use crate::{
    AuditEntry, Binding, BindingName, Error, ModelName, ModelVersion, Result, Scope, VersionStatus, validate,
    validate_reason,
};

/// At most this many gates in one policy, and this many metrics or tags in one gate.
pub const MAX_GATES: usize = 20;
/// An approvals gate asks for at most this many people.
pub const MAX_APPROVALS: u32 = 10;
/// A soak lasts at most a year.
pub const MAX_SOAK: Duration = Duration::from_secs(366 * 24 * 3_600);
/// Requests wait at most this long for their approvals unless the server says otherwise.
pub const DEFAULT_REQUEST_TTL: Duration = Duration::from_secs(7 * 24 * 3_600);
/// [`DEFAULT_REQUEST_TTL`] in seconds (the server flag's default).
pub const DEFAULT_REQUEST_TTL_SECS: u64 = DEFAULT_REQUEST_TTL.as_secs();

/// The gates a binding name must pass at a scope. The most specific policy naming a binding
/// decides for a model ([`applicable`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromotionPolicy {
    pub binding: BindingName,
    pub scope: Scope,
    pub gates: Vec<Gate>,
}

impl PromotionPolicy {
    pub fn validate(&self) -> Result<()> {
        if self.gates.is_empty() {
            return Err(Error::invalid("gates", "a policy needs at least one gate (delete it to ungate)"));
        }
        if self.gates.len() > MAX_GATES {
            return Err(Error::invalid("gates", format!("at most {MAX_GATES} gates per policy")));
        }
        for (i, gate) in self.gates.iter().enumerate() {
            validate_gate(&format!("gates[{i}]"), gate)?;
        }
        Ok(())
    }

    /// The audit row of setting this policy over `before` (the gates it replaced).
    pub fn audit_set(&self, before: Option<&[Gate]>) -> AuditEntry {
        AuditEntry {
            action: "promotion.policy.set",
            target: self.target(),
            before: before.map(|g| serde_json::json!({ "gates": g })),
            after: Some(serde_json::json!({ "gates": self.gates })),
        }
    }

    pub fn audit_deleted(&self) -> AuditEntry {
        AuditEntry {
            action: "promotion.policy.delete",
            target: self.target(),
            before: Some(serde_json::json!({ "gates": self.gates })),
            after: None,
        }
    }

    fn target(&self) -> String {
        format!("promotion-policies/{}/{}", self.scope.to_wire(), self.binding)
    }

    /// Whether a request must wait for people, whatever the version's metrics.
    pub fn needs_approval(&self) -> bool {
        self.gates.iter().any(|g| matches!(g, Gate::Approvals { count } if *count > 0))
    }
}

fn metric_key(field: &str, key: &str) -> Result<()> {
    validate::text(field, key, 250)?;
    if key.trim().is_empty() {
        return Err(Error::invalid(field, "must name a metric"));
    }
    Ok(())
}

fn finite(field: &str, value: f64) -> Result<()> {
    if value.is_finite() { Ok(()) } else { Err(Error::invalid(field, "must be a finite number")) }
}

fn validate_gate(field: &str, gate: &Gate) -> Result<()> {
    match gate {
        Gate::MetricThreshold { metric, value, .. } => {
            metric_key(&format!("{field}.metric"), metric)?;
            finite(&format!("{field}.value"), *value)
        }
        Gate::BeatBound { on, .. } => {
            if on.is_empty() || on.len() > MAX_GATES {
                return Err(Error::invalid(field, format!("beat needs 1 to {MAX_GATES} metrics")));
            }
            for (j, b) in on.iter().enumerate() {
                let f = format!("{field}.on[{j}]");
                metric_key(&format!("{f}.metric"), &b.metric)?;
                for (name, v) in [
                    ("min_absolute_change", b.min_absolute_change),
                    ("min_relative_change", b.min_relative_change),
                ] {
                    finite(&format!("{f}.{name}"), v)?;
                    if v < 0.0 {
                        return Err(Error::invalid(&format!("{f}.{name}"), "must not be negative"));
                    }
                }
            }
            Ok(())
        }
        Gate::Approvals { count } => {
            if *count == 0 || *count > MAX_APPROVALS {
                return Err(Error::invalid(
                    &format!("{field}.count"),
                    format!("must be 1 to {MAX_APPROVALS}"),
                ));
            }
            Ok(())
        }
        Gate::Soak { duration, .. } => {
            if duration.is_zero() || *duration > MAX_SOAK {
                return Err(Error::invalid(
                    &format!("{field}.duration"),
                    "must be more than 0 and at most 366 days",
                ));
            }
            Ok(())
        }
        Gate::RequiredTags { tags } => {
            if tags.is_empty() || tags.len() > MAX_GATES {
                return Err(Error::invalid(&format!("{field}.tags"), format!("needs 1 to {MAX_GATES} tags")));
            }
            validate::string_map(&format!("{field}.tags"), tags)
        }
        Gate::RequiredLineage { datasets, code_ref } => {
            if !datasets && !code_ref {
                return Err(Error::invalid(field, "require datasets, a code ref, or both"));
            }
            Ok(())
        }
    }
}

/// A policy as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromotionPolicyRecord {
    pub policy: PromotionPolicy,
    pub updated_at: SystemTime,
    pub updated_by: String,
}

impl AsRef<PromotionPolicy> for PromotionPolicy {
    fn as_ref(&self) -> &PromotionPolicy {
        self
    }
}

impl AsRef<PromotionPolicy> for PromotionPolicyRecord {
    fn as_ref(&self) -> &PromotionPolicy {
        &self.policy
    }
}

/// The policy gating `binding` on `model`: the most specific of `policies` (policies or stored
/// records) naming the binding whose scope covers the model.
pub fn applicable<'a, T: AsRef<PromotionPolicy>>(
    policies: &'a [T],
    model: &ModelName,
    binding: &BindingName,
) -> Option<&'a T> {
    policies
        .iter()
        .filter(|p| p.as_ref().binding == *binding && p.as_ref().scope.covers_model(model))
        .max_by_key(|p| p.as_ref().scope.specificity())
}

/// What the gates look at, loaded by the store under its write lock.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub candidate: &'a ModelVersion,
    /// Every binding of the model, as it is now.
    pub bindings: &'a [Binding],
    /// The versions [`referenced_versions`] named.
    pub bound: &'a [ModelVersion],
    pub now: SystemTime,
}

impl Facts<'_> {
    /// The generation of `binding` now (0: absent).
    pub fn generation(&self, binding: &BindingName) -> u64 {
        self.bindings.iter().find(|b| b.name == *binding).map_or(0, |b| b.generation)
    }

    fn bound_version(&self, binding: &BindingName) -> Option<u64> {
        self.bindings.iter().find(|b| b.name == *binding).map(|b| b.version)
    }

    fn evaluate(&self, policy: &PromotionPolicy, approvers: &[String], requester: &str) -> Vec<GateResult> {
        let mut bound = BTreeMap::new();
        for gate in &policy.gates {
            if let Gate::BeatBound { reference, .. } = gate {
                let reference = reference.clone().unwrap_or_else(|| policy.binding.clone());
                let held = self
                    .bound_version(&reference)
                    .and_then(|v| self.bound.iter().find(|b| b.version == v).map(|b| (v, &b.metrics)));
                bound.insert(reference, held);
            }
        }
        let held_since = self
            .bindings
            .iter()
            .filter(|b| b.version == self.candidate.version)
            .map(|b| (b.name.clone(), b.updated_at))
            .collect();
        let inputs = GateInputs {
            metrics: Some(&self.candidate.metrics),
            tags: Some(&self.candidate.tags),
            lineage: Some(&self.candidate.lineage),
            bound,
            held_since,
            approvers,
            requester,
            now: Some(self.now),
        };
        gates::evaluate(&policy.gates, &policy.binding, &inputs)
    }
}

/// What a store loads for a decision: [`Facts`] without the clock, owned.
#[derive(Debug, Clone)]
pub struct Gathered {
    pub policy: Option<PromotionPolicy>,
    pub candidate: ModelVersion,
    pub bindings: Vec<Binding>,
    pub bound: Vec<ModelVersion>,
}

impl Gathered {
    pub fn facts(&self, now: SystemTime) -> Facts<'_> {
        Facts { candidate: &self.candidate, bindings: &self.bindings, bound: &self.bound, now }
    }
}

/// The versions bound where `policy`'s beat gates compare, for the store to load into
/// [`Facts::bound`].
pub fn referenced_versions(policy: &PromotionPolicy, bindings: &[Binding]) -> Vec<u64> {
    let mut versions: Vec<u64> = policy
        .gates
        .iter()
        .filter_map(|g| match g {
            Gate::BeatBound { reference, .. } => Some(reference.as_ref().unwrap_or(&policy.binding)),
            _ => None,
        })
        .filter_map(|r| bindings.iter().find(|b| b.name == *r).map(|b| b.version))
        .collect();
    versions.sort_unstable();
    versions.dedup();
    versions
}

/// A direct `SetBinding` of a gated binding: allowed only when the policy needs nobody's
/// approval and every gate passes now.
pub fn check_direct(policy: &PromotionPolicy, model: &ModelName, facts: &Facts<'_>) -> Result<()> {
    let binding = &policy.binding;
    if policy.needs_approval() {
        return Err(Error::FailedPrecondition(format!(
            "binding '{binding}' of model '{model}' is gated by a policy that needs approval; \
             ask for it with RequestPromotion (`bindery promote {model} {binding} {}`)",
            facts.candidate.version
        )));
    }
    gates::verdict(&facts.evaluate(policy, &[], "")).map_err(|failing| {
        Error::FailedPrecondition(format!(
            "version {} may not take gated binding '{binding}' of model '{model}': {failing}; \
             see the gate table with EvaluatePromotion, or use RequestPromotion",
            facts.candidate.version
        ))
    })
}

/// Where a promotion request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PromotionState {
    Pending,
    Applied,
    Rejected,
    Superseded,
    Expired,
    Cancelled,
}

impl PromotionState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Applied => "APPLIED",
            Self::Rejected => "REJECTED",
            Self::Superseded => "SUPERSEDED",
            Self::Expired => "EXPIRED",
            Self::Cancelled => "CANCELLED",
        }
    }
}

/// One approval of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub by: String,
    pub at: SystemTime,
    pub comment: String,
}

/// A request to move a gated binding, as stored (the store assigns `id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromotionRequest {
    pub id: u64,
    pub model: ModelName,
    pub binding: BindingName,
    pub version: u64,
    pub reason: String,
    pub requested_by: String,
    pub created_at: SystemTime,
    pub expires_at: SystemTime,
    /// The binding's generation the request was made against (0: it did not exist).
    pub expected_generation: u64,
    /// As stored; see [`PromotionRequest::state_at`] for expiry.
    pub state: PromotionState,
    pub approvals: Vec<Approval>,
    /// Who rejected, cancelled or applied it, when, and why.
    pub decided_by: String,
    #[serde(default)]
    pub decided_at: Option<SystemTime>,
    pub comment: String,
    /// The gate table of the latest evaluation.
    pub results: Vec<GateResult>,
    /// The revision that moved the binding (APPLIED).
    pub applied_revision: u64,
}

impl PromotionRequest {
    /// The state as of `now`: a pending request past its deadline is expired.
    pub fn state_at(&self, now: SystemTime) -> PromotionState {
        if self.state == PromotionState::Pending && now >= self.expires_at {
            PromotionState::Expired
        } else {
            self.state
        }
    }

    fn approvers(&self) -> Vec<String> {
        self.approvals.iter().map(|a| a.by.clone()).collect()
    }

    fn require_pending(&self, now: SystemTime) -> Result<()> {
        match self.state_at(now) {
            PromotionState::Pending => Ok(()),
            state => Err(Error::FailedPrecondition(format!(
                "promotion #{} of '{}' to {} is {}; nothing more can happen to it{}",
                self.id,
                self.model,
                self.binding,
                state.as_str(),
                if state == PromotionState::Expired { " (request it again)" } else { "" }
            ))),
        }
    }

    fn decide(&mut self, state: PromotionState, who: &str, comment: &str, now: SystemTime) {
        self.state = state;
        who.clone_into(&mut self.decided_by);
        comment.clone_into(&mut self.comment);
        self.decided_at = Some(now);
    }

    /// As of `now`: a pending request past its deadline reads as expired.
    #[must_use]
    pub fn as_of(mut self, now: SystemTime) -> Self {
        self.state = self.state_at(now);
        self
    }

    /// A pending request whose binding moved some other way (or a newer request for it).
    pub fn supersede(&mut self, why: &str, now: SystemTime) {
        if self.state_at(now) == PromotionState::Pending {
            self.decide(PromotionState::Superseded, "registry", why, now);
        }
    }

    /// The reason recorded in the binding's history when this request moves it.
    pub fn history_reason(&self) -> String {
        let approvers = self.approvers();
        let approved = if approvers.is_empty() {
            String::new()
        } else {
            format!(", approved by {}", approvers.join(", "))
        };
        format!("promotion #{} requested by {}{approved}: {}", self.id, self.requested_by, self.reason)
    }

    /// Marks the request applied by `who` at `revision`.
    pub fn applied(&mut self, who: &str, revision: u64, now: SystemTime) {
        self.decide(PromotionState::Applied, who, "", now);
        self.applied_revision = revision;
    }

    pub fn audit(&self, action: &'static str) -> AuditEntry {
        AuditEntry {
            action,
            target: format!("models/{}/promotions/{}", self.model, self.id),
            before: None,
            after: Some(serde_json::json!({
                "binding": self.binding.as_str(),
                "version": self.version,
                "state": self.state.as_str(),
                "requested_by": self.requested_by,
                "approvers": self.approvers(),
                "decided_by": self.decided_by,
                "comment": self.comment,
                "reason": self.reason,
            })),
        }
    }
}

/// What a caller asks of a promotion.
#[derive(Debug, Clone, PartialEq)]
pub enum PromotionAct {
    Request(NewPromotion),
    Approve { id: u64, comment: String },
    Reject { id: u64, comment: String },
    Cancel { id: u64 },
}

impl PromotionAct {
    pub fn validate(&self) -> Result<()> {
        match self {
            Self::Request(new) => {
                validate::version_number("version", new.version)?;
                validate_reason(&new.reason)
            }
            Self::Approve { id, comment } | Self::Reject { id, comment } => {
                validate::version_number("id", *id)?;
                validate::text("comment", comment, 1_000)
            }
            Self::Cancel { id } => validate::version_number("id", *id).map(drop),
        }
    }

    /// The audit action this act records.
    pub fn action(&self) -> &'static str {
        match self {
            Self::Request(_) => "promotion.request",
            Self::Approve { .. } => "promotion.approve",
            Self::Reject { .. } => "promotion.reject",
            Self::Cancel { .. } => "promotion.cancel",
        }
    }
}

impl PromotionAct {
    /// The stored request this act is about (`None`: a new request).
    pub fn request_id(&self) -> Option<u64> {
        match self {
            Self::Request(_) => None,
            Self::Approve { id, .. } | Self::Reject { id, .. } | Self::Cancel { id } => Some(*id),
        }
    }

    /// Whether deciding needs [`Gathered`] facts (the gates are evaluated).
    pub fn evaluates(&self) -> bool {
        matches!(self, Self::Request(_) | Self::Approve { .. })
    }
}

/// Decides `act` by `actor`: the request as it must be saved (id 0: new) and what to do with the
/// binding. `existing` is the stored request for every act but a new request; `gathered` is
/// loaded for the acts that [`PromotionAct::evaluates`].
pub fn decide(
    act: &PromotionAct,
    actor: &str,
    existing: Option<PromotionRequest>,
    gathered: Option<&Gathered>,
    now: SystemTime,
) -> Result<(PromotionRequest, Step)> {
    let missing = || Error::Internal("a promotion decision without what it decides on".into());
    match (act, existing) {
        (PromotionAct::Request(new), _) => {
            let g = gathered.ok_or_else(missing)?;
            request(new, actor, g.policy.as_ref(), &g.facts(now))
        }
        (PromotionAct::Approve { comment, .. }, Some(mut r)) => {
            let g = gathered.ok_or_else(missing)?;
            let step = approve(&mut r, actor, comment, g.policy.as_ref(), &g.facts(now))?;
            Ok((r, step))
        }
        (PromotionAct::Reject { comment, .. }, Some(mut r)) => {
            reject(&mut r, actor, comment, now)?;
            Ok((r, Step::Record))
        }
        (PromotionAct::Cancel { .. }, Some(mut r)) => {
            cancel(&mut r, actor, now)?;
            Ok((r, Step::Record))
        }
        (_, None) => Err(missing()),
    }
}

/// `RequestPromotion`'s input.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPromotion {
    pub model: ModelName,
    pub binding: BindingName,
    pub version: u64,
    pub reason: String,
    /// Compare-and-set: the generation the requester saw; default the current one.
    pub expected_generation: Option<u64>,
    /// The requester may move the binding (holds the role it needs), so a request whose every
    /// gate passes applies at once.
    pub may_apply: bool,
    pub ttl: Duration,
}

/// What the store must do after a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Save the request; the binding stays.
    Record,
    /// Move the binding to the request's version (compare-and-set on its expected generation),
    /// then mark it [`PromotionRequest::applied`] and save it, in the same transaction.
    Apply,
}

fn check_candidate(model: &ModelName, facts: &Facts<'_>) -> Result<()> {
    if facts.candidate.status != VersionStatus::Ready {
        return Err(Error::FailedPrecondition(format!(
            "version {} of model '{model}' is {}; only READY versions can be promoted",
            facts.candidate.version,
            facts.candidate.status.as_str()
        )));
    }
    Ok(())
}

/// Whether the gates let the request apply now, and what to do.
fn settle(
    request: &mut PromotionRequest,
    policy: Option<&PromotionPolicy>,
    facts: &Facts<'_>,
    may_apply: bool,
) -> Step {
    let current = facts.generation(&request.binding);
    if current != request.expected_generation {
        let who = "registry";
        request.decide(
            PromotionState::Superseded,
            who,
            &format!(
                "binding '{}' moved to generation {current} after the request (made against {})",
                request.binding, request.expected_generation
            ),
            facts.now,
        );
        return Step::Record;
    }
    request.results =
        policy.map(|p| facts.evaluate(p, &request.approvers(), &request.requested_by)).unwrap_or_default();
    if may_apply && gates::verdict(&request.results).is_ok() { Step::Apply } else { Step::Record }
}

/// `RequestPromotion`: a new request (id 0 until stored), evaluated at once.
pub fn request(
    new: &NewPromotion,
    requester: &str,
    policy: Option<&PromotionPolicy>,
    facts: &Facts<'_>,
) -> Result<(PromotionRequest, Step)> {
    check_candidate(&new.model, facts)?;
    let current = facts.generation(&new.binding);
    crate::check_generation(new.expected_generation, current, &new.model, &new.binding)?;
    if facts.bound_version(&new.binding) == Some(new.version) {
        return Err(Error::FailedPrecondition(format!(
            "binding '{}' of model '{}' is already bound to version {}",
            new.binding, new.model, new.version
        )));
    }
    let mut request = PromotionRequest {
        id: 0,
        model: new.model.clone(),
        binding: new.binding.clone(),
        version: new.version,
        reason: new.reason.clone(),
        requested_by: requester.to_owned(),
        created_at: facts.now,
        expires_at: facts.now + new.ttl,
        expected_generation: current,
        state: PromotionState::Pending,
        approvals: Vec::new(),
        decided_by: String::new(),
        decided_at: None,
        comment: String::new(),
        results: Vec::new(),
        applied_revision: 0,
    };
    let step = settle(&mut request, policy, facts, new.may_apply);
    // Refused outright when a gate fails that neither people nor time can fix.
    let hopeless: Vec<&str> = request
        .results
        .iter()
        .filter(|r| !r.passed && !matches!(r.gate, Gate::Approvals { .. } | Gate::Soak { .. }))
        .map(|r| r.detail.as_str())
        .collect();
    if !hopeless.is_empty() {
        return Err(Error::FailedPrecondition(format!(
            "version {} may not take gated binding '{}' of model '{}': {}",
            new.version,
            new.binding,
            new.model,
            hopeless.join("; ")
        )));
    }
    Ok((request, step))
}

/// `ApprovePromotion` by `who` (who holds APPROVER on the model): recorded once per principal,
/// never the requester's; then the gates are evaluated again and the request applies when they
/// all pass. Approving again retries the application (e.g. once a soak has finished).
pub fn approve(
    request: &mut PromotionRequest,
    who: &str,
    comment: &str,
    policy: Option<&PromotionPolicy>,
    facts: &Facts<'_>,
) -> Result<Step> {
    request.require_pending(facts.now)?;
    if who == request.requested_by {
        return Err(Error::PermissionDenied(format!(
            "'{who}' requested promotion #{}; the requester's own approval never counts (four eyes)",
            request.id
        )));
    }
    check_candidate(&request.model, facts)?;
    if !request.approvals.iter().any(|a| a.by == who) {
        request.approvals.push(Approval { by: who.to_owned(), at: facts.now, comment: comment.to_owned() });
    }
    Ok(settle(request, policy, facts, true))
}

/// `RejectPromotion` by an approver: final.
pub fn reject(request: &mut PromotionRequest, who: &str, comment: &str, now: SystemTime) -> Result<()> {
    request.require_pending(now)?;
    if comment.trim().is_empty() {
        return Err(Error::invalid("comment", "say why the promotion is rejected"));
    }
    request.decide(PromotionState::Rejected, who, comment, now);
    Ok(())
}

/// `CancelPromotion`: only by the requester.
pub fn cancel(request: &mut PromotionRequest, who: &str, now: SystemTime) -> Result<()> {
    request.require_pending(now)?;
    if who != request.requested_by {
        return Err(Error::PermissionDenied(format!(
            "only '{}', who requested promotion #{}, may cancel it",
            request.requested_by, request.id
        )));
    }
    request.decide(PromotionState::Cancelled, who, "", now);
    Ok(())
}

/// `EvaluatePromotion`: the gate table for a version on a binding, recording nothing.
pub fn evaluate(policy: Option<&PromotionPolicy>, requester: &str, facts: &Facts<'_>) -> Vec<GateResult> {
    policy.map(|p| facts.evaluate(p, &[], requester)).unwrap_or_default()
}

/// Filters for `ListPromotionRequests`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PromotionFilter {
    pub model: Option<ModelName>,
    pub binding: Option<BindingName>,
    pub state: Option<PromotionState>,
    /// Only requests about models in it (the primary narrows it to the caller's view when no
    /// model is named).
    pub visibility: crate::Visibility,
}

#[cfg(test)]
mod tests;
