//! The task service's one error type and its one mapping to `tonic::Status`.

use tasknet_domain::{FieldError, ServiceError, Violation, to_status};
use tasknet_proto::{tonic, v1};
use tonic::{Code, Status};

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
    /// Over a limit of what one caller may hold (change-feed followers).
    #[error("{0}")]
    ResourceExhausted(String),
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
        self.violation().map(|violation| violation.field)
    }
}

impl ServiceError for Error {
    fn code(&self) -> Code {
        match self {
            Self::Invalid(_) => Code::InvalidArgument,
            Self::NotFound(_) => Code::NotFound,
            Self::AlreadyExists(_) => Code::AlreadyExists,
            Self::FailedPrecondition(_) => Code::FailedPrecondition,
            Self::PermissionDenied(_) => Code::PermissionDenied,
            Self::ResourceExhausted(_) => Code::ResourceExhausted,
            Self::Unavailable(_) => Code::Unavailable,
            Self::Database(_) | Self::Internal(_) => Code::Internal,
        }
    }

    fn violation(&self) -> Option<Violation<'_>> {
        match self {
            Self::Invalid(error)
            | Self::NotFound(error)
            | Self::AlreadyExists(error)
            | Self::FailedPrecondition(error)
            | Self::PermissionDenied(error) => error.violation(),
            Self::ResourceExhausted(_)
            | Self::Unavailable(_)
            | Self::Database(_)
            | Self::Internal(_) => None,
        }
    }

    fn public_message(&self) -> String {
        match self {
            Self::Database(_) => "internal error: the task database failed".to_owned(),
            Self::Internal(_) => "internal error".to_owned(),
            _ => self.to_string(),
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
        to_status(&error)
    }
}

impl From<Error> for v1::IngestError {
    /// An ingested item's failure, with the same code and message a unary call would get.
    fn from(error: Error) -> Self {
        let status = to_status(&error);
        Self {
            code: status.code() as i32,
            message: status.message().to_owned(),
            field: error.field().unwrap_or_default().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
