//! `bindery search versions|models FILTER`: the filter language from a terminal (README
//! "Search"), a page at a time up to `--limit`.

use bindery_proto::v1;
use clap::Subcommand;

use crate::cli::{Client, model_line, status, version_line};

#[derive(Debug, Subcommand)]
pub enum SearchCommand {
    /// Versions matching FILTER, e.g. `metrics.auc > 0.95 AND binding = 'production'`.
    Versions {
        #[arg(default_value = "")]
        filter: String,
        /// e.g. `metrics.auc DESC, name`.
        #[arg(long, default_value = "")]
        order_by: String,
        /// Only this model's versions.
        #[arg(long, default_value = "")]
        model: String,
        /// Stop after this many results.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Models matching FILTER, e.g. `namespace = 'fraud' AND binding = 'production'`.
    Models {
        #[arg(default_value = "")]
        filter: String,
        #[arg(long, default_value = "")]
        order_by: String,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
}

/// The page size for `limit` more results.
fn page_size(limit: usize, have: usize) -> u32 {
    u32::try_from(limit.saturating_sub(have).clamp(1, 1_000)).unwrap_or(1_000)
}

pub(crate) async fn search(c: &mut Client, cmd: SearchCommand) -> anyhow::Result<String> {
    let mut lines = Vec::new();
    let mut page_token = String::new();
    let limit = match &cmd {
        SearchCommand::Versions { limit, .. } | SearchCommand::Models { limit, .. } => *limit,
    };
    match cmd {
        SearchCommand::Versions { filter, order_by, model, .. } => loop {
            let req = v1::ListVersionsRequest {
                model_name: model.clone(),
                page_size: page_size(limit, lines.len()),
                page_token,
                filter: filter.clone(),
                order_by: order_by.clone(),
            };
            let r = c.registry.list_versions(c.request(req)?).await.map_err(status)?.into_inner();
            lines.extend(r.versions.iter().map(version_line));
            if r.next_page_token.is_empty() || lines.len() >= limit {
                break;
            }
            page_token = r.next_page_token;
        },
        SearchCommand::Models { filter, order_by, .. } => loop {
            let req = v1::ListModelsRequest {
                page_size: page_size(limit, lines.len()),
                page_token,
                filter: filter.clone(),
                order_by: order_by.clone(),
            };
            let r = c.registry.list_models(c.request(req)?).await.map_err(status)?.into_inner();
            lines.extend(r.models.iter().map(model_line));
            if r.next_page_token.is_empty() || lines.len() >= limit {
                break;
            }
            page_token = r.next_page_token;
        },
    }
    lines.truncate(limit);
    Ok(lines.join("\n"))
}
