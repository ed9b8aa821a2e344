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
    assert!(format!("{err:#}").contains("NotFound: version 7"), "{err:#}");
    assert!(
        bindery(&primary, &["version", "register", "team/search", "--uri", uri, "--metric", "x"])
            .await
            .is_err()
    );
}
