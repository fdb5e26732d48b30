//! The service's one error type and its single mapping to `tonic::Status`.

use tasknet_domain::{FieldError, ServiceError, Violation, to_status};
use tasknet_proto::tonic::{Code, Status};

/// Everything that can go wrong in the organisation service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Malformed or missing input, naming the field.
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// A reference (an id, a parent, a region) to something that does not exist.
    #[error("{field}: {message}")]
    NotFound { field: String, message: String },
    /// The id or code is taken by something else.
    #[error("{field}: {message}")]
    AlreadyExists { field: String, message: String },
    /// The request was well-formed but the state does not allow it (stale version).
    #[error("{field}: {message}")]
    FailedPrecondition { field: String, message: String },
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// A stored row that the service could not have written.
    #[error("corrupt stored unit {id}: {problem}")]
    Corrupt { id: String, problem: String },
    /// The built-in reference data does not parse (a bug, caught by tests).
    #[error("built-in reference data: {0}")]
    ReferenceData(String),
}

impl Error {
    pub fn not_found(field: &str, message: impl Into<String>) -> Self {
        Self::NotFound {
            field: field.to_owned(),
            message: message.into(),
        }
    }

    pub fn already_exists(field: &str, message: impl Into<String>) -> Self {
        Self::AlreadyExists {
            field: field.to_owned(),
            message: message.into(),
        }
    }

    pub fn failed_precondition(field: &str, message: impl Into<String>) -> Self {
        Self::FailedPrecondition {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

impl ServiceError for Error {
    fn code(&self) -> Code {
        match self {
            Self::Invalid(_) => Code::InvalidArgument,
            Self::NotFound { .. } => Code::NotFound,
            Self::AlreadyExists { .. } => Code::AlreadyExists,
            Self::FailedPrecondition { .. } => Code::FailedPrecondition,
            Self::Database(_) | Self::Corrupt { .. } | Self::ReferenceData(_) => Code::Internal,
        }
    }

    fn violation(&self) -> Option<Violation<'_>> {
        match self {
            Self::Invalid(error) => error.violation(),
            Self::NotFound { field, message }
            | Self::AlreadyExists { field, message }
            | Self::FailedPrecondition { field, message } => Some(Violation {
                field,
                description: message,
            }),
            Self::Database(_) | Self::Corrupt { .. } | Self::ReferenceData(_) => None,
        }
    }

    fn public_message(&self) -> String {
        match self.code() {
            // The cause is for operators (`to_status` logs it), not callers.
            Code::Internal => "internal error in the organisation service".to_owned(),
            _ => self.to_string(),
        }
    }
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        to_status(&error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_name_the_field_and_internal_errors_say_nothing() {
        let status = Status::from(Error::Invalid(FieldError::missing("unit.code")));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "unit.code: is required");

        let status = Status::from(Error::not_found("unit.parent_id", "no such unit"));
        assert_eq!(status.code(), Code::NotFound);
        assert!(status.message().starts_with("unit.parent_id"));

        let status = Status::from(Error::Database(sqlx::Error::PoolTimedOut));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("pool"));
    }
}
