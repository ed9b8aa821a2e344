//! The one error type of the domain and store layers. Each variant is a kind a caller can act on;
//! the gRPC edge maps kinds to status codes in one table (`bindery-proto`'s `status.rs`).
//! Messages are lowercase, name the offending field or value, and say what to do.

/// Result with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The request itself is malformed; retrying it unchanged cannot succeed.
    #[error("{0}")]
    InvalidArgument(String),
    /// A named model, version or binding does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The thing to create exists already (or an idempotency key was reused for other content).
    #[error("{0}")]
    AlreadyExists(String),
    /// The request is well-formed but the registry's state does not allow it.
    #[error("{0}")]
    FailedPrecondition(String),
    /// No valid credentials came with the request: say what to send, never which check failed.
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller is known but lacks the role: name the principal, the role and the scope.
    #[error("{0}")]
    PermissionDenied(String),
    /// A compare-and-set lost: the caller's view is stale. Re-read and retry.
    #[error("{0}")]
    Aborted(String),
    /// The backing store cannot be reached right now; retrying later may succeed. Internal
    /// detail (endpoints, driver messages) goes after [`DETAIL`] (see [`Error::unavailable`]):
    /// logged, never sent to callers.
    #[error("{}", readable(.0))]
    Unavailable(String),
    /// A bug or an unexpected store answer; details are logged server-side.
    #[error("{0}")]
    Internal(String),
}

impl Error {
    /// The messages every store uses, so both stores fail the same way.
    pub fn model_not_found(model: &impl std::fmt::Display) -> Self {
        Self::NotFound(format!("model '{model}' not found"))
    }

    pub fn model_exists(model: &impl std::fmt::Display, deleted: bool) -> Self {
        if deleted {
            Self::AlreadyExists(format!(
                "model '{model}' was deleted; model names are never reused, so choose another name"
            ))
        } else {
            Self::AlreadyExists(format!("model '{model}' already exists"))
        }
    }

    pub fn version_not_found(model: &impl std::fmt::Display, version: u64) -> Self {
        Self::NotFound(format!("version {version} of model '{model}' not found"))
    }

    pub fn binding_not_found(model: &impl std::fmt::Display, binding: &impl std::fmt::Display) -> Self {
        Self::NotFound(format!("binding '{binding}' not found on model '{model}'"))
    }

    /// `InvalidArgument` for `field`, as `"<field>: <message>"`.
    pub fn invalid(field: &str, message: impl std::fmt::Display) -> Self {
        Self::InvalidArgument(format!("{field}: {message}"))
    }

    /// `Unavailable` saying `public` to callers, with `detail` (an endpoint, a driver error) kept
    /// for the log.
    pub fn unavailable(public: impl std::fmt::Display, detail: impl std::fmt::Display) -> Self {
        Self::Unavailable(format!("{public}{DETAIL}{detail}"))
    }
}

/// Separates what a caller may read from the detail only the log gets.
pub const DETAIL: char = '\u{1f}';

/// `(public, detail)` of a message built by [`Error::unavailable`].
pub fn split_detail(message: &str) -> (&str, Option<&str>) {
    match message.split_once(DETAIL) {
        Some((public, detail)) => (public, Some(detail)),
        None => (message, None),
    }
}

fn readable(message: &str) -> String {
    match split_detail(message) {
        (public, Some(detail)) => format!("{public} ({detail})"),
        (public, None) => public.to_owned(),
    }
}

/// A short random id tying an error a caller saw to the log line with its details.
pub fn error_id() -> String {
    let mut bytes = [0u8; 6];
    // Without randomness the id is still a timestamp: unique enough to find the log line.
    if getrandom::fill(&mut bytes).is_err() {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        bytes.copy_from_slice(&now.as_nanos().to_le_bytes()[..6]);
    }
    crate::hex(&bytes)
}
