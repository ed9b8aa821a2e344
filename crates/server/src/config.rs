//! Configuration: flags, each backed by a `BINDERY_*` environment variable, then `validate()`.
//! Secrets (the database password) never reach logs: [`DatabaseUrl`] redacts itself.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use bindery_proto::auth::AuthMode;
use clap::{Args, ValueEnum};

mod reader;
pub use reader::ReaderConfig;

pub use crate::artifacts::{ArtifactArgs, ArtifactStoreKind, Secret};
pub use crate::common::ListenAddr;

/// A PostgreSQL connection string whose `Debug`/`Display` hide the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The real URL, for connecting only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The connection string with every password replaced by `***`: the URL's userinfo, its
    /// `password`/`sslpassword` query parameters, and the same keys in the `key=value` form
    /// (quoted values included).
    pub fn redacted(&self) -> String {
        let url = &self.0;
        if let Some((scheme, rest)) = url.split_once("://") {
            // `user:password@`: everything from the first ':' to the last '@' (a password may
            // hold '@', '/' or '?' when the URL is sloppy; hiding too much beats showing it).
            let rest = match (rest.find(':'), rest.rfind('@')) {
                (Some(colon), Some(at)) if colon < at && !rest[..colon].contains('/') => {
                    format!("{}:***{}", &rest[..colon], &rest[at..])
                }
                _ => rest.to_owned(),
            };
            let redacted = match rest.split_once('?') {
                Some((path, query)) => {
                    let params: Vec<String> = query
                        .split('&')
                        .map(|kv| match kv.split_once('=') {
                            Some((k, _)) if is_secret_key(k) => format!("{k}=***"),
                            _ => kv.to_owned(),
                        })
                        .collect();
                    format!("{path}?{}", params.join("&"))
                }
                None => rest,
            };
            return format!("{scheme}://{redacted}");
        }
        redact_key_values(url)
    }
}

/// Connection-string keys whose values are secrets.
fn is_secret_key(key: &str) -> bool {
    let key = key.trim().to_ascii_lowercase();
    key.contains("password") || key.contains("%70assword")
}

/// libpq's `key = value` form, with `'quoted values'` (backslash escapes) honoured.
fn redact_key_values(s: &str) -> String {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        if key.is_empty() && chars.peek().is_none() {
            break;
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next_if_eq(&'=').is_none() {
            out.push(key);
            continue;
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            value.push('\'');
            while let Some(c) = chars.next() {
                value.push(c);
                match c {
                    '\\' => value.extend(chars.next()),
                    '\'' => break,
                    _ => {}
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                value.push(c);
            }
        }
        // A malformed string may hide `password=…` inside a value: hide that value too.
        let value = if is_secret_key(&key) || is_secret_key(&value) { "***".to_owned() } else { value };
        out.push(format!("{key}={value}"));
    }
    out.join(" ")
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

/// `--auth`: how callers prove who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthArg {
    /// Every call needs `authorization: Bearer <token>` and a role (the default).
    Tokens,
    /// No authentication: anyone who reaches the port may do anything. Must be asked for.
    None,
}

impl AuthArg {
    pub fn mode(self) -> AuthMode {
        match self {
            Self::Tokens => AuthMode::Required,
            Self::None => AuthMode::Off,
        }
    }

    /// Logs the warning a server without authentication owes its operator.
    pub fn warn_if_off(self, role: &str) {
        if self == Self::None {
            tracing::warn!(
                role,
                "authentication is OFF (--auth none): anyone who reaches this port can read and change the registry"
            );
        }
    }
}

/// OIDC / JWT bearer tokens, accepted next to API tokens when a JWKS is configured.
#[derive(Debug, Clone, Args)]
pub struct JwtArgs {
    /// A JWKS file with the identity provider's signing keys (re-read every --jwt-refresh-secs).
    #[arg(long, env = "BINDERY_JWT_JWKS_FILE", conflicts_with = "jwt_jwks_url")]
    pub jwt_jwks_file: Option<std::path::PathBuf>,
    /// An http(s) URL serving the JWKS (re-fetched periodically and on an unknown key id).
    #[arg(long, env = "BINDERY_JWT_JWKS_URL")]
    pub jwt_jwks_url: Option<String>,
    /// The `iss` every JWT must carry.
    #[arg(long, env = "BINDERY_JWT_ISSUER", default_value = "")]
    pub jwt_issuer: String,
    /// A value every JWT's `aud` must contain.
    #[arg(long, env = "BINDERY_JWT_AUDIENCE", default_value = "")]
    pub jwt_audience: String,
    /// The claim naming the principal.
    #[arg(long, env = "BINDERY_JWT_PRINCIPAL_CLAIM", default_value = "sub")]
    pub jwt_principal_claim: String,
    /// The claim listing the principal's groups (for `group:<name>` grants).
    #[arg(long, env = "BINDERY_JWT_GROUPS_CLAIM", default_value = "groups")]
    pub jwt_groups_claim: String,
    /// Clock skew allowed on `exp`/`nbf`, in seconds.
    #[arg(long, env = "BINDERY_JWT_LEEWAY_SECS", default_value_t = 60)]
    pub jwt_leeway_secs: u64,
    /// Seconds between re-reads of the JWKS.
    #[arg(long, env = "BINDERY_JWT_REFRESH_SECS", default_value_t = 300)]
    pub jwt_refresh_secs: u64,
}

impl Default for JwtArgs {
    fn default() -> Self {
        Self {
            jwt_jwks_file: None,
            jwt_jwks_url: None,
            jwt_issuer: String::new(),
            jwt_audience: String::new(),
            jwt_principal_claim: "sub".into(),
            jwt_groups_claim: "groups".into(),
            jwt_leeway_secs: 60,
            jwt_refresh_secs: 300,
        }
    }
}

impl JwtArgs {
    fn source(&self) -> Option<bindery_auth::JwksSource> {
        match (&self.jwt_jwks_file, &self.jwt_jwks_url) {
            (Some(f), _) => Some(bindery_auth::JwksSource::File(f.clone())),
            (None, Some(u)) => Some(bindery_auth::JwksSource::Url(u.clone())),
            (None, None) => None,
        }
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if self.source().is_none() {
            return Ok(());
        }
        if self.jwt_issuer.is_empty() || self.jwt_audience.is_empty() {
            bail!("a JWKS (--jwt-jwks-file/--jwt-jwks-url) needs --jwt-issuer and --jwt-audience");
        }
        if let Some(url) = &self.jwt_jwks_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            bail!("--jwt-jwks-url must be an http(s) URL, got {url:?}");
        }
        if self.jwt_leeway_secs > 600 {
            bail!("--jwt-leeway-secs must be at most 600");
        }
        Ok(())
    }

    /// The verifier, when a JWKS is configured (its keys loaded: start-up fails if they cannot be).
    pub async fn build(&self) -> anyhow::Result<Option<std::sync::Arc<bindery_auth::JwtVerifier>>> {
        let Some(jwks) = self.source() else { return Ok(None) };
        self.validate()?;
        let config = bindery_auth::JwtConfig {
            jwks,
            issuer: self.jwt_issuer.clone(),
            audience: self.jwt_audience.clone(),
            principal_claim: self.jwt_principal_claim.clone(),
            groups_claim: self.jwt_groups_claim.clone(),
            leeway: Duration::from_secs(self.jwt_leeway_secs),
            refresh: Duration::from_secs(self.jwt_refresh_secs),
        };
        Ok(Some(bindery_auth::JwtVerifier::start(config).await.context("loading the JWKS")?))
    }
}

/// Single sign-on in the web console: OpenID Connect's authorization-code flow with PKCE against
/// the identity provider `--jwt-issuer` names (README "Web console").
#[derive(Debug, Clone, Args)]
pub struct ConsoleSsoArgs {
    /// The console's client id at the identity provider; turns on "Sign in with single sign-on".
    /// Register `<console address>/` as its redirect URI.
    #[arg(long, env = "BINDERY_CONSOLE_OIDC_CLIENT_ID")]
    pub console_oidc_client_id: Option<String>,
    /// The client secret, when the provider registers the console as a confidential client
    /// (prefer the environment variable: a flag shows in `ps`).
    #[arg(long, env = "BINDERY_CONSOLE_OIDC_CLIENT_SECRET", hide_env_values = true)]
    pub console_oidc_client_secret: Option<String>,
    /// The scopes the console asks for (space-separated, with `openid`).
    #[arg(long, env = "BINDERY_CONSOLE_OIDC_SCOPES", default_value = "openid")]
    pub console_oidc_scopes: String,
}

impl Default for ConsoleSsoArgs {
    fn default() -> Self {
        Self {
            console_oidc_client_id: None,
            console_oidc_client_secret: None,
            console_oidc_scopes: "openid".into(),
        }
    }
}

impl ConsoleSsoArgs {
    /// The console's sign-in through the provider, found by OIDC discovery (start-up fails when
    /// the provider cannot be read, as it does for the JWKS).
    pub async fn build(&self, jwt: &JwtArgs) -> anyhow::Result<Option<bindery_console::Sso>> {
        let Some(client_id) = &self.console_oidc_client_id else { return Ok(None) };
        if jwt.source().is_none() || jwt.jwt_issuer.is_empty() {
            bail!(
                "--console-oidc-client-id signs people in with the identity provider's JWTs, which the \
                 registry must accept: set --jwt-jwks-url (or --jwt-jwks-file), --jwt-issuer and --jwt-audience"
            );
        }
        let settings = bindery_console::SsoSettings {
            issuer: jwt.jwt_issuer.clone(),
            client_id: client_id.clone(),
            client_secret: self.console_oidc_client_secret.clone().filter(|s| !s.is_empty()),
            scopes: self.console_oidc_scopes.clone(),
        };
        let sso = bindery_console::Sso::discover(settings).await.context("the console's single sign-on")?;
        Ok(Some(sso))
    }
}

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/bindery";

/// Where the database is.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// PostgreSQL connection URL (the password is never logged).
    #[arg(long, env = "BINDERY_DATABASE_URL", default_value = DEFAULT_DATABASE_URL, hide_env_values = true)]
    pub database_url: DatabaseUrl,
    /// Seconds to wait for a database connection before answering UNAVAILABLE.
    #[arg(long, env = "BINDERY_DATABASE_TIMEOUT_SECS", default_value_t = 5)]
    pub database_timeout_secs: u64,
    /// Create the database named in the URL if it does not exist (needs CREATEDB rights).
    #[arg(long, env = "BINDERY_CREATE_DATABASE")]
    pub create_database: bool,
}

/// `bindery primary`.
#[derive(Debug, Clone, Args)]
pub struct PrimaryConfig {
    /// Address the gRPC server listens on.
    #[arg(long, env = "BINDERY_LISTEN", default_value = "0.0.0.0:50051")]
    pub listen: SocketAddr,
    /// How callers authenticate: API tokens (default), or `none` (no authentication at all).
    #[arg(long, env = "BINDERY_AUTH", value_enum, default_value_t = AuthArg::Tokens)]
    pub auth: AuthArg,
    #[command(flatten)]
    pub jwt: JwtArgs,
    #[command(flatten)]
    pub tls: crate::tls::TlsArgs,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Database connections in the pool.
    #[arg(long, env = "BINDERY_POOL_SIZE", default_value_t = 16)]
    pub pool_size: usize,
    /// Do not apply migrations at start; only check that the schema is current.
    #[arg(long, env = "BINDERY_NO_MIGRATE")]
    pub no_migrate: bool,
    /// Largest gRPC message accepted or sent, in bytes.
    #[arg(long, env = "BINDERY_MAX_MESSAGE_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_message_bytes: usize,
    /// Milliseconds between readiness checks of the database.
    #[arg(long, env = "BINDERY_READINESS_INTERVAL_MS", default_value_t = 2_000)]
    pub readiness_interval_ms: u64,
    /// Consecutive failed readiness checks before health turns NOT_SERVING.
    #[arg(long, env = "BINDERY_READINESS_FAILURES", default_value_t = 3)]
    pub readiness_failures: u32,
    /// How long change-log entries are kept for readers to catch up from (seconds; default 7
    /// days). A reader further behind reloads a snapshot.
    #[arg(long, env = "BINDERY_CHANGES_RETENTION_SECS", default_value_t = 7 * 24 * 3_600)]
    pub changes_retention_secs: u64,
    /// Milliseconds between change-log pruning runs.
    #[arg(long, env = "BINDERY_PRUNE_INTERVAL_MS", default_value_t = 600_000)]
    pub prune_interval_ms: u64,
    /// Seconds between checks whether read nodes need a new compact snapshot to start from
    /// (README "Read node cold start"); 0 turns stored snapshots off.
    #[arg(long, env = "BINDERY_SNAPSHOT_INTERVAL_SECS", default_value_t = 60)]
    pub snapshot_interval_secs: u64,
    /// A new snapshot is written once the newest is this many changes behind (or ten intervals
    /// old with anything changed).
    #[arg(long, env = "BINDERY_SNAPSHOT_MIN_CHANGES", default_value_t = 1_000)]
    pub snapshot_min_changes: u64,
    /// How long a promotion request waits for its approvals before it expires (seconds; default
    /// 7 days, 60 s to 90 days).
    #[arg(long, env = "BINDERY_PROMOTION_TTL_SECS", default_value_t = PROMOTION_TTL_SECS)]
    pub promotion_ttl_secs: u64,
    #[command(flatten)]
    pub artifacts: ArtifactArgs,
    #[command(flatten)]
    pub webhooks: WebhookArgs,
    /// On SIGTERM, milliseconds between turning NOT_SERVING and closing the listener, so load
    /// balancers stop routing here first.
    #[arg(long, env = "BINDERY_DRAIN_DELAY_MS", default_value_t = 0)]
    pub drain_delay_ms: u64,
    /// Where Prometheus scrapes `GET /metrics` (an address, or `off`).
    #[arg(long, env = "BINDERY_METRICS_LISTEN", default_value = "0.0.0.0:9090")]
    pub metrics_listen: ListenAddr,
    /// Where MLflow clients reach the registry (MLflow's REST API over HTTP/1.1, README "MLflow
    /// compatibility"): an address, or `off`. Plain HTTP: put TLS in front of it.
    #[arg(long, env = "BINDERY_MLFLOW_LISTEN", default_value = "off")]
    pub mlflow_listen: ListenAddr,
    /// Where people reach the web console (README "Web console"): an address, or `off`. HTTPS
    /// with the --tls-cert/--tls-key certificate when they are set, else plain HTTP.
    #[arg(long, env = "BINDERY_CONSOLE_LISTEN", default_value = "off")]
    pub console_listen: ListenAddr,
    /// Read nodes the console's Fleet page asks for their status (`http://reader-a:50052,...`).
    #[arg(long, env = "BINDERY_CONSOLE_READERS", value_delimiter = ',')]
    pub console_readers: Vec<String>,
    #[command(flatten)]
    pub console_sso: ConsoleSsoArgs,
}

/// The default promotion request TTL: 7 days.
pub const PROMOTION_TTL_SECS: u64 = bindery_core::promotion::DEFAULT_REQUEST_TTL_SECS;

/// `--promotion-ttl-secs`, checked: 60 s to 90 days.
pub fn promotion_ttl(secs: u64) -> anyhow::Result<Duration> {
    if !(60..=90 * 24 * 3_600).contains(&secs) {
        bail!("promotion_ttl_secs must be between 60 (a minute) and 7776000 (90 days), got {secs}");
    }
    Ok(Duration::from_secs(secs))
}

impl PrimaryConfig {
    /// Defaults for everything but the database, e.g. for tests and embedding.
    pub fn new(listen: SocketAddr, database_url: DatabaseUrl) -> Self {
        Self {
            listen,
            auth: AuthArg::Tokens,
            jwt: JwtArgs::default(),
            tls: crate::tls::TlsArgs::default(),
            database: DatabaseArgs { database_url, database_timeout_secs: 5, create_database: false },
            pool_size: 16,
            no_migrate: false,
            max_message_bytes: 4 * 1024 * 1024,
            readiness_interval_ms: 2_000,
            readiness_failures: 3,
            changes_retention_secs: 7 * 24 * 3_600,
            prune_interval_ms: 600_000,
            snapshot_interval_secs: 60,
            snapshot_min_changes: 1_000,
            promotion_ttl_secs: PROMOTION_TTL_SECS,
            artifacts: ArtifactArgs::default(),
            webhooks: WebhookArgs::default(),
            drain_delay_ms: 0,
            metrics_listen: ListenAddr(None),
            mlflow_listen: ListenAddr(None),
            console_listen: ListenAddr(None),
            console_readers: Vec::new(),
            console_sso: ConsoleSsoArgs::default(),
        }
    }

    pub fn drain_delay(&self) -> Duration {
        Duration::from_millis(self.drain_delay_ms)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        promotion_ttl(self.promotion_ttl_secs)?;
        self.webhooks.settings()?;
        if !(1..=1_000).contains(&self.pool_size) {
            bail!("pool_size must be between 1 and 1000, got {}", self.pool_size);
        }
        if !(1_024..=256 * 1024 * 1024).contains(&self.max_message_bytes) {
            bail!("max_message_bytes must be between 1 KiB and 256 MiB, got {}", self.max_message_bytes);
        }
        if self.readiness_interval_ms < 50 {
            bail!("readiness_interval_ms must be at least 50");
        }
        if self.readiness_failures == 0 {
            bail!("readiness_failures must be at least 1");
        }
        if self.prune_interval_ms < 50 {
            bail!("prune_interval_ms must be at least 50");
        }
        if self.snapshot_interval_secs > 86_400 {
            bail!("snapshot_interval_secs must be at most 86400 (a day)");
        }
        if !(1..=bindery_store_postgres::SNAPSHOT_MAX_BEHIND).contains(&self.snapshot_min_changes) {
            bail!(
                "snapshot_min_changes must be 1 to {} (read nodes do not use a snapshot further behind)",
                bindery_store_postgres::SNAPSHOT_MAX_BEHIND
            );
        }
        self.artifacts.validate(false)?;
        self.jwt.validate()?;
        self.database.pg_config().map(drop)
    }

    pub fn readiness_interval(&self) -> Duration {
        Duration::from_millis(self.readiness_interval_ms)
    }
}

impl DatabaseArgs {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.database_timeout_secs.max(1))
    }

    pub fn pg_config(&self) -> anyhow::Result<bindery_store_postgres::PgConfig> {
        bindery_store_postgres::parse_config(self.database_url.expose(), self.timeout())
            .with_context(|| format!("database url {}", self.database_url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_snapshot_settings_have_bounds() {
        let url = DatabaseUrl::new("postgres://bindery@db/bindery");
        let mut c = PrimaryConfig::new(SocketAddr::from(([127, 0, 0, 1], 0)), url);
        c.validate().unwrap();
        c.snapshot_interval_secs = 0;
        c.validate().unwrap();
        c.snapshot_interval_secs = 86_401;
        assert!(c.validate().unwrap_err().to_string().contains("snapshot_interval_secs"));
        c.snapshot_interval_secs = 60;
        for bad in [0, bindery_store_postgres::SNAPSHOT_MAX_BEHIND + 1] {
            c.snapshot_min_changes = bad;
            assert!(c.validate().unwrap_err().to_string().contains("snapshot_min_changes"), "{bad}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2_000, ..Default::default() })]

        /// A password never shows, whatever surrounds it and in whichever form.
        #[test]
        fn no_connection_string_shows_its_password(
            user in "[a-z]{1,8}",
            secret in "[A-Za-z0-9]{12,20}",
            host in "[a-z]{1,10}",
            rest in "[a-z=&/ ]{0,30}",
        ) {
            for url in [
                format!("postgres://{user}:{secret}@{host}/db?{rest}"),
                format!("postgres://{user}@{host}/db?x=1&password={secret}&{rest}"),
                format!("host={host} {rest} password={secret} user={user}"),
                format!("host={host} password='{secret} x' {rest}"),
            ] {
                let shown = DatabaseUrl::new(url.clone()).to_string();
                proptest::prop_assert!(!shown.contains(&secret), "{} shown as {}", url, shown);
            }
        }
    }

    #[test]
    fn passwords_are_redacted() {
        let url = DatabaseUrl::new("postgres://bindery:s3cret@db:5432/bindery");
        assert_eq!(url.to_string(), "postgres://bindery:***@db:5432/bindery");
        assert!(!format!("{url:?}").contains("s3cret"));
        let kv = DatabaseUrl::new("host=db user=bindery password=s3cret");
        assert_eq!(kv.to_string(), "host=db user=bindery password=***");
        assert_eq!(DatabaseUrl::new("postgres://u@h/d").to_string(), "postgres://u@h/d");
        for (raw, secret) in [
            ("postgres://u@db/b?password=hunter2&sslmode=require", "hunter2"),
            ("postgresql://db/b?sslmode=verify-full&PassWord=hunter2", "hunter2"),
            ("postgres://u:p@ss?w/rd@db/b", "p@ss?w/rd"),
            ("postgres://u@db/b?sslpassword=keypass", "keypass"),
            ("host=db password = 'two words \\' here' user=u", "two words"),
            ("host=db password='hunter2' user=u", "hunter2"),
            ("host=db sslpassword=keypass", "keypass"),
        ] {
            let shown = DatabaseUrl::new(raw).to_string();
            assert!(!shown.contains(secret) && shown.contains("***"), "{raw} shown as {shown}");
        }
        assert_eq!(
            DatabaseUrl::new("host=db password='x y' user=u").to_string(),
            "host=db password=*** user=u"
        );
        assert_eq!(
            DatabaseUrl::new("postgres://u@db/b?sslmode=require").to_string(),
            "postgres://u@db/b?sslmode=require"
        );
    }
}

/// Webhook delivery (issue 16), for the primary and `bindery dev`.
#[derive(Debug, Clone, clap::Args)]
pub struct WebhookArgs {
    /// Hosts, addresses and networks (comma-separated, e.g. `ci.internal,10.0.0.0/8,127.0.0.1`)
    /// webhooks may deliver to although they are internal (loopback, private, link-local,
    /// metadata). Default: none; public addresses are always allowed.
    #[arg(long, env = "BINDERY_WEBHOOK_ALLOWED_HOSTS", default_value = "")]
    pub webhook_allowed_hosts: String,
    /// Webhooks delivered at once (each one event at a time, in order).
    #[arg(long, env = "BINDERY_WEBHOOK_CONCURRENCY", default_value_t = 32)]
    pub webhook_concurrency: usize,
    /// The first retry's delay; it doubles per attempt up to `--webhook-retry-max-ms`.
    #[arg(long, env = "BINDERY_WEBHOOK_RETRY_BASE_MS", default_value_t = 1_000)]
    pub webhook_retry_base_ms: u64,
    #[arg(long, env = "BINDERY_WEBHOOK_RETRY_MAX_MS", default_value_t = 300_000)]
    pub webhook_retry_max_ms: u64,
    /// Attempts at an event a receiver refuses (4xx other than 408/429) before the webhook is
    /// disabled.
    #[arg(long, env = "BINDERY_WEBHOOK_REFUSALS", default_value_t = 3)]
    pub webhook_refusals: u32,
    /// How long one event may keep failing (network errors, timeouts, 408, 429, 5xx) before the
    /// webhook is disabled (seconds).
    #[arg(long, env = "BINDERY_WEBHOOK_GIVE_UP_SECS", default_value_t = 86_400)]
    pub webhook_give_up_secs: u64,
    /// How long a primary holds a webhook it is delivering; if it dies, another primary (or it,
    /// restarted) resumes after this.
    #[arg(long, env = "BINDERY_WEBHOOK_LEASE_MS", default_value_t = 60_000)]
    pub webhook_lease_ms: u64,
    /// How often the delivery worker looks for due webhooks.
    #[arg(long, env = "BINDERY_WEBHOOK_POLL_MS", default_value_t = 200)]
    pub webhook_poll_ms: u64,
}

impl Default for WebhookArgs {
    fn default() -> Self {
        Self {
            webhook_allowed_hosts: String::new(),
            webhook_concurrency: 32,
            webhook_retry_base_ms: 1_000,
            webhook_retry_max_ms: 300_000,
            webhook_refusals: 3,
            webhook_give_up_secs: 86_400,
            webhook_lease_ms: 60_000,
            webhook_poll_ms: 200,
        }
    }
}

impl WebhookArgs {
    /// The checked settings.
    pub fn settings(&self) -> anyhow::Result<bindery_primary::WebhookSettings> {
        let hosts = bindery_core::webhook::HostPolicy::parse(&self.webhook_allowed_hosts)?;
        if !(1..=1_000).contains(&self.webhook_concurrency) {
            bail!("webhook_concurrency must be between 1 and 1000, got {}", self.webhook_concurrency);
        }
        if self.webhook_retry_base_ms < 10 || self.webhook_retry_max_ms < self.webhook_retry_base_ms {
            bail!("webhook_retry_base_ms must be at least 10 and at most webhook_retry_max_ms");
        }
        if !(1..=10).contains(&self.webhook_refusals) {
            bail!("webhook_refusals must be between 1 and 10, got {}", self.webhook_refusals);
        }
        if !(1_000..=3_600_000).contains(&self.webhook_lease_ms)
            || !(10..=60_000).contains(&self.webhook_poll_ms)
        {
            bail!("webhook_lease_ms must be 1 s to 1 h and webhook_poll_ms 10 ms to 60 s");
        }
        Ok(bindery_primary::WebhookSettings {
            hosts,
            retry: bindery_core::webhook::RetryPolicy {
                base: Duration::from_millis(self.webhook_retry_base_ms),
                cap: Duration::from_millis(self.webhook_retry_max_ms),
                permanent_tries: self.webhook_refusals,
                give_up_after: Duration::from_secs(self.webhook_give_up_secs.max(1)),
            },
            lease: Duration::from_millis(self.webhook_lease_ms),
            poll: Duration::from_millis(self.webhook_poll_ms),
            concurrency: self.webhook_concurrency,
            ..bindery_primary::WebhookSettings::default()
        })
    }
}
