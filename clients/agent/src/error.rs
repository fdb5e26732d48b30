//! The agent's one error type. The agent is a client, so nothing maps to a
//! `tonic::Status` here; what the centre answers is data (an acknowledgement
//! or a parked update), and transport failures are retried, not returned.

use std::path::PathBuf;

use tasknet_domain::FieldError;

/// One bad row of an imported file: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line of the file (the header is line 1).
    pub line: u64,
    /// The column at fault, when one is.
    pub column: Option<String>,
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.column {
            Some(column) => write!(f, "line {}, column {column}: {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An update the agent refuses before storing anything.
    #[error("{0}")]
    Invalid(FieldError),
    /// A file with invalid rows; none of its rows were stored.
    #[error("{file}: {} invalid row(s); nothing was imported", rows.len())]
    Import { file: String, rows: Vec<RowError> },
    #[error("{file} was imported before (on {imported_at}); nothing was imported")]
    AlreadyImported { file: String, imported_at: String },
    #[error("the outbox in {data_dir} belongs to unit {stored}, not {configured}")]
    UnitMismatch {
        data_dir: PathBuf,
        stored: String,
        configured: String,
    },
    #[error("another pusher is already running on the outbox in {0}")]
    PusherBusy(PathBuf),
    #[error("no update {0} in the outbox")]
    UnknownUpdate(String),
    #[error("update {update_id} is {state}, not parked")]
    NotParked { update_id: String, state: String },
    #[error("invalid endpoint {endpoint:?}: {message}")]
    Endpoint { endpoint: String, message: String },
    #[error("failed to {action} {path}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to open the outbox at {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: sqlx::Error,
    },
    #[error("failed to migrate the outbox")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("outbox database error")]
    Database(#[from] sqlx::Error),
    /// A stored record that does not decode: the outbox was changed by hand or damaged.
    #[error("corrupt outbox record: {0}")]
    Corrupt(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid(FieldError::new(field, message))
    }
}

impl From<FieldError> for Error {
    fn from(error: FieldError) -> Self {
        Self::Invalid(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_errors_name_line_and_column() {
        let error = RowError {
            line: 7,
            column: Some("deadline".into()),
            message: "2024-02-30 is not a date".into(),
        };
        assert_eq!(
            error.to_string(),
            "line 7, column deadline: 2024-02-30 is not a date"
        );
        let error = RowError {
            column: None,
            ..error
        };
        assert_eq!(error.to_string(), "line 7: 2024-02-30 is not a date");
    }
}
