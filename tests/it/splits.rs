//! Canary/A-B splits and shadows in a binding (issue 15) on both stores: sticky routing that
//! every server answers the same, weight moves that only move keys between the sides involved,
//! rollback of the whole target, gates on sides gaining weight, watch streams, the CLI, and the
//! bad-input paths.

use bindery_proto::v1;
use tonic::Code;

use crate::access::{create_token, grant, with};
use crate::helpers::*;

fn side(version: u64, weight: u32, role: &str) -> v1::TrafficSide {
    v1::TrafficSide { version, weight, role: role.into(), buckets: Vec::new() }
}

fn traffic(sides: &[(u64, u32)], shadows: &[(u64, u32)]) -> v1::Traffic {
    v1::Traffic {
        sides: sides.iter().map(|&(v, w)| side(v, w, "")).collect(),
        shadows: shadows.iter().map(|&(version, mirror)| v1::TrafficShadow { version, mirror }).collect(),
        ..Default::default()
    }
}

async fn split(
    r: &mut Registry,
    model: &str,
    binding: &str,
    t: v1::Traffic,
) -> Result<v1::SetBindingResponse, tonic::Status> {
    r.set_binding(v1::SetBindingRequest {
        model_name: model.into(),
        binding: binding.into(),
        traffic: Some(t),
        reason: "canary".into(),
        ..Default::default()
    })
    .await
    .map(tonic::Response::into_inner)
}

/// Which version each of `keys` lands on, from one resolver.
async fn sides_of(
    resolver: &mut Resolver,
    model: &str,
    keys: &[String],
    min_revision: u64,
) -> Vec<(u64, String)> {
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let r = resolve_with(resolver, model, "production", key, min_revision).await;
        out.push((r.version, r.role));
    }
    out
}

/// What the documented rule (docs/routing.md) says, computed here from the answer's buckets
/// with the core hash, as a client in another language would.
fn expected(model: &str, t: &v1::Traffic, key: &str) -> u64 {
    let b = bindery_core::traffic::bucket(model, "production", key);
    t.sides.iter().find(|s| s.buckets.iter().any(|r| r.start <= b && b < r.end)).map_or(0, |s| s.version)
}

pub(crate) async fn splits_route_sticky_and_roll_back_whole(backend: Backend) {
    let registry = TestRegistry::start(backend).await.unwrap();
    let mut r = registry.registry().await.unwrap();
    let model = "fraud/detector";
    create_model(&mut r, model).await;
    for i in 1..=5 {
        register(&mut r, model, &format!("r{i}")).await;
    }
    bind(&mut r, model, "production", 1, Some(0)).await.unwrap();

    // 90/10 with a 5% shadow.
    let set =
        split(&mut r, model, "production", traffic(&[(1, 9_000), (2, 1_000)], &[(3, 500)])).await.unwrap();
    let b = set.binding.clone().unwrap();
    let t90 = b.traffic.clone().unwrap();
    assert_eq!((b.version, b.generation), (1, 2));
    assert_eq!(t90.sides.iter().map(|s| s.role.as_str()).collect::<Vec<_>>(), ["stable", "canary"]);
    // From a single version, the canary takes the stable side's top buckets.
    assert_eq!(t90.sides[0].buckets, [v1::BucketRange { start: 0, end: 9_000 }]);
    assert_eq!(t90.sides[1].buckets, [v1::BucketRange { start: 9_000, end: 10_000 }]);

    // Without a routing key: the whole target.
    let mut reader = registry.resolver().await.unwrap();
    let whole = resolve_with(&mut reader, model, "production", "", set.revision).await;
    assert_eq!((whole.version, whole.role.as_str(), whole.bucket), (1, "stable", None));
    assert_eq!(
        whole.sides.iter().map(|s| (s.version, s.weight)).collect::<Vec<_>>(),
        [(1, 9_000), (2, 1_000)]
    );
    assert_eq!(whole.shadows.iter().map(|s| (s.version, s.mirror)).collect::<Vec<_>>(), [(3, 500)]);
    assert!(whole.sides[1].artifact_uri.contains("r2"), "{:?}", whole.sides[1]);
    assert!(whole.shadows[0].artifact_uri.contains("r3"), "{:?}", whole.shadows[0]);

    // With keys: the reader, the primary (straight from the store) and the documented rule agree.
    let keys: Vec<String> = (0..300).map(|i| format!("user-{i}")).collect();
    let at_90 = sides_of(&mut reader, model, &keys, set.revision).await;
    // The primary answers from the store (on SQLite, `bindery dev` is both sides).
    let mut write_side = std::ops::Deref::deref(&registry).resolver().await.unwrap();
    assert_eq!(sides_of(&mut write_side, model, &keys, set.revision).await, at_90);
    if let Some(db) = registry.postgres() {
        // A second read node, loaded from its own snapshot, answers the same.
        let second = bindery_test_util::TestReader::start(&db.url).await.unwrap();
        let mut second = second.resolver().await.unwrap();
        assert_eq!(sides_of(&mut second, model, &keys, set.revision).await, at_90);
    }
    for (key, (version, role)) in keys.iter().zip(&at_90) {
        assert_eq!(*version, expected(model, &t90, key), "{key}");
        assert_eq!(role, if *version == 1 { "stable" } else { "canary" });
    }
    let canaries = at_90.iter().filter(|(v, _)| *v == 2).count();
    assert!((10..=60).contains(&canaries), "{canaries} of 300 keys on the 10% canary");
    // A key is mirrored exactly when its bucket is under the shadow's 5%.
    let one = resolve_with(&mut reader, model, "production", "user-7", set.revision).await;
    let bucket = one.bucket.unwrap();
    assert_eq!(bucket, bindery_core::traffic::bucket(model, "production", "user-7"));
    assert_eq!(one.shadows.len(), usize::from(bucket < 500), "bucket {bucket}");

    // ResolveMany answers each entry with its own key, from one state.
    let many = reader
        .resolve_many(v1::ResolveManyRequest {
            requests: keys[..20]
                .iter()
                .map(|k| v1::ResolveRequest {
                    model_name: model.into(),
                    binding: "production".into(),
                    routing_key: k.clone(),
                    ..Default::default()
                })
                .collect(),
        })
        .await
        .unwrap()
        .into_inner();
    let versions: Vec<u64> = many
        .results
        .iter()
        .map(|x| match &x.outcome {
            Some(v1::resolve_result::Outcome::Response(r)) => r.version,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(versions, at_90[..20].iter().map(|(v, _)| *v).collect::<Vec<_>>());

    // Every version of the target is bound: none can be archived.
    for version in [2, 3] {
        let got = r
            .get_version(v1::GetVersionRequest { model_name: model.into(), version, ..Default::default() })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got.bindings, ["production"], "v{version}");
        assert_status(
            r.archive_version(v1::ArchiveVersionRequest { model_name: model.into(), version }).await,
            Code::FailedPrecondition,
            &["bound by production"],
        );
    }

    // 90/10 -> 50/50: keys only move from the stable side to the canary.
    let set50 =
        split(&mut r, model, "production", traffic(&[(1, 5_000), (2, 5_000)], &[(3, 500)])).await.unwrap();
    let at_50 = sides_of(&mut reader, model, &keys, set50.revision).await;
    for ((before, after), key) in at_90.iter().zip(&at_50).zip(&keys) {
        if before.0 != after.0 {
            assert_eq!((before.0, after.0), (1, 2), "{key} moved the wrong way");
        }
    }
    assert!(at_50.iter().filter(|(v, _)| *v == 2).count() > canaries);

    // Rollback restores the whole earlier target, buckets included: every key goes back.
    let back = rollback(&mut r, model, "production").await.unwrap();
    assert_eq!(back.binding.as_ref().unwrap().traffic.as_ref(), Some(&t90));
    assert_eq!(sides_of(&mut reader, model, &keys, back.revision).await, at_90);

    // History records the whole targets.
    let history = binding_history(&mut r, model, "production").await;
    assert_eq!(history.len(), 4);
    assert_eq!(history[0].after_traffic.as_ref(), Some(&t90));
    assert_eq!(history[0].before_traffic.as_ref().map(|t| t.sides[0].weight), Some(5_000));
    assert_eq!((history[3].after_version, history[3].after_traffic.as_ref()), (Some(1), None));
    // Rolling back to the first generation: a plain single version again.
    let plain = r
        .rollback_binding(v1::RollbackBindingRequest {
            model_name: model.into(),
            binding: "production".into(),
            to_generation: Some(1),
            reason: "end the canary".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let b = plain.binding.unwrap();
    assert_eq!((b.version, b.traffic), (1, None));
    let single = resolve_with(&mut reader, model, "production", "user-1", plain.revision).await;
    assert_eq!((single.version, single.role.as_str(), single.sides.len()), (1, "stable", 0));
    // Versions that left the target can be archived again.
    r.archive_version(v1::ArchiveVersionRequest { model_name: model.into(), version: 3 }).await.unwrap();

    // The same split again from scratch, then watched: the target comes whole.
    let again = split(&mut r, model, "production", traffic(&[(1, 9_000), (2, 1_000)], &[])).await.unwrap();
    let mut watch = reader
        .watch_bindings(v1::WatchBindingsRequest { model_names: vec![model.into()], ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    let mut state = None;
    while let Some(message) = watch.message().await.unwrap() {
        if message.revision >= again.revision {
            state = message.bindings.into_iter().find(|b| b.binding == "production");
            break;
        }
    }
    let state = state.unwrap();
    assert_eq!(
        state.sides.iter().map(|s| (s.version, s.weight)).collect::<Vec<_>>(),
        [(1, 9_000), (2, 1_000)]
    );
    assert!(state.shadows.is_empty());
}

pub(crate) async fn bad_splits_are_refused_naming_the_field(backend: Backend) {
    let registry = TestRegistry::start(backend).await.unwrap();
    let mut r = registry.registry().await.unwrap();
    let model = "ads/ranker";
    create_model(&mut r, model).await;
    for i in 1..=3 {
        register(&mut r, model, &format!("r{i}")).await;
    }
    r.archive_version(v1::ArchiveVersionRequest { model_name: model.into(), version: 3 }).await.unwrap();
    let cases: Vec<(v1::Traffic, Code, &str)> = vec![
        (traffic(&[(1, 9_000), (2, 900)], &[]), Code::InvalidArgument, "traffic.sides"),
        (traffic(&[(1, 5_000), (1, 5_000)], &[]), Code::InvalidArgument, "traffic.sides[1].version"),
        (traffic(&[(1, 10_000)], &[(1, 100)]), Code::InvalidArgument, "traffic.shadows[0].version"),
        (traffic(&[(1, 10_000)], &[(2, 0)]), Code::InvalidArgument, "traffic.shadows[0].mirror"),
        (traffic(&[], &[]), Code::InvalidArgument, "traffic.sides"),
        (
            v1::Traffic {
                sides: vec![side(1, 5_000, "a"), side(2, 5_000, "a")],
                shadows: Vec::new(),
                ..Default::default()
            },
            Code::InvalidArgument,
            "traffic.sides[1].role",
        ),
        (
            v1::Traffic {
                sides: vec![side(1, 5_000, "Bad Role"), side(2, 5_000, "")],
                shadows: Vec::new(),
                ..Default::default()
            },
            Code::InvalidArgument,
            "traffic.sides[0].role",
        ),
        (traffic(&[(1, 5_000), (9, 5_000)], &[]), Code::NotFound, "version 9"),
        (traffic(&[(1, 5_000), (3, 5_000)], &[]), Code::FailedPrecondition, "ARCHIVED"),
        (traffic(&[(1, 10_000)], &[(3, 100)]), Code::FailedPrecondition, "ARCHIVED"),
    ];
    for (t, code, needle) in cases {
        assert_status(split(&mut r, model, "production", t).await, code, &[needle]);
    }
    // `version` and `traffic` must agree.
    assert_status(
        r.set_binding(v1::SetBindingRequest {
            model_name: model.into(),
            binding: "production".into(),
            version: 2,
            traffic: Some(traffic(&[(1, 5_000), (2, 5_000)], &[])),
            ..Default::default()
        })
        .await,
        Code::InvalidArgument,
        &["version", "leave version 0"],
    );
    // Nothing was written by any of them.
    assert_status(
        r.list_binding_history(v1::ListBindingHistoryRequest {
            model_name: model.into(),
            binding: "production".into(),
            ..Default::default()
        })
        .await
        .map(|h| h.into_inner().entries.len())
        .and_then(|n| if n == 0 { Err(tonic::Status::not_found("empty")) } else { Ok(n) }),
        Code::NotFound,
        &["empty"],
    );
    // A routing key is bounded.
    let mut reader = registry.resolver().await.unwrap();
    assert_status(
        reader
            .resolve(v1::ResolveRequest {
                model_name: model.into(),
                binding: "production".into(),
                routing_key: "k".repeat(257),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        &["routing_key"],
    );
}

pub(crate) async fn sides_gaining_weight_pass_the_gates(backend: Backend) {
    let registry = TestRegistry::start(backend).await.unwrap();
    let mut r = registry.registry().await.unwrap();
    let model = "credit/scorer";
    create_model(&mut r, model).await;
    for (run, auc) in [("good", 0.95), ("bad", 0.80), ("better", 0.96)] {
        let mut req = register_request(model, run);
        req.metrics = [("auc".to_owned(), auc)].into();
        r.register_version(req).await.unwrap();
    }
    r.set_promotion_policy(as_actor(auc_policy(model, 0.9), "admin")).await.unwrap();
    bind(&mut r, model, "production", 1, None).await.unwrap();
    // The bad version may not take traffic, not even 1%.
    assert_status(
        split(&mut r, model, "production", traffic(&[(1, 9_900), (2, 100)], &[])).await,
        Code::FailedPrecondition,
        &["auc"],
    );
    // As a shadow it serves no user: no gate applies. The better one passes as a canary.
    let ok =
        split(&mut r, model, "production", traffic(&[(1, 9_000), (3, 1_000)], &[(2, 2_000)])).await.unwrap();
    assert_eq!(ok.binding.unwrap().traffic.unwrap().shadows.len(), 1);
    // Moving weight back to the stable version (which passes) is fine too.
    split(&mut r, model, "production", traffic(&[(1, 9_500), (3, 500)], &[(2, 2_000)])).await.unwrap();
}

pub(crate) async fn the_cli_sets_and_resolves_a_split(backend: Backend) {
    let registry = TestRegistry::start(backend).await.unwrap();
    let mut r = registry.registry().await.unwrap();
    create_model(&mut r, "nlp/tagger").await;
    for i in 1..=3 {
        register(&mut r, "nlp/tagger", &format!("r{i}")).await;
    }
    let out = cli(
        &registry,
        &["bind", "nlp/tagger", "production", "--split", "1=90,2=10:canary", "--shadow", "3=2.5"],
    )
    .await
    .unwrap();
    assert!(out.contains("v1 90% stable, v2 10% canary; shadow v3 2.50%"), "{out}");
    let out =
        cli(&registry, &["resolve", "nlp/tagger", "production", "--routing-key", "user-1"]).await.unwrap();
    let want = bindery_core::traffic::bucket("nlp/tagger", "production", "user-1");
    assert!(out.contains(&format!("bucket {want}")), "{out}");
    let out = cli(&registry, &["resolve", "nlp/tagger", "production"]).await.unwrap();
    assert!(out.contains("side   v2 10% canary"), "{out}");
    assert!(out.contains("shadow v3 mirror 2.50%"), "{out}");
    let out = cli(&registry, &["history", "nlp/tagger", "production"]).await.unwrap();
    assert!(out.contains("-> [v1 90% stable, v2 10% canary; shadow v3 2.50%]"), "{out}");
    let err = cli(&registry, &["bind", "nlp/tagger", "production", "--split", "1=90,2=5"]).await.unwrap_err();
    assert!(format!("{err:#}").contains("sum to 9500"), "{err:#}");
}

/// On a protected binding, moving traffic needs APPROVER; adding, changing or removing shadows
/// alone needs only CONTRIBUTOR (shadows answer no user).
pub(crate) async fn shadows_alone_need_only_contributor_when_protected(backend: Backend) {
    let (registry, admin) = TestRegistry::start_secured(backend).await.unwrap();
    let mut r = registry.registry().await.unwrap();
    let carol = create_token(&mut r, &admin, "carol").await;
    grant(&mut r, &admin, "carol", v1::Role::Contributor, "fraud/").await;
    let model = "fraud/detector";
    r.create_model(with(v1::CreateModelRequest { name: model.into(), ..Default::default() }, Some(&admin)))
        .await
        .unwrap();
    for i in 1..=3 {
        r.register_version(with(register_request(model, &format!("r{i}")), Some(&admin))).await.unwrap();
    }
    let set = |t: v1::Traffic, token: &str| {
        with(
            v1::SetBindingRequest {
                model_name: model.into(),
                binding: "production".into(),
                traffic: Some(t),
                ..Default::default()
            },
            Some(token),
        )
    };
    let base = traffic(&[(1, 9_000), (2, 1_000)], &[]);
    r.set_binding(set(base, &admin)).await.unwrap();
    // `production` is protected by default: carol may not move traffic...
    assert_status(
        r.set_binding(set(traffic(&[(1, 8_000), (2, 2_000)], &[]), &carol)).await,
        Code::PermissionDenied,
        &["'production' is protected"],
    );
    // ...but may add a shadow, change it, and remove it.
    let added = r.set_binding(set(traffic(&[(1, 9_000), (2, 1_000)], &[(3, 100)]), &carol)).await.unwrap();
    assert_eq!(added.get_ref().binding.as_ref().unwrap().updated_by, "carol");
    r.set_binding(set(traffic(&[(1, 9_000), (2, 1_000)], &[(3, 5_000)]), &carol)).await.unwrap();
    r.set_binding(set(traffic(&[(1, 9_000), (2, 1_000)], &[]), &carol)).await.unwrap();
    // Not alongside any other change, and not with a stale generation.
    assert_status(
        r.set_binding(set(traffic(&[(1, 9_500), (2, 500)], &[(3, 100)]), &carol)).await,
        Code::PermissionDenied,
        &["APPROVER"],
    );
    let mut stale = set(traffic(&[(1, 9_000), (2, 1_000)], &[(3, 100)]), &carol);
    stale.get_mut().expected_generation = Some(1);
    assert_status(r.set_binding(stale).await, Code::PermissionDenied, &["APPROVER"]);
}
