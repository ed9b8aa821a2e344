//! The client CLI for humans: `bindery model …`, `bindery version …`, `bindery bind …`,
//! `bindery resolve …`, talking gRPC to a primary.

use std::collections::BTreeMap;

use anyhow::{Context, anyhow};
use bindery_proto::v1;
use bindery_proto::v1::registry_service_client::RegistryServiceClient;
use bindery_proto::v1::resolver_service_client::ResolverServiceClient;
use clap::{Args, Parser, Subcommand};
use tonic::transport::Channel;

/// Where to connect and as whom.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// Address of a Bindery primary.
    #[arg(long, env = "BINDERY_SERVER", default_value = "http://127.0.0.1:50051", global = true)]
    pub server: String,
    /// Who you are, recorded on every write (sent as `x-bindery-actor`).
    #[arg(long, env = "BINDERY_ACTOR", global = true)]
    pub actor: Option<String>,
}

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
    /// List models.
    List {
        #[arg(long, default_value_t = 100)]
        page_size: u32,
    },
    /// Soft-delete a model (fails while bindings point into it).
    Delete { name: String },
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
        #[arg(long, default_value = "")]
        format: String,
        #[arg(long, default_value = "")]
        request_id: String,
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
    },
    /// Show one version.
    Get { model: String, version: u64 },
    /// List versions, newest first.
    List {
        model: String,
        #[arg(long, default_value_t = 100)]
        page_size: u32,
    },
    /// Archive a version (fails while it is bound).
    Archive { model: String, version: u64 },
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Models: create, get, list, delete.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Versions: register, get, list, archive.
    #[command(subcommand)]
    Version(VersionCommand),
    /// Point a binding (stage or alias) at a version.
    Bind {
        model: String,
        binding: String,
        version: u64,
        /// Compare-and-set: the generation you last saw (0 = must not exist).
        #[arg(long)]
        expected_generation: Option<u64>,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Delete a binding.
    Unbind {
        model: String,
        binding: String,
        #[arg(long)]
        expected_generation: Option<u64>,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Rebind to the target before the latest change (or to what --to-generation bound).
    Rollback {
        model: String,
        binding: String,
        #[arg(long)]
        to_generation: Option<u64>,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Show every change of a binding, newest first.
    History { model: String, binding: String },
    /// Which version and artifact a binding points at.
    Resolve {
        model: String,
        binding: String,
        #[arg(long, default_value_t = 0)]
        min_revision: u64,
    },
}

fn key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{s:?} is not key=value"))
}

fn key_number(s: &str) -> Result<(String, f64), String> {
    let (k, v) = key_value(s)?;
    let v = v.parse().map_err(|_| format!("{v:?} is not a number"))?;
    Ok((k, v))
}

struct Client {
    registry: RegistryServiceClient<Channel>,
    resolver: ResolverServiceClient<Channel>,
    actor: Option<String>,
}

impl Client {
    fn request<T>(&self, message: T) -> anyhow::Result<tonic::Request<T>> {
        let mut request = tonic::Request::new(message);
        if let Some(actor) = &self.actor {
            let value = actor.parse().map_err(|_| anyhow!("--actor must be printable ASCII"))?;
            request.metadata_mut().insert(bindery_primary::ACTOR_HEADER, value);
        }
        Ok(request)
    }
}

#[allow(clippy::needless_pass_by_value)] // shaped for `.map_err(status)`
fn status(e: tonic::Status) -> anyhow::Error {
    anyhow!("{:?}: {}", e.code(), e.message())
}

/// The client half of the `bindery` command line, on its own (for tests and embedding).
#[derive(Debug, Parser)]
#[command(name = "bindery")]
pub struct ClientCli {
    #[command(flatten)]
    pub args: ClientArgs,
    #[command(subcommand)]
    pub command: ClientCommand,
}

/// Runs one client command and returns what it prints.
pub async fn run(args: ClientArgs, command: ClientCommand) -> anyhow::Result<String> {
    let channel = Channel::from_shared(args.server.clone())
        .with_context(|| format!("--server {:?} is not a valid URL", args.server))?
        .connect()
        .await
        .with_context(|| format!("connecting to {}", args.server))?;
    let actor = args.actor.or_else(|| std::env::var("USER").ok());
    let mut c = Client {
        registry: RegistryServiceClient::new(channel.clone()),
        resolver: ResolverServiceClient::new(channel),
        actor,
    };
    let out = match command {
        ClientCommand::Model(cmd) => model(&mut c, cmd).await?,
        ClientCommand::Version(cmd) => version(&mut c, cmd).await?,
        ClientCommand::Bind { model, binding, version, expected_generation, reason } => {
            let req =
                v1::SetBindingRequest { model_name: model, binding, version, expected_generation, reason };
            let r = c.registry.set_binding(c.request(req)?).await.map_err(status)?.into_inner();
            binding_line(&r.binding.unwrap_or_default(), r.revision)
        }
        ClientCommand::Unbind { model, binding, expected_generation, reason } => {
            let req = v1::DeleteBindingRequest {
                model_name: model.clone(),
                binding: binding.clone(),
                expected_generation,
                reason,
            };
            let r = c.registry.delete_binding(c.request(req)?).await.map_err(status)?.into_inner();
            format!("{model} {binding} deleted (revision {})", r.revision)
        }
        ClientCommand::Rollback { model, binding, to_generation, reason } => {
            let req = v1::RollbackBindingRequest {
                model_name: model,
                binding,
                to_generation,
                expected_generation: None,
                reason,
            };
            let r = c.registry.rollback_binding(c.request(req)?).await.map_err(status)?.into_inner();
            binding_line(&r.binding.unwrap_or_default(), r.revision)
        }
        ClientCommand::History { model, binding } => {
            let req = v1::ListBindingHistoryRequest {
                model_name: model,
                binding,
                page_size: 1_000,
                page_token: String::new(),
            };
            let r = c.registry.list_binding_history(c.request(req)?).await.map_err(status)?.into_inner();
            let show = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| format!("v{v}"));
            r.entries
                .into_iter()
                .map(|e| {
                    let action = v1::BindingAction::try_from(e.action).map_or("?", |a| a.as_str_name());
                    format!(
                        "gen {:>4}  rev {:>6}  {:<24} {} -> {}  by {}  {}",
                        e.generation,
                        e.revision,
                        action.trim_start_matches("BINDING_ACTION_"),
                        show(e.before_version),
                        show(e.after_version),
                        e.actor,
                        e.reason
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        }
        ClientCommand::Resolve { model, binding, min_revision } => {
            let req = v1::ResolveRequest { model_name: model, binding, min_revision };
            let r = c.resolver.resolve(c.request(req)?).await.map_err(status)?.into_inner();
            format!(
                "{} {} -> v{}  {}  sha256={}  size={}  (generation {}, revision {})",
                r.model_name,
                r.binding,
                r.version,
                r.artifact_uri,
                r.sha256,
                r.size_bytes,
                r.generation,
                r.revision
            )
        }
    };
    Ok(out)
}

fn binding_line(b: &v1::Binding, revision: u64) -> String {
    format!(
        "{} {} -> v{} (generation {}, revision {revision})",
        b.model_name, b.name, b.version, b.generation
    )
}

fn model_line(m: &v1::Model) -> String {
    let tags: BTreeMap<_, _> = m.tags.iter().collect();
    format!(
        "{}  latest v{}  owner={:?}  tags={tags:?}  {:?}  (revision {})",
        m.name, m.latest_version, m.owner, m.description, m.revision
    )
}

fn version_line(v: &v1::ModelVersion) -> String {
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

async fn model(c: &mut Client, cmd: ModelCommand) -> anyhow::Result<String> {
    Ok(match cmd {
        ModelCommand::Create { name, description, owner, tags } => {
            let req = v1::CreateModelRequest { name, description, owner, tags: tags.into_iter().collect() };
            model_line(&c.registry.create_model(c.request(req)?).await.map_err(status)?.into_inner())
        }
        ModelCommand::Get { name } => {
            let req = v1::GetModelRequest { name };
            model_line(&c.registry.get_model(c.request(req)?).await.map_err(status)?.into_inner())
        }
        ModelCommand::List { page_size } => {
            let req = v1::ListModelsRequest { page_size, page_token: String::new() };
            let r = c.registry.list_models(c.request(req)?).await.map_err(status)?.into_inner();
            r.models.iter().map(model_line).collect::<Vec<_>>().join("\n")
        }
        ModelCommand::Delete { name } => {
            let req = v1::DeleteModelRequest { name: name.clone() };
            let r = c.registry.delete_model(c.request(req)?).await.map_err(status)?.into_inner();
            format!("{name} deleted (revision {})", r.revision)
        }
    })
}

async fn version(c: &mut Client, cmd: VersionCommand) -> anyhow::Result<String> {
    Ok(match cmd {
        VersionCommand::Register {
            model,
            uri,
            sha256,
            size_bytes,
            format,
            request_id,
            description,
            metrics,
            params,
            tags,
        } => {
            let req = v1::RegisterVersionRequest {
                model_name: model,
                request_id,
                artifact: Some(v1::Artifact { uri, sha256, size_bytes, format }),
                params: params.into_iter().collect(),
                metrics: metrics.into_iter().collect(),
                tags: tags.into_iter().collect(),
                lineage: None,
                signature: None,
                description,
            };
            let r = c.registry.register_version(c.request(req)?).await.map_err(status)?.into_inner();
            let v = r.version.unwrap_or_default();
            let what = if r.created { "registered" } else { "already registered (idempotent retry)" };
            format!("{} (revision {}): {what}", version_line(&v), r.revision)
        }
        VersionCommand::Get { model, version } => {
            let req = v1::GetVersionRequest { model_name: model, version };
            version_line(&c.registry.get_version(c.request(req)?).await.map_err(status)?.into_inner())
        }
        VersionCommand::List { model, page_size } => {
            let req = v1::ListVersionsRequest { model_name: model, page_size, page_token: String::new() };
            let r = c.registry.list_versions(c.request(req)?).await.map_err(status)?.into_inner();
            r.versions.iter().map(version_line).collect::<Vec<_>>().join("\n")
        }
        VersionCommand::Archive { model, version } => {
            let req = v1::ArchiveVersionRequest { model_name: model, version };
            version_line(&c.registry.archive_version(c.request(req)?).await.map_err(status)?.into_inner())
        }
    })
}
