//! API tokens: generating them (`bdy_` and 32 random bytes, only the SHA-256 stored), telling a
//! token from a JWT in an `authorization` header, and what authenticating one needs.

use std::sync::Arc;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{AuthMethod, Error, Principal, Result, Subject, hex};

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

/// What a call presents to prove who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential<'a> {
    /// A Bindery API token (`bdy_…`).
    ApiToken(&'a str),
    /// Something shaped like a JWT (three base64url parts).
    Jwt(&'a str),
    /// A client certificate the TLS handshake verified against `--tls-client-ca`, and the
    /// principal it names ([`certificate_principal`]).
    ClientCertificate(Arc<Principal>),
}

/// The credential a call authenticates with: its bearer token when it sends one (a token names
/// a principal more precisely than the workload's certificate), else the principal of its
/// verified client certificate, else `Unauthenticated` saying what to send.
pub fn call_credential(
    header: Option<&str>,
    client_cert: Option<Result<Arc<Principal>>>,
) -> Result<Credential<'_>> {
    match (header, client_cert) {
        (None, Some(cert)) => cert.map(Credential::ClientCertificate),
        (header, _) => bearer_credential(header),
    }
}

/// The principal a verified client certificate stands for: its first SAN URI (a SPIFFE ID such
/// as `spiffe://cluster.local/ns/serving/sa/sidecar`), else its first SAN DNS name, else its
/// subject CN. The name must pass the same checks as any principal.
pub fn certificate_principal(
    uris: &[&str],
    dns_names: &[&str],
    common_name: Option<&str>,
) -> Result<Principal> {
    let (name, from) = match (uris.first(), dns_names.first(), common_name) {
        (Some(uri), _, _) => (*uri, "SAN URI"),
        (None, Some(dns), _) => (*dns, "SAN DNS name"),
        (None, None, Some(cn)) => (cn, "subject CN"),
        (None, None, None) => {
            return Err(Error::Unauthenticated(
                "the client certificate names no principal: it has no SAN URI, SAN DNS name or subject CN"
                    .into(),
            ));
        }
    };
    Subject::principal("client certificate", name).map_err(|e| {
        Error::Unauthenticated(format!("the client certificate's {from} is not a usable principal: {e}"))
    })?;
    Ok(Principal { name: name.to_owned(), groups: Vec::new(), method: AuthMethod::ClientCertificate })
}

/// JWTs longer than this are refused unread.
pub const MAX_JWT_BYTES: usize = 16_384;

/// The bearer credential of an `authorization` header value, read once; `Unauthenticated` saying
/// what to send when it is missing or neither a Bindery token nor JWT-shaped.
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
    let malformed = || Error::Unauthenticated(format!("the bearer token is malformed: {SEND_A_TOKEN}"));
    if let Some(random) = token.strip_prefix(TOKEN_PREFIX) {
        let well_formed = token.len() == TOKEN_LEN && random.bytes().all(|b| b.is_ascii_hexdigit());
        return if well_formed { Ok(Credential::ApiToken(token)) } else { Err(malformed()) };
    }
    let jwt_shaped = token.len() <= MAX_JWT_BYTES
        && token.split('.').count() == 3
        && token.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if jwt_shaped { Ok(Credential::Jwt(token)) } else { Err(malformed()) }
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{AccessChange, AccessState};

    #[test]
    fn tokens_authenticate_until_revoked_or_expired() {
        let now = SystemTime::now();
        let (token, secret) = NewToken::generate("ci-bot", "ci", Some(now + Duration::from_secs(60)), now)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(secret.starts_with("bdy_") && secret.len() == 68);
        assert_ne!(token.hash, secret);
        assert_eq!(
            bearer_credential(Some(&format!("Bearer {secret}"))).ok(),
            Some(Credential::ApiToken(secret.as_str()))
        );
        for bad in [None, Some("Basic abc"), Some("Bearer bdy_short"), Some("Bearer xyz")] {
            assert!(matches!(bearer_credential(bad), Err(Error::Unauthenticated(_))), "{bad:?}");
        }
        let header = format!("Bearer {secret}");
        assert_eq!(bearer_credential(Some(&header)).ok(), Some(Credential::ApiToken(secret.as_str())));
        assert_eq!(bearer_credential(Some("Bearer aa.bb.cc")).ok(), Some(Credential::Jwt("aa.bb.cc")));
        for bad in ["Bearer aa.bb", "Bearer a b.c.d", "Bearer bdy_x"] {
            assert!(bearer_credential(Some(bad)).is_err(), "{bad}");
        }
        let cert = Arc::new(Principal::unauthenticated("workload"));
        let with_bearer = call_credential(Some("Bearer aa.bb.cc"), Some(Ok(cert.clone())));
        assert_eq!(with_bearer.ok(), Some(Credential::Jwt("aa.bb.cc")), "a bearer token wins");
        let cert_only = call_credential(None, Some(Ok(cert.clone())));
        assert_eq!(cert_only.ok(), Some(Credential::ClientCertificate(cert)));
        assert!(matches!(call_credential(None, None), Err(Error::Unauthenticated(_))));
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
    fn certificate_principals_prefer_uri_then_dns_then_cn() {
        let spiffe = "spiffe://cluster.local/ns/serving/sa/sidecar";
        let name = |uris: &[&str], dns: &[&str], cn| certificate_principal(uris, dns, cn).map(|p| p.name);
        assert_eq!(name(&[spiffe], &["a.example"], Some("cn")).ok().as_deref(), Some(spiffe));
        assert_eq!(name(&[], &["a.example", "b.example"], Some("cn")).ok().as_deref(), Some("a.example"));
        assert_eq!(name(&[], &[], Some("ci-runner")).ok().as_deref(), Some("ci-runner"));
        assert!(matches!(name(&[], &[], None), Err(Error::Unauthenticated(_))));
        assert!(matches!(name(&[], &[], Some("two words")), Err(Error::Unauthenticated(_))));
        let long = "x".repeat(1000);
        assert!(matches!(name(&[&long], &[], None), Err(Error::Unauthenticated(_))));
        let who = certificate_principal(&[spiffe], &[], None).ok();
        assert_eq!(who.map(|p| p.method), Some(AuthMethod::ClientCertificate));
    }
}
