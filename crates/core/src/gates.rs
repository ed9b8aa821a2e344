//! Promotion gates (issue 13), decided once: pure functions over the candidate version, the
//! version bound where it would compare, the approvals so far and the clock. Stores persist
//! policies and requests and call [`evaluate`]; nothing here touches a store.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::{BindingName, Error, Lineage, Result};

/// `metrics.<key> <op> <number>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparison {
    #[serde(rename = ">=")]
    AtLeast,
    #[serde(rename = ">")]
    Above,
    #[serde(rename = "<=")]
    AtMost,
    #[serde(rename = "<")]
    Below,
}

impl Comparison {
    pub fn parse(op: &str) -> Result<Self> {
        match op.trim() {
            ">=" => Ok(Self::AtLeast),
            ">" => Ok(Self::Above),
            "<=" => Ok(Self::AtMost),
            "<" => Ok(Self::Below),
            other => Err(Error::invalid("op", format!("{other:?} is not one of >=, >, <=, <"))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AtLeast => ">=",
            Self::Above => ">",
            Self::AtMost => "<=",
            Self::Below => "<",
        }
    }

    pub fn holds(self, value: f64, bound: f64) -> bool {
        match self {
            Self::AtLeast => value >= bound,
            Self::Above => value > bound,
            Self::AtMost => value <= bound,
            Self::Below => value < bound,
        }
    }
}

/// One metric the candidate must beat the bound version on (MLflow's `MetricThreshold`
/// semantics for the change thresholds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BeatOn {
    pub metric: String,
    pub greater_is_better: bool,
    /// The candidate must be at least this much better (0: not worse).
    #[serde(default)]
    pub min_absolute_change: f64,
    /// And at least this fraction of the bound version's value better (0: not worse).
    #[serde(default)]
    pub min_relative_change: f64,
}

/// What a version must satisfy before it may take a gated binding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Gate {
    MetricThreshold {
        metric: String,
        op: Comparison,
        value: f64,
    },
    /// Beat the version bound to `reference` (default: the gated binding itself).
    BeatBound {
        reference: Option<BindingName>,
        on: Vec<BeatOn>,
    },
    /// Distinct approvers with APPROVER on the model, never the requester.
    Approvals {
        count: u32,
    },
    /// Bound to `binding` continuously for at least `duration`.
    Soak {
        binding: BindingName,
        duration: Duration,
    },
    RequiredTags {
        tags: BTreeMap<String, String>,
    },
    RequiredLineage {
        datasets: bool,
        code_ref: bool,
    },
}

impl Gate {
    /// A gate from its one-line form (the CLI's `--gate`, and [`Gate`]'s `Display`):
    /// `metrics.auc >= 0.9`, `beat production on auc by 0.005`, `beat self on loss by 2% lower-is-better`,
    /// `approvals 1`, `soak staging 24h`, `tags bias_audit=passed,reviewed=yes`,
    /// `lineage datasets,code_ref`.
    pub fn parse_spec(spec: &str) -> Result<Self> {
        let bad = |why: &str| Error::invalid("gate", format!("{spec:?}: {why}"));
        let words: Vec<&str> = spec.split_whitespace().collect();
        let number = |w: &str| w.parse::<f64>().ok().filter(|v| v.is_finite());
        let binding = |w: &str| BindingName::parse("gate", w).map_err(|e| bad(&e.to_string()));
        match words.as_slice() {
            [metric, op, value] if metric.starts_with("metrics.") => Ok(Self::MetricThreshold {
                metric: metric.trim_start_matches("metrics.").to_owned(),
                op: Comparison::parse(op).map_err(|_| bad("the operator is one of >=, >, <=, <"))?,
                value: number(value).ok_or_else(|| bad("the threshold is a number"))?,
            }),
            ["beat", reference, "on", metric, rest @ ..] => {
                let mut on = BeatOn {
                    metric: (*metric).to_owned(),
                    greater_is_better: true,
                    min_absolute_change: 0.0,
                    min_relative_change: 0.0,
                };
                let mut rest = rest.iter();
                while let Some(word) = rest.next() {
                    match *word {
                        "lower-is-better" => on.greater_is_better = false,
                        "by" => {
                            let amount = rest.next().ok_or_else(|| bad("`by` needs an amount"))?;
                            match amount.strip_suffix('%') {
                                Some(pct) => {
                                    on.min_relative_change =
                                        number(pct).ok_or_else(|| bad("`by N%` needs a number"))? / 100.0;
                                }
                                None => {
                                    on.min_absolute_change =
                                        number(amount).ok_or_else(|| bad("`by` needs a number"))?;
                                }
                            }
                        }
                        other => {
                            return Err(bad(&format!(
                                "unexpected {other:?}; use `by N`, `by N%`, `lower-is-better`"
                            )));
                        }
                    }
                }
                let reference = if *reference == "self" { None } else { Some(binding(reference)?) };
                Ok(Self::BeatBound { reference, on: vec![on] })
            }
            ["approvals", n] => {
                Ok(Self::Approvals { count: n.parse().map_err(|_| bad("approvals takes a count"))? })
            }
            ["soak", soak, duration] => Ok(Self::Soak {
                binding: binding(soak)?,
                duration: parse_duration(duration)
                    .ok_or_else(|| bad("durations look like 90s, 30m, 24h or 7d"))?,
            }),
            ["tags", pairs] => {
                let tags = pairs
                    .split(',')
                    .map(|p| p.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
                    .collect::<Option<BTreeMap<_, _>>>()
                    .ok_or_else(|| bad("tags are key=value,key=value"))?;
                Ok(Self::RequiredTags { tags })
            }
            ["lineage", what] => {
                let mut parts = what.split(',').collect::<Vec<_>>();
                let datasets = parts.contains(&"datasets");
                let code_ref = parts.contains(&"code_ref");
                parts.retain(|p| *p != "datasets" && *p != "code_ref");
                if !parts.is_empty() {
                    return Err(bad("lineage requires datasets, code_ref, or datasets,code_ref"));
                }
                Ok(Self::RequiredLineage { datasets, code_ref })
            }
            _ => Err(bad(
                "expected `metrics.<key> <op> <n>`, `beat <binding|self> on <metric> [by N] [by N%] [lower-is-better]`, \
                 `approvals <n>`, `soak <binding> <duration>`, `tags k=v,...` or `lineage datasets,code_ref`",
            )),
        }
    }
}

/// `90s`, `30m`, `24h`, `7d`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3_600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

fn show_duration(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

impl std::fmt::Display for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MetricThreshold { metric, op, value } => {
                write!(f, "metrics.{metric} {} {value}", op.as_str())
            }
            Self::BeatBound { reference, on } => {
                let reference = reference.as_ref().map_or("self", BindingName::as_str);
                let each: Vec<String> = on
                    .iter()
                    .map(|b| {
                        let mut s = format!("beat {reference} on {}", b.metric);
                        if b.min_absolute_change != 0.0 {
                            s.push_str(&format!(" by {}", b.min_absolute_change));
                        }
                        if b.min_relative_change != 0.0 {
                            s.push_str(&format!(" by {}%", b.min_relative_change * 100.0));
                        }
                        if !b.greater_is_better {
                            s.push_str(" lower-is-better");
                        }
                        s
                    })
                    .collect();
                f.write_str(&each.join(" and "))
            }
            Self::Approvals { count } => write!(f, "approvals {count}"),
            Self::Soak { binding, duration } => write!(f, "soak {binding} {}", show_duration(*duration)),
            Self::RequiredTags { tags } => {
                let pairs: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
                write!(f, "tags {}", pairs.join(","))
            }
            Self::RequiredLineage { datasets, code_ref } => {
                let parts: Vec<&str> = [(*datasets, "datasets"), (*code_ref, "code_ref")]
                    .into_iter()
                    .filter(|p| p.0)
                    .map(|p| p.1)
                    .collect();
                write!(f, "lineage {}", parts.join(","))
            }
        }
    }
}

/// A version's metrics.
pub type Metrics = BTreeMap<String, f64>;

/// The version a reference binding holds now, with its metrics (`None`: nothing bound).
pub type BoundVersion<'a> = Option<(u64, &'a Metrics)>;

/// Everything a gate may look at, gathered by the store under the write lock.
#[derive(Debug, Clone, Default)]
pub struct GateInputs<'a> {
    pub metrics: Option<&'a Metrics>,
    pub tags: Option<&'a BTreeMap<String, String>>,
    pub lineage: Option<&'a Lineage>,
    /// The metrics of the version each reference binding holds now (`None`: nothing bound).
    pub bound: BTreeMap<BindingName, BoundVersion<'a>>,
    /// Since when the candidate has held each binding continuously.
    pub held_since: BTreeMap<BindingName, SystemTime>,
    pub approvers: &'a [String],
    pub requester: &'a str,
    pub now: Option<SystemTime>,
}

/// One gate's verdict, with the values compared, for the gate table callers see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateResult {
    pub gate: Gate,
    pub passed: bool,
    /// What was compared, in words a reviewer reads.
    pub detail: String,
    /// Passing needs a person, not a better version (approvals).
    pub awaits_approval: bool,
}

/// Evaluates every gate of a policy on `binding` for the candidate.
pub fn evaluate(gates: &[Gate], binding: &BindingName, inputs: &GateInputs<'_>) -> Vec<GateResult> {
    gates.iter().map(|gate| evaluate_one(gate, binding, inputs)).collect()
}

/// Whether the results let the binding move now; else the failing gates, named.
pub fn verdict(results: &[GateResult]) -> std::result::Result<(), String> {
    let failing: Vec<&str> = results.iter().filter(|r| !r.passed).map(|r| r.detail.as_str()).collect();
    if failing.is_empty() { Ok(()) } else { Err(failing.join("; ")) }
}

fn result(gate: &Gate, passed: bool, detail: String) -> GateResult {
    GateResult { gate: gate.clone(), passed, detail, awaits_approval: false }
}

fn evaluate_one(gate: &Gate, binding: &BindingName, inputs: &GateInputs<'_>) -> GateResult {
    match gate {
        Gate::MetricThreshold { metric, op, value } => match inputs.metrics.and_then(|m| m.get(metric)) {
            None => {
                result(gate, false, format!("metrics.{metric} is missing (needed {} {value})", op.as_str()))
            }
            Some(v) => {
                let passed = op.holds(*v, *value);
                result(gate, passed, format!("metrics.{metric} = {v}, needed {} {value}", op.as_str()))
            }
        },
        Gate::BeatBound { reference, on } => {
            let reference = reference.as_ref().unwrap_or(binding);
            match inputs.bound.get(reference).copied().flatten() {
                None => result(gate, true, format!("nothing is bound to {reference}: nothing to beat")),
                Some((version, bound)) => {
                    let mut failures = Vec::new();
                    let mut compared = Vec::new();
                    for b in on {
                        let candidate = inputs.metrics.and_then(|m| m.get(&b.metric));
                        match (candidate, bound.get(&b.metric)) {
                            (None, _) => failures.push(format!("metrics.{} is missing", b.metric)),
                            (Some(_), None) => {
                                failures
                                    .push(format!("v{version} on {reference} has no metrics.{}", b.metric));
                            }
                            (Some(c), Some(base)) => {
                                let needed = required(b, *base);
                                let ok = if b.greater_is_better { *c >= needed } else { *c <= needed };
                                let op = if b.greater_is_better { ">=" } else { "<=" };
                                let line = format!(
                                    "metrics.{} = {c} vs {base} on v{version} ({reference}), needed {op} {needed}",
                                    b.metric
                                );
                                if ok { compared.push(line) } else { failures.push(line) }
                            }
                        }
                    }
                    let passed = failures.is_empty();
                    let detail = if passed { compared.join("; ") } else { failures.join("; ") };
                    result(gate, passed, format!("beat {reference}: {detail}"))
                }
            }
        }
        Gate::Approvals { count } => {
            let mut distinct: Vec<&str> =
                inputs.approvers.iter().map(String::as_str).filter(|a| *a != inputs.requester).collect();
            distinct.sort_unstable();
            distinct.dedup();
            let have = u32::try_from(distinct.len()).unwrap_or(u32::MAX);
            let mut r = result(
                gate,
                have >= *count,
                format!("approvals: {have} of {count} (the requester's own never counts)"),
            );
            r.awaits_approval = have < *count;
            r
        }
        Gate::Soak { binding: soak, duration } => {
            let held = inputs.held_since.get(soak).and_then(|since| inputs.now?.duration_since(*since).ok());
            match held {
                None => {
                    result(gate, false, format!("not bound to {soak} (needs {}s there)", duration.as_secs()))
                }
                Some(held) => result(
                    gate,
                    held >= *duration,
                    format!("bound to {soak} for {}s, needed {}s", held.as_secs(), duration.as_secs()),
                ),
            }
        }
        Gate::RequiredTags { tags } => {
            let missing: Vec<String> = tags
                .iter()
                .filter(|(k, v)| inputs.tags.and_then(|t| t.get(*k)) != Some(*v))
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let detail = if missing.is_empty() {
                "required tags present".to_owned()
            } else {
                format!("tags missing: {}", missing.join(", "))
            };
            result(gate, missing.is_empty(), detail)
        }
        Gate::RequiredLineage { datasets, code_ref } => {
            let lineage = inputs.lineage;
            let mut missing = Vec::new();
            if *datasets && lineage.is_none_or(|l| l.datasets.is_empty()) {
                missing.push("a dataset ref");
            }
            if *code_ref && lineage.is_none_or(|l| l.code_ref.is_empty()) {
                missing.push("a code ref");
            }
            let detail = if missing.is_empty() {
                "lineage complete".to_owned()
            } else {
                format!("lineage lacks {}", missing.join(" and "))
            };
            result(gate, missing.is_empty(), detail)
        }
    }
}

/// The value the candidate must reach against `base` (MLflow: `base + min_absolute_change` and
/// `base * (1 + min_relative_change)` when greater is better, mirrored when lower is better; the
/// stricter of the two).
fn required(b: &BeatOn, base: f64) -> f64 {
    if b.greater_is_better {
        (base + b.min_absolute_change).max(base + base.abs() * b.min_relative_change)
    } else {
        (base - b.min_absolute_change).min(base - base.abs() * b.min_relative_change)
    }
}

/// The README's example, for tests: soak 24 h in staging, auc >= 0.90, beat production on auc
/// by 0.005, one approval.
#[cfg(test)]
pub(crate) fn example_gates() -> Vec<Gate> {
    ["soak staging 24h", "metrics.auc >= 0.9", "beat self on auc by 0.005", "approvals 1"]
        .into_iter()
        .map(|spec| Gate::parse_spec(spec).unwrap_or_else(|e| panic!("{spec}: {e}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> BindingName {
        BindingName::parse("binding", s).unwrap()
    }

    fn metrics(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
    }

    use super::example_gates as example;

    fn inputs<'a>(
        candidate: &'a BTreeMap<String, f64>,
        champion: &'a BTreeMap<String, f64>,
        approvers: &'a [String],
        in_staging_for: u64,
        now: SystemTime,
    ) -> GateInputs<'a> {
        GateInputs {
            metrics: Some(candidate),
            bound: [(name("production"), Some((3, champion)))].into(),
            held_since: [(name("staging"), now - Duration::from_secs(in_staging_for))].into(),
            approvers,
            requester: "carol",
            now: Some(now),
            ..GateInputs::default()
        }
    }

    #[test]
    fn the_example_policy_decides_as_the_issue_says() {
        let production = name("production");
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(10 * 24 * 3_600);
        let (champion, weak, strong) =
            (metrics(&[("auc", 0.91)]), metrics(&[("auc", 0.89)]), metrics(&[("auc", 0.92)]));
        let (none, alice, carol) = (Vec::new(), vec!["alice".to_owned()], vec!["carol".to_owned()]);
        let day = 24 * 3_600;

        let refused = evaluate(&example(), &production, &inputs(&weak, &champion, &alice, day + 1, now));
        let failing = verdict(&refused).unwrap_err();
        assert!(failing.contains("metrics.auc = 0.89, needed >= 0.9"), "{failing}");
        assert!(failing.contains("needed >= 0.915"), "beat production by 0.005: {failing}");

        let waiting = evaluate(&example(), &production, &inputs(&strong, &champion, &none, day + 1, now));
        assert!(waiting.iter().all(|r| r.passed || r.awaits_approval), "{waiting:?}");
        let own = evaluate(&example(), &production, &inputs(&strong, &champion, &carol, day + 1, now));
        assert!(
            verdict(&own).unwrap_err().contains("approvals: 0 of 1"),
            "the requester's approval does not count"
        );
        let approved = evaluate(&example(), &production, &inputs(&strong, &champion, &alice, day + 1, now));
        assert_eq!(verdict(&approved), Ok(()));
        let young = evaluate(&example(), &production, &inputs(&strong, &champion, &alice, day - 1, now));
        assert!(verdict(&young).unwrap_err().contains("bound to staging for 86399s, needed 86400s"));
        // A champion that improved meanwhile fails the application, naming the gate.
        let better_champion = metrics(&[("auc", 0.918)]);
        let raced =
            evaluate(&example(), &production, &inputs(&strong, &better_champion, &alice, day + 1, now));
        assert!(verdict(&raced).unwrap_err().contains("beat production"));
    }

    #[test]
    fn beating_follows_mlflow_in_both_directions_and_passes_with_nothing_bound() {
        let gate = |greater_is_better, abs, rel| Gate::BeatBound {
            reference: Some(name("production")),
            on: vec![BeatOn {
                metric: "m".into(),
                greater_is_better,
                min_absolute_change: abs,
                min_relative_change: rel,
            }],
        };
        let base = metrics(&[("m", 2.0)]);
        let run = |g: &Gate, value: f64, bound: Option<&BTreeMap<String, f64>>| {
            let candidate = metrics(&[("m", value)]);
            let inputs = GateInputs {
                metrics: Some(&candidate),
                bound: [(name("production"), bound.map(|b| (1, b)))].into(),
                ..GateInputs::default()
            };
            evaluate(std::slice::from_ref(g), &name("canary"), &inputs)[0].passed
        };
        // Greater is better: at least +0.5 and at least +10%.
        assert!(run(&gate(true, 0.5, 0.1), 2.5, Some(&base)));
        assert!(!run(&gate(true, 0.5, 0.1), 2.4, Some(&base)));
        assert!(!run(&gate(true, 0.0, 0.3), 2.5, Some(&base)), "relative: needs 2.6");
        // Lower is better (a loss): at most -0.5.
        assert!(run(&gate(false, 0.5, 0.0), 1.5, Some(&base)));
        assert!(!run(&gate(false, 0.5, 0.0), 1.6, Some(&base)));
        assert!(run(&gate(true, 0.5, 0.0), 0.0, None), "nothing bound: passes and says so");
    }

    #[test]
    fn gates_have_a_one_line_form_that_round_trips() {
        for spec in [
            "soak staging 1d",
            "metrics.auc >= 0.9",
            "beat self on auc by 0.005",
            "beat production on loss by 0.01 by 2% lower-is-better",
            "approvals 1",
            "tags bias_audit=passed,reviewed=yes",
            "lineage datasets,code_ref",
        ] {
            let gate = Gate::parse_spec(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
            assert_eq!(gate.to_string(), spec);
        }
        assert_eq!(Gate::parse_spec("soak staging 24h").unwrap().to_string(), "soak staging 1d");
        for bad in
            ["metrics.auc => 1", "soak staging 24 hours", "beat self on auc by", "lineage tests", "vibes"]
        {
            assert!(Gate::parse_spec(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn missing_inputs_fail_their_gate_by_name() {
        let gates = vec![
            Gate::MetricThreshold { metric: "f1".into(), op: Comparison::Above, value: 0.5 },
            Gate::RequiredTags { tags: [("bias_audit".to_owned(), "passed".to_owned())].into() },
            Gate::RequiredLineage { datasets: true, code_ref: true },
        ];
        let results = evaluate(&gates, &name("production"), &GateInputs::default());
        let failing = verdict(&results).unwrap_err();
        for needle in
            ["metrics.f1 is missing", "tags missing: bias_audit=passed", "a dataset ref and a code ref"]
        {
            assert!(failing.contains(needle), "{failing}");
        }
        assert_eq!(Comparison::parse(" <= ").ok(), Some(Comparison::AtMost));
        assert!(Comparison::parse("=>").is_err());
    }
}
