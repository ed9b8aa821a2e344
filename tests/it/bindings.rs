//! Bindings: compare-and-set under races, history, rollback.

use bindery_proto::v1::{self, BindingAction};
use tokio::task::JoinSet;
use tonic::Code;

use crate::helpers::*;

pub(crate) async fn racing_set_binding_with_same_expected_generation_exactly_one_wins(backend: Backend) {
    let primary = TestRegistry::start(backend).await.unwrap();
    let mut registry = primary.registry().await.unwrap();
    create_model(&mut registry, "pricing").await;
    for i in 1..=9 {
        register(&mut registry, "pricing", &format!("r{i}")).await;
    }
    bind(&mut registry, "pricing", "production", 1, Some(0)).await.unwrap();

    // Several rounds: in each, 8 writers race from the same generation to 8 different versions
    // (none of them the one currently bound, so every winner is a real change).
    let mut generation = 1;
    for round in 0..5 {
        let mut racers = JoinSet::new();
        for version in 2..=9u64 {
            let mut client = primary.registry().await.unwrap();
            racers.spawn(async move {
                let result = bind(&mut client, "pricing", "production", version, Some(generation)).await;
                (version, result)
            });
        }
        let mut winners = Vec::new();
        while let Some(joined) = racers.join_next().await {
            let (version, result) = joined.unwrap();
            match result {
                Ok(response) => winners.push((version, response)),
                Err(status) => {
                    assert_eq!(status.code(), Code::Aborted, "{}", status.message());
                    assert!(
                        status.message().contains(&format!("expected generation {generation}")),
                        "{}",
                        status.message()
                    );
                }
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: exactly one writer wins");
        let (version, response) = &winners[0];
        assert_eq!(response.binding.as_ref().unwrap().generation, generation + 1);
        let resolved = primary
            .resolver()
            .await
            .unwrap()
            .resolve(v1::ResolveRequest {
                model_name: "pricing".into(),
                binding: "production".into(),
                min_revision: response.revision,
                presign: false,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(resolved.version, *version, "the losers changed nothing");
        assert_eq!(resolved.generation, generation + 1);
        // Back to version 1 for the next round.
        bind(&mut registry, "pricing", "production", 1, Some(generation + 1)).await.unwrap();
        generation += 2;
    }
    let history = registry
        .list_binding_history(v1::ListBindingHistoryRequest {
            model_name: "pricing".into(),
            binding: "production".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(history.entries.len(), 11, "1 initial + 5 winners + 5 resets, no loser recorded");
}

pub(crate) async fn compare_and_set_rules(backend: Backend) {
    let primary = TestRegistry::start(backend).await.unwrap();
    let mut registry = primary.registry().await.unwrap();
    create_model(&mut registry, "cas").await;
    register(&mut registry, "cas", "a").await;
    register(&mut registry, "cas", "b").await;

    bind(&mut registry, "cas", "champion", 1, Some(0)).await.unwrap();
    assert_status(
        bind(&mut registry, "cas", "champion", 2, Some(0)).await,
        Code::Aborted,
        &["champion", "generation 1", "not to exist"],
    );
    assert_status(bind(&mut registry, "cas", "champion", 2, Some(5)).await, Code::Aborted, &["generation 5"]);
    // Setting the version it already has is a no-op: same generation, same revision.
    let same = bind(&mut registry, "cas", "champion", 1, Some(1)).await.unwrap();
    assert_eq!(same.binding.as_ref().unwrap().generation, 1);
    let moved = bind(&mut registry, "cas", "champion", 2, Some(1)).await.unwrap();
    assert_eq!(moved.binding.unwrap().generation, 2);
    assert!(moved.revision > same.revision);

    assert_status(unbind(&mut registry, "cas", "champion", Some(1)).await, Code::Aborted, &["generation 2"]);
    unbind(&mut registry, "cas", "champion", Some(2)).await.unwrap();
    assert_status(unbind(&mut registry, "cas", "champion", None).await, Code::NotFound, &["champion"]);
    // Re-created bindings continue the generation sequence.
    let again = bind(&mut registry, "cas", "champion", 1, Some(0)).await.unwrap();
    assert_eq!(again.binding.unwrap().generation, 4);
}

pub(crate) async fn history_and_rollback(backend: Backend) {
    let primary = TestRegistry::start(backend).await.unwrap();
    let mut registry = primary.registry().await.unwrap();
    create_model(&mut registry, "recs").await;
    for i in 1..=3 {
        register(&mut registry, "recs", &format!("r{i}")).await;
    }
    assert_status(rollback(&mut registry, "recs", "production").await, Code::NotFound, &["production"]);
    bind(&mut registry, "recs", "production", 1, None).await.unwrap();
    assert_status(
        rollback(&mut registry, "recs", "production").await,
        Code::FailedPrecondition,
        &["no target before"],
    );
    bind(&mut registry, "recs", "production", 2, None).await.unwrap();
    bind(&mut registry, "recs", "production", 3, None).await.unwrap();

    let rolled = registry
        .rollback_binding(as_actor(
            v1::RollbackBindingRequest {
                model_name: "recs".into(),
                binding: "production".into(),
                reason: "p99 regression".into(),
                ..Default::default()
            },
            "oncall",
        ))
        .await
        .unwrap()
        .into_inner();
    let binding = rolled.binding.unwrap();
    assert_eq!((binding.version, binding.generation, binding.updated_by.as_str()), (2, 4, "oncall"));
    let resolved = primary
        .resolver()
        .await
        .unwrap()
        .resolve(v1::ResolveRequest {
            model_name: "recs".into(),
            binding: "production".into(),
            min_revision: rolled.revision,
            presign: false,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resolved.version, 2);

    // Roll back to what generation 1 bound.
    let to_first = registry
        .rollback_binding(v1::RollbackBindingRequest {
            model_name: "recs".into(),
            binding: "production".into(),
            to_generation: Some(1),
            expected_generation: Some(4),
            reason: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(to_first.binding.unwrap().version, 1);
    assert_status(
        registry
            .rollback_binding(v1::RollbackBindingRequest {
                model_name: "recs".into(),
                binding: "production".into(),
                to_generation: Some(42),
                ..Default::default()
            })
            .await,
        Code::NotFound,
        &["generation 42"],
    );

    let history = registry
        .list_binding_history(v1::ListBindingHistoryRequest {
            model_name: "recs".into(),
            binding: "production".into(),
            page_size: 3,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let summary: Vec<(u64, i32, Option<u64>, Option<u64>)> =
        history.entries.iter().map(|e| (e.generation, e.action, e.before_version, e.after_version)).collect();
    assert_eq!(
        summary,
        vec![
            (5, BindingAction::Rollback as i32, Some(2), Some(1)),
            (4, BindingAction::Rollback as i32, Some(3), Some(2)),
            (3, BindingAction::Set as i32, Some(2), Some(3)),
        ]
    );
    assert_eq!(history.entries[1].reason, "p99 regression");
    assert_eq!(history.entries[1].actor, "oncall");
    let older = registry
        .list_binding_history(v1::ListBindingHistoryRequest {
            model_name: "recs".into(),
            binding: "production".into(),
            page_size: 3,
            page_token: history.next_page_token,
        })
        .await
        .unwrap()
        .into_inner();
    let generations: Vec<u64> = older.entries.iter().map(|e| e.generation).collect();
    assert_eq!(generations, vec![2, 1]);
    assert_eq!(older.entries[1].before_version, None);
    assert!(older.next_page_token.is_empty());
    // Revisions in history strictly decrease with the generation.
    let all: Vec<u64> = history.entries.iter().chain(&older.entries).map(|e| e.revision).collect();
    assert!(all.windows(2).all(|w| w[0] > w[1]), "{all:?}");
}

pub(crate) async fn get_version_by_binding(backend: Backend) {
    let primary = TestRegistry::start(backend).await.unwrap();
    let mut registry = primary.registry().await.unwrap();
    create_model(&mut registry, "ranker").await;
    for i in 1..=2 {
        register(&mut registry, "ranker", &format!("r{i}")).await;
    }
    let by_binding = |model: &str, binding: &str, version: u64| v1::GetVersionRequest {
        model_name: model.into(),
        version,
        binding: binding.into(),
    };
    assert_status(
        registry.get_version(by_binding("ranker", "champion", 0)).await,
        Code::NotFound,
        &["binding 'champion'"],
    );
    assert_status(
        registry.get_version(by_binding("nothing", "champion", 0)).await,
        Code::NotFound,
        &["model 'nothing'"],
    );
    assert_status(
        registry.get_version(by_binding("ranker", "champion", 1)).await,
        Code::InvalidArgument,
        &["version", "not both"],
    );
    assert_status(
        registry.get_version(by_binding("ranker", "Bad Name", 0)).await,
        Code::InvalidArgument,
        &["binding"],
    );
    bind(&mut registry, "ranker", "champion", 2, None).await.unwrap();
    bind(&mut registry, "ranker", "production", 2, None).await.unwrap();
    let got = registry.get_version(by_binding("ranker", "champion", 0)).await.unwrap().into_inner();
    let direct = registry.get_version(by_binding("ranker", "", 2)).await.unwrap().into_inner();
    assert_eq!(got, direct, "the same version, bindings included");
    assert_eq!(
        (got.version, got.bindings.clone()),
        (2, vec!["champion".to_owned(), "production".to_owned()])
    );
    bind(&mut registry, "ranker", "champion", 1, None).await.unwrap();
    let moved = registry.get_version(by_binding("ranker", "champion", 0)).await.unwrap().into_inner();
    assert_eq!(moved.version, 1);
}
