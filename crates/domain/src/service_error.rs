//! The one shape of an error a service returns: a gRPC code, the request
//! field at fault (when there is one), and a message; and the one conversion
//! of such an error to `tonic::Status`. The status message reads
//! `field: what is wrong`, and the field also travels as a machine-readable
//! `google.rpc.BadRequest` field violation (Google AIP-193), so a client can
//! tell which field failed without parsing text (`tonic_types::StatusExt`).

use tasknet_proto::tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::FieldError;

/// The request field an error names, and what is wrong with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Violation<'a> {
    /// The field path, `task.deadline`.
    pub field: &'a str,
    /// What is wrong with it, without the field: `is before the assigned date`.
    pub description: &'a str,
}

/// An error a service can answer a caller with. Each service's error enum
/// implements it; [`to_status`] turns any of them into a `Status`.
pub trait ServiceError: std::error::Error {
    /// The gRPC code callers get.
    fn code(&self) -> Code;

    /// The request field at fault, when the error is about one.
    fn violation(&self) -> Option<Violation<'_>> {
        None
    }

    /// The message callers get. Errors whose cause is for operators only
    /// (`INTERNAL`) return a fixed sentence; [`ServiceError::log`] records the cause.
    fn public_message(&self) -> String {
        self.to_string()
    }

    /// Records the error for operators as it goes to a caller: by default
    /// internal errors, whole, since callers are told nothing of them.
    fn log(&self) {
        if self.code() == Code::Internal {
            tracing::error!(error = %self, cause = ?self, "internal error");
        }
    }
}

/// The status a caller gets for `error`: its code and public message, plus
/// a `BadRequest` field violation when the error names a field.
pub fn to_status<E: ServiceError + ?Sized>(error: &E) -> Status {
    error.log();
    let code = error.code();
    let message = error.public_message();
    match error.violation() {
        Some(violation) => Status::with_error_details(
            code,
            message,
            ErrorDetails::with_bad_request_violation(violation.field, violation.description),
        ),
        None => Status::new(code, message),
    }
}

/// The field a status names in its `BadRequest` details, if any (for
/// clients and tests; the first violation when there are several).
pub fn violated_field(status: &Status) -> Option<String> {
    status
        .get_details_bad_request()
        .and_then(|bad_request| bad_request.field_violations.into_iter().next())
        .map(|violation| violation.field)
}

impl ServiceError for FieldError {
    fn code(&self) -> Code {
        Code::InvalidArgument
    }

    fn violation(&self) -> Option<Violation<'_>> {
        Some(Violation {
            field: &self.field,
            description: &self.message,
        })
    }
}

impl From<FieldError> for Status {
    fn from(error: FieldError) -> Self {
        to_status(&error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("secret cause")]
    struct Broken;

    impl ServiceError for Broken {
        fn code(&self) -> Code {
            Code::Internal
        }

        fn public_message(&self) -> String {
            "internal error".to_owned()
        }
    }

    #[test]
    fn field_errors_carry_the_field_in_text_and_details() {
        let status = Status::from(FieldError::new("task.deadline", "is in the past"));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "task.deadline: is in the past");
        let details = status.get_details_bad_request().unwrap();
        assert_eq!(details.field_violations.len(), 1);
        assert_eq!(details.field_violations[0].field, "task.deadline");
        assert_eq!(details.field_violations[0].description, "is in the past");
        assert_eq!(violated_field(&status).as_deref(), Some("task.deadline"));
    }

    #[test]
    fn errors_without_a_field_have_no_details() {
        let status = to_status(&Broken);
        assert_eq!(status.code(), Code::Internal);
        assert_eq!(status.message(), "internal error");
        assert!(status.get_details_bad_request().is_none());
        assert_eq!(violated_field(&status), None);
    }
}
