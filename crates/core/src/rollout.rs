//! Progressive rollouts (issue 15), decided once: a plan that moves a binding from its current
//! target to one version in weighted steps (1%, 5%, 25%, 100%), one step per interval, aborting
//! when a metric of the candidate breaches a condition. Stores keep a rollout as a document and
//! run what [`Rollout::tick`] decides; each step is an ordinary, audited, gate-checked binding
//! write. Time is always passed in, so tests drive a rollout with an injected clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::gates::{Gate, Metrics};
use crate::traffic::{Side, Traffic, default_role};
use crate::{BindingName, Error, ModelName, Result, validate};

pub const MAX_STEPS: usize = 20;
pub const MAX_ABORT_CONDITIONS: usize = 10;
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);
pub const MAX_INTERVAL: Duration = Duration::from_secs(7 * 86_400);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RolloutState {
    Running,
    Paused,
    Aborted,
    Completed,
}

impl RolloutState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "RUNNING",
            Self::Paused => "PAUSED",
            Self::Aborted => "ABORTED",
            Self::Completed => "COMPLETED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "RUNNING" => Some(Self::Running),
            "PAUSED" => Some(Self::Paused),
            "ABORTED" => Some(Self::Aborted),
            "COMPLETED" => Some(Self::Completed),
            _ => None,
        }
    }

    /// Running or paused: the rollout still owns its binding (at most one such per binding).
    pub fn is_active(self) -> bool {
        matches!(self, Self::Running | Self::Paused)
    }
}

/// A `StartRollout` request.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutSpec {
    pub model: ModelName,
    pub binding: BindingName,
    pub to_version: u64,
    /// The candidate's weight at each step, in basis points: increasing, the last 10000.
    pub steps: Vec<u32>,
    pub interval: Duration,
    /// Metric conditions on the candidate (`metrics.online_error_rate > 0.02`): any that holds
    /// before a step aborts the rollout.
    pub abort_if: Vec<String>,
    pub reason: String,
}

impl RolloutSpec {
    pub fn validate(&self) -> Result<()> {
        validate::version_number("to_version", self.to_version)?;
        crate::validate_reason(&self.reason)?;
        if self.steps.is_empty() || self.steps.len() > MAX_STEPS {
            return Err(Error::invalid(
                "steps",
                format!("has {} entries; a rollout has 1 to {MAX_STEPS} steps", self.steps.len()),
            ));
        }
        for (i, w) in self.steps.iter().enumerate() {
            if *w == 0 || *w > crate::traffic::BUCKETS {
                return Err(Error::invalid(
                    &format!("steps[{i}]"),
                    format!("is {w} basis points; each step is 1 to 10000"),
                ));
            }
            if i > 0 && *w <= self.steps[i - 1] {
                return Err(Error::invalid(&format!("steps[{i}]"), "steps must increase"));
            }
        }
        if self.steps.last() != Some(&crate::traffic::BUCKETS) {
            return Err(Error::invalid(
                "steps",
                "the last step must be 10000 (100%): a rollout ends on the candidate",
            ));
        }
        if self.interval < MIN_INTERVAL || self.interval > MAX_INTERVAL {
            return Err(Error::invalid(
                "interval_seconds",
                format!(
                    "is {}s; between {}s and {}s",
                    self.interval.as_secs(),
                    MIN_INTERVAL.as_secs(),
                    MAX_INTERVAL.as_secs()
                ),
            ));
        }
        if self.abort_if.len() > MAX_ABORT_CONDITIONS {
            return Err(Error::invalid("abort_if", format!("at most {MAX_ABORT_CONDITIONS} conditions")));
        }
        for (i, c) in self.abort_if.iter().enumerate() {
            condition(c).map_err(|e| Error::invalid(&format!("abort_if[{i}]"), e))?;
        }
        Ok(())
    }
}

/// An abort condition: a metric comparison in the gates' one-line form.
fn condition(text: &str) -> std::result::Result<(String, crate::gates::Comparison, f64), String> {
    match Gate::parse_spec(text) {
        Ok(Gate::MetricThreshold { metric, op, value }) => Ok((metric, op, value)),
        Ok(_) => Err(format!("{text:?}: an abort condition is `metrics.<key> <op> <number>`")),
        Err(e) => Err(e.to_string()),
    }
}

/// A rollout as stored (a document; the store adds its id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollout {
    #[serde(skip)]
    pub id: u64,
    pub model: ModelName,
    pub binding: BindingName,
    pub to_version: u64,
    pub steps: Vec<u32>,
    pub interval_secs: u64,
    pub abort_if: Vec<String>,
    /// The binding's whole target when the rollout started: what an abort restores.
    pub from: Traffic,
    pub state: RolloutState,
    /// Steps applied so far.
    pub step: u32,
    /// The binding's generation after the rollout's last write; another value means someone
    /// else moved the binding.
    pub generation: u64,
    /// When the next step is due (microseconds since the Unix epoch).
    pub next_at: u64,
    pub started_by: String,
    pub created_at: u64,
    pub updated_at: u64,
    pub reason: String,
    /// Why it paused, aborted or completed.
    #[serde(default)]
    pub outcome: String,
}

/// What to do with a rollout now.
#[derive(Debug, Clone, PartialEq)]
pub enum Tick {
    /// Not running, or not due.
    Wait,
    /// Apply step `step` (0-based): move the binding to `target`.
    Step { step: usize, target: Traffic },
    /// A condition breached: move the binding back to the starting target.
    Abort { reason: String },
    /// The binding was moved by someone else: stop, and leave the binding as it is.
    Stop { reason: String },
}

fn micros(t: SystemTime) -> u64 {
    u64::try_from(t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros())).unwrap_or(u64::MAX)
}

impl Rollout {
    /// A new rollout from the binding's current target (`from`, at `generation`). Its first step
    /// is due at once.
    pub fn start(
        spec: &RolloutSpec,
        from: Traffic,
        generation: u64,
        actor: &str,
        now: SystemTime,
    ) -> Result<Self> {
        if from.as_single() == Some(spec.to_version) {
            return Err(Error::FailedPrecondition(format!(
                "binding '{}' of model '{}' already serves version {} alone; nothing to roll out",
                spec.binding, spec.model, spec.to_version
            )));
        }
        let now = micros(now);
        Ok(Self {
            id: 0,
            model: spec.model.clone(),
            binding: spec.binding.clone(),
            to_version: spec.to_version,
            steps: spec.steps.clone(),
            interval_secs: spec.interval.as_secs(),
            abort_if: spec.abort_if.clone(),
            from,
            state: RolloutState::Running,
            step: 0,
            generation,
            next_at: now,
            started_by: actor.to_owned(),
            created_at: now,
            updated_at: now,
            reason: spec.reason.clone(),
            outcome: String::new(),
        })
    }

    /// The binding's target at step `step` (0-based): the candidate at that step's weight beside
    /// the starting target's first version, the starting shadows kept; at 100%, the candidate
    /// alone.
    pub fn target_at(&self, step: usize) -> Traffic {
        let weight = self.steps.get(step).copied().unwrap_or(crate::traffic::BUCKETS);
        if weight >= crate::traffic::BUCKETS {
            // The binding's deployment override stays with it.
            return Traffic { deployment: self.from.deployment.clone(), ..Traffic::single(self.to_version) };
        }
        let stable = self.from.primary();
        let side = |version, weight, i| Side { version, weight, role: default_role(i), buckets: Vec::new() };
        Traffic {
            sides: vec![side(stable, crate::traffic::BUCKETS - weight, 0), side(self.to_version, weight, 1)],
            shadows: self
                .from
                .shadows
                .iter()
                .filter(|s| s.version != self.to_version && s.version != stable)
                .cloned()
                .collect(),
            deployment: self.from.deployment.clone(),
        }
    }

    /// The first abort condition the candidate's metrics meet, described.
    pub fn breach(&self, metrics: &Metrics) -> Option<String> {
        self.abort_if.iter().find_map(|text| {
            let (metric, op, bound) = condition(text).ok()?;
            let value = *metrics.get(&metric)?;
            op.holds(value, bound).then(|| format!("metrics.{metric} = {value} {} {bound}", op.as_str()))
        })
    }

    /// What the rollout does at `now`, given the binding's current generation and the
    /// candidate's metrics.
    pub fn tick(&self, now: SystemTime, current_generation: u64, metrics: &Metrics) -> Tick {
        if self.state != RolloutState::Running || micros(now) < self.next_at {
            return Tick::Wait;
        }
        if current_generation != self.generation {
            return Tick::Stop {
                reason: format!(
                    "binding '{}' was moved outside the rollout (generation {current_generation}, the rollout left it at {}); \
                     the binding is left as it is",
                    self.binding, self.generation
                ),
            };
        }
        if let Some(breach) = self.breach(metrics) {
            return Tick::Abort { reason: format!("abort condition met: {breach}") };
        }
        let step = self.step as usize;
        Tick::Step { step, target: self.target_at(step) }
    }

    /// Records that step `step` moved the binding to `generation`.
    pub fn stepped(&mut self, step: usize, generation: u64, now: SystemTime) {
        let now = micros(now);
        self.step = u32::try_from(step + 1).unwrap_or(u32::MAX);
        self.generation = generation;
        self.updated_at = now;
        self.next_at = now.saturating_add(self.interval_secs.saturating_mul(1_000_000));
        if step + 1 >= self.steps.len() {
            self.state = RolloutState::Completed;
            self.outcome = format!("completed: version {} serves 100%", self.to_version);
        }
    }

    /// Ends the rollout (aborted or stopped) with `why`.
    pub fn end(&mut self, why: &str, now: SystemTime) {
        self.state = RolloutState::Aborted;
        self.outcome = why.to_owned();
        self.updated_at = micros(now);
    }

    /// A step could not be applied (a gate failed): the rollout pauses, saying why.
    pub fn hold(&mut self, why: &str, now: SystemTime) {
        self.state = RolloutState::Paused;
        self.outcome = why.to_owned();
        self.updated_at = micros(now);
    }

    pub fn pause(&mut self, reason: &str, now: SystemTime) -> Result<()> {
        self.require(RolloutState::Running, "paused")?;
        self.hold(&format!("paused: {reason}"), now);
        Ok(())
    }

    /// Running again; the next step is due at once.
    pub fn resume(&mut self, now: SystemTime) -> Result<()> {
        self.require(RolloutState::Paused, "resumed")?;
        self.state = RolloutState::Running;
        self.outcome.clear();
        self.updated_at = micros(now);
        self.next_at = micros(now);
        Ok(())
    }

    /// Whether an abort may restore the starting target: only while the binding is still where
    /// the rollout left it.
    pub fn may_restore(&self, current_generation: u64) -> bool {
        self.state.is_active() && current_generation == self.generation && self.step > 0
    }

    pub fn check_abortable(&self) -> Result<()> {
        if self.state.is_active() {
            Ok(())
        } else {
            Err(Error::FailedPrecondition(format!(
                "rollout {} is {}; only a running or paused rollout can be aborted",
                self.id,
                self.state.as_str()
            )))
        }
    }

    fn require(&self, state: RolloutState, verb: &str) -> Result<()> {
        if self.state == state {
            Ok(())
        } else {
            Err(Error::FailedPrecondition(format!(
                "rollout {} is {}; only a {} rollout can be {verb}",
                self.id,
                self.state.as_str(),
                state.as_str().to_lowercase()
            )))
        }
    }

    /// What binding history and the audit log say a step did.
    pub fn step_reason(&self, step: usize) -> String {
        let weight = self.steps.get(step).copied().unwrap_or_default();
        format!(
            "rollout #{} step {}/{}: version {} at {}.{:02}% ({})",
            self.id,
            step + 1,
            self.steps.len(),
            self.to_version,
            weight / 100,
            weight % 100,
            self.reason
        )
    }

    /// What the audit log records of a rollout change (both stores), and under which target.
    pub fn audit(&self) -> (String, serde_json::Value) {
        let target = format!("models/{}/bindings/{}/rollouts/{}", self.model, self.binding, self.id);
        let after = serde_json::json!({
            "state": self.state.as_str(), "step": self.step, "steps": self.steps, "to_version": self.to_version,
            "outcome": self.outcome, "reason": self.reason,
        });
        (target, after)
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    pub fn from_json(id: u64, value: serde_json::Value) -> Result<Self> {
        let mut r: Self = serde_json::from_value(value)
            .map_err(|e| Error::Internal(format!("stored rollout {id} is unreadable: {e}")))?;
        r.id = id;
        Ok(r)
    }
}

/// Which rollouts to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RolloutFilter {
    pub model: Option<ModelName>,
    pub active_only: bool,
}

/// A rollout operation a caller asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolloutAct {
    Pause,
    Resume,
    Abort,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> RolloutSpec {
        RolloutSpec {
            model: ModelName::parse("m", "fraud/detector").unwrap(),
            binding: BindingName::parse("b", "production").unwrap(),
            to_version: 8,
            steps: vec![100, 500, 2_500, 10_000],
            interval: Duration::from_secs(600),
            abort_if: vec!["metrics.online_error_rate > 0.02".into()],
            reason: "v8".into(),
        }
    }

    #[test]
    fn steps_happen_on_time_and_end_on_the_candidate() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut r = Rollout::start(&spec(), Traffic::single(7), 3, "carol", t0).unwrap();
        let none = Metrics::new();
        let mut generation = 3;
        let mut now = t0;
        for (step, weight) in [(0, 100), (1, 500), (2, 2_500)] {
            match r.tick(now, generation, &none) {
                Tick::Step { step: s, target } => {
                    assert_eq!(s, step);
                    assert_eq!(
                        target.sides.iter().map(|x| (x.version, x.weight)).collect::<Vec<_>>(),
                        [(7, 10_000 - weight), (8, weight)]
                    );
                }
                other => panic!("{other:?}"),
            }
            generation += 1;
            r.stepped(step, generation, now);
            assert_eq!(r.tick(now + Duration::from_secs(599), generation, &none), Tick::Wait, "not due yet");
            now += Duration::from_secs(600);
        }
        match r.tick(now, generation, &none) {
            Tick::Step { step: 3, target } => assert_eq!(target.as_single(), Some(8)),
            other => panic!("{other:?}"),
        }
        r.stepped(3, generation + 1, now);
        assert_eq!(r.state, RolloutState::Completed);
        assert_eq!(r.tick(now + Duration::from_secs(3_600), generation + 1, &none), Tick::Wait);
    }

    #[test]
    fn a_breach_aborts_and_a_foreign_move_stops() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut r = Rollout::start(&spec(), Traffic::single(7), 3, "carol", t0).unwrap();
        r.stepped(0, 4, t0);
        let later = t0 + Duration::from_secs(600);
        let fine: Metrics = [("online_error_rate".to_owned(), 0.01)].into();
        assert!(matches!(r.tick(later, 4, &fine), Tick::Step { step: 1, .. }));
        let bad: Metrics = [("online_error_rate".to_owned(), 0.03)].into();
        match r.tick(later, 4, &bad) {
            Tick::Abort { reason } => {
                assert!(reason.contains("metrics.online_error_rate = 0.03 > 0.02"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert!(r.may_restore(4));
        match r.tick(later, 5, &fine) {
            Tick::Stop { reason } => assert!(reason.contains("moved outside the rollout"), "{reason}"),
            other => panic!("{other:?}"),
        }
        assert!(!r.may_restore(5));
        r.pause("look at dashboards", later).unwrap();
        assert_eq!(r.tick(later, 4, &fine), Tick::Wait);
        assert!(r.pause("again", later).is_err());
        r.resume(later).unwrap();
        assert!(matches!(r.tick(later, 4, &fine), Tick::Step { .. }));
        r.end("aborted by carol", later);
        assert!(r.check_abortable().is_err());
        assert!(r.resume(later).is_err());
    }

    #[test]
    fn specs_are_validated_naming_the_field() {
        let bad = |f: fn(&mut RolloutSpec)| {
            let mut s = spec();
            f(&mut s);
            s.validate().unwrap_err().to_string()
        };
        assert!(bad(|s| s.steps = vec![]).contains("steps"));
        assert!(bad(|s| s.steps = vec![500, 100, 10_000]).contains("steps[1]"));
        assert!(bad(|s| s.steps = vec![100, 5_000]).contains("10000"));
        assert!(bad(|s| s.steps = vec![0, 10_000]).contains("steps[0]"));
        assert!(bad(|s| s.interval = Duration::ZERO).contains("interval_seconds"));
        assert!(bad(|s| s.abort_if = vec!["approvals 1".into()]).contains("abort_if[0]"));
        assert!(bad(|s| s.abort_if = vec!["metrics.x >> 1".into()]).contains("abort_if[0]"));
        assert!(bad(|s| s.to_version = 0).contains("to_version"));
        spec().validate().unwrap();
        let started = Rollout::start(&spec(), Traffic::single(8), 1, "c", SystemTime::now());
        assert!(started.unwrap_err().to_string().contains("already serves version 8"));
    }

    #[test]
    fn shadows_of_the_starting_target_are_kept() {
        let mut from = Traffic::single(7);
        from.deployment = Some(crate::deployment::DeploymentSpec { min_replicas: 4, ..Default::default() });
        from.shadows.push(crate::traffic::Shadow { version: 9, mirror: 500 });
        from.shadows.push(crate::traffic::Shadow { version: 8, mirror: 500 });
        let r = Rollout::start(&spec(), from.clone(), 1, "c", SystemTime::now()).unwrap();
        assert_eq!(r.target_at(3).deployment, from.deployment, "the binding's override stays at 100%");
        assert_eq!(r.target_at(3).sides.iter().map(|s| s.version).collect::<Vec<_>>(), [8]);
        let t = r.target_at(0);
        assert_eq!(t.deployment, from.deployment);
        assert_eq!(
            t.shadows.iter().map(|s| s.version).collect::<Vec<_>>(),
            [9],
            "the candidate is no longer a shadow"
        );
        let mut t = t;
        t.validate("traffic").unwrap();
    }
}
