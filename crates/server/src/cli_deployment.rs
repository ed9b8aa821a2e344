//! `--runtime`, `--image`, `--cpu`... on `bindery version register` and `bindery upload`: the
//! deployment spec registered with a version, and how a Resolve answer shows it.

use bindery_proto::v1;
use clap::Args;

/// How to serve the version (all optional; registered with it, immutable).
#[derive(Debug, Args, Default)]
pub struct DeploymentArgs {
    /// Serving runtime, e.g. `kserve-mlserver`, `triton`.
    #[arg(long, default_value = "")]
    runtime: String,
    /// Container image.
    #[arg(long, default_value = "")]
    image: String,
    /// CPU as a Kubernetes quantity (`500m`, `2`).
    #[arg(long, default_value = "")]
    cpu: String,
    /// Memory as a Kubernetes quantity (`512Mi`, `4Gi`).
    #[arg(long, default_value = "")]
    memory: String,
    #[arg(long, default_value_t = 0)]
    gpu: u32,
    /// `NAME=value`, repeatable.
    #[arg(long = "env", value_parser = crate::cli::key_value)]
    env: Vec<(String, String)>,
    #[arg(long, default_value_t = 0)]
    min_replicas: u32,
    #[arg(long, default_value_t = 0)]
    max_replicas: u32,
    /// Free-form runtime configuration: a JSON object.
    #[arg(long, default_value = "")]
    runtime_config: String,
}

impl DeploymentArgs {
    /// The spec, or `None` when no flag was given.
    pub(crate) fn into_wire(self) -> Option<v1::DeploymentSpec> {
        let spec = v1::DeploymentSpec {
            runtime: self.runtime,
            image: self.image,
            cpu: self.cpu,
            memory: self.memory,
            gpu: self.gpu,
            env: self.env.into_iter().collect(),
            min_replicas: self.min_replicas,
            max_replicas: self.max_replicas,
            config_json: self.runtime_config,
        };
        (spec != v1::DeploymentSpec::default()).then_some(spec)
    }
}

/// `runtime=triton image=... cpu=2 memory=4Gi gpu=1 replicas=1..3`: the fields that are set.
pub(crate) fn describe(d: &v1::DeploymentSpec) -> String {
    let mut parts = Vec::new();
    for (name, value) in
        [("runtime", &d.runtime), ("image", &d.image), ("cpu", &d.cpu), ("memory", &d.memory)]
    {
        if !value.is_empty() {
            parts.push(format!("{name}={value}"));
        }
    }
    if d.gpu > 0 {
        parts.push(format!("gpu={}", d.gpu));
    }
    if d.min_replicas > 0 || d.max_replicas > 0 {
        parts.push(format!("replicas={}..{}", d.min_replicas, d.max_replicas));
    }
    let mut env: Vec<_> = d.env.iter().collect();
    env.sort();
    parts.extend(env.into_iter().map(|(k, v)| format!("env.{k}={v}")));
    if !d.config_json.is_empty() {
        parts.push(format!("config={}", d.config_json));
    }
    parts.join(" ")
}
