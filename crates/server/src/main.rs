//! `bindery`: one binary, subcommands per role.

use std::process::ExitCode;

use anyhow::Context;
use bindery_server::PrimaryConfig;
use bindery_server::config::DatabaseArgs;
use bindery_server::telemetry::Telemetry;
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    name = "bindery",
    version,
    about = "Bindery: the model registry that binds versions to stages and aliases"
)]
struct Cli {
    #[command(flatten)]
    client: bindery_server::cli::ClientArgs,
    /// A TOML file of settings for the server roles: keys are flag names (`pool_size`), top-level
    /// or in a `[primary]`/`[reader]`/`[dev]`/`[gc]`/`[migrate]` table. Flags beat BINDERY_* env,
    /// which beats the file.
    #[arg(long, env = "BINDERY_CONFIG", global = true)]
    config: Option<std::path::PathBuf>,
    /// After SIGTERM/SIGINT, seconds to drain in-flight calls before exiting anyway (exit code 1).
    #[arg(long, env = "BINDERY_SHUTDOWN_GRACE_SECS", default_value_t = 25, global = true)]
    shutdown_grace_secs: u64,
    /// Log format: human-readable text, or one JSON object per line.
    #[arg(long, env = "BINDERY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the write-primary gRPC server (RegistryService + ResolverService) on PostgreSQL.
    Primary(PrimaryConfig),
    /// Run the whole registry in one process on an embedded store (no PostgreSQL, no S3).
    Dev(bindery_server::DevConfig),
    /// Run a read node: ResolverService from an in-memory cache kept current by LISTEN/NOTIFY.
    Reader(bindery_server::ReaderConfig),
    /// Apply pending database migrations and exit.
    Migrate(DatabaseArgs),
    /// Delete objects under the registry-managed prefix that no version or open upload session
    /// references, older than the grace period (the primary also does this periodically).
    Gc(bindery_server::GcArgs),
    /// Show the effective configuration (flags > BINDERY_* env > --config file), secrets redacted.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Keep the version a binding serves on local disk for a model server (init container with
    /// --once, else a sidecar): verified downloads, atomic `current` symlink swaps.
    Agent(bindery_server::agent::AgentConfig),
    /// Print a shell completion script: `bindery completions bash > /etc/bash_completion.d/bindery`,
    /// `bindery completions zsh > "${fpath[1]}/_bindery"`, `bindery completions fish >
    /// ~/.config/fish/completions/bindery.fish`.
    Completions { shell: clap_complete::Shell },
    #[command(flatten)]
    Client(bindery_server::cli::ClientCommand),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate and print a role's effective configuration: `bindery config print primary …`.
    Print {
        #[command(subcommand)]
        role: PrintRole,
    },
}

#[derive(Debug, Subcommand)]
enum PrintRole {
    Primary(PrimaryConfig),
    Reader(bindery_server::ReaderConfig),
    Dev(bindery_server::DevConfig),
    Gc(bindery_server::GcArgs),
    Migrate(DatabaseArgs),
}

impl PrintRole {
    /// Validates like the role would at start; `Debug` redacts passwords and secret keys.
    fn render(&self) -> anyhow::Result<String> {
        match self {
            Self::Primary(c) => c.validate().map(|()| format!("{c:#?}")),
            Self::Reader(c) => c.validate().map(|()| format!("{c:#?}")),
            Self::Dev(c) => c.artifacts.validate(true).map(|()| format!("{c:#?}")),
            Self::Gc(c) => c
                .artifacts
                .validate(false)
                .and_then(|()| c.database.pg_config().map(drop))
                .map(|()| format!("{c:#?}")),
            Self::Migrate(c) => c.pg_config().map(|_| format!("{c:#?}")),
        }
    }
}

/// Logs to stderr (text or JSON), plus OpenTelemetry span export when `telemetry` is set.
fn init_logging(format: LogFormat, telemetry: Option<&Telemetry>) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = EnvFilter::try_from_env("BINDERY_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let (text, json) = match format {
        LogFormat::Text => (Some(tracing_subscriber::fmt::layer().with_writer(std::io::stderr)), None),
        LogFormat::Json => (None, Some(tracing_subscriber::fmt::layer().json().with_writer(std::io::stderr))),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(text)
        .with(json)
        .with(telemetry.map(Telemetry::layer))
        .init();
}

/// The service name traces carry, unless OTEL_SERVICE_NAME says otherwise.
fn service_name(command: &Command) -> String {
    if let Ok(name) = std::env::var("OTEL_SERVICE_NAME") {
        return name;
    }
    match command {
        Command::Primary(_) => "bindery-primary",
        Command::Reader(_) => "bindery-reader",
        Command::Dev(_) => "bindery-dev",
        _ => "bindery",
    }
    .to_owned()
}

/// Completes on the first SIGINT/SIGTERM. A second one exits at once; so does the end of the
/// grace period, if calls are still draining then.
async fn shutdown_signal(grace: std::time::Duration) {
    wait_for_signal().await;
    tracing::info!(?grace, "signal received: shutting down");
    tokio::spawn(async {
        wait_for_signal().await;
        tracing::warn!("second signal: exiting immediately");
        std::process::exit(130);
    });
    tokio::spawn(async move {
        tokio::time::sleep(grace).await;
        tracing::error!(?grace, "calls still in flight at the end of the grace period: exiting");
        std::process::exit(1);
    });
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the server");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let argv = match bindery_server::config_file::apply(std::env::args_os().collect(), &Cli::command()) {
        Ok(argv) => argv,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let cli = Cli::parse_from(argv);
    // OTLP export only when an endpoint is configured: no collector, no exporter, no error logs.
    let telemetry = match bindery_server::telemetry::endpoint_from_env() {
        Some(endpoint) => match Telemetry::otlp(&endpoint, &service_name(&cli.command)) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("error: OTEL_EXPORTER_OTLP_ENDPOINT {endpoint:?}: {e:#}");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    init_logging(cli.log_format, telemetry.as_ref());
    let result = Box::pin(run(cli)).await;
    // The last step of a shutdown: export the spans still buffered.
    if let Some(t) = telemetry {
        // The exporter's flush blocks on its task; keep it off the async workers.
        let _ = tokio::task::spawn_blocking(move || t.shutdown()).await;
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` prints the context chain on one line; no backtrace for users.
            eprintln!("error: {e:#}");
            // 2 for a command used wrongly (as clap's own usage errors), 1 for a failed call.
            if e.downcast_ref::<bindery_server::output::Usage>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let grace = std::time::Duration::from_secs(cli.shutdown_grace_secs);
    match cli.command {
        Command::Primary(config) => {
            config.validate()?;
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .with_context(|| format!("binding {}", config.listen))?;
            bindery_server::serve_primary(listener, config, shutdown_signal(grace)).await
        }
        Command::Client(command) => {
            let out = bindery_server::cli::run(cli.client, command).await?;
            if !out.is_empty() {
                #[allow(clippy::print_stdout)]
                {
                    println!("{out}");
                }
            }
            Ok(())
        }
        Command::Agent(config) => {
            let state = std::sync::Arc::new(bindery_server::agent::AgentState::default());
            bindery_server::agent::run_agent(
                config,
                cli.client.token,
                &cli.client.tls,
                state,
                shutdown_signal(grace),
            )
            .await
        }
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "bindery", &mut script);
            let mut stdout = std::io::stdout().lock();
            match std::io::Write::write_all(&mut stdout, &script) {
                // `bindery completions bash | head` is not an error.
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
                _ => Ok(()),
            }
        }
        Command::Dev(config) => {
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .with_context(|| format!("binding {}", config.listen))?;
            bindery_server::serve_dev(listener, config, shutdown_signal(grace)).await
        }
        Command::Reader(config) => {
            config.validate()?;
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .with_context(|| format!("binding {}", config.listen))?;
            bindery_server::serve_reader(listener, config, shutdown_signal(grace)).await
        }
        Command::Config(ConfigCommand::Print { role }) => {
            let out = role.render()?;
            #[allow(clippy::print_stdout)]
            {
                println!("{out}");
            }
            Ok(())
        }
        Command::Gc(args) => {
            let out = bindery_server::run_gc(&args).await?;
            #[allow(clippy::print_stdout)]
            {
                println!("{out}");
            }
            Ok(())
        }
        Command::Migrate(database) => {
            let applied = bindery_server::migrate_database(&database).await?;
            tracing::info!(database = %database.database_url, ?applied, "database schema is current");
            Ok(())
        }
    }
}
