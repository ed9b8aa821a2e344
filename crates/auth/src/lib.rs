//! OIDC / JWT bearer tokens: how Kubernetes projected service-account tokens and corporate SSO
//! reach the registry. A [`JwtVerifier`] checks RS256/ES256 signatures against a JWKS (a file, or
//! an HTTP(S) URL refreshed periodically and when a token names a key id it does not know), the
//! issuer, the audience and the expiry (with a clock-skew allowance), then reads the principal and
//! its groups from configured claims. The crypto is `jsonwebtoken` on aws-lc-rs; nothing here is
//! hand-written crypto. [`ClientCertPrincipals`] names the principal of a verified client
//! certificate (mTLS). What the principal may do is `bindery_core::Policy`'s decision.

mod cert;

pub use cert::ClientCertPrincipals;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use arc_swap::ArcSwap;
use bindery_core::{AuthMethod, Error, Principal, Result, Subject};
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

/// Where the signing keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    File(PathBuf),
    Url(String),
}

#[derive(Debug, Clone)]
pub struct JwtConfig {
    pub jwks: JwksSource,
    /// Required `iss`.
    pub issuer: String,
    /// Required in `aud`.
    pub audience: String,
    /// The claim naming the principal (`sub` by default).
    pub principal_claim: String,
    /// The claim listing the principal's groups (`groups` by default; absent means none).
    pub groups_claim: String,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
    /// How often the JWKS is re-read.
    pub refresh: Duration,
}

/// An unknown key id triggers at most one re-read of the JWKS per this interval, so a stream of
/// forged key ids cannot turn into a stream of fetches.
const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(5);
const MAX_GROUPS: usize = 100;
const MAX_NAME_BYTES: usize = 250;
const MAX_JWKS_BYTES: usize = 1 << 20;

pub struct JwtVerifier {
    config: JwtConfig,
    keys: ArcSwap<JwkSet>,
    last_refresh: Mutex<Instant>,
    refreshing: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("jwks", &self.config.jwks)
            .field("keys", &self.keys.load().keys.len())
            .finish()
    }
}

fn rejected(why: &str) -> Error {
    Error::Unauthenticated(format!(
        "the bearer JWT was not accepted ({why}); send a current token from the configured identity provider"
    ))
}

impl JwtVerifier {
    /// Loads the JWKS once (failing start-up when it cannot), then keeps it fresh in the
    /// background until the returned verifier is dropped by every holder.
    pub async fn start(config: JwtConfig) -> anyhow::Result<Arc<Self>> {
        if config.issuer.is_empty() || config.audience.is_empty() {
            bail!("a JWKS needs --jwt-issuer and --jwt-audience: tokens are checked against both");
        }
        let keys = fetch(&config.jwks).await?;
        let verifier = Arc::new(Self {
            config,
            keys: ArcSwap::from_pointee(keys),
            last_refresh: Mutex::new(Instant::now()),
            refreshing: tokio::sync::Mutex::new(()),
        });
        let weak = Arc::downgrade(&verifier);
        let every = verifier.config.refresh.max(MIN_REFRESH_INTERVAL);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(v) = weak.upgrade() else { return };
                if let Err(e) = v.refresh().await {
                    tracing::warn!(error = %e, "refreshing the JWKS failed; keeping the keys we have");
                }
            }
        });
        Ok(verifier)
    }

    async fn refresh(&self) -> anyhow::Result<()> {
        let _one_at_a_time = self.refreshing.lock().await;
        let keys = fetch(&self.config.jwks).await?;
        tracing::debug!(keys = keys.keys.len(), "JWKS refreshed");
        self.keys.store(Arc::new(keys));
        *self.last_refresh.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Instant::now();
        Ok(())
    }

    /// Re-reads the JWKS for an unknown key id, unless it was read very recently.
    async fn refresh_for_unknown_kid(&self) {
        let recent = self.last_refresh.lock().unwrap_or_else(std::sync::PoisonError::into_inner).elapsed()
            < MIN_REFRESH_INTERVAL;
        if !recent && let Err(e) = self.refresh().await {
            tracing::warn!(error = %e, "refreshing the JWKS for an unknown key id failed");
        }
    }

    /// The principal a JWT stands for; `Unauthenticated` for anything not signed by a configured
    /// key, expired, or for another issuer or audience.
    pub async fn verify(&self, token: &str) -> Result<Principal> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| rejected("unreadable header"))?;
        let kid = header.kid.ok_or_else(|| rejected("no key id (kid) in its header"))?;
        if self.keys.load().find(&kid).is_none() {
            self.refresh_for_unknown_kid().await;
        }
        let keys = self.keys.load();
        let jwk = keys.find(&kid).ok_or_else(|| rejected("signed by an unknown key"))?;
        let expected = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => Algorithm::RS256,
            AlgorithmParameters::EllipticCurve(_) => Algorithm::ES256,
            _ => return Err(rejected("its key is neither RSA nor EC")),
        };
        if header.alg != expected {
            return Err(rejected("its algorithm does not match its key (RS256 or ES256 only)"));
        }
        let key = DecodingKey::from_jwk(jwk).map_err(|_| rejected("its key cannot be used"))?;
        let mut validation = Validation::new(expected);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.leeway = self.config.leeway.as_secs();
        let data =
            jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(token, &key, &validation)
                .map_err(|e| {
                    tracing::debug!(error = %e, "JWT refused");
                    rejected("bad signature, expired, or for another issuer or audience")
                })?;
        let claims = data.claims;
        let claim =
            claims.get(&self.config.principal_claim).and_then(serde_json::Value::as_str).unwrap_or_default();
        // The same rules as any principal's name (not empty, bounded, no white space, no `group:`).
        let name = Subject::principal(&self.config.principal_claim, claim)
            .map_err(|_| rejected(&format!("no usable '{}' claim", self.config.principal_claim)))?;
        let groups = match claims.get(&self.config.groups_claim) {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(serde_json::Value::Array(items)) if items.len() <= MAX_GROUPS => items
                .iter()
                .map(|g| g.as_str().filter(|g| !g.is_empty() && g.len() <= MAX_NAME_BYTES).map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| rejected(&format!("'{}' must list group names", self.config.groups_claim)))?,
            Some(_) => {
                return Err(rejected(&format!(
                    "'{}' must list at most {MAX_GROUPS} group names",
                    self.config.groups_claim
                )));
            }
        };
        Ok(Principal { name, groups, method: AuthMethod::Jwt })
    }
}

async fn fetch(source: &JwksSource) -> anyhow::Result<JwkSet> {
    let body = match source {
        JwksSource::File(path) => tokio::fs::read(path)
            .await
            .with_context(|| format!("reading the JWKS file {}", path.display()))?,
        JwksSource::Url(url) => {
            let transfer = bindery_artifacts::Transfer::new()?;
            let request = bindery_core::PresignedRequest {
                method: "GET".into(),
                url: url.clone(),
                headers: Default::default(),
                expires_at: std::time::SystemTime::now(),
            };
            let reply = tokio::time::timeout(
                Duration::from_secs(10),
                transfer.send_limited(&request, bytes::Bytes::new(), MAX_JWKS_BYTES),
            )
            .await
            .with_context(|| format!("fetching the JWKS from {url}: no answer within 10 s"))?
            .with_context(|| format!("fetching the JWKS from {url}"))?;
            if reply.status != 200 {
                bail!("fetching the JWKS from {url}: HTTP {}", reply.status);
            }
            reply.body.to_vec()
        }
    };
    if body.len() > MAX_JWKS_BYTES {
        bail!("the JWKS is {} bytes, more than the {MAX_JWKS_BYTES} accepted", body.len());
    }
    let keys: JwkSet = serde_json::from_slice(&body).context("the JWKS is not a JSON Web Key Set")?;
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::{EncodingKey, Header};

    use super::*;

    /// A P-256 key generated for the test: its PKCS#8 DER and its JWK.
    fn key(kid: &str) -> (Vec<u8>, serde_json::Value) {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap_or_else(|e| panic!("{e}"));
        let der = pair.to_pkcs8v1().unwrap_or_else(|e| panic!("{e}")).as_ref().to_vec();
        let point = pair.public_key().as_ref();
        let jwk = serde_json::json!({
            "kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        });
        (der, jwk)
    }

    fn sign(der: &[u8], kid: &str, claims: &serde_json::Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(der))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn now() -> u64 {
        jsonwebtoken::get_current_timestamp()
    }

    #[tokio::test]
    async fn verifies_signature_issuer_audience_expiry_and_reads_claims() {
        let (der, jwk) = key("k1");
        let (other_der, _) = key("k1");
        let dir = std::env::temp_dir().join(format!("bindery-jwks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let file = dir.join("jwks.json");
        std::fs::write(&file, serde_json::json!({ "keys": [jwk] }).to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        let verifier = JwtVerifier::start(JwtConfig {
            jwks: JwksSource::File(file),
            issuer: "https://idp".into(),
            audience: "bindery".into(),
            principal_claim: "sub".into(),
            groups_claim: "groups".into(),
            leeway: Duration::from_secs(5),
            refresh: Duration::from_secs(300),
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let good = serde_json::json!({"sub": "system:serviceaccount:ml:trainer", "groups": ["ml"],
            "iss": "https://idp", "aud": "bindery", "exp": now() + 60});
        let p = verifier.verify(&sign(&der, "k1", &good)).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (p.name.as_str(), p.groups.as_slice(), p.method),
            ("system:serviceaccount:ml:trainer", &["ml".to_owned()][..], AuthMethod::Jwt)
        );

        let mut bad = Vec::new();
        bad.push(sign(&other_der, "k1", &good)); // signed by another key
        bad.push(sign(&der, "k2", &good)); // unknown kid
        for (field, value) in [
            ("iss", serde_json::json!("https://evil")),
            ("aud", serde_json::json!("other")),
            ("exp", serde_json::json!(now() - 60)),
            ("sub", serde_json::json!("group:admins")),
            ("groups", serde_json::json!("ml")),
        ] {
            let mut claims = good.clone();
            claims[field] = value;
            bad.push(sign(&der, "k1", &claims));
        }
        let mut no_exp = good.clone();
        no_exp.as_object_mut().map(|m| m.remove("exp"));
        bad.push(sign(&der, "k1", &no_exp));
        for (i, token) in bad.iter().enumerate() {
            match verifier.verify(token).await {
                Err(Error::Unauthenticated(m)) => assert!(m.contains("not accepted"), "{i}: {m}"),
                other => panic!("token {i} accepted: {other:?}"),
            }
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
