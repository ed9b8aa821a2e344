use super::*;
use crate::gates::{Comparison, example_gates};
use crate::{Artifact, Lineage, Signature};

fn name(s: &str) -> BindingName {
    BindingName::parse("binding", s).unwrap()
}

fn model() -> ModelName {
    ModelName::parse("model", "fraud/detector").unwrap()
}

fn version(v: u64, auc: f64) -> ModelVersion {
    ModelVersion {
        model_name: model(),
        version: v,
        status: VersionStatus::Ready,
        artifact: Artifact::default(),
        params: BTreeMap::new(),
        metrics: [("auc".to_owned(), auc)].into(),
        tags: BTreeMap::new(),
        lineage: Lineage::default(),
        signature: Signature::default(),
        description: String::new(),
        created_at: SystemTime::UNIX_EPOCH,
        created_by: "ci".into(),
        updated_at: SystemTime::UNIX_EPOCH,
        updated_by: "ci".into(),
        request_id: String::new(),
        bindings: Vec::new(),
        revision: 1,
    }
}

fn binding(n: &str, v: u64, generation: u64, since: SystemTime) -> Binding {
    Binding {
        model_name: model(),
        name: name(n),
        version: v,
        generation,
        updated_at: since,
        updated_by: "ci".into(),
        revision: 1,
        traffic: None,
    }
}

fn policy() -> PromotionPolicy {
    PromotionPolicy {
        binding: name("production"),
        scope: Scope::Namespace("fraud".into()),
        gates: example_gates(),
    }
}

fn new(version: u64) -> NewPromotion {
    NewPromotion {
        model: model(),
        binding: name("production"),
        version,
        reason: "better".into(),
        expected_generation: None,
        may_apply: true,
        ttl: DEFAULT_REQUEST_TTL,
    }
}

#[test]
fn the_most_specific_policy_decides() {
    let mut global = policy();
    global.scope = Scope::Global;
    global.gates.truncate(1);
    let ns = policy();
    let other = PromotionPolicy { binding: name("staging"), ..policy() };
    let all = vec![global.clone(), ns.clone(), other];
    assert_eq!(applicable(&all, &model(), &name("production")), Some(&ns));
    let elsewhere = ModelName::parse("model", "ads/ctr").unwrap();
    assert_eq!(applicable(&all, &elsewhere, &name("production")), Some(&global));
    assert_eq!(applicable(&all, &elsewhere, &name("canary")), None);
}

#[test]
fn a_request_waits_for_an_approval_and_applies_with_it() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(100 * 86_400);
    let champion = version(3, 0.91);
    let candidate = version(4, 0.92);
    let bindings = [
        binding("production", 3, 5, now - Duration::from_secs(10 * 86_400)),
        binding("staging", 4, 2, now - Duration::from_secs(2 * 86_400)),
    ];
    let p = policy();
    assert_eq!(referenced_versions(&p, &bindings), vec![3]);
    let facts =
        Facts { candidate: &candidate, bindings: &bindings, bound: std::slice::from_ref(&champion), now };
    let weak = version(5, 0.89);
    let refused = request(&new(5), "carol", Some(&p), &Facts { candidate: &weak, ..facts }).unwrap_err();
    assert!(refused.to_string().contains("metrics.auc = 0.89, needed >= 0.9"), "{refused}");
    let (mut req, step) = request(&new(4), "carol", Some(&p), &facts).unwrap();
    assert_eq!(step, Step::Record, "{:?}", req.results);
    assert_eq!(req.expected_generation, 5);
    assert!(req.results.iter().all(|r| r.passed || r.awaits_approval));
    req.id = 7;
    // Four eyes.
    let own = approve(&mut req.clone(), "carol", "", Some(&p), &facts).unwrap_err();
    assert!(matches!(own, Error::PermissionDenied(_)), "{own}");
    assert!(check_direct(&p, &model(), &facts).unwrap_err().to_string().contains("RequestPromotion"));
    assert_eq!(approve(&mut req, "alice", "lgtm", Some(&p), &facts).unwrap(), Step::Apply);
    req.applied("alice", 9, now);
    assert_eq!(req.state, PromotionState::Applied);
    assert!(req.history_reason().contains("requested by carol, approved by alice"));
    let again = approve(&mut req, "bob", "", Some(&p), &facts).unwrap_err();
    assert!(again.to_string().contains("is APPLIED"), "{again}");
}

#[test]
fn a_moved_binding_supersedes_and_a_better_champion_blocks() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(100 * 86_400);
    let candidate = version(4, 0.92);
    let staged = binding("staging", 4, 2, now - Duration::from_secs(2 * 86_400));
    let before = [binding("production", 3, 5, now - Duration::from_secs(86_400)), staged.clone()];
    let p = policy();
    let champion = version(3, 0.91);
    let facts =
        Facts { candidate: &candidate, bindings: &before, bound: std::slice::from_ref(&champion), now };
    let (req, _) = request(&new(4), "carol", Some(&p), &facts).unwrap();

    // The champion's metrics improved: the approval is recorded, the application is refused.
    let improved = version(3, 0.918);
    let facts2 = Facts { bound: std::slice::from_ref(&improved), ..facts };
    let mut raced = req.clone();
    assert_eq!(approve(&mut raced, "alice", "", Some(&p), &facts2).unwrap(), Step::Record);
    assert_eq!(raced.state, PromotionState::Pending);
    assert!(gates::verdict(&raced.results).unwrap_err().contains("beat production"));

    // Someone moved production meanwhile.
    let moved = [binding("production", 2, 6, now), staged];
    let facts3 = Facts { bindings: &moved, ..facts };
    let mut late = req.clone();
    assert_eq!(approve(&mut late, "alice", "", Some(&p), &facts3).unwrap(), Step::Record);
    assert_eq!(late.state, PromotionState::Superseded);

    // Expiry, rejection, cancellation.
    let mut old = req.clone();
    let later = Facts { now: now + DEFAULT_REQUEST_TTL, ..facts };
    assert_eq!(old.state_at(later.now), PromotionState::Expired);
    assert!(approve(&mut old, "alice", "", Some(&p), &later).unwrap_err().to_string().contains("EXPIRED"));
    let mut r = req.clone();
    assert!(reject(&mut r, "alice", " ", now).is_err());
    reject(&mut r, "alice", "bias audit failed", now).unwrap();
    assert_eq!(r.state, PromotionState::Rejected);
    let mut c = req;
    assert!(matches!(cancel(&mut c, "alice", now), Err(Error::PermissionDenied(_))));
    cancel(&mut c, "carol", now).unwrap();
    assert_eq!(c.state, PromotionState::Cancelled);
}

#[test]
fn policies_are_validated_with_bounds() {
    assert!(policy().validate().is_ok());
    let bad = |gates: Vec<Gate>| PromotionPolicy { gates, ..policy() }.validate().unwrap_err().to_string();
    assert!(bad(vec![]).contains("at least one gate"));
    assert!(bad(vec![Gate::Approvals { count: 0 }]).contains("gates[0].count"));
    assert!(
        bad(vec![Gate::MetricThreshold { metric: "auc".into(), op: Comparison::Above, value: f64::NAN }])
            .contains("finite")
    );
    assert!(
        bad(vec![Gate::Soak { binding: name("staging"), duration: Duration::ZERO }]).contains("duration")
    );
    assert!(bad(vec![Gate::RequiredLineage { datasets: false, code_ref: false }]).contains("both"));
    assert!(bad(vec![Gate::BeatBound { reference: None, on: vec![] }]).contains("beat needs"));
}

#[test]
fn an_ungated_request_applies_at_once_only_for_those_who_may_move_the_binding() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(86_400);
    let candidate = version(1, 0.5);
    let facts = Facts { candidate: &candidate, bindings: &[], bound: &[], now };
    assert_eq!(request(&new(1), "carol", None, &facts).unwrap().1, Step::Apply);
    let contributor = NewPromotion { may_apply: false, ..new(1) };
    assert_eq!(request(&contributor, "carol", None, &facts).unwrap().1, Step::Record);
    let stale = NewPromotion { expected_generation: Some(3), ..new(1) };
    assert!(matches!(request(&stale, "carol", None, &facts), Err(Error::Aborted(_))));
}
