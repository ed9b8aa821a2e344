//! Bindery's domain: validated names and inputs, the entities a registry stores, the errors every
//! layer speaks, and the [`Store`] trait the gRPC services are written against. No gRPC and no SQL
//! live here, so a second store (embedded, for `bindery dev`) plugs in behind the same trait.

mod access;
mod access_state;
pub mod annotation;
mod artifact;
mod audit;
mod binding;
pub mod deployment;
mod error;
pub mod event;
mod feed;
pub mod filter;
pub mod gates;
mod model;
mod names;
mod page;
pub mod promotion;
pub mod replication;
pub mod rollout;
pub mod snapshot_codec;
mod store;
mod token;
pub mod traffic;
pub mod validate;
pub mod webhook;

#[cfg(test)]
mod decoder_properties;

pub use access::{
    AuthMethod, Grant, GrantRecord, Policy, Principal, Protection, ProtectionRecord, Role, Scope, Subject,
    Visibility,
};
pub use access_state::{AccessChange, AccessState};
pub use artifact::{
    AllowedLocations, ArtifactFile, ArtifactReferences, ArtifactStore, DownloadUrl, FileGrant, FileSpec,
    Multipart, ObjectInfo, ObjectLocation, PartGrant, PendingUpload, PresignedRequest, SessionGrant,
    TOMBSTONE_TTL, UploadFile, UploadSession, UploadSessionState, artifact_being_collected, hex,
    sha256_bytes, unhex,
};
pub use audit::{
    AuditBreak, AuditEntry, AuditEvent, AuditFilter, AuditRecord, ChainCheck, ChainReport, from_unix_micros,
    trace_id, unix_micros,
};
pub use binding::{
    Binding, BindingAction, BindingAssignment, BindingChange, BindingHistoryEntry, BindingTarget,
    BindingWrite, BindingsWrite, DeleteBinding, Resolved, RollbackBinding, SetBinding, SetBindings,
    binding_audit_state, check_generation, plan_target, stored_traffic, validate_reason,
};
pub use error::{Error, Result, error_id, split_detail};
pub use feed::{
    ACCESS_KIND, BindingsPayload, Change, ChangeEffect, ChangeFeed, FeedConnection, LogRow, Notification,
    Snapshot, decode_log,
};
pub use model::{
    Artifact, DatasetRef, DeclaredFile, Lineage, Model, ModelUpdate, ModelVersion, NewModel, NewVersion,
    Registered, Signature, VersionKey, VersionLookup, VersionRef, VersionStatus, VersionUpdate, WriteContext,
};
pub use names::{BindingName, ModelName};
pub use page::{Cursor, MAX_ANSWER_BYTES, MAX_PAGE_SIZE, Page, PageRequest};
pub use promotion::{
    NewPromotion, PromotionAct, PromotionFilter, PromotionPolicy, PromotionPolicyRecord, PromotionRequest,
    PromotionState,
};
pub use store::Store;
pub use token::{
    Credential, NewToken, TOKEN_PREFIX, Token, TokenEntry, bearer_credential, call_credential,
    certificate_principal, generate_token, invalid_token, token_hash, token_id,
};
