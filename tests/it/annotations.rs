//! Model cards and annotations (issue 14) on both stores: editions with compare-and-set and
//! history, typed links with their bounds, roles, a deleted version's frozen notes, the audit
//! trail, and both searchable through ListModels/ListVersions.

use bindery_proto::v1;
use tonic::Code;

use crate::access::{create_token, grant, setup_model, with};
use crate::helpers::*;

fn card(model: &str, version: u64, markdown: &str, expected: Option<u64>) -> v1::SetCardRequest {
    v1::SetCardRequest {
        model_name: model.into(),
        version,
        markdown: markdown.into(),
        expected_edition: expected,
    }
}

fn link(model: &str, version: u64, kind: v1::AnnotationKind, url: &str) -> v1::AddAnnotationRequest {
    v1::AddAnnotationRequest {
        model_name: model.into(),
        version,
        kind: kind as i32,
        url: url.into(),
        title: "Q3 review".into(),
    }
}

async fn annotations_on(
    r: &mut Registry,
    token: Option<&str>,
    model: &str,
    version: u64,
) -> Vec<v1::Annotation> {
    let req = v1::ListAnnotationsRequest { model_name: model.into(), version };
    r.list_annotations(with(req, token)).await.unwrap().into_inner().annotations
}

pub(crate) async fn cards_and_annotations(backend: Backend) {
    let (registry, admin) = TestRegistry::start_secured(backend).await.unwrap();
    let mut r = registry.registry().await.unwrap();
    let a = Some(admin.as_str());
    setup_model(&mut r, &admin, "fraud/detector", 3).await;
    setup_model(&mut r, &admin, "fraud/scorer", 1).await;
    let m = "fraud/detector";

    // Cards: editions count up, the same text is no edit, a stale edition is ABORTED.
    let never = r.get_card(with(v1::GetCardRequest { model_name: m.into(), version: 2 }, a)).await.unwrap();
    assert_eq!((never.get_ref().edition, never.get_ref().markdown.as_str()), (0, ""));
    let first = r.set_card(with(card(m, 0, "# Fraud detector\n\nIntended use: cards.", Some(0)), a)).await;
    assert_eq!(first.unwrap().get_ref().edition, 1);
    let second = r.set_card(with(card(m, 0, "# Fraud detector v2", Some(1)), a)).await.unwrap().into_inner();
    assert_eq!((second.edition, second.updated_by.as_str()), (2, "admin"));
    let same = r.set_card(with(card(m, 0, "# Fraud detector v2", None), a)).await.unwrap().into_inner();
    assert_eq!(same.edition, 2, "the same text writes no edition");
    assert_status(
        r.set_card(with(card(m, 0, "# lost update", Some(1)), a)).await,
        Code::Aborted,
        &["edition 2, not 1", "re-read"],
    );
    r.set_card(with(card(m, 0, "", None), a)).await.unwrap();
    let version_card = r.set_card(with(card(m, 2, "Trained on the 2026-11 data.", None), a)).await.unwrap();
    assert_eq!((version_card.get_ref().version, version_card.get_ref().edition), (2, 1));

    // History, newest first, a page at a time.
    let mut editions = Vec::new();
    let mut token = String::new();
    loop {
        let req = v1::ListCardHistoryRequest {
            model_name: m.into(),
            version: 0,
            page_size: 2,
            page_token: token.clone(),
        };
        let page = r.list_card_history(with(req, a)).await.unwrap().into_inner();
        editions.extend(page.editions.iter().map(|c| (c.edition, c.markdown.clone())));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(
        editions,
        [
            (3, String::new()),
            (2, "# Fraud detector v2".to_owned()),
            (1, "# Fraud detector\n\nIntended use: cards.".to_owned())
        ]
    );

    // Annotations: typed links, distinct per target, bounded, removable.
    use v1::AnnotationKind::{BiasAudit, Docs, Unspecified};
    let audit = r
        .add_annotation(with(link(m, 2, BiasAudit, "https://wiki.example/audits/fraud-2"), a))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((audit.version, audit.kind, audit.created_by.as_str()), (2, BiasAudit as i32, "admin"));
    r.add_annotation(with(link(m, 0, Docs, "https://docs.example/fraud"), a)).await.unwrap();
    assert_status(
        r.add_annotation(with(link(m, 2, BiasAudit, "https://wiki.example/audits/fraud-2"), a)).await,
        Code::AlreadyExists,
        &["already links", &format!("annotation {}", audit.id)],
    );
    for (bad, needles) in [
        (link(m, 2, Docs, "ftp://files/x"), &["url", "https://"][..]),
        (link(m, 2, Docs, "https://"), &["url", "host"]),
        (link(m, 2, Unspecified, "https://x"), &["kind", "bias_audit"]),
        (v1::AddAnnotationRequest { title: "a\nb".into(), ..link(m, 2, Docs, "https://x") }, &["title"]),
        (link("Bad Name", 2, Docs, "https://x"), &["model_name"]),
    ] {
        assert_status(r.add_annotation(with(bad, a)).await, Code::InvalidArgument, needles);
    }
    assert_status(
        r.set_card(with(card(m, 0, &"x".repeat(64 * 1024 + 1), None), a)).await,
        Code::InvalidArgument,
        &["markdown", "at most 65536"],
    );
    assert_status(
        r.add_annotation(with(link(m, 9, Docs, "https://x"), a)).await,
        Code::NotFound,
        &["version 9"],
    );
    assert_status(
        r.get_card(with(v1::GetCardRequest { model_name: "fraud/none".into(), version: 0 }, a)).await,
        Code::NotFound,
        &["fraud/none"],
    );
    assert_eq!(annotations_on(&mut r, a, m, 2).await.len(), 1);
    let remove = |id| v1::RemoveAnnotationRequest { model_name: m.into(), version: 2, id };
    assert_status(
        r.remove_annotation(with(remove(audit.id + 100), a)).await,
        Code::NotFound,
        &["no annotation"],
    );

    // Search: both fields, on versions and on models.
    let versions = |filter: &str| v1::ListVersionsRequest { filter: filter.into(), ..Default::default() };
    let found = r.list_versions(with(versions("annotations.kind = 'bias_audit'"), a)).await.unwrap();
    let keys: Vec<_> = found.get_ref().versions.iter().map(|v| (v.model_name.clone(), v.version)).collect();
    assert_eq!(keys, [(m.to_owned(), 2)]);
    let found = r.list_versions(with(versions("card ILIKE '%2026-11%'"), a)).await.unwrap();
    assert_eq!(found.get_ref().versions.len(), 1);
    let models = |filter: &str| v1::ListModelsRequest { filter: filter.into(), ..Default::default() };
    let found = r.list_models(with(models("card IS NULL AND annotations.kind = 'docs'"), a)).await.unwrap();
    let names: Vec<_> = found.get_ref().models.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, [m], "the model's card was cleared; its docs link stays");
    assert_status(
        r.list_versions(with(versions("annotations.kind = 'audit'"), a)).await,
        Code::InvalidArgument,
        &["not an annotation kind"],
    );

    r.remove_annotation(with(remove(audit.id), a)).await.unwrap();
    assert!(annotations_on(&mut r, a, m, 2).await.is_empty());

    // A deleted version's notes stay readable and frozen.
    r.delete_version(with(v1::DeleteVersionRequest { model_name: m.into(), version: 3 }, a)).await.unwrap();
    assert_status(
        r.set_card(with(card(m, 3, "too late", None), a)).await,
        Code::FailedPrecondition,
        &["deleted"],
    );
    assert_status(
        r.add_annotation(with(link(m, 3, Docs, "https://x"), a)).await,
        Code::FailedPrecondition,
        &["deleted"],
    );

    // Roles: VIEWER reads, CONTRIBUTOR writes, others see nothing.
    let viewer = create_token(&mut r, &admin, "vera").await;
    grant(&mut r, &admin, "vera", v1::Role::Viewer, "fraud/").await;
    let contributor = create_token(&mut r, &admin, "carl").await;
    grant(&mut r, &admin, "carl", v1::Role::Contributor, "fraud/detector").await;
    let outsider = create_token(&mut r, &admin, "olga").await;
    grant(&mut r, &admin, "olga", v1::Role::Admin, "ads/").await;
    let get = || v1::GetCardRequest { model_name: m.into(), version: 2 };
    assert_eq!(r.get_card(with(get(), Some(&viewer))).await.unwrap().get_ref().edition, 1);
    assert_status(
        r.set_card(with(card(m, 2, "vera's edit", None), Some(&viewer))).await,
        Code::PermissionDenied,
        &["vera", "CONTRIBUTOR"],
    );
    assert_status(
        r.add_annotation(with(link(m, 2, Docs, "https://x"), Some(&viewer))).await,
        Code::PermissionDenied,
        &["CONTRIBUTOR"],
    );
    r.set_card(with(card(m, 2, "carl's edit", Some(1)), Some(&contributor))).await.unwrap();
    assert_status(
        r.set_card(with(card("fraud/scorer", 0, "not carl's model", None), Some(&contributor))).await,
        Code::PermissionDenied,
        &["carl"],
    );
    assert_status(r.get_card(with(get(), Some(&outsider))).await, Code::PermissionDenied, &["olga"]);
    let hidden = r.list_versions(with(versions("card IS NOT NULL"), Some(&outsider))).await.unwrap();
    assert!(hidden.get_ref().versions.is_empty(), "a search never shows what the caller may not view");
    assert_status(r.get_card(with(get(), None)).await, Code::Unauthenticated, &[]);

    // Every write is in the audit trail, with the actor.
    let events = r
        .list_audit_events(with(
            v1::ListAuditEventsRequest { model: m.into(), page_size: 100, ..Default::default() },
            a,
        ))
        .await
        .unwrap()
        .into_inner()
        .events;
    let trail: Vec<(&str, &str, &str)> =
        events.iter().map(|e| (e.action.as_str(), e.target.as_str(), e.actor.as_str())).collect();
    for want in [
        ("card.set", "models/fraud/detector/card", "admin"),
        ("card.clear", "models/fraud/detector/card", "admin"),
        ("card.set", "models/fraud/detector/versions/2/card", "carl"),
        ("annotation.add", &*format!("models/fraud/detector/versions/2/annotations/{}", audit.id), "admin"),
        (
            "annotation.remove",
            &*format!("models/fraud/detector/versions/2/annotations/{}", audit.id),
            "admin",
        ),
    ] {
        assert!(trail.contains(&want), "{want:?} not in {trail:?}");
    }

    // The same from a terminal, as lines and as JSON.
    let card_file = std::env::temp_dir().join(format!("bindery-card-{}-{}.md", std::process::id(), audit.id));
    std::fs::write(&card_file, "# Scorer\n\nOwner: risk team.\n").unwrap();
    let card_path = card_file.to_str().unwrap();
    let cli = |argv: &[&str]| {
        use clap::Parser;
        let endpoint = registry.endpoint();
        let mut full = vec!["bindery", "--server", endpoint.as_str(), "--token", admin.as_str()];
        full.extend_from_slice(argv);
        let cli = bindery_server::cli::ClientCli::try_parse_from(full).unwrap();
        bindery_server::cli::run(cli.args, cli.command)
    };
    let out =
        cli(&["card", "set", "fraud/scorer", "--file", card_path, "--expected-edition", "0"]).await.unwrap();
    assert!(out.starts_with("card of fraud/scorer: edition   1  28 bytes  by admin"), "{out}");
    assert!(out.contains(" at 20") && out.ends_with('Z'), "times read as RFC 3339: {out}");
    assert_eq!(cli(&["card", "show", "fraud/scorer"]).await.unwrap(), "# Scorer\n\nOwner: risk team.\n");
    let err = cli(&["card", "set", "fraud/scorer", "--file", card_path, "--expected-edition", "0"]).await;
    assert!(format!("{:#}", err.unwrap_err()).starts_with("ABORTED: "));
    let out = cli(&[
        "annotation",
        "add",
        "fraud/scorer",
        "--version",
        "1",
        "--kind",
        "fairness_report",
        "--url",
        "https://wiki.example/fairness/scorer",
        "--title",
        "Fairness, Q4",
    ])
    .await
    .unwrap();
    assert!(
        out.contains("fairness_report  https://wiki.example/fairness/scorer  \"Fairness, Q4\"  by admin"),
        "{out}"
    );
    assert!(
        cli(&["annotation", "add", "fraud/scorer", "--kind", "audit", "--url", "https://x"]).await.is_err()
    );

    let json = |out: String| -> serde_json::Value {
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    };
    let listed =
        json(cli(&["annotation", "list", "fraud/scorer", "--version", "1", "--json"]).await.unwrap());
    assert_eq!(listed[0]["kind"], "ANNOTATION_KIND_FAIRNESS_REPORT", "{listed}");
    assert_eq!(listed[0]["version"], 1);
    let history = json(cli(&["--json", "card", "history", "fraud/scorer"]).await.unwrap());
    assert_eq!(history.as_array().map(Vec::len), Some(1));
    assert!(history[0]["updated_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{history}");
    let found =
        json(cli(&["search", "versions", "annotations.kind = 'fairness_report'", "--json"]).await.unwrap());
    assert_eq!(
        (found[0]["model_name"].as_str(), found[0]["version"].as_u64()),
        (Some("fraud/scorer"), Some(1))
    );
    let model = json(cli(&["model", "get", "fraud/scorer", "--json"]).await.unwrap());
    assert_eq!(model["name"], "fraud/scorer");
    assert!(cli(&["--json", "search", "versions", "card > 1"]).await.is_err(), "errors stay errors");
    let _ = std::fs::remove_file(&card_file);
}
