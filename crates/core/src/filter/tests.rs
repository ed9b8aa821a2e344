use std::collections::BTreeMap;
use std::time::SystemTime;

use proptest::prelude::*;

use super::*;
use crate::Error;
use crate::{
    Artifact, DatasetRef, Lineage, Model, ModelName, ModelVersion, Signature, VersionRef, VersionStatus,
};

fn model(name: &str) -> Model {
    Model {
        name: ModelName::parse("m", name).unwrap(),
        description: "fraud model".into(),
        owner: "risk".into(),
        tags: [("team".to_owned(), "risk".to_owned())].into(),
        created_at: parse_rfc3339("2026-01-01").unwrap(),
        created_by: "carol".into(),
        updated_at: parse_rfc3339("2026-01-02").unwrap(),
        updated_by: "carol".into(),
        latest_version: 3,
        revision: 1,
    }
}

fn version(model: &Model, v: u64, auc: Option<f64>) -> ModelVersion {
    ModelVersion {
        model_name: model.name.clone(),
        version: v,
        status: VersionStatus::Ready,
        artifact: Artifact::default(),
        params: [("lr".to_owned(), "0.01".to_owned())].into(),
        metrics: auc.map(|a| ("auc".to_owned(), a)).into_iter().collect(),
        tags: [("team.name".to_owned(), "risk's".to_owned())].into(),
        lineage: Lineage {
            training_run_id: format!("run-{v}"),
            code_ref: String::new(),
            datasets: vec![DatasetRef { uri: "s3://data/fraud".into(), version: "2026-11".into() }],
            parent_versions: vec![VersionRef { model_name: model.name.clone(), version: 1 }],
            environment: BTreeMap::new(),
        },
        signature: Signature::default(),
        description: "nightly".into(),
        created_at: parse_rfc3339("2026-11-30T12:00:00Z").unwrap(),
        created_by: "ci".into(),
        updated_at: parse_rfc3339("2026-11-30T12:00:00Z").unwrap(),
        updated_by: "ci".into(),
        request_id: String::new(),
        bindings: Vec::new(),
        revision: 1,
    }
}

fn keeps(filter: &str, row: &Row<'_>) -> Option<bool> {
    let expr = parse_filter(Target::Versions, filter).unwrap_or_else(|e| panic!("{filter}: {e}")).unwrap();
    evaluate(&expr, row)
}

#[test]
fn the_seed_question_and_the_grammar_evaluate_as_sql_would() {
    let m = model("fraud/detector");
    let v = version(&m, 3, Some(0.96));
    let bound = ["production".to_owned()];
    let row = Row::new(&m, Some(&v), &bound);
    for (filter, want) in [
        ("metrics.auc > 0.95 AND binding = 'production'", Some(true)),
        ("metrics.auc > 0.95 AND binding = \"staging\"", Some(false)),
        ("metrics.f1 > 0.5", None),
        ("NOT metrics.f1 > 0.5", None),
        ("metrics.f1 > 0.5 OR version = 3", Some(true)),
        ("metrics.f1 IS NULL AND metrics.auc IS NOT NULL", Some(true)),
        ("tags.`team.name` = 'risk''s'", Some(true)),
        ("name LIKE 'fraud/%' AND namespace = 'fraud'", Some(true)),
        ("name LIKE 'FRAUD/%'", Some(false)),
        ("name ILIKE 'FRAUD/%'", Some(true)),
        ("name LIKE 'fraud\\_%'", Some(false)),
        ("version IN (1, 2, 3) AND status = 'READY'", Some(true)),
        ("version NOT IN (1, 2)", Some(true)),
        ("binding != 'production'", Some(false)),
        ("binding IS NULL", Some(false)),
        ("lineage.dataset = 's3://data/fraud'", Some(true)),
        ("lineage.dataset = 's3://data/fraud@2026-11'", Some(true)),
        ("lineage.parent = 'fraud/detector@1'", Some(true)),
        ("lineage.code_ref IS NULL AND lineage.run_id = 'run-3'", Some(true)),
        ("created_at >= '2026-11-30T12:00:00Z' AND created_at < '2026-12-01'", Some(true)),
        ("owner = 'risk' AND (description = 'nightly' OR created_by = 'x')", Some(true)),
        ("params.lr = '0.01' and not (metrics.auc <= 0.9)", Some(true)),
    ] {
        assert_eq!(keeps(filter, &row), want, "{filter}");
    }
}

#[test]
fn cards_and_annotation_kinds_are_fields_of_both_targets() {
    let m = model("fraud/detector");
    let v = version(&m, 3, Some(0.96));
    let kinds = ["bias_audit".to_owned(), "docs".to_owned()];
    let annotated = Row {
        card: Some("# Fraud\nFairness reviewed."),
        annotation_kinds: &kinds,
        ..Row::new(&m, Some(&v), &[])
    };
    let bare = Row::new(&m, Some(&v), &[]);
    for (filter, on_annotated, on_bare) in [
        ("card IS NOT NULL", Some(true), Some(false)),
        ("card IS NULL", Some(false), Some(true)),
        ("card ILIKE '%fairness%'", Some(true), None),
        ("annotations.kind = 'bias_audit'", Some(true), Some(false)),
        ("annotations.kind IN ('fairness_report', 'docs')", Some(true), Some(false)),
        ("annotations.kind != 'bias_audit'", Some(false), Some(true)),
        ("annotations.kind IS NULL", Some(false), Some(true)),
    ] {
        assert_eq!(keeps(filter, &annotated), on_annotated, "{filter} on the annotated row");
        assert_eq!(keeps(filter, &bare), on_bare, "{filter} on the bare row");
    }
    // An empty card is no card.
    assert_eq!(keeps("card IS NULL", &Row { card: Some(""), ..bare }), Some(true));
    assert!(parse_filter(Target::Models, "card IS NOT NULL AND annotations.kind = 'docs'").is_ok());
    let e = parse_filter(Target::Versions, "annotations.kind = 'audit'").unwrap_err().to_string();
    assert!(e.contains("not an annotation kind") && e.contains("bias_audit"), "{e}");
    assert!(parse_filter(Target::Versions, "annotations.url = 'x'").is_err());
    let e = parse_order(Target::Versions, "card").unwrap_err().to_string();
    assert!(e.contains("free text"), "{e}");
}

#[test]
fn errors_name_the_position_and_what_was_expected() {
    for (filter, needles) in [
        ("metrics.auc > 'abc'", &["at 15", "compares with a number"][..]),
        ("metrics.auc >", &["at 14", "a number", "the end"]),
        ("name = 'x' AND", &["at 15", "expected a field"]),
        ("name = 'x' 'y'", &["at 12", "AND, OR or the end"]),
        ("colour = 'red'", &["at 1", "unknown field `colour`"]),
        ("created_at > 'last week'", &["RFC 3339"]),
        ("status = 'LIVE'", &["not a status"]),
        ("version = 1.5", &["version number"]),
        ("binding > 'a'", &["= or != only"]),
        ("metrics.auc LIKE '%'", &["not text"]),
        ("name IS NULL", &["never null"]),
        ("(name = 'x'", &["expected `)`"]),
        ("name = 'x", &["unterminated string"]),
        ("name ~ 'x'", &["unexpected character '~'"]),
    ] {
        let e = parse_filter(Target::Versions, filter).unwrap_err().to_string();
        for n in needles {
            assert!(e.contains(n), "{filter}: {e} lacks {n}");
        }
        assert!(e.starts_with("filter:") || e.contains("filter"), "{e}");
    }
    let e = parse_filter(Target::Models, "metrics.auc > 1").unwrap_err().to_string();
    assert!(e.contains("a field of versions, not of models"), "{e}");
    assert_eq!(parse_filter(Target::Models, "   ").unwrap(), None);
}

#[test]
fn orders_parse_with_bounds_and_tokens_are_bound_to_the_search() {
    let keys = parse_order(Target::Versions, "metrics.auc DESC, name").unwrap();
    assert_eq!(keys.len(), 2);
    assert!(keys[0].descending && !keys[1].descending);
    assert!(parse_order(Target::Versions, "binding").unwrap_err().to_string().contains("many values"));
    assert!(parse_order(Target::Versions, "name, name, name, name, name, name").is_err());
    assert!(parse_order(Target::Versions, "name UP").unwrap_err().to_string().contains("ASC, DESC"));
    let a = Search::parse(Target::Versions, "version = 1", "", None).unwrap();
    let b = Search::parse(Target::Versions, "version = 2", "", None).unwrap();
    assert_ne!(a.page_kind(), b.page_kind());
    let keyset = Keyset { values: vec![Some(Value::Number(0.5)), None], model: "m".into(), version: 3 };
    assert_eq!(Keyset::from_cursor(Some(&keyset.to_cursor())).unwrap(), Some(keyset));
}

#[test]
fn negation_normal_form_keeps_exactly_the_same_rows() {
    let m = model("fraud/detector");
    let versions = [version(&m, 1, Some(0.5)), version(&m, 2, None), version(&m, 3, Some(0.97))];
    let bound = ["production".to_owned()];
    for filter in [
        "NOT (metrics.auc > 0.9 OR binding = 'production')",
        "NOT (NOT metrics.auc <= 0.5 AND NOT version IN (1, 2))",
        "NOT (tags.x LIKE 'a%' OR metrics.auc IS NULL) OR NOT binding != 'production'",
        "NOT NOT NOT (metrics.auc = 0.5)",
    ] {
        let expr = parse_filter(Target::Versions, filter).unwrap().unwrap();
        let nnf = expr.clone().negation_normal_form();
        assert!(!format!("{nnf:?}").contains("Not("), "{nnf:?}");
        for v in &versions {
            let row = Row::new(&m, Some(v), if v.version == 3 { &bound } else { &[] });
            assert_eq!(
                evaluate(&expr, &row) == Some(true),
                evaluate(&nnf, &row) == Some(true),
                "{filter} on v{}",
                v.version
            );
        }
    }
}

#[test]
fn like_follows_sql() {
    assert!(eval::like("abc", "a%", false));
    assert!(eval::like("abc", "_b_", false));
    assert!(!eval::like("abc", "_b", false));
    assert!(eval::like("a%c", "a\\%c", false));
    assert!(!eval::like("abc", "a\\%c", false));
    assert!(eval::like("", "%", false));
    assert!(eval::like("ABC", "a%", true));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    /// The parser never panics, and every failure is INVALID_ARGUMENT on `filter`.
    #[test]
    fn the_parser_never_panics(text in "\\PC{0,80}") {
        if let Err(e) = parse_filter(Target::Versions, &text) {
            prop_assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
        }
        let _ = parse_order(Target::Models, &text);
    }

    /// Nor on inputs made of the language's own pieces.
    #[test]
    fn the_parser_never_panics_on_near_misses(parts in proptest::collection::vec(prop_oneof![
        Just("name"), Just("metrics.auc"), Just("tags.`a.b`"), Just("AND"), Just("OR"), Just("NOT"),
        Just("("), Just(")"), Just("="), Just(">="), Just("IN"), Just("LIKE"), Just("IS"), Just("NULL"),
        Just("'x'"), Just("1"), Just("-2.5e3"), Just(","), Just("binding"), Just("created_at"),
        Just("'2026-11-30'"), Just("`"), Just("'"), Just("card"), Just("annotations.kind"),
        Just("'bias_audit'"), Just("ILIKE"), Just("'%a_'")
    ], 0..16)) {
        let text = parts.join(" ");
        for target in [Target::Versions, Target::Models] {
            if let Err(e) = parse_filter(target, &text) {
                prop_assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
            }
            if let Err(e) = parse_order(target, &text) {
                prop_assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
            }
        }
    }
}

#[test]
fn deep_and_long_filters_are_refused_not_overflowed() {
    let deep = format!("{}name = 'x'{}", "(".repeat(500), ")".repeat(500));
    assert!(parse_filter(Target::Models, &deep).unwrap_err().to_string().contains("nested deeper"));
    let nots = format!("{}name = 'x'", "NOT ".repeat(500));
    assert!(parse_filter(Target::Models, &nots).is_err());
    let long = vec!["name = 'x'"; 100].join(" OR ");
    assert!(parse_filter(Target::Models, &long).unwrap_err().to_string().contains("comparisons"));
    let _ = SystemTime::now();
}
