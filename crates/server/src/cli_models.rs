//! `bindery model …` and `bindery version …`: models and versions, including uploading a
//! local file or directory as a new version and downloading a version's files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use bindery_artifacts::{Transfer, describe_file};
use bindery_proto::v1;
use clap::{Args, Subcommand};

use crate::cli::{Client, Output, key_number, key_value, status};

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Create a model.
    Create {
        name: String,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long, default_value = "")]
        owner: String,
        /// `key=value`, repeatable.
        #[arg(long = "tag", value_parser = key_value)]
        tags: Vec<(String, String)>,
    },
    /// Show one model.
    Get { name: String },
    /// List every model you may view (all pages), as a table.
    List {
        /// A search, e.g. `namespace = 'fraud'` (README "Search").
        #[arg(long, default_value = "")]
        filter: String,
    },
    /// Change a model's description, owner or tags.
    Update {
        name: String,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        owner: Option<String>,
        /// `key=value` to add or overwrite, repeatable.
        #[arg(long = "tag", value_parser = key_value)]
        tags: Vec<(String, String)>,
        /// A tag key to remove, repeatable.
        #[arg(long = "remove-tag")]
        remove_tags: Vec<String>,
    },
    /// Soft-delete a model (fails while bindings point into it).
    Delete { name: String },
}

/// What a new version carries besides its artifact.
#[derive(Debug, Args)]
pub struct VersionMeta {
    /// Idempotency key: a retry with the same key returns the same version.
    #[arg(long, default_value = "")]
    request_id: String,
    #[arg(long, default_value = "")]
    format: String,
    #[arg(long, default_value = "")]
    description: String,
    /// `name=number`, repeatable.
    #[arg(long = "metric", value_parser = key_number)]
    metrics: Vec<(String, f64)>,
    /// `key=value`, repeatable.
    #[arg(long = "param", value_parser = key_value)]
    params: Vec<(String, String)>,
    /// `key=value`, repeatable.
    #[arg(long = "tag", value_parser = key_value)]
    tags: Vec<(String, String)>,
    #[command(flatten)]
    lineage: Box<LineageArgs>,
    #[command(flatten)]
    deployment: Box<crate::cli_deployment::DeploymentArgs>,
}

/// Where a new version came from.
#[derive(Debug, Args)]
pub struct LineageArgs {
    /// The training run that produced it.
    #[arg(long, default_value = "")]
    run_id: String,
    /// The source revision, e.g. `git+https://host/repo@<sha>`.
    #[arg(long, default_value = "")]
    code_ref: String,
    /// A dataset it was trained or evaluated on: `URI` or `URI@VERSION`, repeatable.
    #[arg(long = "dataset", value_parser = dataset)]
    datasets: Vec<v1::DatasetRef>,
    /// A version it derives from: `MODEL@VERSION`, repeatable.
    #[arg(long = "parent", value_parser = parent)]
    parents: Vec<v1::VersionRef>,
    /// An environment fact (`torch=2.4`, `image=sha256:…`), repeatable.
    #[arg(long = "environment", value_parser = key_value)]
    environment: Vec<(String, String)>,
}

impl LineageArgs {
    fn into_wire(self) -> Option<v1::Lineage> {
        let lineage = v1::Lineage {
            training_run_id: self.run_id,
            code_ref: self.code_ref,
            datasets: self.datasets,
            parent_versions: self.parents,
            environment: self.environment.into_iter().collect(),
        };
        (lineage != v1::Lineage::default()).then_some(lineage)
    }
}

/// `--dataset s3://data/train@v3` (the version after the last `@`, which URIs rarely hold).
fn dataset(s: &str) -> Result<v1::DatasetRef, String> {
    match s.rsplit_once('@') {
        Some((uri, version)) if !uri.is_empty() && !version.contains('/') => {
            Ok(v1::DatasetRef { uri: uri.to_owned(), version: version.to_owned() })
        }
        _ => Ok(v1::DatasetRef { uri: s.to_owned(), version: String::new() }),
    }
}

/// `--parent fraud/detector@3`.
fn parent(s: &str) -> Result<v1::VersionRef, String> {
    let (model, version) = s.rsplit_once('@').ok_or_else(|| format!("{s:?} is not MODEL@VERSION"))?;
    let version = version.parse().map_err(|_| format!("{s:?}: {version:?} is not a version number"))?;
    Ok(v1::VersionRef { model_name: model.to_owned(), version })
}

impl VersionMeta {
    /// A registration of `artifact` with this metadata.
    fn request(
        self,
        model: String,
        artifact: v1::Artifact,
        upload_session_id: String,
    ) -> v1::RegisterVersionRequest {
        v1::RegisterVersionRequest {
            model_name: model,
            request_id: self.request_id,
            artifact: Some(v1::Artifact { format: self.format, ..artifact }),
            params: self.params.into_iter().collect(),
            metrics: self.metrics.into_iter().collect(),
            tags: self.tags.into_iter().collect(),
            lineage: (*self.lineage).into_wire(),
            signature: None,
            description: self.description,
            upload_session_id,
            deployment: self.deployment.into_wire(),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum VersionCommand {
    /// Register a new version (idempotent with --request-id).
    Register {
        model: String,
        /// `s3://bucket/key`, `s3://bucket/prefix/` or `file:///path`.
        #[arg(long)]
        uri: String,
        #[arg(long, default_value = "")]
        sha256: String,
        #[arg(long, default_value_t = 0)]
        size_bytes: u64,
        #[command(flatten)]
        meta: VersionMeta,
    },
    /// Show one version.
    Get { model: String, version: u64 },
    /// List every version of a model (all pages), newest first, as a table.
    List {
        model: String,
        /// A search, e.g. `metrics.auc > 0.9 AND status = 'READY'` (README "Search").
        #[arg(long, default_value = "")]
        filter: String,
    },
    /// Change a version's description or tags, or add metrics (existing ones never change).
    Update {
        model: String,
        version: u64,
        #[arg(long)]
        description: Option<String>,
        /// `key=value` to add or overwrite, repeatable.
        #[arg(long = "tag", value_parser = key_value)]
        tags: Vec<(String, String)>,
        /// A tag key to remove, repeatable.
        #[arg(long = "remove-tag")]
        remove_tags: Vec<String>,
        /// A new metric `name=number`, repeatable.
        #[arg(long = "metric", value_parser = key_number)]
        metrics: Vec<(String, f64)>,
    },
    /// Archive a version (fails while it is bound).
    Archive { model: String, version: u64 },
    /// A new version of TARGET on the same artifact, with SOURCE@VERSION as its lineage parent.
    Copy {
        source: String,
        version: u64,
        target: String,
        #[arg(long, default_value = "")]
        request_id: String,
    },
    /// Soft-delete a version (fails while it is bound); its managed objects are collected later.
    Delete { model: String, version: u64 },
}

pub(crate) fn model_line(m: &v1::Model) -> String {
    let tags: BTreeMap<_, _> = m.tags.iter().collect();
    format!(
        "{}  latest v{}  owner={:?}  tags={tags:?}  {:?}  (revision {})",
        m.name, m.latest_version, m.owner, m.description, m.revision
    )
}

pub(crate) const MODEL_COLUMNS: &[&str] = &["NAME", "LATEST", "OWNER", "TAGS", "DESCRIPTION"];

pub(crate) fn model_row(m: &v1::Model) -> Vec<String> {
    let tags: BTreeMap<_, _> = m.tags.iter().collect();
    let tags: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
    vec![
        m.name.clone(),
        format!("v{}", m.latest_version),
        m.owner.clone(),
        tags.join(","),
        m.description.lines().next().unwrap_or_default().to_owned(),
    ]
}

pub(crate) const VERSION_COLUMNS: &[&str] =
    &["MODEL", "VERSION", "STATUS", "BINDINGS", "METRICS", "ARTIFACT", "CREATED", "BY"];

pub(crate) fn version_row(v: &v1::ModelVersion) -> Vec<String> {
    let status = v1::VersionStatus::try_from(v.status).map_or("?", |s| s.as_str_name());
    let metrics: BTreeMap<_, _> = v.metrics.iter().collect();
    let metrics: Vec<String> = metrics.iter().map(|(k, x)| format!("{k}={x}")).collect();
    vec![
        v.model_name.clone(),
        format!("v{}", v.version),
        status.trim_start_matches("VERSION_STATUS_").to_owned(),
        v.bindings.join(","),
        metrics.join(","),
        v.artifact.as_ref().map(|a| a.uri.clone()).unwrap_or_default(),
        crate::output::when(v.created_at.as_ref()),
        v.created_by.clone(),
    ]
}

pub(crate) fn version_line(v: &v1::ModelVersion) -> String {
    let status = v1::VersionStatus::try_from(v.status).map_or("?", |s| s.as_str_name());
    let artifact = v.artifact.clone().unwrap_or_default();
    format!(
        "{} v{}  {}  {}  metrics={:?}  bindings={:?}  by {}",
        v.model_name,
        v.version,
        status.trim_start_matches("VERSION_STATUS_"),
        artifact.uri,
        v.metrics,
        v.bindings,
        v.created_by
    )
}

pub(crate) async fn model(c: &mut Client, cmd: ModelCommand) -> anyhow::Result<Output> {
    Ok(match cmd {
        ModelCommand::Create { name, description, owner, tags } => {
            let req = v1::CreateModelRequest { name, description, owner, tags: tags.into_iter().collect() };
            let m = c.registry.create_model(c.request(req)?).await.map_err(status)?.into_inner();
            Output::of(&m, model_line(&m))
        }
        ModelCommand::Get { name } => {
            let req = v1::GetModelRequest { name };
            let m = c.registry.get_model(c.request(req)?).await.map_err(status)?.into_inner();
            Output::of(&m, model_line(&m))
        }
        ModelCommand::List { filter } => {
            let query = v1::ListModelsRequest { filter, ..Default::default() };
            let models = crate::cli_search::find_models(c, query, usize::MAX).await?;
            Output::table(&models, MODEL_COLUMNS, model_row)
        }
        ModelCommand::Update { name, description, owner, tags, remove_tags } => {
            let req = v1::UpdateModelRequest {
                name,
                description,
                owner,
                set_tags: tags.into_iter().collect(),
                remove_tags,
            };
            let m = c.registry.update_model(c.request(req)?).await.map_err(status)?.into_inner();
            Output::of(&m, model_line(&m))
        }
        ModelCommand::Delete { name } => {
            let req = v1::DeleteModelRequest { name: name.clone() };
            let r = c.registry.delete_model(c.request(req)?).await.map_err(status)?.into_inner();
            Output::of(&r, format!("{name} deleted (revision {})", r.revision))
        }
    })
}

pub(crate) async fn version(c: &mut Client, cmd: VersionCommand) -> anyhow::Result<Output> {
    Ok(match cmd {
        VersionCommand::Register { model, uri, sha256, size_bytes, meta } => {
            let artifact = v1::Artifact { uri, sha256, size_bytes, ..Default::default() };
            let req = meta.request(model, artifact, String::new());
            let r = c.registry.register_version(c.request(req)?).await.map_err(status)?.into_inner();
            let v = r.version.clone().unwrap_or_default();
            let what = if r.created { "registered" } else { "already registered (idempotent retry)" };
            Output::of(&r, format!("{} (revision {}): {what}", version_line(&v), r.revision))
        }
        VersionCommand::Get { model, version } => {
            let req = v1::GetVersionRequest { model_name: model, version, ..Default::default() };
            let v = c.registry.get_version(c.request(req)?).await.map_err(status)?.into_inner();
            Output::of(&v, version_line(&v))
        }
        VersionCommand::List { model, filter } => {
            let query = v1::ListVersionsRequest { model_name: model, filter, ..Default::default() };
            let versions = crate::cli_search::find_versions(c, query, usize::MAX).await?;
            Output::table(&versions, VERSION_COLUMNS, version_row)
        }
        VersionCommand::Update { model, version, description, tags, remove_tags, metrics } => {
            let req = v1::UpdateVersionRequest {
                model_name: model,
                version,
                description,
                set_tags: tags.into_iter().collect(),
                remove_tags,
                add_metrics: metrics.into_iter().collect(),
            };
            let v = c.registry.update_version(c.request(req)?).await.map_err(status)?.into_inner();
            Output::of(&v, version_line(&v))
        }
        VersionCommand::Copy { source, version, target, request_id } => {
            crate::cli_search::copy(c, (source, version, target), request_id).await?
        }
        VersionCommand::Archive { model, version } => {
            let req = v1::ArchiveVersionRequest { model_name: model, version };
            let v = c.registry.archive_version(c.request(req)?).await.map_err(status)?.into_inner();
            Output::of(&v, version_line(&v))
        }
        VersionCommand::Delete { model, version } => {
            let req = v1::DeleteVersionRequest { model_name: model.clone(), version };
            let r = c.registry.delete_version(c.request(req)?).await.map_err(status)?.into_inner();
            Output::of(&r, format!("{model} v{version} deleted (revision {})", r.revision))
        }
    })
}

/// `bindery upload`: hash the files, open an upload session, PUT to its presigned URLs, register.
pub(crate) async fn upload(
    c: &mut Client,
    model: String,
    path: &Path,
    meta: VersionMeta,
) -> anyhow::Result<Output> {
    let files = local_files(path)?;
    let mut specs = Vec::with_capacity(files.len());
    for (name, path) in &files {
        let (size_bytes, sha256) =
            describe_file(path).await.with_context(|| format!("reading {}", path.display()))?;
        specs.push(v1::UploadFileSpec { path: name.clone(), size_bytes, sha256 });
    }
    let req = v1::CreateUploadSessionRequest { model_name: model.clone(), files: specs };
    let session = c.registry.create_upload_session(c.request(req)?).await.map_err(status)?.into_inner();
    let transfer = Transfer::new()?;
    for upload in &session.files {
        let local =
            files.iter().find(|(name, _)| *name == upload.path).map(|(_, p)| p.clone()).ok_or_else(|| {
                anyhow!("the registry granted an upload for unknown file {:?}", upload.path)
            })?;
        let pieces: Vec<(&Option<v1::PresignedRequest>, u64, u64)> = match &upload.put {
            Some(_) => vec![(&upload.put, 0, upload.size_bytes)],
            None => upload.parts.iter().map(|p| (&p.put, p.offset, p.size_bytes)).collect(),
        };
        for (put, offset, len) in pieces {
            let put = put.as_ref().ok_or_else(|| anyhow!("upload of {:?} has no URL", upload.path))?;
            let reply =
                transfer.put_range(&bindery_core::PresignedRequest::from(put), &local, offset, len).await?;
            if reply.status != 200 {
                return Err(anyhow!(
                    "uploading {:?} failed with HTTP {}: {}",
                    upload.path,
                    reply.status,
                    String::from_utf8_lossy(&reply.body)
                ));
            }
        }
    }
    let req = meta.request(model, v1::Artifact::default(), session.id);
    let r = c.registry.register_version(c.request(req)?).await.map_err(status)?.into_inner();
    let v = r.version.clone().unwrap_or_default();
    let text = format!(
        "{} (revision {}): uploaded {} file(s) and registered",
        version_line(&v),
        r.revision,
        files.len()
    );
    Ok(Output::of(&r, text))
}

/// `(path relative to the upload root, local path)` of a file, or of every file under a directory.
fn local_files(root: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let meta = std::fs::metadata(root).with_context(|| format!("reading {}", root.display()))?;
    if meta.is_file() {
        let name = root
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| anyhow!("{} has no usable file name", root.display()))?;
        return Ok(vec![(name.to_owned(), root.to_owned())]);
    }
    let mut found = Vec::new();
    let mut pending = vec![root.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.is_file() {
                let relative = path.strip_prefix(root)?;
                let name = relative
                    .to_str()
                    .ok_or_else(|| anyhow!("{} is not valid UTF-8", path.display()))?
                    .replace(std::path::MAIN_SEPARATOR, "/");
                found.push((name, path));
            }
        }
    }
    found.sort();
    if found.is_empty() {
        return Err(anyhow!("{} holds no files", root.display()));
    }
    Ok(found)
}

pub(crate) async fn download(
    c: &mut Client,
    model: String,
    version: Option<u64>,
    binding: Option<String>,
    to: &Path,
) -> anyhow::Result<Output> {
    // A binding is resolved to its version first; the URLs then come a page at a time (a
    // prefix artifact may hold 10,000 files, more than one answer carries).
    let (label, version) = match (version, binding) {
        (Some(version), _) => (format!("{model} v{version}"), version),
        (None, Some(binding)) => {
            let req = v1::ResolveRequest { model_name: model.clone(), binding, ..Default::default() };
            let r = c.resolver.resolve(c.request(req)?).await.map_err(status)?.into_inner();
            (format!("{model} {} (v{})", r.binding, r.version), r.version)
        }
        (None, None) => return Err(crate::output::usage("give --version or --binding")),
    };
    let mut urls = Vec::new();
    let mut page_token = String::new();
    loop {
        let req =
            v1::GetDownloadUrlsRequest { model_name: model.clone(), version, page_size: 1_000, page_token };
        let r = c.registry.get_download_urls(c.request(req)?).await.map_err(status)?.into_inner();
        urls.extend(r.files);
        if r.next_page_token.is_empty() {
            break;
        }
        page_token = r.next_page_token;
    }
    let transfer = Transfer::new()?;
    let mut lines = Vec::with_capacity(urls.len());
    let mut written = Vec::with_capacity(urls.len());
    for d in &urls {
        let dest = to.join(crate::agent::safe_relative(&d.path)?);
        let request = d.request.as_ref().ok_or_else(|| anyhow!("{:?} has no download URL", d.path))?;
        let (http, sha256) = transfer.download(&bindery_core::PresignedRequest::from(request), &dest).await?;
        if http != 200 {
            return Err(anyhow!("downloading {:?} failed with HTTP {http}", d.path));
        }
        if !d.sha256.is_empty() && !d.sha256.eq_ignore_ascii_case(&sha256) {
            let _ = std::fs::remove_file(&dest);
            return Err(anyhow!(
                "{:?} arrived with SHA-256 {sha256}, expected {}; removed it",
                d.path,
                d.sha256
            ));
        }
        lines.push(format!("  {}  {} bytes  sha256={sha256}", dest.display(), d.size_bytes));
        written.push(serde_json::json!({
            "path": d.path,
            "written_to": dest.display().to_string(),
            "size_bytes": d.size_bytes,
            "sha256": sha256,
        }));
    }
    let json = serde_json::json!({ "model_name": model, "version": version, "files": written });
    Ok(Output::value(json, format!("{label}: downloaded {} file(s)\n{}", urls.len(), lines.join("\n"))))
}
