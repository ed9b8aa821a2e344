//! Database failover through PostgreSQL's own high availability: a primary and a streaming
//! standby built from the installed PostgreSQL binaries (`initdb`, `pg_basebackup -R`,
//! `pg_ctl promote`), synchronous replication on, and Bindery given both hosts in one URL with
//! `target_session_attrs=read-write`. The old primary crashes in the middle of a write burst and
//! the standby is promoted, as Patroni or CloudNativePG would do: every acknowledged write is
//! there, retried writes are not duplicated, health reports the outage, and the read node
//! converges on the new primary.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bindery_proto::v1;
use bindery_test_util::{TempCluster, TestReader};
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;

use crate::helpers::*;

const WRITERS: usize = 8;
const PER_WRITER: usize = 20;

/// `url` (one host) with both clusters' hosts and `target_session_attrs=read-write`.
fn both_hosts(url: &str, first: u16, second: u16) -> String {
    let database = url.rsplit('/').next().unwrap_or_default();
    format!(
        "postgres://postgres@127.0.0.1:{first},127.0.0.1:{second}/{database}?target_session_attrs=read-write"
    )
}

/// Registers with `request_id` until the registry acknowledges it, retrying what a client retries
/// (UNAVAILABLE during the outage; ABORTED on a conflict), as the CLI and the clients do.
async fn register_until_acknowledged(registry: &mut Registry, model: &str, request_id: &str) -> (u64, usize) {
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut retries = 0;
    loop {
        match registry.register_version(register_request(model, request_id)).await {
            Ok(r) => return (r.into_inner().version.map_or(0, |v| v.version), retries),
            Err(s) if matches!(s.code(), Code::Unavailable | Code::Aborted) && Instant::now() < deadline => {
                retries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(s) => panic!("register {model}/{request_id}: {s:?}"),
        }
    }
}

/// Every acknowledged registration of `model` is there, once, with the version it was
/// acknowledged as (`versions`: request id -> version), and nothing else is.
async fn each_acknowledged_write_once(
    registry: &mut Registry,
    model: &str,
    versions: &BTreeMap<String, u64>,
) {
    let listed = registry
        .list_versions(v1::ListVersionsRequest {
            model_name: model.into(),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.versions.len(), PER_WRITER, "{model}: one version per request id, no duplicates");
    for v in &listed.versions {
        assert_eq!(versions.get(&v.request_id), Some(&v.version), "{model}: {}", v.request_id);
    }
}

#[tokio::test]
async fn a_promoted_standby_takes_over_and_no_acknowledged_write_is_lost() {
    let started = Instant::now();
    let old = TempCluster::start().unwrap();
    let mut db = TestDb::create_on(&old.url()).await.unwrap();
    let standby = old.start_standby().unwrap();
    eprintln!("failover: primary and standby clusters up in {:?}", started.elapsed());
    // Synchronous replication: a commit is acknowledged only once the standby has flushed it.
    {
        let admin = db.client().await.unwrap();
        admin.batch_execute("ALTER SYSTEM SET synchronous_standby_names = '*'").await.unwrap();
        admin.batch_execute("SELECT pg_reload_conf()").await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while admin
            .query_opt("SELECT 1 FROM pg_stat_replication WHERE sync_state = 'sync'", &[])
            .await
            .unwrap()
            .is_none()
        {
            assert!(Instant::now() < deadline, "the standby never became synchronous");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    db.url = both_hosts(&db.url, old.port, standby.port);
    let url = db.url.clone();

    // The primary migrates through the two-host URL (it lands on the read-write one).
    let primary = TestPrimary::start_with(db, |c| {
        c.readiness_interval_ms = 100;
        c.readiness_failures = 2;
    })
    .await
    .unwrap();
    let reader = TestReader::start(&url).await.unwrap();
    let mut registry = primary.registry().await.unwrap();
    for w in 0..WRITERS {
        create_model(&mut registry, &format!("failover/m{w}")).await;
    }

    // Eight writers register PER_WRITER versions each; the database fails over in the middle.
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (mut registry, acknowledged) = (primary.registry().await.unwrap(), acknowledged.clone());
        writers.push(tokio::spawn(async move {
            let model = format!("failover/m{w}");
            let mut versions = BTreeMap::new();
            let mut retries = 0;
            for i in 0..PER_WRITER {
                let request_id = format!("w{w}-{i}");
                let (version, r) = register_until_acknowledged(&mut registry, &model, &request_id).await;
                retries += r;
                versions.insert(request_id, version);
                acknowledged.fetch_add(1, Ordering::Relaxed);
            }
            (model, versions, retries)
        }));
    }
    while acknowledged.load(Ordering::Relaxed) < WRITERS * PER_WRITER / 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Watch health through the outage.
    let health = {
        let primary_channel = primary.channel().await.unwrap();
        tokio::spawn(async move {
            let mut client = tonic_health::pb::health_client::HealthClient::new(primary_channel);
            let mut seen = Vec::new();
            let until = Instant::now() + Duration::from_secs(20);
            while Instant::now() < until {
                let status = client
                    .check(tonic_health::pb::HealthCheckRequest { service: String::new() })
                    .await
                    .map_or(-1, |r| r.into_inner().status);
                if seen.last() != Some(&status) {
                    seen.push(status);
                }
                if seen.len() >= 3 && status == ServingStatus::Serving as i32 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            seen
        })
    };
    let at_crash = acknowledged.load(Ordering::Relaxed);
    old.crash().unwrap();
    // What a failover manager does after noticing: here, a second later.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    standby.promote().unwrap();
    let promoted = Instant::now();

    let mut total_retries = 0;
    let mut expected_latest = BTreeMap::new();
    for writer in writers {
        let (model, versions, retries) = writer.await.unwrap();
        total_retries += retries;
        each_acknowledged_write_once(&mut registry, &model, &versions).await;
        expected_latest.insert(model, PER_WRITER as u64);
    }
    assert!(at_crash < WRITERS * PER_WRITER, "the crash came in the middle of the burst");
    assert!(total_retries > 0, "the writers saw the outage and retried");
    let seen = health.await.unwrap();
    assert!(
        seen.contains(&(ServingStatus::NotServing as i32))
            && seen.last() == Some(&(ServingStatus::Serving as i32)),
        "health went NOT_SERVING during the outage and back to SERVING: {seen:?}"
    );

    // Bindings after the failover reach the read node, which re-LISTENed on the new primary.
    let mut revision = 0;
    for (model, latest) in &expected_latest {
        revision = bind(&mut registry, model, "production", *latest, None).await.unwrap().revision;
    }
    reader.wait_revision(revision, Duration::from_secs(30)).await.unwrap();
    let mut resolver = reader.resolver().await.unwrap();
    for (model, latest) in &expected_latest {
        assert_eq!(resolve_with(&mut resolver, model, "production", "", revision).await.version, *latest);
    }
    assert_eq!(reader.health("").await.unwrap(), ServingStatus::Serving as i32);
    eprintln!(
        "failover: crash after {at_crash} of {} writes acknowledged, {total_retries} retries, all converged {:?} after promotion",
        WRITERS * PER_WRITER,
        promoted.elapsed()
    );
    drop(reader);
    primary.stop().await.unwrap();
}

/// Two primaries on one database: one (a real process) is killed with SIGKILL in the middle of a
/// burst from eight clients, which retry against the other with the same `request_id`s. No acknowledged write is lost, no
/// version is created twice, and the read node converges.
#[tokio::test]
async fn killing_one_of_two_primaries_loses_nothing_and_duplicates_nothing() {
    let db = TestDb::create().await.unwrap();
    let url = db.url.clone();
    let survivor = TestPrimary::start_with(db, |_| {}).await.unwrap();
    // The doomed one is a real `bindery primary` process, killed with SIGKILL.
    let port = crate::dev::free_port();
    let mut doomed = std::process::Command::new(crate::dev::bindery_bin())
        .args(["primary", "--listen", &format!("127.0.0.1:{port}"), "--database-url", &url])
        .args(["--auth", "none", "--verify-artifacts", "false", "--metrics-listen", "off"])
        .env("BINDERY_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start bindery primary");
    let doomed_channel = {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let endpoint =
                tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{port}")).unwrap();
            if let Ok(channel) = endpoint.connect().await {
                let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
                let request = tonic_health::pb::HealthCheckRequest { service: String::new() };
                if health
                    .check(request)
                    .await
                    .is_ok_and(|r| r.into_inner().status == ServingStatus::Serving as i32)
                {
                    break channel;
                }
            }
            assert!(Instant::now() < deadline, "the second primary did not become SERVING");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let reader = TestReader::start(&url).await.unwrap();
    let mut registry = survivor.registry().await.unwrap();
    for w in 0..WRITERS {
        create_model(&mut registry, &format!("twins/m{w}")).await;
    }

    let acknowledged = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let first = v1::registry_service_client::RegistryServiceClient::new(doomed_channel.clone());
        let second = survivor.registry().await.unwrap();
        let acknowledged = acknowledged.clone();
        writers.push(tokio::spawn(async move {
            let model = format!("twins/m{w}");
            let (mut current, mut other) = (first, Some(second));
            let mut versions = BTreeMap::new();
            let mut switched_at = None;
            for i in 0..PER_WRITER {
                let request_id = format!("t{w}-{i}");
                let version = loop {
                    match current.register_version(register_request(&model, &request_id)).await {
                        Ok(r) => break r.into_inner().version.map_or(0, |v| v.version),
                        // The primary is gone (the call may or may not have committed): retry
                        // the same request against the other one.
                        Err(s) if other.is_some() => {
                            assert!(
                                matches!(
                                    s.code(),
                                    Code::Unavailable | Code::Unknown | Code::Cancelled | Code::Internal
                                ),
                                "{s:?}"
                            );
                            current = other.take().unwrap_or_else(|| unreachable!());
                            switched_at = Some(i);
                        }
                        Err(s) => panic!("register {model}/{request_id} on the survivor: {s:?}"),
                    }
                };
                versions.insert(request_id, version);
                acknowledged.fetch_add(1, Ordering::Relaxed);
            }
            (model, versions, switched_at)
        }));
    }
    while acknowledged.load(Ordering::Relaxed) < WRITERS * PER_WRITER / 3 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let at_kill = acknowledged.load(Ordering::Relaxed);
    doomed.kill().expect("SIGKILL the second primary"); // in-flight calls and their sessions are cut
    doomed.wait().expect("reap");

    let mut switched = 0;
    let mut latest = 0;
    for writer in writers {
        let (model, versions, switched_at) = writer.await.unwrap();
        switched += usize::from(switched_at.is_some());
        each_acknowledged_write_once(&mut registry, &model, &versions).await;
        latest = bind(&mut registry, &model, "production", PER_WRITER as u64, None).await.unwrap().revision;
    }
    assert!(
        at_kill < WRITERS * PER_WRITER && switched > 0,
        "the kill came in the middle ({at_kill}, {switched})"
    );
    reader.wait_revision(latest, Duration::from_secs(30)).await.unwrap();
    let mut resolver = reader.resolver().await.unwrap();
    for w in 0..WRITERS {
        let r = resolve_with(&mut resolver, &format!("twins/m{w}"), "production", "", latest).await;
        assert_eq!(r.version, PER_WRITER as u64);
    }
    eprintln!(
        "two primaries: killed after {at_kill} of {} writes; {switched} writers moved over",
        WRITERS * PER_WRITER
    );
    drop(reader);
    survivor.stop().await.unwrap();
}
