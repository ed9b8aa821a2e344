//! Artifacts in object storage (design.md §4): the S3 implementation of
//! [`bindery_core::ArtifactStore`], a local-directory one for `bindery dev`, and [`Artifacts`],
//! the registry's use of either: verify on register, upload sessions, presigned downloads and
//! garbage collection under the registry-managed prefix.

mod http;
mod local;
mod s3;
mod service;
mod transfer;

pub use http::{BodyError, HttpLimits, next_frame, read_body, serve_http1, serve_https1};
pub use local::{LocalStore, serve_local};
pub use s3::{S3Config, S3Store};
pub use service::{ArtifactSettings, Artifacts, GC_ACTOR, GcReport, MIN_PART_SIZE};
pub use transfer::{Reply, Transfer, describe_file};
