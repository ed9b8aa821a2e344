//! The `bindery` process: configuration, serving the primary, readiness, shutdown.

pub mod cli;
mod common;
pub mod config;
mod dev;
mod primary;
mod reader;

pub use config::{DatabaseUrl, PrimaryConfig, ReaderConfig};
pub use dev::{DevConfig, serve_dev};
pub use primary::{migrate_database, serve_primary};
pub use reader::serve_reader;
