//! The CLI's one output layer. Every command returns an [`Output`]: lines for people (a listing
//! as an aligned table), and the registry's answer as JSON for scripts (`--json`: the proto3 JSON
//! of the answer's messages, see `bindery_proto::json`, a listing as an array). Errors are not
//! output: they go to stderr with a failing exit code, in either mode: 1 for a call that failed
//! (with the gRPC code's name, e.g. `NOT_FOUND: …`), 2 for a command used wrongly ([`usage`]).

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

    /// A listing as an aligned table: a header, then one row per item; the items as a JSON array.
    pub(crate) fn table<M: prost::Message + prost::Name>(
        items: &[M],
        headers: &[&str],
        row: impl Fn(&M) -> Vec<String>,
    ) -> Self {
        let rows: Vec<Vec<String>> = items.iter().map(row).collect();
        Self {
            text: table(headers, &rows),
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

/// Columns padded to their widest cell (in characters), two spaces apart; the last column is not
/// padded, so lines carry no trailing blanks.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut out = String::new();
        for (i, (cell, width)) in cells.zip(&widths).enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            out.push_str(cell);
            out.extend(std::iter::repeat_n(' ', width.saturating_sub(cell.chars().count())));
        }
        out.trim_end().to_owned()
    };
    let mut lines = vec![line(&mut headers.iter().copied())];
    lines.extend(rows.iter().map(|r| line(&mut r.iter().map(String::as_str))));
    lines.join("\n")
}

/// A command used wrongly (a missing or contradictory argument): exit code 2, like clap's own.
#[derive(Debug)]
pub struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// The error for a command used wrongly.
pub(crate) fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Usage(message.into()))
}

/// The name gRPC gives a status code (`NOT_FOUND`), as the CLI prints failed calls.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns_by_characters() {
        let rows = vec![
            vec!["fraud/detector".to_owned(), "7".to_owned(), "ünïcödé".to_owned()],
            vec!["x".to_owned(), "12".to_owned(), String::new()],
        ];
        let text = table(&["NAME", "LATEST", "OWNER"], &rows);
        assert_eq!(
            text,
            "NAME            LATEST  OWNER\nfraud/detector  7       ünïcödé\nx               12"
        );
    }

    #[test]
    fn code_names_are_grpc_names() {
        assert_eq!(code_name(tonic::Code::FailedPrecondition), "FAILED_PRECONDITION");
        assert_eq!(code_name(tonic::Code::NotFound), "NOT_FOUND");
    }
}
