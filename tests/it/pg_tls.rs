//! TLS to PostgreSQL with libpq's sslmode meanings, against a real server that accepts TCP only
//! over TLS: the pool, the read node's LISTEN connection and migrations all use it.

use std::time::Duration;

use bindery_test_util::{TempCluster, TestPki, TestReader};

use crate::helpers::*;

async fn connects(url: &str) -> Result<(), String> {
    let config =
        bindery_store_postgres::parse_config(url, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    let client = bindery_store_postgres::connect(&config).await.map_err(|e| e.to_string())?;
    client.simple_query("SELECT 1").await.map(drop).map_err(|e| e.to_string())
}

#[tokio::test]
async fn sslmodes_verify_as_libpq_does_and_the_registry_runs_over_tls() {
    let pki = TestPki::new("pg").unwrap();
    // The certificate names another host than the 127.0.0.1 we connect to.
    let (cert, key) = pki.server_files_for("pg", &["db.example"]).unwrap();
    let cluster = TempCluster::start_tls(&cert, &key).unwrap();
    let base = cluster.url();
    let ca = pki.ca_path().display().to_string();
    let stranger = TestPki::new("pg-stranger").unwrap();
    let other_ca = stranger.ca_path().display().to_string();

    assert!(connects(&format!("{base}?sslmode=disable")).await.is_err(), "plaintext was accepted");
    connects(&format!("{base}?sslmode=require")).await.unwrap();
    connects(&base).await.unwrap(); // prefer, the default
    connects(&format!("{base}?sslmode=verify-ca&sslrootcert={ca}")).await.unwrap();
    let wrong_host = connects(&format!("{base}?sslmode=verify-full&sslrootcert={ca}")).await;
    assert!(wrong_host.is_err(), "verify-full accepted a certificate for another host");
    let wrong_ca = connects(&format!("{base}?sslmode=verify-ca&sslrootcert={other_ca}")).await;
    assert!(wrong_ca.is_err(), "verify-ca accepted a certificate from another CA");
    let missing = bindery_store_postgres::parse_config(
        &format!("{base}?sslmode=verify-ca&sslrootcert=/nope.pem"),
        Duration::from_secs(1),
    );
    assert!(missing.is_err_and(|e| e.to_string().contains("/nope.pem")));

    // The whole registry over verify-ca: the primary creates and migrates its database and
    // pools connections, the read node LISTENs and catches up, all over TLS.
    let server = base.rsplit_once('/').map_or(base.as_str(), |(server, _)| server);
    let db_url = format!("{server}/bindery?sslmode=verify-ca&sslrootcert={ca}");
    let for_primary = db_url.clone();
    let primary = bindery_test_util::Served::spawn(move |listener, addr, stopped| {
        let mut config =
            bindery_server::PrimaryConfig::new(addr, bindery_server::DatabaseUrl::new(for_primary));
        config.auth = bindery_server::AuthArg::None;
        config.database.create_database = true;
        config.readiness_interval_ms = 200;
        config.artifacts.verify_artifacts = false;
        bindery_server::serve_primary(listener, config, async {
            let _ = stopped.await;
        })
    })
    .await
    .unwrap();
    primary.wait_serving(Duration::from_secs(30)).await.unwrap();
    let mut registry = bindery_proto::v1::registry_service_client::RegistryServiceClient::new(
        primary.channel().await.unwrap(),
    );
    create_model(&mut registry, "m").await;
    register(&mut registry, "m", "r1").await;
    let bound = bind(&mut registry, "m", "production", 1, None).await.unwrap();
    let reader = TestReader::start(&db_url).await.unwrap();
    reader.wait_revision(bound.revision, Duration::from_secs(10)).await.unwrap();
    let next = bind(&mut registry, "m", "canary", 1, None).await.unwrap();
    reader.wait_revision(next.revision, Duration::from_secs(10)).await.unwrap();
}
