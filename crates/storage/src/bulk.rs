//! Statements with many bound values, written once for both back ends:
//! [`Sql`] builds text and binds together (`$1, $2, …` for PostgreSQL and,
//! beside it, anonymous `?` for SQLite, see [`crate::placeholders`] for
//! why), and [`BulkInsert`] turns rows into as few multi-row
//! `INSERT … VALUES (…), (…)` statements as the parameter limits allow.
//! sqlx's own `QueryBuilder` writes `?` for the `Any` driver, which
//! PostgreSQL rejects.

use std::fmt::Write;

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection};

use crate::Backend;

/// Bound values per statement at most: well under SQLite's (32766) and
/// PostgreSQL's (65535) limits.
pub const MAX_PARAMS: usize = 8_000;

/// A value to bind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    Int(i64),
    Text(String),
    OptionalInt(Option<i64>),
    OptionalText(Option<String>),
    Bytes(Vec<u8>),
}

/// SQL text with placeholders, built in order, and the values they bind.
#[derive(Debug, Default, Clone)]
pub struct Sql {
    text: String,
    sqlite_text: String,
    args: Vec<Arg>,
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            sqlite_text: text.to_owned(),
            args: Vec::new(),
        }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self.sqlite_text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `arg`.
    pub fn arg(&mut self, arg: Arg) -> &mut Self {
        self.args.push(arg);
        // Writing to a String cannot fail.
        let _ = write!(self.text, "${}", self.args.len());
        self.sqlite_text.push('?');
        self
    }

    /// Appends `(p1, p2, …)` bound to `args`, after a comma unless it is the first row.
    pub fn row(&mut self, first: bool, args: impl IntoIterator<Item = Arg>) -> &mut Self {
        if !first {
            self.push(", ");
        }
        self.list(args)
    }

    /// Appends `(p1, p2, …)` bound to `args`.
    pub fn list(&mut self, args: impl IntoIterator<Item = Arg>) -> &mut Self {
        self.push("(");
        for (i, arg) in args.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.arg(arg);
        }
        self.push(")");
        self
    }

    /// The values bound so far.
    pub fn args(&self) -> &[Arg] {
        &self.args
    }

    /// The text as it runs on `backend`.
    pub fn text(&self, backend: Backend) -> &str {
        match backend {
            Backend::Sqlite => &self.sqlite_text,
            Backend::Postgres => &self.text,
        }
    }

    /// The statement with its values bound, for the back end `connection`
    /// talks to.
    pub fn query(&self, connection: &AnyConnection) -> Query<'_, Any, AnyArguments<'_>> {
        self.query_for(Backend::of(connection))
    }

    /// The statement with its values bound, for `backend`.
    pub fn query_for(&self, backend: Backend) -> Query<'_, Any, AnyArguments<'_>> {
        bind(sqlx::query(self.text(backend)), &self.args)
    }

    /// The statement with `$n` placeholders, which both back ends accept:
    /// for statements with a few values, run on a pool.
    pub fn numbered(&self) -> Query<'_, Any, AnyArguments<'_>> {
        bind(sqlx::query(&self.text), &self.args)
    }
}

/// Binds `args` to `query`, in order.
pub fn bind<'q>(
    query: Query<'q, Any, AnyArguments<'q>>,
    args: &'q [Arg],
) -> Query<'q, Any, AnyArguments<'q>> {
    args.iter().fold(query, |query, arg| match arg {
        Arg::Int(value) => query.bind(*value),
        Arg::Text(value) => query.bind(value.as_str()),
        Arg::OptionalInt(value) => query.bind(*value),
        Arg::OptionalText(value) => query.bind(value.as_deref()),
        Arg::Bytes(value) => query.bind(value.as_slice()),
    })
}

/// `head VALUES (…), (…) tail` over many rows of the same width, cut into
/// statements of at most `rows_per_statement` rows (by default as many as
/// [`MAX_PARAMS`] allows).
#[derive(Debug, Clone)]
pub struct BulkInsert {
    head: String,
    tail: String,
    rows_per_statement: Option<usize>,
}

impl BulkInsert {
    /// `head` is `INSERT INTO table (columns…)`.
    pub fn new(head: &str) -> Self {
        Self {
            head: head.to_owned(),
            tail: String::new(),
            rows_per_statement: None,
        }
    }

    /// What follows the rows: `ON CONFLICT …`, `RETURNING …`.
    pub fn tail(mut self, tail: &str) -> Self {
        tail.clone_into(&mut self.tail);
        self
    }

    /// At most this many rows per statement.
    pub fn rows_per_statement(mut self, rows: usize) -> Self {
        self.rows_per_statement = Some(rows.max(1));
        self
    }

    /// The statements that insert `rows`, each row's values given by `args`.
    pub fn statements<R, A>(&self, rows: &[R], args: impl Fn(&R) -> A) -> Vec<Sql>
    where
        A: IntoIterator<Item = Arg>,
    {
        let mut statements = Vec::new();
        let mut current: Option<(Sql, usize)> = None;
        let mut limit = self.rows_per_statement.unwrap_or(usize::MAX);
        for row in rows {
            let (sql, count) =
                current.get_or_insert_with(|| (Sql::new(&format!("{} VALUES ", self.head)), 0));
            let before = sql.args.len();
            sql.row(*count == 0, args(row));
            *count += 1;
            if self.rows_per_statement.is_none() && *count == 1 {
                let width = (sql.args.len() - before).max(1);
                limit = (MAX_PARAMS / width).max(1);
            }
            if *count >= limit
                && let Some((sql, _)) = current.take()
            {
                statements.push(self.finish(sql));
            }
        }
        if let Some((sql, _)) = current {
            statements.push(self.finish(sql));
        }
        statements
    }

    /// Inserts `rows` on `connection`, in as few statements as allowed.
    pub async fn execute<R, A>(
        &self,
        connection: &mut AnyConnection,
        rows: &[R],
        args: impl Fn(&R) -> A,
    ) -> sqlx::Result<()>
    where
        A: IntoIterator<Item = Arg>,
    {
        for sql in self.statements(rows, args) {
            sql.query(connection).execute(&mut *connection).await?;
        }
        Ok(())
    }

    fn finish(&self, mut sql: Sql) -> Sql {
        if !self.tail.is_empty() {
            sql.push(" ").push(&self.tail);
        }
        sql
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(row: &(i64, &str)) -> [Arg; 2] {
        [Arg::Int(row.0), Arg::Text(row.1.to_owned())]
    }

    #[test]
    fn rows_become_numbered_and_anonymous_placeholders() {
        let rows = [(1, "a"), (2, "b"), (3, "c")];
        let statements = BulkInsert::new("INSERT INTO t (n, s)")
            .tail("ON CONFLICT DO NOTHING")
            .statements(&rows, pair);
        assert_eq!(statements.len(), 1);
        assert_eq!(
            statements[0].text(Backend::Postgres),
            "INSERT INTO t (n, s) VALUES ($1, $2), ($3, $4), ($5, $6) ON CONFLICT DO NOTHING"
        );
        assert_eq!(
            statements[0].text(Backend::Sqlite),
            "INSERT INTO t (n, s) VALUES (?, ?), (?, ?), (?, ?) ON CONFLICT DO NOTHING"
        );
        assert_eq!(statements[0].args()[4], Arg::Int(3));
    }

    #[test]
    fn statements_are_cut_by_rows_or_by_the_parameter_limit() {
        let rows: Vec<(i64, &str)> = (0..5).map(|n| (n, "x")).collect();
        let statements = BulkInsert::new("INSERT INTO t (n, s)")
            .rows_per_statement(2)
            .statements(&rows, pair);
        let sizes: Vec<usize> = statements.iter().map(|s| s.args().len()).collect();
        assert_eq!(sizes, [4, 4, 2]);
        assert!(
            statements[2]
                .text(Backend::Postgres)
                .ends_with("VALUES ($1, $2)")
        );

        let rows: Vec<(i64, &str)> = (0..MAX_PARAMS as i64).map(|n| (n, "x")).collect();
        let statements = BulkInsert::new("INSERT INTO t (n, s)").statements(&rows, pair);
        assert_eq!(statements.len(), 2);
        assert!(statements.iter().all(|s| s.args().len() <= MAX_PARAMS));
        assert!(
            BulkInsert::new("INSERT INTO t (n)")
                .statements(&[] as &[(i64, &str)], pair)
                .is_empty()
        );
    }
}
