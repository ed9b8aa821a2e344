//! MLflow's model-registry REST API over Bindery (README "MLflow compatibility"): an HTTP/1.1
//! server in the primary and `bindery dev` that answers `/api/2.0/mlflow/registered-models/*`,
//! `/api/2.0/mlflow/model-versions/*` and enough of `/api/2.0/mlflow-artifacts/artifacts` for
//! `mlflow.pyfunc.load_model("models:/<name>@<alias>")`.
//!
//! Every call goes through the primary's own `RegistryService` handlers in process, with the
//! caller's credentials: MLflow's bearer token (`MLFLOW_TRACKING_TOKEN`) as is, its basic auth
//! (`MLFLOW_TRACKING_USERNAME`/`PASSWORD`) with the password as the token. So validation, RBAC,
//! binding protection, promotion gates and the audit trail are the registry's, decided once.

mod artifacts;
mod error;
mod filter;
mod models;
mod shapes;
mod versions;

use std::sync::Arc;

use base64::Engine as _;
use bindery_artifacts::{Artifacts, BodyError, HttpLimits, Transfer, serve_http1};
use bindery_primary::Primary;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use serde_json::{Map, Value};
use tokio::net::TcpListener;
use tonic::metadata::{MetadataMap, MetadataValue};

pub use error::{ApiError, mlflow_code};
pub use filter::{Target, order_by, translate};

use error::ApiResult;

/// Largest JSON request body.
const MAX_JSON_BYTES: usize = 1024 * 1024;
/// Largest file one `mlflow-artifacts` PUT may carry (it is held in memory to hash it before it
/// is stored); larger files go up with `bindery upload`, in parts.
pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 256 * 1024 * 1024;

type Body = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// The facade: the primary's handlers plus the object-store client artifact bytes move through.
#[derive(Clone)]
pub struct Facade {
    primary: Primary,
    artifacts: Arc<Artifacts>,
    transfer: Transfer,
    max_upload_bytes: usize,
    limits: HttpLimits,
}

impl Facade {
    pub fn new(primary: Primary) -> anyhow::Result<Self> {
        let artifacts = primary.artifacts().clone();
        Ok(Self {
            primary,
            artifacts,
            transfer: Transfer::new()?,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            limits: HttpLimits::default(),
        })
    }

    #[must_use]
    pub fn with_max_upload_bytes(mut self, bytes: usize) -> Self {
        self.max_upload_bytes = bytes;
        self
    }

    /// Serves HTTP/1.1 on `listener` until the task is dropped.
    pub async fn serve(self, listener: TcpListener) {
        let limits = self.limits;
        let facade = Arc::new(self);
        serve_http1(listener, limits, move |req| {
            let facade = facade.clone();
            async move { facade.handle(req).await }
        })
        .await;
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let answer = if let Some(endpoint) = path.strip_prefix("/api/2.0/mlflow/") {
            let endpoint = endpoint.trim_end_matches('/').to_owned();
            match Call::read(req, self.limits).await {
                Ok(call) => self.registry(&method, &endpoint, call).await.map(json_response),
                Err(e) => Err(e),
            }
        } else if path == "/api/2.0/mlflow-artifacts/artifacts"
            || path.starts_with("/api/2.0/mlflow-artifacts/artifacts/")
        {
            self.artifacts_endpoint(req).await
        } else if path == "/health" && method == Method::GET {
            Ok(text_response(200, "OK"))
        } else {
            Err(ApiError::endpoint_not_found(method.as_str(), &path))
        };
        answer.unwrap_or_else(|e| {
            if e.http >= 500 && e.code != "NOT_IMPLEMENTED" {
                tracing::warn!(method = %method, path, code = e.code, message = %e.message, "MLflow call failed");
            }
            error_response(&e)
        })
    }

    async fn registry(&self, method: &Method, endpoint: &str, call: Call) -> ApiResult<Value> {
        let m = method.as_str();
        match (m, endpoint) {
            ("POST", "registered-models/create") => self.create_model(call).await,
            ("GET", "registered-models/get") => self.get_model(call).await,
            ("POST", "registered-models/rename") => Err(models::rename_refused()),
            ("PATCH", "registered-models/update") => self.update_model(call).await,
            ("DELETE", "registered-models/delete") => self.delete_model(call).await,
            ("GET", "registered-models/search") => self.search_models(call).await,
            ("GET" | "POST", "registered-models/get-latest-versions") => self.latest_versions(call).await,
            ("POST", "registered-models/set-tag") => self.model_tag(call, true).await,
            ("DELETE", "registered-models/delete-tag") => self.model_tag(call, false).await,
            ("POST", "registered-models/alias") => self.set_alias(call).await,
            ("DELETE", "registered-models/alias") => self.delete_alias(call).await,
            ("GET", "registered-models/alias") => self.get_by_alias(call).await,
            ("POST", "model-versions/create") => self.create_version(call).await,
            ("GET", "model-versions/get") => self.get_version(call).await,
            ("PATCH", "model-versions/update") => self.update_version(call).await,
            ("DELETE", "model-versions/delete") => self.delete_version(call).await,
            ("GET", "model-versions/search") => self.search_versions(call).await,
            ("GET", "model-versions/get-download-uri") => self.download_uri(call).await,
            ("POST", "model-versions/set-tag") => self.version_tag(call, true).await,
            ("DELETE", "model-versions/delete-tag") => self.version_tag(call, false).await,
            ("POST", "model-versions/transition-stage") => self.transition_stage(call).await,
            _ => Err(ApiError::endpoint_not_found(m, &format!("/api/2.0/mlflow/{endpoint}"))),
        }
    }

    /// A tonic request carrying the caller's credentials, for the primary's handlers.
    fn request<T>(&self, call: &Call, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        *request.metadata_mut() = call.metadata.clone();
        request
    }
}

/// One MLflow call: its arguments (the query string of a GET, else the JSON body) and the
/// caller's credentials as gRPC metadata.
pub(crate) struct Call {
    args: Map<String, Value>,
    metadata: MetadataMap,
}

impl Call {
    async fn read(req: Request<Incoming>, limits: HttpLimits) -> ApiResult<Self> {
        let metadata = credentials(req.headers())?;
        let mut args = query_args(req.uri().query().unwrap_or(""));
        if req.method() != Method::GET {
            let body = read_body(req.into_body(), limits, MAX_JSON_BYTES).await?;
            if !body.iter().all(u8::is_ascii_whitespace) {
                let parsed: Value = serde_json::from_slice(&body)
                    .map_err(|e| ApiError::invalid(format!("the request body is not valid JSON: {e}")))?;
                let Value::Object(object) = parsed else {
                    return Err(ApiError::invalid("the request body must be a JSON object"));
                };
                args.extend(object);
            }
        }
        Ok(Self { args, metadata })
    }

    /// A required string argument.
    pub(crate) fn str(&self, key: &str) -> ApiResult<String> {
        match self.opt_str(key)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(ApiError::invalid(format!("Missing value for required parameter '{key}'."))),
        }
    }

    pub(crate) fn opt_str(&self, key: &str) -> ApiResult<Option<String>> {
        match self.args.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Array(a)) if a.len() == 1 => match &a[0] {
                Value::String(s) => Ok(Some(s.clone())),
                _ => Err(ApiError::invalid(format!("parameter '{key}' must be a string"))),
            },
            Some(_) => Err(ApiError::invalid(format!("parameter '{key}' must be a string"))),
        }
    }

    /// A list of strings (a JSON array, or a query parameter given once or repeated).
    pub(crate) fn list(&self, key: &str) -> ApiResult<Vec<String>> {
        match self.args.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(ApiError::invalid(format!("parameter '{key}' must be a list of strings"))),
                })
                .collect(),
            Some(_) => Err(ApiError::invalid(format!("parameter '{key}' must be a list of strings"))),
        }
    }

    pub(crate) fn opt_u64(&self, key: &str) -> ApiResult<Option<u64>> {
        let bad = || ApiError::invalid(format!("parameter '{key}' must be a non-negative integer"));
        match self.args.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(bad),
            Some(_) => self.opt_str(key)?.map(|s| s.trim().parse::<u64>().map_err(|_| bad())).transpose(),
        }
    }

    pub(crate) fn bool(&self, key: &str) -> ApiResult<bool> {
        match self.args.get(key) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => match self.opt_str(key)?.as_deref().map(str::to_ascii_lowercase).as_deref() {
                Some("true") => Ok(true),
                Some("false" | "") | None => Ok(false),
                Some(other) => {
                    Err(ApiError::invalid(format!("parameter '{key}' must be true or false, not {other:?}")))
                }
            },
        }
    }

    /// MLflow's `[{"key": ..., "value": ...}]` tags.
    pub(crate) fn tags(&self) -> ApiResult<Vec<(String, String)>> {
        let Some(value) = self.args.get("tags") else { return Ok(Vec::new()) };
        let bad = || ApiError::invalid("tags must be a list of {\"key\": ..., \"value\": ...}");
        let Value::Array(items) = value else { return Err(bad()) };
        items
            .iter()
            .map(|item| {
                let key = item.get("key").and_then(Value::as_str).ok_or_else(bad)?;
                let value = item.get("value").and_then(Value::as_str).unwrap_or("");
                Ok((key.to_owned(), value.to_owned()))
            })
            .collect()
    }

    /// The version number MLflow sends as a string.
    pub(crate) fn version(&self) -> ApiResult<u64> {
        let raw = self.str("version")?;
        raw.trim().parse::<u64>().ok().filter(|v| *v > 0).ok_or_else(|| {
            ApiError::invalid(format!(
                "Parameter 'version' must be a version number (1, 2, ...), got {raw:?}"
            ))
        })
    }
}

/// The query string as arguments: a key given more than once becomes a list.
fn query_args(query: &str) -> Map<String, Value> {
    let mut args = Map::new();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        let v = Value::String(v.into_owned());
        match args.get_mut(k.as_ref()) {
            Some(Value::Array(list)) => list.push(v),
            Some(first) => *first = Value::Array(vec![first.take(), v]),
            None => {
                args.insert(k.into_owned(), v);
            }
        }
    }
    args
}

/// The caller's credentials as gRPC metadata: `Bearer <token>` passes through; basic auth's
/// password is the token, and its user name the claimed actor (recorded when auth is off).
fn credentials(headers: &hyper::HeaderMap) -> ApiResult<MetadataMap> {
    let mut metadata = MetadataMap::new();
    let Some(value) = headers.get(hyper::header::AUTHORIZATION) else { return Ok(metadata) };
    let unauthenticated = |m: &str| ApiError { code: "UNAUTHENTICATED", http: 401, message: m.to_owned() };
    let value = value.to_str().map_err(|_| unauthenticated("the Authorization header is not text"))?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let token = if scheme.eq_ignore_ascii_case("bearer") {
        rest.trim().to_owned()
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| unauthenticated("the basic credentials are not base64 of user:password"))?;
        let (user, password) = decoded.split_once(':').unwrap_or((decoded.as_str(), ""));
        if !user.is_empty()
            && let Ok(actor) = MetadataValue::try_from(user)
        {
            metadata.insert(bindery_primary::ACTOR_HEADER, actor);
        }
        password.to_owned()
    } else {
        return Err(unauthenticated("the Authorization header must be `Bearer <token>` or basic auth"));
    };
    let bearer = MetadataValue::try_from(format!("Bearer {token}"))
        .map_err(|_| unauthenticated("the token holds characters a token never has"))?;
    metadata.insert("authorization", bearer);
    Ok(metadata)
}

/// A request body, at most `max` bytes, with the idle deadline between frames.
async fn read_body(body: Incoming, limits: HttpLimits, max: usize) -> ApiResult<Bytes> {
    bindery_artifacts::read_body(body, limits.body_idle_timeout, max).await.map_err(|e| match e {
        BodyError::Read(e) => ApiError::invalid(format!("reading the request body: {e}")),
        BodyError::TooLarge { max } => {
            ApiError::too_large(format!("the request body is larger than {max} bytes"))
        }
    })
}

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed()
}

fn respond(status: u16, content_type: &str, body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        response.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    response
}

#[allow(clippy::needless_pass_by_value)] // called as `.map(json_response)`
fn json_response(value: Value) -> Response<Body> {
    respond(200, "application/json", full(value.to_string()))
}

fn text_response(status: u16, text: &'static str) -> Response<Body> {
    respond(status, "text/plain", full(text))
}

fn error_response(e: &ApiError) -> Response<Body> {
    respond(e.http, "application/json", full(e.body().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_query_keys_become_lists_and_credentials_map_to_bearer_tokens() {
        let args = query_args("name=a%20b&order_by=name+ASC&order_by=version");
        assert_eq!(args["name"], "a b");
        assert_eq!(args["order_by"], serde_json::json!(["name ASC", "version"]));

        let mut headers = hyper::HeaderMap::new();
        let basic = base64::engine::general_purpose::STANDARD.encode("alice:bdy_secret");
        headers.insert("authorization", format!("Basic {basic}").parse().unwrap());
        let md = credentials(&headers).unwrap();
        assert_eq!(md.get("authorization").unwrap(), "Bearer bdy_secret");
        assert_eq!(md.get(bindery_primary::ACTOR_HEADER).unwrap(), "alice");
        headers.insert("authorization", "Bearer tok".parse().unwrap());
        assert_eq!(credentials(&headers).unwrap().get("authorization").unwrap(), "Bearer tok");
        headers.insert("authorization", "Digest x".parse().unwrap());
        assert_eq!(credentials(&headers).unwrap_err().http, 401);
    }
}
