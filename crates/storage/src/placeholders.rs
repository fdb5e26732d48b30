//! Placeholders per back end. Services write `$1, $2, …` once for both back
//! ends; on SQLite, statements whose placeholders are exactly `$1…$n` in
//! order run with anonymous `?` instead, because SQLite resolves each named
//! parameter by a linear search of the statement's parameter list, both when
//! preparing and when sqlx asks each parameter's name to bind it: a multi-row
//! `INSERT` with a thousand `$n` costs about a million string comparisons,
//! with `?` none.

use std::borrow::Cow;

use sqlx::AnyConnection;

use crate::Backend;

impl Backend {
    /// The back end a connection of the `Any` driver talks to.
    pub fn of(connection: &AnyConnection) -> Self {
        if connection.backend_name() == "PostgreSQL" {
            Self::Postgres
        } else {
            Self::Sqlite
        }
    }
}

/// `sql` as it should run on `backend`: unchanged on PostgreSQL, and on
/// SQLite with `?` for `$1…$n` when they appear in that order, each once
/// (anything else, such as `$1` used twice, is left as written).
pub fn for_backend(backend: Backend, sql: &str) -> Cow<'_, str> {
    match backend {
        Backend::Postgres => Cow::Borrowed(sql),
        Backend::Sqlite => anonymous(sql).map_or(Cow::Borrowed(sql), Cow::Owned),
    }
}

/// `sql` with its sequential `$n` placeholders replaced by `?`; `None` when
/// there are none or they are not `$1…$n` in order. Quoted strings and
/// identifiers are copied untouched.
fn anonymous(sql: &str) -> Option<String> {
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut expected = 1usize;
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'\'' | b'"') => {
                // Doubled quotes inside are escapes: skipping to the next
                // quote and going on from there handles them too.
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    i += 1;
                }
                i += 1;
            }
            b'$' if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                let start = i + 1;
                let mut end = start;
                while end < bytes.len() && bytes[end].is_ascii_digit() {
                    end += 1;
                }
                let number: usize = sql[start..end].parse().ok()?;
                if number != expected {
                    return None;
                }
                expected += 1;
                out.push_str(&sql[copied..i]);
                out.push('?');
                copied = end;
                i = end;
            }
            _ => i += 1,
        }
    }
    if expected == 1 {
        return None;
    }
    out.push_str(&sql[copied.min(sql.len())..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_placeholders_become_anonymous_on_sqlite() {
        let sql = "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4) RETURNING id";
        assert_eq!(
            for_backend(Backend::Sqlite, sql),
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?) RETURNING id"
        );
        assert_eq!(for_backend(Backend::Postgres, sql), sql);
    }

    #[test]
    fn repeated_or_unordered_placeholders_are_left_alone() {
        for sql in [
            "SELECT 1 WHERE a <= $1 AND b > $1",
            "SELECT 1 WHERE a = $2 AND b = $1",
            "SELECT 1",
        ] {
            assert!(matches!(for_backend(Backend::Sqlite, sql), Cow::Borrowed(s) if s == sql));
        }
    }

    #[test]
    fn quoted_dollars_are_not_placeholders() {
        let sql = "SELECT '$1', \"$2\" FROM t WHERE a = $1 AND b = 'it''s $9'";
        assert_eq!(
            for_backend(Backend::Sqlite, sql),
            "SELECT '$1', \"$2\" FROM t WHERE a = ? AND b = 'it''s $9'"
        );
    }
}
