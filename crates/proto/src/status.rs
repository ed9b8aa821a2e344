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

/// Maps a domain error to the status a client sees. Internal errors and the detail of
/// unavailable ones (SQL, driver messages, endpoints) never reach the caller: they are logged
/// with an error id that the caller's message carries.
pub fn status_from_error(err: Error) -> Status {
    let code = code_of(&err);
    match err {
        Error::Internal(detail) => {
            let id = bindery_core::error_id();
            tracing::error!(error_id = %id, %detail, "internal error");
            Status::internal(format!("internal error (error id {id}); the registry logged the details"))
        }
        Error::Unavailable(m) => {
            let (public, detail) = bindery_core::split_detail(&m);
            let id = bindery_core::error_id();
            tracing::warn!(error_id = %id, message = public, detail = detail.unwrap_or(""), "unavailable");
            Status::unavailable(format!("{public} (error id {id})"))
        }
        Error::InvalidArgument(m)
        | Error::NotFound(m)
        | Error::AlreadyExists(m)
        | Error::FailedPrecondition(m)
        | Error::Aborted(m)
        | Error::Unauthenticated(m)
        | Error::PermissionDenied(m) => Status::new(code, m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_detail_stays_in_the_log() {
        let internal = status_from_error(Error::Internal("relation \"versions\" does not exist".into()));
        assert_eq!(internal.code(), Code::Internal);
        assert!(!internal.message().contains("versions") && internal.message().contains("error id"));
        let down =
            status_from_error(Error::unavailable("the registry database is unavailable", "db.internal:5432"));
        assert!(
            down.message().starts_with("the registry database is unavailable (error id "),
            "{}",
            down.message()
        );
        assert!(!down.message().contains("db.internal"));
        let plain = status_from_error(Error::NotFound("model 'm' not found".into()));
        assert_eq!(plain.message(), "model 'm' not found");
        assert_eq!(
            Error::unavailable("down", "why").to_string(),
            "down (why)",
            "logs and status pages still read the detail"
        );
    }
}
