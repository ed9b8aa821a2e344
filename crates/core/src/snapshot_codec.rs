//! A compact binary encoding of a [`Snapshot`] (issue 20: a read node with a million bindings
//! serving in under a second). The JSON of the change log spells every binding's artifact out
//! field by field; this encoding writes lengths and integers as varints, a digest as its 32
//! bytes, and keeps JSON only for what most bindings lack (manifests, deployment specs, splits).
//!
//! A snapshot is encoded in *parts* of about a chosen size. Each part stands alone (a header, then
//! whole models with their bindings, then access entries), so parts decode in parallel and a
//! store or a peer can hand them out one at a time. Decoding checks everything (lengths, UTF-8,
//! names, that all parts carry one revision) and never panics on bad input.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::traffic::{MemberArtifact, Traffic};
use crate::{
    AccessChange, Artifact, ArtifactFile, BindingChange, BindingName, BindingTarget, Error, ModelName,
    Result, Snapshot,
};

/// The first bytes of every part: the format and its version.
const MAGIC: &[u8; 4] = b"BSN1";
const MODEL: u8 = 1;
const ACCESS: u8 = 2;

const HAS_SHA256: u8 = 1;
const VERIFIED: u8 = 2;
const SHA256_VERIFIED: u8 = 4;
const HAS_LAST_MODIFIED: u8 = 8;
/// The digest was not canonical lowercase hex: kept as text.
const SHA256_TEXT: u8 = 16;

/// The rarely present fields of a binding, as JSON.
#[derive(Debug, Default, Deserialize)]
struct Rest {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    files: Vec<ArtifactFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deployment: Option<Box<crate::deployment::DeploymentSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    traffic: Option<Traffic>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    others: Vec<MemberArtifact>,
}

/// A binding as the encoding holds it, borrowed: what a reader builds its cache from without
/// copying every field into a [`BindingChange`] first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingView<'a> {
    pub binding: &'a str,
    pub generation: u64,
    pub version: u64,
    pub uri: &'a str,
    pub sha256: Digest<'a>,
    pub size_bytes: u64,
    pub format: &'a str,
    pub etag: &'a str,
    pub last_modified: Option<SystemTime>,
    pub verified: bool,
    pub sha256_verified: bool,
    /// The rarely present fields (manifest, deployment spec, split), as JSON; empty: none.
    pub rest: Cow<'a, [u8]>,
}

/// An artifact's SHA-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Digest<'a> {
    None,
    Bytes(&'a [u8; 32]),
    /// Not canonical lowercase hex (kept as given).
    Text(&'a str),
}

impl Digest<'_> {
    /// As [`Artifact::sha256`] spells it.
    pub fn to_hex(self) -> String {
        match self {
            Self::None => String::new(),
            Self::Bytes(b) => crate::hex(b),
            Self::Text(t) => t.to_owned(),
        }
    }
}

impl<'a> BindingView<'a> {
    /// A view of `b` (whose target must be set); `digest` holds its digest's bytes.
    pub fn of(b: &'a BindingChange, digest: &'a mut [u8; 32]) -> Result<Self> {
        let Some(target) = &b.target else {
            return Err(Error::Internal(format!(
                "snapshot binding '{}' of '{}' has no target",
                b.binding, b.model_name
            )));
        };
        let a = &target.artifact;
        let sha256 = match (a.sha256.is_empty(), crate::sha256_bytes(&a.sha256)) {
            (true, _) => Digest::None,
            (false, Some(bytes)) => {
                *digest = bytes;
                Digest::Bytes(digest)
            }
            (false, None) => Digest::Text(&a.sha256),
        };
        let rich = !a.files.is_empty()
            || a.deployment.is_some()
            || target.traffic.is_some()
            || !target.others.is_empty();
        let rest = if rich {
            let rest = RestRef {
                files: &a.files,
                deployment: a.deployment.as_deref(),
                traffic: target.traffic.as_ref(),
                others: &target.others,
            };
            Cow::Owned(
                serde_json::to_vec(&rest).map_err(|e| Error::Internal(format!("encoding a binding: {e}")))?,
            )
        } else {
            Cow::Borrowed(&[][..])
        };
        Ok(Self {
            binding: b.binding.as_str(),
            generation: b.generation,
            version: target.version,
            uri: &a.uri,
            sha256,
            size_bytes: a.size_bytes,
            format: &a.format,
            etag: &a.etag,
            last_modified: a.last_modified,
            verified: a.verified,
            sha256_verified: a.sha256_verified,
            rest,
        })
    }

    /// Whether the binding has any of the rarely present fields.
    pub fn is_rich(&self) -> bool {
        !self.rest.is_empty()
    }

    /// The whole target.
    pub fn to_target(&self) -> Result<BindingTarget> {
        let rest: Rest = if self.rest.is_empty() {
            Rest::default()
        } else {
            serde_json::from_slice(&self.rest).map_err(|e| corrupt(&format!("binding details: {e}")))?
        };
        Ok(BindingTarget {
            version: self.version,
            artifact: Artifact {
                uri: self.uri.to_owned(),
                sha256: self.sha256.to_hex(),
                size_bytes: self.size_bytes,
                format: self.format.to_owned(),
                etag: self.etag.to_owned(),
                last_modified: self.last_modified,
                verified: self.verified,
                sha256_verified: self.sha256_verified,
                files: rest.files,
                deployment: rest.deployment,
            },
            traffic: rest.traffic,
            others: rest.others,
        })
    }

    fn put(&self, out: &mut Vec<u8>) {
        put_str(out, self.binding);
        put_varint(out, self.generation);
        put_varint(out, self.version);
        put_str(out, self.uri);
        let last_modified = self.last_modified.map(|t| t.duration_since(UNIX_EPOCH).unwrap_or_default());
        let flags = [
            (self.sha256 != Digest::None, HAS_SHA256),
            (self.verified, VERIFIED),
            (self.sha256_verified, SHA256_VERIFIED),
            (last_modified.is_some(), HAS_LAST_MODIFIED),
            (matches!(self.sha256, Digest::Text(_)), SHA256_TEXT),
        ]
        .into_iter()
        .fold(0, |flags, (on, bit)| if on { flags | bit } else { flags });
        out.push(flags);
        match self.sha256 {
            Digest::Bytes(d) => out.extend_from_slice(d),
            Digest::Text(t) => put_str(out, t),
            Digest::None => {}
        }
        put_varint(out, self.size_bytes);
        put_str(out, self.format);
        put_str(out, self.etag);
        if let Some(at) = last_modified {
            put_varint(out, at.as_secs());
            put_varint(out, u64::from(at.subsec_nanos()));
        }
        put_bytes(out, &self.rest);
    }
}

#[derive(Serialize)]
struct RestRef<'a> {
    #[serde(skip_serializing_if = "<[ArtifactFile]>::is_empty")]
    files: &'a [ArtifactFile],
    #[serde(skip_serializing_if = "Option::is_none")]
    deployment: Option<&'a crate::deployment::DeploymentSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    traffic: Option<&'a Traffic>,
    #[serde(skip_serializing_if = "<[MemberArtifact]>::is_empty")]
    others: &'a [MemberArtifact],
}

/// Writes a snapshot model by model, cutting a new part once one holds about `part_bytes`.
#[derive(Debug)]
pub struct Encoder {
    revision: u64,
    part_bytes: usize,
    parts: Vec<Vec<u8>>,
    part: Vec<u8>,
}

impl Encoder {
    pub fn new(revision: u64, part_bytes: usize) -> Self {
        Self { revision, part_bytes, parts: Vec::new(), part: header(revision) }
    }

    /// One model with all its bindings (a model is never split over parts).
    pub fn model(&mut self, name: &str, bindings: &[BindingView<'_>]) {
        self.part.push(MODEL);
        put_str(&mut self.part, name);
        put_varint(&mut self.part, bindings.len() as u64);
        for b in bindings {
            b.put(&mut self.part);
        }
        if self.part.len() >= self.part_bytes {
            self.parts.push(std::mem::replace(&mut self.part, header(self.revision)));
        }
    }

    pub fn access(&mut self, access: &AccessChange) -> Result<()> {
        self.part.push(ACCESS);
        let json =
            serde_json::to_vec(access).map_err(|e| Error::Internal(format!("encoding access: {e}")))?;
        put_bytes(&mut self.part, &json);
        Ok(())
    }

    /// The parts (at least one).
    pub fn finish(mut self) -> Vec<Vec<u8>> {
        if self.parts.is_empty() || self.part.len() > header(self.revision).len() {
            self.parts.push(self.part);
        }
        self.parts
    }
}

/// `snapshot` as parts of about `part_bytes` each.
pub fn encode(snapshot: &Snapshot, part_bytes: usize) -> Result<Vec<Vec<u8>>> {
    let mut by_model: std::collections::HashMap<&ModelName, Vec<&BindingChange>> =
        std::collections::HashMap::with_capacity(snapshot.models.len());
    for name in &snapshot.models {
        by_model.entry(name).or_default();
    }
    for b in &snapshot.bindings {
        by_model
            .get_mut(&b.model_name)
            .ok_or_else(|| Error::Internal(format!("snapshot binding of unlisted model '{}'", b.model_name)))?
            .push(b);
    }
    let mut encoder = Encoder::new(snapshot.revision, part_bytes);
    for name in &snapshot.models {
        let bindings = by_model.remove(name).unwrap_or_default();
        let mut digests = vec![[0u8; 32]; bindings.len()];
        let views = bindings
            .iter()
            .zip(digests.iter_mut())
            .map(|(b, d)| BindingView::of(b, d))
            .collect::<Result<Vec<_>>>()?;
        encoder.model(name.as_str(), &views);
    }
    for access in &snapshot.access {
        encoder.access(access)?;
    }
    Ok(encoder.finish())
}

fn header(revision: u64) -> Vec<u8> {
    let mut part = Vec::with_capacity(64 * 1024);
    part.extend_from_slice(MAGIC);
    part.extend_from_slice(&revision.to_le_bytes());
    part
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_bytes(out, s.as_bytes());
}

/// What a part holds, handed out as it is read.
pub trait Visitor {
    /// One model and all its bindings.
    fn model(&mut self, name: ModelName, bindings: &[BindingView<'_>]) -> Result<()>;
    fn access(&mut self, access: AccessChange);
}

/// Reads one part, handing its models and access entries to `visitor`; returns its revision.
pub fn visit_part(bytes: &[u8], visitor: &mut impl Visitor) -> Result<u64> {
    let mut r = Reader { bytes, at: 0 };
    if r.take(4)? != MAGIC {
        return Err(corrupt("not a snapshot part of a format this version reads"));
    }
    let revision = u64::from_le_bytes(r.take(8)?.try_into().map_err(|_| corrupt("short header"))?);
    let mut views = Vec::new();
    while r.at < bytes.len() {
        match r.byte()? {
            MODEL => {
                let model = ModelName::parse("model", r.str()?).map_err(|e| corrupt(&e.to_string()))?;
                let count = r.varint()?;
                views.clear();
                for _ in 0..count {
                    views.push(r.binding()?);
                }
                visitor.model(model, &views)?;
            }
            ACCESS => {
                let access =
                    serde_json::from_slice(r.bytes()?).map_err(|e| corrupt(&format!("access entry: {e}")))?;
                visitor.access(access);
            }
            other => return Err(corrupt(&format!("unknown record {other}"))),
        }
    }
    Ok(revision)
}

/// Decodes parts into one snapshot, checking they all carry one revision.
pub fn decode(parts: &[impl AsRef<[u8]>]) -> Result<Snapshot> {
    struct Collect(Snapshot);
    impl Visitor for Collect {
        fn model(&mut self, name: ModelName, bindings: &[BindingView<'_>]) -> Result<()> {
            for b in bindings {
                self.0.bindings.push(BindingChange {
                    model_name: name.clone(),
                    binding: BindingName::parse("binding", b.binding).map_err(|e| corrupt(&e.to_string()))?,
                    generation: b.generation,
                    target: Some(b.to_target()?),
                });
            }
            self.0.models.push(name);
            Ok(())
        }
        fn access(&mut self, access: AccessChange) {
            self.0.access.push(access);
        }
    }
    let mut collect = Collect(Snapshot::default());
    let mut revision = None;
    for part in parts {
        let r = visit_part(part.as_ref(), &mut collect)?;
        check_revision(&mut revision, r)?;
    }
    collect.0.revision = revision.ok_or_else(|| corrupt("no parts"))?;
    Ok(collect.0)
}

/// Checks that a part's revision `r` is that of the parts before it (`seen`).
pub fn check_revision(seen: &mut Option<u64>, r: u64) -> Result<()> {
    match *seen {
        Some(s) if s != r => Err(corrupt(&format!("parts of revisions {s} and {r}"))),
        _ => {
            *seen = Some(r);
            Ok(())
        }
    }
}

fn corrupt(what: &str) -> Error {
    Error::Internal(format!("the snapshot is unreadable: {what}"))
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end =
            self.at.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or_else(|| corrupt("cut short"))?;
        let out = self.bytes.get(self.at..end).ok_or_else(|| corrupt("cut short"))?;
        self.at = end;
        Ok(out)
    }

    fn byte(&mut self) -> Result<u8> {
        self.take(1)?.first().copied().ok_or_else(|| corrupt("cut short"))
    }

    fn varint(&mut self) -> Result<u64> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err(corrupt("varint too long"))
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let len = usize::try_from(self.varint()?).map_err(|_| corrupt("length"))?;
        self.take(len)
    }

    fn str(&mut self) -> Result<&'a str> {
        std::str::from_utf8(self.bytes()?).map_err(|_| corrupt("text is not UTF-8"))
    }

    fn binding(&mut self) -> Result<BindingView<'a>> {
        let binding = self.str()?;
        BindingName::check("binding", binding).map_err(|e| corrupt(&e.to_string()))?;
        let generation = self.varint()?;
        let version = self.varint()?;
        let uri = self.str()?;
        let flags = self.byte()?;
        let sha256 = match (flags & HAS_SHA256 != 0, flags & SHA256_TEXT != 0) {
            (false, _) => Digest::None,
            (true, false) => Digest::Bytes(self.take(32)?.try_into().map_err(|_| corrupt("digest"))?),
            (true, true) => Digest::Text(self.str()?),
        };
        let size_bytes = self.varint()?;
        let format = self.str()?;
        let etag = self.str()?;
        let last_modified = if flags & HAS_LAST_MODIFIED != 0 {
            let secs = self.varint()?;
            let nanos = u32::try_from(self.varint()?).ok().filter(|n| *n < 1_000_000_000);
            let nanos = nanos.ok_or_else(|| corrupt("nanoseconds"))?;
            Some(UNIX_EPOCH.checked_add(Duration::new(secs, nanos)).ok_or_else(|| corrupt("time"))?)
        } else {
            None
        };
        let rest = Cow::Borrowed(self.bytes()?);
        Ok(BindingView {
            binding,
            generation,
            version,
            uri,
            sha256,
            size_bytes,
            format,
            etag,
            last_modified,
            verified: flags & VERIFIED != 0,
            sha256_verified: flags & SHA256_VERIFIED != 0,
            rest,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(s: &str) -> ModelName {
        ModelName::parse("m", s).unwrap()
    }

    fn binding(m: &str, b: &str, version: u64, artifact: Artifact) -> BindingChange {
        BindingChange {
            model_name: model(m),
            binding: BindingName::parse("b", b).unwrap(),
            generation: version + 10,
            target: Some(BindingTarget::single(version, artifact)),
        }
    }

    fn sample() -> Snapshot {
        let plain = Artifact {
            uri: "s3://models/a/1/model.onnx".into(),
            sha256: "ab".repeat(32),
            size_bytes: 300,
            format: "onnx".into(),
            ..Default::default()
        };
        let verified = Artifact {
            etag: "\"e1\"".into(),
            last_modified: Some(UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_000)),
            verified: true,
            sha256_verified: true,
            ..plain.clone()
        };
        let odd = Artifact { sha256: "AB".repeat(32), ..plain.clone() };
        let manifest = Artifact {
            uri: "s3://models/b/2/".into(),
            sha256: String::new(),
            files: vec![ArtifactFile { path: "w.bin".into(), size_bytes: 7, ..Default::default() }],
            ..plain.clone()
        };
        let mut split = binding("team/b", "canary", 2, manifest.clone());
        if let Some(t) = split.target.as_mut() {
            t.traffic = serde_json::from_value(serde_json::json!({"sides": [
                {"version": 2, "weight": 9000, "role": "stable"}, {"version": 1, "weight": 1000, "role": "canary"}]}))
            .ok();
            assert!(t.traffic.is_some());
            t.others = vec![MemberArtifact { version: 1, artifact: plain.clone() }];
        }
        Snapshot {
            revision: 77,
            models: vec![model("a"), model("team/b"), model("empty")],
            bindings: vec![
                binding("a", "production", 1, plain),
                binding("a", "staging", 2, verified),
                binding("team/b", "odd", 3, odd),
                binding("team/b", "prod", 2, manifest),
                split,
            ],
            access: vec![AccessChange::TokenRevoked { hash: "00".repeat(32) }],
            packed: Vec::new(),
        }
    }

    fn sorted(mut s: Snapshot) -> Snapshot {
        s.models.sort();
        s.bindings.sort_by(|a, b| (&a.model_name, &a.binding).cmp(&(&b.model_name, &b.binding)));
        s
    }

    #[test]
    fn a_snapshot_comes_back_exactly_in_one_part_or_many() {
        let snapshot = sample();
        for part_bytes in [1, 100, 1 << 20] {
            let parts = encode(&snapshot, part_bytes).unwrap();
            assert!(part_bytes > 1000 || parts.len() > 1);
            assert_eq!(sorted(decode(&parts).unwrap()), sorted(snapshot.clone()), "{part_bytes}");
        }
    }

    #[test]
    fn bad_input_is_an_error_never_a_panic() {
        let parts = encode(&sample(), 1 << 20).unwrap();
        let whole = &parts[0];
        for cut in 0..whole.len() {
            let _ = decode(&[&whole[..cut]]);
        }
        let mut flipped = whole.clone();
        for i in 0..flipped.len() {
            flipped[i] ^= 0x5a;
            let _ = decode(&[&flipped]);
            flipped[i] ^= 0x5a;
        }
        assert!(decode(&[b"XXXX00000000"]).is_err());
        let other = encode(&Snapshot { revision: 78, ..Default::default() }, 1 << 20).unwrap();
        let mixed = vec![whole.clone(), other[0].clone()];
        assert!(decode(&mixed).is_err(), "parts of two revisions");
        assert!(decode(&Vec::<Vec<u8>>::new()).is_err());
    }
}
