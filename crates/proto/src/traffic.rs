//! Splits and shadows on the wire (issue 15): decoding a requested target, encoding stored ones,
//! and the one Resolve answer every server builds (primary, reader, `bindery dev`), so a routing
//! key lands on the same side whichever answers.

use bindery_core::traffic::{Shadow, Side, Traffic};
use bindery_core::{Artifact, BindingName, Error, ModelName, validate};

use crate::v1;

/// A requested target: `version`, or `traffic` (then `version` must be 0 or its first side),
/// and a deployment override (`override_` here or in `traffic`; if both, they must agree).
/// Returns the primary version and the traffic, `None` when it is a plain single version.
pub fn decode_target(
    prefix: &str,
    version: u64,
    traffic: Option<v1::Traffic>,
    override_: Option<v1::DeploymentSpec>,
) -> Result<(u64, Option<Traffic>), Error> {
    let override_ = match (override_, traffic.as_ref().and_then(|t| t.deployment_override.clone())) {
        (Some(a), Some(b)) if a != b => {
            return Err(Error::invalid(
                &format!("{prefix}deployment_override"),
                "differs from traffic.deployment_override; set one of them",
            ));
        }
        (a, b) => a.or(b).map(crate::convert::deployment_from_wire),
    };
    let wire = match traffic {
        Some(wire) => wire,
        None if override_.is_some() => {
            let version = validate::version_number(&format!("{prefix}version"), version)?;
            v1::Traffic {
                sides: vec![v1::TrafficSide {
                    version,
                    weight: bindery_core::traffic::BUCKETS,
                    ..Default::default()
                }],
                ..Default::default()
            }
        }
        None => return Ok((validate::version_number(&format!("{prefix}version"), version)?, None)),
    };
    let mut t = Traffic {
        sides: wire
            .sides
            .into_iter()
            .map(|s| Side { version: s.version, weight: s.weight, role: s.role, buckets: Vec::new() })
            .collect(),
        shadows: wire.shadows.into_iter().map(|s| Shadow { version: s.version, mirror: s.mirror }).collect(),
        deployment: override_,
    };
    t.validate(&format!("{prefix}traffic"))?;
    if version != 0 && version != t.primary() {
        return Err(Error::invalid(
            &format!("{prefix}version"),
            format!("is {version} but traffic is set; leave version 0 (the first side is the primary)"),
        ));
    }
    Ok((t.primary(), t.as_single().is_none().then_some(t)))
}

pub fn encode(t: &Traffic) -> v1::Traffic {
    v1::Traffic {
        sides: t
            .sides
            .iter()
            .map(|s| v1::TrafficSide {
                version: s.version,
                weight: s.weight,
                role: s.role.clone(),
                buckets: buckets(s),
            })
            .collect(),
        shadows: t
            .shadows
            .iter()
            .map(|s| v1::TrafficShadow { version: s.version, mirror: s.mirror })
            .collect(),
        deployment_override: crate::convert::deployment_to_wire(t.deployment.as_ref()),
    }
}

fn buckets(s: &Side) -> Vec<v1::BucketRange> {
    s.buckets.iter().map(|&(start, end)| v1::BucketRange { start, end }).collect()
}

/// The deployment spec `artifact`'s version is served with under `traffic` (its own, overlaid
/// with the binding's override).
pub fn effective_deployment(artifact: &Artifact, traffic: Option<&Traffic>) -> Option<v1::DeploymentSpec> {
    let own = artifact.deployment.as_deref();
    match traffic {
        Some(t) => crate::convert::deployment_to_wire(t.effective_deployment(own).as_ref()),
        None => crate::convert::deployment_to_wire(own),
    }
}

fn member(version: u64, artifact: Option<&Artifact>, traffic: &Traffic) -> v1::ResolvedMember {
    let mut m = v1::ResolvedMember { version, ..Default::default() };
    if let Some(a) = artifact {
        m.artifact_uri.clone_from(&a.uri);
        m.sha256.clone_from(&a.sha256);
        m.size_bytes = a.size_bytes;
        m.artifact_format.clone_from(&a.format);
        m.deployment = effective_deployment(a, Some(traffic));
    }
    m
}

fn side_member<'a>(
    s: &Side,
    traffic: &Traffic,
    artifact_of: &impl Fn(u64) -> Option<&'a Artifact>,
) -> v1::ResolvedMember {
    v1::ResolvedMember {
        role: s.role.clone(),
        weight: s.weight,
        buckets: buckets(s),
        ..member(s.version, artifact_of(s.version), traffic)
    }
}

fn shadow_member<'a>(
    s: &Shadow,
    traffic: &Traffic,
    artifact_of: &impl Fn(u64) -> Option<&'a Artifact>,
) -> v1::ResolvedMember {
    v1::ResolvedMember { mirror: s.mirror, ..member(s.version, artifact_of(s.version), traffic) }
}

/// Every side and shadow of `traffic`, each with its artifact.
pub fn members<'a>(
    traffic: &Traffic,
    artifact_of: impl Fn(u64) -> Option<&'a Artifact>,
) -> (Vec<v1::ResolvedMember>, Vec<v1::ResolvedMember>) {
    (
        traffic.sides.iter().map(|s| side_member(s, traffic, &artifact_of)).collect(),
        traffic.shadows.iter().map(|s| shadow_member(s, traffic, &artifact_of)).collect(),
    )
}

/// One binding's target as a resolver holds it.
#[derive(Clone, Copy)]
pub struct Found<'a> {
    pub generation: u64,
    pub revision: u64,
    pub version: u64,
    pub artifact: &'a Artifact,
    pub traffic: Option<&'a Traffic>,
}

/// The answer to a Resolve of `found` with `routing_key` (empty: none), and the artifact of the
/// version answered (what `presign` signs).
pub fn resolve_response<'a>(
    model: &ModelName,
    binding: &BindingName,
    found: Found<'a>,
    artifact_of: impl Fn(u64) -> Option<&'a Artifact>,
    routing_key: &str,
) -> (v1::ResolveResponse, &'a Artifact) {
    let mut answer = v1::ResolveResponse {
        model_name: model.as_str().to_owned(),
        binding: binding.as_str().to_owned(),
        generation: found.generation,
        revision: found.revision,
        role: bindery_core::traffic::default_role(0),
        ..Default::default()
    };
    let mut chosen = (found.version, found.artifact);
    match found.traffic {
        Some(traffic) if !routing_key.is_empty() => {
            let route = traffic.route(model, binding, routing_key);
            answer.role.clone_from(&route.side.role);
            answer.bucket = Some(route.bucket);
            if let Some(artifact) = artifact_of(route.side.version) {
                chosen = (route.side.version, artifact);
            }
            answer.shadows = route.shadows().map(|s| shadow_member(s, traffic, &artifact_of)).collect();
        }
        Some(traffic) => {
            if let Some(first) = traffic.sides.first() {
                answer.role.clone_from(&first.role);
            }
            (answer.sides, answer.shadows) = members(traffic, &artifact_of);
        }
        None if !routing_key.is_empty() => {
            answer.bucket =
                Some(bindery_core::traffic::bucket(model.as_str(), binding.as_str(), routing_key));
        }
        None => {}
    }
    let (version, artifact) = chosen;
    answer.version = version;
    answer.artifact_uri.clone_from(&artifact.uri);
    answer.sha256.clone_from(&artifact.sha256);
    answer.size_bytes = artifact.size_bytes;
    answer.artifact_format.clone_from(&artifact.format);
    answer.deployment = effective_deployment(artifact, found.traffic);
    (answer, artifact)
}

/// The answer to a Resolve the store answered, with `routing_key` (empty: none), and the
/// answered artifact.
pub fn resolved<'a>(r: &'a bindery_core::Resolved, routing_key: &str) -> (v1::ResolveResponse, &'a Artifact) {
    let t = &r.target;
    let found = Found {
        generation: r.generation,
        revision: r.revision,
        version: t.version,
        artifact: &t.artifact,
        traffic: t.traffic.as_ref(),
    };
    resolve_response(&r.model_name, &r.binding, found, |v| t.artifact_of(v), routing_key)
}
