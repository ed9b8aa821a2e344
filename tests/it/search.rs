//! Search (issue 14) on both stores: the seed question in one call, ordering and keyset paging,
//! typed errors with positions, read permissions, and the stores' SQL agreeing with core's
//! reference evaluator on random data and random filters.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use bindery_core::annotation::Annotated;
use bindery_core::filter::{self, Row, Search, Target};
use bindery_core::{PageRequest, Visibility};
use bindery_proto::v1;
use tonic::Code;

use crate::access::{create_token, grant, with};
use crate::helpers::*;

async fn version_with(
    r: &mut Registry,
    token: Option<&str>,
    model: &str,
    run: &str,
    metrics: &[(&str, f64)],
    tags: &[(&str, &str)],
) -> u64 {
    let mut req = register_request(model, run);
    req.metrics = metrics.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
    req.tags = tags.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let request = match token {
        Some(t) => with(req, Some(t)),
        None => tonic::Request::new(req),
    };
    r.register_version(request).await.unwrap().into_inner().version.unwrap().version
}

fn list(filter: &str, order_by: &str, page_size: u32, page_token: &str) -> v1::ListVersionsRequest {
    v1::ListVersionsRequest {
        model_name: String::new(),
        page_size,
        page_token: page_token.into(),
        filter: filter.into(),
        order_by: order_by.into(),
    }
}

fn keys(versions: &[v1::ModelVersion]) -> Vec<String> {
    versions.iter().map(|v| format!("{}@{}", v.model_name, v.version)).collect()
}

/// "All production models with accuracy > 0.95", in one call, with their bindings; orders,
/// pages, errors and permissions.
pub(crate) async fn the_seed_question_in_one_call(backend: Backend) {
    let (registry, admin) = TestRegistry::start_secured(backend).await.unwrap();
    let mut r = registry.registry().await.unwrap();
    for (model, accuracies) in
        [("fraud/detector", [0.97, 0.93]), ("fraud/scorer", [0.91, 0.96]), ("ads/ranker", [0.99, 0.98])]
    {
        let req = v1::CreateModelRequest { name: model.into(), owner: "ml".into(), ..Default::default() };
        r.create_model(with(req, Some(&admin))).await.unwrap();
        for (i, acc) in accuracies.iter().enumerate() {
            let tags: &[(&str, &str)] = if i == 0 { &[("team.name", "risk")] } else { &[] };
            version_with(&mut r, Some(&admin), model, &format!("r{i}"), &[("accuracy", *acc)], tags).await;
        }
    }
    for (model, version) in [("fraud/detector", 1), ("fraud/scorer", 1), ("ads/ranker", 2)] {
        crate::access::set_binding(&mut r, &admin, model, "production", version).await.unwrap();
    }
    crate::access::set_binding(&mut r, &admin, "fraud/scorer", "canary", 2).await.unwrap();

    let seed = "metrics.accuracy > 0.95 AND binding = 'production'";
    let found = r.list_versions(with(list(seed, "", 0, ""), Some(&admin))).await.unwrap().into_inner();
    assert_eq!(keys(&found.versions), vec!["ads/ranker@2", "fraud/detector@1"]);
    assert_eq!(found.versions[0].bindings, vec!["production".to_owned()], "bindings are filled in");
    assert!(found.next_page_token.is_empty());

    // Ordered by a metric, a page at a time; the token is bound to the search.
    let order = "metrics.accuracy DESC";
    let mut token = String::new();
    let mut seen = Vec::new();
    loop {
        let page =
            r.list_versions(with(list("", order, 2, &token), Some(&admin))).await.unwrap().into_inner();
        seen.extend(keys(&page.versions));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
        assert_status(
            r.list_versions(with(list("version = 1", order, 2, &token), Some(&admin))).await,
            Code::InvalidArgument,
            &["page_token"],
        );
    }
    assert_eq!(
        seen,
        [
            "ads/ranker@1",
            "ads/ranker@2",
            "fraud/detector@1",
            "fraud/scorer@2",
            "fraud/detector@2",
            "fraud/scorer@1"
        ]
    );

    // Models: those with a production binding in the fraud namespace; backticked keys.
    let models = r
        .list_models(with(
            v1::ListModelsRequest {
                filter: "namespace = 'fraud' AND binding = 'production'".into(),
                order_by: "name DESC".into(),
                ..Default::default()
            },
            Some(&admin),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        models.models.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
        ["fraud/scorer", "fraud/detector"]
    );
    let tagged = r
        .list_versions(with(
            list("tags.`team.name` = 'risk' AND name LIKE 'fraud/%'", "", 0, ""),
            Some(&admin),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(keys(&tagged.versions), ["fraud/detector@1", "fraud/scorer@1"]);

    // Typed errors with positions.
    assert_status(
        r.list_versions(with(list("metrics.accuracy > 'abc'", "", 0, ""), Some(&admin))).await,
        Code::InvalidArgument,
        &["filter", "at 20", "a number"],
    );
    assert_status(
        r.list_models(with(
            v1::ListModelsRequest { filter: "metrics.a > 1".into(), ..Default::default() },
            Some(&admin),
        ))
        .await,
        Code::InvalidArgument,
        &["not of models"],
    );
    assert_status(
        r.list_versions(with(list("", "binding", 0, ""), Some(&admin))).await,
        Code::InvalidArgument,
        &["order_by"],
    );

    // A viewer of one namespace sees only it; naming another model is denied.
    let viewer = create_token(&mut r, &admin, "vera").await;
    grant(&mut r, &admin, "vera", v1::Role::Viewer, "fraud/").await;
    let mine = r.list_versions(with(list(seed, "", 0, ""), Some(&viewer))).await.unwrap().into_inner();
    assert_eq!(keys(&mine.versions), vec!["fraud/detector@1"]);
    let all = r.list_versions(with(list("", "", 1_000, ""), Some(&viewer))).await.unwrap().into_inner();
    assert!(all.versions.iter().all(|v| v.model_name.starts_with("fraud/")) && all.versions.len() == 4);
    let mut other = list("", "", 0, "");
    other.model_name = "ads/ranker".into();
    assert_status(r.list_versions(with(other, Some(&viewer))).await, Code::PermissionDenied, &["'vera'"]);
    let nobody = create_token(&mut r, &admin, "nobody").await;
    assert_status(
        r.list_versions(with(list("", "", 0, ""), Some(&nobody))).await,
        Code::PermissionDenied,
        &["no role"],
    );
}

/// A tiny deterministic generator (no RNG crate in the tests).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() as usize) % items.len()]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

fn random_predicate(g: &mut Lcg) -> String {
    let number = |g: &mut Lcg| format!("{}", (g.next() % 5) as f64 / 4.0);
    let text = |g: &mut Lcg| format!("'{}'", g.pick(&["a", "b", "A", "a%", "b_c", "", "c"]));
    match g.next() % 16 {
        0 => format!(
            "metrics.{} {} {}",
            g.pick(&["m1", "m2"]),
            g.pick(&["=", "!=", "<", "<=", ">", ">="]),
            number(g)
        ),
        1 => format!("tags.{} {} {}", g.pick(&["t1", "`t.2`"]), g.pick(&["=", "!=", "<", ">="]), text(g)),
        2 => format!(
            "tags.t1 {} {}",
            g.pick(&["LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE"]),
            g.pick(&["'a%'", "'%b%'", "'_'", "'A%'"])
        ),
        3 => {
            format!("binding {} {}", g.pick(&["=", "!="]), g.pick(&["'production'", "'staging'", "'canary'"]))
        }
        4 => format!("binding {}IN ('production', 'canary')", g.pick(&["", "NOT "])),
        5 => format!("metrics.{} IS {}NULL", g.pick(&["m1", "m2", "m3"]), g.pick(&["", "NOT "])),
        6 => format!("version {} {}", g.pick(&["=", "<", ">=", "!="]), 1 + g.next() % 4),
        7 => format!(
            "name {} {}",
            g.pick(&["=", "!=", "LIKE", "<"]),
            g.pick(&["'ns1/m0'", "'ns1/%'", "'ns2/m1'", "'m2'"])
        ),
        8 => format!("namespace {}", g.pick(&["= 'ns1'", "IS NULL", "IS NOT NULL", "!= 'ns2'"])),
        9 => format!(
            "lineage.dataset {}",
            g.pick(&["= 's3://d/0'", "= 's3://d/1@v1'", "LIKE 's3://d/%'", "IS NULL", "!= 's3://d/0'"])
        ),
        10 => format!("lineage.parent {}", g.pick(&["= 'ns1/m0@1'", "IS NOT NULL", "!= 'ns1/m0@1'"])),
        11 => format!("status {}", g.pick(&["= 'READY'", "!= 'ARCHIVED'", "IN ('ARCHIVED')"])),
        12 => format!("params.p {}", g.pick(&["= 'x'", "IS NULL", "> 'w'", "IN ('x', 'y')"])),
        13 => format!("card {}", g.pick(&["IS NULL", "IS NOT NULL", "ILIKE '%FAIR%'", "= 'plain'", "> 'p'"])),
        14 => format!(
            "annotations.kind {}",
            g.pick(&["= 'bias_audit'", "!= 'docs'", "IN ('docs', 'other')", "IS NULL", "IS NOT NULL"])
        ),
        _ => format!("metrics.m1 {}IN ({}, {})", g.pick(&["", "NOT "]), number(g), number(g)),
    }
}

/// Every version `search` finds, as (model, version), a page of `size` at a time.
async fn page_through(store: &dyn bindery_core::Store, search: &Search, size: u32) -> Vec<(String, u64)> {
    let mut found = Vec::new();
    let mut page = PageRequest { size, after: None };
    loop {
        let answer = store.search_versions(search, &Visibility::All, page.clone()).await.unwrap();
        found.extend(answer.items.into_iter().map(|(v, _)| (v.model_name.as_str().to_owned(), v.version)));
        match answer.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    found
}

/// SQL's order with nulls last.
fn nulls_last<T: PartialOrd>(a: Option<T>, b: Option<T>, descending: bool) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => {
            let o = a.partial_cmp(&b).unwrap_or(Ordering::Equal);
            if descending { o.reverse() } else { o }
        }
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

fn random_filter(g: &mut Lcg, depth: u32) -> String {
    if depth == 0 || g.chance(35) {
        return random_predicate(g);
    }
    match g.next() % 3 {
        0 => format!("({} AND {})", random_filter(g, depth - 1), random_filter(g, depth - 1)),
        1 => format!("({} OR {})", random_filter(g, depth - 1), random_filter(g, depth - 1)),
        _ => format!("NOT ({})", random_filter(g, depth - 1)),
    }
}

/// On random data and 300 random filters, each store's SQL keeps exactly the rows core's
/// reference evaluator keeps, and paging through a random order visits every row once, in order.
pub(crate) async fn sql_agrees_with_the_reference_evaluator(backend: Backend) {
    let registry = TestRegistry::start(backend).await.unwrap();
    let mut r = registry.registry().await.unwrap();
    let mut g = Lcg(0x5eed);
    let names = ["ns1/m0", "ns1/m1", "ns2/m1", "m2"];
    for name in names {
        create_model(&mut r, name).await;
        for v in 1..=5u64 {
            let mut req = register_request(name, &format!("r{v}"));
            req.metrics.clear();
            for m in ["m1", "m2"] {
                if g.chance(70) {
                    req.metrics.insert(m.into(), (g.next() % 5) as f64 / 4.0);
                }
            }
            req.tags.clear();
            for t in ["t1", "t.2"] {
                if g.chance(70) {
                    req.tags.insert(t.into(), (*g.pick(&["a", "b", "A", "ab", "b_c", "", "c"])).into());
                }
            }
            req.params = if g.chance(50) {
                [("p".to_owned(), (*g.pick(&["x", "y", "z"])).to_owned())].into()
            } else {
                Default::default()
            };
            let lineage = req.lineage.get_or_insert_with(Default::default);
            lineage.datasets = (0..g.next() % 3)
                .map(|i| v1::DatasetRef {
                    uri: format!("s3://d/{i}"),
                    version: if g.chance(50) { "v1".into() } else { String::new() },
                })
                .collect();
            lineage.parent_versions = if name != "ns1/m0" && g.chance(40) {
                vec![v1::VersionRef { model_name: "ns1/m0".into(), version: 1 }]
            } else {
                vec![]
            };
            r.register_version(req).await.unwrap();
        }
        for binding in ["production", "staging", "canary"] {
            if g.chance(60) {
                bind(&mut r, name, binding, 1 + g.next() % 5, None).await.unwrap();
            }
        }
        // Edits after registration (the indexes follow them too).
        for v in 1..=5u64 {
            if g.chance(40) {
                let mut update =
                    v1::UpdateVersionRequest { model_name: name.into(), version: v, ..Default::default() };
                update.add_metrics.insert("m3".into(), (g.next() % 5) as f64 / 4.0);
                if g.chance(50) {
                    update.set_tags.insert("t1".into(), (*g.pick(&["a", "b", "z"])).into());
                } else {
                    update.remove_tags.push("t1".into());
                }
                r.update_version(update).await.unwrap();
            }
        }
        // Cards (some cleared again) and annotations, on the model (version 0) and its versions.
        for v in 0..=5u64 {
            if g.chance(50) {
                let markdown = (*g.pick(&["# Fairness review", "plain", "quick"])).to_owned();
                let set = v1::SetCardRequest {
                    model_name: name.into(),
                    version: v,
                    markdown,
                    expected_edition: None,
                };
                r.set_card(set).await.unwrap();
                if g.chance(25) {
                    let clear =
                        v1::SetCardRequest { model_name: name.into(), version: v, ..Default::default() };
                    r.set_card(clear).await.unwrap();
                }
            }
            for (i, kind) in
                [v1::AnnotationKind::BiasAudit, v1::AnnotationKind::Docs, v1::AnnotationKind::Other]
                    .into_iter()
                    .enumerate()
            {
                if g.chance(30) {
                    let add = v1::AddAnnotationRequest {
                        model_name: name.into(),
                        version: v,
                        kind: kind as i32,
                        url: format!("https://wiki.example/{name}/{v}/{i}"),
                        title: String::new(),
                    };
                    r.add_annotation(add).await.unwrap();
                }
            }
        }
        if g.chance(50) {
            let archive = v1::ArchiveVersionRequest { model_name: name.into(), version: 1 + g.next() % 5 };
            let _ = r.archive_version(archive).await; // bound versions refuse; that is fine
        }
    }

    // Everything, as the store has it, for the reference evaluator.
    let store = registry.store().unwrap();
    let everything = PageRequest { size: 1_000, after: None };
    let models = store.list_models(everything.clone()).await.unwrap().items;
    let mut rows = Vec::new();
    // Each row's card and annotation kinds, by (model, version); version 0 is the model's own.
    let mut notes: BTreeMap<(String, u64), (Option<String>, Vec<String>)> = BTreeMap::new();
    for m in &models {
        let versions = store.list_versions(&m.name, everything.clone()).await.unwrap().items;
        let model_bindings: Vec<String> = store
            .list_bindings(&m.name)
            .await
            .unwrap()
            .into_iter()
            .map(|b| b.name.as_str().to_owned())
            .collect();
        for v in std::iter::once(0).chain(versions.iter().map(|v| v.version)) {
            let of = Annotated::new(m.name.clone(), v);
            let card = store.get_card(&of).await.unwrap().map(|c| c.markdown);
            let kinds = store
                .list_annotations(&of)
                .await
                .unwrap()
                .into_iter()
                .map(|a| a.kind.as_str().to_owned())
                .collect();
            notes.insert((m.name.as_str().to_owned(), v), (card, kinds));
        }
        rows.push((m.clone(), versions, model_bindings));
    }
    let notes_of = |m: &bindery_core::Model, version: u64| &notes[&(m.name.as_str().to_owned(), version)];

    let total: usize = rows.iter().map(|(_, v, _)| v.len()).sum();
    let mut informative = 0;
    for _ in 0..300 {
        let text = random_filter(&mut g, 3);
        let search =
            Search::parse(Target::Versions, &text, "", None).unwrap_or_else(|e| panic!("{text}: {e}"));
        let got: BTreeSet<(String, u64)> = store
            .search_versions(&search, &Visibility::All, everything.clone())
            .await
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .items
            .into_iter()
            .map(|(v, _)| (v.model_name.as_str().to_owned(), v.version))
            .collect();
        let expr = search.filter.clone().unwrap();
        let mut want = BTreeSet::new();
        for (m, versions, _) in &rows {
            for v in versions {
                let (card, kinds) = notes_of(m, v.version);
                let row = Row {
                    card: card.as_deref(),
                    annotation_kinds: kinds,
                    ..Row::new(m, Some(v), &v.bindings)
                };
                if filter::evaluate(&expr, &row) == Some(true) {
                    want.insert((m.name.as_str().to_owned(), v.version));
                }
            }
        }
        informative += usize::from(!want.is_empty() && want.len() < total);
        assert_eq!(got, want, "filter {text}");
    }
    assert!(informative > 150, "only {informative} of 300 random filters split the {total} rows");
    // Models, with the filters that apply to them.
    for text in [
        "binding = 'production'",
        "NOT binding IN ('staging', 'canary')",
        "namespace = 'ns1' OR name LIKE 'm%'",
        "binding IS NULL",
        "card IS NOT NULL OR annotations.kind = 'docs'",
        "NOT card ILIKE '%fair%' AND annotations.kind IS NULL",
    ] {
        let search = Search::parse(Target::Models, text, "", None).unwrap();
        let got: Vec<String> = store
            .search_models(&search, &Visibility::All, everything.clone())
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|(m, _)| m.name.as_str().to_owned())
            .collect();
        let expr = search.filter.clone().unwrap();
        let want: Vec<String> = rows
            .iter()
            .filter(|(m, _, b)| {
                let (card, kinds) = notes_of(m, 0);
                let row = Row { card: card.as_deref(), annotation_kinds: kinds, ..Row::new(m, None, b) };
                filter::evaluate(&expr, &row) == Some(true)
            })
            .map(|(m, _, _)| m.name.as_str().to_owned())
            .collect();
        assert_eq!(got, want, "models {text}");
    }

    // Paging through random orders: every row once, and each page continues the order.
    for order in [
        "metrics.m1 DESC, metrics.m2",
        "tags.t1, version DESC",
        "created_at DESC",
        "namespace, metrics.m2 DESC",
    ] {
        let search = Search::parse(Target::Versions, "", order, None).unwrap();
        let all: Vec<(String, u64)> = store
            .search_versions(&search, &Visibility::All, everything.clone())
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|(v, _)| (v.model_name.as_str().to_owned(), v.version))
            .collect();
        assert_eq!(all.len(), 20, "{order}");
        assert_eq!(page_through(store.as_ref(), &search, 3).await, all, "paging {order}");
        // And the order is the reference's, sorted in memory (PostgreSQL reads a metric or tag
        // ordered first from its side table's index, then the rows lacking it).
        let versions: Vec<&bindery_core::ModelVersion> = rows.iter().flat_map(|(_, vs, _)| vs).collect();
        let reference =
            |cmp: &dyn Fn(&bindery_core::ModelVersion, &bindery_core::ModelVersion) -> Ordering| {
                let mut sorted = versions.clone();
                sorted.sort_by(|a, b| {
                    cmp(a, b)
                        .then(a.model_name.as_str().cmp(b.model_name.as_str()))
                        .then(b.version.cmp(&a.version))
                });
                sorted.into_iter().map(|v| (v.model_name.as_str().to_owned(), v.version)).collect::<Vec<_>>()
            };
        let metric = |v: &bindery_core::ModelVersion, k: &str| v.metrics.get(k).copied();
        let want = match order {
            "metrics.m1 DESC, metrics.m2" => reference(&|a, b| {
                nulls_last(metric(a, "m1"), metric(b, "m1"), true).then(nulls_last(
                    metric(a, "m2"),
                    metric(b, "m2"),
                    false,
                ))
            }),
            "tags.t1, version DESC" => reference(&|a, b| {
                nulls_last(a.tags.get("t1"), b.tags.get("t1"), false).then(b.version.cmp(&a.version))
            }),
            _ => all.clone(),
        };
        assert_eq!(all, want, "order {order}");
    }
    // A filter that needs the ordering key (PostgreSQL then runs no statement for rows lacking
    // it), paged.
    let search = Search::parse(Target::Versions, "metrics.m1 >= 0.25", "metrics.m1 DESC", None).unwrap();
    let paged = page_through(store.as_ref(), &search, 2).await;
    let mut want: Vec<&bindery_core::ModelVersion> = rows
        .iter()
        .flat_map(|(_, vs, _)| vs)
        .filter(|v| v.metrics.get("m1").is_some_and(|m| *m >= 0.25))
        .collect();
    want.sort_by(|a, b| {
        nulls_last(a.metrics.get("m1"), b.metrics.get("m1"), true)
            .then(a.model_name.as_str().cmp(b.model_name.as_str()))
            .then(b.version.cmp(&a.version))
    });
    let want: Vec<(String, u64)> =
        want.iter().map(|v| (v.model_name.as_str().to_owned(), v.version)).collect();
    assert!(!want.is_empty());
    assert_eq!(paged, want, "a filter needing the ordering key");

    // The same from a terminal.
    let cli = |argv: &[&str]| {
        use clap::Parser;
        let endpoint = registry.endpoint();
        let mut full = vec!["bindery", "--server", endpoint.as_str(), "--actor", "vera"];
        full.extend_from_slice(argv);
        let cli = bindery_server::cli::ClientCli::try_parse_from(full).unwrap();
        bindery_server::cli::run(cli.args, cli.command)
    };
    let out = cli(&["search", "models", "namespace = 'ns1'"]).await.unwrap();
    assert_eq!(
        out.lines().map(|l| l.split_whitespace().next().unwrap()).collect::<Vec<_>>(),
        ["NAME", "ns1/m0", "ns1/m1"],
        "a table with a header"
    );
    let out = cli(&["search", "versions", "version >= 2", "--order-by", "version DESC", "--limit", "5"])
        .await
        .unwrap();
    assert_eq!(out.lines().count(), 6, "{out}");
    let rows: Vec<Vec<&str>> = out.lines().skip(1).map(|l| l.split_whitespace().collect()).collect();
    assert!(rows.iter().take(4).all(|r| r[1] == "v5"), "{out}");
    assert_eq!(rows[4][..2], ["m2", "v4"], "{out}");
    let err = cli(&["search", "versions", "metrics.m1 > 'x'"]).await.unwrap_err();
    assert!(format!("{err:#}").contains("INVALID_ARGUMENT: filter: at 14"), "{err:#}");
    let out = cli(&["version", "copy", "ns1/m0", "2", "m2", "--request-id", "c1"]).await.unwrap();
    assert!(out.starts_with("ns1/m0@2 copied as m2@6 (revision "), "{out}");
    let out = cli(&["lineage", "m2", "6", "--direction", "up"]).await.unwrap();
    assert!(out.contains(" -1  ns1/m0@2") && out.contains("edge  ns1/m0@2 -> m2@6"), "{out}");
    assert!(cli(&["lineage", "m2", "6", "--direction", "sideways"]).await.is_err());
}

/// GetLineage walks parents, children and shared datasets; CopyVersion makes a child in another
/// namespace on the same artifact; both respect read permissions.
pub(crate) async fn lineage_and_copies(backend: Backend) {
    let (registry, admin) = TestRegistry::start_secured(backend).await.unwrap();
    let mut r = registry.registry().await.unwrap();
    for model in ["fraud/base", "fraud/detector", "ads/ranker", "ads/copy"] {
        r.create_model(with(
            v1::CreateModelRequest { name: model.into(), ..Default::default() },
            Some(&admin),
        ))
        .await
        .unwrap();
    }
    let register = |model: &str, run: &str, parent: Option<(&str, u64)>, dataset: &str| {
        let mut req = register_request(model, run);
        let lineage = req.lineage.get_or_insert_with(Default::default);
        lineage.datasets = vec![v1::DatasetRef { uri: dataset.into(), version: "1".into() }];
        lineage.parent_versions = parent
            .map(|(m, v)| vec![v1::VersionRef { model_name: m.into(), version: v }])
            .unwrap_or_default();
        with(req, Some(&admin))
    };
    r.register_version(register("fraud/base", "b1", None, "s3://data/x")).await.unwrap();
    r.register_version(register("fraud/detector", "d1", Some(("fraud/base", 1)), "s3://data/x"))
        .await
        .unwrap();
    r.register_version(register("fraud/detector", "d2", Some(("fraud/detector", 1)), "s3://data/y"))
        .await
        .unwrap();
    r.register_version(register("ads/ranker", "r1", Some(("fraud/base", 1)), "s3://data/x")).await.unwrap();

    // Copy fraud/detector v2 into another namespace: same artifact, metrics, parent = source.
    let copy = |token: &str, version: u64| {
        with(
            v1::CopyVersionRequest {
                source_model_name: "fraud/detector".into(),
                source_version: version,
                target_model_name: "ads/copy".into(),
                request_id: "copy-1".into(),
                description: String::new(),
            },
            Some(token),
        )
    };
    let copied = r.copy_version(copy(&admin, 2)).await.unwrap().into_inner();
    let copied_version = copied.version.unwrap();
    let source = r
        .get_version(with(
            v1::GetVersionRequest { model_name: "fraud/detector".into(), version: 2, ..Default::default() },
            Some(&admin),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(copied.created);
    assert_eq!(copied_version.artifact.as_ref().unwrap().uri, source.artifact.as_ref().unwrap().uri);
    assert_eq!(copied_version.metrics, source.metrics);
    let parents = &copied_version.lineage.as_ref().unwrap().parent_versions;
    assert_eq!((parents[0].model_name.as_str(), parents[0].version), ("fraud/detector", 2));
    let again = r.copy_version(copy(&admin, 2)).await.unwrap().into_inner();
    assert!(!again.created, "a retry with the same request_id is idempotent");
    assert_status(r.copy_version(copy(&admin, 9)).await, Code::NotFound, &["9"]);

    let lineage = |token: &str, depth: u32| {
        with(
            v1::GetLineageRequest {
                model_name: "fraud/detector".into(),
                version: 1,
                direction: v1::LineageDirection::Both as i32,
                depth,
            },
            Some(token),
        )
    };
    let graph = r.get_lineage(lineage(&admin, 0)).await.unwrap().into_inner();
    let nodes: Vec<(String, i32)> =
        graph.nodes.iter().map(|n| (format!("{}@{}", n.model_name, n.version), n.distance)).collect();
    assert_eq!(
        nodes,
        [
            ("ads/copy@1".to_owned(), 2),
            ("fraud/base@1".to_owned(), -1),
            ("fraud/detector@1".to_owned(), 0),
            ("fraud/detector@2".to_owned(), 1)
        ]
    );
    let edges: Vec<String> = graph
        .edges
        .iter()
        .map(|e| {
            let (p, c) = (e.parent.as_ref().unwrap(), e.child.as_ref().unwrap());
            format!("{}@{} -> {}@{}", p.model_name, p.version, c.model_name, c.version)
        })
        .collect();
    assert_eq!(
        edges,
        [
            "fraud/base@1 -> fraud/detector@1",
            "fraud/detector@1 -> fraud/detector@2",
            "fraud/detector@2 -> ads/copy@1"
        ]
    );
    let shared: Vec<String> =
        graph.datasets[0].shared_with.iter().map(|v| format!("{}@{}", v.model_name, v.version)).collect();
    assert_eq!(
        (graph.datasets[0].uri.as_str(), shared),
        ("s3://data/x", vec!["ads/ranker@1".to_owned(), "fraud/base@1".to_owned()])
    );
    assert!(!graph.truncated);

    // A viewer of fraud/ sees none of ads/; a copy needs CONTRIBUTOR on the target.
    let vera = create_token(&mut r, &admin, "vera").await;
    grant(&mut r, &admin, "vera", v1::Role::Viewer, "fraud/").await;
    let hers = r.get_lineage(lineage(&vera, 3)).await.unwrap().into_inner();
    assert!(hers.nodes.iter().all(|n| n.model_name.starts_with("fraud/")), "{hers:?}");
    assert!(hers.datasets[0].shared_with.iter().all(|v| v.model_name.starts_with("fraud/")));
    assert_status(r.copy_version(copy(&vera, 2)).await, Code::PermissionDenied, &["CONTRIBUTOR", "ads/copy"]);
    assert_status(r.get_lineage(lineage(&admin, 11)).await, Code::InvalidArgument, &["depth"]);
}
