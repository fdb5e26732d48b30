//! The notification service's one error type and its single mapping to `tonic::Status`.

use tasknet_domain::{FieldError, ServiceError, Violation, to_status};
use tasknet_proto::tonic::{Code, Status};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input, naming the field at fault.
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// A reference to something the outbox does not have.
    #[error("{field}: {message}")]
    NotFound { field: String, message: String },
    /// The request is valid but the thing is not in a state that allows it.
    #[error("{field}: {message}")]
    FailedPrecondition { field: String, message: String },
    /// Reporting or the organisation service could not be asked.
    #[error("{0}")]
    Upstream(String),
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

impl Error {
    pub fn not_found(field: &str, message: impl Into<String>) -> Self {
        Self::NotFound {
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
            Self::FailedPrecondition { .. } => Code::FailedPrecondition,
            Self::Upstream(_) => Code::Unavailable,
            Self::Database(_) => Code::Internal,
        }
    }

    fn violation(&self) -> Option<Violation<'_>> {
        match self {
            Self::Invalid(error) => error.violation(),
            Self::NotFound { field, message } | Self::FailedPrecondition { field, message } => {
                Some(Violation {
                    field,
                    description: message,
                })
            }
            Self::Upstream(_) | Self::Database(_) => None,
        }
    }

    fn public_message(&self) -> String {
        match self {
            Self::Database(_) => "internal error reading the notification outbox".to_owned(),
            _ => self.to_string(),
        }
    }

    fn log(&self) {
        match self {
            Self::Database(cause) => tracing::error!(error = %cause, "notification database error"),
            Self::Upstream(cause) => {
                tracing::warn!(error = %cause, "a service judging needs is unavailable")
            }
            _ => {}
        }
    }
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        to_status(&error)
    }
}
