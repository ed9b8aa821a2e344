//! The one table from domain error kinds to gRPC status codes.

use bindery_core::Error;
use tonic::{Code, Status};

/// The gRPC code for a domain error kind.
pub fn code_of(err: &Error) -> Code {
    match err {
        Error::InvalidArgument(_) => Code::InvalidArgument,
        Error::NotFound(_) => Code::NotFound,
        Error::AlreadyExists(_) => Code::AlreadyExists,
        Error::FailedPrecondition(_) => Code::FailedPrecondition,
        Error::Aborted(_) => Code::Aborted,
        Error::Unauthenticated(_) => Code::Unauthenticated,
        Error::PermissionDenied(_) => Code::PermissionDenied,
        Error::Unavailable(_) => Code::Unavailable,
        Error::Internal(_) => Code::Internal,
    }
}

/// Maps a domain error to the status a client sees. Internal details are logged where they
/// happen and replaced by a generic message, so SQL or stack details never leak to callers.
pub fn status_from_error(err: Error) -> Status {
    let code = code_of(&err);
    match err {
        Error::Internal(m) => Status::internal(format!("internal error ({m}); the registry logged details")),
        Error::InvalidArgument(m)
        | Error::NotFound(m)
        | Error::AlreadyExists(m)
        | Error::FailedPrecondition(m)
        | Error::Aborted(m)
        | Error::Unauthenticated(m)
        | Error::PermissionDenied(m)
        | Error::Unavailable(m) => Status::new(code, m),
    }
}
