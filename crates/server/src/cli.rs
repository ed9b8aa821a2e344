//! The client CLI for humans: `bindery model …`, `bindery version …`, `bindery bind …`,
//! `bindery resolve …`, talking gRPC to a primary.

use std::path::PathBuf;

use anyhow::{Context, anyhow};
use bindery_proto::v1;
use bindery_proto::v1::registry_service_client::RegistryServiceClient;
use bindery_proto::v1::resolver_service_client::ResolverServiceClient;
use clap::{Args, Parser, Subcommand};

pub use crate::cli_models::{ModelCommand, VersionCommand, VersionMeta};
use crate::cli_models::{download, model, upload, version};
pub use crate::output::Output;
use tonic::transport::Channel;

/// Where to connect and as whom.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// Address of a Bindery primary.
    #[arg(long, env = "BINDERY_SERVER", default_value = "http://127.0.0.1:50051", global = true)]
    pub server: String,
    /// API token (`bdy_…`), sent as `authorization: Bearer`. Default: the contents of
    /// `$XDG_CONFIG_HOME/bindery/token` (or `~/.config/bindery/token`) when it exists.
    #[arg(long, env = "BINDERY_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// Who you are, for registries running without authentication (`x-bindery-actor`; ignored
    /// when authentication is on: the token's principal is recorded).
    #[arg(long, env = "BINDERY_ACTOR", global = true)]
    pub actor: Option<String>,
    #[command(flatten)]
    pub tls: crate::tls::ClientTlsArgs,
    /// Print the registry's answer as JSON (proto field names, enums by name, RFC 3339 times)
    /// instead of lines, for scripts.
    #[arg(long, global = true)]
    pub json: bool,
    /// Print nothing on success (failures still go to stderr, with exit code 1).
    #[arg(long, short = 'q', global = true, conflicts_with = "json")]
    pub quiet: bool,
}

/// The token file under the user's config directory.
fn token_file() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("bindery").join("token"))
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Models: create, get, list, delete.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Versions: register, get, list, archive.
    #[command(subcommand)]
    Version(VersionCommand),
    /// Point a binding (stage or alias) at a version, or split it between versions.
    Bind {
        model: String,
        binding: String,
        /// The version (leave out with --split).
        version: Option<u64>,
        /// A split of traffic: `VERSION=PERCENT[:ROLE],...`, e.g. `7=90,8=10:canary` (percentages
        /// with up to two decimals, summing to 100; roles default to stable, canary, canary-2...).
        #[arg(long)]
        split: Option<String>,
        /// A shadow the caller mirrors requests to: `VERSION=PERCENT` (repeatable).
        #[arg(long)]
        shadow: Vec<String>,
        /// Override the versions' deployment specs for this binding, as JSON:
        /// `{"min_replicas": 4, "memory": "8Gi", "env": {"TIER": "prod"}}`.
        #[arg(long)]
        deployment_override: Option<String>,
        /// Compare-and-set: the generation you last saw (0 = must not exist).
        #[arg(long)]
        expected_generation: Option<u64>,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Move several bindings of one model at once, atomically: `set-bindings fraud/detector
    /// production=7 staging=8` (all or nothing; any compare-and-set mismatch aborts the lot).
    SetBindings {
        model: String,
        /// `BINDING=VERSION`, one or more.
        #[arg(required = true, value_parser = binding_version)]
        bindings: Vec<(String, u64)>,
        /// Compare-and-set for one binding: `BINDING=GENERATION` (0 = must not exist), repeatable.
        #[arg(long = "expected-generation", value_parser = binding_version)]
        expected: Vec<(String, u64)>,
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
        /// Read nodes to ask, comma-separated (default: --server); one that is unavailable is
        /// passed over for the next.
        #[arg(long, env = "BINDERY_READERS", value_delimiter = ',')]
        readers: Vec<String>,
        #[arg(long, default_value_t = 0)]
        min_revision: u64,
        /// Sticky routing on a split: the side this key (a user or session id) lands on.
        #[arg(long, default_value = "")]
        routing_key: String,
        /// Also print presigned download URLs.
        #[arg(long)]
        presign: bool,
    },
    /// Upload a file or directory through presigned URLs, then register it as a new version.
    Upload {
        model: String,
        /// A file, or a directory (every file under it, relative paths kept).
        path: PathBuf,
        #[command(flatten)]
        meta: VersionMeta,
    },
    /// API tokens: create (or --bootstrap the first admin), list, revoke.
    #[command(subcommand)]
    Token(crate::cli_access::TokenCommand),
    /// Grants: add, list, remove.
    #[command(subcommand)]
    Grant(crate::cli_access::GrantCommand),
    /// Protect a binding name (moving it then needs APPROVER), or unprotect it with --off.
    Protect {
        binding: String,
        /// `*` (global, the default), `namespace/`, or a model name.
        #[arg(long, default_value = "*")]
        scope: String,
        #[arg(long)]
        off: bool,
    },
    /// Parents, children and shared datasets of a version.
    Lineage {
        model: String,
        version: u64,
        /// up, down or both.
        #[arg(long, default_value = "both")]
        direction: String,
        /// Steps each way (default 3, at most 10).
        #[arg(long, default_value_t = 0)]
        depth: u32,
    },
    /// Model cards (markdown, with history) of a model or a version: set, show, history.
    #[command(subcommand)]
    Card(crate::cli_annotations::CardCommand),
    /// Typed links (bias audits, fairness reports, docs, …) on a model or a version: add, list,
    /// remove.
    #[command(subcommand)]
    Annotation(crate::cli_annotations::AnnotationCommand),
    /// Search versions or models with the filter language.
    #[command(subcommand)]
    Search(crate::cli_search::SearchCommand),
    /// Promotion policies (the gates of a binding): set, show, list, delete.
    #[command(subcommand)]
    Policy(crate::cli_promotion::PolicyCommand),
    /// Manifests for serving platforms: `export kserve MODEL BINDING`.
    #[command(subcommand)]
    Export(crate::cli_export::ExportCommand),
    /// Progressive rollouts: start, pause, resume, abort, show, list.
    #[command(subcommand)]
    Rollout(crate::cli_rollout::RolloutCommand),
    /// Webhooks: create, list, show, update, delete, test, deliveries, redeliver.
    #[command(subcommand)]
    Webhook(crate::cli_webhook::WebhookCommand),
    /// Stream events (JSON lines, the webhook body) as they commit; resumable.
    Events(crate::cli_webhook::EventsArgs),
    /// Ask to move a gated binding to a version; prints the gate table. Applies at once when
    /// every gate passes and you may move the binding; else it waits for approvals.
    Promote {
        model: String,
        binding: String,
        version: u64,
        #[arg(long, default_value = "")]
        reason: String,
        /// Compare-and-set: the binding generation you saw (default: the current one).
        #[arg(long)]
        expected_generation: Option<u64>,
        /// Only evaluate the gates; record nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Approve a promotion request (APPROVER, not its requester); applies it when its gates pass.
    Approve {
        id: u64,
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// Reject a promotion request (APPROVER), saying why.
    Reject {
        id: u64,
        #[arg(long)]
        comment: String,
    },
    /// Cancel your own promotion request.
    Cancel { id: u64 },
    /// Promotion requests, newest first.
    Requests {
        #[arg(long, default_value = "")]
        model: String,
        #[arg(long, default_value = "")]
        binding: String,
        /// pending, applied, rejected, superseded, expired or cancelled.
        #[arg(long, default_value = "")]
        state: String,
    },
    /// Who the registry thinks you are, and your role on each --scope.
    Whoami {
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    /// The audit trail: list, verify.
    #[command(subcommand)]
    Audit(crate::cli_access::AuditCommand),
    /// Download every file of a version (or of a binding's target) and check its SHA-256.
    Download {
        model: String,
        /// The version to fetch; or use --binding.
        #[arg(long, conflicts_with = "binding", required_unless_present = "binding")]
        version: Option<u64>,
        #[arg(long)]
        binding: Option<String>,
        /// Directory to write the files into.
        #[arg(long)]
        to: PathBuf,
    },
}

pub(crate) fn key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{s:?} is not key=value"))
}

/// `production=7`.
fn binding_version(s: &str) -> Result<(String, u64), String> {
    let (k, v) = key_value(s)?;
    let v = v.parse().map_err(|_| format!("{s:?}: {v:?} is not a number"))?;
    Ok((k, v))
}

pub(crate) fn key_number(s: &str) -> Result<(String, f64), String> {
    let (k, v) = key_value(s)?;
    let v = v.parse().map_err(|_| format!("{v:?} is not a number"))?;
    Ok((k, v))
}

pub(crate) struct Client {
    pub(crate) registry: RegistryServiceClient<Channel>,
    pub(crate) resolver: ResolverServiceClient<Channel>,
    actor: Option<String>,
    token: Option<String>,
}

impl Client {
    pub(crate) fn request<T>(&self, message: T) -> anyhow::Result<tonic::Request<T>> {
        let mut request = tonic::Request::new(message);
        if let Some(token) = &self.token {
            let value = format!("Bearer {token}")
                .parse()
                .map_err(|_| crate::output::usage("--token must be printable ASCII"))?;
            request.metadata_mut().insert(bindery_proto::auth::AUTHORIZATION_HEADER, value);
        }
        if let Some(actor) = &self.actor {
            let value = actor.parse().map_err(|_| crate::output::usage("--actor must be printable ASCII"))?;
            request.metadata_mut().insert(bindery_primary::ACTOR_HEADER, value);
        }
        Ok(request)
    }
}

#[allow(clippy::needless_pass_by_value)] // shaped for `.map_err(status)`
pub(crate) fn status(e: tonic::Status) -> anyhow::Error {
    anyhow!("{}: {}", crate::output::code_name(e.code()), e.message())
}

/// Every item of a paged listing: `page` is called with each next_page_token (empty first) and
/// answers the page's items and the next token, until the last page.
pub(crate) async fn all_pages<T, F, Fut>(mut page: F) -> anyhow::Result<Vec<T>>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = anyhow::Result<(Vec<T>, String)>>,
{
    let mut items = Vec::new();
    let mut token = String::new();
    loop {
        let (mut got, next) = page(token).await?;
        items.append(&mut got);
        if next.is_empty() {
            return Ok(items);
        }
        token = next;
    }
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

/// Runs one client command and returns what it prints (lines, or JSON with `--json`).
pub async fn run(args: ClientArgs, command: ClientCommand) -> anyhow::Result<String> {
    let (json, quiet) = (args.json, args.quiet);
    let out = execute(args, command).await?.render(json)?;
    Ok(if quiet { String::new() } else { out })
}

async fn execute(args: ClientArgs, command: ClientCommand) -> anyhow::Result<Output> {
    // The first admin is made against the database, not a server.
    if let ClientCommand::Token(crate::cli_access::TokenCommand::Create {
        principal,
        description,
        bootstrap: true,
        database_url,
        data_dir,
        ..
    }) = command
    {
        return crate::cli_access::bootstrap(&principal, &description, database_url, data_dir).await;
    }
    let token = match args.token.clone() {
        Some(t) => Some(t),
        None => token_file()
            .and_then(|f| std::fs::read_to_string(f).ok())
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty()),
    };
    let mut endpoint = Channel::from_shared(args.server.clone())
        .with_context(|| format!("--server {:?} is not a valid URL", args.server))?;
    if let Some(tls) = args.tls.client_config(&args.server)? {
        endpoint = endpoint.tls_config(tls).context("configuring TLS")?;
    }
    let channel = endpoint.connect().await.with_context(|| format!("connecting to {}", args.server))?;
    let (server, tls) = (args.server.clone(), args.tls.clone());
    let actor = args.actor.or_else(|| std::env::var("USER").ok());
    let mut c = Client {
        registry: RegistryServiceClient::new(channel.clone()),
        resolver: ResolverServiceClient::new(channel),
        actor,
        token,
    };
    let out = match command {
        ClientCommand::Model(cmd) => model(&mut c, cmd).await?,
        ClientCommand::Version(cmd) => version(&mut c, cmd).await?,
        ClientCommand::Bind {
            model,
            binding,
            version,
            split,
            shadow,
            deployment_override,
            expected_generation,
            reason,
        } => {
            let traffic = crate::cli_traffic::parse(split.as_deref(), &shadow)?;
            let deployment_override =
                deployment_override.as_deref().map(crate::cli_deployment::parse_json).transpose()?;
            if version.is_none() && traffic.is_none() {
                return Err(crate::output::usage("give a VERSION, or a --split (and/or --shadow)"));
            }
            let version = version.unwrap_or_default();
            let req = v1::SetBindingRequest {
                model_name: model,
                binding,
                version,
                expected_generation,
                reason,
                traffic,
                deployment_override,
            };
            let r = c.registry.set_binding(c.request(req)?).await.map_err(status)?.into_inner();
            Output::of(&r, binding_line(&r.binding.clone().unwrap_or_default(), r.revision))
        }
        ClientCommand::SetBindings { model, bindings, expected, reason } => {
            if let Some((name, _)) =
                expected.iter().find(|(name, _)| !bindings.iter().any(|(b, _)| b == name))
            {
                return Err(crate::output::usage(format!(
                    "--expected-generation {name}=…: {name} is not one of the bindings being set"
                )));
            }
            let assignments = bindings
                .into_iter()
                .map(|(binding, version)| v1::BindingAssignment {
                    expected_generation: expected.iter().find(|(b, _)| *b == binding).map(|(_, g)| *g),
                    binding,
                    version,
                    ..Default::default()
                })
                .collect();
            let req = v1::SetBindingsRequest { model_name: model, bindings: assignments, reason };
            let r = c.registry.set_bindings(c.request(req)?).await.map_err(status)?.into_inner();
            let lines: Vec<String> = r.bindings.iter().map(|b| binding_line(b, r.revision)).collect();
            Output::of(&r, lines.join("\n"))
        }
        ClientCommand::Unbind { model, binding, expected_generation, reason } => {
            let req = v1::DeleteBindingRequest {
                model_name: model.clone(),
                binding: binding.clone(),
                expected_generation,
                reason,
            };
            let r = c.registry.delete_binding(c.request(req)?).await.map_err(status)?.into_inner();
            Output::of(&r, format!("{model} {binding} deleted (revision {})", r.revision))
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
            Output::of(&r, binding_line(&r.binding.clone().unwrap_or_default(), r.revision))
        }
        ClientCommand::History { model, binding } => {
            let req = v1::ListBindingHistoryRequest {
                model_name: model,
                binding,
                page_size: 1_000,
                page_token: String::new(),
            };
            let r = c.registry.list_binding_history(c.request(req)?).await.map_err(status)?.into_inner();
            let show = |v: Option<u64>, t: Option<&v1::Traffic>| match (v, t) {
                (_, Some(t)) => format!("[{}]", crate::cli_traffic::describe(t)),
                (Some(v), None) => format!("v{v}"),
                (None, None) => "-".to_owned(),
            };
            Output::list(&r.entries, |e| {
                let action = v1::BindingAction::try_from(e.action).map_or("?", |a| a.as_str_name());
                format!(
                    "gen {:>4}  rev {:>6}  {:<24} {} -> {}  by {}  {}",
                    e.generation,
                    e.revision,
                    action.trim_start_matches("BINDING_ACTION_"),
                    show(e.before_version, e.before_traffic.as_ref()),
                    show(e.after_version, e.after_traffic.as_ref()),
                    e.actor,
                    e.reason
                )
            })
        }
        ClientCommand::Resolve { model, binding, readers, min_revision, routing_key, presign } => {
            let req = v1::ResolveRequest { model_name: model, binding, min_revision, presign, routing_key };
            let mut read =
                bindery_client::Config::new(if readers.is_empty() { vec![server] } else { readers });
            read.token.clone_from(&c.token);
            if let Some(https) = read.addresses.iter().find(|a| a.starts_with("https://")) {
                read.tls = tls.client_config(https)?;
            }
            let client = bindery_client::ReadClient::new(&read).map_err(status)?;
            let r = client.resolve(req).await.map_err(status)?;
            let bucket = r.bucket.map_or_else(String::new, |b| format!(", bucket {b}"));
            let mut out = format!(
                "{} {} -> v{} ({}{bucket})  {}  sha256={}  size={}  (generation {}, revision {})",
                r.model_name,
                r.binding,
                r.version,
                r.role,
                r.artifact_uri,
                r.sha256,
                r.size_bytes,
                r.generation,
                r.revision
            );
            out.push_str(&crate::cli_traffic::members(&r));
            if let Some(d) = &r.deployment {
                out.push_str(&format!("\n  serve with {}", crate::cli_deployment::describe(d)));
            }
            for d in &r.download_urls {
                let url = d.request.as_ref().map_or("", |r| r.url.as_str());
                out.push_str(&format!("\n  {}  {}", d.path, url));
            }
            Output::of(&r, out)
        }
        ClientCommand::Upload { model, path, meta } => upload(&mut c, model, &path, meta).await?,
        ClientCommand::Token(cmd) => crate::cli_access::token(&mut c, cmd).await?,
        ClientCommand::Grant(cmd) => crate::cli_access::grant(&mut c, cmd).await?,
        ClientCommand::Protect { binding, scope, off } => {
            crate::cli_access::protect(&mut c, binding, scope, off).await?
        }
        ClientCommand::Card(cmd) => crate::cli_annotations::card(&mut c, cmd).await?,
        ClientCommand::Annotation(cmd) => crate::cli_annotations::annotation(&mut c, cmd).await?,
        ClientCommand::Lineage { model, version, direction, depth } => {
            crate::cli_search::lineage(&mut c, model, version, &direction, depth).await?
        }
        ClientCommand::Search(cmd) => crate::cli_search::search(&mut c, cmd).await?,
        ClientCommand::Policy(cmd) => crate::cli_promotion::policy(&mut c, cmd).await?,
        ClientCommand::Rollout(cmd) => crate::cli_rollout::rollout(&mut c, cmd).await?,
        ClientCommand::Webhook(cmd) => crate::cli_webhook::webhook(&mut c, cmd).await?,
        ClientCommand::Events(args) => crate::cli_webhook::events(&mut c, args).await?,
        ClientCommand::Export(cmd) => crate::cli_export::export(&mut c, cmd).await?,
        ClientCommand::Promote { model, binding, version, reason, expected_generation, dry_run } => {
            crate::cli_promotion::promote(
                &mut c,
                (model, binding, version),
                reason,
                expected_generation,
                dry_run,
            )
            .await?
        }
        ClientCommand::Approve { id, comment } => crate::cli_promotion::approve(&mut c, id, comment).await?,
        ClientCommand::Reject { id, comment } => crate::cli_promotion::reject(&mut c, id, comment).await?,
        ClientCommand::Cancel { id } => crate::cli_promotion::cancel(&mut c, id).await?,
        ClientCommand::Requests { model, binding, state } => {
            crate::cli_promotion::requests(&mut c, model, binding, state).await?
        }
        ClientCommand::Whoami { scopes } => crate::cli_access::whoami(&mut c, scopes).await?,
        ClientCommand::Audit(cmd) => crate::cli_access::audit(&mut c, cmd).await?,
        ClientCommand::Download { model, version, binding, to } => {
            download(&mut c, model, version, binding, &to).await?
        }
    };
    Ok(out)
}

fn binding_line(b: &v1::Binding, revision: u64) -> String {
    let target = b.traffic.as_ref().map_or_else(|| format!("v{}", b.version), crate::cli_traffic::describe);
    format!("{} {} -> {target} (generation {}, revision {revision})", b.model_name, b.name, b.generation)
}
