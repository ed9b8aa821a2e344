//! `bindery policy|promote|approve|reject|cancel|requests`: promotion gates from a terminal. Gates
//! are written and shown in their one-line form (`bindery_core::gates::Gate::parse_spec`).

use anyhow::{anyhow, bail};
use bindery_core::gates::Gate;
use bindery_proto::promotion::gate_from_wire;
use bindery_proto::v1;
use clap::Subcommand;

use crate::cli::{Client, Output, status};

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Gate a binding name at a scope (ADMIN), replacing its policy there. Each --gate is one of:
    /// `metrics.auc >= 0.9`, `beat self on auc by 0.005` (self: the gated binding; add `by 2%`
    /// or `lower-is-better`), `approvals 1`, `soak staging 24h`, `tags bias_audit=passed`,
    /// `lineage datasets,code_ref`.
    Set {
        binding: String,
        /// `*` (global, the default), `namespace/`, or a model name.
        #[arg(long, default_value = "*")]
        scope: String,
        #[arg(long = "gate", required = true)]
        gates: Vec<String>,
    },
    /// The policy at --scope, or the one that gates the binding on --model.
    Show {
        binding: String,
        #[arg(long, default_value = "*")]
        scope: String,
        #[arg(long, default_value = "")]
        model: String,
    },
    /// Every policy (of one binding name with --binding).
    List {
        #[arg(long, default_value = "")]
        binding: String,
    },
    /// Ungate a binding name at a scope.
    Delete {
        binding: String,
        #[arg(long, default_value = "*")]
        scope: String,
    },
}

fn show_gate(g: Option<v1::Gate>) -> String {
    g.and_then(|g| gate_from_wire("gate", g).ok()).map_or_else(|| "?".to_owned(), |g| g.to_string())
}

fn policy_lines(p: &v1::PromotionPolicy) -> String {
    let mut out = format!("{} at {}  (by {})", p.binding, p.scope, p.updated_by);
    for g in &p.gates {
        out.push_str(&format!("\n  {}", show_gate(Some(g.clone()))));
    }
    out
}

/// The gate table: one line per gate, PASS / WAIT (needs people or time) / FAIL.
fn gate_table(results: Vec<v1::GateResult>) -> String {
    if results.is_empty() {
        return "  (no policy gates this binding)".to_owned();
    }
    results
        .into_iter()
        .map(|r| {
            let verdict = match (r.passed, r.awaits_approval) {
                (true, _) => "PASS",
                (false, true) => "WAIT",
                (false, false) => "FAIL",
            };
            format!("  {verdict}  {:<40}  {}", show_gate(r.gate), r.detail)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn state_name(s: i32) -> &'static str {
    v1::PromotionState::try_from(s).map_or("?", |s| s.as_str_name().trim_start_matches("PROMOTION_STATE_"))
}

fn request_line(r: &v1::PromotionRequest) -> String {
    let approvers: Vec<&str> = r.approvals.iter().map(|a| a.principal.as_str()).collect();
    let mut line = format!(
        "promotion #{}  {} {} -> v{}  {}  requested by {}",
        r.id,
        r.model_name,
        r.binding,
        r.version,
        state_name(r.state),
        r.requested_by
    );
    if !approvers.is_empty() {
        line.push_str(&format!(", approved by {}", approvers.join(", ")));
    }
    if !r.decided_by.is_empty() && r.state != v1::PromotionState::Pending as i32 {
        line.push_str(&format!("; {} by {}", state_name(r.state).to_lowercase(), r.decided_by));
    }
    if !r.comment.is_empty() {
        line.push_str(&format!(": {}", r.comment));
    }
    line
}

/// A request's answer: its line, its gate table, and what happened to the binding.
fn outcome(o: &v1::PromotionResponse, approving: bool) -> anyhow::Result<Output> {
    let request = o.request.clone().ok_or_else(|| anyhow!("the registry answered without the request"))?;
    let blocked = request.gates.iter().any(|g| !g.passed && !g.awaits_approval);
    let mut out = request_line(&request);
    out.push('\n');
    out.push_str(&gate_table(request.gates.clone()));
    if o.applied {
        out.push_str(&format!(
            "\napplied: {} {} -> v{} (revision {})",
            request.model_name, request.binding, request.version, o.revision
        ));
    } else if approving && request.state == v1::PromotionState::Pending as i32 && blocked {
        // People approved, but an automated gate fails now: say so with a failing exit.
        bail!("{out}\nnot applied: a gate fails now (the approval is recorded; approve again to retry)");
    }
    Ok(Output::of(o, out))
}

pub(crate) async fn policy(c: &mut Client, cmd: PolicyCommand) -> anyhow::Result<Output> {
    Ok(match cmd {
        PolicyCommand::Set { binding, scope, gates } => {
            let gates = gates
                .iter()
                .map(|g| {
                    Gate::parse_spec(g)
                        .map(v1::Gate::from)
                        .map_err(|e| crate::output::usage(format!("--gate {e}")))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let req = v1::SetPromotionPolicyRequest { binding, scope, gates };
            let r = c.registry.set_promotion_policy(c.request(req)?).await.map_err(status)?.into_inner();
            Output::of(&r, policy_lines(&r.policy.clone().unwrap_or_default()))
        }
        PolicyCommand::Show { binding, scope, model } => {
            let req = v1::GetPromotionPolicyRequest { binding, scope, model_name: model };
            let r = c.registry.get_promotion_policy(c.request(req)?).await.map_err(status)?.into_inner();
            Output::of(&r, policy_lines(&r.policy.clone().unwrap_or_default()))
        }
        PolicyCommand::List { binding } => {
            let req = v1::ListPromotionPoliciesRequest { binding };
            let r = c.registry.list_promotion_policies(c.request(req)?).await.map_err(status)?.into_inner();
            Output::list(&r.policies, policy_lines)
        }
        PolicyCommand::Delete { binding, scope } => {
            let req = v1::DeletePromotionPolicyRequest { binding: binding.clone(), scope: scope.clone() };
            let r = c.registry.delete_promotion_policy(c.request(req)?).await.map_err(status)?.into_inner();
            Output::of(&r, format!("{binding} at {scope} is no longer gated"))
        }
    })
}

/// `bindery promote MODEL BINDING VERSION`: request (or with --dry-run, only evaluate).
pub(crate) async fn promote(
    c: &mut Client,
    (model, binding, version): (String, String, u64),
    reason: String,
    expected_generation: Option<u64>,
    dry_run: bool,
) -> anyhow::Result<Output> {
    if dry_run {
        let req =
            v1::EvaluatePromotionRequest { model_name: model.clone(), binding: binding.clone(), version };
        let r = c.registry.evaluate_promotion(c.request(req)?).await.map_err(status)?.into_inner();
        let verdict = match (r.gated, r.passes, r.needs_approval) {
            (false, _, _) => "not gated: SetBinding moves it directly",
            (true, false, _) => "would be refused or wait: see the failing gates",
            (true, true, true) => "passes its automated gates; needs approval",
            (true, true, false) => "passes every gate",
        };
        let text = format!("{model} {binding} -> v{version}: {verdict}\n{}", gate_table(r.gates.clone()));
        return Ok(Output::of(&r, text));
    }
    let req =
        v1::RequestPromotionRequest { model_name: model, binding, version, reason, expected_generation };
    outcome(&c.registry.request_promotion(c.request(req)?).await.map_err(status)?.into_inner(), false)
}

pub(crate) async fn approve(c: &mut Client, id: u64, comment: String) -> anyhow::Result<Output> {
    let req = v1::ApprovePromotionRequest { id, comment };
    outcome(&c.registry.approve_promotion(c.request(req)?).await.map_err(status)?.into_inner(), true)
}

pub(crate) async fn reject(c: &mut Client, id: u64, comment: String) -> anyhow::Result<Output> {
    let req = v1::RejectPromotionRequest { id, comment };
    outcome(&c.registry.reject_promotion(c.request(req)?).await.map_err(status)?.into_inner(), false)
}

pub(crate) async fn cancel(c: &mut Client, id: u64) -> anyhow::Result<Output> {
    let req = v1::CancelPromotionRequest { id };
    outcome(&c.registry.cancel_promotion(c.request(req)?).await.map_err(status)?.into_inner(), false)
}

pub(crate) async fn requests(
    c: &mut Client,
    model: String,
    binding: String,
    state: String,
) -> anyhow::Result<Output> {
    let state = if state.is_empty() {
        v1::PromotionState::Unspecified
    } else {
        v1::PromotionState::from_str_name(&format!("PROMOTION_STATE_{}", state.to_uppercase())).ok_or_else(
            || {
                anyhow!(
                    "--state {state:?}: one of pending, applied, rejected, superseded, expired, cancelled"
                )
            },
        )?
    };
    let mut requests = Vec::new();
    let mut page_token = String::new();
    loop {
        let req = v1::ListPromotionRequestsRequest {
            model_name: model.clone(),
            binding: binding.clone(),
            state: state as i32,
            page_size: 1_000,
            page_token,
        };
        let r = c.registry.list_promotion_requests(c.request(req)?).await.map_err(status)?.into_inner();
        requests.extend(r.requests);
        if r.next_page_token.is_empty() {
            break;
        }
        page_token = r.next_page_token;
    }
    Ok(Output::list(&requests, request_line))
}
