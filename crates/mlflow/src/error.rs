//! MLflow's error answers: `{"error_code": ..., "message": ...}` with the HTTP status MLflow's
//! own server uses for that code (mlflow/exceptions.py). One table, from gRPC codes.

use tonic::{Code, Status};

/// An error as MLflow clients expect it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: &'static str,
    pub http: u16,
    pub message: String,
}

impl ApiError {
    pub fn invalid(message: impl Into<String>) -> Self {
        Self { code: "INVALID_PARAMETER_VALUE", http: 400, message: message.into() }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self { code: "RESOURCE_DOES_NOT_EXIST", http: 404, message: message.into() }
    }

    pub fn endpoint_not_found(method: &str, path: &str) -> Self {
        Self {
            code: "ENDPOINT_NOT_FOUND",
            http: 404,
            message: format!(
                "{method} {path} is not an endpoint of Bindery's MLflow facade (README \"MLflow compatibility\")"
            ),
        }
    }

    pub fn not_implemented(message: impl Into<String>) -> Self {
        Self { code: "NOT_IMPLEMENTED", http: 501, message: message.into() }
    }

    pub fn too_large(message: impl Into<String>) -> Self {
        Self { code: "RESOURCE_EXHAUSTED", http: 413, message: message.into() }
    }

    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({ "error_code": self.code, "message": self.message })
    }
}

/// The MLflow error code and HTTP status for a gRPC code. FAILED_PRECONDITION is MLflow's
/// BAD_REQUEST (400), not INVALID_STATE: MLflow answers that with 500, which its client retries,
/// and a refused promotion is not worth retrying.
pub fn mlflow_code(code: Code) -> (&'static str, u16) {
    match code {
        Code::NotFound => ("RESOURCE_DOES_NOT_EXIST", 404),
        Code::AlreadyExists => ("RESOURCE_ALREADY_EXISTS", 400),
        Code::InvalidArgument | Code::OutOfRange => ("INVALID_PARAMETER_VALUE", 400),
        Code::FailedPrecondition => ("BAD_REQUEST", 400),
        Code::Aborted => ("ABORTED", 409),
        Code::PermissionDenied => ("PERMISSION_DENIED", 403),
        Code::Unauthenticated => ("UNAUTHENTICATED", 401),
        Code::ResourceExhausted => ("RESOURCE_EXHAUSTED", 429),
        Code::Unavailable => ("TEMPORARILY_UNAVAILABLE", 503),
        Code::DeadlineExceeded => ("DEADLINE_EXCEEDED", 504),
        Code::Cancelled => ("CANCELLED", 499),
        Code::Unimplemented => ("NOT_IMPLEMENTED", 501),
        Code::DataLoss => ("DATA_LOSS", 500),
        Code::Ok | Code::Unknown | Code::Internal => ("INTERNAL_ERROR", 500),
    }
}

impl From<Status> for ApiError {
    fn from(status: Status) -> Self {
        let (code, http) = mlflow_code(status.code());
        Self { code, http, message: status.message().to_owned() }
    }
}

impl From<bindery_core::Error> for ApiError {
    fn from(e: bindery_core::Error) -> Self {
        bindery_proto::status_from_error(e).into()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_mlflow_and_nothing_a_user_can_fix_is_a_5xx() {
        assert_eq!(mlflow_code(Code::NotFound), ("RESOURCE_DOES_NOT_EXIST", 404));
        assert_eq!(mlflow_code(Code::AlreadyExists), ("RESOURCE_ALREADY_EXISTS", 400));
        assert_eq!(mlflow_code(Code::PermissionDenied), ("PERMISSION_DENIED", 403));
        assert_eq!(mlflow_code(Code::Unauthenticated), ("UNAUTHENTICATED", 401));
        for code in [Code::InvalidArgument, Code::FailedPrecondition, Code::AlreadyExists, Code::Aborted] {
            assert!(mlflow_code(code).1 < 500, "{code:?}");
        }
        let e = ApiError::from(Status::not_found("model 'x' not found"));
        assert_eq!(e.body()["error_code"], "RESOURCE_DOES_NOT_EXIST");
    }
}
