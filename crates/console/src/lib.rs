//! The web console (README "Web console"): static pages embedded in the binary, served with a
//! strict content-security policy, and a JSON layer over the primary's `RegistryService`.
//!
//! The browser calls `POST /api/v1/<Method>` with the request message as proto3 JSON and gets the
//! response message back the same way. Each call runs the primary's own handler in process with
//! the caller's bearer token, so authentication, RBAC, binding protection, promotion gates,
//! transactions and the audit trail are the registry's: the console decides nothing itself.
//! Only the methods in [`gateway::METHODS`] are exposed: what the pages read, plus the review
//! actions (rollback, approve, reject). With an identity provider configured, [`sso`] signs
//! people in through it (OIDC authorization code with PKCE).

mod fleet;
mod gateway;
mod sso;

use std::sync::Arc;

use bindery_artifacts::{BodyError, HttpLimits, serve_https1};
use bindery_primary::Primary;
use bindery_proto::v1::resolver_service_server::ResolverService;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::Value;
use tokio::net::TcpListener;
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::{Code, Status};

pub use fleet::Reader;
pub use gateway::METHODS;
pub use sso::{Sso, SsoSettings};

/// Largest request body (a JSON request message).
const MAX_BODY_BYTES: usize = 1024 * 1024;

const INDEX_HTML: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const STYLE_CSS: &str = include_str!("../assets/style.css");
const FAVICON_SVG: &str = include_str!("../assets/favicon.svg");

/// Everything the pages load comes from this server; nothing inline, nothing framed.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The console: the primary's handlers and the read nodes the Fleet page reports on.
#[derive(Clone)]
pub struct Console {
    primary: Primary,
    readers: Vec<Reader>,
    sso: Option<Sso>,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: HttpLimits,
}

impl Console {
    pub fn new(primary: Primary) -> Self {
        Self { primary, readers: Vec::new(), sso: None, tls: None, limits: HttpLimits::default() }
    }

    /// Serve HTTPS with this configuration (the process's `--tls-cert`/`--tls-key`).
    #[must_use]
    pub fn with_tls(mut self, tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        self.tls = tls;
        self
    }

    /// `https` or `http`, for the address people are told.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// "Sign in with single sign-on" through this identity provider.
    #[must_use]
    pub fn with_sso(mut self, sso: Option<Sso>) -> Self {
        self.sso = sso;
        self
    }

    /// A read node reached over gRPC (`--console-readers`), for the Fleet page.
    pub fn with_remote_reader(mut self, url: &str) -> Result<Self, String> {
        self.readers.push(Reader::remote(url)?);
        Ok(self)
    }

    /// The resolver serving in this process (`bindery dev`), for the Fleet page.
    #[must_use]
    pub fn with_local_reader<R: ResolverService>(mut self, name: &str, service: Arc<R>) -> Self {
        self.readers.push(Reader::local(name, service));
        self
    }

    /// Serves HTTP/1.1 (over TLS when configured) on `listener` until the task is dropped.
    pub async fn serve(self, listener: TcpListener) {
        let (limits, tls) = (self.limits, self.tls.clone());
        let console = Arc::new(self);
        serve_https1(listener, tls, limits, move |req| {
            let console = console.clone();
            async move { console.handle(req).await }
        })
        .await;
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = req.uri().path().to_owned();
        let method = req.method().clone();
        let mut response = match (&method, path.as_str()) {
            (&Method::GET | &Method::HEAD, "/" | "/index.html") => {
                asset("text/html; charset=utf-8", INDEX_HTML)
            }
            (&Method::GET | &Method::HEAD, "/assets/app.js") => {
                asset("text/javascript; charset=utf-8", APP_JS)
            }
            (&Method::GET | &Method::HEAD, "/assets/style.css") => {
                asset("text/css; charset=utf-8", STYLE_CSS)
            }
            (&Method::GET | &Method::HEAD, "/favicon.svg") => asset("image/svg+xml", FAVICON_SVG),
            (&Method::GET, "/health") => plain(StatusCode::OK, "OK"),
            (_, p) if p.starts_with("/api/") => {
                let answer = if method == Method::POST {
                    self.api(req, &path).await
                } else {
                    Err(Status::invalid_argument(format!(
                        "{path} takes POST with a JSON body (the request message), not {method}"
                    )))
                };
                let mut response = match answer {
                    Ok(value) => json(StatusCode::OK, &value),
                    Err(status) => error(&status),
                };
                response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                response
            }
            _ => plain(StatusCode::NOT_FOUND, "not found: the console's pages are under /"),
        };
        let headers = response.headers_mut();
        for (name, value) in [
            ("content-security-policy", CSP),
            ("x-content-type-options", "nosniff"),
            ("x-frame-options", "DENY"),
            ("referrer-policy", "no-referrer"),
        ] {
            headers.insert(name, HeaderValue::from_static(value));
        }
        response
    }

    async fn api(&self, req: Request<Incoming>, path: &str) -> Result<Value, Status> {
        same_origin(req.headers())?;
        let metadata = credentials(req.headers())?;
        let origin = req.headers().get(header::ORIGIN).and_then(|o| o.to_str().ok()).map(str::to_owned);
        let body = read_json(req.into_body(), self.limits).await?;
        if let Some(name) = path.strip_prefix("/api/v1/") {
            return gateway::call(&self.primary, name, body, metadata).await;
        }
        match path {
            "/api/console/role" => self.role(body, &metadata).await,
            "/api/console/fleet" => Ok(fleet::statuses(&self.readers, &metadata).await),
            "/api/console/sso" => Ok(serde_json::json!({ "sso": self.sso.as_ref().map(Sso::public_config) })),
            "/api/console/sso/token" => match &self.sso {
                Some(sso) => sso.sign_in(&self.primary, &body, origin.as_deref()).await,
                None => Err(Status::failed_precondition(
                    "single sign-on is not configured here (--console-oidc-client-id); sign in with a token",
                )),
            },
            _ => Err(Status::not_found(format!(
                "{path} is not a console API: calls are POST /api/v1/<Method> for {}",
                METHODS.join(", ")
            ))),
        }
    }

    /// `{"model_name": m}` → `{"role": "APPROVER"}` (or null): what the pages offer the caller
    /// on `m`, decided by the primary's policy (the calls themselves are checked again).
    async fn role(&self, body: Value, metadata: &MetadataMap) -> Result<Value, Status> {
        let raw = body.get("model_name").and_then(Value::as_str).unwrap_or("");
        let model =
            bindery_core::ModelName::parse("model_name", raw).map_err(bindery_proto::status_from_error)?;
        let role = self.primary.role_on_model(metadata, &model).await?;
        Ok(serde_json::json!({ "role": role.map(bindery_core::Role::as_str) }))
    }
}

/// A browser sends `Origin` on every POST; one naming another site is a cross-site request
/// (a page elsewhere posting to a console on localhost) and is refused. The JSON content type
/// the pages send cannot be sent cross-site without a CORS preflight, which this server never
/// answers, so a form post cannot reach the handlers either.
fn same_origin(headers: &HeaderMap) -> Result<(), Status> {
    let json = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
    });
    if !json {
        return Err(Status::invalid_argument("console API calls need Content-Type: application/json"));
    }
    let Some(origin) = headers.get(header::ORIGIN) else { return Ok(()) };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    let origin = origin.to_str().unwrap_or("");
    let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
    if host.is_empty() || origin_host != host {
        return Err(Status::permission_denied(format!(
            "cross-origin call refused: Origin {origin:?} is not this console ({host})"
        )));
    }
    Ok(())
}

/// The caller's `Authorization: Bearer <token>` as gRPC metadata (none: the call is anonymous,
/// which the registry refuses unless authentication is off).
fn credentials(headers: &HeaderMap) -> Result<MetadataMap, Status> {
    let mut metadata = MetadataMap::new();
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = MetadataValue::try_from(value.as_bytes()).map_err(|_| {
            Status::unauthenticated("the Authorization header holds characters a token never has")
        })?;
        metadata.insert("authorization", value);
    }
    Ok(metadata)
}

async fn read_json(body: Incoming, limits: HttpLimits) -> Result<Value, Status> {
    let buf =
        bindery_artifacts::read_body(body, limits.body_idle_timeout, MAX_BODY_BYTES).await.map_err(|e| {
            match e {
                BodyError::Read(e) => Status::invalid_argument(format!("reading the request body: {e}")),
                BodyError::TooLarge { max } => {
                    Status::resource_exhausted(format!("the request body is larger than {max} bytes"))
                }
            }
        })?;
    if buf.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    let value: Value = serde_json::from_slice(&buf)
        .map_err(|e| Status::invalid_argument(format!("the request body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(Status::invalid_argument("the request body must be a JSON object (the request message)"));
    }
    Ok(value)
}

/// The HTTP status and name of each gRPC code, for the JSON layer's error answers.
pub fn http_status(code: Code) -> (StatusCode, &'static str) {
    match code {
        Code::Ok => (StatusCode::OK, "OK"),
        Code::InvalidArgument => (StatusCode::BAD_REQUEST, "INVALID_ARGUMENT"),
        Code::OutOfRange => (StatusCode::BAD_REQUEST, "OUT_OF_RANGE"),
        Code::FailedPrecondition => (StatusCode::BAD_REQUEST, "FAILED_PRECONDITION"),
        Code::Unauthenticated => (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"),
        Code::PermissionDenied => (StatusCode::FORBIDDEN, "PERMISSION_DENIED"),
        Code::NotFound => (StatusCode::NOT_FOUND, "NOT_FOUND"),
        Code::AlreadyExists => (StatusCode::CONFLICT, "ALREADY_EXISTS"),
        Code::Aborted => (StatusCode::CONFLICT, "ABORTED"),
        Code::ResourceExhausted => (StatusCode::TOO_MANY_REQUESTS, "RESOURCE_EXHAUSTED"),
        Code::Unimplemented => (StatusCode::NOT_IMPLEMENTED, "UNIMPLEMENTED"),
        Code::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE"),
        Code::DeadlineExceeded => (StatusCode::GATEWAY_TIMEOUT, "DEADLINE_EXCEEDED"),
        Code::Cancelled => (StatusCode::BAD_REQUEST, "CANCELLED"),
        Code::Unknown | Code::Internal | Code::DataLoss => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL"),
    }
}

fn asset(content_type: &'static str, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Assets change only with the binary; a reload after an upgrade must not mix versions.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = asset("text/plain; charset=utf-8", text);
    *response.status_mut() = status;
    response
}

fn json(status: StatusCode, value: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn error(status: &Status) -> Response<Full<Bytes>> {
    let (http, name) = http_status(status.code());
    if http.is_server_error() {
        tracing::warn!(code = name, message = status.message(), "console call failed");
    }
    json(http, &serde_json::json!({ "code": name, "message": status.message() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn cross_site_and_non_json_posts_are_refused() {
        let ok = headers(&[
            ("content-type", "application/json"),
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
        ]);
        assert!(same_origin(&ok).is_ok());
        let no_origin = headers(&[("content-type", "application/json; charset=utf-8"), ("host", "h:1")]);
        assert!(same_origin(&no_origin).is_ok(), "non-browser clients send no Origin");
        let evil = headers(&[
            ("content-type", "application/json"),
            ("host", "127.0.0.1:8080"),
            ("origin", "https://evil.example"),
        ]);
        assert_eq!(same_origin(&evil).unwrap_err().code(), Code::PermissionDenied);
        let form = headers(&[("content-type", "text/plain"), ("host", "127.0.0.1:8080")]);
        assert_eq!(same_origin(&form).unwrap_err().code(), Code::InvalidArgument);
    }

    #[test]
    fn every_code_has_an_http_status_and_bearer_tokens_pass_through() {
        assert_eq!(http_status(Code::PermissionDenied).0, StatusCode::FORBIDDEN);
        assert_eq!(http_status(Code::NotFound).1, "NOT_FOUND");
        let md = credentials(&headers(&[("authorization", "Bearer bdy_x")])).unwrap();
        assert_eq!(md.get("authorization").unwrap(), "Bearer bdy_x");
        assert!(credentials(&HeaderMap::new()).unwrap().is_empty());
    }
}
