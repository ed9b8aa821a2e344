//! Who may follow a read node (tier-2 read nodes, README "Tier-2 read nodes"): whoever presents
//! the node's replication secret. It is a credential of its own, not an API token: what it opens
//! (every token hash, grant and binding the node holds) no role grants, and what roles grant
//! (writes) it does not open.

use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// Shortest secret accepted: 32 characters (e.g. `openssl rand -hex 16` or more).
pub const MIN_SECRET_LEN: usize = 32;
const MAX_SECRET_LEN: usize = 256;

/// A node's replication secret, held as its SHA-256 only.
#[derive(Clone, PartialEq, Eq)]
pub struct ReplicationSecret([u8; 32]);

impl std::fmt::Debug for ReplicationSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReplicationSecret(***)")
    }
}

impl ReplicationSecret {
    /// Checks the secret's shape (32 to 256 printable characters, no spaces).
    pub fn new(secret: &str) -> Result<Self> {
        let secret = secret.trim();
        if !(MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&secret.len())
            || !secret.chars().all(|c| c.is_ascii_graphic())
        {
            return Err(Error::invalid(
                "replication secret",
                format!("must be {MIN_SECRET_LEN} to {MAX_SECRET_LEN} printable characters without spaces"),
            ));
        }
        Ok(Self(Sha256::digest(secret.as_bytes()).into()))
    }

    /// Whether a call's `authorization` header value (`Bearer <secret>`) carries this secret.
    /// Digests are compared without an early exit.
    pub fn check(&self, authorization: Option<&str>) -> Result<()> {
        let Some(presented) = authorization.and_then(|v| v.strip_prefix("Bearer ")) else {
            return Err(Error::Unauthenticated(
                "replication calls need `authorization: Bearer <the node's replication secret>`".into(),
            ));
        };
        let digest: [u8; 32] = Sha256::digest(presented.trim().as_bytes()).into();
        let differ = digest.iter().zip(self.0.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if differ != 0 {
            return Err(Error::Unauthenticated(
                "the replication secret was not accepted; give tier-2 nodes the one this node was started with".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_secret_opens_replication() {
        let secret = "s".repeat(40);
        let node = ReplicationSecret::new(&secret).unwrap();
        assert!(node.check(Some(&format!("Bearer {secret}"))).is_ok());
        for presented in [None, Some(secret.as_str()), Some("Bearer "), Some("Bearer sss"), Some("Basic x")] {
            assert!(matches!(node.check(presented), Err(Error::Unauthenticated(_))), "{presented:?}");
        }
        let other = format!("Bearer {}", "t".repeat(40));
        assert!(node.check(Some(&other)).is_err());
        for bad in ["short", &"x".repeat(300), &format!("{} x", "y".repeat(40))] {
            assert!(matches!(ReplicationSecret::new(bad), Err(Error::InvalidArgument(_))), "{bad}");
        }
        assert_eq!(format!("{node:?}"), "ReplicationSecret(***)");
    }
}
