//! What a read node caches of who may do what: live tokens by the SHA-256 of their secret, and the
//! [`Policy`], kept current by [`AccessChange`]s from the change feed (and built from a snapshot's).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{AuthMethod, Grant, Policy, Principal, Protection, Result, TokenEntry, invalid_token};

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
    use super::*;
    use crate::{Role, Scope, Subject};

    fn grant(subject: &str, role: Role, s: &str) -> Grant {
        Grant {
            subject: Subject::parse("s", subject).unwrap_or_else(|e| panic!("{e}")),
            role,
            scope: Scope::parse("scope", s).unwrap_or_else(|e| panic!("{e}")),
        }
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
