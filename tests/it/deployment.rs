//! The deployment spec that ships with a version (issue 15) on both stores: registered with the
//! version, part of the retry payload, returned by Resolve (per side of a split) on the read and
//! write sides and by WatchBindings, and validated field by field.

use bindery_proto::v1;
use tonic::Code;

use crate::helpers::*;

fn spec(runtime: &str) -> v1::DeploymentSpec {
    v1::DeploymentSpec {
        runtime: runtime.into(),
        image: format!("ghcr.io/acme/{runtime}:1.4"),
        cpu: "500m".into(),
        memory: "2Gi".into(),
        gpu: 1,
        env: [("MODEL_THREADS".to_owned(), "4".to_owned())].into(),
        min_replicas: 1,
        max_replicas: 3,
        config_json: r#"{"max_batch_size": 16}"#.into(),
    }
}

async fn register_with(
    r: &mut Registry,
    model: &str,
    run: &str,
    deployment: Option<v1::DeploymentSpec>,
) -> Result<v1::RegisterVersionResponse, tonic::Status> {
    let req = v1::RegisterVersionRequest { deployment, ..register_request(model, run) };
    r.register_version(req).await.map(tonic::Response::into_inner)
}

pub(crate) async fn versions_carry_their_deployment_spec_to_every_resolver(backend: Backend) {
    let registry = TestRegistry::start(backend).await.unwrap();
    let mut r = registry.registry().await.unwrap();
    let model = "fraud/detector";
    create_model(&mut r, model).await;
    let v1_ = register_with(&mut r, model, "r1", Some(spec("kserve-mlserver"))).await.unwrap();
    assert_eq!(v1_.version.unwrap().deployment, Some(spec("kserve-mlserver")));
    register_with(&mut r, model, "r2", Some(spec("triton"))).await.unwrap();
    register_with(&mut r, model, "r3", None).await.unwrap();
    let got = r
        .get_version(v1::GetVersionRequest { model_name: model.into(), version: 2, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(got.into_inner().deployment, Some(spec("triton")));

    // Part of the payload a retry must match; immutable like the artifact.
    assert_status(
        register_with(&mut r, model, "r1", Some(spec("vllm"))).await,
        Code::AlreadyExists,
        &["deployment"],
    );
    assert!(!register_with(&mut r, model, "r1", Some(spec("kserve-mlserver"))).await.unwrap().created);
    // Every field is checked and named.
    let bad = [
        (v1::DeploymentSpec { cpu: "lots".into(), ..spec("x") }, "deployment.cpu"),
        (v1::DeploymentSpec { memory: "4GB".into(), ..spec("x") }, "deployment.memory"),
        (v1::DeploymentSpec { config_json: "[1]".into(), ..spec("x") }, "deployment.config_json"),
        (v1::DeploymentSpec { min_replicas: 5, ..spec("x") }, "deployment.max_replicas"),
        (v1::DeploymentSpec { runtime: "Not A Label".into(), ..spec("x") }, "deployment.runtime"),
        (
            v1::DeploymentSpec { env: [("1X".to_owned(), String::new())].into(), ..spec("x") },
            "deployment.env",
        ),
    ];
    for (i, (d, field)) in bad.into_iter().enumerate() {
        assert_status(
            register_with(&mut r, model, &format!("bad{i}"), Some(d)).await,
            Code::InvalidArgument,
            &[field],
        );
    }

    // A split of v1 and v2 with v3 as a shadow: each version answers with its own spec.
    bind(&mut r, model, "production", 1, None).await.unwrap();
    let set = r
        .set_binding(v1::SetBindingRequest {
            model_name: model.into(),
            binding: "production".into(),
            traffic: Some(v1::Traffic {
                sides: vec![
                    v1::TrafficSide { version: 1, weight: 5_000, ..Default::default() },
                    v1::TrafficSide { version: 2, weight: 5_000, ..Default::default() },
                ],
                shadows: vec![v1::TrafficShadow { version: 3, mirror: 10_000 }],
                deployment_override: None,
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut reader = registry.resolver().await.unwrap();
    let mut primary = std::ops::Deref::deref(&registry).resolver().await.unwrap();
    for resolver in [&mut reader, &mut primary] {
        let whole = resolve_with(resolver, model, "production", "", set.revision).await;
        assert_eq!(whole.deployment, Some(spec("kserve-mlserver")));
        assert_eq!(whole.sides[1].deployment, Some(spec("triton")));
        assert_eq!(whole.shadows[0].deployment, None);
        for key in ["user-1", "user-2", "user-3", "user-4", "user-5", "user-6"] {
            let one = resolve_with(resolver, model, "production", key, 0).await;
            let runtime = if one.version == 1 { "kserve-mlserver" } else { "triton" };
            assert_eq!(one.deployment, Some(spec(runtime)), "{key} on v{}", one.version);
        }
    }
    let mut watch = reader
        .watch_bindings(v1::WatchBindingsRequest { model_names: vec![model.into()], ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    let first = watch.message().await.unwrap().unwrap();
    let state = first.bindings.into_iter().find(|b| b.binding == "production").unwrap();
    assert_eq!(state.deployment, Some(spec("kserve-mlserver")));
    assert_eq!(state.sides[1].deployment, Some(spec("triton")));

    // A binding-level override, on top of every version's own spec (env merged).
    let over = v1::DeploymentSpec {
        min_replicas: 2,
        memory: "8Gi".into(),
        env: [("TIER".to_owned(), "prod".to_owned())].into(),
        ..Default::default()
    };
    let split = |over: Option<v1::DeploymentSpec>| v1::SetBindingRequest {
        model_name: model.into(),
        binding: "production".into(),
        traffic: Some(v1::Traffic {
            sides: vec![
                v1::TrafficSide { version: 1, weight: 5_000, ..Default::default() },
                v1::TrafficSide { version: 2, weight: 5_000, ..Default::default() },
            ],
            ..Default::default()
        }),
        deployment_override: over,
        ..Default::default()
    };
    let set = r.set_binding(split(Some(over.clone()))).await.unwrap().into_inner();
    assert_eq!(set.binding.unwrap().traffic.unwrap().deployment_override, Some(over.clone()));
    let whole = resolve_with(&mut reader, model, "production", "", set.revision).await;
    let effective = |runtime: &str| v1::DeploymentSpec {
        min_replicas: 2,
        memory: "8Gi".into(),
        env: [("MODEL_THREADS".to_owned(), "4".to_owned()), ("TIER".to_owned(), "prod".to_owned())].into(),
        ..spec(runtime)
    };
    assert_eq!(whole.deployment, Some(effective("kserve-mlserver")));
    assert_eq!(whole.sides[1].deployment, Some(effective("triton")));
    // A combination that is not valid for some version is refused, naming the override.
    let bad = v1::DeploymentSpec { min_replicas: 5, ..Default::default() };
    assert_status(
        r.set_binding(split(Some(bad))).await,
        Code::InvalidArgument,
        &["deployment_override", "version 1"],
    );
    // A plain binding can carry one too; rollback restores the earlier whole target, override included.
    let plain = v1::SetBindingRequest {
        model_name: model.into(),
        binding: "production".into(),
        version: 1,
        deployment_override: Some(over),
        ..Default::default()
    };
    let set = r.set_binding(plain).await.unwrap().into_inner();
    let b = set.binding.unwrap();
    assert_eq!((b.version, b.traffic.map(|t| t.sides.len())), (1, Some(1)));
    let back = rollback(&mut r, model, "production").await.unwrap();
    let whole = resolve_with(&mut primary, model, "production", "", 0).await;
    assert!(back.revision > set.revision);
    assert_eq!(whole.deployment, Some(effective("kserve-mlserver")), "back to the split with its override");
}

pub(crate) async fn the_cli_registers_and_shows_a_deployment_spec(backend: Backend) {
    let registry = TestRegistry::start(backend).await.unwrap();
    cli(&registry, &["model", "create", "nlp/tagger"]).await.unwrap();
    let out = cli(
        &registry,
        &[
            "version",
            "register",
            "nlp/tagger",
            "--uri",
            "s3://models/tagger/1/",
            "--runtime",
            "triton",
            "--cpu",
            "2",
            "--memory",
            "4Gi",
            "--env",
            "THREADS=8",
            "--runtime-config",
            r#"{"batch": 8}"#,
        ],
    )
    .await
    .unwrap();
    assert!(out.contains("v1"), "{out}");
    cli(&registry, &["bind", "nlp/tagger", "production", "1"]).await.unwrap();
    let out = cli(&registry, &["resolve", "nlp/tagger", "production"]).await.unwrap();
    assert!(
        out.contains(r#"serve with runtime=triton cpu=2 memory=4Gi env.THREADS=8 config={"batch": 8}"#),
        "{out}"
    );
    let json = cli(&registry, &["--json", "version", "get", "nlp/tagger", "1"]).await.unwrap();
    assert!(json.contains("\"runtime\": \"triton\""), "{json}");
    let err = cli(
        &registry,
        &["version", "register", "nlp/tagger", "--uri", "s3://models/tagger/2/", "--cpu", "lots"],
    )
    .await
    .unwrap_err();
    assert!(format!("{err:#}").contains("deployment.cpu"), "{err:#}");

    let out = cli(
        &registry,
        &["bind", "nlp/tagger", "production", "1", "--deployment-override", r#"{"min_replicas": 2}"#],
    )
    .await
    .unwrap();
    assert!(out.contains("v1 100% stable"), "{out}");
    let out = cli(&registry, &["resolve", "nlp/tagger", "production"]).await.unwrap();
    assert!(out.contains("replicas=2.."), "{out}");
    let err = cli(
        &registry,
        &["bind", "nlp/tagger", "production", "1", "--deployment-override", r#"{"replica": 2}"#],
    )
    .await
    .unwrap_err();
    assert!(format!("{err:#}").contains("unknown field \"replica\""), "{err:#}");
    cli(&registry, &["bind", "nlp/tagger", "production", "1"]).await.unwrap();

    // A KServe InferenceService of the binding, plain and as a 90/10 canary with a shadow. CI
    // validates the files written here against KServe's schema (deploy/validate.sh).
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/kserve-export");
    std::fs::create_dir_all(&dir).unwrap();
    let tag = format!("{backend:?}").to_lowercase();
    let plain =
        cli(&registry, &["export", "kserve", "nlp/tagger", "production", "--namespace", "ml"]).await.unwrap();
    assert!(plain.contains("\"name\": \"nlp-tagger-production\""), "{plain}");
    assert!(plain.contains("\"storageUri\": \"s3://models/tagger/1/\""), "{plain}");
    assert!(plain.contains("\"runtime\": \"triton\""), "{plain}");
    std::fs::write(dir.join(format!("{tag}-plain.yaml")), &plain).unwrap();
    for i in [2, 3] {
        let uri = format!("s3://models/tagger/{i}/");
        cli(
            &registry,
            &[
                "version",
                "register",
                "nlp/tagger",
                "--uri",
                &uri,
                "--format",
                "onnx",
                "--cpu",
                "1",
                "--gpu",
                "1",
                "--max-replicas",
                "4",
            ],
        )
        .await
        .unwrap();
    }
    cli(&registry, &["bind", "nlp/tagger", "production", "--split", "1=90,2=10", "--shadow", "3=5"])
        .await
        .unwrap();
    let split = cli(&registry, &["export", "kserve", "nlp/tagger", "production"]).await.unwrap();
    assert!(split.contains("\"canaryTrafficPercent\": 10"), "{split}");
    assert!(split.contains("\"storageUri\": \"s3://models/tagger/2/\""), "{split}");
    assert!(split.contains("\"bindery.dev/shadows\": \"v3@500bp\""), "{split}");
    std::fs::write(dir.join(format!("{tag}-canary.yaml")), &split).unwrap();
    cli(&registry, &["bind", "nlp/tagger", "production", "--split", "1=50,2=25,3=25"]).await.unwrap();
    let err = cli(&registry, &["export", "kserve", "nlp/tagger", "production"]).await.unwrap_err();
    assert!(format!("{err:#}").contains("3 ways"), "{err:#}");
}
