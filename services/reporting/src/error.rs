//! The reporting service's one error type and its single mapping to `tonic::Status`.

use tasknet_domain::{FieldError, ServiceError, Violation, to_status};
use tasknet_proto::tonic::{Code, Status};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input, naming the field at fault.
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// A reference to something the read model does not have.
    #[error("{field}: {message}")]
    NotFound { field: String, message: String },
    /// The caller's credential does not cover what it asked for.
    #[error("{0}")]
    PermissionDenied(String),
    /// `min_cursor` was not reached within the call's deadline.
    #[error(
        "min_cursor: the read model has applied the change log up to {applied}, \
         not yet {min_cursor}; retry later"
    )]
    NotCaughtUp { min_cursor: i64, applied: i64 },
    /// The organisation service could not be asked about units.
    #[error("the unit directory is unavailable")]
    Directory(#[source] tasknet_directory::DirectoryError),
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// The figures could not be rendered (a bug, not bad input).
    #[error("rendering failed: {0}")]
    Render(String),
}

impl Error {
    pub fn not_found(field: &str, message: impl Into<String>) -> Self {
        Self::NotFound {
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
            Self::PermissionDenied(_) => Code::PermissionDenied,
            Self::NotCaughtUp { .. } => Code::DeadlineExceeded,
            Self::Directory(_) => Code::Unavailable,
            Self::Database(_) | Self::Render(_) => Code::Internal,
        }
    }

    fn violation(&self) -> Option<Violation<'_>> {
        match self {
            Self::Invalid(error) => error.violation(),
            Self::NotFound { field, message } => Some(Violation {
                field,
                description: message,
            }),
            Self::PermissionDenied(_)
            | Self::NotCaughtUp { .. }
            | Self::Directory(_)
            | Self::Database(_)
            | Self::Render(_) => None,
        }
    }

    fn public_message(&self) -> String {
        match self {
            // The causes are for operators (`to_status` logs them), not callers.
            Self::Database(_) => "internal error reading the reporting database".to_owned(),
            Self::Render(_) => "internal error rendering the report".to_owned(),
            _ => self.to_string(),
        }
    }

    fn log(&self) {
        match self {
            Self::Database(cause) => tracing::error!(error = %cause, "reporting database error"),
            Self::Render(cause) => tracing::error!(error = %cause, "report rendering failed"),
            Self::Directory(cause) => tracing::warn!(error = %cause, "unit directory unavailable"),
            _ => {}
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
    fn codes_and_messages() {
        let status = Status::from(Error::from(FieldError::missing("as_of")));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(
            status.message().starts_with("as_of:"),
            "{}",
            status.message()
        );

        let status = Status::from(Error::not_found("plan_id", "no such plan"));
        assert_eq!(status.code(), Code::NotFound);
        assert!(status.message().starts_with("plan_id:"));

        let status = Status::from(Error::NotCaughtUp {
            min_cursor: 9,
            applied: 3,
        });
        assert_eq!(status.code(), Code::DeadlineExceeded);
        assert!(status.message().starts_with("min_cursor:"));

        let status = Status::from(Error::Database(sqlx::Error::RowNotFound));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("RowNotFound"));
    }
}
