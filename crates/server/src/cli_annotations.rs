//! `bindery card set|clear|show|history` and `bindery annotation add|list|remove`: model cards
//! and typed links on a model, or on one version with `--version`.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, anyhow};
use bindery_core::annotation::AnnotationKind;
use bindery_proto::annotations::kind_to_wire;
use bindery_proto::v1;
use clap::Subcommand;

use crate::cli::{Client, Output, status};
use crate::output::when;

#[derive(Debug, Subcommand)]
pub enum CardCommand {
    /// Write the card from a markdown file (`-` reads stdin); each edit is a new edition.
    Set {
        model: String,
        /// The version's card (default: the model's own).
        #[arg(long, default_value_t = 0)]
        version: u64,
        #[arg(long)]
        file: PathBuf,
        /// Compare-and-set: the edition you edited (0: there is no card yet).
        #[arg(long)]
        expected_edition: Option<u64>,
    },
    /// Clear the card (its history keeps every edition).
    Clear {
        model: String,
        #[arg(long, default_value_t = 0)]
        version: u64,
    },
    /// Print the card's markdown.
    Show {
        model: String,
        #[arg(long, default_value_t = 0)]
        version: u64,
    },
    /// Every edition, newest first.
    History {
        model: String,
        #[arg(long, default_value_t = 0)]
        version: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum AnnotationCommand {
    /// Link a document: `--kind bias_audit --url https://… --title "Q3 audit"`.
    Add {
        model: String,
        #[arg(long, default_value_t = 0)]
        version: u64,
        /// model_card, fairness_report, bias_audit, architecture, docs or other.
        #[arg(long)]
        kind: String,
        #[arg(long)]
        url: String,
        #[arg(long, default_value = "")]
        title: String,
    },
    /// The links of a model (or of a version with --version), oldest first.
    List {
        model: String,
        #[arg(long, default_value_t = 0)]
        version: u64,
    },
    /// Remove a link by its id.
    Remove {
        model: String,
        id: u64,
        #[arg(long, default_value_t = 0)]
        version: u64,
    },
}

fn target(model: &str, version: u64) -> String {
    if version == 0 { model.to_owned() } else { format!("{model}@{version}") }
}

fn edition_line(c: &v1::Card) -> String {
    let what =
        if c.markdown.is_empty() { "cleared".to_owned() } else { format!("{} bytes", c.markdown.len()) };
    format!("edition {:>3}  {what}  by {} at {}", c.edition, c.updated_by, when(c.updated_at.as_ref()))
}

fn annotation_line(a: &v1::Annotation) -> String {
    let kind = v1::AnnotationKind::try_from(a.kind).map_or("?", |k| k.as_str_name());
    let title = if a.title.is_empty() { String::new() } else { format!("  {:?}", a.title) };
    format!(
        "#{:<5} {:<16} {}{title}  by {}",
        a.id,
        kind.trim_start_matches("ANNOTATION_KIND_").to_lowercase(),
        a.url,
        a.created_by
    )
}

pub(crate) async fn card(c: &mut Client, cmd: CardCommand) -> anyhow::Result<Output> {
    Ok(match cmd {
        CardCommand::Set { model, version, file, expected_edition } => {
            let mut markdown = String::new();
            if file.as_os_str() == "-" {
                std::io::stdin().read_to_string(&mut markdown).context("reading the card from stdin")?;
            } else {
                markdown =
                    std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            }
            if markdown.is_empty() {
                return Err(anyhow!("{} is empty; use `bindery card clear` to clear a card", file.display()));
            }
            let req = v1::SetCardRequest { model_name: model.clone(), version, markdown, expected_edition };
            let card = c.registry.set_card(c.request(req)?).await.map_err(status)?.into_inner();
            Output::of(&card, format!("card of {}: {}", target(&model, version), edition_line(&card)))
        }
        CardCommand::Clear { model, version } => {
            let req = v1::SetCardRequest { model_name: model.clone(), version, ..Default::default() };
            let card = c.registry.set_card(c.request(req)?).await.map_err(status)?.into_inner();
            Output::of(&card, format!("card of {}: {}", target(&model, version), edition_line(&card)))
        }
        CardCommand::Show { model, version } => {
            let req = v1::GetCardRequest { model_name: model.clone(), version };
            let card = c.registry.get_card(c.request(req)?).await.map_err(status)?.into_inner();
            let text = if card.markdown.is_empty() {
                format!("{} has no card", target(&model, version))
            } else {
                card.markdown.clone()
            };
            Output::of(&card, text)
        }
        CardCommand::History { model, version } => {
            let mut editions = Vec::new();
            let mut page_token = String::new();
            loop {
                let req = v1::ListCardHistoryRequest {
                    model_name: model.clone(),
                    version,
                    page_size: 1_000,
                    page_token,
                };
                let r = c.registry.list_card_history(c.request(req)?).await.map_err(status)?.into_inner();
                editions.extend(r.editions);
                if r.next_page_token.is_empty() {
                    break;
                }
                page_token = r.next_page_token;
            }
            Output::list(&editions, edition_line)
        }
    })
}

pub(crate) async fn annotation(c: &mut Client, cmd: AnnotationCommand) -> anyhow::Result<Output> {
    Ok(match cmd {
        AnnotationCommand::Add { model, version, kind, url, title } => {
            let kind = AnnotationKind::parse(&kind).ok_or_else(|| {
                crate::output::usage(format!("--kind {kind:?}: one of {}", AnnotationKind::names()))
            })?;
            let req = v1::AddAnnotationRequest {
                model_name: model,
                version,
                kind: kind_to_wire(kind) as i32,
                url,
                title,
            };
            let added = c.registry.add_annotation(c.request(req)?).await.map_err(status)?.into_inner();
            Output::of(&added, annotation_line(&added))
        }
        AnnotationCommand::List { model, version } => {
            let req = v1::ListAnnotationsRequest { model_name: model, version };
            let r = c.registry.list_annotations(c.request(req)?).await.map_err(status)?.into_inner();
            Output::list(&r.annotations, annotation_line)
        }
        AnnotationCommand::Remove { model, id, version } => {
            let req = v1::RemoveAnnotationRequest { model_name: model.clone(), version, id };
            let r = c.registry.remove_annotation(c.request(req)?).await.map_err(status)?.into_inner();
            Output::of(&r, format!("annotation #{id} removed from {}", target(&model, version)))
        }
    })
}
