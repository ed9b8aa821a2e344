//! Store-internal errors and how they become domain errors: what is retried, what is
//! `Unavailable`, what is a bug.

use bindery_core::Error;
use deadpool_postgres::PoolError;
use tokio_postgres::error::SqlState;

#[derive(Debug)]
pub(crate) enum StoreError {
    Pg(tokio_postgres::Error),
    Pool(PoolError),
    Domain(Error),
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Pg(e)
    }
}

impl From<PoolError> for StoreError {
    fn from(e: PoolError) -> Self {
        Self::Pool(e)
    }
}

impl From<Error> for StoreError {
    fn from(e: Error) -> Self {
        Self::Domain(e)
    }
}

pub(crate) type StoreResult<T> = Result<T, StoreError>;

/// Shorthand for an `Internal` error about data the store itself wrote.
pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Domain(Error::Internal(format!("unexpected stored data: {what}")))
}

impl StoreError {
    /// Serialization failures and deadlocks: the transaction did nothing and may simply be rerun.
    pub(crate) fn is_retryable(&self) -> bool {
        let code = match self {
            Self::Pg(e) => e.code(),
            Self::Pool(PoolError::Backend(e)) => e.code(),
            _ => None,
        };
        matches!(code, Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED)
    }

    /// The unique constraint a failed statement violated, if that is what happened.
    pub(crate) fn unique_violation(&self) -> Option<&str> {
        match self {
            Self::Pg(e) => e
                .as_db_error()
                .filter(|db| *db.code() == SqlState::UNIQUE_VIOLATION)
                .and_then(|db| db.constraint()),
            _ => None,
        }
    }

    pub(crate) fn into_domain(self, op: &'static str) -> Error {
        match self {
            Self::Domain(e) => e,
            // Failing to open a connection (refused, auth, database not accepting connections…)
            // is the database being unavailable to us, whatever its SQLSTATE.
            Self::Pool(PoolError::Backend(e)) => {
                tracing::warn!(op, error = %e, "cannot connect to the database");
                Error::unavailable("the registry database is unavailable: cannot connect; retry later", e)
            }
            Self::Pg(e) => classify(op, &e),
            Self::Pool(e @ (PoolError::Timeout(_) | PoolError::Closed | PoolError::NoRuntimeSpecified)) => {
                tracing::warn!(op, error = %e, "database pool unavailable");
                Error::unavailable("the registry database is unavailable; retry later", e)
            }
            Self::Pool(e) => {
                tracing::warn!(op, error = %e, "database pool error");
                Error::unavailable("the registry database is unavailable; retry later", e)
            }
        }
    }
}

fn classify(op: &'static str, e: &tokio_postgres::Error) -> Error {
    let unavailable = || {
        tracing::warn!(op, error = %e, "database unavailable");
        Error::Unavailable("the registry database is unavailable; retry later".into())
    };
    match e.code() {
        Some(code) => {
            let class = code.code().get(..2).unwrap_or("");
            // 08: connection exception; 57P0x: admin/crash shutdown, cannot connect now;
            // 53: insufficient resources (too many connections, disk full).
            if class == "08" || class == "53" || code.code().starts_with("57P") {
                unavailable()
            } else {
                tracing::error!(op, error = %e, code = code.code(), "database error");
                Error::Internal(format!("database error in {op}"))
            }
        }
        // No SQLSTATE: the connection broke (I/O error, closed socket, timeout).
        None if e.is_closed() || is_io(e) => unavailable(),
        None => {
            tracing::error!(op, error = %e, "database client error");
            Error::Internal(format!("database client error in {op}"))
        }
    }
}

fn is_io(e: &tokio_postgres::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.is::<std::io::Error>() {
            return true;
        }
        source = s.source();
    }
    // Errors such as "connection closed" or "timeout" carry no source.
    let msg = e.to_string();
    msg.contains("connection") || msg.contains("timed out") || msg.contains("timeout")
}
