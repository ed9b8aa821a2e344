//! The CLI's one output layer. Every command returns an [`Output`]: lines for people, and the
//! registry's answer as JSON for scripts (`--json`: the proto3 JSON of the answer's messages, see
//! `bindery_proto::json`, a listing as an array). Errors are not output: they go to stderr with a
//! failing exit code, in either mode.

use anyhow::anyhow;
use bindery_proto::json::to_json;
use serde_json::Value;

#[derive(Debug)]
pub struct Output {
    text: String,
    json: Result<Value, String>,
}

impl Output {
    /// One answer message, and how people read it.
    pub(crate) fn of<M: prost::Message + prost::Name>(message: &M, text: impl Into<String>) -> Self {
        Self { text: text.into(), json: to_json(message) }
    }

    /// A listing: one line per item, and the items as a JSON array.
    pub(crate) fn list<M: prost::Message + prost::Name>(items: &[M], line: impl Fn(&M) -> String) -> Self {
        Self {
            text: items.iter().map(line).collect::<Vec<_>>().join("\n"),
            json: items.iter().map(to_json).collect::<Result<Vec<_>, _>>().map(Value::Array),
        }
    }

    /// What the CLI assembled itself (downloads, a bootstrap token).
    pub(crate) fn value(json: Value, text: impl Into<String>) -> Self {
        Self { text: text.into(), json: Ok(json) }
    }

    /// The text, or the JSON (pretty, one document).
    pub fn render(self, json: bool) -> anyhow::Result<String> {
        if !json {
            return Ok(self.text);
        }
        let value = self.json.map_err(|e| anyhow!("cannot render the answer as JSON: {e}"))?;
        Ok(serde_json::to_string_pretty(&value)?)
    }
}

/// A time as people read it: RFC 3339 in UTC, `-` when absent.
pub(crate) fn when(t: Option<&prost_types::Timestamp>) -> String {
    t.map_or_else(|| "-".to_owned(), ToString::to_string)
}
