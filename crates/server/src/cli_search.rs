//! `bindery search versions|models FILTER` (the filter language from a terminal, a page at a time
//! up to `--limit`), `bindery lineage MODEL VERSION` and `bindery version copy`.

use bindery_proto::v1;
use clap::Subcommand;

use crate::cli::{Client, Output, status};
use crate::cli_models::{MODEL_COLUMNS, VERSION_COLUMNS, model_row, version_row};

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

pub(crate) async fn search(c: &mut Client, cmd: SearchCommand) -> anyhow::Result<Output> {
    match cmd {
        SearchCommand::Versions { filter, order_by, model, limit } => {
            let query = v1::ListVersionsRequest { model_name: model, filter, order_by, ..Default::default() };
            Ok(Output::table(&find_versions(c, query, limit).await?, VERSION_COLUMNS, version_row))
        }
        SearchCommand::Models { filter, order_by, limit } => {
            let query = v1::ListModelsRequest { filter, order_by, ..Default::default() };
            Ok(Output::table(&find_models(c, query, limit).await?, MODEL_COLUMNS, model_row))
        }
    }
}

/// The versions `query` finds, a page at a time, up to `limit` (`usize::MAX`: all of them).
pub(crate) async fn find_versions(
    c: &Client,
    mut query: v1::ListVersionsRequest,
    limit: usize,
) -> anyhow::Result<Vec<v1::ModelVersion>> {
    let mut found = Vec::new();
    loop {
        query.page_size = page_size(limit, found.len());
        let r =
            c.registry.clone().list_versions(c.request(query.clone())?).await.map_err(status)?.into_inner();
        found.extend(r.versions);
        if r.next_page_token.is_empty() || found.len() >= limit {
            found.truncate(limit);
            return Ok(found);
        }
        query.page_token = r.next_page_token;
    }
}

/// The models `query` finds, a page at a time, up to `limit` (`usize::MAX`: all of them).
pub(crate) async fn find_models(
    c: &Client,
    mut query: v1::ListModelsRequest,
    limit: usize,
) -> anyhow::Result<Vec<v1::Model>> {
    let mut found = Vec::new();
    loop {
        query.page_size = page_size(limit, found.len());
        let r = c.registry.clone().list_models(c.request(query.clone())?).await.map_err(status)?.into_inner();
        found.extend(r.models);
        if r.next_page_token.is_empty() || found.len() >= limit {
            found.truncate(limit);
            return Ok(found);
        }
        query.page_token = r.next_page_token;
    }
}

/// `bindery lineage MODEL VERSION`: the graph as indented lines, parents above, children below.
pub(crate) async fn lineage(
    c: &mut Client,
    model: String,
    version: u64,
    direction: &str,
    depth: u32,
) -> anyhow::Result<Output> {
    let direction = match direction {
        "up" | "upstream" => v1::LineageDirection::Upstream,
        "down" | "downstream" => v1::LineageDirection::Downstream,
        "both" => v1::LineageDirection::Both,
        other => anyhow::bail!("--direction {other:?}: one of up, down, both"),
    };
    let req = v1::GetLineageRequest { model_name: model, version, direction: direction as i32, depth };
    let r = c.registry.get_lineage(c.request(req)?).await.map_err(status)?.into_inner();
    let mut nodes = r.nodes.clone();
    nodes.sort_by_key(|n| (n.distance, n.model_name.clone(), n.version));
    let mut out: Vec<String> = nodes
        .iter()
        .map(|n| {
            let bindings =
                if n.bindings.is_empty() { String::new() } else { format!("  [{}]", n.bindings.join(", ")) };
            format!("{:>+3}  {}@{}{bindings}", n.distance, n.model_name, n.version)
        })
        .collect();
    for e in &r.edges {
        let (p, ch) = (e.parent.clone().unwrap_or_default(), e.child.clone().unwrap_or_default());
        out.push(format!("edge  {}@{} -> {}@{}", p.model_name, p.version, ch.model_name, ch.version));
    }
    for d in &r.datasets {
        let shared: Vec<String> =
            d.shared_with.iter().map(|v| format!("{}@{}", v.model_name, v.version)).collect();
        out.push(format!(
            "dataset  {}@{}  shared with: {}",
            d.uri,
            d.version,
            if shared.is_empty() { "-".to_owned() } else { shared.join(", ") }
        ));
    }
    if r.truncated {
        out.push("(truncated: the walk reached its bound)".to_owned());
    }
    Ok(Output::of(&r, out.join("\n")))
}

/// `bindery version copy SOURCE VERSION TARGET`.
pub(crate) async fn copy(
    c: &mut Client,
    (source, version, target): (String, u64, String),
    request_id: String,
) -> anyhow::Result<Output> {
    let req = v1::CopyVersionRequest {
        source_model_name: source.clone(),
        source_version: version,
        target_model_name: target,
        request_id,
        description: String::new(),
    };
    let r = c.registry.copy_version(c.request(req)?).await.map_err(status)?.into_inner();
    let v = r.version.clone().unwrap_or_default();
    let how = if r.created { "copied" } else { "already copied (idempotent retry)" };
    Ok(Output::of(
        &r,
        format!("{source}@{version} {how} as {}@{} (revision {})", v.model_name, v.version, r.revision),
    ))
}
