//! Request builders shared by the tests.

use bindery_proto::v1;
use bindery_proto::v1::registry_service_client::RegistryServiceClient;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

pub use bindery_test_util::{Backend, TestDb, TestPrimary, TestRegistry};

pub type Registry = RegistryServiceClient<Channel>;
pub type Resolver = v1::resolver_service_client::ResolverServiceClient<Channel>;

pub fn artifact(uri: &str) -> v1::Artifact {
    v1::Artifact {
        uri: uri.to_owned(),
        sha256: "ab".repeat(32),
        size_bytes: 1_024,
        format: "onnx".into(),
        ..Default::default()
    }
}

pub fn register_request(model: &str, request_id: &str) -> v1::RegisterVersionRequest {
    v1::RegisterVersionRequest {
        model_name: model.to_owned(),
        request_id: request_id.to_owned(),
        artifact: Some(artifact(&format!("s3://models/{model}/{request_id}/model.onnx"))),
        params: [("lr".to_owned(), "0.01".to_owned())].into(),
        metrics: [("auc".to_owned(), 0.91)].into(),
        tags: [("team".to_owned(), "fraud".to_owned())].into(),
        lineage: Some(v1::Lineage {
            training_run_id: format!("run-{request_id}"),
            code_ref: "git+https://example.com/fraud@abc123".into(),
            datasets: vec![v1::DatasetRef { uri: "s3://data/fraud".into(), version: "2026-11-01".into() }],
            parent_versions: vec![],
            environment: [("python".to_owned(), "3.11".to_owned())].into(),
        }),
        signature: Some(v1::Signature {
            inputs_json: r#"{"amount": "float"}"#.into(),
            outputs_json: r#"{"score": "float"}"#.into(),
        }),
        description: "nightly".into(),
        upload_session_id: String::new(),
        ..Default::default()
    }
}

pub async fn create_model(registry: &mut Registry, name: &str) -> v1::Model {
    registry
        .create_model(v1::CreateModelRequest { name: name.to_owned(), ..Default::default() })
        .await
        .unwrap_or_else(|s| panic!("create_model {name}: {s:?}"))
        .into_inner()
}

pub async fn register(registry: &mut Registry, model: &str, request_id: &str) -> v1::RegisterVersionResponse {
    registry
        .register_version(register_request(model, request_id))
        .await
        .unwrap_or_else(|s| panic!("register {model}/{request_id}: {s:?}"))
        .into_inner()
}

pub async fn bind(
    registry: &mut Registry,
    model: &str,
    binding: &str,
    version: u64,
    expected_generation: Option<u64>,
) -> Result<v1::SetBindingResponse, Status> {
    registry
        .set_binding(v1::SetBindingRequest {
            model_name: model.to_owned(),
            binding: binding.to_owned(),
            version,
            expected_generation,
            reason: format!("bind {binding} to {version}"),
            ..Default::default()
        })
        .await
        .map(tonic::Response::into_inner)
}

pub async fn unbind(
    registry: &mut Registry,
    model: &str,
    binding: &str,
    expected_generation: Option<u64>,
) -> Result<v1::DeleteBindingResponse, Status> {
    registry
        .delete_binding(v1::DeleteBindingRequest {
            model_name: model.to_owned(),
            binding: binding.to_owned(),
            expected_generation,
            reason: format!("unbind {binding}"),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// `RollbackBinding` to the target before the latest change.
pub async fn rollback(
    registry: &mut Registry,
    model: &str,
    binding: &str,
) -> Result<v1::SetBindingResponse, Status> {
    registry
        .rollback_binding(v1::RollbackBindingRequest {
            model_name: model.to_owned(),
            binding: binding.to_owned(),
            ..Default::default()
        })
        .await
        .map(tonic::Response::into_inner)
}

/// A request carrying the caller's identity header.
pub fn as_actor<T>(message: T, actor: &str) -> Request<T> {
    let mut request = Request::new(message);
    if let Ok(value) = actor.parse() {
        request.metadata_mut().insert("x-bindery-actor", value);
    }
    request
}

/// Asserts `result` failed with `code` and a message containing every one of `needles`.
#[track_caller]
pub fn assert_status<T: std::fmt::Debug>(result: Result<T, Status>, code: Code, needles: &[&str]) {
    match result {
        Ok(v) => panic!("expected {code:?}, got Ok({v:?})"),
        Err(s) => {
            assert_eq!(s.code(), code, "wrong code; message: {}", s.message());
            for needle in needles {
                assert!(
                    s.message().contains(needle),
                    "message {:?} does not mention {needle:?}",
                    s.message()
                );
            }
        }
    }
}

/// `registry_state.revision` read straight from the database.
pub async fn db_revision(db: &TestDb) -> u64 {
    let client = db.client().await.expect("db client");
    let revision: i64 =
        client.query_one("SELECT revision FROM registry_state", &[]).await.expect("revision").get(0);
    u64::try_from(revision).expect("non-negative")
}

/// `bindery ARGV...` (the CLI, in-process) against `registry`; its output, or its error.
pub async fn cli(registry: &TestRegistry, argv: &[&str]) -> anyhow::Result<String> {
    use clap::Parser;
    let endpoint = registry.endpoint();
    let mut full = vec!["bindery", "--server", endpoint.as_str()];
    full.extend_from_slice(argv);
    let cli = bindery_server::cli::ClientCli::try_parse_from(full)?;
    bindery_server::cli::run(cli.args, cli.command).await
}

/// Resolves `binding` of `model` with `routing_key` (empty: none), at or after `min_revision`.
pub async fn resolve_with(
    resolver: &mut Resolver,
    model: &str,
    binding: &str,
    routing_key: &str,
    min_revision: u64,
) -> v1::ResolveResponse {
    resolver
        .resolve(v1::ResolveRequest {
            model_name: model.into(),
            binding: binding.into(),
            min_revision,
            routing_key: routing_key.into(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("resolve {model} {binding} {routing_key:?}: {e}"))
        .into_inner()
}

/// A policy gating `production` of `model` (only) on `metrics.auc >= min`.
pub fn auc_policy(model: &str, min: f64) -> v1::SetPromotionPolicyRequest {
    v1::SetPromotionPolicyRequest {
        binding: "production".into(),
        scope: model.into(),
        gates: vec![v1::Gate {
            kind: Some(v1::gate::Kind::MetricThreshold(v1::MetricThresholdGate {
                metric: "auc".into(),
                op: ">=".into(),
                value: min,
            })),
        }],
    }
}

/// Every change of `binding` of `model`, newest first.
pub async fn binding_history(
    registry: &mut Registry,
    model: &str,
    binding: &str,
) -> Vec<v1::BindingHistoryEntry> {
    registry
        .list_binding_history(v1::ListBindingHistoryRequest {
            model_name: model.into(),
            binding: binding.into(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("history of {model} {binding}: {e}"))
        .into_inner()
        .entries
}
