//! Shared helpers for Bindery's load generators: percentiles, a key space with uniform or Zipf
//! draws, bulk seeding of a registry database, and processes to measure.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};

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

/// A small, fast, seedable PRNG (xorshift64*): load generators must not spend their time in the
/// random number generator.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        // 53 random bits; the cast is exact.
        #[allow(clippy::cast_precision_loss)]
        let v = (self.next_u64() >> 11) as f64;
        v / (1u64 << 53) as f64
    }
}

/// How keys are drawn.
#[derive(Debug, Clone, PartialEq)]
pub enum Distribution {
    Uniform,
    /// Zipf with exponent `s` over the keys (key 0 the hottest).
    Zipf(f64),
}

impl std::str::FromStr for Distribution {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(':') {
            None if s == "uniform" => Ok(Self::Uniform),
            None if s == "zipf" => Ok(Self::Zipf(1.0)),
            Some(("zipf", e)) => e.parse().map(Self::Zipf).map_err(|_| format!("zipf exponent {e:?}")),
            _ => Err(format!("{s:?}: expected uniform, zipf or zipf:<exponent>")),
        }
    }
}

/// `models × bindings` keys, named as [`seed`] names them, with draws by index.
pub struct KeySpace {
    pub models: usize,
    pub bindings: usize,
    /// Cumulative probabilities for Zipf draws (empty for uniform).
    cdf: Vec<f64>,
}

impl KeySpace {
    pub fn new(models: usize, bindings: usize, distribution: &Distribution) -> Self {
        let n = models * bindings;
        let cdf = match distribution {
            Distribution::Uniform => Vec::new(),
            Distribution::Zipf(s) => {
                #[allow(clippy::cast_precision_loss)]
                let weights: Vec<f64> = (1..=n).map(|k| 1.0 / (k as f64).powf(*s)).collect();
                let total: f64 = weights.iter().sum();
                let mut acc = 0.0;
                weights
                    .iter()
                    .map(|w| {
                        acc += w / total;
                        acc
                    })
                    .collect()
            }
        };
        Self { models, bindings, cdf }
    }

    pub fn len(&self) -> usize {
        self.models * self.bindings
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A key index.
    pub fn draw(&self, rng: &mut Rng) -> usize {
        if self.cdf.is_empty() {
            // Modulo bias is irrelevant at these sizes.
            return usize::try_from(rng.next_u64() % self.len() as u64).unwrap_or(0);
        }
        let u = rng.unit();
        self.cdf.partition_point(|c| *c < u).min(self.len() - 1)
    }

    /// `(model, binding)` of key `i`.
    pub fn key(&self, i: usize) -> (String, String) {
        (model_name(i / self.bindings), binding_name(i % self.bindings))
    }
}

/// A reader's answer for the first seeded key: the shape and size the baseline returns and the
/// encode micro-benchmark encodes.
pub fn seeded_answer() -> bindery_proto::v1::ResolveResponse {
    bindery_proto::v1::ResolveResponse {
        model_name: model_name(0),
        binding: binding_name(0),
        version: 1,
        artifact_uri: "s3://bench-models/bench/m0/1/model.onnx".into(),
        sha256: "ab".repeat(32),
        size_bytes: 104_857_600,
        generation: 1,
        revision: 1,
        artifact_format: "onnx".into(),
        role: "stable".into(),
        ..Default::default()
    }
}

pub fn model_name(i: usize) -> String {
    format!("bench/m{i}")
}

pub fn binding_name(i: usize) -> String {
    format!("b{i}")
}

/// Fills a fresh, migrated registry database with `models` models of `per_model` versions each,
/// and one binding per version (`b0` → version 1, …), in a few bulk statements. Returns
/// `(versions, bindings)`. The revision is set to 1, as if all of it were one write.
pub async fn seed(
    client: &tokio_postgres::Client,
    models: usize,
    per_model: usize,
) -> anyhow::Result<(u64, u64)> {
    let (m, b) = (i64::try_from(models)?, i64::try_from(per_model)?);
    client
        .execute(
            "INSERT INTO models (name, description, owner, tags, last_version, created_at, created_by,
                 updated_at, updated_by, revision)
             SELECT 'bench/m' || (g - 1), '', 'bench', '{}', $2, now(), 'bench', now(), 'bench', 1
             FROM generate_series(1, $1::bigint) g",
            &[&m, &b],
        )
        .await
        .context("seeding models")?;
    // These versions are for resolving, not searching: skip the search index trigger (its side
    // tables stay empty), which would otherwise run once per seeded row.
    client.batch_execute("ALTER TABLE versions DISABLE TRIGGER versions_search_index").await?;
    let versions = client
        .execute(
            "INSERT INTO versions (model_id, version, status, request_payload, artifact_uri, artifact_sha256,
                 artifact_size, artifact_format, params, metrics, tags, lineage, signature_inputs,
                 signature_outputs, description, created_at, created_by, updated_at, updated_by, revision)
             SELECT m.id, v, 'READY', '{}', 's3://bench-models/' || m.name || '/' || v || '/model.onnx',
                 repeat('ab', 32), 104857600, 'onnx', '{}', '{\"auc\": 0.9}', '{}',
                 '{\"training_run_id\": \"\", \"code_ref\": \"\", \"datasets\": [], \"parent_versions\": [], \"environment\": {}}',
                 '', '', '', now(), 'bench', now(), 'bench', 1
             FROM models m, generate_series(1, $1::bigint) v",
            &[&b],
        )
        .await
        .context("seeding versions")?;
    client.batch_execute("ALTER TABLE versions ENABLE TRIGGER versions_search_index").await?;
    let bindings = client
        .execute(
            "INSERT INTO bindings (model_id, name, version, generation, updated_at, updated_by, revision)
             SELECT m.id, 'b' || (v - 1), v, 1, now(), 'bench', 1
             FROM models m, generate_series(1, $1::bigint) v",
            &[&b],
        )
        .await
        .context("seeding bindings")?;
    client.execute("UPDATE registry_state SET revision = 1", &[]).await?;
    client.batch_execute("ANALYZE").await?;
    Ok((versions, bindings))
}

/// A `bindery` process (release build) we measure from the outside, killed on drop.
pub struct Process {
    pub child: std::process::Child,
    pub addr: std::net::SocketAddr,
}

impl Process {
    /// Starts `binary args…` with `--listen` on a free port.
    pub fn spawn(binary: &str, args: &[&str]) -> anyhow::Result<Self> {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let child = std::process::Command::new(binary)
            .args(args)
            .args(["--listen", &addr.to_string()])
            .env("BINDERY_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .with_context(|| format!("starting {binary}"))?;
        Ok(Self { child, addr })
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits until grpc.health.v1 says SERVING; returns how long that took from now.
    pub async fn wait_serving(&mut self, timeout: Duration) -> anyhow::Result<Duration> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("process exited with {status} before serving");
            }
            if let Ok(channel) = tonic::transport::Channel::from_shared(self.endpoint())?.connect().await {
                let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
                let request = tonic_health::pb::HealthCheckRequest { service: String::new() };
                if let Ok(r) = health.check(request).await
                    && r.into_inner().status
                        == tonic_health::pb::health_check_response::ServingStatus::Serving as i32
                {
                    return Ok(start.elapsed());
                }
            }
            if start.elapsed() > timeout {
                bail!("not SERVING within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Resident set size now, and its peak, in KiB (Linux `/proc`).
    pub fn rss_kib(&self) -> anyhow::Result<(u64, u64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let field = |name: &str| -> anyhow::Result<u64> {
            let line =
                status.lines().find(|l| l.starts_with(name)).with_context(|| format!("{name} missing"))?;
            Ok(line.split_whitespace().nth(1).context("no value")?.parse()?)
        };
        Ok((field("VmRSS:")?, field("VmHWM:")?))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `bindery` release binary next to this one.
pub fn bindery_binary() -> anyhow::Result<String> {
    let me = std::env::current_exe()?;
    let path = me.with_file_name("bindery");
    if !path.is_file() {
        bail!("{} not found: build it with `cargo build --release --bin bindery`", path.display());
    }
    Ok(path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipf_prefers_the_first_keys_and_stays_in_range() {
        let keys = KeySpace::new(100, 4, &Distribution::Zipf(1.0));
        let mut rng = Rng::new(7);
        let draws: Vec<usize> = (0..10_000).map(|_| keys.draw(&mut rng)).collect();
        assert!(draws.iter().all(|&k| k < 400));
        let hot = draws.iter().filter(|&&k| k == 0).count();
        let cold = draws.iter().filter(|&&k| k == 399).count();
        assert!(hot > 10 * cold.max(1), "hot {hot}, cold {cold}");
        assert_eq!(keys.key(5), ("bench/m1".into(), "b1".into()));
    }
}

/// What the workers of a fixed-time load run share: whether the warm-up is over, whether to
/// stop, and the failed calls counted while measuring.
#[derive(Default)]
pub struct LoadState {
    pub measuring: std::sync::atomic::AtomicBool,
    pub stop: std::sync::atomic::AtomicBool,
    pub errors: std::sync::atomic::AtomicU64,
}

impl LoadState {
    /// Records one call that took `took` into `histogram` (or counts it failed), once measuring.
    pub fn record(
        &self,
        histogram: &mut hdrhistogram::Histogram<u64>,
        ok: bool,
        took: Duration,
    ) -> anyhow::Result<()> {
        use std::sync::atomic::Ordering;
        if self.measuring.load(Ordering::Relaxed) {
            if ok {
                let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX).clamp(1, 60_000_000);
                histogram.record(us)?;
            } else {
                self.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    /// Warms up, measures for `duration`, stops the workers and merges their histograms.
    pub async fn run(
        &self,
        warmup: Duration,
        duration: Duration,
        workers: Vec<tokio::task::JoinHandle<anyhow::Result<hdrhistogram::Histogram<u64>>>>,
    ) -> anyhow::Result<(hdrhistogram::Histogram<u64>, Duration)> {
        use std::sync::atomic::Ordering;
        tokio::time::sleep(warmup).await;
        self.measuring.store(true, Ordering::SeqCst);
        let started = Instant::now();
        tokio::time::sleep(duration).await;
        self.stop.store(true, Ordering::SeqCst);
        let elapsed = started.elapsed();
        let mut total = latency_histogram()?;
        for worker in workers {
            total.add(worker.await??)?;
        }
        Ok((total, elapsed))
    }

    /// Prints the run's human line (`label: ...; <detail>`) and its `RESULT {...}` JSON line.
    pub fn print(
        &self,
        label: &str,
        total: &hdrhistogram::Histogram<u64>,
        elapsed: Duration,
        concurrency: usize,
        connections: usize,
        detail: &str,
    ) {
        let errors = self.errors.load(std::sync::atomic::Ordering::SeqCst);
        #[allow(clippy::cast_precision_loss)]
        let rps = total.len() as f64 / elapsed.as_secs_f64();
        let us = |q: f64| total.value_at_quantile(q);
        #[allow(clippy::print_stdout)]
        {
            println!(
                "{label}: {} calls in {:.1}s = {rps:.0} req/s; latency µs p50 {} p90 {} p99 {} p99.9 {} max {}; errors \
                 {errors} ({detail})",
                total.len(),
                elapsed.as_secs_f64(),
                us(0.5),
                us(0.9),
                us(0.99),
                us(0.999),
                total.max(),
            );
            println!(
                "RESULT {{\"label\":\"{label}\",\"calls\":{},\"rps\":{rps:.1},\"p50_us\":{},\"p90_us\":{},\"p99_us\":{},\"p999_us\":{},\"max_us\":{},\"errors\":{errors},\"concurrency\":{concurrency},\"connections\":{connections}}}",
                total.len(),
                us(0.5),
                us(0.9),
                us(0.99),
                us(0.999),
                total.max(),
            );
        }
    }
}

/// A histogram of latencies in µs, 1 µs to 60 s.
pub fn latency_histogram() -> anyhow::Result<hdrhistogram::Histogram<u64>> {
    Ok(hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?)
}
