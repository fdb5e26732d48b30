//! The task service's one error type and its one mapping to `tonic::Status`.

use tasknet_domain::FieldError;
use tasknet_proto::{tonic, v1};
use tonic::Status;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input; writes nothing.
    #[error("{0}")]
    Invalid(FieldError),
    /// A reference to something that does not exist.
    #[error("{0}")]
    NotFound(FieldError),
    /// An id already names something else (another task, another request).
    #[error("{0}")]
    AlreadyExists(FieldError),
    /// The caller's credential does not allow this (another unit's task);
    /// the field is what it may not name or touch.
    #[error("{0}")]
    PermissionDenied(FieldError),
    /// A stale `expected_version` or an impossible transition.
    #[error("{0}")]
    FailedPrecondition(FieldError),
    /// A dependency (the organisation service, the writer, the database) is
    /// down or the batch did not commit; retrying is safe.
    #[error("{0}")]
    Unavailable(String),
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// Something that should not happen, such as a stored record that does not decode.
    #[error("{0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid(FieldError::new(field, message))
    }

    pub fn not_found(field: &str, message: impl Into<String>) -> Self {
        Self::NotFound(FieldError::new(field, message))
    }

    pub fn already_exists(field: &str, message: impl Into<String>) -> Self {
        Self::AlreadyExists(FieldError::new(field, message))
    }

    pub fn permission_denied(field: &str, message: impl Into<String>) -> Self {
        Self::PermissionDenied(FieldError::new(field, message))
    }

    pub fn failed_precondition(field: &str, message: impl Into<String>) -> Self {
        Self::FailedPrecondition(FieldError::new(field, message))
    }

    /// The request field at fault, when there is one.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Invalid(error)
            | Self::NotFound(error)
            | Self::AlreadyExists(error)
            | Self::FailedPrecondition(error)
            | Self::PermissionDenied(error) => Some(&error.field),
            Self::Unavailable(_) | Self::Database(_) | Self::Internal(_) => None,
        }
    }
}

impl From<FieldError> for Error {
    fn from(error: FieldError) -> Self {
        Self::Invalid(error)
    }
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        match error {
            Error::Invalid(error) => Status::invalid_argument(error.to_string()),
            Error::NotFound(error) => Status::not_found(error.to_string()),
            Error::AlreadyExists(error) => Status::already_exists(error.to_string()),
            Error::FailedPrecondition(error) => Status::failed_precondition(error.to_string()),
            Error::PermissionDenied(error) => Status::permission_denied(error.to_string()),
            Error::Unavailable(message) => Status::unavailable(message),
            Error::Database(error) => {
                tracing::error!(error = %error, cause = ?error, "database error");
                Status::internal("internal error: the task database failed")
            }
            Error::Internal(message) => {
                tracing::error!(%message, "internal error");
                Status::internal("internal error")
            }
        }
    }
}

impl From<Error> for v1::IngestError {
    /// An ingested item's failure, with the same code and message a unary call would get.
    fn from(error: Error) -> Self {
        let field = error.field().unwrap_or_default().to_owned();
        let status = Status::from(error);
        Self {
            code: status.code() as i32,
            message: status.message().to_owned(),
            field,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    #[test]
    fn invalid_input_names_the_field_first() {
        let status = Status::from(Error::invalid(
            "task.deadline",
            "is before the assigned date",
        ));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(
            status.message(),
            "task.deadline: is before the assigned date"
        );
    }

    #[test]
    fn database_errors_do_not_leak() {
        let status = Status::from(Error::Database(sqlx::Error::RowNotFound));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("row"), "{}", status.message());
    }

    #[test]
    fn ingest_errors_carry_code_and_field() {
        let error = v1::IngestError::from(Error::not_found("task_id", "no such task"));
        assert_eq!(Code::from_i32(error.code), Code::NotFound);
        assert_eq!(error.field, "task_id");
        assert_eq!(error.message, "task_id: no such task");
        let error = v1::IngestError::from(Error::permission_denied("task_id", "not yours"));
        assert_eq!(Code::from_i32(error.code), Code::PermissionDenied);
        assert_eq!(error.field, "task_id");
        assert_eq!(error.message, "task_id: not yours");
    }
}
