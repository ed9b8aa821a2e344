//! `bindery export kserve MODEL BINDING`: a KServe `InferenceService` (serving.kserve.io/v1beta1)
//! for what a binding serves now, built from one Resolve answer (artifact, split, deployment spec).
//!
//! KServe splits traffic between the latest revision and the previously rolled-out one
//! (`canaryTrafficPercent`), so a two-sided split becomes the predictor of the canary side plus
//! its percentage; the stable side must be what the InferenceService last rolled out (export and
//! apply the binding at 100% first). More sides, or weights that are not whole percentages, are
//! refused; shadows (which KServe cannot mirror to) are listed in an annotation.

use anyhow::bail;
use bindery_proto::v1;
use clap::Subcommand;
use serde_json::{Map, Value, json};

use crate::cli::{Client, Output, status};

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// A KServe InferenceService (serving.kserve.io/v1beta1) serving what BINDING points at now:
    /// storage URI, runtime, resources, env and replicas from the version's deployment spec; a
    /// two-sided split becomes the canary's predictor plus canaryTrafficPercent.
    Kserve {
        model: String,
        binding: String,
        /// metadata.name (default: MODEL-BINDING as a DNS-1123 name).
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long, default_value = "")]
        namespace: String,
    },
}

pub(crate) async fn export(c: &mut Client, cmd: ExportCommand) -> anyhow::Result<Output> {
    let ExportCommand::Kserve { model, binding, name, namespace } = cmd;
    let name = if name.is_empty() { resource_name(&model, &binding) } else { name };
    let req = v1::ResolveRequest { model_name: model, binding, ..Default::default() };
    let r = c.resolver.resolve(c.request(req)?).await.map_err(status)?.into_inner();
    let isvc = inference_service(&r, &name, &namespace)?;
    let text = yaml(&isvc);
    Ok(Output::value(isvc, text.trim_end().to_owned()))
}

const ANNOTATION: &str = "bindery.dev";

/// A DNS-1123 name for `model` and `binding` (`fraud/detector`, `production` ->
/// `fraud-detector-production`), at most 63 characters.
pub(crate) fn resource_name(model: &str, binding: &str) -> String {
    let raw: String = format!("{model}-{binding}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect();
    let mut name = raw.trim_matches('-').to_owned();
    name.truncate(63);
    name.trim_end_matches('-').to_owned()
}

struct Member<'a> {
    version: u64,
    uri: &'a str,
    format: &'a str,
    deployment: Option<&'a v1::DeploymentSpec>,
}

/// The predictor's `model` (a KServe ModelSpec) for one version.
fn model_spec(m: &Member<'_>) -> anyhow::Result<Value> {
    let d = m.deployment.cloned().unwrap_or_default();
    let format = if m.format.is_empty() { d.runtime.as_str() } else { m.format };
    if format.is_empty() {
        bail!(
            "version {} has no artifact format and no runtime: KServe needs modelFormat.name; \
             register versions with --format (e.g. onnx, sklearn, pytorch) or --runtime",
            m.version
        );
    }
    let mut spec = Map::new();
    spec.insert("modelFormat".into(), json!({ "name": format }));
    spec.insert("storageUri".into(), json!(m.uri));
    if !d.runtime.is_empty() {
        spec.insert("runtime".into(), json!(d.runtime));
    }
    if !d.image.is_empty() {
        spec.insert("image".into(), json!(d.image));
    }
    let mut amounts = Map::new();
    if !d.cpu.is_empty() {
        amounts.insert("cpu".into(), json!(d.cpu));
    }
    if !d.memory.is_empty() {
        amounts.insert("memory".into(), json!(d.memory));
    }
    if !amounts.is_empty() || d.gpu > 0 {
        let mut limits = amounts.clone();
        if d.gpu > 0 {
            limits.insert("nvidia.com/gpu".into(), json!(d.gpu.to_string()));
        }
        spec.insert("resources".into(), json!({ "requests": amounts, "limits": limits }));
    }
    if !d.env.is_empty() {
        let mut env: Vec<(&String, &String)> = d.env.iter().collect();
        env.sort();
        spec.insert(
            "env".into(),
            Value::Array(env.into_iter().map(|(k, v)| json!({ "name": k, "value": v })).collect()),
        );
    }
    Ok(Value::Object(spec))
}

/// The InferenceService for a whole-target Resolve answer (`r`, resolved without routing key).
pub(crate) fn inference_service(
    r: &v1::ResolveResponse,
    name: &str,
    namespace: &str,
) -> anyhow::Result<Value> {
    let primary = Member {
        version: r.version,
        uri: &r.artifact_uri,
        format: &r.artifact_format,
        deployment: r.deployment.as_ref(),
    };
    let mut annotations = Map::new();
    let mut note = |k: &str, v: String| annotations.insert(format!("{ANNOTATION}/{k}"), Value::String(v));
    note("model", r.model_name.clone());
    note("binding", r.binding.clone());
    note("generation", r.generation.to_string());
    note("revision", r.revision.to_string());
    let (served, canary_percent) = match r.sides.as_slice() {
        [] => (primary, None),
        [stable, canary] => {
            if canary.weight % 100 != 0 {
                bail!(
                    "the canary weighs {} basis points; KServe splits by whole percentages (canaryTrafficPercent)",
                    canary.weight
                );
            }
            note("stable-version", stable.version.to_string());
            note("stable-storage-uri", stable.artifact_uri.clone());
            let member = Member {
                version: canary.version,
                uri: &canary.artifact_uri,
                format: &canary.artifact_format,
                deployment: canary.deployment.as_ref(),
            };
            (member, Some(canary.weight / 100))
        }
        [only] => (
            Member {
                version: only.version,
                uri: &only.artifact_uri,
                format: &only.artifact_format,
                deployment: only.deployment.as_ref(),
            },
            None,
        ),
        many => bail!(
            "binding '{}' splits traffic {} ways; a KServe InferenceService splits between two revisions only",
            r.binding,
            many.len()
        ),
    };
    note("version", served.version.to_string());
    if !r.shadows.is_empty() {
        let shadows: Vec<String> =
            r.shadows.iter().map(|s| format!("v{}@{}bp", s.version, s.mirror)).collect();
        note("shadows", shadows.join(","));
    }
    let d = served.deployment.cloned().unwrap_or_default();
    if !d.config_json.is_empty() {
        note("runtime-config", d.config_json.clone());
    }
    let mut predictor = Map::new();
    predictor.insert("model".into(), model_spec(&served)?);
    if d.min_replicas > 0 {
        predictor.insert("minReplicas".into(), json!(d.min_replicas));
    }
    if d.max_replicas > 0 {
        predictor.insert("maxReplicas".into(), json!(d.max_replicas));
    }
    if let Some(percent) = canary_percent {
        predictor.insert("canaryTrafficPercent".into(), json!(percent));
    }
    let mut metadata = Map::new();
    metadata.insert("name".into(), json!(name));
    if !namespace.is_empty() {
        metadata.insert("namespace".into(), json!(namespace));
    }
    metadata.insert("labels".into(), json!({ "app.kubernetes.io/managed-by": "bindery" }));
    metadata.insert("annotations".into(), Value::Object(annotations));
    Ok(json!({
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": metadata,
        "spec": { "predictor": predictor },
    }))
}

/// `value` as block YAML. Strings are written as JSON strings (valid YAML, never ambiguous).
pub(crate) fn yaml(value: &Value) -> String {
    let mut out = String::new();
    write_yaml(value, 0, &mut out);
    out
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => Value::String(s.clone()).to_string(),
        other => other.to_string(),
    }
}

fn write_yaml(value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let key = scalar(&Value::String(k.clone()));
                match v {
                    Value::Object(m) if !m.is_empty() => {
                        out.push_str(&format!("{pad}{key}:\n"));
                        write_yaml(v, indent + 2, out);
                    }
                    Value::Array(a) if !a.is_empty() => {
                        out.push_str(&format!("{pad}{key}:\n"));
                        write_yaml(v, indent, out);
                    }
                    Value::Object(_) => out.push_str(&format!("{pad}{key}: {{}}\n")),
                    Value::Array(_) => out.push_str(&format!("{pad}{key}: []\n")),
                    scalar_value => out.push_str(&format!("{pad}{key}: {}\n", scalar(scalar_value))),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Object(m) if !m.is_empty() => {
                        let mut nested = String::new();
                        write_yaml(item, indent + 2, &mut nested);
                        // The first key goes on the dash line.
                        let nested = nested.replacen(&" ".repeat(indent + 2), "", 1);
                        out.push_str(&format!("{pad}- {nested}"));
                    }
                    other => out.push_str(&format!("{pad}- {}\n", scalar(other))),
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer() -> v1::ResolveResponse {
        v1::ResolveResponse {
            model_name: "fraud/detector".into(),
            binding: "production".into(),
            version: 7,
            artifact_uri: "s3://models/fraud/7/".into(),
            artifact_format: "onnx".into(),
            generation: 4,
            revision: 31,
            deployment: Some(v1::DeploymentSpec {
                runtime: "kserve-tritonserver".into(),
                cpu: "2".into(),
                memory: "4Gi".into(),
                gpu: 1,
                env: [("THREADS".to_owned(), "4".to_owned())].into(),
                min_replicas: 1,
                max_replicas: 3,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_plain_binding_is_one_predictor() {
        let isvc = inference_service(&answer(), "fraud-detector-production", "ml").unwrap();
        assert_eq!(isvc["spec"]["predictor"]["model"]["storageUri"], "s3://models/fraud/7/");
        assert_eq!(isvc["spec"]["predictor"]["model"]["resources"]["limits"]["nvidia.com/gpu"], "1");
        assert_eq!(isvc["spec"]["predictor"]["maxReplicas"], 3);
        assert!(isvc["spec"]["predictor"].get("canaryTrafficPercent").is_none());
        let text = yaml(&isvc);
        assert!(text.contains("\"apiVersion\": \"serving.kserve.io/v1beta1\"\n"), "{text}");
        assert!(
            text.contains("      \"env\":\n      - \"name\": \"THREADS\"\n        \"value\": \"4\"\n"),
            "{text}"
        );
        assert_eq!(resource_name("Fraud/detector.v2", "production"), "fraud-detector-v2-production");
    }

    #[test]
    fn a_split_is_the_canary_and_its_percentage() {
        let mut r = answer();
        let side = |version: u64, weight: u32, uri: &str| v1::ResolvedMember {
            version,
            weight,
            artifact_uri: uri.into(),
            artifact_format: "onnx".into(),
            ..Default::default()
        };
        r.sides = vec![side(7, 9_000, "s3://models/fraud/7/"), side(8, 1_000, "s3://models/fraud/8/")];
        r.shadows = vec![v1::ResolvedMember { version: 9, mirror: 500, ..Default::default() }];
        let isvc = inference_service(&r, "x", "").unwrap();
        assert_eq!(isvc["spec"]["predictor"]["canaryTrafficPercent"], 10);
        assert_eq!(isvc["spec"]["predictor"]["model"]["storageUri"], "s3://models/fraud/8/");
        assert_eq!(isvc["metadata"]["annotations"]["bindery.dev/stable-version"], "7");
        assert_eq!(isvc["metadata"]["annotations"]["bindery.dev/shadows"], "v9@500bp");
        r.sides[1].weight = 1_050;
        assert!(inference_service(&r, "x", "").unwrap_err().to_string().contains("whole percentages"));
        r.sides.push(side(10, 0, "s3://models/fraud/10/"));
        assert!(inference_service(&r, "x", "").unwrap_err().to_string().contains("3 ways"));
    }
}
