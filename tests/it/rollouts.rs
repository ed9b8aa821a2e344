//! Progressive rollouts (issue 15) on both stores, driven with an injected clock through a second
//! handle on the store (what another primary, or a restarted one, would open): steps happen on
//! time, a restarted primary resumes from the stored step, two primaries never both advance, a
//! metric breach aborts back to the starting target, and the denial and bad-input paths.

use std::time::{Duration, SystemTime};

use bindery_core::WriteContext;
use bindery_core::rollout::RolloutState;
use bindery_proto::v1;
use tonic::Code;

use crate::access::{create_token, grant, with};
use crate::helpers::*;

const HOUR: Duration = Duration::from_secs(3_600);
/// The actor a primary records rollout steps under (bindery_primary::ROLLOUT_ACTOR).
const ROLLOUT_ACTOR: &str = "bindery-rollout";

fn start_request(model: &str, to_version: u64, steps: &[u32], abort_if: &[&str]) -> v1::StartRolloutRequest {
    v1::StartRolloutRequest {
        model_name: model.into(),
        binding: "production".into(),
        to_version,
        steps: steps.to_vec(),
        interval_seconds: HOUR.as_secs(),
        abort_if: abort_if.iter().map(|s| (*s).to_owned()).collect(),
        reason: "v2 rollout".into(),
    }
}

/// `production`'s weights, by version (a plain binding is its version at 10000).
async fn weights(r: &mut Registry, model: &str) -> Vec<(u64, u32)> {
    let bindings = r
        .list_bindings(v1::ListBindingsRequest { model_name: model.into() })
        .await
        .unwrap()
        .into_inner()
        .bindings;
    let b = bindings.into_iter().find(|b| b.name == "production").unwrap();
    match b.traffic {
        Some(t) => t.sides.iter().map(|s| (s.version, s.weight)).collect(),
        None => vec![(b.version, 10_000)],
    }
}

async fn setup(backend: Backend, model: &str) -> (TestRegistry, Registry) {
    let registry = TestRegistry::start(backend).await.unwrap();
    let mut r = registry.registry().await.unwrap();
    create_model(&mut r, model).await;
    for i in 1..=3 {
        register(&mut r, model, &format!("r{i}")).await;
    }
    bind(&mut r, model, "production", 1, None).await.unwrap();
    (registry, r)
}

fn loop_ctx() -> WriteContext {
    WriteContext::new(ROLLOUT_ACTOR)
}

pub(crate) async fn a_rollout_steps_on_time_survives_restarts_and_never_double_steps(backend: Backend) {
    let model = "fraud/detector";
    let (registry, mut r) = setup(backend, model).await;
    let t0 = SystemTime::now();
    let started =
        r.start_rollout(start_request(model, 2, &[100, 500, 2_500, 10_000], &[])).await.unwrap().into_inner();
    assert_eq!((started.state(), started.step), (v1::RolloutState::Running, 1));
    assert_eq!(weights(&mut r, model).await, [(1, 9_900), (2, 100)], "the first step applies at once");

    // Not due yet: nothing moves.
    let first = registry.store().unwrap();
    assert!(first.advance_rollouts(&loop_ctx(), t0 + HOUR / 2).await.unwrap().is_empty());
    assert_eq!(weights(&mut r, model).await, [(1, 9_900), (2, 100)]);
    // An hour later: step 2.
    let stepped = first.advance_rollouts(&loop_ctx(), t0 + HOUR + Duration::from_secs(1)).await.unwrap();
    assert_eq!(stepped.iter().map(|x| (x.id, x.step)).collect::<Vec<_>>(), [(started.id, 2)]);
    assert_eq!(weights(&mut r, model).await, [(1, 9_500), (2, 500)]);

    // The primary that advanced it goes away; another one resumes from the stored step.
    drop(first);
    let restarted = registry.store().unwrap();
    let at = t0 + 2 * HOUR + Duration::from_secs(2);
    assert_eq!(restarted.advance_rollouts(&loop_ctx(), at).await.unwrap()[0].step, 3);
    assert_eq!(weights(&mut r, model).await, [(1, 7_500), (2, 2_500)]);

    // Two primaries race for the last step: exactly one takes it.
    let other = registry.store().unwrap();
    let at = t0 + 3 * HOUR + Duration::from_secs(3);
    let ctx = loop_ctx();
    let (a, b) = tokio::join!(restarted.advance_rollouts(&ctx, at), other.advance_rollouts(&ctx, at));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.len() + b.len(), 1, "one primary advanced it: {a:?} {b:?}");
    let done = a.into_iter().chain(b).next().unwrap();
    assert_eq!((done.state, done.step), (RolloutState::Completed, 4));
    assert_eq!(weights(&mut r, model).await, [(2, 10_000)], "a completed rollout leaves the candidate alone");
    assert!(restarted.advance_rollouts(&loop_ctx(), at + 10 * HOUR).await.unwrap().is_empty());

    // One binding change per step, each recorded with the rollout's reason.
    let history = binding_history(&mut r, model, "production").await;
    assert_eq!(history.len(), 5, "bind + 4 steps: {history:?}");
    assert!(
        history[0].reason.starts_with(&format!("rollout #{} step 4/4: version 2 at 100.00%", started.id))
    );
    assert_eq!(history[0].actor, ROLLOUT_ACTOR);
    let got = r.get_rollout(v1::GetRolloutRequest { id: started.id }).await.unwrap().into_inner();
    assert_eq!(
        (got.state(), got.step, got.outcome.as_str()),
        (v1::RolloutState::Completed, 4, "completed: version 2 serves 100%")
    );
    assert!(got.next_step_at.is_none());
}

pub(crate) async fn a_breach_or_an_abort_restores_the_starting_target(backend: Backend) {
    let model = "ads/ranker";
    let (registry, mut r) = setup(backend, model).await;
    let store = registry.store().unwrap();
    let t0 = SystemTime::now();

    // The error rate the evaluator posts breaches the condition: the next step aborts instead.
    let breach = "metrics.online_error_rate > 0.02";
    let started =
        r.start_rollout(start_request(model, 2, &[1_000, 10_000], &[breach])).await.unwrap().into_inner();
    assert_eq!(weights(&mut r, model).await, [(1, 9_000), (2, 1_000)]);
    r.update_version(v1::UpdateVersionRequest {
        model_name: model.into(),
        version: 2,
        add_metrics: [("online_error_rate".to_owned(), 0.05)].into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let ended = store.advance_rollouts(&loop_ctx(), t0 + 2 * HOUR).await.unwrap();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].state, RolloutState::Aborted);
    assert!(ended[0].outcome.contains("metrics.online_error_rate = 0.05 > 0.02"), "{}", ended[0].outcome);
    assert_eq!(weights(&mut r, model).await, [(1, 10_000)], "back to the starting target");
    let got = r.get_rollout(v1::GetRolloutRequest { id: started.id }).await.unwrap().into_inner();
    assert_eq!(got.state(), v1::RolloutState::Aborted);

    // Paused: nothing advances; resumed: the next step is due at once. Aborted by a caller: back.
    let second =
        r.start_rollout(start_request(model, 3, &[500, 5_000, 10_000], &[])).await.unwrap().into_inner();
    let paused = r
        .pause_rollout(v1::PauseRolloutRequest { id: second.id, reason: "dashboards".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(paused.state(), v1::RolloutState::Paused);
    assert!(store.advance_rollouts(&loop_ctx(), t0 + 5 * HOUR).await.unwrap().is_empty());
    assert_status(
        r.pause_rollout(v1::PauseRolloutRequest { id: second.id, reason: String::new() }).await,
        Code::FailedPrecondition,
        &["PAUSED"],
    );
    r.resume_rollout(v1::ResumeRolloutRequest { id: second.id, reason: String::new() }).await.unwrap();
    let moved =
        store.advance_rollouts(&loop_ctx(), SystemTime::now() + Duration::from_secs(1)).await.unwrap();
    assert_eq!(moved[0].step, 2);
    assert_eq!(weights(&mut r, model).await, [(1, 5_000), (3, 5_000)]);
    // Only one active rollout per binding.
    assert_status(
        r.start_rollout(start_request(model, 2, &[10_000], &[])).await,
        Code::FailedPrecondition,
        &[&format!("rollout #{} is RUNNING", second.id)],
    );
    let aborted = r
        .abort_rollout(v1::AbortRolloutRequest { id: second.id, reason: "latency".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(aborted.state(), v1::RolloutState::Aborted);
    assert!(aborted.outcome.contains("latency"), "{}", aborted.outcome);
    assert_eq!(weights(&mut r, model).await, [(1, 10_000)]);
    assert_status(
        r.abort_rollout(v1::AbortRolloutRequest { id: second.id, reason: String::new() }).await,
        Code::FailedPrecondition,
        &["ABORTED"],
    );

    // Someone moves the binding meanwhile: the rollout stops and leaves it alone.
    let third = r.start_rollout(start_request(model, 3, &[500, 10_000], &[])).await.unwrap().into_inner();
    bind(&mut r, model, "production", 1, None).await.unwrap();
    let stopped = store.advance_rollouts(&loop_ctx(), SystemTime::now() + 2 * HOUR).await.unwrap();
    assert_eq!((stopped[0].id, stopped[0].state), (third.id, RolloutState::Aborted));
    assert!(stopped[0].outcome.contains("moved outside the rollout"), "{}", stopped[0].outcome);
    assert_eq!(weights(&mut r, model).await, [(1, 10_000)]);

    let listed = r
        .list_rollouts(v1::ListRolloutsRequest { model_name: model.into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .rollouts;
    assert_eq!(listed.iter().map(|x| x.id).collect::<Vec<_>>(), [third.id, second.id, started.id]);
    let active = r
        .list_rollouts(v1::ListRolloutsRequest {
            model_name: model.into(),
            active_only: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .rollouts;
    assert!(active.is_empty());
}

pub(crate) async fn bad_rollouts_are_refused(backend: Backend) {
    let model = "nlp/tagger";
    let (_registry, mut r) = setup(backend, model).await;
    r.archive_version(v1::ArchiveVersionRequest { model_name: model.into(), version: 3 }).await.unwrap();
    let cases: Vec<(v1::StartRolloutRequest, Code, &str)> = vec![
        (start_request(model, 2, &[], &[]), Code::InvalidArgument, "steps"),
        (start_request(model, 2, &[500, 100, 10_000], &[]), Code::InvalidArgument, "steps[1]"),
        (start_request(model, 2, &[100, 5_000], &[]), Code::InvalidArgument, "10000"),
        (start_request(model, 2, &[10_000], &["approvals 1"]), Code::InvalidArgument, "abort_if[0]"),
        (
            v1::StartRolloutRequest { interval_seconds: 0, ..start_request(model, 2, &[10_000], &[]) },
            Code::InvalidArgument,
            "interval_seconds",
        ),
        (start_request(model, 0, &[10_000], &[]), Code::InvalidArgument, "to_version"),
        (start_request(model, 9, &[10_000], &[]), Code::NotFound, "version 9"),
        (start_request(model, 3, &[10_000], &[]), Code::FailedPrecondition, "ARCHIVED"),
        (start_request(model, 1, &[10_000], &[]), Code::FailedPrecondition, "already serves version 1"),
        (
            v1::StartRolloutRequest { binding: "staging".into(), ..start_request(model, 2, &[10_000], &[]) },
            Code::FailedPrecondition,
            "does not exist",
        ),
        (
            v1::StartRolloutRequest { model_name: "nope".into(), ..start_request(model, 2, &[10_000], &[]) },
            Code::NotFound,
            "model 'nope'",
        ),
    ];
    for (req, code, needle) in cases {
        assert_status(r.start_rollout(req).await, code, &[needle]);
    }
    assert_status(r.get_rollout(v1::GetRolloutRequest { id: 999 }).await, Code::NotFound, &["rollout #999"]);
    assert_status(
        r.abort_rollout(v1::AbortRolloutRequest { id: 999, reason: String::new() }).await,
        Code::NotFound,
        &["rollout #999"],
    );
    // On a gated binding the first step is a gate-checked move: a candidate failing it (auc 0.91)
    // cannot start.
    r.set_promotion_policy(as_actor(auc_policy(model, 0.95), "admin")).await.unwrap();
    assert_status(
        r.start_rollout(start_request(model, 2, &[500, 10_000], &[])).await,
        Code::FailedPrecondition,
        &["the rollout cannot start", "auc"],
    );
    assert_eq!(weights(&mut r, model).await, [(1, 10_000)], "nothing moved");
    let none = r.list_rollouts(v1::ListRolloutsRequest::default()).await.unwrap().into_inner().rollouts;
    assert!(none.is_empty(), "a refused start records nothing: {none:?}");
}

/// Starting, pausing and aborting move the binding: on protected `production` they need
/// APPROVER; reading needs VIEWER.
pub(crate) async fn rollouts_need_the_role_that_moves_the_binding(backend: Backend) {
    let (registry, admin) = TestRegistry::start_secured(backend).await.unwrap();
    let mut r = registry.registry().await.unwrap();
    let carol = create_token(&mut r, &admin, "carol").await;
    let alice = create_token(&mut r, &admin, "alice").await;
    let victor = create_token(&mut r, &admin, "victor").await;
    grant(&mut r, &admin, "carol", v1::Role::Contributor, "fraud/").await;
    grant(&mut r, &admin, "alice", v1::Role::Approver, "fraud/").await;
    grant(&mut r, &admin, "victor", v1::Role::Viewer, "fraud/").await;
    let model = "fraud/detector";
    r.create_model(with(v1::CreateModelRequest { name: model.into(), ..Default::default() }, Some(&carol)))
        .await
        .unwrap();
    for i in 1..=2 {
        r.register_version(with(register_request(model, &format!("r{i}")), Some(&carol))).await.unwrap();
    }
    let bind = v1::SetBindingRequest {
        model_name: model.into(),
        binding: "production".into(),
        version: 1,
        ..Default::default()
    };
    r.set_binding(with(bind, Some(&alice))).await.unwrap();
    let req = || start_request(model, 2, &[1_000, 10_000], &[]);
    assert_status(
        r.start_rollout(with(req(), Some(&carol))).await,
        Code::PermissionDenied,
        &["'production' is protected"],
    );
    assert_status(r.start_rollout(req()).await, Code::Unauthenticated, &[]);
    let started = r.start_rollout(with(req(), Some(&alice))).await.unwrap().into_inner();
    assert_eq!(started.started_by, "alice");
    let seen = r.get_rollout(with(v1::GetRolloutRequest { id: started.id }, Some(&victor))).await.unwrap();
    assert_eq!(seen.into_inner().step, 1);
    assert_status(
        r.abort_rollout(with(
            v1::AbortRolloutRequest { id: started.id, reason: String::new() },
            Some(&carol),
        ))
        .await,
        Code::PermissionDenied,
        &["APPROVER"],
    );
    assert_status(
        r.list_rollouts(with(v1::ListRolloutsRequest::default(), Some(&victor))).await,
        Code::PermissionDenied,
        &["victor"],
    );
    let listed = r
        .list_rollouts(with(
            v1::ListRolloutsRequest { model_name: model.into(), ..Default::default() },
            Some(&victor),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.rollouts.len(), 1);
    r.abort_rollout(with(v1::AbortRolloutRequest { id: started.id, reason: "done".into() }, Some(&alice)))
        .await
        .unwrap();
}

pub(crate) async fn the_cli_starts_and_aborts_a_rollout(backend: Backend) {
    let model = "nlp/tagger";
    let (registry, _r) = setup(backend, model).await;
    let out = cli(
        &registry,
        &[
            "rollout",
            "start",
            model,
            "production",
            "2",
            "--steps",
            "10,50,100",
            "--interval",
            "1h",
            "--abort-if",
            "metrics.err > 0.1",
        ],
    )
    .await
    .unwrap();
    assert!(out.contains("rollout #1  nlp/tagger production -> v2  RUNNING  step 1/3 (10%)  next "), "{out}");
    let out = cli(&registry, &["rollout", "list", "--model", model, "--active"]).await.unwrap();
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0][..3], ["ID", "MODEL", "BINDING"], "{out}");
    assert_eq!(rows[1][..6], ["#1", "nlp/tagger", "production", "v2", "RUNNING", "1/3"], "{out}");
    let out = cli(&registry, &["rollout", "abort", "1", "--reason", "not today"]).await.unwrap();
    assert!(out.contains("ABORTED") && out.contains("not today"), "{out}");
    let err = cli(&registry, &["rollout", "start", model, "production", "2", "--interval", "soon"])
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("--interval"), "{err:#}");
}

/// The primary's own loop (real clock, 1 s ticks) advances a rollout with a 1 s interval to
/// completion, with no store handle of the test's.
pub(crate) async fn the_primary_advances_due_rollouts_by_itself(backend: Backend) {
    let model = "ops/loop";
    let (_registry, mut r) = setup(backend, model).await;
    let req =
        v1::StartRolloutRequest { interval_seconds: 1, ..start_request(model, 2, &[5_000, 10_000], &[]) };
    let started = r.start_rollout(req).await.unwrap().into_inner();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let got = r.get_rollout(v1::GetRolloutRequest { id: started.id }).await.unwrap().into_inner();
        if got.state() == v1::RolloutState::Completed {
            assert_eq!(got.step, 2);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the loop did not finish the rollout: {got:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(weights(&mut r, model).await, [(2, 10_000)]);
}
