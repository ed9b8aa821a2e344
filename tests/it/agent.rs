//! `bindery agent` against a real read side (a reader on PostgreSQL with s3s-fs, and `bindery
//! dev`): an init-container run installs v1; the sidecar swaps to v2 when the binding moves;
//! a corrupted v3 is refused with v2 still served, and installed once the bytes are right.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bindery_proto::v1;
use bindery_server::agent::{AgentConfig, AgentState, run_agent};
use bindery_test_util::ArtifactFixture;
use sha2::{Digest, Sha256};

use crate::helpers::{Backend, bind, create_model};

fn config(readers: String, dir: &Path, once: bool) -> AgentConfig {
    AgentConfig {
        model: "serve/ranker".into(),
        binding: "production".into(),
        dir: dir.to_owned(),
        readers: vec![readers],
        once,
        routing_key: String::new(),
        notify_url: None,
        notify_file: Some(dir.join("reload")),
        health_listen: bindery_server::common::ListenAddr(None),
        keep: 2,
    }
}

fn current(dir: &Path) -> Option<String> {
    std::fs::read_link(dir.join("current")).ok().map(|t| t.display().to_string())
}

async fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn the_agent_installs_swaps_and_refuses_corrupt_downloads(backend: Backend) {
    bindery_test_util::init_test_logging();
    let f = ArtifactFixture::start(backend, |_| {}).await.unwrap();
    let mut registry = f.registry.registry().await.unwrap();
    create_model(&mut registry, "serve/ranker").await;
    let bodies: Vec<Vec<u8>> = (1..=3u8).map(|i| vec![i; 4096 + usize::from(i)]).collect();
    for (i, body) in bodies.iter().enumerate() {
        let key = format!("serve/{}/model.bin", i + 1);
        f.put_object(&key, body, true).await.unwrap();
        registry
            .register_version(v1::RegisterVersionRequest {
                model_name: "serve/ranker".into(),
                request_id: key.clone(),
                artifact: Some(v1::Artifact {
                    uri: format!("s3://{}/{key}", f.bucket),
                    sha256: bindery_core::hex(&Sha256::digest(body)),
                    size_bytes: body.len() as u64,
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let readers = f.registry.read_side().endpoint();
    let dir = std::env::temp_dir().join(format!("bindery-agent-{}-{:?}", std::process::id(), backend));
    let _ = std::fs::remove_dir_all(&dir);
    let no_shutdown = std::future::pending::<()>;

    // Init container: nothing bound yet is an error; bound, it installs and exits.
    let state = Arc::new(AgentState::default());
    let err = run_agent(
        config(readers.clone(), &dir, true),
        None,
        &Default::default(),
        state.clone(),
        no_shutdown(),
    )
    .await
    .unwrap_err();
    assert!(format!("{err:#}").contains("NOT_FOUND"), "{err:#}");
    let v1_bound = bind(&mut registry, "serve/ranker", "production", 1, None).await.unwrap();
    f.registry.read_side().wait_revision(v1_bound.revision, Duration::from_secs(10)).await.unwrap();
    run_agent(config(readers.clone(), &dir, true), None, &Default::default(), state.clone(), no_shutdown())
        .await
        .unwrap();
    assert_eq!(current(&dir).as_deref(), Some("v1"));
    assert_eq!(std::fs::read(dir.join("current/model.bin")).unwrap(), bodies[0]);
    assert!(state.ready() && state.version() == 1);

    // Sidecar: follows the binding.
    let state = Arc::new(AgentState::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let health = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut sidecar_config = config(readers.clone(), &dir, false);
    sidecar_config.health_listen = bindery_server::common::ListenAddr(Some(health));
    let sidecar =
        tokio::spawn(run_agent(sidecar_config, None, Box::leak(Box::default()), state.clone(), async move {
            let _ = stopped.await;
        }));
    // A restarted sidecar is ready at once with what is already on disk.
    wait_until("readiness from disk", Duration::from_secs(5), || state.ready()).await;
    assert_eq!(state.version(), 1);
    bind(&mut registry, "serve/ranker", "production", 2, None).await.unwrap();
    wait_until("the swap to v2", Duration::from_secs(20), || current(&dir).as_deref() == Some("v2")).await;
    assert_eq!(std::fs::read(dir.join("current/model.bin")).unwrap(), bodies[1]);
    // The swap comes first; pruning and telling the model server follow it.
    let reload = dir.join("reload");
    wait_until("the reload notice for v2", Duration::from_secs(10), || {
        std::fs::read_to_string(&reload).is_ok_and(|s| s == "2\n")
    })
    .await;
    assert!(dir.join("v1").is_dir(), "the previous version stays for a local rollback");
    assert_eq!(state.version(), 2);
    let probe = http_get(health, "/readyz").await;
    assert!(probe.starts_with("HTTP/1.1 200") && probe.ends_with("serving v2\n"), "{probe}");

    // v3's bytes are damaged in the object store: refused, v2 still served, nothing half-written.
    let mut damaged = bodies[2].clone();
    damaged[0] ^= 0xff;
    f.put_object("serve/3/model.bin", &damaged, false).await.unwrap();
    bind(&mut registry, "serve/ranker", "production", 3, None).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(current(&dir).as_deref(), Some("v2"), "a corrupt download is never served");
    assert!(!dir.join("v3").exists());
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "partial downloads are removed: {leftovers:?}");
    assert_eq!(state.version(), 2);

    // Once the object is right again, the agent's retry installs it; v1 falls out of --keep 2.
    f.put_object("serve/3/model.bin", &bodies[2], false).await.unwrap();
    wait_until("the swap to v3", Duration::from_secs(30), || current(&dir).as_deref() == Some("v3")).await;
    assert_eq!(std::fs::read(dir.join("current/model.bin")).unwrap(), bodies[2]);
    wait_until("v1 pruned", Duration::from_secs(10), || !dir.join("v1").exists()).await;
    assert!(dir.join("v2").is_dir(), "keeps the served and the previous version");

    let _ = stop.send(());
    sidecar.await.unwrap().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A plain HTTP/1.1 GET, as a kubelet probe sends it.
async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}
