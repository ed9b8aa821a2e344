//! `bindery rollout start|pause|resume|abort|show|list`: progressive rollouts from a terminal.

use anyhow::Context;
use bindery_proto::v1;
use clap::Subcommand;

use crate::cli::{Client, Output, status};
use crate::cli_traffic::{basis_points, percent};

#[derive(Debug, Subcommand)]
pub enum RolloutCommand {
    /// Move BINDING of MODEL to VERSION in steps (the first applies at once), one per --interval.
    Start {
        model: String,
        binding: String,
        version: u64,
        /// The candidate's share at each step, in percent; the last is 100.
        #[arg(long, default_value = "1,5,25,100", value_delimiter = ',')]
        steps: Vec<String>,
        /// Between steps: `90s`, `10m`, `1h`, `1d`.
        #[arg(long, default_value = "10m")]
        interval: String,
        /// Abort (back to the starting target) when the candidate's metric meets this, checked
        /// before each step: `metrics.online_error_rate > 0.02` (repeatable).
        #[arg(long = "abort-if")]
        abort_if: Vec<String>,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Stop advancing (the binding stays where it is).
    Pause {
        id: u64,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Advance again (the next step is due at once).
    Resume {
        id: u64,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Back to the starting target in one change, and end the rollout.
    Abort {
        id: u64,
        #[arg(long, default_value = "")]
        reason: String,
    },
    Show {
        id: u64,
    },
    /// Newest first.
    List {
        #[arg(long, default_value = "")]
        model: String,
        /// Only running and paused ones.
        #[arg(long)]
        active: bool,
    },
}

fn state_name(s: i32) -> &'static str {
    v1::RolloutState::try_from(s).map_or("?", |s| s.as_str_name().trim_start_matches("ROLLOUT_STATE_"))
}

/// `rollout #3  fraud/detector production -> v8  RUNNING  step 2/4 (5%)  next 2026-...`.
fn rollout_line(r: &v1::Rollout) -> String {
    let at = r
        .step
        .checked_sub(1)
        .and_then(|i| r.steps.get(i as usize))
        .map_or_else(String::new, |w| format!(" ({})", percent(*w)));
    let mut out = format!(
        "rollout #{}  {} {} -> v{}  {}  step {}/{}{at}",
        r.id,
        r.model_name,
        r.binding,
        r.to_version,
        state_name(r.state),
        r.step,
        r.steps.len()
    );
    if let Some(next) = &r.next_step_at {
        out.push_str(&format!("  next {next}"));
    }
    if !r.outcome.is_empty() {
        out.push_str(&format!("\n  {}", r.outcome));
    }
    out
}

pub(crate) async fn rollout(c: &mut Client, cmd: RolloutCommand) -> anyhow::Result<Output> {
    let r = match cmd {
        RolloutCommand::Start { model, binding, version, steps, interval, abort_if, reason } => {
            let steps = steps
                .iter()
                .map(|s| basis_points(s).with_context(|| format!("--steps {s:?}")))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let interval = bindery_core::gates::parse_duration(&interval).ok_or_else(|| {
                crate::output::usage(format!(
                    "--interval {interval:?}: durations look like 90s, 10m, 1h or 1d"
                ))
            })?;
            let req = v1::StartRolloutRequest {
                model_name: model,
                binding,
                to_version: version,
                steps,
                interval_seconds: interval.as_secs(),
                abort_if,
                reason,
            };
            c.registry.start_rollout(c.request(req)?).await
        }
        RolloutCommand::Pause { id, reason } => {
            c.registry.pause_rollout(c.request(v1::PauseRolloutRequest { id, reason })?).await
        }
        RolloutCommand::Resume { id, reason } => {
            c.registry.resume_rollout(c.request(v1::ResumeRolloutRequest { id, reason })?).await
        }
        RolloutCommand::Abort { id, reason } => {
            c.registry.abort_rollout(c.request(v1::AbortRolloutRequest { id, reason })?).await
        }
        RolloutCommand::Show { id } => c.registry.get_rollout(c.request(v1::GetRolloutRequest { id })?).await,
        RolloutCommand::List { model, active } => {
            let rollouts = crate::cli::all_pages(|page_token| {
                let req = c.request(v1::ListRolloutsRequest {
                    model_name: model.clone(),
                    active_only: active,
                    page_size: 1_000,
                    page_token,
                });
                let mut registry = c.registry.clone();
                async move {
                    let r = registry.list_rollouts(req?).await.map_err(status)?.into_inner();
                    Ok((r.rollouts, r.next_page_token))
                }
            })
            .await?;
            let columns = ["ID", "MODEL", "BINDING", "TO", "STATE", "STEP", "NEXT"];
            return Ok(Output::table(&rollouts, &columns, |r| {
                vec![
                    format!("#{}", r.id),
                    r.model_name.clone(),
                    r.binding.clone(),
                    format!("v{}", r.to_version),
                    state_name(r.state).to_owned(),
                    format!("{}/{}", r.step, r.steps.len()),
                    crate::output::when(r.next_step_at.as_ref()),
                ]
            }));
        }
    };
    let r = r.map_err(status)?.into_inner();
    Ok(Output::of(&r, rollout_line(&r)))
}
