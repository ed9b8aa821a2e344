//! Wire <-> domain conversions for progressive rollouts.

use std::time::{Duration, UNIX_EPOCH};

use bindery_core::rollout::{Rollout, RolloutFilter, RolloutSpec, RolloutState};
use bindery_core::{BindingName, Error, ModelName, PageRequest, Result};

use crate::{to_timestamp, v1};

impl TryFrom<v1::StartRolloutRequest> for RolloutSpec {
    type Error = Error;
    fn try_from(r: v1::StartRolloutRequest) -> Result<Self> {
        let spec = Self {
            model: ModelName::parse("model_name", r.model_name)?,
            binding: BindingName::parse("binding", r.binding)?,
            to_version: r.to_version,
            steps: r.steps,
            interval: Duration::from_secs(r.interval_seconds),
            abort_if: r.abort_if,
            reason: r.reason,
        };
        spec.validate()?;
        Ok(spec)
    }
}

impl TryFrom<v1::ListRolloutsRequest> for (RolloutFilter, PageRequest) {
    type Error = Error;
    fn try_from(r: v1::ListRolloutsRequest) -> Result<Self> {
        let model =
            (!r.model_name.is_empty()).then(|| ModelName::parse("model_name", r.model_name)).transpose()?;
        Ok((
            RolloutFilter { model, active_only: r.active_only },
            PageRequest::parse("rollouts", r.page_size, &r.page_token)?,
        ))
    }
}

fn state(s: RolloutState) -> v1::RolloutState {
    match s {
        RolloutState::Running => v1::RolloutState::Running,
        RolloutState::Paused => v1::RolloutState::Paused,
        RolloutState::Aborted => v1::RolloutState::Aborted,
        RolloutState::Completed => v1::RolloutState::Completed,
    }
}

fn at(micros: u64) -> Option<prost_types::Timestamp> {
    Some(to_timestamp(UNIX_EPOCH + Duration::from_micros(micros)))
}

impl From<Rollout> for v1::Rollout {
    fn from(r: Rollout) -> Self {
        Self {
            id: r.id,
            model_name: r.model.into_string(),
            binding: r.binding.as_str().to_owned(),
            to_version: r.to_version,
            steps: r.steps,
            interval_seconds: r.interval_secs,
            abort_if: r.abort_if,
            state: state(r.state).into(),
            step: r.step,
            next_step_at: if r.state == RolloutState::Running { at(r.next_at) } else { None },
            from_version: r.from.primary(),
            from_target: Some(crate::traffic::encode(&r.from)),
            started_by: r.started_by,
            created_at: at(r.created_at),
            updated_at: at(r.updated_at),
            reason: r.reason,
            outcome: r.outcome,
        }
    }
}
