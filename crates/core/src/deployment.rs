//! The inference configuration that ships with a version (issue 15): serving runtime and image,
//! resources, environment, replica hints and free-form runtime config. It is registered with the
//! version, immutable like the artifact, and travels with it wherever the artifact does (bindings,
//! read nodes, Resolve, WatchBindings), so "which artifact, served how" is one answer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Error, Result, validate};

pub const MAX_CONFIG_JSON_BYTES: usize = 64 * 1024;
pub const MAX_ENV: usize = 64;
pub const MAX_GPUS: u32 = 64;
pub const MAX_REPLICAS: u32 = 10_000;

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DeploymentSpec {
    /// The serving runtime, e.g. `kserve-mlserver`, `triton`, `vllm`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub runtime: String,
    /// A container image reference.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image: String,
    /// Kubernetes quantities: `500m`, `2`; `512Mi`, `4Gi`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cpu: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub memory: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gpu: u32,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub min_replicas: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_replicas: u32,
    /// Free-form runtime configuration: a JSON object.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub config_json: String,
}

impl DeploymentSpec {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// `over` on top of `base`: every field `over` sets (non-empty, non-zero) replaces the base's;
    /// environment variables are merged, `over`'s winning.
    pub fn overlay(base: Option<&Self>, over: &Self) -> Self {
        let mut out = base.cloned().unwrap_or_default();
        let text = |mine: &mut String, theirs: &String| {
            if !theirs.is_empty() {
                mine.clone_from(theirs);
            }
        };
        text(&mut out.runtime, &over.runtime);
        text(&mut out.image, &over.image);
        text(&mut out.cpu, &over.cpu);
        text(&mut out.memory, &over.memory);
        text(&mut out.config_json, &over.config_json);
        for (mine, theirs) in [
            (&mut out.gpu, over.gpu),
            (&mut out.min_replicas, over.min_replicas),
            (&mut out.max_replicas, over.max_replicas),
        ] {
            if theirs > 0 {
                *mine = theirs;
            }
        }
        out.env.extend(over.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        out
    }

    /// Checks every field; errors name it under `field` (`deployment.cpu`).
    pub fn validate(&self, field: &str) -> Result<()> {
        let at = |name: &str| format!("{field}.{name}");
        label(&at("runtime"), &self.runtime, 64)?;
        validate::text(&at("image"), &self.image, 512)?;
        if self.image.chars().any(char::is_whitespace) {
            return Err(Error::invalid(&at("image"), "an image reference has no whitespace"));
        }
        quantity(&at("cpu"), &self.cpu)?;
        quantity(&at("memory"), &self.memory)?;
        if self.gpu > MAX_GPUS {
            return Err(Error::invalid(&at("gpu"), format!("is {}, at most {MAX_GPUS}", self.gpu)));
        }
        if self.env.len() > MAX_ENV {
            return Err(Error::invalid(
                &at("env"),
                format!("has {} entries, at most {MAX_ENV}", self.env.len()),
            ));
        }
        for (name, value) in &self.env {
            let ok = !name.is_empty()
                && name.len() <= 128
                && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
                && !name.as_bytes()[0].is_ascii_digit();
            if !ok {
                return Err(Error::invalid(
                    &at("env"),
                    format!(
                        "{name:?} is not an environment variable name (letters, digits and '_', not starting with a digit)"
                    ),
                ));
            }
            validate::text(&format!("{field}.env[{name}]"), value, 4_096)?;
        }
        for (name, n) in [("min_replicas", self.min_replicas), ("max_replicas", self.max_replicas)] {
            if n > MAX_REPLICAS {
                return Err(Error::invalid(&at(name), format!("is {n}, at most {MAX_REPLICAS}")));
            }
        }
        if self.max_replicas > 0 && self.max_replicas < self.min_replicas {
            return Err(Error::invalid(
                &at("max_replicas"),
                format!("is {} but min_replicas is {}", self.max_replicas, self.min_replicas),
            ));
        }
        if !self.config_json.is_empty() {
            if self.config_json.len() > MAX_CONFIG_JSON_BYTES {
                return Err(Error::invalid(
                    &at("config_json"),
                    format!("is {} bytes, at most {MAX_CONFIG_JSON_BYTES}", self.config_json.len()),
                ));
            }
            match serde_json::from_str::<serde_json::Value>(&self.config_json) {
                Ok(serde_json::Value::Object(_)) => {}
                Ok(_) => return Err(Error::invalid(&at("config_json"), "must be a JSON object")),
                Err(e) => return Err(Error::invalid(&at("config_json"), format!("is not JSON: {e}"))),
            }
        }
        Ok(())
    }
}

fn label(field: &str, value: &str, max: usize) -> Result<()> {
    let ok = value.len() <= max
        && value
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'.' | b'_'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(field, format!("{value:?}: at most {max} of a-z, 0-9, '-', '.', '_'")))
    }
}

/// A Kubernetes resource quantity as people write them: a decimal number with an optional
/// suffix (`m`, `k`, `M`, `G`, `T`, `Ki`, `Mi`, `Gi`, `Ti`). Empty is allowed (unset).
fn quantity(field: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Ok(());
    }
    const SUFFIXES: [&str; 9] = ["Ki", "Mi", "Gi", "Ti", "m", "k", "M", "G", "T"];
    let number = SUFFIXES.iter().find_map(|s| value.strip_suffix(s)).unwrap_or(value);
    let (whole, frac) = number.split_once('.').unwrap_or((number, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if value.len() <= 32 && digits(whole) && digits(frac) {
        Ok(())
    } else {
        Err(Error::invalid(field, format!("{value:?} is not a quantity such as 500m, 2, 512Mi or 4Gi")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> DeploymentSpec {
        DeploymentSpec {
            runtime: "kserve-mlserver".into(),
            image: "ghcr.io/acme/fraud:1.4".into(),
            cpu: "500m".into(),
            memory: "2Gi".into(),
            gpu: 1,
            env: [("MODEL_THREADS".to_owned(), "4".to_owned())].into(),
            min_replicas: 1,
            max_replicas: 3,
            config_json: r#"{"batch": 16}"#.into(),
        }
    }

    #[test]
    fn an_override_replaces_what_it_sets_and_merges_env() {
        let over = DeploymentSpec {
            min_replicas: 2,
            memory: "8Gi".into(),
            env: [("EXTRA".to_owned(), "1".to_owned()), ("MODEL_THREADS".to_owned(), "8".to_owned())].into(),
            ..Default::default()
        };
        let out = DeploymentSpec::overlay(Some(&spec()), &over);
        assert_eq!(
            (out.min_replicas, out.max_replicas, out.memory.as_str(), out.cpu.as_str()),
            (2, 3, "8Gi", "500m")
        );
        assert_eq!(out.env.get("MODEL_THREADS").map(String::as_str), Some("8"));
        assert_eq!(out.env.len(), 2);
        assert_eq!(DeploymentSpec::overlay(None, &over), over);
    }

    #[test]
    fn bad_fields_are_named() {
        spec().validate("deployment").unwrap();
        DeploymentSpec::default().validate("deployment").unwrap();
        let bad = |f: fn(&mut DeploymentSpec)| {
            let mut s = spec();
            f(&mut s);
            s.validate("deployment").unwrap_err().to_string()
        };
        assert!(bad(|s| s.cpu = "lots".into()).contains("deployment.cpu"));
        assert!(bad(|s| s.memory = "4GB".into()).contains("deployment.memory"));
        assert!(bad(|s| s.memory = "1.5.2Gi".into()).contains("deployment.memory"));
        assert!(bad(|s| s.runtime = "Triton Server".into()).contains("deployment.runtime"));
        assert!(bad(|s| s.image = "a b".into()).contains("deployment.image"));
        assert!(bad(|s| s.gpu = 65).contains("deployment.gpu"));
        assert!(bad(|s| s.min_replicas = 5).contains("deployment.max_replicas"));
        assert!(bad(|s| s.config_json = "[1]".into()).contains("JSON object"));
        assert!(bad(|s| s.config_json = "{".into()).contains("not JSON"));
        assert!(
            bad(|s| {
                s.env.insert("1BAD".into(), String::new());
            })
            .contains("deployment.env")
        );
        assert!(bad(|s| s.config_json = format!("{{\"k\": \"{}\"}}", "x".repeat(70_000))).contains("65536"));
    }
}
