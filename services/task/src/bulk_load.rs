//! Writing the task service's own rows straight into its PostgreSQL tables
//! (the `bulk-load` feature, for the ingest benchmark's ceiling): for each
//! update, the change-log row, the task row, the applied-update record and
//! the audit record the service writes, with `COPY`, one transaction per
//! batch, committed durably. No reads, no validation, no gRPC. The tables
//! stay this crate's: a tool hands over ingest requests, never rows.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use anyhow::Context;
use chrono::Utc;
use sqlx::{Connection, Executor, PgConnection};
use tasknet_proto::prost::Message;
use tasknet_proto::v1;
use tasknet_proto::v1::ingest_request::Mutation;
use tasknet_storage::{Database, DatabaseOptions};

use crate::store::MIGRATIONS;

/// The update id a request carries.
fn update_id(request: &v1::IngestRequest) -> &str {
    match &request.mutation {
        Some(Mutation::Create(create)) => &create.update_id,
        Some(Mutation::Update(update)) => &update.update_id,
        None => "",
    }
}

/// The task row as the service keeps it.
#[derive(Debug, Clone)]
struct TaskRow {
    id: String,
    title: String,
    assigning: String,
    assignee: String,
    assigned: i64,
    deadline: i64,
    status: i64,
    completed_on: Option<i64>,
    last_note: String,
    version: i64,
    created_us: i64,
    updated_us: i64,
}

/// Text for a `COPY … FROM STDIN` (text format) field.
fn field(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

/// One COPY line from fields already escaped or numeric.
fn line(out: &mut String, fields: &[&str]) {
    for (i, value) in fields.iter().enumerate() {
        if i > 0 {
            out.push('\t');
        }
        field(out, value);
    }
    out.push('\n');
}

/// A bytea field in COPY text format (`\x` hex, its backslash escaped).
fn bytea(bytes: &[u8]) -> String {
    format!("\\x{}", hex::encode(bytes))
}

/// The rows of one batch, as COPY text per table.
#[derive(Default)]
struct Batch {
    changes: String,
    applied: String,
    audit: String,
    touched: Vec<String>,
}

/// The state of the replay: tasks so far and the next cursor.
struct Replay {
    tasks: HashMap<String, TaskRow>,
    cursor: i64,
}

impl Replay {
    /// Adds `request`'s rows to `batch`.
    fn add(&mut self, batch: &mut Batch, request: &v1::IngestRequest) -> anyhow::Result<()> {
        let now = Utc::now().timestamp_micros();
        let task_id = match &request.mutation {
            Some(Mutation::Create(create)) => {
                let task = create.task.as_ref().context("create without task")?;
                let date = |d: Option<&v1::Date>| {
                    d.map_or(0, |d| i64::from(d.year * 10000 + d.month * 100 + d.day))
                };
                let row = TaskRow {
                    id: create.task_id.clone(),
                    title: task.title.clone(),
                    assigning: task.assigning_unit_id.clone(),
                    assignee: task.assignee_unit_id.clone(),
                    assigned: date(task.assigned_date.as_ref()),
                    deadline: date(task.deadline.as_ref()),
                    status: 1,
                    completed_on: None,
                    last_note: String::new(),
                    version: 1,
                    created_us: now,
                    updated_us: now,
                };
                self.tasks.insert(row.id.clone(), row);
                create.task_id.clone()
            }
            Some(Mutation::Update(update)) => {
                let row = self
                    .tasks
                    .get_mut(&update.task_id)
                    .context("update of an unknown task")?;
                match &update.change {
                    Some(v1::update_task_request::Change::Complete(done)) => {
                        row.status = 2;
                        row.completed_on = Some(row.assigned + 7);
                        row.last_note = done.note.clone();
                    }
                    Some(v1::update_task_request::Change::Note(note)) => {
                        row.last_note = note.note.clone();
                    }
                    _ => {}
                }
                row.version += 1;
                row.updated_us = now;
                update.task_id.clone()
            }
            None => anyhow::bail!("empty request"),
        };
        let row = self.tasks.get(&task_id).context("task vanished")?;
        self.cursor += 1;
        let (cursor, version) = (self.cursor.to_string(), row.version.to_string());
        let id = update_id(request);
        let now = now.to_string();
        // The change payload is the encoded request: about the size of the
        // encoded Change the service stores.
        let payload = bytea(&request.encode_to_vec());
        line(&mut batch.changes, &[&cursor, &task_id, id, &now, &payload]);
        // A SHA-256 digest is 64 hex digits, as is this stand-in.
        let digest = id.replace('-', "").repeat(2);
        line(
            &mut batch.applied,
            &[id, &task_id, &digest, &version, &cursor],
        );
        let after = format!(
            "{{\"id\":\"{}\",\"status\":{},\"version\":{},\"last_note\":{:?}}}",
            row.id, row.status, row.version, row.last_note
        );
        line(
            &mut batch.audit,
            &[
                &now,
                "/tasknet.v1.TaskService/Ingest",
                "1",
                "credential",
                &row.assignee,
                "1",
                "127.0.0.1:1",
                &format!("task/{task_id}"),
                &row.assignee,
                "",
                &after,
                "",
                "0",
            ],
        );
        batch.touched.push(task_id);
        Ok(())
    }

    /// The touched tasks' rows, each once, as COPY text.
    fn task_rows(&self, touched: &[String]) -> String {
        let mut seen = HashSet::new();
        let mut out = String::new();
        for id in touched {
            if !seen.insert(id.as_str()) {
                continue;
            }
            let Some(row) = self.tasks.get(id) else {
                continue;
            };
            let numbers = [
                row.assigned,
                row.deadline,
                row.status,
                row.version,
                row.created_us,
                row.updated_us,
            ]
            .map(|n| n.to_string());
            let completed = row
                .completed_on
                .map_or_else(|| "\\N".to_owned(), |d| d.to_string());
            let mut text = String::new();
            field(&mut text, &row.title);
            let title = text;
            let mut note = String::new();
            field(&mut note, &row.last_note);
            let _ = writeln!(
                out,
                "{}\t{title}\t{}\t{}\t{}\t{}\t{}\t{completed}\t{note}\t{}\t{}\t{}",
                row.id,
                row.assigning,
                row.assignee,
                numbers[0],
                numbers[1],
                numbers[2],
                numbers[3],
                numbers[4],
                numbers[5]
            );
        }
        out
    }
}

/// Writes the rows of ingest requests into a task-service database, a
/// batch per transaction.
pub struct BulkWriter {
    connection: PgConnection,
    replay: Replay,
    batch: Batch,
}

impl BulkWriter {
    /// Creates the task service's schema (`task`) in the empty database at
    /// `database_url` and connects to it.
    pub async fn open(database_url: &str) -> anyhow::Result<Self> {
        let options = DatabaseOptions {
            schema: Some("task".to_owned()),
            ..DatabaseOptions::default()
        };
        let schema = Database::open(database_url, &options, &MIGRATIONS).await?;
        schema.close().await;
        let mut connection = PgConnection::connect(database_url).await?;
        connection.execute("SET search_path TO task").await?;
        connection
            .execute("CREATE TEMP TABLE tasks_stage (LIKE task.tasks) ON COMMIT DELETE ROWS")
            .await?;
        Ok(Self {
            connection,
            replay: Replay {
                tasks: HashMap::new(),
                cursor: 0,
            },
            batch: Batch::default(),
        })
    }

    /// Adds `request`'s rows to the batch in progress.
    pub fn add(&mut self, request: &v1::IngestRequest) -> anyhow::Result<()> {
        self.replay.add(&mut self.batch, request)
    }

    /// Writes the batch in progress in one durable transaction.
    pub async fn commit(&mut self) -> anyhow::Result<()> {
        let batch = std::mem::take(&mut self.batch);
        let tasks = self.replay.task_rows(&batch.touched);
        commit(&mut self.connection, &batch, &tasks).await
    }

    pub async fn close(self) {
        let _ = self.connection.close().await;
    }
}

/// One transaction: COPY each table's rows, upsert the tasks, commit.
async fn commit(connection: &mut PgConnection, batch: &Batch, tasks: &str) -> anyhow::Result<()> {
    let mut transaction = connection.begin().await?;
    let copies = [
        (
            "COPY change_log (cursor, task_id, update_id, record_time_us, payload) FROM STDIN",
            batch.changes.as_str(),
        ),
        (
            "COPY applied_updates (update_id, task_id, request_digest, version, cursor) FROM STDIN",
            batch.applied.as_str(),
        ),
        ("COPY tasks_stage FROM STDIN", tasks),
        (
            "COPY audit_log (time_us, rpc, outcome, credential_id, unit_id, role, peer, target, \
             subject_unit_id, before_json, after_json, message, suppressed) FROM STDIN",
            batch.audit.as_str(),
        ),
    ];
    for (statement, rows) in copies {
        let mut copy = transaction.copy_in_raw(statement).await?;
        copy.send(rows.as_bytes()).await?;
        copy.finish().await?;
    }
    transaction
        .execute(
            "INSERT INTO tasks SELECT * FROM tasks_stage ON CONFLICT (id) DO UPDATE SET \
             status = excluded.status, completed_on = excluded.completed_on, \
             last_note = excluded.last_note, version = excluded.version, \
             update_time_us = excluded.update_time_us",
        )
        .await?;
    transaction.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_separators() {
        let mut out = String::new();
        line(&mut out, &["a\tb", "c\\d", "e\nf"]);
        assert_eq!(out, "a\\tb\tc\\\\d\te\\nf\n");
        assert_eq!(bytea(&[0, 255]), "\\x00ff");
    }
}
