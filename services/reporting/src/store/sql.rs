//! Statements with many bound values for the read model: multi-row
//! `INSERT`s through `tasknet_storage::bulk`, and `IN (…)` lists after
//! fixed `$n` values (rewritten to `?` on SQLite by
//! `tasknet_storage::placeholders` when they allow it).

use std::fmt::Write;

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection};
use tasknet_storage::Backend;
use tasknet_storage::bulk::{BulkInsert, MAX_PARAMS, bind};
use tasknet_storage::placeholders::for_backend;

/// A value to bind.
pub use tasknet_storage::bulk::Arg as Param;

/// `$first, $first+1, …` for `count` values.
fn placeholders(sql: &mut String, first: usize, count: usize) {
    for i in 0..count {
        if i > 0 {
            sql.push_str(", ");
        }
        // Writing to a String cannot fail.
        let _ = write!(sql, "${}", first + i);
    }
}

/// Runs `head VALUES (…), (…) tail` over `rows`, each of the same width, in
/// as few statements as the parameter limit allows.
pub async fn insert_rows(
    connection: &mut AnyConnection,
    head: &str,
    tail: &str,
    rows: &[Vec<Param>],
) -> Result<(), sqlx::Error> {
    BulkInsert::new(head)
        .tail(tail)
        .execute(connection, rows, Vec::clone)
        .await
}

/// Splits `ids` into statements `before IN ($n, …) after` for `backend`,
/// each returned with its parameters: `fixed` first (as `$1…`, usable in
/// `before` and `after`), then the ids of the list.
pub fn in_list_statements(
    backend: Backend,
    before: &str,
    after: &str,
    fixed: &[Param],
    ids: &[String],
) -> Vec<(String, Vec<Param>)> {
    ids.chunks(MAX_PARAMS)
        .map(|chunk| {
            let mut sql = format!("{before} IN (");
            placeholders(&mut sql, fixed.len() + 1, chunk.len());
            sql.push_str(") ");
            sql.push_str(after);
            let sql = for_backend(backend, &sql).into_owned();
            let mut params = fixed.to_vec();
            params.extend(chunk.iter().cloned().map(Param::Text));
            (sql, params)
        })
        .collect()
}

/// Binds `params` to `sql`.
pub fn query_with<'q>(sql: &'q str, params: &'q [Param]) -> Query<'q, Any, AnyArguments<'q>> {
    bind(sqlx::query(sql), params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_lists_are_numbered() {
        let ids: Vec<String> = ["a", "b"].iter().map(|s| (*s).to_owned()).collect();
        let statements =
            in_list_statements(Backend::Postgres, "DELETE FROM t WHERE id", "", &[], &ids);
        assert_eq!(statements.len(), 1);
        assert_eq!(statements[0].0.trim(), "DELETE FROM t WHERE id IN ($1, $2)");
        assert_eq!(statements[0].1.len(), 2);
        let statements =
            in_list_statements(Backend::Sqlite, "DELETE FROM t WHERE id", "", &[], &ids);
        assert_eq!(statements[0].0.trim(), "DELETE FROM t WHERE id IN (?, ?)");
        // Fixed values come first, numbered before the list's.
        let fixed = [Param::Int(7)];
        let before = "SELECT 1 WHERE x = $1 AND id";
        let statements = in_list_statements(Backend::Postgres, before, "", &fixed, &ids);
        assert!(
            statements[0].0.contains("IN ($2, $3)"),
            "{}",
            statements[0].0
        );
        assert_eq!(statements[0].1.len(), 3);
        let statements = in_list_statements(Backend::Sqlite, before, "", &fixed, &ids);
        assert_eq!(
            statements[0].0.trim(),
            "SELECT 1 WHERE x = ? AND id IN (?, ?)"
        );
        // A fixed value used twice keeps SQLite on numbered placeholders.
        let before = "SELECT 1 WHERE x = $1 AND y < $1 AND id";
        let statements = in_list_statements(Backend::Sqlite, before, "", &fixed, &ids);
        assert!(statements[0].0.contains("IN ($2, $3)"));
    }
}
