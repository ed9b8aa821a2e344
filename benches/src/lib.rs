//! Shared helpers for Bindery's load generators.

use std::time::Duration;

/// Percentiles of a sample, nearest-rank.
pub struct Summary {
    pub count: usize,
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub mean: Duration,
}

impl Summary {
    pub fn of(samples: &mut [Duration]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        // Nearest rank: the smallest sample with at least `per_mille`/1000 of the samples at or below.
        let at = |per_mille: usize| {
            let rank = (samples.len() * per_mille).div_ceil(1_000);
            samples[rank.clamp(1, samples.len()) - 1]
        };
        let total: Duration = samples.iter().sum();
        Some(Self {
            count: samples.len(),
            p50: at(500),
            p90: at(900),
            p99: at(990),
            max: samples[samples.len() - 1],
            mean: total / u32::try_from(samples.len()).unwrap_or(u32::MAX),
        })
    }
}

/// Milliseconds with three decimals, for tables.
pub fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1_000.0)
}
