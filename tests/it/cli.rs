//! The human CLI (`bindery model|version|bind|resolve …`) against a real primary.

use bindery_server::cli::{ClientCli, run};
use clap::Parser;

use crate::helpers::*;

async fn bindery(primary: &TestRegistry, argv: &[&str]) -> anyhow::Result<String> {
    let endpoint = primary.endpoint();
    let mut full = vec!["bindery", "--server", endpoint.as_str(), "--actor", "cli-user"];
    full.extend_from_slice(argv);
    let cli = ClientCli::try_parse_from(full)?;
    run(cli.args, cli.command).await
}

pub(crate) async fn cli_drives_a_model_to_production(backend: Backend) {
    let primary = TestRegistry::start(backend).await.unwrap();
    let out = bindery(&primary, &["model", "create", "team/search", "--owner", "search", "--tag", "tier=1"])
        .await
        .unwrap();
    assert!(out.starts_with("team/search"), "{out}");
    let uri = "s3://models/search/1/model.onnx";
    let args =
        ["version", "register", "team/search", "--uri", uri, "--request-id", "r1", "--metric", "ndcg=0.71"];
    let out = bindery(&primary, &args).await.unwrap();
    assert!(out.contains("v1") && out.ends_with("registered"), "{out}");
    let out = bindery(&primary, &args).await.unwrap();
    assert!(out.contains("idempotent retry"), "{out}");
    let out = bindery(&primary, &["bind", "team/search", "production", "1", "--expected-generation", "0"])
        .await
        .unwrap();
    assert!(out.contains("production -> v1 (generation 1"), "{out}");
    // Read-your-writes through the read side, as a user would: pass the revision `bind` printed.
    let revision = out.rsplit("revision ").next().unwrap().trim_end_matches(')').to_owned();
    let out = bindery(&primary, &["resolve", "team/search", "production", "--min-revision", &revision])
        .await
        .unwrap();
    assert!(out.contains(uri), "{out}");
    let out = bindery(&primary, &["history", "team/search", "production"]).await.unwrap();
    assert!(out.contains("SET") && out.contains("by cli-user"), "{out}");

    let err = bindery(&primary, &["bind", "team/search", "production", "7"]).await.unwrap_err();
    assert!(format!("{err:#}").contains("NOT_FOUND: version 7"), "{err:#}");
    assert!(
        bindery(&primary, &["version", "register", "team/search", "--uri", uri, "--metric", "x"])
            .await
            .is_err()
    );
}

/// The real binary's contract with scripts: exit 0 on success (nothing printed with --quiet), 1
/// for a failed call with the gRPC code's name on stderr, 2 for a command used wrongly.
/// (Async: the registry answering it runs on this test's runtime.)
async fn bindery_process(primary: &TestRegistry, argv: &[&str]) -> (i32, String, String) {
    let mut command = std::process::Command::new(crate::dev::bindery_bin());
    command.args(["--server", primary.endpoint().as_str(), "--actor", "cli-user"]).args(argv);
    command.env_remove("BINDERY_TOKEN");
    let out = tokio::task::spawn_blocking(move || command.output()).await.unwrap().expect("run bindery");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub(crate) async fn cli_tables_updates_set_bindings_and_exit_codes(backend: Backend) {
    let primary = TestRegistry::start(backend).await.unwrap();
    for name in ["team/b", "team/a"] {
        bindery(&primary, &["model", "create", name, "--owner", "search"]).await.unwrap();
    }
    let out = bindery(&primary, &["model", "update", "team/a", "--description", "ranker", "--tag", "tier=1"])
        .await
        .unwrap();
    assert!(out.contains("tier") && out.contains("ranker"), "{out}");

    // Lineage flags on registration.
    for (i, uri) in ["s3://models/1.onnx", "s3://models/2.onnx", "s3://models/3.onnx"].iter().enumerate() {
        let run = format!("run-{i}");
        let metric = format!("auc=0.9{i}");
        let mut argv = vec!["version", "register", "team/a", "--uri", uri, "--request-id", &run];
        argv.extend(["--metric", &metric, "--run-id", &run, "--dataset", "s3://data/train@v3"]);
        argv.extend(["--environment", "torch=2.4", "--code-ref", "git+https://git/repo@abc"]);
        if i > 0 {
            argv.extend(["--parent", "team/a@1"]);
        }
        bindery(&primary, &argv).await.unwrap();
    }
    let v: serde_json::Value =
        serde_json::from_str(&bindery(&primary, &["--json", "version", "get", "team/a", "2"]).await.unwrap())
            .unwrap();
    assert_eq!(v["lineage"]["training_run_id"], "run-1");
    assert_eq!(v["lineage"]["datasets"][0]["version"], "v3");
    assert_eq!(v["lineage"]["parent_versions"][0]["version"], 1);
    assert_eq!(v["lineage"]["environment"]["torch"], "2.4");

    let out = bindery(
        &primary,
        &["version", "update", "team/a", "1", "--metric", "latency_ms=12", "--tag", "ok=yes"],
    )
    .await
    .unwrap();
    assert!(out.contains("latency_ms"), "{out}");
    let err =
        bindery(&primary, &["version", "update", "team/a", "1", "--metric", "auc=1"]).await.unwrap_err();
    assert!(format!("{err:#}").starts_with("FAILED_PRECONDITION: "), "{err:#}");

    // Several bindings at once, compare-and-set per binding, all or nothing.
    let out = bindery(
        &primary,
        &["set-bindings", "team/a", "production=1", "staging=2", "--expected-generation", "production=0"],
    )
    .await
    .unwrap();
    assert!(
        out.contains("team/a production -> v1 (generation 1") && out.contains("team/a staging -> v2"),
        "{out}"
    );
    let err = bindery(
        &primary,
        &["set-bindings", "team/a", "production=3", "staging=3", "--expected-generation", "production=0"],
    )
    .await
    .unwrap_err();
    assert!(format!("{err:#}").starts_with("ABORTED: "), "{err:#}");
    let out = bindery(&primary, &["resolve", "team/a", "staging"]).await.unwrap();
    assert!(out.contains("s3://models/2.onnx"), "the aborted request moved nothing: {out}");

    // Tables: a header, aligned columns, every page.
    let out = bindery(&primary, &["model", "list"]).await.unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("NAME") && lines[0].contains("LATEST"), "{out}");
    assert_eq!(lines[1].find("v3"), lines[0].find("LATEST"), "columns line up: {out}");
    assert_eq!(lines.len(), 3, "{out}");
    let out = bindery(&primary, &["version", "list", "team/a"]).await.unwrap();
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0][..3], ["MODEL", "VERSION", "STATUS"], "{out}");
    assert_eq!(rows.iter().skip(1).map(|r| r[1]).collect::<Vec<_>>(), ["v3", "v2", "v1"], "{out}");
    let listed: serde_json::Value =
        serde_json::from_str(&bindery(&primary, &["--json", "version", "list", "team/a"]).await.unwrap())
            .unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(3), "--json is one document: {listed}");

    // Exit codes and stderr of the real binary.
    let (code, stdout, stderr) = bindery_process(&primary, &["--quiet", "model", "create", "team/c"]).await;
    assert_eq!((code, stdout.as_str(), stderr.as_str()), (0, "", ""), "--quiet prints nothing");
    let (code, _, stderr) = bindery_process(&primary, &["model", "get", "team/missing"]).await;
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.starts_with("error: NOT_FOUND: "), "{stderr}");
    let (code, _, stderr) = bindery_process(&primary, &["model", "frobnicate"]).await;
    assert_eq!(code, 2, "{stderr}");
    let (code, _, stderr) = bindery_process(
        &primary,
        &["set-bindings", "team/a", "production=1", "--expected-generation", "canary=0"],
    )
    .await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("canary is not one of the bindings"), "{stderr}");
    let (code, script, _) = bindery_process(&primary, &["completions", "bash"]).await;
    assert!(code == 0 && script.contains("_bindery()") && script.contains("set-bindings"), "{script}");
}
