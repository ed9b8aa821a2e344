//! Promotion gates (issue 13) on both stores: the README's example policy end to end, four eyes,
//! racing approvers, a champion that improved meanwhile, rollback past the gates, and the
//! denial and bad-input paths of every promotion RPC.

use std::time::Duration;

use bindery_proto::v1;
use tonic::Code;

use crate::access::{create_token, grant, set_binding, with};
use crate::helpers::*;

/// The README's example, with the staging soak shortened from 24 h to `SOAK` so the test can
/// wait it out (the 24 h arithmetic is unit-tested in core with an injected clock).
const SOAK: u64 = 2;

fn gate(kind: v1::gate::Kind) -> v1::Gate {
    v1::Gate { kind: Some(kind) }
}

fn example_policy(scope: &str, soak_seconds: u64) -> v1::SetPromotionPolicyRequest {
    use v1::gate::Kind;
    v1::SetPromotionPolicyRequest {
        binding: "production".into(),
        scope: scope.into(),
        gates: vec![
            gate(Kind::Soak(v1::SoakGate { binding: "staging".into(), seconds: soak_seconds })),
            gate(Kind::MetricThreshold(v1::MetricThresholdGate {
                metric: "auc".into(),
                op: ">=".into(),
                value: 0.90,
            })),
            gate(Kind::BeatBound(v1::BeatBoundGate {
                reference_binding: String::new(),
                metrics: vec![v1::BeatMetric {
                    metric: "auc".into(),
                    greater_is_better: true,
                    min_absolute_change: 0.005,
                    min_relative_change: 0.0,
                }],
            })),
            gate(Kind::Approvals(v1::ApprovalsGate { count: 1 })),
        ],
    }
}

async fn register_with_auc(r: &mut Registry, token: &str, model: &str, run: &str, auc: f64) -> u64 {
    let mut req = register_request(model, run);
    req.metrics = [("auc".to_owned(), auc)].into();
    r.register_version(with(req, Some(token))).await.unwrap().into_inner().version.unwrap().version
}

async fn request(
    r: &mut Registry,
    token: &str,
    model: &str,
    binding: &str,
    version: u64,
) -> Result<v1::PromotionResponse, tonic::Status> {
    let req = v1::RequestPromotionRequest {
        model_name: model.into(),
        binding: binding.into(),
        version,
        reason: format!("promote v{version}"),
        expected_generation: None,
    };
    r.request_promotion(with(req, Some(token))).await.map(tonic::Response::into_inner)
}

async fn approve(r: &mut Registry, token: &str, id: u64) -> Result<v1::PromotionResponse, tonic::Status> {
    let req = v1::ApprovePromotionRequest { id, comment: "lgtm".into() };
    r.approve_promotion(with(req, Some(token))).await.map(tonic::Response::into_inner)
}

async fn bound(r: &mut Registry, token: &str, model: &str, binding: &str) -> u64 {
    let bindings = r
        .list_bindings(with(v1::ListBindingsRequest { model_name: model.into() }, Some(token)))
        .await
        .unwrap()
        .into_inner()
        .bindings;
    bindings.iter().find(|b| b.name == binding).map_or(0, |b| b.version)
}

fn failing(gates: &[v1::GateResult]) -> String {
    gates.iter().filter(|g| !g.passed).map(|g| g.detail.as_str()).collect::<Vec<_>>().join("; ")
}

/// The "done when", on the README's example policy.
pub(crate) async fn the_example_policy_gates_production(backend: Backend) {
    let (registry, admin) = TestRegistry::start_secured(backend).await.unwrap();
    let mut r = registry.registry().await.unwrap();
    let carol = create_token(&mut r, &admin, "carol").await;
    let alice = create_token(&mut r, &admin, "alice").await;
    let bob = create_token(&mut r, &admin, "bob").await;
    let dave = create_token(&mut r, &admin, "dave").await;
    grant(&mut r, &admin, "carol", v1::Role::Contributor, "fraud/").await;
    for approver in ["alice", "bob", "dave"] {
        grant(&mut r, &admin, approver, v1::Role::Approver, "fraud/").await;
    }
    let model = "fraud/detector";
    r.create_model(with(v1::CreateModelRequest { name: model.into(), ..Default::default() }, Some(&carol)))
        .await
        .unwrap();
    let champion = register_with_auc(&mut r, &carol, model, "r1", 0.91).await;
    set_binding(&mut r, &admin, model, "production", champion).await.unwrap();

    // Only an admin sets policies; bad gates are named.
    assert_status(
        r.set_promotion_policy(with(example_policy("fraud/", SOAK), Some(&alice))).await,
        Code::PermissionDenied,
        &["'alice'", "ADMIN"],
    );
    let mut bad = example_policy("fraud/", SOAK);
    bad.gates[1] = gate(v1::gate::Kind::MetricThreshold(v1::MetricThresholdGate {
        metric: "auc".into(),
        op: "=>".into(),
        value: 0.9,
    }));
    assert_status(
        r.set_promotion_policy(with(bad, Some(&admin))).await,
        Code::InvalidArgument,
        &["gates[1].op"],
    );
    let policy = r
        .set_promotion_policy(with(example_policy("fraud/", SOAK), Some(&admin)))
        .await
        .unwrap()
        .into_inner()
        .policy
        .unwrap();
    assert_eq!(
        (policy.binding.as_str(), policy.scope.as_str(), policy.gates.len()),
        ("production", "fraud/", 4)
    );

    // auc 0.89 is refused, naming the gates it fails; nothing is recorded.
    let weak = register_with_auc(&mut r, &carol, model, "r2", 0.89).await;
    set_binding(&mut r, &alice, model, "staging", weak).await.unwrap();
    assert_status(
        request(&mut r, &carol, model, "production", weak).await,
        Code::FailedPrecondition,
        &["metrics.auc = 0.89, needed >= 0.9", "beat production", "needed >= 0.915"],
    );
    // A direct SetBinding of the gated binding is refused too, even for an admin.
    assert_status(
        set_binding(&mut r, &admin, model, "production", weak).await,
        Code::FailedPrecondition,
        &["gated", "needs approval", "RequestPromotion"],
    );

    // A better version, soaked in staging, waits for an approval.
    let strong = register_with_auc(&mut r, &carol, model, "r3", 0.93).await;
    set_binding(&mut r, &alice, model, "staging", strong).await.unwrap();
    let evaluated = r
        .evaluate_promotion(with(
            v1::EvaluatePromotionRequest {
                model_name: model.into(),
                binding: "production".into(),
                version: strong,
            },
            Some(&carol),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(evaluated.gated && evaluated.needs_approval && !evaluated.passes);
    assert!(failing(&evaluated.gates).contains("needed 2s"), "{}", failing(&evaluated.gates));
    tokio::time::sleep(Duration::from_secs(SOAK)).await;
    let pending = request(&mut r, &carol, model, "production", strong).await.unwrap();
    assert!(!pending.applied);
    let req = pending.request.unwrap();
    assert_eq!(req.state, v1::PromotionState::Pending as i32);
    assert_eq!(failing(&req.gates), "approvals: 0 of 1 (the requester's own never counts)");
    assert_eq!(bound(&mut r, &carol, model, "production").await, champion);

    // A contributor cannot approve at all.
    assert_status(approve(&mut r, &carol, req.id).await, Code::PermissionDenied, &["APPROVER"]);
    let applied = approve(&mut r, &alice, req.id).await.unwrap();
    assert!(applied.applied, "{applied:?}");
    let done = applied.request.unwrap();
    assert_eq!((done.state, done.decided_by.as_str()), (v1::PromotionState::Applied as i32, "alice"));
    assert_eq!(done.applied_revision, applied.revision);
    assert_eq!(bound(&mut r, &carol, model, "production").await, strong);
    // The binding's history says who requested and who approved.
    let history = r
        .list_binding_history(with(
            v1::ListBindingHistoryRequest {
                model_name: model.into(),
                binding: "production".into(),
                page_size: 1,
                page_token: String::new(),
            },
            Some(&carol),
        ))
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(history[0].actor, "alice");
    assert!(history[0].reason.contains("requested by carol, approved by alice"), "{}", history[0].reason);
    // Nothing more happens to an applied request.
    assert_status(approve(&mut r, &bob, req.id).await, Code::FailedPrecondition, &["APPLIED"]);

    // An approver who requests cannot approve their own request (four eyes), even though they
    // could move the binding; two other approvers racing apply it once.
    let next = register_with_auc(&mut r, &carol, model, "r4", 0.95).await;
    set_binding(&mut r, &alice, model, "staging", next).await.unwrap();
    tokio::time::sleep(Duration::from_secs(SOAK)).await;
    let own = request(&mut r, &bob, model, "production", next).await.unwrap();
    assert!(!own.applied, "an approver's own request still needs another approver");
    let id = own.request.unwrap().id;
    assert_status(approve(&mut r, &bob, id).await, Code::PermissionDenied, &["four eyes"]);
    let (mut ra, mut rb) = (registry.registry().await.unwrap(), registry.registry().await.unwrap());
    let (a, b) = tokio::join!(approve(&mut ra, &alice, id), approve(&mut rb, &dave, id));
    let applied: Vec<bool> = [&a, &b].iter().map(|x| x.as_ref().is_ok_and(|o| o.applied)).collect();
    assert_eq!(applied.iter().filter(|x| **x).count(), 1, "exactly one approval applies: {a:?} {b:?}");
    for outcome in [a, b] {
        match outcome {
            Ok(o) => assert_eq!(o.request.unwrap().state, v1::PromotionState::Applied as i32),
            Err(e) => assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}"),
        }
    }
    let history = r
        .list_binding_history(with(
            v1::ListBindingHistoryRequest {
                model_name: model.into(),
                binding: "production".into(),
                page_size: 10,
                page_token: String::new(),
            },
            Some(&carol),
        ))
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(history.iter().filter(|h| h.after_version == Some(next)).count(), 1, "{history:?}");

    // Rollback stays fast: an approver, with a reason, past every gate; audited.
    let rollback = |token: &str, reason: &str| {
        with(
            v1::RollbackBindingRequest {
                model_name: model.into(),
                binding: "production".into(),
                to_generation: None,
                expected_generation: None,
                reason: reason.into(),
            },
            Some(token),
        )
    };
    assert_status(r.rollback_binding(rollback(&carol, "oops")).await, Code::PermissionDenied, &["APPROVER"]);
    assert_status(
        r.rollback_binding(rollback(&alice, " ")).await,
        Code::InvalidArgument,
        &["reason", "gated"],
    );
    let rolled = r.rollback_binding(rollback(&alice, "latency regression")).await.unwrap().into_inner();
    assert_eq!(rolled.binding.unwrap().version, strong);
    let events = r
        .list_audit_events(with(
            v1::ListAuditEventsRequest { model: model.into(), page_size: 50, ..Default::default() },
            Some(&admin),
        ))
        .await
        .unwrap()
        .into_inner()
        .events;
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    for action in ["binding.rollback", "promotion.request", "promotion.approve", "promotion.apply"] {
        assert!(actions.contains(&action), "{action} missing from {actions:?}");
    }
    let rollback_event = events.iter().find(|e| e.action == "binding.rollback").unwrap();
    assert!(rollback_event.after_json.contains("latency regression"), "{rollback_event:?}");
}

/// A champion that improved after the request makes the application fail, naming the gate; the
/// approval stays recorded and the request pending.
pub(crate) async fn a_better_champion_blocks_the_application(backend: Backend) {
    use v1::gate::Kind;
    let (registry, admin) = TestRegistry::start_secured(backend).await.unwrap();
    let mut r = registry.registry().await.unwrap();
    let carol = create_token(&mut r, &admin, "carol").await;
    let alice = create_token(&mut r, &admin, "alice").await;
    grant(&mut r, &admin, "carol", v1::Role::Contributor, "ads/ranker").await;
    grant(&mut r, &admin, "alice", v1::Role::Approver, "ads/ranker").await;
    let model = "ads/ranker";
    r.create_model(with(v1::CreateModelRequest { name: model.into(), ..Default::default() }, Some(&carol)))
        .await
        .unwrap();
    let v1_ = register_with_auc(&mut r, &carol, model, "r1", 0.91).await;
    let v2 = register_with_auc(&mut r, &carol, model, "r2", 0.93).await;
    let v3 = register_with_auc(&mut r, &carol, model, "r3", 0.95).await;
    let v4 = register_with_auc(&mut r, &carol, model, "r4", 0.97).await;
    set_binding(&mut r, &carol, model, "champion", v1_).await.unwrap();
    // Production (on this model only) must beat whatever `champion` holds, and be approved.
    let policy = v1::SetPromotionPolicyRequest {
        binding: "production".into(),
        scope: model.into(),
        gates: vec![
            gate(Kind::BeatBound(v1::BeatBoundGate {
                reference_binding: "champion".into(),
                metrics: vec![v1::BeatMetric {
                    metric: "auc".into(),
                    greater_is_better: true,
                    min_absolute_change: 0.005,
                    min_relative_change: 0.0,
                }],
            })),
            gate(Kind::Approvals(v1::ApprovalsGate { count: 1 })),
        ],
    };
    r.set_promotion_policy(with(policy, Some(&admin))).await.unwrap();
    let fetched = r
        .get_promotion_policy(with(
            v1::GetPromotionPolicyRequest {
                binding: "production".into(),
                scope: String::new(),
                model_name: model.into(),
            },
            Some(&carol),
        ))
        .await
        .unwrap()
        .into_inner()
        .policy
        .unwrap();
    assert_eq!(fetched.scope, model);

    let id = request(&mut r, &carol, model, "production", v2).await.unwrap().request.unwrap().id;
    // Meanwhile the champion moved to a better version.
    set_binding(&mut r, &carol, model, "champion", v3).await.unwrap();
    let outcome = approve(&mut r, &alice, id).await.unwrap();
    assert!(!outcome.applied);
    let req = outcome.request.unwrap();
    assert_eq!(req.state, v1::PromotionState::Pending as i32);
    assert_eq!(req.approvals.len(), 1);
    let failing = failing(&req.gates);
    assert!(failing.contains("beat champion") && failing.contains("needed >= 0.955"), "{failing}");
    assert_eq!(bound(&mut r, &carol, model, "production").await, 0, "nothing moved");

    // A newer request supersedes it; the requester cancels the newer one; rejection needs a
    // comment and an approver.
    let newer = request(&mut r, &carol, model, "production", v4).await.unwrap().request.unwrap().id;
    let old = r
        .get_promotion_request(with(v1::GetPromotionRequestRequest { id }, Some(&carol)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(old.state, v1::PromotionState::Superseded as i32);
    let reject = |token: &str, comment: &str| {
        with(v1::RejectPromotionRequest { id: newer, comment: comment.into() }, Some(token))
    };
    assert_status(r.reject_promotion(reject(&carol, "no")).await, Code::PermissionDenied, &["APPROVER"]);
    assert_status(r.reject_promotion(reject(&alice, "")).await, Code::InvalidArgument, &["comment"]);
    assert_status(
        r.cancel_promotion(with(v1::CancelPromotionRequest { id: newer }, Some(&alice))).await,
        Code::PermissionDenied,
        &["only 'carol'"],
    );
    let cancelled = r
        .cancel_promotion(with(v1::CancelPromotionRequest { id: newer }, Some(&carol)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cancelled.request.unwrap().state, v1::PromotionState::Cancelled as i32);

    // Listing filters by model, binding and state, newest first, a page at a time.
    let list = |state: v1::PromotionState, token: &str| {
        with(
            v1::ListPromotionRequestsRequest {
                model_name: model.into(),
                binding: "production".into(),
                state: state as i32,
                page_size: 1,
                page_token: token.into(),
            },
            Some(&carol),
        )
    };
    let first =
        r.list_promotion_requests(list(v1::PromotionState::Unspecified, "")).await.unwrap().into_inner();
    assert_eq!(first.requests[0].id, newer);
    let second = r
        .list_promotion_requests(list(v1::PromotionState::Unspecified, &first.next_page_token))
        .await
        .unwrap();
    assert_eq!(second.into_inner().requests[0].id, id);
    let superseded = r.list_promotion_requests(list(v1::PromotionState::Superseded, "")).await.unwrap();
    assert_eq!(superseded.into_inner().requests.iter().map(|q| q.id).collect::<Vec<_>>(), vec![id]);

    // Bad input and unknown ids.
    assert_status(approve(&mut r, &alice, 9_999).await, Code::NotFound, &["#9999"]);
    assert_status(approve(&mut r, &alice, 0).await, Code::InvalidArgument, &["id"]);
    assert_status(
        request(&mut r, &carol, model, "Production!", v2).await,
        Code::InvalidArgument,
        &["binding"],
    );
    assert_status(request(&mut r, &carol, model, "production", 77).await, Code::NotFound, &["77"]);
    let outsider = create_token(&mut r, &admin, "oscar").await;
    assert_status(
        request(&mut r, &outsider, model, "production", v2).await,
        Code::PermissionDenied,
        &["'oscar'"],
    );
    // Without a model: the requests about models the caller may view, and none it may not. A
    // request on a model carol cannot see is left out; a caller with no role anywhere is refused.
    let hidden = "secret/ranker";
    r.create_model(with(v1::CreateModelRequest { name: hidden.into(), ..Default::default() }, Some(&admin)))
        .await
        .unwrap();
    let hv = register_with_auc(&mut r, &admin, hidden, "h1", 0.99).await;
    let hidden_policy = v1::SetPromotionPolicyRequest {
        binding: "production".into(),
        scope: hidden.into(),
        gates: vec![gate(Kind::Approvals(v1::ApprovalsGate { count: 1 }))],
    };
    r.set_promotion_policy(with(hidden_policy, Some(&admin))).await.unwrap();
    let hidden_id = request(&mut r, &admin, hidden, "production", hv).await.unwrap().request.unwrap().id;
    let everything = |token: &str| with(v1::ListPromotionRequestsRequest::default(), Some(token));
    let ids =
        |resp: v1::ListPromotionRequestsResponse| resp.requests.iter().map(|q| q.id).collect::<Vec<_>>();
    let seen = ids(r.list_promotion_requests(everything(&carol)).await.unwrap().into_inner());
    assert_eq!(seen, vec![newer, id], "carol sees her model's requests only");
    let all = ids(r.list_promotion_requests(everything(&admin)).await.unwrap().into_inner());
    assert_eq!(all, vec![hidden_id, newer, id]);
    assert_status(
        r.list_promotion_requests(everything(&outsider)).await,
        Code::PermissionDenied,
        &["'oscar'"],
    );
    // Deleting the policy ungates the binding: the approver moves it directly.
    let delete = v1::DeletePromotionPolicyRequest { binding: "production".into(), scope: model.into() };
    r.delete_promotion_policy(with(delete.clone(), Some(&admin))).await.unwrap();
    assert_status(
        r.delete_promotion_policy(with(delete, Some(&admin))).await,
        Code::NotFound,
        &["no promotion policy"],
    );
    set_binding(&mut r, &alice, model, "production", v2).await.unwrap();
}

async fn bindery(registry: &TestRegistry, actor: &str, argv: &[&str]) -> anyhow::Result<String> {
    use clap::Parser;
    let endpoint = registry.endpoint();
    let mut full = vec!["bindery", "--server", endpoint.as_str(), "--actor", actor];
    full.extend_from_slice(argv);
    let cli = bindery_server::cli::ClientCli::try_parse_from(full)?;
    bindery_server::cli::run(cli.args, cli.command).await
}

/// The README's worked example from a terminal (`bindery policy|promote|approve|requests`).
pub(crate) async fn the_cli_walks_the_readme_example(backend: Backend) {
    let registry = TestRegistry::start(backend).await.unwrap();
    let run = |actor: &'static str, argv: Vec<&'static str>| {
        let registry = &registry;
        async move { bindery(registry, actor, &argv).await }
    };
    run("carol", vec!["model", "create", "fraud/detector"]).await.unwrap();
    for (i, auc) in ["auc=0.91", "auc=0.89", "auc=0.93"].into_iter().enumerate() {
        let uri =
            ["s3://models/fraud/1/m.onnx", "s3://models/fraud/2/m.onnx", "s3://models/fraud/3/m.onnx"][i];
        run("carol", vec!["version", "register", "fraud/detector", "--uri", uri, "--metric", auc])
            .await
            .unwrap();
    }
    run("alice", vec!["bind", "fraud/detector", "production", "1"]).await.unwrap();
    let set = vec![
        "policy",
        "set",
        "production",
        "--scope",
        "fraud/",
        "--gate",
        "soak staging 2s",
        "--gate",
        "metrics.auc >= 0.90",
        "--gate",
        "beat self on auc by 0.005",
        "--gate",
        "approvals 1",
    ];
    let out = run("admin", set).await.unwrap();
    assert!(out.contains("soak staging 2s") && out.contains("beat self on auc by 0.005"), "{out}");
    let err =
        run("admin", vec!["policy", "set", "production", "--gate", "metrics.auc => 1"]).await.unwrap_err();
    assert!(format!("{err:#}").contains("operator"), "{err:#}");
    let out = run("carol", vec!["policy", "show", "production", "--model", "fraud/detector"]).await.unwrap();
    assert!(out.starts_with("production at fraud/") && out.contains("approvals 1"), "{out}");

    let err = run("carol", vec!["promote", "fraud/detector", "production", "2"]).await.unwrap_err();
    assert!(format!("{err:#}").contains("metrics.auc = 0.89, needed >= 0.9"), "{err:#}");
    run("alice", vec!["bind", "fraud/detector", "staging", "3"]).await.unwrap();
    tokio::time::sleep(Duration::from_secs(SOAK)).await;
    let out = run("carol", vec!["promote", "fraud/detector", "production", "3", "--dry-run"]).await.unwrap();
    assert!(out.contains("needs approval") && out.contains("PASS  soak staging 2s"), "{out}");
    let out = run("carol", vec!["promote", "fraud/detector", "production", "3", "--reason", "better auc"])
        .await
        .unwrap();
    assert!(out.contains("PENDING") && out.contains("WAIT  approvals 1"), "{out}");
    let id = out.split_whitespace().nth(1).unwrap().trim_start_matches('#').to_owned();
    let err = bindery(&registry, "carol", &["approve", &id]).await.unwrap_err();
    assert!(format!("{err:#}").contains("four eyes"), "{err:#}");
    let out = bindery(&registry, "alice", &["approve", &id, "--comment", "lgtm"]).await.unwrap();
    assert!(out.contains("APPLIED") && out.contains("applied: fraud/detector production -> v3"), "{out}");
    let out =
        run("carol", vec!["requests", "--model", "fraud/detector", "--state", "applied"]).await.unwrap();
    assert!(out.contains(&format!("promotion #{id}")) && out.contains("approved by alice"), "{out}");
    let out = run("carol", vec!["history", "fraud/detector", "production"]).await.unwrap();
    assert!(out.contains("requested by carol, approved by alice: better auc"), "{out}");
}

/// A pending request past its TTL reads, lists and filters as EXPIRED, and can no longer be
/// approved. (The TTL is a server setting of at least a minute; the store takes any, so the
/// request is made through the store with a one-second TTL.)
pub(crate) async fn pending_requests_expire(backend: Backend) {
    use bindery_core::{BindingName, ModelName, NewPromotion, PromotionAct, WriteContext};
    let registry = TestRegistry::start(backend).await.unwrap();
    let mut r = registry.registry().await.unwrap();
    create_model(&mut r, "fraud/detector").await;
    register(&mut r, "fraud/detector", "r1").await;
    let policy = v1::SetPromotionPolicyRequest {
        binding: "canary".into(),
        scope: "*".into(),
        gates: vec![gate(v1::gate::Kind::Approvals(v1::ApprovalsGate { count: 1 }))],
    };
    r.set_promotion_policy(as_actor(policy, "admin")).await.unwrap();
    let store = registry.store().unwrap();
    let new = NewPromotion {
        model: ModelName::parse("m", "fraud/detector").unwrap(),
        binding: BindingName::parse("b", "canary").unwrap(),
        version: 1,
        reason: "try it".into(),
        expected_generation: None,
        may_apply: true,
        ttl: Duration::from_secs(1),
    };
    let made = store.promote(&WriteContext::new("carol"), &PromotionAct::Request(new)).await.unwrap();
    assert_ne!(made.state, bindery_core::PromotionState::Applied);
    let id = made.id;
    let list = |state: v1::PromotionState| {
        as_actor(v1::ListPromotionRequestsRequest { state: state as i32, ..Default::default() }, "alice")
    };
    let pending = r.list_promotion_requests(list(v1::PromotionState::Pending)).await.unwrap().into_inner();
    assert_eq!(pending.requests.len(), 1);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let pending = r.list_promotion_requests(list(v1::PromotionState::Pending)).await.unwrap().into_inner();
    assert!(pending.requests.is_empty(), "{pending:?}");
    let expired = r.list_promotion_requests(list(v1::PromotionState::Expired)).await.unwrap().into_inner();
    assert_eq!(
        expired.requests.iter().map(|q| (q.id, q.state)).collect::<Vec<_>>(),
        vec![(id, v1::PromotionState::Expired as i32)]
    );
    let approve = v1::ApprovePromotionRequest { id, comment: String::new() };
    assert_status(
        r.approve_promotion(as_actor(approve, "alice")).await,
        Code::FailedPrecondition,
        &["EXPIRED", "request it again"],
    );
    // The TTL a server accepts is bounded.
    assert!(
        bindery_server::config::promotion_ttl(59).is_err()
            && bindery_server::config::promotion_ttl(3_600).is_ok()
    );
}
