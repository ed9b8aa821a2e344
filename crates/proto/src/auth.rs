//! Credentials from request metadata. What a credential is worth is decided in `bindery-core`
//! (`AccessState::authenticate`, `TokenEntry::principal_at`, `Policy`).

use std::sync::Arc;

use bindery_core::{Credential, Error, Principal, Result, WriteContext, call_credential, trace_id};
use tonic::metadata::MetadataMap;

/// `authorization: Bearer <token>`.
pub const AUTHORIZATION_HEADER: &str = "authorization";
/// The unverified actor name, honoured only with authentication off (`--auth none`).
pub const ACTOR_HEADER: &str = "x-bindery-actor";
/// The caller's request id, recorded in the audit log.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

const MAX_HEADER_VALUE: usize = 250;

/// Whether a server requires callers to authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Every call needs a valid credential and a role (the default for primaries and readers).
    Required,
    /// Anyone may do anything; `x-bindery-actor` names the actor (`bindery dev` by default).
    Off,
}

/// A printable header of at most 250 bytes; `None` when absent or blank.
pub fn header(metadata: &MetadataMap, name: &str) -> Result<Option<String>> {
    let Some(value) = metadata.get(name) else { return Ok(None) };
    let value =
        value.to_str().map_err(|_| Error::invalid(&format!("header {name}"), "must be printable ASCII"))?;
    if value.len() > MAX_HEADER_VALUE {
        return Err(Error::invalid(
            &format!("header {name}"),
            format!("is {} bytes, at most {MAX_HEADER_VALUE} allowed", value.len()),
        ));
    }
    Ok(Some(value.trim().to_owned()).filter(|v| !v.is_empty()))
}

/// The call's credential: the bearer token sent (an API token or a JWT), else the principal of
/// its verified client certificate, or `Unauthenticated` saying what to send.
pub fn credential(
    metadata: &MetadataMap,
    client_cert: Option<Result<Arc<Principal>>>,
) -> Result<Credential<'_>> {
    let value = match metadata.get(AUTHORIZATION_HEADER) {
        None => None,
        Some(v) => Some(v.to_str().map_err(|_| bindery_core::invalid_token())?),
    };
    call_credential(value, client_cert)
}

/// A JWT reached a process with no JWKS configured.
pub fn jwt_not_configured() -> Error {
    Error::Unauthenticated(
        "this registry accepts no JWTs (no JWKS is configured); send a Bindery API token (bdy_…)".into(),
    )
}

/// With authentication off: whoever the caller claims to be (`x-bindery-actor`), else anonymous.
pub fn claimed_principal(metadata: &MetadataMap) -> Result<Principal> {
    let name = header(metadata, ACTOR_HEADER)?.unwrap_or_else(|| WriteContext::ANONYMOUS.to_owned());
    Ok(Principal::unauthenticated(name))
}

/// The audit context of a call by `who`: its request id and W3C trace id.
pub fn write_context(metadata: &MetadataMap, who: &Principal) -> Result<WriteContext> {
    let mut ctx = WriteContext::new(who.name.clone());
    ctx.request_id = header(metadata, REQUEST_ID_HEADER)?.unwrap_or_default();
    ctx.trace_id =
        metadata.get("traceparent").and_then(|v| v.to_str().ok()).and_then(trace_id).unwrap_or_default();
    Ok(ctx)
}
