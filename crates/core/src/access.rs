//! Who may do what: roles, scopes, grants, protected bindings, and the [`Policy`] that decides.
//! Every decision is a pure function here, so the primary, read nodes and `bindery dev` decide the
//! same way; stores only persist grants and protections, and the change feed carries them to
//! readers as [`AccessChange`]s. Credentials are `token.rs`'s; the read node's cache is
//! `access_state.rs`'s.

use std::fmt;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::names::check_namespace;
use crate::{AccessChange, BindingName, Error, ModelName, Result};

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

    pub(crate) fn specificity(&self) -> u8 {
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
    /// A client certificate verified in the TLS handshake (`--tls-client-ca`).
    ClientCertificate,
    /// Authentication is off (`--auth none`): the name is whatever the caller claimed.
    Unauthenticated,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::Jwt => "jwt",
            Self::ClientCertificate => "client-certificate",
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

/// What a caller may view, for filtering searches and listings in the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Visibility {
    #[default]
    All,
    Only {
        namespaces: Vec<String>,
        models: Vec<ModelName>,
    },
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

    /// What `who` may view (any role): the whole registry, or some namespaces and models. Searches
    /// filter by it in the store, so results and page sizes never reveal the rest.
    pub fn visibility(&self, who: &Principal) -> Visibility {
        if who.method == AuthMethod::Unauthenticated {
            return Visibility::All;
        }
        let mut namespaces = Vec::new();
        let mut models = Vec::new();
        for g in self.grants.iter().filter(|g| g.subject.matches(who)) {
            match &g.scope {
                Scope::Global => return Visibility::All,
                Scope::Namespace(ns) => namespaces.push(ns.clone()),
                Scope::Model(m) => models.push(m.clone()),
            }
        }
        namespaces.sort();
        namespaces.dedup();
        models.sort();
        models.dedup();
        Visibility::Only { namespaces, models }
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
    pub(crate) fn apply(&mut self, change: &AccessChange) {
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

#[cfg(test)]
mod tests {

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
}
