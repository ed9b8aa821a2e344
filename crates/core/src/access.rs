//! Who may do what: roles, scopes, grants, protected bindings and API tokens. Every decision is a
//! pure function here, so the primary, read nodes and `bindery dev` decide the same way; stores
//! only persist grants, protections and token hashes, and the change feed carries them to readers
//! as [`AccessChange`]s.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::names::check_namespace;
use crate::{BindingName, Error, ModelName, Result, hex};

/// A role; each includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    /// Every Get, List, Resolve, Watch, GetDownloadUrls and GetReaderStatus.
    Viewer,
    /// Create models, register versions, upload, edit metadata, move unprotected bindings.
    Contributor,
    /// Move protected bindings (`production`, `staging` and whatever an admin protects).
    Approver,
    /// Delete models and versions, grants, tokens, binding protection, audit, GC.
    Admin,
}

impl Role {
    pub const ALL: [Self; 4] = [Self::Viewer, Self::Contributor, Self::Approver, Self::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "VIEWER",
            Self::Contributor => "CONTRIBUTOR",
            Self::Approver => "APPROVER",
            Self::Admin => "ADMIN",
        }
    }

    /// `viewer`, `VIEWER`, … (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a grant or a protection applies: everywhere, one namespace (`fraud/`), or one model.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Scope {
    Global,
    Namespace(String),
    Model(ModelName),
}

impl Scope {
    /// `*` (or empty) is global, `ns/` a namespace, anything else a model name.
    pub fn parse(field: &str, value: &str) -> Result<Self> {
        let value = value.trim();
        if value.is_empty() || value == "*" {
            return Ok(Self::Global);
        }
        if let Some(ns) = value.strip_suffix('/') {
            check_namespace(field, ns)?;
            return Ok(Self::Namespace(ns.to_owned()));
        }
        ModelName::parse(field, value).map(Self::Model).map_err(|_| {
            Error::invalid(
                field,
                format!("{value:?} is not a scope: use `*` (global), `namespace/` or a model name"),
            )
        })
    }

    /// Whether something granted at `self` applies to `target`.
    pub fn covers(&self, target: &Scope) -> bool {
        match (self, target) {
            (Self::Global, _) => true,
            (Self::Namespace(ns), Self::Namespace(t)) => ns == t,
            (Self::Namespace(ns), Self::Model(m)) => m.namespace() == Some(ns.as_str()),
            (Self::Model(a), Self::Model(b)) => a == b,
            _ => false,
        }
    }

    /// [`Scope::covers`] for one model, without building a scope.
    pub fn covers_model(&self, model: &ModelName) -> bool {
        match self {
            Self::Global => true,
            Self::Namespace(ns) => model.namespace() == Some(ns.as_str()),
            Self::Model(m) => m == model,
        }
    }

    fn specificity(&self) -> u8 {
        match self {
            Self::Global => 0,
            Self::Namespace(_) => 1,
            Self::Model(_) => 2,
        }
    }

    /// The stored and wire form: `*`, `ns/` or the model name.
    pub fn to_wire(&self) -> String {
        match self {
            Self::Global => "*".to_owned(),
            Self::Namespace(ns) => format!("{ns}/"),
            Self::Model(m) => m.as_str().to_owned(),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Global => f.write_str("global scope"),
            Self::Namespace(ns) => write!(f, "namespace '{ns}/'"),
            Self::Model(m) => write!(f, "model '{m}'"),
        }
    }
}

impl From<Scope> for String {
    fn from(s: Scope) -> Self {
        s.to_wire()
    }
}

impl TryFrom<String> for Scope {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Self::parse("scope", &s)
    }
}

const MAX_PRINCIPAL_BYTES: usize = 250;
const GROUP_PREFIX: &str = "group:";

fn check_principal(field: &str, name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if name.len() > MAX_PRINCIPAL_BYTES {
        return Err(Error::invalid(
            field,
            format!("is {} bytes, at most {MAX_PRINCIPAL_BYTES} allowed", name.len()),
        ));
    }
    if name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Error::invalid(field, format!("{name:?} contains white space or a control character")));
    }
    Ok(())
}

/// Who a grant is for: a principal, or every member of a group (`group:<name>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Subject {
    Principal(String),
    Group(String),
}

impl Subject {
    pub fn parse(field: &str, value: &str) -> Result<Self> {
        match value.strip_prefix(GROUP_PREFIX) {
            Some(group) => check_principal(field, group).map(|()| Self::Group(group.to_owned())),
            None => check_principal(field, value).map(|()| Self::Principal(value.to_owned())),
        }
    }

    /// A principal's own name (never a group), e.g. the principal of a new token.
    pub fn principal(field: &str, value: &str) -> Result<String> {
        match Self::parse(field, value)? {
            Self::Principal(p) => Ok(p),
            Self::Group(_) => Err(Error::invalid(field, "must name a principal, not a group")),
        }
    }

    pub fn to_wire(&self) -> String {
        match self {
            Self::Principal(p) => p.clone(),
            Self::Group(g) => format!("{GROUP_PREFIX}{g}"),
        }
    }

    fn matches(&self, who: &Principal) -> bool {
        match self {
            Self::Principal(p) => *p == who.name,
            Self::Group(g) => who.groups.iter().any(|mine| mine == g),
        }
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_wire())
    }
}

impl From<Subject> for String {
    fn from(s: Subject) -> Self {
        s.to_wire()
    }
}

impl TryFrom<String> for Subject {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Self::parse("subject", &s)
    }
}

/// `subject` holds `role` at `scope`. The triple is the grant's identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Grant {
    pub subject: Subject,
    pub role: Role,
    pub scope: Scope,
}

/// A stored grant with who made it and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    pub grant: Grant,
    pub created_at: SystemTime,
    pub created_by: String,
}

/// Whether moving `binding` needs APPROVER at `scope` (and below, unless a more specific
/// protection says otherwise). Without any, `production` and `staging` are protected.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Protection {
    pub binding: BindingName,
    pub scope: Scope,
    pub protected: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectionRecord {
    pub protection: Protection,
    pub updated_at: SystemTime,
    pub updated_by: String,
}

/// How a caller proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// A Bindery API token (`bdy_…`).
    Token,
    /// An OIDC / JWT bearer token verified against the configured JWKS.
    Jwt,
    /// Authentication is off (`--auth none`): the name is whatever the caller claimed.
    Unauthenticated,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::Jwt => "jwt",
            Self::Unauthenticated => "none",
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    pub groups: Vec<String>,
    pub method: AuthMethod,
}

impl Principal {
    /// A caller of a registry with authentication off: it may do anything, and its claimed name
    /// is recorded as the actor.
    pub fn unauthenticated(name: impl Into<String>) -> Self {
        Self { name: name.into(), groups: Vec::new(), method: AuthMethod::Unauthenticated }
    }

    /// The subjects grants may name for this caller: its name and `group:<g>` per group.
    pub fn subjects(&self) -> Vec<String> {
        std::iter::once(self.name.clone())
            .chain(self.groups.iter().map(|g| format!("{GROUP_PREFIX}{g}")))
            .collect()
    }
}

/// The grants and protections that decide a caller's requests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    grants: Vec<Grant>,
    protections: Vec<Protection>,
}

impl Policy {
    pub fn new(grants: Vec<Grant>, protections: Vec<Protection>) -> Self {
        Self { grants, protections }
    }

    pub fn grants(&self) -> &[Grant] {
        &self.grants
    }

    /// The highest role `who` holds on `target`; authentication off holds every role.
    pub fn role_on(&self, who: &Principal, target: &Scope) -> Option<Role> {
        if who.method == AuthMethod::Unauthenticated {
            return Some(Role::Admin);
        }
        self.grants.iter().filter(|g| g.subject.matches(who) && g.scope.covers(target)).map(|g| g.role).max()
    }

    /// [`Policy::role_on`] a model (allocation-free: the read path's check).
    pub fn role_on_model(&self, who: &Principal, model: &ModelName) -> Option<Role> {
        if who.method == AuthMethod::Unauthenticated {
            return Some(Role::Admin);
        }
        self.grants
            .iter()
            .filter(|g| g.subject.matches(who) && g.scope.covers_model(model))
            .map(|g| g.role)
            .max()
    }

    /// [`Policy::require`] on a model.
    pub fn require_model(&self, who: &Principal, need: Role, model: &ModelName) -> Result<()> {
        if self.role_on_model(who, model).is_some_and(|r| r >= need) {
            return Ok(());
        }
        self.require(who, need, &Scope::Model(model.clone()))
    }

    /// The highest role `who` holds anywhere.
    pub fn highest_role(&self, who: &Principal) -> Option<Role> {
        if who.method == AuthMethod::Unauthenticated {
            return Some(Role::Admin);
        }
        self.grants.iter().filter(|g| g.subject.matches(who)).map(|g| g.role).max()
    }

    /// `Ok` when `who` holds at least `need` on `target`; else `PermissionDenied` naming the
    /// principal, the role needed and the scope.
    pub fn require(&self, who: &Principal, need: Role, target: &Scope) -> Result<()> {
        let has = self.role_on(who, target);
        if has.is_some_and(|r| r >= need) {
            return Ok(());
        }
        let has = has.map_or_else(|| "no role".to_owned(), |r| format!("{r}"));
        Err(Error::PermissionDenied(format!(
            "principal '{}' needs the {need} role on {target} (has {has} there); ask an admin for a grant",
            who.name
        )))
    }

    /// `Ok` when `who` holds any role at all (calls about the node itself, e.g. GetReaderStatus).
    pub fn require_any(&self, who: &Principal) -> Result<()> {
        if self.highest_role(who).is_some() {
            return Ok(());
        }
        Err(Error::PermissionDenied(format!(
            "principal '{}' holds no role anywhere; ask an admin for a VIEWER grant",
            who.name
        )))
    }

    /// Whether `binding` of `model` is protected: the most specific protection naming it
    /// decides; without one, stages (`production`, `staging`) are.
    pub fn is_protected(&self, model: &ModelName, binding: &BindingName) -> bool {
        let target = Scope::Model(model.clone());
        self.protections
            .iter()
            .filter(|p| p.binding == *binding && p.scope.covers(&target))
            .max_by_key(|p| p.scope.specificity())
            .map_or_else(|| binding.is_stage(), |p| p.protected)
    }

    /// The role moving `binding` of `model` needs.
    pub fn binding_role(&self, model: &ModelName, binding: &BindingName) -> Role {
        if self.is_protected(model, binding) { Role::Approver } else { Role::Contributor }
    }

    /// Requires the role every one of `bindings` needs on `model` (the strictest).
    pub fn require_bindings<'a>(
        &self,
        who: &Principal,
        model: &ModelName,
        bindings: impl IntoIterator<Item = &'a BindingName>,
    ) -> Result<()> {
        let mut need = Role::Contributor;
        let mut protected = None;
        for b in bindings {
            if self.binding_role(model, b) == Role::Approver {
                need = Role::Approver;
                protected.get_or_insert(b);
            }
        }
        self.require(who, need, &Scope::Model(model.clone())).map_err(|e| match (e, protected) {
            (Error::PermissionDenied(m), Some(b)) => {
                Error::PermissionDenied(format!("binding '{b}' is protected: {m}"))
            }
            (e, _) => e,
        })
    }

    /// Applies one access change (grants and protections; tokens are [`AccessState`]'s).
    fn apply(&mut self, change: &AccessChange) {
        match change {
            AccessChange::GrantCreated { grant } => {
                if !self.grants.contains(grant) {
                    self.grants.push(grant.clone());
                }
            }
            AccessChange::GrantDeleted { grant } => self.grants.retain(|g| g != grant),
            AccessChange::ProtectionSet { protection } => {
                self.protections
                    .retain(|p| !(p.binding == protection.binding && p.scope == protection.scope));
                self.protections.push(protection.clone());
            }
            AccessChange::TokenCreated { .. } | AccessChange::TokenRevoked { .. } => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tokens

/// Every API token starts with this, so secret scanners and people recognise one.
pub const TOKEN_PREFIX: &str = "bdy_";
const TOKEN_RANDOM_BYTES: usize = 32;
const TOKEN_LEN: usize = TOKEN_PREFIX.len() + 2 * TOKEN_RANDOM_BYTES;

/// A new secret: `bdy_` and 32 random bytes (64 hex characters) from the OS.
pub fn generate_token() -> Result<String> {
    let mut bytes = [0u8; TOKEN_RANDOM_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| Error::Internal(format!("no randomness for a token: {e}")))?;
    Ok(format!("{TOKEN_PREFIX}{}", hex(&bytes)))
}

/// What is stored for a token: the lowercase hex SHA-256 of the whole secret.
pub fn token_hash(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

const SEND_A_TOKEN: &str = "send `authorization: Bearer <token>` with a token from `bindery token create` (or a JWT from your identity provider where one is configured)";

/// What a bearer credential is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential<'a> {
    /// A Bindery API token (`bdy_…`).
    ApiToken(&'a str),
    /// Something shaped like a JWT (three base64url parts).
    Jwt(&'a str),
}

/// The bearer credential of an `authorization` header value.
pub fn bearer_credential(header: Option<&str>) -> Result<Credential<'_>> {
    let value = header.ok_or_else(|| {
        Error::Unauthenticated(format!("this registry requires authentication: {SEND_A_TOKEN}"))
    })?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .ok_or_else(|| {
            Error::Unauthenticated(format!("the authorization header is not a bearer token: {SEND_A_TOKEN}"))
        })?;
    if token.starts_with(TOKEN_PREFIX) {
        return bearer_token(header).map(Credential::ApiToken);
    }
    let jwt_shaped = token.len() <= MAX_JWT_BYTES
        && token.split('.').count() == 3
        && token.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if jwt_shaped {
        Ok(Credential::Jwt(token))
    } else {
        Err(Error::Unauthenticated(format!("the bearer token is malformed: {SEND_A_TOKEN}")))
    }
}

/// JWTs longer than this are refused unread.
pub const MAX_JWT_BYTES: usize = 16_384;

/// The bearer token of an `authorization` header value; `Unauthenticated` saying what to send
/// when it is missing or not a Bindery token.
pub fn bearer_token(header: Option<&str>) -> Result<&str> {
    let Some(value) = header else {
        return Err(Error::Unauthenticated(format!("this registry requires authentication: {SEND_A_TOKEN}")));
    };
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .ok_or_else(|| {
            Error::Unauthenticated(format!("the authorization header is not a bearer token: {SEND_A_TOKEN}"))
        })?;
    let well_formed = token.len() == TOKEN_LEN
        && token.starts_with(TOKEN_PREFIX)
        && token[TOKEN_PREFIX.len()..].bytes().all(|b| b.is_ascii_hexdigit());
    if !well_formed {
        return Err(Error::Unauthenticated(format!("the bearer token is malformed: {SEND_A_TOKEN}")));
    }
    Ok(token)
}

/// The same answer for an unknown, expired or revoked token: never which check failed.
pub fn invalid_token() -> Error {
    Error::Unauthenticated(format!(
        "the bearer token is not valid (unknown, expired or revoked): {SEND_A_TOKEN}"
    ))
}

/// What authenticating a live (not revoked) token needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenEntry {
    pub principal: String,
    #[serde(default, with = "crate::model::opt_unix_micros", skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<SystemTime>,
}

impl TokenEntry {
    /// The principal, unless the token expired by `now`.
    pub fn principal_at(&self, now: SystemTime) -> Result<Principal> {
        if self.expires_at.is_some_and(|e| e <= now) {
            return Err(invalid_token());
        }
        Ok(Principal { name: self.principal.clone(), groups: Vec::new(), method: AuthMethod::Token })
    }
}

/// A token as listed (the secret is never stored, its hash never shown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub id: String,
    pub principal: String,
    pub description: String,
    pub created_at: SystemTime,
    pub created_by: String,
    pub expires_at: Option<SystemTime>,
    pub revoked_at: Option<SystemTime>,
}

/// A `CreateToken` request, validated; `hash` is of the secret the caller is given once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub id: String,
    pub principal: String,
    pub description: String,
    pub expires_at: Option<SystemTime>,
    pub hash: String,
}

impl NewToken {
    /// A token for `principal` with a fresh secret; returns it with the secret.
    pub fn generate(
        principal: &str,
        description: &str,
        expires_at: Option<SystemTime>,
        now: SystemTime,
    ) -> Result<(Self, String)> {
        let principal = Subject::principal("principal", principal)?;
        crate::validate::text("description", description, 1_000)?;
        if expires_at.is_some_and(|e| e <= now) {
            return Err(Error::invalid("expires_at", "is in the past; give a future time or none"));
        }
        let secret = generate_token()?;
        let mut id_bytes = [0u8; 16];
        getrandom::fill(&mut id_bytes)
            .map_err(|e| Error::Internal(format!("no randomness for a token id: {e}")))?;
        let token = Self {
            id: format!("tok_{}", hex(&id_bytes)),
            principal,
            description: description.to_owned(),
            expires_at,
            hash: token_hash(&secret),
        };
        Ok((token, secret))
    }

    pub fn entry(&self) -> TokenEntry {
        TokenEntry { principal: self.principal.clone(), expires_at: self.expires_at }
    }
}

/// Checks a token id from a request (`tok_` and 32 hex characters).
pub fn token_id(field: &str, id: &str) -> Result<String> {
    let ok = id.len() == 36 && id.starts_with("tok_") && id[4..].bytes().all(|b| b.is_ascii_hexdigit());
    if ok {
        Ok(id.to_ascii_lowercase())
    } else {
        Err(Error::invalid(field, format!("{id:?} is not a token id (tok_…)")))
    }
}

// ---------------------------------------------------------------------------------------------
// What read nodes cache

/// One change to who may do what, as the change feed carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum AccessChange {
    TokenCreated { hash: String, token: TokenEntry },
    TokenRevoked { hash: String },
    GrantCreated { grant: Grant },
    GrantDeleted { grant: Grant },
    ProtectionSet { protection: Protection },
}

/// A live token as a read node holds it: its expiry, and its principal built once (the hot path
/// neither allocates nor formats).
#[derive(Debug, Clone, PartialEq, Eq)]
struct LiveToken {
    expires_at: Option<SystemTime>,
    principal: Arc<Principal>,
}

/// A token's SHA-256, raw.
type TokenDigest = [u8; 32];

/// Live tokens (by hash) and the policy: everything a read node needs to authenticate and
/// authorize without asking the database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessState {
    /// Keyed by SHA-256 digests, which nobody can steer into one bucket without preimages: a
    /// fixed fast hasher is enough.
    tokens: HashMap<TokenDigest, LiveToken, foldhash::fast::FixedState>,
    policy: Policy,
}

fn digest_of_hex(hash: &str) -> Option<TokenDigest> {
    crate::unhex(hash)?.try_into().ok()
}

impl AccessState {
    /// The state a snapshot's access changes (creations only) describe.
    pub fn from_changes<'a>(changes: impl IntoIterator<Item = &'a AccessChange>) -> Self {
        let mut state = Self::default();
        for c in changes {
            state.apply(c);
        }
        state
    }

    pub fn apply(&mut self, change: &AccessChange) {
        match change {
            AccessChange::TokenCreated { hash, token } => {
                if let Some(digest) = digest_of_hex(hash) {
                    let principal = Arc::new(Principal {
                        name: token.principal.clone(),
                        groups: Vec::new(),
                        method: AuthMethod::Token,
                    });
                    self.tokens.insert(digest, LiveToken { expires_at: token.expires_at, principal });
                }
            }
            AccessChange::TokenRevoked { hash } => {
                if let Some(digest) = digest_of_hex(hash) {
                    self.tokens.remove(&digest);
                }
            }
            other => self.policy.apply(other),
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn tokens_count(&self) -> usize {
        self.tokens.len()
    }

    /// The principal a bearer token stands for at `now`.
    pub fn authenticate(&self, token: &str, now: SystemTime) -> Result<Principal> {
        self.authenticate_shared(token, || now).map(|p| Principal::clone(&p))
    }

    /// [`AccessState::authenticate`] without copying the principal; `now` is asked only for a
    /// token that expires.
    pub fn authenticate_shared(
        &self,
        token: &str,
        now: impl FnOnce() -> SystemTime,
    ) -> Result<Arc<Principal>> {
        let digest: TokenDigest = Sha256::digest(token.as_bytes()).into();
        let live = self.tokens.get(&digest).ok_or_else(invalid_token)?;
        if live.expires_at.is_some_and(|e| e <= now()) {
            return Err(invalid_token());
        }
        Ok(live.principal.clone())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn model(s: &str) -> ModelName {
        ModelName::parse("m", s).unwrap_or_else(|e| panic!("{e}"))
    }

    fn binding(s: &str) -> BindingName {
        BindingName::parse("b", s).unwrap_or_else(|e| panic!("{e}"))
    }

    fn scope(s: &str) -> Scope {
        Scope::parse("scope", s).unwrap_or_else(|e| panic!("{e}"))
    }

    fn grant(subject: &str, role: Role, s: &str) -> Grant {
        Grant {
            subject: Subject::parse("s", subject).unwrap_or_else(|e| panic!("{e}")),
            role,
            scope: scope(s),
        }
    }

    fn user(name: &str, groups: &[&str]) -> Principal {
        Principal {
            name: name.into(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            method: AuthMethod::Token,
        }
    }

    #[test]
    fn scopes_parse_and_cover() {
        assert_eq!(scope("*"), Scope::Global);
        assert_eq!(scope(""), Scope::Global);
        assert_eq!(scope("fraud/"), Scope::Namespace("fraud".into()));
        assert_eq!(scope("fraud/detector"), Scope::Model(model("fraud/detector")));
        assert!(Scope::parse("scope", "Fraud/").is_err());
        assert!(Scope::parse("scope", "a/b/c").is_err());
        let m = scope("fraud/detector");
        assert!(Scope::Global.covers(&m));
        assert!(scope("fraud/").covers(&m));
        assert!(!scope("recs/").covers(&m));
        assert!(!scope("fraud").covers(&m), "a model named like the namespace is not the namespace");
        assert!(!m.covers(&scope("fraud/")));
        assert_eq!(scope("fraud/").to_wire(), "fraud/");
    }

    #[test]
    fn the_highest_matching_grant_decides() {
        let policy = Policy::new(
            vec![
                grant("alice", Role::Viewer, "*"),
                grant("alice", Role::Contributor, "fraud/"),
                grant("group:risk", Role::Approver, "fraud/detector"),
            ],
            vec![],
        );
        let alice = user("alice", &[]);
        let target = scope("fraud/detector");
        assert_eq!(policy.role_on(&alice, &target), Some(Role::Contributor));
        assert_eq!(policy.role_on(&user("alice", &["risk"]), &target), Some(Role::Approver));
        assert_eq!(policy.role_on(&alice, &scope("recs/m")), Some(Role::Viewer));
        assert_eq!(policy.role_on(&user("bob", &[]), &target), None);
        assert!(policy.require(&alice, Role::Contributor, &target).is_ok());
        match policy.require(&alice, Role::Approver, &target) {
            Err(Error::PermissionDenied(m)) => {
                for needle in ["'alice'", "APPROVER", "model 'fraud/detector'", "CONTRIBUTOR"] {
                    assert!(m.contains(needle), "{m}");
                }
            }
            other => panic!("{other:?}"),
        }
        assert!(policy.require_any(&user("bob", &[])).is_err());
        assert_eq!(policy.role_on(&Principal::unauthenticated("x"), &target), Some(Role::Admin));
    }

    #[test]
    fn stages_are_protected_unless_a_more_specific_protection_says_otherwise() {
        let m = model("fraud/detector");
        let mut policy = Policy::default();
        assert!(policy.is_protected(&m, &binding("production")));
        assert!(policy.is_protected(&m, &binding("staging")));
        assert!(!policy.is_protected(&m, &binding("champion")));
        let set = |binding_name: &str, s: &str, protected: bool| AccessChange::ProtectionSet {
            protection: Protection { binding: binding(binding_name), scope: scope(s), protected },
        };
        policy.apply(&set("champion", "fraud/", true));
        policy.apply(&set("production", "fraud/detector", false));
        assert!(policy.is_protected(&m, &binding("champion")));
        assert!(!policy.is_protected(&model("recs/x"), &binding("champion")));
        assert!(!policy.is_protected(&m, &binding("production")));
        assert!(policy.is_protected(&model("fraud/other"), &binding("production")));
        // Replacing a protection at the same scope.
        policy.apply(&set("champion", "fraud/", false));
        assert!(!policy.is_protected(&m, &binding("champion")));

        let contributor = Policy::new(vec![grant("c", Role::Contributor, "*")], vec![]);
        let c = user("c", &[]);
        assert!(contributor.require_bindings(&c, &m, [&binding("champion")]).is_ok());
        match contributor.require_bindings(&c, &m, [&binding("champion"), &binding("production")]) {
            Err(Error::PermissionDenied(msg)) => assert!(msg.contains("'production' is protected"), "{msg}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn tokens_authenticate_until_revoked_or_expired() {
        let now = SystemTime::now();
        let (token, secret) = NewToken::generate("ci-bot", "ci", Some(now + Duration::from_secs(60)), now)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(secret.starts_with("bdy_") && secret.len() == 68);
        assert_ne!(token.hash, secret);
        assert_eq!(bearer_token(Some(&format!("Bearer {secret}"))).ok(), Some(secret.as_str()));
        for bad in [None, Some("Basic abc"), Some("Bearer bdy_short"), Some("Bearer xyz")] {
            assert!(matches!(bearer_token(bad), Err(Error::Unauthenticated(_))), "{bad:?}");
        }
        let header = format!("Bearer {secret}");
        assert_eq!(bearer_credential(Some(&header)).ok(), Some(Credential::ApiToken(secret.as_str())));
        assert_eq!(bearer_credential(Some("Bearer aa.bb.cc")).ok(), Some(Credential::Jwt("aa.bb.cc")));
        for bad in ["Bearer aa.bb", "Bearer a b.c.d", "Bearer bdy_x"] {
            assert!(bearer_credential(Some(bad)).is_err(), "{bad}");
        }
        let mut state = AccessState::default();
        assert!(state.authenticate(&secret, now).is_err());
        state.apply(&AccessChange::TokenCreated { hash: token.hash.clone(), token: token.entry() });
        assert_eq!(state.authenticate(&secret, now).map(|p| p.name).ok().as_deref(), Some("ci-bot"));
        assert!(state.authenticate(&secret, now + Duration::from_secs(61)).is_err(), "expired");
        state.apply(&AccessChange::TokenRevoked { hash: token.hash });
        assert_eq!(state.authenticate(&secret, now), Err(invalid_token()));
        assert!(NewToken::generate("group:x", "", None, now).is_err());
        assert!(NewToken::generate("a", "", Some(now - Duration::from_secs(1)), now).is_err());
        assert!(token_id("id", &token.id).is_ok());
        assert!(token_id("id", "tok_zz").is_err());
    }

    #[test]
    fn access_changes_round_trip_as_json() {
        let changes = vec![
            AccessChange::GrantCreated { grant: grant("group:ml", Role::Approver, "fraud/") },
            AccessChange::TokenCreated {
                hash: "ab".repeat(32),
                token: TokenEntry { principal: "p".into(), expires_at: None },
            },
        ];
        let json = serde_json::to_value(&changes).unwrap_or_default();
        assert_eq!(json[0]["grant"]["scope"], "fraud/");
        assert_eq!(json[0]["grant"]["subject"], "group:ml");
        let back: Vec<AccessChange> = serde_json::from_value(json).unwrap_or_default();
        assert_eq!(back, changes);
        let state = AccessState::from_changes(&changes);
        assert_eq!(state.tokens_count(), 1);
        assert_eq!(state.policy().grants().len(), 1);
    }
}
