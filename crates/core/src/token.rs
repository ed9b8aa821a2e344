//! API tokens: generating them (`bdy_` and 32 random bytes, only the SHA-256 stored), telling a
//! token from a JWT in an `authorization` header, and what authenticating one needs.

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

/// What a bearer credential is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential<'a> {
    /// A Bindery API token (`bdy_…`).
    ApiToken(&'a str),
    /// Something shaped like a JWT (three base64url parts).
    Jwt(&'a str),
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
}
