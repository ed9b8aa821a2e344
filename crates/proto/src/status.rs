//! The one table from domain error kinds to gRPC status codes.

use bindery_core::Error;
use tonic::{Code, Status};

/// Maps a domain error to the status a client sees. Internal details are logged here and replaced
/// by a generic message, so SQL or stack details never leak to callers.
pub fn status_from_error(err: Error) -> Status {
    let (code, message) = match err {
        Error::InvalidArgument(m) => (Code::InvalidArgument, m),
        Error::NotFound(m) => (Code::NotFound, m),
        Error::AlreadyExists(m) => (Code::AlreadyExists, m),
        Error::FailedPrecondition(m) => (Code::FailedPrecondition, m),
        Error::Aborted(m) => (Code::Aborted, m),
        Error::Unavailable(m) => (Code::Unavailable, m),
        Error::Internal(m) => {
            return Status::internal(format!("internal error ({m}); the registry logged details"));
        }
    };
    Status::new(code, message)
}
