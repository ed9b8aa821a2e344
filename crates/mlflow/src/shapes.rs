//! MLflow's JSON shapes (as its server writes them: snake_case, enums by name, int64 as numbers,
//! version numbers as strings, empty lists and unset strings left out) from Bindery's messages,
//! and the mapping of stages and aliases onto bindings.

use bindery_proto::v1;
use serde_json::{Map, Value, json};

/// The bindings MLflow shows as stages; every other binding is an alias.
pub const STAGING: &str = "staging";
pub const PRODUCTION: &str = "production";

/// A stage as MLflow names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    None,
    Staging,
    Production,
    Archived,
}

impl Stage {
    /// MLflow accepts stage names in any case.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Some(Self::None),
            "staging" => Some(Self::Staging),
            "production" => Some(Self::Production),
            "archived" => Some(Self::Archived),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::None => "None",
            Self::Staging => "Staging",
            Self::Production => "Production",
            Self::Archived => "Archived",
        }
    }

    /// The binding that holds this stage.
    pub fn binding(self) -> Option<&'static str> {
        match self {
            Self::Staging => Some(STAGING),
            Self::Production => Some(PRODUCTION),
            Self::None | Self::Archived => None,
        }
    }

    /// A version's stage: bound to `production`, else `staging`, else archived, else none.
    pub fn of(version: &v1::ModelVersion) -> Self {
        let bound = |b: &str| version.bindings.iter().any(|n| n == b);
        if bound(PRODUCTION) {
            Self::Production
        } else if bound(STAGING) {
            Self::Staging
        } else if version.status == v1::VersionStatus::Archived as i32 {
            Self::Archived
        } else {
            Self::None
        }
    }
}

/// Whether a binding is shown as an alias (not a stage).
pub fn is_alias(binding: &str) -> bool {
    binding != STAGING && binding != PRODUCTION
}

pub fn millis(t: Option<&prost_types::Timestamp>) -> i64 {
    t.map_or(0, |t| t.seconds.saturating_mul(1000).saturating_add(i64::from(t.nanos / 1_000_000)))
}

fn tags(map: &std::collections::BTreeMap<String, String>) -> Value {
    Value::Array(map.iter().map(|(k, v)| json!({ "key": k, "value": v })).collect())
}

fn put_nonempty(out: &mut Map<String, Value>, key: &str, value: Value) {
    let empty = match &value {
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    };
    if !empty {
        out.insert(key.to_owned(), value);
    }
}

/// A model version; `source` is what [`crate::Facade::source_of`] made of its artifact.
pub fn model_version(version: &v1::ModelVersion, source: &str) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), json!(version.model_name));
    out.insert("version".into(), json!(version.version.to_string()));
    out.insert("creation_timestamp".into(), json!(millis(version.created_at.as_ref())));
    out.insert(
        "last_updated_timestamp".into(),
        json!(millis(version.updated_at.as_ref().or(version.created_at.as_ref()))),
    );
    out.insert("current_stage".into(), json!(Stage::of(version).name()));
    put_nonempty(&mut out, "description", json!(version.description));
    out.insert("source".into(), json!(source));
    let run_id = version.lineage.as_ref().map_or("", |l| l.training_run_id.as_str());
    out.insert("run_id".into(), json!(run_id));
    out.insert("run_link".into(), json!(""));
    out.insert("status".into(), json!("READY"));
    put_nonempty(&mut out, "tags", tags(&version.tags));
    let mut aliases: Vec<&String> = version.bindings.iter().filter(|b| is_alias(b)).collect();
    aliases.sort();
    put_nonempty(&mut out, "aliases", json!(aliases));
    Value::Object(out)
}

/// A registered model with its aliases (from `bindings`) and latest version per stage.
pub fn registered_model(model: &v1::Model, bindings: &[v1::Binding], latest: Vec<Value>) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), json!(model.name));
    out.insert("creation_timestamp".into(), json!(millis(model.created_at.as_ref())));
    out.insert(
        "last_updated_timestamp".into(),
        json!(millis(model.updated_at.as_ref().or(model.created_at.as_ref()))),
    );
    put_nonempty(&mut out, "description", json!(model.description));
    put_nonempty(&mut out, "latest_versions", Value::Array(latest));
    put_nonempty(&mut out, "tags", tags(&model.tags));
    let mut aliases: Vec<(&str, u64)> =
        bindings.iter().filter(|b| is_alias(&b.name)).map(|b| (b.name.as_str(), b.version)).collect();
    aliases.sort_unstable();
    put_nonempty(
        &mut out,
        "aliases",
        Value::Array(
            aliases.into_iter().map(|(a, v)| json!({ "alias": a, "version": v.to_string() })).collect(),
        ),
    );
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(bindings: &[&str], status: v1::VersionStatus) -> v1::ModelVersion {
        v1::ModelVersion {
            model_name: "fraud".into(),
            version: 3,
            status: status as i32,
            bindings: bindings.iter().map(|b| (*b).to_owned()).collect(),
            created_at: Some(prost_types::Timestamp { seconds: 1_700_000_000, nanos: 250_000_000 }),
            ..Default::default()
        }
    }

    #[test]
    fn stages_come_from_the_staging_and_production_bindings_and_the_rest_are_aliases() {
        let ready = v1::VersionStatus::Ready;
        assert_eq!(Stage::of(&version(&["champion", "production", "staging"], ready)), Stage::Production);
        assert_eq!(Stage::of(&version(&["staging"], ready)), Stage::Staging);
        assert_eq!(Stage::of(&version(&[], v1::VersionStatus::Archived)), Stage::Archived);
        assert_eq!(Stage::of(&version(&["champion"], ready)), Stage::None);
        let json = model_version(&version(&["production", "champion", "b"], ready), "s3://m/x");
        assert_eq!(json["aliases"], json!(["b", "champion"]));
        assert_eq!(json["version"], "3");
        assert_eq!(json["creation_timestamp"], 1_700_000_000_250_i64);
        assert_eq!(json["current_stage"], "Production");
        assert!(json.get("tags").is_none() && json.get("description").is_none(), "empty fields are left out");
        assert_eq!(Stage::parse("PRODUCTION"), Some(Stage::Production));
        assert_eq!(Stage::parse("prod"), None);
    }
}
