//! Wire <-> domain conversions for model cards and annotations. Decoding validates every field
//! (`bindery_core::annotation` holds the bounds).

use bindery_core::annotation::{Annotated, Annotation, AnnotationKind, Card, CardEdit, NewAnnotation};
use bindery_core::{Error, ModelName, Result};

use crate::{to_timestamp, v1};

/// The model or version a request names (version 0: the model itself).
pub fn annotated(model_name: String, version: u64) -> Result<Annotated> {
    Ok(Annotated::new(ModelName::parse("model_name", model_name)?, version))
}

pub fn kind_from_wire(kind: i32) -> Result<AnnotationKind> {
    Ok(match v1::AnnotationKind::try_from(kind) {
        Ok(v1::AnnotationKind::ModelCard) => AnnotationKind::ModelCard,
        Ok(v1::AnnotationKind::FairnessReport) => AnnotationKind::FairnessReport,
        Ok(v1::AnnotationKind::BiasAudit) => AnnotationKind::BiasAudit,
        Ok(v1::AnnotationKind::Architecture) => AnnotationKind::Architecture,
        Ok(v1::AnnotationKind::Docs) => AnnotationKind::Docs,
        Ok(v1::AnnotationKind::Other) => AnnotationKind::Other,
        Ok(v1::AnnotationKind::Unspecified) | Err(_) => {
            return Err(Error::invalid("kind", format!("must be one of {}", AnnotationKind::names())));
        }
    })
}

pub fn kind_to_wire(kind: AnnotationKind) -> v1::AnnotationKind {
    match kind {
        AnnotationKind::ModelCard => v1::AnnotationKind::ModelCard,
        AnnotationKind::FairnessReport => v1::AnnotationKind::FairnessReport,
        AnnotationKind::BiasAudit => v1::AnnotationKind::BiasAudit,
        AnnotationKind::Architecture => v1::AnnotationKind::Architecture,
        AnnotationKind::Docs => v1::AnnotationKind::Docs,
        AnnotationKind::Other => v1::AnnotationKind::Other,
    }
}

impl TryFrom<v1::SetCardRequest> for CardEdit {
    type Error = Error;

    fn try_from(r: v1::SetCardRequest) -> Result<Self> {
        let edit = Self {
            of: annotated(r.model_name, r.version)?,
            markdown: r.markdown,
            expected_edition: r.expected_edition,
        };
        edit.validate()?;
        Ok(edit)
    }
}

impl TryFrom<v1::AddAnnotationRequest> for NewAnnotation {
    type Error = Error;

    fn try_from(r: v1::AddAnnotationRequest) -> Result<Self> {
        let new = Self {
            of: annotated(r.model_name, r.version)?,
            kind: kind_from_wire(r.kind)?,
            url: r.url,
            title: r.title,
        };
        new.validate()?;
        Ok(new)
    }
}

/// The card as the wire shows it; a card never written is edition 0 with empty markdown.
pub fn card_to_wire(of: &Annotated, card: Option<Card>) -> v1::Card {
    match card {
        Some(c) => c.into(),
        None => v1::Card {
            model_name: of.model.as_str().to_owned(),
            version: of.version_or_zero(),
            ..Default::default()
        },
    }
}

impl From<Card> for v1::Card {
    fn from(c: Card) -> Self {
        Self {
            model_name: c.of.model.as_str().to_owned(),
            version: c.of.version_or_zero(),
            markdown: c.markdown,
            edition: c.edition,
            updated_by: c.updated_by,
            updated_at: Some(to_timestamp(c.updated_at)),
        }
    }
}

impl From<Annotation> for v1::Annotation {
    fn from(a: Annotation) -> Self {
        Self {
            id: a.id,
            model_name: a.of.model.as_str().to_owned(),
            version: a.of.version_or_zero(),
            kind: kind_to_wire(a.kind) as i32,
            url: a.url,
            title: a.title,
            created_by: a.created_by,
            created_at: Some(to_timestamp(a.created_at)),
        }
    }
}
