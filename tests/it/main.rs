//! Bindery integration tests: one binary, a real PostgreSQL, a fresh database per test, servers on
//! port 0, real tonic clients.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod availability;
mod bindings;
mod cli;
mod lifecycle;
mod readers;
mod registration;
mod revisions;
mod validation;
