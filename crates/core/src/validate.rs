//! Bounds on everything a caller can send. Each check names the field it rejects.

use std::collections::BTreeMap;

use crate::{Error, Result};

pub const MAX_MAP_ENTRIES: usize = 100;
pub const MAX_KEY_BYTES: usize = 250;
pub const MAX_VALUE_BYTES: usize = 5_000;
pub const MAX_DESCRIPTION_BYTES: usize = 16_384;
pub const MAX_SHORT_TEXT_BYTES: usize = 250;
pub const MAX_URI_BYTES: usize = 2_048;
pub const MAX_SIGNATURE_BYTES: usize = 65_536;
pub const MAX_LIST_ENTRIES: usize = 100;
/// A version's metadata (everything but the artifact's manifest), as JSON, all fields together.
pub const MAX_VERSION_METADATA_BYTES: usize = 256 * 1024;
/// A prefix artifact's manifest (paths, sizes, ETags, SHA-256s), as JSON: it travels in
/// RegisterVersion and GetVersion answers, which must stay under the 4 MiB message limit.
pub const MAX_MANIFEST_BYTES: usize = 2 * 1024 * 1024;

/// Text of at most `max` bytes with no control characters other than newline and tab.
pub fn text(field: &str, value: &str, max: usize) -> Result<()> {
    if value.len() > max {
        return Err(Error::invalid(field, format!("is {} bytes, at most {max} allowed", value.len())));
    }
    if let Some(c) = value.chars().find(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r')) {
        return Err(Error::invalid(field, format!("contains the control character {c:?}")));
    }
    Ok(())
}

fn key(field: &str, k: &str) -> Result<()> {
    if k.is_empty() {
        return Err(Error::invalid(field, "keys must not be empty"));
    }
    if k.len() > MAX_KEY_BYTES {
        return Err(Error::invalid(
            field,
            format!("key {:?}… is {} bytes, at most {MAX_KEY_BYTES} allowed", truncate(k, 40), k.len()),
        ));
    }
    if k.chars().any(char::is_control) {
        return Err(Error::invalid(field, format!("key {k:?} contains a control character")));
    }
    Ok(())
}

fn entries(field: &str, n: usize) -> Result<()> {
    if n > MAX_MAP_ENTRIES {
        return Err(Error::invalid(field, format!("has {n} entries, at most {MAX_MAP_ENTRIES} allowed")));
    }
    Ok(())
}

/// A string map (tags, params, environment): ≤ 100 entries, keys ≤ 250 bytes, values ≤ 5,000 bytes.
pub fn string_map(field: &str, map: &BTreeMap<String, String>) -> Result<()> {
    entries(field, map.len())?;
    for (k, v) in map {
        key(field, k)?;
        if v.len() > MAX_VALUE_BYTES {
            return Err(Error::invalid(
                field,
                format!("value of {k:?} is {} bytes, at most {MAX_VALUE_BYTES} allowed", v.len()),
            ));
        }
    }
    Ok(())
}

/// Metrics: bounded like [`string_map`], and every value finite.
pub fn metrics(field: &str, map: &BTreeMap<String, f64>) -> Result<()> {
    entries(field, map.len())?;
    for (k, v) in map {
        key(field, k)?;
        if !v.is_finite() {
            return Err(Error::invalid(
                field,
                format!("value of {k:?} is {v}; metrics must be finite numbers"),
            ));
        }
    }
    Ok(())
}

/// Keys to remove from a map: bounded, and none of them also being set in the same request.
pub fn removals<V>(field: &str, remove: &[String], set: &BTreeMap<String, V>) -> Result<()> {
    entries(field, remove.len())?;
    for k in remove {
        key(field, k)?;
        if set.contains_key(k) {
            return Err(Error::invalid(field, format!("key {k:?} is both set and removed")));
        }
    }
    Ok(())
}

/// Lowercase hex SHA-256, or empty for unknown. Uppercase hex is accepted and lowercased.
pub fn sha256(field: &str, value: &str) -> Result<String> {
    if value.is_empty() {
        return Ok(String::new());
    }
    if value.len() != 64 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::invalid(
            field,
            format!("{:?} is not a SHA-256 digest; expected 64 hexadecimal characters", truncate(value, 80)),
        ));
    }
    Ok(value.to_ascii_lowercase())
}

/// An artifact URI: `s3://bucket/key` (or `s3://bucket/prefix/`) or `file:///absolute/path`.
/// A UUID in its canonical 36-character form (any case).
pub fn uuid(field: &str, value: &str) -> Result<()> {
    let well_formed = value.len() == 36
        && value
            .char_indices()
            .all(|(i, c)| if matches!(i, 8 | 13 | 18 | 23) { c == '-' } else { c.is_ascii_hexdigit() });
    if !well_formed {
        return Err(Error::invalid(field, format!("{:?} is not a UUID", truncate(value, 40))));
    }
    Ok(())
}

pub fn artifact_uri(field: &str, uri: &str) -> Result<()> {
    if uri.is_empty() {
        return Err(Error::invalid(field, "is required, e.g. s3://bucket/models/fraud/model.onnx"));
    }
    if uri.len() > MAX_URI_BYTES {
        return Err(Error::invalid(
            field,
            format!("is {} bytes, at most {MAX_URI_BYTES} allowed", uri.len()),
        ));
    }
    if uri.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Error::invalid(field, format!("{uri:?} contains whitespace or control characters")));
    }
    if let Some(rest) = uri.strip_prefix("s3://") {
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        s3_bucket(field, uri, bucket)?;
        if key.is_empty() {
            return Err(Error::invalid(field, format!("{uri:?} names a bucket but no object key")));
        }
        if key.split('/').any(|seg| seg == "." || seg == "..") {
            return Err(Error::invalid(field, format!("{uri:?} contains a '.' or '..' path segment")));
        }
        return Ok(());
    }
    if let Some(path) = uri.strip_prefix("file://") {
        if !path.starts_with('/') || path.len() < 2 {
            return Err(Error::invalid(field, format!("{uri:?} must be file:///absolute/path")));
        }
        if path.split('/').any(|seg| seg == "..") {
            return Err(Error::invalid(field, format!("{uri:?} contains a '..' path segment")));
        }
        return Ok(());
    }
    let scheme = uri.split_once("://").map_or(uri, |(s, _)| s);
    Err(Error::invalid(
        field,
        format!(
            "unsupported URI {:?} (scheme {scheme:?}); use s3://bucket/key or file:///path",
            truncate(uri, 80)
        ),
    ))
}

fn s3_bucket(field: &str, uri: &str, bucket: &str) -> Result<()> {
    let ok_char = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-';
    let edge = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = bucket.as_bytes();
    let valid = (3..=63).contains(&bytes.len())
        && bytes.iter().all(|b| ok_char(*b))
        && edge(bytes[0])
        && edge(bytes[bytes.len() - 1]);
    if !valid {
        return Err(Error::invalid(
            field,
            format!(
                "{uri:?}: bucket {bucket:?} is not a valid S3 bucket name (3-63 lowercase letters, digits, '.', '-')"
            ),
        ));
    }
    Ok(())
}

/// Optional JSON document (signatures).
pub fn json_document(field: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Ok(());
    }
    if value.len() > MAX_SIGNATURE_BYTES {
        return Err(Error::invalid(
            field,
            format!("is {} bytes, at most {MAX_SIGNATURE_BYTES} allowed", value.len()),
        ));
    }
    serde_json::from_str::<serde_json::Value>(value)
        .map(drop)
        .map_err(|e| Error::invalid(field, format!("is not valid JSON: {e}")))
}

/// A list of at most [`MAX_LIST_ENTRIES`] entries.
pub fn list_len(field: &str, n: usize) -> Result<()> {
    if n > MAX_LIST_ENTRIES {
        return Err(Error::invalid(field, format!("has {n} entries, at most {MAX_LIST_ENTRIES} allowed")));
    }
    Ok(())
}

/// A version number as sent by a client: at least 1 and within what the store can hold.
pub fn version_number(field: &str, version: u64) -> Result<u64> {
    if version == 0 {
        return Err(Error::invalid(field, "is required; versions are numbered from 1"));
    }
    if i64::try_from(version).is_err() {
        return Err(Error::invalid(field, format!("{version} is out of range")));
    }
    Ok(version)
}

fn truncate(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        for ok in ["s3://bucket/key", "s3://my.bucket-1/a/b/", "file:///tmp/model.onnx"] {
            assert!(artifact_uri("artifact.uri", ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "s3://bucket",
            "s3://bucket/",
            "s3://B/key",
            "s3://ab/key",
            "gs://b/k",
            "file://rel",
            "s3://bucket/a/../b",
            "s3://bucket/a b",
            "http://x/y",
        ] {
            let err = artifact_uri("artifact.uri", bad);
            assert!(
                matches!(&err, Err(Error::InvalidArgument(m)) if m.starts_with("artifact.uri: ")),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn maps_and_metrics() {
        let mut m = BTreeMap::new();
        m.insert("k".repeat(251), "v".into());
        assert!(string_map("tags", &m).is_err());
        let m: BTreeMap<_, _> = [("k".to_string(), "v".repeat(5_001))].into();
        assert!(string_map("tags", &m).is_err());
        let m: BTreeMap<_, _> = (0..101).map(|i| (i.to_string(), String::new())).collect();
        assert!(string_map("tags", &m).is_err());
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let m: BTreeMap<_, _> = [("auc".to_string(), v)].into();
            assert!(metrics("metrics", &m).is_err());
        }
        let m: BTreeMap<_, _> = [("auc".to_string(), 0.93)].into();
        assert!(metrics("metrics", &m).is_ok());
    }

    #[test]
    fn digests() {
        assert_eq!(sha256("s", &"AB".repeat(32)).ok(), Some("ab".repeat(32)));
        assert!(sha256("s", "abc").is_err());
        assert!(sha256("s", &"zz".repeat(32)).is_err());
    }
}
