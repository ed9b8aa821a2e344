//! `ResolveMany` on both sides (primary from Postgres, reader from its cache): bound the request,
//! decode each entry on its own, and answer in order with a result or an error per entry.

use bindery_core::{BindingName, Error, ModelName};
use tonic::Status;

use crate::code_of;
use crate::v1;

pub const MAX_RESOLVE_MANY: usize = 1_000;

/// A decoded `ResolveManyRequest`: the keys to look up, and which entries were malformed.
pub struct ResolveManyPlan {
    /// The largest `min_revision` among the requests; it applies to all of them.
    pub min_revision: u64,
    /// The well-formed entries' keys, in order.
    pub keys: Vec<(ModelName, BindingName)>,
    decoded: Vec<Result<(ModelName, BindingName), Error>>,
}

impl ResolveManyPlan {
    pub fn new(requests: Vec<v1::ResolveRequest>) -> Result<Self, Status> {
        if requests.len() > MAX_RESOLVE_MANY {
            return Err(Status::invalid_argument(format!(
                "requests: {} entries, at most {MAX_RESOLVE_MANY} allowed",
                requests.len()
            )));
        }
        let min_revision = requests.iter().map(|r| r.min_revision).max().unwrap_or(0);
        let decoded: Vec<Result<(ModelName, BindingName), Error>> =
            requests.into_iter().map(TryInto::try_into).collect();
        let keys = decoded.iter().filter_map(|d| d.as_ref().ok().cloned()).collect();
        Ok(Self { min_revision, keys, decoded })
    }

    /// Assembles the response: `found` holds one outcome per entry of `keys`, in order.
    pub fn answer<T>(
        self,
        found: Vec<Result<T, Error>>,
        revision: u64,
        encode: impl Fn(&ModelName, &BindingName, T) -> v1::ResolveResponse,
    ) -> v1::ResolveManyResponse {
        let mut found = found.into_iter();
        let results = self
            .decoded
            .into_iter()
            .map(|d| {
                let outcome = d.and_then(|(model, binding)| {
                    let target =
                        found.next().unwrap_or_else(|| Err(Error::Internal("result missing".into())))?;
                    Ok(encode(&model, &binding, target))
                });
                let outcome = match outcome {
                    Ok(r) => v1::resolve_result::Outcome::Response(r),
                    Err(e) => v1::resolve_result::Outcome::Error(v1::ResolveError {
                        code: code_of(&e) as i32,
                        message: e.to_string(),
                    }),
                };
                v1::ResolveResult { outcome: Some(outcome) }
            })
            .collect();
        v1::ResolveManyResponse { results, revision }
    }
}
