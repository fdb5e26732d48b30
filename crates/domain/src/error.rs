//! A validation failure that names the request field at fault.

/// Bad input: which field, and what is wrong with it. Services turn it into
/// `INVALID_ARGUMENT` (or `NOT_FOUND` for references to missing things).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The field is required and was empty or unset.
    pub fn missing(field: impl Into<String>) -> Self {
        Self::new(field, "is required")
    }

    /// Prefixes the field path, so a nested validator can report `task.deadline`.
    pub fn within(self, parent: &str) -> Self {
        Self {
            field: format!("{parent}.{}", self.field),
            message: self.message,
        }
    }
}

/// Parses a required UUID field (any case, hyphenated form).
pub fn parse_uuid(field: &str, value: &str) -> Result<uuid::Uuid, FieldError> {
    if value.is_empty() {
        return Err(FieldError::missing(field));
    }
    uuid::Uuid::try_parse(value)
        .map_err(|_| FieldError::new(field, format!("{value:?} is not a UUID")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_fields_are_checked() {
        assert_eq!(
            parse_uuid("task_id", "").unwrap_err(),
            FieldError::missing("task_id")
        );
        assert_eq!(
            parse_uuid("task_id", "not-a-uuid").unwrap_err().field,
            "task_id"
        );
        let parsed = parse_uuid("task_id", "0190A5B2-7C3D-7E4F-8A1B-2C3D4E5F6A7B").unwrap();
        assert_eq!(parsed.to_string(), "0190a5b2-7c3d-7e4f-8a1b-2c3d4e5f6a7b");
    }

    #[test]
    fn nested_fields_get_their_parent() {
        let error = FieldError::missing("deadline").within("task");
        assert_eq!(error.to_string(), "task.deadline: is required");
    }
}
