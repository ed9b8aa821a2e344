//! `GetLineage` and `CopyVersion` (issue 14). Lineage is read, not stored twice: parents come
//! from each version's lineage, children and shared datasets from searches (`lineage.parent`,
//! `lineage.dataset`), limited like every search to the models the caller may view.

use std::collections::{BTreeMap, BTreeSet};

use bindery_core::filter::{CmpOp, Expr, Field, Search, Target, Value};
use bindery_core::{
    Artifact, Error, Lineage, ModelName, ModelVersion, NewVersion, PageRequest, Role, VersionKey, VersionRef,
    VersionStatus, Visibility,
};
use bindery_proto::{status_from_error, v1};
use tonic::{Response, Status};

use crate::auth::Caller;
use crate::{Primary, RpcResult};

const DEFAULT_DEPTH: u32 = 3;
const MAX_DEPTH: u32 = 10;
const MAX_NODES: usize = 1_000;
/// Children of one version, and versions sharing one dataset, listed at most.
const MAX_FANOUT: u32 = 100;

type Key = (ModelName, u64);

fn reference(key: &Key) -> v1::VersionRef {
    v1::VersionRef { model_name: key.0.as_str().to_owned(), version: key.1 }
}

/// Versions whose `field` equals `value`, at most [`MAX_FANOUT`]; and whether there were more.
async fn matching(
    p: &Primary,
    visibility: &Visibility,
    field: Field,
    value: String,
) -> Result<(Vec<ModelVersion>, bool), Status> {
    let search =
        Search::of(Target::Versions, Expr::Compare { field, op: CmpOp::Eq, value: Value::Text(value) });
    let page = PageRequest { size: MAX_FANOUT, after: None };
    let found = p.store.search_versions(&search, visibility, page).await.map_err(status_from_error)?;
    let more = found.next.is_some();
    Ok((found.items.into_iter().map(|(v, _)| v).collect(), more))
}

pub(crate) async fn get_lineage(
    p: &Primary,
    caller: &Caller,
    r: v1::GetLineageRequest,
) -> RpcResult<v1::GetLineageResponse> {
    let model = ModelName::parse("model_name", r.model_name).map_err(status_from_error)?;
    let version = bindery_core::validate::version_number("version", r.version).map_err(status_from_error)?;
    if r.depth > MAX_DEPTH {
        return Err(status_from_error(Error::invalid("depth", format!("at most {MAX_DEPTH}"))));
    }
    let depth = if r.depth == 0 { DEFAULT_DEPTH } else { r.depth };
    let direction = v1::LineageDirection::try_from(r.direction)
        .map_err(|_| status_from_error(Error::invalid("direction", "is not a lineage direction")))?;
    caller.require(Role::Viewer, &model)?;
    let root = p.store.get_version(&VersionKey { model, version }).await.map_err(status_from_error)?;
    let visibility = caller.policy.visibility(&caller.who);

    let key = |v: &ModelVersion| (v.model_name.clone(), v.version);
    let mut nodes: BTreeMap<Key, (ModelVersion, i32)> = BTreeMap::new();
    let mut edges: BTreeSet<(Key, Key)> = BTreeSet::new();
    let mut truncated = false;
    nodes.insert(key(&root), (root.clone(), 0));

    if matches!(
        direction,
        v1::LineageDirection::Upstream | v1::LineageDirection::Both | v1::LineageDirection::Unspecified
    ) {
        let mut frontier = vec![root.clone()];
        for step in 1..=depth {
            let mut next = Vec::new();
            for child in &frontier {
                for parent in &child.lineage.parent_versions {
                    let pk = (parent.model_name.clone(), parent.version);
                    if !caller.can_view(&pk.0) {
                        continue;
                    }
                    if !nodes.contains_key(&pk) {
                        if nodes.len() >= MAX_NODES {
                            truncated = true;
                            continue;
                        }
                        let found =
                            p.store.get_version(&VersionKey { model: pk.0.clone(), version: pk.1 }).await;
                        match found {
                            Ok(v) => {
                                nodes.insert(
                                    pk.clone(),
                                    (v.clone(), -i32::try_from(step).unwrap_or(i32::MAX)),
                                );
                                next.push(v);
                            }
                            Err(Error::NotFound(_)) => continue,
                            Err(e) => return Err(status_from_error(e)),
                        }
                    }
                    edges.insert((pk, key(child)));
                }
            }
            frontier = next;
        }
    }
    if matches!(
        direction,
        v1::LineageDirection::Downstream | v1::LineageDirection::Both | v1::LineageDirection::Unspecified
    ) {
        let mut frontier = vec![root.clone()];
        for step in 1..=depth {
            let mut next = Vec::new();
            for parent in &frontier {
                let name = format!("{}@{}", parent.model_name, parent.version);
                let (children, more) = matching(p, &visibility, Field::LineageParent, name).await?;
                truncated |= more;
                for child in children {
                    let ck = key(&child);
                    if !nodes.contains_key(&ck) {
                        if nodes.len() >= MAX_NODES {
                            truncated = true;
                            continue;
                        }
                        nodes.insert(ck.clone(), (child.clone(), i32::try_from(step).unwrap_or(i32::MAX)));
                        next.push(child);
                    }
                    edges.insert((key(parent), ck));
                }
            }
            frontier = next;
        }
    }
    let mut datasets = Vec::new();
    for d in &root.lineage.datasets {
        let value = if d.version.is_empty() { d.uri.clone() } else { format!("{}@{}", d.uri, d.version) };
        let (shared, more) = matching(p, &visibility, Field::LineageDataset, value).await?;
        truncated |= more;
        datasets.push(v1::LineageDataset {
            uri: d.uri.clone(),
            version: d.version.clone(),
            shared_with: shared.iter().map(key).filter(|k| *k != key(&root)).map(|k| reference(&k)).collect(),
        });
    }
    let nodes = nodes
        .into_values()
        .map(|(v, distance)| v1::LineageNode {
            model_name: v.model_name.as_str().to_owned(),
            version: v.version,
            status: v1::VersionStatus::from(v.status).into(),
            bindings: v.bindings,
            distance,
        })
        .collect();
    let edges = edges
        .iter()
        .map(|(parent, child)| v1::LineageEdge {
            parent: Some(reference(parent)),
            child: Some(reference(child)),
        })
        .collect();
    Ok(Response::new(v1::GetLineageResponse { nodes, edges, datasets, truncated }))
}

/// The version `CopyVersion` registers: the source's artifact (as declared; it is verified again
/// like any registration), metrics, params, signature and lineage, with the source as parent.
pub(crate) async fn copy_request(
    p: &Primary,
    caller: &Caller,
    r: v1::CopyVersionRequest,
) -> Result<NewVersion, Status> {
    let source_model =
        ModelName::parse("source_model_name", r.source_model_name).map_err(status_from_error)?;
    let source_version = bindery_core::validate::version_number("source_version", r.source_version)
        .map_err(status_from_error)?;
    let target = ModelName::parse("target_model_name", r.target_model_name).map_err(status_from_error)?;
    caller.require(Role::Viewer, &source_model)?;
    caller.require(Role::Contributor, &target)?;
    let source = p
        .store
        .get_version(&VersionKey { model: source_model, version: source_version })
        .await
        .map_err(status_from_error)?;
    if source.status == VersionStatus::Deleted {
        return Err(status_from_error(Error::FailedPrecondition(format!(
            "version {} of model '{}' is deleted; its artifact may already be collected",
            source.version, source.model_name
        ))));
    }
    let a = &source.artifact;
    let artifact = Artifact {
        uri: a.uri.clone(),
        sha256: a.sha256.clone(),
        size_bytes: a.size_bytes,
        format: a.format.clone(),
        files: a.files.clone(),
        ..Artifact::default()
    };
    let lineage = Lineage {
        parent_versions: vec![VersionRef { model_name: source.model_name.clone(), version: source.version }],
        ..source.lineage.clone()
    };
    let mut new = NewVersion {
        model: target,
        request_id: (!r.request_id.is_empty()).then_some(r.request_id),
        artifact,
        params: source.params.clone(),
        metrics: source.metrics.clone(),
        tags: Default::default(),
        lineage,
        signature: source.signature.clone(),
        description: if r.description.is_empty() { source.description.clone() } else { r.description },
        upload_session_id: None,
        upload_files: None,
        // A copy is served as its source is.
        deployment: source.artifact.deployment.as_deref().cloned(),
        verified_artifact: None,
    };
    new.validate().map_err(status_from_error)?;
    Ok(new)
}
