//! `bindery dev` as a real process: kill -9 during a burst of writes, restart, and every
//! acknowledged write is there, nothing half-written.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bindery_proto::v1;
use tokio::task::JoinSet;
use tonic::transport::Channel;

use crate::helpers::*;

/// The `bindery` binary: `$BINDERY_BIN`, else next to this test binary's `deps/` directory
/// (scripts/test.sh builds it before running the tests).
pub(crate) fn bindery_bin() -> PathBuf {
    if let Ok(bin) = std::env::var("BINDERY_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("test executable path");
    let bin = exe.parent().and_then(|deps| deps.parent()).map(|dir| dir.join("bindery")).unwrap_or_default();
    assert!(
        bin.exists(),
        "{} not found: build it with `cargo build --bin bindery` (scripts/test.sh does)",
        bin.display()
    );
    bin
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Dev {
    child: Child,
    endpoint: String,
}

impl Dev {
    async fn start(data: &std::path::Path, port: u16) -> Self {
        let child = Command::new(bindery_bin())
            .args(["dev", "--data-dir"])
            .arg(data)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args([
                "--artifact-listen",
                "127.0.0.1:0",
                "--verify-artifacts",
                "false",
                "--mlflow-listen",
                "off",
                "--console-listen",
                "off",
            ])
            .env("BINDERY_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start bindery dev");
        let endpoint = format!("http://127.0.0.1:{port}");
        let dev = Self { child, endpoint };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(channel) = dev.channel().await {
                let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
                let request = tonic_health::pb::HealthCheckRequest { service: String::new() };
                if health.check(request).await.is_ok_and(|r| r.into_inner().status == 1) {
                    return dev;
                }
            }
            assert!(Instant::now() < deadline, "bindery dev did not become SERVING");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn channel(&self) -> Result<Channel, tonic::transport::Error> {
        Channel::from_shared(self.endpoint.clone()).expect("endpoint").connect().await
    }

    fn kill9(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn kill_9_during_a_write_burst_loses_no_acknowledged_write() {
    let data = std::env::temp_dir().join(format!("bindery-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let port = free_port();
    let mut dev = Dev::start(&data, port).await;
    let mut registry = v1::registry_service_client::RegistryServiceClient::new(dev.channel().await.unwrap());
    create_model(&mut registry, "crash").await;

    // Eight writers register versions (and move a binding) as fast as they can.
    let acked: Arc<Mutex<Vec<(String, u64)>>> = Arc::default();
    let mut writers = JoinSet::new();
    for w in 0..8 {
        let mut client =
            v1::registry_service_client::RegistryServiceClient::new(dev.channel().await.unwrap());
        let acked = acked.clone();
        writers.spawn(async move {
            for n in 0.. {
                let request_id = format!("w{w}-{n}");
                match client.register_version(register_request("crash", &request_id)).await {
                    Ok(r) => {
                        let version = r.into_inner().version.unwrap().version;
                        acked.lock().unwrap().push((request_id, version));
                        let _ = bind(&mut client, "crash", &format!("w{w}"), version, None).await;
                    }
                    Err(_) => return n,
                }
            }
            0
        });
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    dev.kill9();
    while writers.join_next().await.is_some() {}
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 20, "the burst wrote something before the kill ({})", acked.len());

    // Restart on the same data: every acknowledged registration is there, with its number.
    let dev = Dev::start(&data, port).await;
    let mut registry = v1::registry_service_client::RegistryServiceClient::new(dev.channel().await.unwrap());
    for (request_id, version) in &acked {
        let got = registry
            .get_version(v1::GetVersionRequest {
                model_name: "crash".into(),
                version: *version,
                ..Default::default()
            })
            .await
            .unwrap_or_else(|s| panic!("acknowledged version {version} lost: {s:?}"))
            .into_inner();
        assert_eq!(&got.request_id, request_id);
        // And a retry is still recognised as the same registration.
        let retry =
            registry.register_version(register_request("crash", request_id)).await.unwrap().into_inner();
        assert!(!retry.created);
        assert_eq!(retry.version.unwrap().version, *version);
    }

    // Nothing half-written: the counter, the versions, the change log and the audit log agree.
    let model = registry.get_model(v1::GetModelRequest { name: "crash".into() }).await.unwrap().into_inner();
    let db = rusqlite::Connection::open_with_flags(
        data.join("bindery.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let one = |sql: &str| db.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    let versions = one("SELECT count(*) FROM versions");
    assert_eq!(u64::try_from(versions).unwrap(), model.latest_version);
    assert_eq!(one("SELECT max(version) FROM versions"), versions, "numbers 1..n, no gap");
    let revision = one("SELECT revision FROM registry_state");
    assert_eq!(one("SELECT count(*) FROM changes"), revision, "one change per revision");
    assert_eq!(one("SELECT max(revision) FROM changes"), revision);
    assert_eq!(one("SELECT count(*) FROM audit_log"), revision, "one audit row per revision");
    let history = one("SELECT count(*) FROM binding_history");
    let binding_changes = one("SELECT count(*) FROM changes WHERE kind = 'binding'");
    assert_eq!(history, binding_changes, "every binding change has its history row");

    // The read side rebuilt from the file serves the last acknowledged state.
    let mut resolver = v1::resolver_service_client::ResolverServiceClient::new(dev.channel().await.unwrap());
    let bound = registry
        .list_bindings(v1::ListBindingsRequest { model_name: "crash".into() })
        .await
        .unwrap()
        .into_inner();
    for b in bound.bindings {
        let r = resolver
            .resolve(v1::ResolveRequest {
                model_name: "crash".into(),
                binding: b.name.clone(),
                min_revision: b.revision,
                presign: false,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.version, b.version);
    }
    drop(dev);
    let _ = std::fs::remove_dir_all(&data);
}
