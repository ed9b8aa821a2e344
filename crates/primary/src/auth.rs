//! Who is calling, and what they may do: authentication against the store (token hash lookup)
//! and the caller's policy (their grants and every protection), decided by `bindery_core::Policy`.

use std::sync::Arc;
use std::time::SystemTime;

use bindery_auth::JwtVerifier;
use bindery_core::{
    BindingName, ChainCheck, ChainReport, Credential, Error, Grant, ModelName, NewToken, Policy, Principal,
    Result, Role, Scope, Store, Subject, Token, WriteContext, invalid_token, token_hash,
};
use bindery_proto::auth::{AuthMode, claimed_principal, credential, jwt_not_configured, write_context};
use bindery_proto::status_from_error;
use tonic::Status;
use tonic::metadata::MetadataMap;

/// An authenticated call: the principal, its policy and the audit context of its writes.
pub(crate) struct Caller {
    pub who: Principal,
    pub policy: Policy,
    pub ctx: WriteContext,
    method: &'static str,
}

/// Authenticates a call (its bearer token, else `client_cert`: the principal of the client
/// certificate its TLS handshake verified). With authentication off, the caller may do anything
/// and its claimed name (`x-bindery-actor`) is recorded.
pub(crate) async fn authenticate(
    store: &dyn Store,
    mode: AuthMode,
    jwt: Option<&JwtVerifier>,
    metadata: &MetadataMap,
    client_cert: Option<Result<Arc<Principal>>>,
    method: &'static str,
) -> Result<Caller, Status> {
    let (who, policy) = match mode {
        AuthMode::Off => (claimed_principal(metadata).map_err(status_from_error)?, Policy::default()),
        AuthMode::Required => {
            let who = async {
                match credential(metadata, client_cert)? {
                    Credential::ApiToken(token) => store
                        .find_token(&token_hash(token))
                        .await?
                        .ok_or_else(invalid_token)?
                        .principal_at(SystemTime::now()),
                    Credential::Jwt(token) => jwt.ok_or_else(jwt_not_configured)?.verify(token).await,
                    Credential::ClientCertificate(who) => Ok(Arc::unwrap_or_clone(who)),
                }
            }
            .await
            .map_err(|e| {
                tracing::info!(method, error = %e, "unauthenticated call refused");
                status_from_error(e)
            })?;
            let policy = store.policy_for(&who.subjects()).await.map_err(status_from_error)?;
            (who, policy)
        }
    };
    let ctx = write_context(metadata, &who).map_err(status_from_error)?;
    Ok(Caller { who, policy, ctx, method })
}

impl Caller {
    fn denied(&self, e: Error) -> Status {
        if matches!(e, Error::PermissionDenied(_)) {
            tracing::warn!(method = self.method, principal = %self.who.name, reason = %e, "call denied");
        }
        status_from_error(e)
    }

    /// At least `need` on `model`.
    pub fn require(&self, need: Role, model: &ModelName) -> Result<(), Status> {
        self.policy.require_model(&self.who, need, model).map_err(|e| self.denied(e))
    }

    /// At least `need` on `scope`.
    pub fn require_scope(&self, need: Role, scope: &Scope) -> Result<(), Status> {
        self.policy.require(&self.who, need, scope).map_err(|e| self.denied(e))
    }

    /// The role moving each of `bindings` of `model` needs (APPROVER when protected).
    pub fn require_bindings<'a>(
        &self,
        model: &ModelName,
        bindings: impl IntoIterator<Item = &'a BindingName>,
    ) -> Result<(), Status> {
        self.policy.require_bindings(&self.who, model, bindings).map_err(|e| self.denied(e))
    }

    /// Any role anywhere (calls about no model in particular).
    pub fn require_any(&self) -> Result<(), Status> {
        self.policy.require_any(&self.who).map_err(|e| self.denied(e))
    }

    pub fn can_view(&self, model: &ModelName) -> bool {
        self.policy.role_on_model(&self.who, model).is_some()
    }

    /// The highest role the caller holds on `model` (`None`: none, so not even VIEWER).
    pub fn role_on(&self, model: &ModelName) -> Option<Role> {
        self.policy.role_on_model(&self.who, model)
    }
}

/// The first admin, created without a running server (`bindery token create --bootstrap`): a
/// token for `principal` and a global ADMIN grant (kept if it exists). Returns the token and its
/// secret, which is shown once.
pub async fn bootstrap_admin(
    store: &dyn Store,
    principal: &str,
    description: &str,
) -> Result<(Token, String)> {
    let ctx = WriteContext::new("bootstrap");
    let (new, secret) = NewToken::generate(principal, description, None, SystemTime::now())?;
    let grant =
        Grant { subject: Subject::parse("principal", principal)?, role: Role::Admin, scope: Scope::Global };
    match store.create_grant(&ctx, &grant).await {
        Ok(_) | Err(Error::AlreadyExists(_)) => {}
        Err(e) => return Err(e),
    }
    let (token, _) = store.create_token(&ctx, &new).await?;
    Ok((token, secret))
}

/// Walks the whole audit chain, oldest first, a batch at a time.
pub async fn verify_audit(store: &dyn Store) -> Result<ChainReport> {
    const BATCH: u32 = 1_000;
    let mut check = ChainCheck::default();
    let mut after = 0;
    loop {
        let rows = store.audit_rows(after, BATCH).await?;
        for row in &rows {
            check.check(row);
        }
        match rows.last() {
            Some(last) if rows.len() == BATCH as usize => after = last.id,
            _ => return Ok(check.finish()),
        }
    }
}
