//! Model and binding names.
//!
//! A name part is `[a-z0-9]([a-z0-9._-]{0,126}[a-z0-9])?`; a model name may carry one
//! `namespace/` prefix of the same form. Binding names are single parts.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

const MAX_PART_LEN: usize = 128;

fn check_part(part: &str) -> std::result::Result<(), String> {
    let bytes = part.as_bytes();
    if bytes.is_empty() {
        return Err("must not be empty".into());
    }
    if bytes.len() > MAX_PART_LEN {
        return Err(format!("is {} characters long, at most {MAX_PART_LEN} allowed", bytes.len()));
    }
    let edge_ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let inner_ok = |b: u8| edge_ok(b) || matches!(b, b'.' | b'_' | b'-');
    if let Some(bad) = part.chars().find(|c| !c.is_ascii() || !inner_ok(*c as u8)) {
        return Err(format!("contains {bad:?}; use lowercase letters, digits, '.', '_' and '-' only"));
    }
    if !edge_ok(bytes[0]) || !edge_ok(bytes[bytes.len() - 1]) {
        return Err("must start and end with a lowercase letter or digit".into());
    }
    Ok(())
}

/// Validates a namespace (one name part, as in `namespace/name`).
pub(crate) fn check_namespace(field: &str, value: &str) -> Result<()> {
    check_part(value).map_err(|e| Error::invalid(field, format!("namespace {value:?} {e}")))
}

/// A validated model name, `name` or `namespace/name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ModelName(String);

impl ModelName {
    /// Validates `value`; `field` names the request field in the error.
    pub fn parse(field: &str, value: impl Into<String>) -> Result<Self> {
        let value = value.into();
        let check = match value.split_once('/') {
            Some((namespace, name)) => {
                check_part(namespace).map_err(|e| format!("namespace {e}")).and_then(|()| check_part(name))
            }
            None => check_part(&value),
        };
        check.map_err(|e| Error::invalid(field, format!("model name {value:?} {e}")))?;
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `namespace` of `namespace/name`, if any.
    pub fn namespace(&self) -> Option<&str> {
        self.0.split_once('/').map(|(ns, _)| ns)
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for ModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A validated binding name: a stage (`staging`, `production`) or an alias.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BindingName(String);

impl BindingName {
    pub const STAGES: [&'static str; 2] = ["staging", "production"];

    pub fn parse(field: &str, value: impl Into<String>) -> Result<Self> {
        let value = value.into();
        Self::check(field, &value)?;
        Ok(Self(value))
    }

    /// What [`BindingName::parse`] checks, without taking the value.
    pub fn check(field: &str, value: &str) -> Result<()> {
        check_part(value).map_err(|e| Error::invalid(field, format!("binding name {value:?} {e}")))
    }

    /// Stages are gated by promotion policies; aliases are not.
    pub fn is_stage(&self) -> bool {
        Self::STAGES.contains(&self.0.as_str())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BindingName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_names() {
        for name in ["a", "fraud-detector", "m.v2_x", "0", "team/fraud", &"a".repeat(128)] {
            assert!(ModelName::parse("name", name).is_ok(), "{name}");
        }
    }

    #[test]
    fn rejects_invalid_names_with_the_field() {
        let long = "a".repeat(129);
        for name in ["", "A", "-a", "a-", "a b", "é", "a/b/c", "/a", "a/", &long, "fraud/", "a..b/"] {
            match ModelName::parse("model_name", name) {
                Err(Error::InvalidArgument(msg)) => assert!(msg.starts_with("model_name: "), "{msg}"),
                other => panic!("{name:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn binding_names_have_no_namespace() {
        assert!(BindingName::parse("binding", "prod/eu").is_err());
        assert!(BindingName::parse("binding", "production").is_ok_and(|b| b.is_stage()));
        assert!(BindingName::parse("binding", "champion").is_ok_and(|b| !b.is_stage()));
    }
}
