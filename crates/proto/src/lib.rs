//! The `bindery.v1` contract: generated prost messages and tonic services, the encoded descriptor
//! set for server reflection, and the conversions between wire types and `bindery-core` domain
//! types. Prost types stop here: servers decode into domain types with `TryFrom` (which validates)
//! and encode with `From`.

#[allow(clippy::all, clippy::pedantic, unused_qualifications, missing_docs)]
pub mod v1 {
    tonic::include_proto!("bindery.v1");
}

/// Encoded `FileDescriptorSet` of every bindery.v1 file, for tonic-reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/bindery_descriptor.bin"));

mod access;
pub mod annotations;
pub mod auth;
mod convert;
pub mod json;
pub mod promotion;
mod resolve_many;
pub mod rollout;
mod status;
pub mod traffic;
pub mod webhook;

pub use access::{from_timestamp, role_from_wire, role_to_wire, token_request};
pub use convert::{deployment_from_wire, deployment_to_wire, to_timestamp};
pub use resolve_many::{MAX_RESOLVE_MANY, ResolveManyPlan};
pub use status::{code_of, status_from_error};
