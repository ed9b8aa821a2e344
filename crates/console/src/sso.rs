//! Single sign-on: the OpenID Connect authorization-code flow with PKCE (RFC 7636), the flow
//! browsers are meant to use.
//!
//! 1. The page asks `/api/console/sso` where to send the user (the identity provider's
//!    authorization endpoint, found once at start-up by OIDC discovery on `--jwt-issuer`).
//! 2. It makes a random `code_verifier`, `state` and `nonce`, keeps them in the tab's session
//!    storage and navigates to the provider with the verifier's SHA-256 (`code_challenge`).
//! 3. The provider signs the user in and redirects back to the console with a one-time `code`;
//!    the page checks `state` and posts `{code, code_verifier, nonce, redirect_uri}` to
//!    `/api/console/sso/token`.
//! 4. This module redeems the code at the token endpoint (server to server: no CORS at the
//!    provider, and a client secret never reaches the browser), checks the ID token's `nonce`,
//!    and hands back the first of the access token and the ID token that the registry itself
//!    accepts (its `WhoAmI`, under the same JWT verifier every call goes through).
//!
//! The console keeps no session: the token lives in the tab, as a pasted one does, and each call
//! is authenticated and authorised by the registry.

use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bindery_artifacts::Transfer;
use bindery_core::PresignedRequest;
use bindery_primary::Primary;
use bytes::Bytes;
use serde_json::{Value, json};
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::{Code, Status};

/// What the identity provider is asked for and who the console is there.
#[derive(Debug, Clone)]
pub struct SsoSettings {
    /// The provider's issuer (`--jwt-issuer`); discovery reads `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    /// For providers that register the console as a confidential client (sent with HTTP Basic).
    pub client_secret: Option<String>,
    /// Space-separated; must include `openid`.
    pub scopes: String,
}

/// The provider's endpoints and the console's client registration.
#[derive(Clone)]
pub struct Sso {
    authorization_endpoint: String,
    token_endpoint: String,
    settings: SsoSettings,
    transfer: Transfer,
}

impl std::fmt::Debug for Sso {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sso")
            .field("authorization_endpoint", &self.authorization_endpoint)
            .field("token_endpoint", &self.token_endpoint)
            .field("client_id", &self.settings.client_id)
            .finish_non_exhaustive()
    }
}

/// Answers from the provider are small JSON documents.
const MAX_ANSWER_BYTES: usize = 256 * 1024;
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_CODE_BYTES: usize = 4096;

impl Sso {
    /// Reads the provider's discovery document; start-up fails when it cannot (as it does when
    /// the JWKS cannot be loaded), so a misconfigured sign-in is found at deploy time.
    pub async fn discover(settings: SsoSettings) -> anyhow::Result<Self> {
        let SsoSettings { issuer, client_id, scopes, .. } = &settings;
        anyhow::ensure!(
            !client_id.is_empty()
                && client_id.len() <= 256
                && client_id.chars().all(|c| c.is_ascii_graphic()),
            "the console's OIDC client id must be 1 to 256 printable characters"
        );
        anyhow::ensure!(
            scopes.split(' ').any(|s| s == "openid")
                && scopes.chars().all(|c| c == ' ' || c.is_ascii_graphic()),
            "the console's OIDC scopes must be space-separated and include openid, got {scopes:?}"
        );
        let transfer = Transfer::new()?;
        let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
        let request = PresignedRequest {
            method: "GET".into(),
            url: url.clone(),
            headers: vec![("accept".into(), "application/json".into())],
            expires_at: SystemTime::now(),
        };
        let reply = tokio::time::timeout(
            PROVIDER_TIMEOUT,
            transfer.send_limited(&request, Bytes::new(), MAX_ANSWER_BYTES),
        )
        .await
        .map_err(|_| anyhow::anyhow!("OIDC discovery at {url}: no answer within 10 s"))?
        .map_err(|e| anyhow::anyhow!("OIDC discovery at {url}: {e}"))?;
        anyhow::ensure!(reply.status == 200, "OIDC discovery at {url}: HTTP {}", reply.status);
        let doc: Value = serde_json::from_slice(&reply.body)
            .map_err(|e| anyhow::anyhow!("OIDC discovery at {url}: not JSON: {e}"))?;
        let field = |name: &str| doc.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
        // OpenID Connect Discovery 1.0 §4.3: the document's issuer must be the one asked about.
        anyhow::ensure!(
            field("issuer") == *issuer,
            "OIDC discovery at {url} names issuer {:?}, not {issuer:?} (--jwt-issuer must be the provider's exact issuer)",
            field("issuer")
        );
        let endpoint = |name: &str| -> anyhow::Result<String> {
            let value = field(name);
            anyhow::ensure!(
                value.starts_with("https://") || value.starts_with("http://"),
                "OIDC discovery at {url}: {name} {value:?} is not an http(s) URL"
            );
            Ok(value)
        };
        let authorization_endpoint = endpoint("authorization_endpoint")?;
        let token_endpoint = endpoint("token_endpoint")?;
        if let Some(methods) = doc.get("code_challenge_methods_supported").and_then(Value::as_array) {
            anyhow::ensure!(
                methods.iter().any(|m| m.as_str() == Some("S256")),
                "the identity provider at {issuer} does not support PKCE with S256, which the console's sign-in needs"
            );
        }
        Ok(Self { authorization_endpoint, token_endpoint, settings, transfer })
    }

    /// What the page needs to start a sign-in (nothing secret).
    pub(crate) fn public_config(&self) -> Value {
        json!({
            "authorization_endpoint": self.authorization_endpoint,
            "client_id": self.settings.client_id,
            "scope": self.settings.scopes,
        })
    }

    /// Redeems the page's authorization code for a token the registry accepts.
    /// `origin` is the page's (checked equal to this server's by the caller).
    pub(crate) async fn sign_in(
        &self,
        primary: &Primary,
        body: &Value,
        origin: Option<&str>,
    ) -> Result<Value, Status> {
        let form = SignIn::parse(body, origin)?;
        let tokens = self.redeem(&form).await?;
        let id_token = tokens.get("id_token").and_then(Value::as_str);
        if let Some(id_token) = id_token {
            // OpenID Connect Core §3.1.3.7: the ID token came straight from the token endpoint,
            // and its nonce must be the one this tab generated (no replayed sign-in).
            if claim(id_token, "nonce").as_deref() != Some(form.nonce.as_str()) {
                return Err(Status::unauthenticated(
                    "the identity provider's ID token does not carry this sign-in's nonce; sign in again",
                ));
            }
        }
        let access_token =
            tokens.get("access_token").and_then(Value::as_str).filter(|t| t.split('.').count() == 3);
        let mut refusal = None;
        for token in access_token.into_iter().chain(id_token) {
            match who_am_i(primary, token).await {
                Ok(me) => {
                    return Ok(json!({
                        "token": token,
                        "principal": me.get("principal").cloned().unwrap_or(Value::Null),
                    }));
                }
                Err(status) if status.code() == Code::Unauthenticated => refusal = Some(status),
                Err(status) => return Err(status),
            }
        }
        Err(Status::unauthenticated(format!(
            "you signed in at the identity provider, but the registry accepts none of the tokens it issued \
             ({}); the registry's --jwt-issuer and --jwt-audience must match them (an ID token's audience \
             is the client id {:?})",
            refusal.map_or_else(|| "it sent no JWT".to_owned(), |s| s.message().to_owned()),
            self.settings.client_id
        )))
    }

    /// The token request for `form` (RFC 6749 §4.1.3, with RFC 7636's `code_verifier`).
    fn token_request(&self, form: &SignIn) -> (PresignedRequest, String) {
        let mut body = form_urlencoded::Serializer::new(String::new());
        body.append_pair("grant_type", "authorization_code")
            .append_pair("code", &form.code)
            .append_pair("redirect_uri", &form.redirect_uri)
            .append_pair("code_verifier", &form.code_verifier);
        let mut headers = vec![
            ("content-type".to_owned(), "application/x-www-form-urlencoded".to_owned()),
            ("accept".to_owned(), "application/json".to_owned()),
        ];
        match &self.settings.client_secret {
            // RFC 6749 §2.3.1: both parts form-encoded, then Basic.
            Some(secret) => {
                let pair = format!(
                    "{}:{}",
                    form_urlencoded::byte_serialize(self.settings.client_id.as_bytes()).collect::<String>(),
                    form_urlencoded::byte_serialize(secret.as_bytes()).collect::<String>()
                );
                let basic = base64::engine::general_purpose::STANDARD.encode(pair);
                headers.push(("authorization".to_owned(), format!("Basic {basic}")));
            }
            None => {
                body.append_pair("client_id", &self.settings.client_id);
            }
        }
        let request = PresignedRequest {
            method: "POST".into(),
            url: self.token_endpoint.clone(),
            headers,
            expires_at: SystemTime::now(),
        };
        (request, body.finish())
    }

    /// The token endpoint's answer to `grant_type=authorization_code`.
    async fn redeem(&self, form: &SignIn) -> Result<serde_json::Map<String, Value>, Status> {
        let (request, body) = self.token_request(form);
        let unavailable = |why: String| {
            tracing::warn!(endpoint = %self.token_endpoint, %why, "OIDC token endpoint failed");
            Status::unavailable(format!("the identity provider's token endpoint {why}; try again"))
        };
        let reply = tokio::time::timeout(
            PROVIDER_TIMEOUT,
            self.transfer.send_limited(&request, Bytes::from(body), MAX_ANSWER_BYTES),
        )
        .await
        .map_err(|_| unavailable("did not answer within 10 s".into()))?
        .map_err(|e| unavailable(format!("could not be reached ({e})")))?;
        let answer: Option<serde_json::Map<String, Value>> = serde_json::from_slice(&reply.body).ok();
        if reply.status >= 500 {
            return Err(unavailable(format!("answered HTTP {}", reply.status)));
        }
        match answer {
            Some(answer) if reply.status == 200 => Ok(answer),
            answer => {
                // RFC 6749 §5.2: {"error": ..., "error_description": ...}
                let text = |name: &str| {
                    answer
                        .as_ref()
                        .and_then(|a| a.get(name))
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                let (error, description) = (text("error"), text("error_description"));
                Err(Status::unauthenticated(format!(
                    "the identity provider refused the sign-in (HTTP {}: {} {}); sign in again",
                    reply.status,
                    if error.is_empty() { "no error code" } else { &error },
                    description.chars().take(300).collect::<String>()
                )))
            }
        }
    }
}

/// The page's half of the exchange, checked.
#[derive(Debug, PartialEq, Eq)]
struct SignIn {
    code: String,
    code_verifier: String,
    nonce: String,
    redirect_uri: String,
}

impl SignIn {
    fn parse(body: &Value, origin: Option<&str>) -> Result<Self, Status> {
        let text = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
        let code = text("code");
        if code.is_empty() || code.len() > MAX_CODE_BYTES || !code.chars().all(|c| c.is_ascii_graphic()) {
            return Err(Status::invalid_argument(format!(
                "code must be the authorization code the identity provider returned (1 to {MAX_CODE_BYTES} printable characters)"
            )));
        }
        // RFC 7636 §4.1: 43 to 128 unreserved characters. The nonce is held to the same shape.
        let unreserved = |v: &str| {
            (43..=128).contains(&v.len())
                && v.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~'))
        };
        let (code_verifier, nonce) = (text("code_verifier"), text("nonce"));
        for (name, value) in [("code_verifier", &code_verifier), ("nonce", &nonce)] {
            if !unreserved(value) {
                return Err(Status::invalid_argument(format!(
                    "{name} must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636)"
                )));
            }
        }
        let Some(origin) = origin else {
            return Err(Status::invalid_argument(
                "the sign-in exchange is made by the console's page in a browser (it sends Origin)",
            ));
        };
        // The page comes back to the console's root; anything else was not this console's sign-in.
        let redirect_uri = text("redirect_uri");
        if redirect_uri != format!("{origin}/") {
            return Err(Status::invalid_argument(format!(
                "redirect_uri must be this console's address {origin}/, got {redirect_uri:?}"
            )));
        }
        Ok(Self { code, code_verifier, nonce, redirect_uri })
    }
}

/// One claim of a JWT's payload, read without checking the signature: only for a token that came
/// from the token endpoint itself, over the connection this server opened.
fn claim(jwt: &str, name: &str) -> Option<String> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims.get(name)?.as_str().map(str::to_owned)
}

/// The registry's own verdict on `token`.
async fn who_am_i(primary: &Primary, token: &str) -> Result<Value, Status> {
    let mut metadata = MetadataMap::new();
    let value = MetadataValue::try_from(format!("Bearer {token}")).map_err(|_| {
        Status::unauthenticated("the identity provider issued a token with invalid characters")
    })?;
    metadata.insert("authorization", value);
    crate::gateway::call(primary, "WhoAmI", json!({}), metadata).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(redirect: &str) -> Value {
        json!({
            "code": "abc.DEF-123",
            "code_verifier": "v".repeat(43),
            "nonce": "n".repeat(64),
            "redirect_uri": redirect,
        })
    }

    #[test]
    fn the_page_half_is_checked_field_by_field() {
        let origin = Some("http://127.0.0.1:5080");
        let ok = SignIn::parse(&body("http://127.0.0.1:5080/"), origin).unwrap();
        assert_eq!((ok.code.as_str(), ok.redirect_uri.as_str()), ("abc.DEF-123", "http://127.0.0.1:5080/"));

        let refused = |b: Value, origin: Option<&str>| SignIn::parse(&b, origin).unwrap_err();
        assert!(refused(body("https://evil.example/"), origin).message().contains("redirect_uri"));
        assert!(refused(body("http://127.0.0.1:5080/"), None).message().contains("Origin"));
        for (field, value) in [
            ("code", json!("")),
            ("code", json!("a b")),
            ("code", json!("x".repeat(MAX_CODE_BYTES + 1))),
            ("code_verifier", json!("short")),
            ("code_verifier", json!("v".repeat(129))),
            ("code_verifier", json!(format!("{}+", "v".repeat(43)))),
            ("nonce", json!(null)),
        ] {
            let mut b = body("http://127.0.0.1:5080/");
            b[field] = value;
            let status = refused(b, origin);
            assert_eq!(status.code(), Code::InvalidArgument, "{field}");
            assert!(status.message().starts_with(field), "{field}: {}", status.message());
        }
    }

    #[tokio::test]
    async fn the_token_request_is_form_encoded_with_the_verifier_and_the_client() {
        let sso = |secret: Option<&str>| Sso {
            authorization_endpoint: "https://idp/auth".into(),
            token_endpoint: "https://idp/token".into(),
            settings: SsoSettings {
                issuer: "https://idp".into(),
                client_id: "bindery console".into(),
                client_secret: secret.map(str::to_owned),
                scopes: "openid".into(),
            },
            transfer: Transfer::new().unwrap(),
        };
        let form = SignIn::parse(&body("http://c:1/"), Some("http://c:1")).unwrap();
        let (request, text) = sso(None).token_request(&form);
        assert_eq!((request.method.as_str(), request.url.as_str()), ("POST", "https://idp/token"));
        assert_eq!(
            text,
            format!(
                "grant_type=authorization_code&code=abc.DEF-123&redirect_uri=http%3A%2F%2Fc%3A1%2F&code_verifier={}&client_id=bindery+console",
                "v".repeat(43)
            )
        );
        assert!(!request.headers.iter().any(|(k, _)| k == "authorization"));
        // A confidential client: the id and secret go in HTTP Basic, each form-encoded first.
        let (request, text) = sso(Some("s:cret")).token_request(&form);
        assert!(!text.contains("client_id"));
        let basic =
            request.headers.iter().find(|(k, _)| k == "authorization").map(|(_, v)| v.clone()).unwrap();
        let decoded =
            base64::engine::general_purpose::STANDARD.decode(basic.trim_start_matches("Basic ")).unwrap();
        assert_eq!(String::from_utf8(decoded).unwrap(), "bindery+console:s%3Acret");
    }

    #[test]
    fn claims_are_read_from_the_payload() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"nonce":"n-1","sub":"alice"}"#);
        let jwt = format!("eyJhbGciOiJSUzI1NiJ9.{payload}.sig");
        assert_eq!(claim(&jwt, "nonce").as_deref(), Some("n-1"));
        assert_eq!(claim(&jwt, "missing"), None);
        assert_eq!(claim("not-a-jwt", "nonce"), None);
    }
}
