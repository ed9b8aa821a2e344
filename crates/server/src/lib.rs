//! The `bindery` process: configuration, serving the primary, readiness, shutdown.

pub mod cli;
pub mod config;
mod primary;

pub use config::{DatabaseUrl, PrimaryConfig};
pub use primary::{migrate_database, serve_primary};
