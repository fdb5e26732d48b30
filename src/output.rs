//! How client commands print what they read: the output format, aligned
//! tables, CSV records, and dates and instants as text.

use clap::ValueEnum;
use tasknet_auth::principal::{Role, role_name};
use tasknet_domain::optional_date_from_proto;
use tasknet_proto::{prost_types, v1};

/// How a client command prints: an aligned table for people, or JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

/// A date of a response as `YYYY-MM-DD` (empty when absent).
pub fn show_date(date: Option<&v1::Date>) -> String {
    optional_date_from_proto("date", date)
        .ok()
        .flatten()
        .map(|d| d.to_string())
        .unwrap_or_default()
}

/// An instant of a response, to the second, in UTC (empty when absent).
pub fn show_time(time: Option<&prost_types::Timestamp>) -> String {
    time.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0))
        .map(|t| t.format("%Y-%m-%d %H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// A role as people read it (`office agent`).
pub fn role_label(role: i32) -> &'static str {
    Role::try_from(role).map_or("unknown role", role_name)
}

/// Left-aligns the first column, right-aligns the rest.
pub fn render_table(lines: &[Vec<String>]) -> String {
    let columns = lines.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            lines
                .iter()
                .map(|l| l[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (index, line) in lines.iter().enumerate() {
        let cells: Vec<String> = line
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                let pad = " ".repeat(widths[c] - cell.chars().count());
                if c == 0 {
                    format!("{cell}{pad}")
                } else {
                    format!("{pad}{cell}")
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
        if index == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            out.push_str(&rule.join("  "));
            out.push('\n');
        }
    }
    out
}

/// RFC 4180 CSV through the `csv` crate: `header`, then what `records`
/// writes (records or serialized rows). The header is there even when no
/// record follows, so an empty answer still names its columns.
pub fn csv_text(
    header: &[&str],
    records: impl FnOnce(&mut csv::Writer<Vec<u8>>) -> csv::Result<()>,
) -> anyhow::Result<String> {
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    writer.write_record(header)?;
    records(&mut writer)?;
    let bytes = writer.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8(bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_by_characters_not_bytes() {
        let lines = vec![
            vec!["Đơn vị".to_owned(), "Tasks".to_owned()],
            vec!["Hà Nội".to_owned(), "7".to_owned()],
            vec!["Gia Lai (mới)".to_owned(), "1234".to_owned()],
        ];
        let table = render_table(&lines);
        let rows: Vec<&str> = table.lines().collect();
        assert_eq!(rows[0], "Đơn vị         Tasks");
        assert_eq!(rows[1], "-------------  -----");
        assert_eq!(rows[2], "Hà Nội             7");
        assert_eq!(rows[3], "Gia Lai (mới)   1234");
    }

    #[test]
    fn dates_and_instants_print_plainly() {
        let date = v1::Date {
            year: 2025,
            month: 7,
            day: 1,
        };
        assert_eq!(show_date(Some(&date)), "2025-07-01");
        assert_eq!(show_date(None), "");
        let instant = prost_types::Timestamp {
            seconds: 1_751_302_800,
            nanos: 5,
        };
        assert_eq!(show_time(Some(&instant)), "2025-06-30 17:00:00Z");
        assert_eq!(role_label(99), "unknown role");
    }

    #[test]
    fn csv_quotes_only_what_needs_it() {
        let text = csv_text(&["a", "b"], |w| {
            w.write_record(["x,y", "say \"hi\""])?;
            w.write_record(["l1\nl2", ""])
        })
        .unwrap();
        assert_eq!(text, "a,b\n\"x,y\",\"say \"\"hi\"\"\"\n\"l1\nl2\",\n");
        assert_eq!(csv_text(&["a", "b"], |_| Ok(())).unwrap(), "a,b\n");
    }
}
