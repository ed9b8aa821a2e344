//! The database going away: calls fail with UNAVAILABLE (never a panic, never a hang), health
//! reflects it, and everything recovers without restarting the primary.

use std::time::{Duration, Instant};

use bindery_proto::v1;
use bindery_test_util::{Served, TempCluster};
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;

use crate::helpers::*;

async fn get_model(registry: &mut Registry, name: &str) -> Result<v1::Model, tonic::Status> {
    registry.get_model(v1::GetModelRequest { name: name.into() }).await.map(tonic::Response::into_inner)
}

#[tokio::test]
async fn database_restart_gives_unavailable_then_recovers() {
    let cluster = TempCluster::start().unwrap();
    let db = TestDb::create_on(&cluster.url()).await.unwrap();
    let primary = TestPrimary::start_with(db, |c| {
        c.readiness_interval_ms = 100;
        c.readiness_failures = 2;
    })
    .await
    .unwrap();
    let mut registry = primary.registry().await.unwrap();
    create_model(&mut registry, "survivor").await;
    register(&mut registry, "survivor", "v1").await;

    cluster.stop().unwrap();
    let started = Instant::now();
    assert_status(get_model(&mut registry, "survivor").await, Code::Unavailable, &["unavailable"]);
    assert_status(
        registry.register_version(register_request("survivor", "v2")).await,
        Code::Unavailable,
        &[],
    );
    assert_status(bind(&mut registry, "survivor", "production", 1, None).await, Code::Unavailable, &[]);
    assert!(started.elapsed() < Duration::from_secs(20), "calls fail promptly, they do not hang");
    primary.wait_health(ServingStatus::NotServing, Duration::from_secs(20)).await.unwrap();

    cluster.start_again().unwrap();
    primary.wait_serving(Duration::from_secs(30)).await.unwrap();
    // The same primary, the same client: calls succeed again and nothing was lost or half-written.
    let deadline = Instant::now() + Duration::from_secs(20);
    let model = loop {
        match get_model(&mut registry, "survivor").await {
            Ok(m) => break m,
            Err(s) if s.code() == Code::Unavailable && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(s) => panic!("not recovered: {s:?}"),
        }
    };
    assert_eq!(model.latest_version, 1, "the failed registration left nothing behind");
    let v2 = register(&mut registry, "survivor", "v2").await;
    assert_eq!(v2.version.unwrap().version, 2);
    bind(&mut registry, "survivor", "production", 2, Some(0)).await.unwrap();
    primary.stop().await.unwrap();
}

#[tokio::test]
async fn terminated_connections_do_not_break_the_primary() {
    let primary = TestPrimary::start().await.unwrap();
    let mut registry = primary.registry().await.unwrap();
    create_model(&mut registry, "term").await;
    let admin = primary.db.client().await.unwrap();
    for round in 0..3 {
        admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
                &[],
            )
            .await
            .unwrap();
        // Each call either succeeds on a fresh connection or fails with UNAVAILABLE, and the
        // primary recovers within a few calls.
        let mut ok = false;
        for _ in 0..20 {
            match registry.register_version(register_request("term", &format!("r{round}"))).await {
                Ok(_) => {
                    ok = true;
                    break;
                }
                Err(s) => assert_eq!(s.code(), Code::Unavailable, "{s:?}"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(ok, "round {round}: the primary did not recover");
    }
    let model = get_model(&mut registry, "term").await.unwrap();
    assert_eq!(model.latest_version, 3);
}

#[tokio::test]
async fn primary_started_before_its_database_becomes_ready_and_migrates() {
    let cluster = TempCluster::start().unwrap();
    let db = TestDb::create_on(&cluster.url()).await.unwrap();
    cluster.stop().unwrap();

    let url = db.url.clone();
    let mut server = Served::spawn(move |listener, addr, stopped| {
        let mut config = bindery_server::PrimaryConfig::new(addr, bindery_server::DatabaseUrl::new(url));
        config.readiness_interval_ms = 100;
        config.database.database_timeout_secs = 1;
        config.auth = bindery_server::AuthArg::None;
        bindery_server::serve_primary(listener, config, async {
            let _ = stopped.await;
        })
    })
    .await
    .unwrap();
    assert_eq!(
        server.health("").await.unwrap(),
        ServingStatus::NotServing as i32,
        "not serving without a database"
    );
    let mut registry =
        v1::registry_service_client::RegistryServiceClient::new(server.channel().await.unwrap());
    assert_status(get_model(&mut registry, "x").await, Code::Unavailable, &[]);

    cluster.start_again().unwrap();
    server.wait_serving(Duration::from_secs(30)).await.unwrap();
    // Migrated at start: the schema is there and writes work.
    create_model(&mut registry, "late").await;
    server.stop().await.unwrap();
    drop(db);
}
