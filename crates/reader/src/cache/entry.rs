//! How the cache holds bindings in memory (issue 20: under 300 bytes per cached binding at a
//! million). Three choices make it small:
//!
//! - one model's bindings are one allocation, a slice sorted by name (a model has a handful of
//!   bindings; a binary search over them is as fast as hashing the name);
//! - binding names and formats are shared strings, interned while a snapshot loads (every model
//!   has a `production`);
//! - an artifact without a manifest or a deployment spec (almost all of them) is kept compact:
//!   its digest as 32 bytes instead of 64 hex characters, its verification facts behind a pointer
//!   only when it has them. It is turned back into an [`Artifact`] when an answer needs one.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::SystemTime;

use bindery_core::snapshot_codec::{BindingView, Digest, Encoder};
use bindery_core::traffic::{MemberArtifact, TrafficRecord};
use bindery_core::{Artifact, BindingChange, BindingName, BindingTarget, Error, ModelName, hex};

use super::Hasher;

/// A shared binding name or format.
pub(super) type Name = Arc<str>;

/// What a binding resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub generation: u64,
    /// The single version, or the split's first side.
    pub version: u64,
    artifact: Stored,
    /// A split or shadows, with the other versions' artifacts (behind a pointer: most bindings
    /// have none, and pay 8 bytes for it).
    pub traffic: Option<Arc<TrafficRecord>>,
}

impl Target {
    pub(super) fn new(
        generation: u64,
        target: BindingTarget,
        shared: &mut Shared,
        key: impl FnOnce() -> (ModelName, u64),
    ) -> Self {
        let BindingTarget { version, artifact, traffic, others } = target;
        let artifact = shared.artifact(artifact, key);
        let traffic = traffic.map(|traffic| Arc::new(TrafficRecord { traffic, others }));
        Self { generation, version, artifact, traffic }
    }

    /// A target straight from the compact encoding (no [`BindingTarget`] in between, unless the
    /// binding has a manifest, a deployment spec or a split).
    pub(super) fn from_view(
        view: &BindingView<'_>,
        shared: &mut Shared,
        model: &ModelName,
    ) -> Result<Self, Error> {
        let digest = match view.sha256 {
            Digest::None => Some([0; 32]),
            Digest::Bytes(d) => Some(*d),
            Digest::Text(_) => None,
        };
        let (Some(sha256), false) = (digest, view.is_rich()) else {
            return Ok(Self::new(view.generation, view.to_target()?, shared, || {
                (model.clone(), view.version)
            }));
        };
        let flags = flags(view.sha256 != Digest::None, view.verified, view.sha256_verified);
        let found = (!view.etag.is_empty() || view.last_modified.is_some())
            .then(|| Box::new((Box::from(view.etag), view.last_modified)));
        let compact = Compact {
            uri: Box::from(view.uri),
            sha256,
            size_bytes: view.size_bytes,
            format: shared.names.get(view.format),
            found,
            flags,
        };
        Ok(Self {
            generation: view.generation,
            version: view.version,
            artifact: Stored::Compact(Arc::new(compact)),
            traffic: None,
        })
    }

    /// The artifact of the target's (first) version.
    pub fn artifact(&self) -> Cow<'_, Artifact> {
        self.artifact.get()
    }

    /// The artifact of one of the target's versions.
    pub fn artifact_of(&self, version: u64) -> Option<Cow<'_, Artifact>> {
        if version == self.version {
            return Some(self.artifact());
        }
        self.other_artifact(version).map(Cow::Borrowed)
    }

    /// The artifact of a version of the split or shadows other than the first.
    pub fn other_artifact(&self, version: u64) -> Option<&Artifact> {
        self.traffic.as_ref()?.others.iter().find(|o| o.version == version).map(|o| &o.artifact)
    }

    /// The target as watchers are sent it: no manifests.
    pub(super) fn watched(&self) -> BindingTarget {
        BindingTarget {
            version: self.version,
            artifact: self.artifact.get().without_manifest(),
            traffic: self.traffic.as_ref().map(|t| t.traffic.clone()),
            others: self.traffic.as_ref().map_or_else(Vec::new, |t| without_manifests(&t.others)),
        }
    }

    /// The target as the change feed carried it (manifests included).
    pub(super) fn as_change_target(&self) -> BindingTarget {
        BindingTarget {
            version: self.version,
            artifact: self.artifact.get().into_owned(),
            traffic: self.traffic.as_ref().map(|t| t.traffic.clone()),
            others: self.traffic.as_ref().map_or_else(Vec::new, |t| t.others.clone()),
        }
    }
}

pub(super) fn without_manifests(others: &[MemberArtifact]) -> Vec<MemberArtifact> {
    others
        .iter()
        .map(|o| MemberArtifact { version: o.version, artifact: o.artifact.without_manifest() })
        .collect()
}

/// An artifact as the cache keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stored {
    Compact(Arc<Compact>),
    /// With a manifest or a deployment spec, or a digest that is not canonical hex: as given.
    Full(Arc<Artifact>),
}

impl Stored {
    fn get(&self) -> Cow<'_, Artifact> {
        match self {
            Self::Full(artifact) => Cow::Borrowed(artifact),
            Self::Compact(c) => Cow::Owned(c.expand()),
        }
    }
}

const HAS_SHA256: u8 = 1;

fn flags(has_sha256: bool, verified: bool, sha256_verified: bool) -> u8 {
    [(has_sha256, HAS_SHA256), (verified, VERIFIED), (sha256_verified, SHA256_VERIFIED)]
        .into_iter()
        .fold(0, |flags, (on, bit)| if on { flags | bit } else { flags })
}
const VERIFIED: u8 = 2;
const SHA256_VERIFIED: u8 = 4;

#[derive(Debug, PartialEq, Eq)]
struct Compact {
    uri: Box<str>,
    sha256: [u8; 32],
    size_bytes: u64,
    format: Name,
    /// What the registry found in the object store, when it looked.
    found: Option<Box<(Box<str>, Option<SystemTime>)>>,
    flags: u8,
}

impl Compact {
    /// The digest of `artifact` as bytes when it can be kept compact (nothing is ever lost).
    fn fits(artifact: &Artifact) -> Option<[u8; 32]> {
        if !artifact.files.is_empty() || artifact.deployment.is_some() {
            return None;
        }
        match artifact.sha256.len() {
            0 => Some([0; 32]),
            _ => bindery_core::sha256_bytes(&artifact.sha256),
        }
    }

    /// `artifact`, compacted; `sha256` is what [`Compact::fits`] gave.
    fn new(artifact: Artifact, sha256: [u8; 32], names: &mut Interner) -> Self {
        let flags = flags(!artifact.sha256.is_empty(), artifact.verified, artifact.sha256_verified);
        let found = (!artifact.etag.is_empty() || artifact.last_modified.is_some())
            .then(|| Box::new((artifact.etag.into_boxed_str(), artifact.last_modified)));
        Self {
            uri: artifact.uri.into_boxed_str(),
            sha256,
            size_bytes: artifact.size_bytes,
            format: names.get(&artifact.format),
            found,
            flags,
        }
    }

    /// The encoding's view of a binding to this artifact (no split: `target.traffic` is none).
    fn view<'a>(&'a self, name: &'a str, target: &Target) -> BindingView<'a> {
        let (etag, last_modified) = self.found.as_deref().map_or(("", None), |(etag, at)| (&**etag, *at));
        BindingView {
            binding: name,
            generation: target.generation,
            version: target.version,
            uri: &self.uri,
            sha256: if self.flags & HAS_SHA256 == 0 { Digest::None } else { Digest::Bytes(&self.sha256) },
            size_bytes: self.size_bytes,
            format: &self.format,
            etag,
            last_modified,
            verified: self.flags & VERIFIED != 0,
            sha256_verified: self.flags & SHA256_VERIFIED != 0,
            rest: Cow::Borrowed(&[]),
        }
    }

    fn expand(&self) -> Artifact {
        let (etag, last_modified) =
            self.found.as_deref().map_or((String::new(), None), |(etag, at)| (etag.to_string(), *at));
        Artifact {
            uri: self.uri.to_string(),
            sha256: if self.flags & HAS_SHA256 == 0 { String::new() } else { hex(&self.sha256) },
            size_bytes: self.size_bytes,
            format: self.format.to_string(),
            etag,
            last_modified,
            verified: self.flags & VERIFIED != 0,
            sha256_verified: self.flags & SHA256_VERIFIED != 0,
            files: Vec::new(),
            deployment: None,
        }
    }
}

/// Shared strings.
#[derive(Debug, Default)]
pub(super) struct Interner(HashSet<Name, Hasher>);

impl Interner {
    pub(super) fn get(&mut self, s: &str) -> Name {
        if let Some(name) = self.0.get(s) {
            return name.clone();
        }
        let name: Name = Arc::from(s);
        self.0.insert(name.clone());
        name
    }
}

/// What the bindings built together share: names, formats, and the artifacts with a manifest
/// (by model and version, copied only for the first binding of that version).
#[derive(Default)]
pub(super) struct Shared {
    pub(super) names: Interner,
    manifests: std::collections::HashMap<(ModelName, u64), Arc<Artifact>, Hasher>,
}

impl Shared {
    fn artifact(&mut self, artifact: Artifact, key: impl FnOnce() -> (ModelName, u64)) -> Stored {
        match Compact::fits(&artifact) {
            Some(sha256) => Stored::Compact(Arc::new(Compact::new(artifact, sha256, &mut self.names))),
            None if artifact.files.is_empty() => Stored::Full(Arc::new(artifact)),
            None => Stored::Full(self.manifests.entry(key()).or_insert_with(|| Arc::new(artifact)).clone()),
        }
    }
}

/// One model's bindings, sorted by name, in one allocation.
#[derive(Debug, Clone)]
pub(super) struct ModelEntry(Arc<[(Name, Target)]>);

impl Default for ModelEntry {
    fn default() -> Self {
        Self(Arc::new([]))
    }
}

impl ModelEntry {
    /// From bindings in any order (names unique).
    pub(super) fn from_unsorted(mut bindings: Vec<(Name, Target)>) -> Self {
        bindings.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Self(bindings.into())
    }

    pub(super) fn get(&self, binding: &str) -> Option<&Target> {
        let i = self.0.binary_search_by(|(name, _)| (**name).cmp(binding)).ok()?;
        self.0.get(i).map(|(_, target)| target)
    }

    pub(super) fn len(&self) -> usize {
        self.0.len()
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&str, &Target)> {
        self.0.iter().map(|(name, target)| (&**name, target))
    }

    /// Writes the model and its bindings to `encoder`, compact targets straight from memory.
    pub(super) fn encode(&self, model: &ModelName, encoder: &mut Encoder) -> Result<(), Error> {
        // Targets that are not compact go through a whole change first (their views borrow it).
        let whole = self
            .0
            .iter()
            .map(|(name, target)| match (&target.artifact, &target.traffic) {
                (Stored::Compact(_), None) => Ok(None),
                _ => Ok(Some(BindingChange {
                    model_name: model.clone(),
                    binding: BindingName::parse("binding", &**name)?,
                    generation: target.generation,
                    target: Some(target.as_change_target()),
                })),
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let mut digests = vec![[0u8; 32]; self.0.len()];
        let views = self
            .0
            .iter()
            .zip(&whole)
            .zip(digests.iter_mut())
            .map(|(((name, target), whole), digest)| match (whole, &target.artifact) {
                (None, Stored::Compact(c)) => Ok(c.view(name, target)),
                (Some(change), _) => BindingView::of(change, digest),
                (None, Stored::Full(_)) => Err(Error::Internal("a whole target without its change".into())),
            })
            .collect::<Result<Vec<_>, Error>>()?;
        encoder.model(model.as_str(), &views);
        Ok(())
    }

    /// The same bindings with `changes` applied (`None`: removed); the counts of bindings added
    /// and removed.
    pub(super) fn with_changes<'a>(
        &self,
        changes: impl IntoIterator<Item = (&'a str, Option<Target>)>,
    ) -> (Self, u64, u64) {
        let mut bindings = self.0.to_vec();
        let (mut added, mut removed) = (0, 0);
        for (name, target) in changes {
            let at = bindings.binary_search_by(|(n, _)| (**n).cmp(name));
            match (at, target) {
                (Ok(i), Some(target)) => {
                    if let Some(slot) = bindings.get_mut(i) {
                        slot.1 = target;
                    }
                }
                (Ok(i), None) => {
                    bindings.remove(i);
                    removed += 1;
                }
                (Err(i), Some(target)) => {
                    bindings.insert(i, (Arc::from(name), target));
                    added += 1;
                }
                (Err(_), None) => {}
            }
        }
        (Self(bindings.into()), added, removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifact() -> Artifact {
        Artifact {
            uri: "s3://models/fraud/7/model.onnx".into(),
            sha256: "0123456789abcdef".repeat(4),
            size_bytes: 42,
            format: "onnx".into(),
            ..Default::default()
        }
    }

    /// Plain, verified, with a manifest, and without a digest.
    fn varieties() -> Vec<Artifact> {
        let verified = Artifact {
            etag: "e".into(),
            verified: true,
            last_modified: Some(SystemTime::UNIX_EPOCH),
            ..artifact()
        };
        let manifest = Artifact {
            sha256: String::new(),
            files: vec![bindery_core::ArtifactFile::default()],
            ..artifact()
        };
        vec![artifact(), verified, manifest, Artifact { sha256: String::new(), ..artifact() }]
    }

    fn stored(a: Artifact) -> Stored {
        Shared::default().artifact(a, || (ModelName::parse("m", "m").unwrap(), 7))
    }

    #[test]
    fn compact_artifacts_come_back_exactly() {
        let verified = Artifact {
            etag: "\"abc\"".into(),
            last_modified: Some(
                SystemTime::UNIX_EPOCH + std::time::Duration::from_micros(1_700_000_000_123_456),
            ),
            verified: true,
            sha256_verified: true,
            ..artifact()
        };
        let no_digest = Artifact { sha256: String::new(), ..artifact() };
        for a in [artifact(), verified, no_digest] {
            let s = stored(a.clone());
            assert!(matches!(s, Stored::Compact(_)), "{a:?}");
            assert_eq!(s.get().into_owned(), a);
        }
    }

    #[test]
    fn what_does_not_fit_is_kept_whole() {
        let upper = Artifact { sha256: "AB".repeat(32), ..artifact() };
        let manifest = Artifact {
            files: vec![bindery_core::ArtifactFile { path: "a".into(), size_bytes: 1, ..Default::default() }],
            ..artifact()
        };
        for a in [upper, manifest] {
            let s = stored(a.clone());
            assert!(matches!(s, Stored::Full(_)), "{a:?}");
            assert_eq!(s.get().into_owned(), a);
        }
    }

    #[test]
    fn a_model_entry_stays_sorted_through_changes() {
        let t = |v| {
            Target::new(1, BindingTarget::single(v, artifact()), &mut Shared::default(), || unreachable!())
        };
        let entry = ModelEntry::from_unsorted(vec![(Arc::from("prod"), t(1)), (Arc::from("canary"), t(2))]);
        assert_eq!(entry.get("prod").map(|t| t.version), Some(1));
        let (next, added, removed) =
            entry.with_changes([("a", Some(t(3))), ("canary", None), ("prod", Some(t(4))), ("zz", None)]);
        assert_eq!((added, removed), (1, 1));
        assert_eq!(next.iter().map(|(n, t)| (n, t.version)).collect::<Vec<_>>(), vec![("a", 3), ("prod", 4)]);
        assert_eq!(entry.len(), 2, "the old entry is untouched (copy-on-write)");
    }

    #[test]
    fn a_target_read_from_the_encoding_is_the_one_encoded() {
        let model = ModelName::parse("m", "team/m").unwrap();
        for a in varieties() {
            let change = BindingChange {
                model_name: model.clone(),
                binding: BindingName::parse("b", "prod").unwrap(),
                generation: 3,
                target: Some(BindingTarget::single(9, a.clone())),
            };
            let mut digest = [0; 32];
            let view = BindingView::of(&change, &mut digest).unwrap();
            let target = Target::from_view(&view, &mut Shared::default(), &model).unwrap();
            assert_eq!((target.generation, target.version), (3, 9));
            assert_eq!(target.artifact().into_owned(), a);
        }
    }

    #[test]
    fn a_model_entry_encodes_to_what_it_was_built_from() {
        let model = ModelName::parse("m", "team/m").unwrap();
        let changes: Vec<BindingChange> = varieties()
            .into_iter()
            .zip(1u64..)
            .map(|(a, i)| BindingChange {
                model_name: model.clone(),
                binding: BindingName::parse("b", format!("b{i}")).unwrap(),
                generation: i,
                target: Some(BindingTarget::single(i + 10, a)),
            })
            .collect();
        let mut shared = Shared::default();
        let entry = ModelEntry::from_unsorted(
            changes
                .iter()
                .map(|c| {
                    let t = c.target.clone().unwrap();
                    (
                        Arc::from(c.binding.as_str()),
                        Target::new(c.generation, t, &mut shared, || (model.clone(), 1)),
                    )
                })
                .collect(),
        );
        let mut encoder = Encoder::new(5, 1 << 20);
        entry.encode(&model, &mut encoder).unwrap();
        let decoded = bindery_core::snapshot_codec::decode(&encoder.finish()).unwrap();
        assert_eq!(decoded.revision, 5);
        assert_eq!(decoded.bindings, changes);
    }

    #[test]
    fn the_layout_stays_small() {
        assert_eq!(size_of::<Target>(), 40);
        assert!(size_of::<Compact>() <= 88, "{}", size_of::<Compact>());
    }
}
