//! `tasknet agent import FILE.csv`: one row per update, in the office's
//! order (format in docs/agent.md). Every row is checked first; any bad row
//! is reported with its line and column and nothing is stored. A good file
//! is stored in one transaction, so it is never half imported.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use sha2::{Digest, Sha256};
use tasknet_domain::FieldError;
use uuid::Uuid;

use crate::error::{Error, Result, RowError};
use crate::outbox::{ImportRecord, Outbox};
use crate::update::{self, Change, NewTask, Prepared, TaskName, Update, UpdateKind};

/// The columns a file may have, in the documented order. Only `action` is
/// required; a missing column reads as empty.
pub const COLUMNS: [&str; 10] = [
    "action",
    "task",
    "effective",
    "title",
    "assigned_by",
    "assignee",
    "assigned_date",
    "deadline",
    "plans",
    "text",
];

/// The columns each action reads besides `action`; others must be empty.
fn used_columns(kind: UpdateKind) -> &'static [&'static str] {
    match kind {
        UpdateKind::Create => &[
            "task",
            "effective",
            "title",
            "assigned_by",
            "assignee",
            "assigned_date",
            "deadline",
            "plans",
        ],
        UpdateKind::Note | UpdateKind::Complete | UpdateKind::Reopen => {
            &["task", "effective", "text"]
        }
        UpdateKind::Deadline => &["task", "effective", "deadline", "text"],
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Import a file even if the same content was imported before.
    pub allow_repeat: bool,
}

/// What an import stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub file: String,
    pub rows: usize,
    pub tasks_created: usize,
    /// The update ids, in the file's order.
    pub update_ids: Vec<Uuid>,
}

/// One data row: its line and its values by column (empty when absent).
struct Row {
    line: u64,
    values: HashMap<&'static str, String>,
}

impl Row {
    fn get(&self, column: &str) -> &str {
        self.values.get(column).map_or("", String::as_str)
    }
}

pub(crate) async fn import(
    outbox: &Outbox,
    unit_id: Uuid,
    name: &str,
    bytes: &[u8],
    options: ImportOptions,
) -> Result<ImportReport> {
    let digest = hex_digest(bytes);
    if !options.allow_repeat
        && let Some(at) = outbox.imported_at(&digest).await?
    {
        return Err(Error::AlreadyImported {
            file: name.to_owned(),
            imported_at: at.to_rfc3339(),
        });
    }
    let invalid = |rows| Error::Import {
        file: name.to_owned(),
        rows,
    };
    let (rows, mut errors) = read(bytes).map_err(invalid)?;
    let known = outbox.references(&named_references(&rows)).await?;
    let mut checker = Checker::new(unit_id, Utc::now(), known);
    let prepared = match checker.check_all(&rows) {
        Ok(prepared) if errors.is_empty() => prepared,
        Ok(_) => return Err(invalid(errors)),
        Err(row_errors) => {
            errors.extend(row_errors);
            errors.sort_by_key(|error| error.line);
            return Err(invalid(errors));
        }
    };
    let record = ImportRecord {
        digest: &digest,
        file_name: name,
    };
    outbox
        .insert(&prepared, &format!("import:{name}"), Some(record))
        .await?;
    Ok(ImportReport {
        file: name.to_owned(),
        rows: prepared.len(),
        tasks_created: prepared
            .iter()
            .filter(|p| p.kind == UpdateKind::Create)
            .count(),
        update_ids: prepared.iter().map(|p| p.update_id).collect(),
    })
}

fn hex_digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Parses the file into rows and the errors of lines that are not rows
/// (so that the good rows can still be checked and reported on); a file
/// without a usable header or without rows is an error as a whole.
fn read(bytes: &[u8]) -> Result<(Vec<Row>, Vec<RowError>), Vec<RowError>> {
    // Spreadsheet programs often start UTF-8 files with a byte-order mark.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let header = reader
        .headers()
        .map_err(|e| vec![csv_error(&e, 1)])?
        .clone();
    let columns = header_columns(&header)?;
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for record in reader.records() {
        match record {
            Ok(record) => {
                let line = record.position().map_or(0, csv::Position::line);
                let values = columns
                    .iter()
                    .copied()
                    .zip(record.iter().map(str::to_owned))
                    .collect();
                rows.push(Row { line, values });
            }
            Err(error) => errors.push(csv_error(&error, 0)),
        }
    }
    if rows.is_empty() && errors.is_empty() {
        return Err(vec![RowError {
            line: 1,
            column: None,
            message: "the file has a header but no rows".to_owned(),
        }]);
    }
    Ok((rows, errors))
}

/// The known column of each header cell, in order.
fn header_columns(header: &csv::StringRecord) -> Result<Vec<&'static str>, Vec<RowError>> {
    let mut columns = Vec::new();
    let mut errors = Vec::new();
    let error = |column: &str, message: String| RowError {
        line: 1,
        column: Some(column.to_owned()),
        message,
    };
    for name in header {
        let lower = name.to_ascii_lowercase();
        match COLUMNS.iter().find(|known| **known == lower) {
            Some(known) if columns.contains(known) => {
                errors.push(error(name, "appears twice in the header".into()))
            }
            Some(known) => columns.push(*known),
            None => errors.push(error(
                name,
                format!(
                    "is not a column of the format (columns: {})",
                    COLUMNS.join(", ")
                ),
            )),
        }
    }
    if !columns.contains(&"action") && errors.is_empty() {
        errors.push(RowError {
            line: 1,
            column: None,
            message: "the header has no action column".to_owned(),
        });
    }
    if errors.is_empty() {
        Ok(columns)
    } else {
        Err(errors)
    }
}

fn csv_error(error: &csv::Error, default_line: u64) -> RowError {
    let line = error.position().map_or(default_line, csv::Position::line);
    let message = match error.kind() {
        csv::ErrorKind::Utf8 { .. } => "is not valid UTF-8 (save the file as UTF-8)".to_owned(),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("has {len} fields where the header has {expected_len}"),
        _ => error.to_string(),
    };
    RowError {
        line,
        column: None,
        message,
    }
}

/// References the file's update rows name (to look up the known ones at once).
fn named_references(rows: &[Row]) -> Vec<String> {
    let mut references: Vec<String> = rows
        .iter()
        .filter_map(|row| match TaskName::parse(row.get("task")) {
            Ok(TaskName::Reference(reference)) => Some(reference),
            _ => None,
        })
        .collect();
    references.sort();
    references.dedup();
    references
}

/// Checks rows in order, remembering the tasks the file creates.
struct Checker {
    unit_id: Uuid,
    now: DateTime<Utc>,
    /// References the outbox knew before this file.
    known: HashMap<String, Uuid>,
    /// References the file has created so far.
    created: HashMap<String, Uuid>,
    created_ids: HashSet<Uuid>,
}

impl Checker {
    fn new(unit_id: Uuid, now: DateTime<Utc>, known: HashMap<String, Uuid>) -> Self {
        Self {
            unit_id,
            now,
            known,
            created: HashMap::new(),
            created_ids: HashSet::new(),
        }
    }

    fn check_all(&mut self, rows: &[Row]) -> Result<Vec<Prepared>, Vec<RowError>> {
        let mut prepared = Vec::with_capacity(rows.len());
        let mut errors = Vec::new();
        for row in rows {
            match self.check(row) {
                Ok(update) => prepared.push(update),
                Err(error) => errors.push(RowError {
                    line: row.line,
                    column: Some(column_of(&error.field).to_owned()).filter(|c| !c.is_empty()),
                    message: error.message,
                }),
            }
        }
        if errors.is_empty() {
            Ok(prepared)
        } else {
            Err(errors)
        }
    }

    fn check(&mut self, row: &Row) -> Result<Prepared, FieldError> {
        let action = row.get("action");
        let kind = UpdateKind::parse(action).ok_or_else(|| {
            let names: Vec<_> = UpdateKind::ALL.iter().map(|k| k.as_str()).collect();
            match action {
                "" => FieldError::missing("action"),
                _ => FieldError::new(
                    "action",
                    format!("{action:?} is not one of {}", names.join(", ")),
                ),
            }
        })?;
        for column in COLUMNS.iter().skip(1) {
            if !row.get(column).is_empty() && !used_columns(kind).contains(column) {
                return Err(FieldError::new(
                    *column,
                    format!("is not used by a {kind} row; leave it empty"),
                ));
            }
        }
        let effective = effective(row.get("effective"))?;
        let mut update = match kind {
            UpdateKind::Create => self.create(row)?,
            _ => Update {
                task_id: self.existing_task(row.get("task"))?,
                effective_time: None,
                change: change(kind, row)?,
            },
        };
        update.effective_time = effective;
        // Remembered even if the row turns out bad, so that the rows naming
        // the task are not reported as well.
        if let Change::Create(task) = &update.change {
            if let Some(reference) = &task.reference {
                self.created.insert(reference.clone(), update.task_id);
            }
            self.created_ids.insert(update.task_id);
        }
        update::prepare(&update, self.unit_id, self.now)
    }

    fn create(&self, row: &Row) -> Result<Update, FieldError> {
        let (task_id, reference) = match row.get("task") {
            "" => (Uuid::now_v7(), None),
            name => match TaskName::parse(name)? {
                TaskName::Id(id) if self.created_ids.contains(&id) => {
                    return Err(FieldError::new(
                        "task",
                        format!("{id} is created twice in this file"),
                    ));
                }
                TaskName::Id(id) => (id, None),
                TaskName::Reference(reference) => {
                    if let Some(id) = self.created.get(&reference).or(self.known.get(&reference)) {
                        return Err(FieldError::new(
                            "task",
                            format!("{reference:?} already names task {id}"),
                        ));
                    }
                    (Uuid::now_v7(), Some(reference))
                }
            },
        };
        let deadline = match row.get("deadline") {
            "" => return Err(FieldError::missing("deadline")),
            value => date("deadline", value)?,
        };
        let assigned_date = match row.get("assigned_date") {
            "" => None,
            value => Some(date("assigned_date", value)?),
        };
        let task = NewTask {
            title: row.get("title").to_owned(),
            assigning_unit_id: optional_uuid("assigned_by", row.get("assigned_by"))?,
            assignee_unit_id: optional_uuid("assignee", row.get("assignee"))?,
            assigned_date,
            deadline,
            plan_ids: plans(row.get("plans"))?,
            reference,
        };
        Ok(Update {
            task_id,
            effective_time: None,
            change: Change::Create(task),
        })
    }

    /// The task an update row names: an id, or a reference created earlier
    /// in this file or known from before.
    fn existing_task(&self, name: &str) -> Result<Uuid, FieldError> {
        match TaskName::parse(name)? {
            TaskName::Id(id) => Ok(id),
            TaskName::Reference(reference) => self
                .created
                .get(&reference)
                .or(self.known.get(&reference))
                .copied()
                .ok_or_else(|| {
                    FieldError::new(
                        "task",
                        format!("{reference:?} is not a known task reference (create the task first, earlier in the file or before)"),
                    )
                }),
        }
    }
}

fn change(kind: UpdateKind, row: &Row) -> Result<Change, FieldError> {
    let text = row.get("text").to_owned();
    Ok(match kind {
        UpdateKind::Create => return Err(FieldError::new("action", "is a creation")),
        UpdateKind::Note => Change::Note { note: text },
        UpdateKind::Deadline => Change::Deadline {
            new_deadline: match row.get("deadline") {
                "" => return Err(FieldError::missing("deadline")),
                value => date("deadline", value)?,
            },
            reason: text,
        },
        UpdateKind::Complete => Change::Complete { note: text },
        UpdateKind::Reopen => Change::Reopen { reason: text },
    })
}

/// The file column a validation error is about.
fn column_of(field: &str) -> &str {
    match field {
        "reference" => "task",
        other => other,
    }
}

/// `YYYY-MM-DD`, or `D/M/YYYY` as dates are written in Vietnam.
pub fn date(field: &str, value: &str) -> Result<NaiveDate, FieldError> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(value, "%d/%m/%Y"))
        .map_err(|_| {
            FieldError::new(
                field,
                format!("{value:?} is not a date (YYYY-MM-DD or DD/MM/YYYY)"),
            )
        })
}

/// Empty (now), a date (noon in Vietnam), a Vietnam local date and time
/// (`2024-06-28 16:30`), or an RFC 3339 instant (`2024-06-28T09:30:00Z`).
pub fn effective(value: &str) -> Result<Option<DateTime<Utc>>, FieldError> {
    if value.is_empty() {
        return Ok(None);
    }
    if let Ok(instant) = DateTime::parse_from_rfc3339(value) {
        return Ok(Some(instant.with_timezone(&Utc)));
    }
    for format in ["%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(local) = NaiveDateTime::parse_from_str(value, format) {
            let offset =
                chrono::TimeDelta::seconds(i64::from(tasknet_domain::VIETNAM_OFFSET_SECONDS));
            return Ok(Some(local.and_utc() - offset));
        }
    }
    match date("effective", value) {
        Ok(day) => Ok(Some(update::noon_in_vietnam(day))),
        Err(_) => Err(FieldError::new(
            "effective",
            format!("{value:?} is not a date, a date and time, or an RFC 3339 instant"),
        )),
    }
}

fn optional_uuid(field: &str, value: &str) -> Result<Option<Uuid>, FieldError> {
    if value.is_empty() {
        return Ok(None);
    }
    tasknet_domain::error::parse_uuid(field, value).map(Some)
}

/// Plan ids separated by `;`, `,` or spaces.
fn plans(value: &str) -> Result<Vec<Uuid>, FieldError> {
    value
        .split([';', ',', ' '])
        .filter(|id| !id.is_empty())
        .map(|id| tasknet_domain::error::parse_uuid("plans", id))
        .collect()
}

#[cfg(test)]
mod tests;
