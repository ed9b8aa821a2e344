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

/// A deployment spec written as JSON (`{"min_replicas": 4, "env": {"TIER": "prod"}}`).
pub(crate) fn parse_json(text: &str) -> anyhow::Result<v1::DeploymentSpec> {
    const FIELDS: [&str; 9] =
        ["runtime", "image", "cpu", "memory", "gpu", "env", "min_replicas", "max_replicas", "config_json"];
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(text)
        && let Some(unknown) = map.keys().find(|k| !FIELDS.contains(&k.as_str()))
    {
        anyhow::bail!("--deployment-override: unknown field {unknown:?}; fields are {}", FIELDS.join(", "));
    }
    let spec: bindery_core::deployment::DeploymentSpec = serde_json::from_str(text).map_err(|e| {
        anyhow::anyhow!(
            "--deployment-override: {e}; fields are runtime, image, cpu, memory, gpu, env, min_replicas, max_replicas, config_json"
        )
    })?;
    Ok(bindery_proto::deployment_to_wire(Some(&spec)).unwrap_or_default())
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
        let max = if d.max_replicas > 0 { d.max_replicas.to_string() } else { String::new() };
        parts.push(format!("replicas={}..{max}", d.min_replicas));
    }
    let mut env: Vec<_> = d.env.iter().collect();
    env.sort();
    parts.extend(env.into_iter().map(|(k, v)| format!("env.{k}={v}")));
    if !d.config_json.is_empty() {
        parts.push(format!("config={}", d.config_json));
    }
    parts.join(" ")
}
