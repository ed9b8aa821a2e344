//! `ResolveMany` on both sides (primary from Postgres, reader from its cache): bound the request,
//! decode each entry on its own, and answer in order with a result or an error per entry.

use bindery_core::{BindingName, Error, ModelName};
use tonic::Status;

use crate::code_of;
use crate::v1;

pub const MAX_RESOLVE_MANY: usize = 1_000;

/// One entry's key, or why it is malformed.
type Decoded = Result<(ModelName, BindingName), Error>;

/// A decoded `ResolveManyRequest`: the keys to look up, and which entries were malformed.
pub struct ResolveManyPlan {
    /// The largest `min_revision` among the requests; it applies to all of them.
    pub min_revision: u64,
    /// The well-formed entries' keys, in order.
    pub keys: Vec<(ModelName, BindingName)>,
    /// Each entry's routing key (empty for none) and its decoded key.
    decoded: Vec<(String, Decoded)>,
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
        let decoded: Vec<(String, Decoded)> =
            requests.into_iter().map(|r| (r.routing_key.clone(), r.try_into())).collect();
        let keys = decoded.iter().filter_map(|(_, d)| d.as_ref().ok().cloned()).collect();
        Ok(Self { min_revision, keys, decoded })
    }

    /// Assembles the response: `found` holds one outcome per entry of `keys`, in order;
    /// `encode` answers one, given its routing key.
    pub fn answer<T>(
        self,
        found: Vec<Result<T, Error>>,
        revision: u64,
        encode: impl Fn(&ModelName, &BindingName, &str, T) -> v1::ResolveResponse,
    ) -> v1::ResolveManyResponse {
        let mut found = found.into_iter();
        let results = self
            .decoded
            .into_iter()
            .map(|(routing_key, d)| {
                let outcome = d.and_then(|(model, binding)| {
                    let target =
                        found.next().unwrap_or_else(|| Err(Error::Internal("result missing".into())))?;
                    Ok(encode(&model, &binding, &routing_key, target))
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
