//! Bounded property tests (CI runs them every time) over every decoder a stranger's bytes reach:
//! change-log rows, page tokens, names, scopes and subjects, bearer credentials, download page
//! tokens, artifact locations and certificate names. None may panic; each rejection is a
//! domain error a status can carry.

use proptest::prelude::*;

use crate::{
    AllowedLocations, BindingName, Change, Error, ModelName, PageRequest, Scope, Subject, bearer_credential,
    certificate_principal, decode_log, validate,
};

/// Arbitrary JSON, a few levels deep.
fn json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f)
                .map_or(serde_json::Value::Null, serde_json::Value::Number)),
        ".{0,40}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::btree_map("[a-z_]{0,12}", inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn is_domain_rejection(e: &Error) -> bool {
    matches!(e, Error::InvalidArgument(_) | Error::Unauthenticated(_) | Error::Internal(_))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, ..ProptestConfig::default() })]

    #[test]
    fn change_rows_decode_or_are_refused(
        revision in any::<u64>(),
        kind in prop_oneof![Just("model".to_owned()), Just("version".to_owned()), Just("binding".to_owned()), Just("access".to_owned()), ".{0,12}"],
        model in ".{0,40}",
        payload in json(),
    ) {
        let _ = Change::decode(revision, &kind, &model, payload.clone());
        match decode_log([(revision, kind, model, Some(payload))]) {
            Ok(changes) => prop_assert!(changes.len() <= 1),
            Err(e) => prop_assert!(is_domain_rejection(&e)),
        }
    }

    #[test]
    fn page_tokens_decode_or_are_refused(kind in "[a-z]{1,10}", size in any::<u32>(), token in ".{0,120}") {
        if let Err(e) = PageRequest::parse(&kind, size, &token) {
            prop_assert!(is_domain_rejection(&e));
        }
    }

    #[test]
    fn names_scopes_and_subjects_parse_or_are_refused(s in ".{0,300}") {
        if let Ok(name) = ModelName::parse("model", s.clone()) {
            prop_assert_eq!(ModelName::parse("model", name.as_str().to_owned()).ok(), Some(name));
        }
        let _ = BindingName::parse("binding", s.clone());
        let _ = Scope::parse("scope", &s);
        let _ = Subject::parse("subject", &s);
        let _ = validate::artifact_uri("artifact.uri", &s);
        let _ = validate::sha256("sha256", &s);
        let _ = validate::json_document("signature", &s);
    }

    #[test]
    fn credentials_are_recognised_or_refused(header in proptest::option::of(".{0,300}")) {
        if let Err(e) = bearer_credential(header.as_deref()) {
            prop_assert!(matches!(e, Error::Unauthenticated(_)));
        }
    }

    #[test]
    fn locations_and_certificate_names_parse_or_are_refused(
        entries in prop::collection::vec(".{0,60}", 0..4),
        names in prop::collection::vec(".{0,80}", 0..3),
    ) {
        let _ = AllowedLocations::parse(&entries, None);
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        if let Err(e) = certificate_principal(&refs, &refs, refs.first().copied()) {
            prop_assert!(matches!(e, Error::Unauthenticated(_)));
        }
    }
}
