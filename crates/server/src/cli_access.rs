//! `bindery token|grant|protect|whoami|audit`: access control and the audit trail from a
//! terminal. `bindery token create --bootstrap` talks to the database (PostgreSQL or a dev data
//! directory) instead of a server, to create the first admin.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, anyhow, bail};
use bindery_core::Store;
use bindery_proto::{to_timestamp, v1};
use clap::Subcommand;

use crate::cli::{Client, Output, all_pages, status};
use crate::config::DatabaseUrl;
use crate::output::when;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token for a principal (ADMIN); the secret is printed once.
    Create {
        #[arg(long)]
        principal: String,
        #[arg(long, default_value = "")]
        description: String,
        /// Days until the token expires (default: never).
        #[arg(long)]
        expires_in_days: Option<u64>,
        /// Create the first admin without a server: a token plus a global ADMIN grant, written
        /// straight to the database (`--database-url`) or a `bindery dev` data directory
        /// (`--data-dir`).
        #[arg(long)]
        bootstrap: bool,
        /// With --bootstrap: the PostgreSQL database (migrated) of the primary.
        #[arg(long, env = "BINDERY_DATABASE_URL", requires = "bootstrap", hide_env_values = true)]
        database_url: Option<DatabaseUrl>,
        /// With --bootstrap: the data directory of `bindery dev --auth`.
        #[arg(long, requires = "bootstrap", conflicts_with = "database_url")]
        data_dir: Option<PathBuf>,
    },
    /// List tokens (never their secrets).
    List {
        #[arg(long, default_value = "")]
        principal: String,
        #[arg(long)]
        include_revoked: bool,
    },
    /// Revoke a token by id (`tok_…`); every read node stops accepting it within the
    /// propagation time.
    Revoke { id: String },
}

#[derive(Debug, Subcommand)]
pub enum GrantCommand {
    /// Give SUBJECT (a principal, or `group:<name>`) ROLE at --scope.
    Add {
        subject: String,
        /// viewer, contributor, approver or admin.
        role: String,
        /// `*` (global, the default), `namespace/`, or a model name.
        #[arg(long, default_value = "*")]
        scope: String,
    },
    /// List grants.
    List {
        #[arg(long, default_value = "")]
        subject: String,
    },
    /// Remove a grant.
    Remove {
        subject: String,
        role: String,
        #[arg(long, default_value = "*")]
        scope: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Audit events, newest first.
    List {
        #[arg(long, default_value = "")]
        model: String,
        #[arg(long, default_value = "")]
        namespace: String,
        #[arg(long, default_value = "")]
        actor: String,
        #[arg(long, default_value = "")]
        action: String,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Walk the hash chain; fails naming the first broken row.
    Verify,
}

fn role(s: &str) -> anyhow::Result<i32> {
    let role = bindery_core::Role::parse(s)
        .ok_or_else(|| anyhow!("{s:?} is not a role: viewer, contributor, approver or admin"))?;
    Ok(bindery_proto::role_to_wire(Some(role)))
}

fn role_name(r: i32) -> &'static str {
    v1::Role::try_from(r).map_or("?", |r| r.as_str_name().trim_start_matches("ROLE_"))
}

fn token_line(t: &v1::Token) -> String {
    let state = if t.revoked_at.is_some() { "REVOKED" } else { "active" };
    format!(
        "{}  {}  {state}  created {} by {}  expires {}  {:?}",
        t.id,
        t.principal,
        when(t.created_at.as_ref()),
        t.created_by,
        when(t.expires_at.as_ref()),
        t.description
    )
}

/// `bindery token create --bootstrap`: opens the store named and creates the first admin.
pub async fn bootstrap(
    principal: &str,
    description: &str,
    database_url: Option<DatabaseUrl>,
    data_dir: Option<PathBuf>,
) -> anyhow::Result<Output> {
    let store: Arc<dyn Store> = match (database_url, data_dir) {
        (Some(url), None) => {
            let database = crate::config::DatabaseArgs {
                database_url: url,
                database_timeout_secs: 5,
                create_database: false,
            };
            let config = database.pg_config()?;
            let store = bindery_store_postgres::PgStore::new(
                config,
                &bindery_store_postgres::PoolOptions::default(),
            )?;
            store
                .check_ready()
                .await
                .context("the database must be reachable and migrated (`bindery migrate`)")?;
            Arc::new(store)
        }
        (None, Some(dir)) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let path = dir.join("bindery.db");
            Arc::new(
                bindery_store_sqlite::SqliteStore::open(&path)
                    .with_context(|| format!("opening {}", path.display()))?,
            )
        }
        _ => bail!("--bootstrap needs --database-url (a primary's PostgreSQL) or --data-dir (bindery dev)"),
    };
    let (token, secret) = bindery_primary::bootstrap_admin(store.as_ref(), principal, description).await?;
    let json = serde_json::json!({ "id": token.id, "principal": token.principal, "secret": secret });
    Ok(Output::value(
        json,
        format!(
            "{}\n{secret}\n(admin token for '{}' with a global ADMIN grant; the secret is shown only now: \
             export BINDERY_TOKEN={secret})",
            token.id, token.principal
        ),
    ))
}

pub(crate) async fn token(c: &mut Client, cmd: TokenCommand) -> anyhow::Result<Output> {
    Ok(match cmd {
        TokenCommand::Create { principal, description, expires_in_days, .. } => {
            let expires_at = expires_in_days
                .map(|d| to_timestamp(SystemTime::now() + Duration::from_secs(d.saturating_mul(86_400))));
            let req = v1::CreateTokenRequest { principal, description, expires_at };
            let r = c.registry.create_token(c.request(req)?).await.map_err(status)?.into_inner();
            let t = r.token.clone().unwrap_or_default();
            let text = format!(
                "{}\n{}\n(the secret is shown only now; revision {})",
                token_line(&t),
                r.secret,
                r.revision
            );
            Output::of(&r, text)
        }
        TokenCommand::List { principal, include_revoked } => {
            let tokens = all_pages(|page_token| {
                let req = c.request(v1::ListTokensRequest {
                    principal: principal.clone(),
                    include_revoked,
                    page_size: 1_000,
                    page_token,
                });
                let mut registry = c.registry.clone();
                async move {
                    let r = registry.list_tokens(req?).await.map_err(status)?.into_inner();
                    Ok((r.tokens, r.next_page_token))
                }
            })
            .await?;
            Output::table(
                &tokens,
                &["ID", "PRINCIPAL", "STATE", "CREATED", "BY", "EXPIRES", "DESCRIPTION"],
                |t| {
                    let state = if t.revoked_at.is_some() { "REVOKED" } else { "active" };
                    vec![
                        t.id.clone(),
                        t.principal.clone(),
                        state.to_owned(),
                        when(t.created_at.as_ref()),
                        t.created_by.clone(),
                        when(t.expires_at.as_ref()),
                        t.description.clone(),
                    ]
                },
            )
        }
        TokenCommand::Revoke { id } => {
            let req = v1::RevokeTokenRequest { id: id.clone() };
            let r = c.registry.revoke_token(c.request(req)?).await.map_err(status)?.into_inner();
            Output::of(&r, format!("{id} revoked (revision {})", r.revision))
        }
    })
}

pub(crate) async fn grant(c: &mut Client, cmd: GrantCommand) -> anyhow::Result<Output> {
    let line =
        |g: &v1::Grant| format!("{}  {}  {}  by {}", g.subject, role_name(g.role), g.scope, g.created_by);
    Ok(match cmd {
        GrantCommand::Add { subject, role: r, scope } => {
            let req = v1::CreateGrantRequest { subject, role: role(&r)?, scope };
            let r = c.registry.create_grant(c.request(req)?).await.map_err(status)?.into_inner();
            Output::of(
                &r,
                format!("granted {} (revision {})", line(&r.grant.clone().unwrap_or_default()), r.revision),
            )
        }
        GrantCommand::List { subject } => {
            let grants = all_pages(|page_token| {
                let req = c.request(v1::ListGrantsRequest {
                    subject: subject.clone(),
                    page_size: 1_000,
                    page_token,
                });
                let mut registry = c.registry.clone();
                async move {
                    let r = registry.list_grants(req?).await.map_err(status)?.into_inner();
                    Ok((r.grants, r.next_page_token))
                }
            })
            .await?;
            Output::table(&grants, &["SUBJECT", "ROLE", "SCOPE", "BY"], |g| {
                vec![g.subject.clone(), role_name(g.role).to_owned(), g.scope.clone(), g.created_by.clone()]
            })
        }
        GrantCommand::Remove { subject, role: r, scope } => {
            let req =
                v1::DeleteGrantRequest { subject: subject.clone(), role: role(&r)?, scope: scope.clone() };
            let resp = c.registry.delete_grant(c.request(req)?).await.map_err(status)?.into_inner();
            Output::of(&resp, format!("removed {subject} {r} at {scope} (revision {})", resp.revision))
        }
    })
}

pub(crate) async fn protect(
    c: &mut Client,
    binding: String,
    scope: String,
    off: bool,
) -> anyhow::Result<Output> {
    let req = v1::SetBindingProtectionRequest { binding, scope, protected: !off };
    let r = c.registry.set_binding_protection(c.request(req)?).await.map_err(status)?.into_inner();
    let p = r.protection.clone().unwrap_or_default();
    let state =
        if p.protected { "protected (APPROVER needed)" } else { "unprotected (CONTRIBUTOR may move it)" };
    Ok(Output::of(&r, format!("{} at {}: {state} (revision {})", p.binding, p.scope, r.revision)))
}

pub(crate) async fn whoami(c: &mut Client, scopes: Vec<String>) -> anyhow::Result<Output> {
    let r = c.registry.who_am_i(c.request(v1::WhoAmIRequest { scopes })?).await.map_err(status)?.into_inner();
    let mut out = format!("{} (authenticated by {})", r.principal, r.authenticated_by);
    if !r.groups.is_empty() {
        out.push_str(&format!("  groups: {}", r.groups.join(", ")));
    }
    for s in &r.roles {
        let role = if s.role == 0 { "no role" } else { role_name(s.role) };
        out.push_str(&format!("\n  {}: {role}", s.scope));
    }
    Ok(Output::of(&r, out))
}

pub(crate) async fn audit(c: &mut Client, cmd: AuditCommand) -> anyhow::Result<Output> {
    match cmd {
        AuditCommand::List { model, namespace, actor, action, limit } => {
            let req = v1::ListAuditEventsRequest {
                model,
                namespace,
                actor,
                action,
                page_size: limit,
                ..Default::default()
            };
            let r = c.registry.list_audit_events(c.request(req)?).await.map_err(status)?.into_inner();
            Ok(Output::table(&r.events, &["ID", "REVISION", "TIME", "ACTION", "TARGET", "BY"], |e| {
                vec![
                    format!("#{}", e.id),
                    e.revision.to_string(),
                    when(e.time.as_ref()),
                    e.action.clone(),
                    e.target.clone(),
                    e.actor.clone(),
                ]
            }))
        }
        AuditCommand::Verify => {
            let r = c
                .registry
                .verify_audit_log(c.request(v1::VerifyAuditLogRequest {})?)
                .await
                .map_err(status)?
                .into_inner();
            match &r.first_break {
                None => Ok(Output::of(
                    &r,
                    format!(
                        "audit chain intact: {} rows checked ({} from before the chain), head {}",
                        r.rows_checked, r.unchained_rows, r.head_hash
                    ),
                )),
                Some(b) => bail!(
                    "audit chain BROKEN at row {} (revision {}): {}\n  expected hash {}\n  found hash    {}",
                    b.id,
                    b.revision,
                    b.reason,
                    if b.expected_hash.is_empty() { "-" } else { &b.expected_hash },
                    if b.found_hash.is_empty() { "-" } else { &b.found_hash }
                ),
            }
        }
    }
}
