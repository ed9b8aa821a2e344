//! Model cards and annotations (issue 14), decided once: what a card edit does, what an
//! annotation may be, when a target has room for one more, and their audit entries. Stores keep
//! cards as numbered editions (the newest is the card; an empty edition clears it) and
//! annotations as rows, and call these rules.
//!
//! Both attach to a model (its own card and links) or to one version of it. Neither bumps the
//! revision: read nodes serve nothing of them. Both are searchable (`card`, `annotations.kind`).

use std::time::SystemTime;

use serde_json::json;

use crate::{AuditEntry, Error, ModelName, Result, VersionStatus, validate};

/// A card's markdown, at most this many bytes.
pub const MAX_CARD_BYTES: usize = 64 * 1024;
/// Annotations on one model or one version, at most.
pub const MAX_ANNOTATIONS: usize = 100;
pub const MAX_URL_BYTES: usize = 2_048;
pub const MAX_TITLE_BYTES: usize = 200;

/// What a card or an annotation is attached to: a model, or one version of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Annotated {
    pub model: ModelName,
    /// `None`: the model itself.
    pub version: Option<u64>,
}

impl Annotated {
    /// From the wire, where version 0 means the model itself.
    pub fn new(model: ModelName, version: u64) -> Self {
        Self { model, version: (version > 0).then_some(version) }
    }

    /// The version column's value: 0 for the model itself.
    pub fn version_or_zero(&self) -> u64 {
        self.version.unwrap_or(0)
    }

    /// Whether cards and annotations of a version in `status` may change: a deleted version's
    /// are kept, frozen, with it.
    pub fn check_writable(&self, status: VersionStatus) -> Result<()> {
        if status == VersionStatus::Deleted {
            return Err(Error::FailedPrecondition(format!(
                "{self} is deleted; its card and annotations can no longer change"
            )));
        }
        Ok(())
    }

    /// The audit target: `models/<name>` or `models/<name>/versions/<n>`.
    pub fn path(&self) -> String {
        match self.version {
            None => format!("models/{}", self.model),
            Some(v) => format!("models/{}/versions/{v}", self.model),
        }
    }
}

impl std::fmt::Display for Annotated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.version {
            None => write!(f, "model '{}'", self.model),
            Some(v) => write!(f, "version {v} of model '{}'", self.model),
        }
    }
}

/// One edition of a card. The newest edition is the card; an empty one means it was cleared.
#[derive(Debug, Clone, PartialEq)]
pub struct Card {
    pub of: Annotated,
    pub markdown: String,
    /// 1 for the first; each edit adds one.
    pub edition: u64,
    pub updated_by: String,
    pub updated_at: SystemTime,
}

/// A card edit as asked.
#[derive(Debug, Clone, PartialEq)]
pub struct CardEdit {
    pub of: Annotated,
    /// Empty clears the card (its history keeps every edition).
    pub markdown: String,
    /// Compare-and-set: the edition the caller read (0: "there is no card yet").
    pub expected_edition: Option<u64>,
}

impl CardEdit {
    pub fn validate(&self) -> Result<()> {
        validate::text("markdown", &self.markdown, MAX_CARD_BYTES)
    }

    /// What the edit does given the current edition: `Ok(None)` changes nothing (the text is the
    /// card's already), `Ok(Some(n))` writes edition `n`; a stale `expected_edition` is
    /// `Aborted`.
    pub fn decide(&self, current: Option<&Card>) -> Result<Option<u64>> {
        let edition = current.map_or(0, |c| c.edition);
        if let Some(expected) = self.expected_edition
            && expected != edition
        {
            return Err(Error::Aborted(format!(
                "the card of {} is at edition {edition}, not {expected}: re-read it and retry",
                self.of
            )));
        }
        let text = current.map_or("", |c| c.markdown.as_str());
        Ok((text != self.markdown).then_some(edition + 1))
    }

    pub fn audit(&self, before: Option<&Card>, edition: u64) -> AuditEntry {
        let bytes = |c: &Card| json!({ "edition": c.edition, "bytes": c.markdown.len() });
        AuditEntry {
            action: if self.markdown.is_empty() { "card.clear" } else { "card.set" },
            target: format!("{}/card", self.of.path()),
            before: before.map(bytes),
            after: Some(json!({ "edition": edition, "bytes": self.markdown.len() })),
        }
    }
}

/// What an annotation links to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AnnotationKind {
    ModelCard,
    FairnessReport,
    BiasAudit,
    Architecture,
    Docs,
    Other,
}

impl AnnotationKind {
    pub const ALL: [Self; 6] =
        [Self::ModelCard, Self::FairnessReport, Self::BiasAudit, Self::Architecture, Self::Docs, Self::Other];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ModelCard => "model_card",
            Self::FairnessReport => "fairness_report",
            Self::BiasAudit => "bias_audit",
            Self::Architecture => "architecture",
            Self::Docs => "docs",
            Self::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The names, for error messages.
    pub fn names() -> String {
        Self::ALL.map(Self::as_str).join(", ")
    }
}

/// A typed link attached to a model or a version.
#[derive(Debug, Clone, PartialEq)]
pub struct Annotation {
    /// Unique across the registry.
    pub id: u64,
    pub of: Annotated,
    pub kind: AnnotationKind,
    pub url: String,
    pub title: String,
    pub created_by: String,
    pub created_at: SystemTime,
}

impl Annotation {
    pub fn audit_removed(&self) -> AuditEntry {
        AuditEntry {
            action: "annotation.remove",
            target: format!("{}/annotations/{}", self.of.path(), self.id),
            before: Some(json!({ "kind": self.kind.as_str(), "url": self.url, "title": self.title })),
            after: None,
        }
    }
}

/// An annotation as asked.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAnnotation {
    pub of: Annotated,
    pub kind: AnnotationKind,
    pub url: String,
    pub title: String,
}

impl NewAnnotation {
    /// The URL is `http(s)://` with a host, no spaces or control characters, ≤ 2,048 bytes; the
    /// title ≤ 200 bytes on one line (empty: the URL stands for itself).
    pub fn validate(&self) -> Result<()> {
        let url = &self.url;
        if url.len() > MAX_URL_BYTES {
            return Err(Error::invalid(
                "url",
                format!("is {} bytes, at most {MAX_URL_BYTES} allowed", url.len()),
            ));
        }
        let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
        let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
        match host {
            None => return Err(Error::invalid("url", "must start with https:// or http://")),
            Some("") => return Err(Error::invalid("url", "must name a host after the scheme")),
            Some(_) => {}
        }
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::invalid("url", "must not contain spaces or control characters"));
        }
        validate::text("title", &self.title, MAX_TITLE_BYTES)?;
        if self.title.contains(['\n', '\r', '\t']) {
            return Err(Error::invalid("title", "must be one line"));
        }
        Ok(())
    }

    /// Whether the target has room for this annotation, given what it has: at most
    /// [`MAX_ANNOTATIONS`], and never the same kind and URL twice.
    pub fn admit(&self, existing: &[Annotation]) -> Result<()> {
        if let Some(same) = existing.iter().find(|a| a.kind == self.kind && a.url == self.url) {
            return Err(Error::AlreadyExists(format!(
                "{} already links {} as {} (annotation {})",
                self.of,
                self.url,
                self.kind.as_str(),
                same.id
            )));
        }
        if existing.len() >= MAX_ANNOTATIONS {
            return Err(Error::FailedPrecondition(format!(
                "{} has {MAX_ANNOTATIONS} annotations, the most allowed: remove one first",
                self.of
            )));
        }
        Ok(())
    }

    pub fn audit_added(&self, id: u64) -> AuditEntry {
        AuditEntry {
            action: "annotation.add",
            target: format!("{}/annotations/{id}", self.of.path()),
            before: None,
            after: Some(json!({ "kind": self.kind.as_str(), "url": self.url, "title": self.title })),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    fn of(version: u64) -> Annotated {
        Annotated::new(ModelName::parse("model", "fraud/detector").unwrap(), version)
    }

    fn card(edition: u64, markdown: &str) -> Card {
        Card {
            of: of(0),
            markdown: markdown.into(),
            edition,
            updated_by: "ana".into(),
            updated_at: UNIX_EPOCH,
        }
    }

    fn edit(markdown: &str, expected: Option<u64>) -> CardEdit {
        CardEdit { of: of(0), markdown: markdown.into(), expected_edition: expected }
    }

    #[test]
    fn card_edits_number_editions_and_compare_and_set() {
        assert_eq!(edit("# Fraud", None).decide(None), Ok(Some(1)));
        assert_eq!(edit("# Fraud", Some(0)).decide(None), Ok(Some(1)));
        assert_eq!(edit("# Fraud v2", Some(3)).decide(Some(&card(3, "# Fraud"))), Ok(Some(4)));
        // The same text again writes nothing; so does clearing what is not there.
        assert_eq!(edit("# Fraud", None).decide(Some(&card(3, "# Fraud"))), Ok(None));
        assert_eq!(edit("", None).decide(None), Ok(None));
        assert_eq!(edit("", None).decide(Some(&card(3, "x"))), Ok(Some(4)));
        let stale = edit("x", Some(2)).decide(Some(&card(3, "# Fraud"))).unwrap_err();
        assert!(matches!(&stale, Error::Aborted(m) if m.contains("edition 3, not 2")), "{stale:?}");
        assert!(matches!(edit("x", Some(1)).decide(None), Err(Error::Aborted(_))));
    }

    #[test]
    fn cards_are_bounded_text() {
        assert!(edit(&"a".repeat(MAX_CARD_BYTES), None).validate().is_ok());
        assert!(edit(&"a".repeat(MAX_CARD_BYTES + 1), None).validate().is_err());
        assert!(edit("bell\u{7}", None).validate().is_err());
        assert!(edit("# Title\n\n| a | b |\n", None).validate().is_ok());
    }

    fn link(url: &str, title: &str) -> NewAnnotation {
        NewAnnotation { of: of(2), kind: AnnotationKind::BiasAudit, url: url.into(), title: title.into() }
    }

    #[test]
    fn annotation_urls_and_titles_are_checked() {
        assert!(link("https://wiki.example.com/audits/fraud?v=2#top", "Q3 audit").validate().is_ok());
        assert!(link("http://intranet/x", "").validate().is_ok());
        for bad in ["", "ftp://x/y", "javascript:alert(1)", "https://", "https:///path", "https://a b"] {
            let e = link(bad, "t").validate().unwrap_err();
            assert!(matches!(&e, Error::InvalidArgument(m) if m.contains("url")), "{bad}: {e:?}");
        }
        let long = format!("https://x/{}", "a".repeat(MAX_URL_BYTES));
        assert!(link(&long, "t").validate().is_err());
        assert!(link("https://x", &"t".repeat(MAX_TITLE_BYTES + 1)).validate().is_err());
        assert!(link("https://x", "two\nlines").validate().is_err());
    }

    #[test]
    fn a_target_admits_distinct_links_up_to_the_bound() {
        let existing = |n: usize| -> Vec<Annotation> {
            (0..n)
                .map(|i| Annotation {
                    id: i as u64 + 1,
                    of: of(2),
                    kind: AnnotationKind::Docs,
                    url: format!("https://docs/{i}"),
                    title: String::new(),
                    created_by: "ana".into(),
                    created_at: UNIX_EPOCH,
                })
                .collect()
        };
        assert!(link("https://docs/0", "").admit(&existing(3)).is_ok(), "another kind, same URL");
        let mut same = link("https://docs/1", "");
        same.kind = AnnotationKind::Docs;
        assert!(
            matches!(same.admit(&existing(3)), Err(Error::AlreadyExists(m)) if m.contains("annotation 2"))
        );
        assert!(link("https://new", "").admit(&existing(MAX_ANNOTATIONS - 1)).is_ok());
        assert!(matches!(
            link("https://new", "").admit(&existing(MAX_ANNOTATIONS)),
            Err(Error::FailedPrecondition(_))
        ));
    }

    #[test]
    fn kinds_round_trip_and_targets_name_themselves() {
        for k in AnnotationKind::ALL {
            assert_eq!(AnnotationKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(AnnotationKind::parse("BIAS_AUDIT"), None);
        assert_eq!(of(0).path(), "models/fraud/detector");
        assert_eq!(of(3).path(), "models/fraud/detector/versions/3");
        assert_eq!(of(3).to_string(), "version 3 of model 'fraud/detector'");
        assert!(of(3).check_writable(VersionStatus::Archived).is_ok());
        assert!(matches!(of(3).check_writable(VersionStatus::Deleted), Err(Error::FailedPrecondition(_))));
    }
}
