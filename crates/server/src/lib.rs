//! The `bindery` process: configuration, serving the primary, readiness, shutdown.

pub mod agent;
mod artifacts;
pub mod cli;
mod cli_access;
mod cli_annotations;
mod cli_deployment;
mod cli_export;
mod cli_models;
mod cli_promotion;
mod cli_rollout;
mod cli_search;
mod cli_traffic;
mod cli_webhook;
pub mod common;
pub mod config;
pub mod config_file;
mod dev;
pub mod metrics;
pub mod output;
mod primary;
mod reader;
pub mod telemetry;
pub mod tls;

pub use artifacts::{GcArgs, gc_loop, run_gc};
pub use config::{
    ArtifactArgs, ArtifactStoreKind, AuthArg, DatabaseUrl, ListenAddr, PrimaryConfig, ReaderConfig, Secret,
};
pub use dev::{DevConfig, serve_dev};
pub use primary::{migrate_database, serve_primary};
pub use reader::serve_reader;
pub use tls::{ClientTlsArgs, TlsArgs};
