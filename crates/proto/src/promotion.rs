//! Wire <-> domain conversions for promotion gates, policies and requests.

use std::collections::BTreeMap;
use std::time::Duration;

use bindery_core::gates::{BeatOn, Comparison, Gate, GateResult};
use bindery_core::promotion::{DEFAULT_REQUEST_TTL, MAX_GATES};
use bindery_core::{
    BindingName, Error, ModelName, NewPromotion, PageRequest, PromotionFilter, PromotionPolicy,
    PromotionPolicyRecord, PromotionRequest, PromotionState, Result, Scope, validate,
};

use crate::{to_timestamp, v1};

fn binding(field: &str, value: String) -> Result<BindingName> {
    BindingName::parse(field, value)
}

/// A gate from the wire; `field` names it in errors.
pub fn gate_from_wire(field: &str, g: v1::Gate) -> Result<Gate> {
    use v1::gate::Kind;
    let kind = g.kind.ok_or_else(|| Error::invalid(field, "names no gate kind"))?;
    Ok(match kind {
        Kind::MetricThreshold(m) => Gate::MetricThreshold {
            metric: m.metric,
            op: Comparison::parse(&m.op).map_err(|_| {
                Error::invalid(&format!("{field}.op"), format!("{:?} is not one of >=, >, <=, <", m.op))
            })?,
            value: m.value,
        },
        Kind::BeatBound(b) => {
            validate::list_len(&format!("{field}.metrics"), b.metrics.len())?;
            Gate::BeatBound {
                reference: (!b.reference_binding.is_empty())
                    .then(|| binding(&format!("{field}.reference_binding"), b.reference_binding))
                    .transpose()?,
                on: b
                    .metrics
                    .into_iter()
                    .map(|m| BeatOn {
                        metric: m.metric,
                        greater_is_better: m.greater_is_better,
                        min_absolute_change: m.min_absolute_change,
                        min_relative_change: m.min_relative_change,
                    })
                    .collect(),
            }
        }
        Kind::Approvals(a) => Gate::Approvals { count: a.count },
        Kind::Soak(s) => Gate::Soak {
            binding: binding(&format!("{field}.binding"), s.binding)?,
            duration: Duration::from_secs(s.seconds),
        },
        Kind::RequiredTags(t) => {
            validate::list_len(&format!("{field}.tags"), t.tags.len())?;
            Gate::RequiredTags { tags: t.tags.into_iter().collect::<BTreeMap<_, _>>() }
        }
        Kind::RequiredLineage(l) => Gate::RequiredLineage { datasets: l.datasets, code_ref: l.code_ref },
    })
}

impl From<Gate> for v1::Gate {
    fn from(g: Gate) -> Self {
        use v1::gate::Kind;
        let kind = match g {
            Gate::MetricThreshold { metric, op, value } => {
                Kind::MetricThreshold(v1::MetricThresholdGate { metric, op: op.as_str().to_owned(), value })
            }
            Gate::BeatBound { reference, on } => Kind::BeatBound(v1::BeatBoundGate {
                reference_binding: reference.map(|r| r.as_str().to_owned()).unwrap_or_default(),
                metrics: on
                    .into_iter()
                    .map(|b| v1::BeatMetric {
                        metric: b.metric,
                        greater_is_better: b.greater_is_better,
                        min_absolute_change: b.min_absolute_change,
                        min_relative_change: b.min_relative_change,
                    })
                    .collect(),
            }),
            Gate::Approvals { count } => Kind::Approvals(v1::ApprovalsGate { count }),
            Gate::Soak { binding, duration } => {
                Kind::Soak(v1::SoakGate { binding: binding.as_str().to_owned(), seconds: duration.as_secs() })
            }
            Gate::RequiredTags { tags } => {
                Kind::RequiredTags(v1::RequiredTagsGate { tags: tags.into_iter().collect() })
            }
            Gate::RequiredLineage { datasets, code_ref } => {
                Kind::RequiredLineage(v1::RequiredLineageGate { datasets, code_ref })
            }
        };
        Self { kind: Some(kind) }
    }
}

impl TryFrom<v1::SetPromotionPolicyRequest> for PromotionPolicy {
    type Error = Error;
    fn try_from(r: v1::SetPromotionPolicyRequest) -> Result<Self> {
        if r.gates.len() > MAX_GATES {
            return Err(Error::invalid("gates", format!("at most {MAX_GATES} gates per policy")));
        }
        let policy = PromotionPolicy {
            binding: binding("binding", r.binding)?,
            scope: Scope::parse("scope", &r.scope)?,
            gates: r
                .gates
                .into_iter()
                .enumerate()
                .map(|(i, g)| gate_from_wire(&format!("gates[{i}]"), g))
                .collect::<Result<_>>()?,
        };
        policy.validate()?;
        Ok(policy)
    }
}

/// The policy of a binding at a scope (Delete/GetPromotionPolicy).
pub fn policy_key(binding_name: String, scope: &str) -> Result<(BindingName, Scope)> {
    Ok((binding("binding", binding_name)?, Scope::parse("scope", scope)?))
}

impl From<PromotionPolicyRecord> for v1::PromotionPolicy {
    fn from(r: PromotionPolicyRecord) -> Self {
        Self {
            binding: r.policy.binding.as_str().to_owned(),
            scope: r.policy.scope.to_wire(),
            gates: r.policy.gates.into_iter().map(Into::into).collect(),
            updated_at: Some(to_timestamp(r.updated_at)),
            updated_by: r.updated_by,
        }
    }
}

/// A policy without its record (EvaluatePromotion).
pub fn policy_to_wire(p: PromotionPolicy) -> v1::PromotionPolicy {
    v1::PromotionPolicy {
        binding: p.binding.as_str().to_owned(),
        scope: p.scope.to_wire(),
        gates: p.gates.into_iter().map(Into::into).collect(),
        updated_at: None,
        updated_by: String::new(),
    }
}

impl From<GateResult> for v1::GateResult {
    fn from(r: GateResult) -> Self {
        Self {
            gate: Some(r.gate.into()),
            passed: r.passed,
            detail: r.detail,
            awaits_approval: r.awaits_approval,
        }
    }
}

fn state_to_wire(s: PromotionState) -> v1::PromotionState {
    match s {
        PromotionState::Pending => v1::PromotionState::Pending,
        PromotionState::Applied => v1::PromotionState::Applied,
        PromotionState::Rejected => v1::PromotionState::Rejected,
        PromotionState::Superseded => v1::PromotionState::Superseded,
        PromotionState::Expired => v1::PromotionState::Expired,
        PromotionState::Cancelled => v1::PromotionState::Cancelled,
    }
}

impl From<PromotionRequest> for v1::PromotionRequest {
    fn from(r: PromotionRequest) -> Self {
        Self {
            id: r.id,
            model_name: r.model.as_str().to_owned(),
            binding: r.binding.as_str().to_owned(),
            version: r.version,
            reason: r.reason,
            requested_by: r.requested_by,
            created_at: Some(to_timestamp(r.created_at)),
            expires_at: Some(to_timestamp(r.expires_at)),
            expected_generation: r.expected_generation,
            state: state_to_wire(r.state).into(),
            approvals: r
                .approvals
                .into_iter()
                .map(|a| v1::Approval { principal: a.by, time: Some(to_timestamp(a.at)), comment: a.comment })
                .collect(),
            decided_by: r.decided_by,
            decided_at: r.decided_at.map(to_timestamp),
            comment: r.comment,
            gates: r.results.into_iter().map(Into::into).collect(),
            applied_revision: r.applied_revision,
        }
    }
}

/// A promotion call's answer: applied exactly when the request is (a call on an applied request
/// is refused, so an APPLIED answer means this call moved the binding).
impl From<PromotionRequest> for v1::PromotionResponse {
    fn from(r: PromotionRequest) -> Self {
        let applied = r.state == PromotionState::Applied;
        Self { applied, revision: if applied { r.applied_revision } else { 0 }, request: Some(r.into()) }
    }
}

/// `RequestPromotion`'s input; the server decides `may_apply` and may set another `ttl`.
impl TryFrom<v1::RequestPromotionRequest> for NewPromotion {
    type Error = Error;
    fn try_from(r: v1::RequestPromotionRequest) -> Result<Self> {
        Ok(NewPromotion {
            model: ModelName::parse("model_name", r.model_name)?,
            binding: binding("binding", r.binding)?,
            version: validate::version_number("version", r.version)?,
            reason: r.reason,
            expected_generation: r.expected_generation,
            may_apply: false,
            ttl: DEFAULT_REQUEST_TTL,
        })
    }
}

impl TryFrom<v1::ListPromotionRequestsRequest> for (PromotionFilter, PageRequest) {
    type Error = Error;
    fn try_from(r: v1::ListPromotionRequestsRequest) -> Result<Self> {
        let state = match v1::PromotionState::try_from(r.state) {
            Ok(v1::PromotionState::Unspecified) => None,
            Ok(v1::PromotionState::Pending) => Some(PromotionState::Pending),
            Ok(v1::PromotionState::Applied) => Some(PromotionState::Applied),
            Ok(v1::PromotionState::Rejected) => Some(PromotionState::Rejected),
            Ok(v1::PromotionState::Superseded) => Some(PromotionState::Superseded),
            Ok(v1::PromotionState::Expired) => Some(PromotionState::Expired),
            Ok(v1::PromotionState::Cancelled) => Some(PromotionState::Cancelled),
            Err(_) => return Err(Error::invalid("state", format!("{} is not a promotion state", r.state))),
        };
        let filter = PromotionFilter {
            model: (!r.model_name.is_empty())
                .then(|| ModelName::parse("model_name", r.model_name))
                .transpose()?,
            binding: (!r.binding.is_empty()).then(|| binding("binding", r.binding)).transpose()?,
            state,
            visibility: bindery_core::Visibility::All,
        };
        Ok((filter, PageRequest::parse("promotions", r.page_size, &r.page_token)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gates_round_trip_and_bad_ones_are_named() {
        let gates = vec![
            Gate::MetricThreshold { metric: "auc".into(), op: Comparison::AtLeast, value: 0.9 },
            Gate::BeatBound {
                reference: None,
                on: vec![BeatOn {
                    metric: "auc".into(),
                    greater_is_better: true,
                    min_absolute_change: 0.005,
                    min_relative_change: 0.0,
                }],
            },
            Gate::Approvals { count: 1 },
            Gate::Soak {
                binding: BindingName::parse("b", "staging").unwrap(),
                duration: Duration::from_secs(86_400),
            },
            Gate::RequiredTags { tags: [("bias_audit".to_owned(), "passed".to_owned())].into() },
            Gate::RequiredLineage { datasets: true, code_ref: false },
        ];
        let request = v1::SetPromotionPolicyRequest {
            binding: "production".into(),
            scope: "fraud/".into(),
            gates: gates.iter().cloned().map(Into::into).collect(),
        };
        let policy = PromotionPolicy::try_from(request.clone()).unwrap();
        assert_eq!(policy.gates, gates);

        let mut bad = request.clone();
        bad.gates[0] = v1::Gate {
            kind: Some(v1::gate::Kind::MetricThreshold(v1::MetricThresholdGate {
                metric: "auc".into(),
                op: "=>".into(),
                value: 1.0,
            })),
        };
        assert!(PromotionPolicy::try_from(bad).unwrap_err().to_string().contains("gates[0].op"));
        let mut empty = request;
        empty.gates.push(v1::Gate { kind: None });
        assert!(PromotionPolicy::try_from(empty).unwrap_err().to_string().contains("gates[6]"));
    }
}
