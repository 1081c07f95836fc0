//! How the audit commands print: aligned columns for people, JSON for scripts.

use std::io::{ErrorKind, Write};

use audit::compare::{Difference, TableReport};
use audit::shadow::ShadowReport;
use audit::status::{ReaderKind, Status};
use audit::verify::ProjectionReport;
use audit::{Report, VerifyError};
use event_store::StoredEvent;
use serde_json::Value;

use super::Format;

/// The events table's columns and their widths (a longer value pushes the rest along):
/// fixed, so that followed events line up with the header printed once.
const EVENT_COLUMNS: [(&str, usize); 7] = [
    ("POSITION", 9),
    ("RECORDED_AT", 25),
    ("AGGREGATE", 28),
    ("SEQ", 5),
    ("TYPE", 28),
    ("USER", 16),
    ("CORRELATION", 0),
];

/// Writes `text` to stdout. A closed pipe (`| head`) ends the output quietly.
pub fn write_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(error) if error.kind() == ErrorKind::BrokenPipe => std::process::exit(0),
        other => Ok(other?),
    }
}

/// Prints events as they come, the table's header before the first batch.
pub struct EventPrinter {
    format: Format,
    header_done: bool,
}

impl EventPrinter {
    pub fn new(format: Format) -> Self {
        Self {
            format,
            header_done: false,
        }
    }

    pub fn print(&mut self, events: &[StoredEvent]) -> anyhow::Result<()> {
        let mut text = String::new();
        if self.format == Format::Table && !self.header_done {
            let header = EVENT_COLUMNS.map(|(name, _)| name.to_owned());
            text.push_str(&event_line(&header));
            self.header_done = true;
        }
        for event in events {
            match self.format {
                Format::Json => {
                    text.push_str(&serde_json::to_string(event)?);
                    text.push('\n');
                }
                Format::Table => text.push_str(&event_line(&event_cells(event))),
            }
        }
        write_stdout(&text)
    }
}

fn event_cells(event: &StoredEvent) -> [String; 7] {
    let or_dash = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".to_owned());
    [
        event.position.to_string(),
        event
            .recorded_at
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        format!("{}/{}", event.aggregate_type, event.aggregate_id),
        event.sequence.to_string(),
        format!("{} v{}", event.event_type, event.event_version),
        or_dash(&event.metadata.user_id),
        or_dash(&event.metadata.correlation_id),
    ]
}

fn event_line(cells: &[String; 7]) -> String {
    let mut line = String::new();
    for ((_, width), cell) in EVENT_COLUMNS.iter().zip(cells) {
        line.push_str(&format!("{cell:<width$} "));
    }
    format!("{}\n", line.trim_end())
}

/// Columns aligned to their widest cell.
fn aligned(rows: &[Vec<String>]) -> String {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    let mut text = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    text
}

/// `pagenow status`.
pub fn print_status(status: &Status, format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        return write_stdout(&format!("{}\n", serde_json::to_string_pretty(status)?));
    }
    let store = &status.store;
    let mut text = format!(
        "store: last committed position {} (tx {}), readable head {} (tx {}), {} events held back\n\n",
        store.last_committed.position,
        store.last_committed.tx_id,
        store.head.position,
        store.head.tx_id,
        store.held_back_events,
    );
    let mut rows = vec![[
        "READER",
        "KIND",
        "POSITION",
        "LAST_COMMITTED",
        "LAG_EVENTS",
        "LAG_SECONDS",
    ]
    .map(str::to_owned)
    .to_vec()];
    for reader in &status.readers {
        let kind = match reader.kind {
            ReaderKind::Relay => "relay",
            ReaderKind::Projection => "projection",
        };
        rows.push(vec![
            reader.name.clone(),
            kind.to_owned(),
            reader.checkpoint.position.to_string(),
            store.last_committed.position.to_string(),
            reader.lag_events.to_string(),
            format!("{:.1}", reader.lag_seconds),
        ]);
    }
    text.push_str(&aligned(&rows));
    write_stdout(&text)
}

/// `pagenow verify`, when it could compare.
pub fn print_report(report: &Report, format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        return write_stdout(&format!("{}\n", serde_json::to_string_pretty(report)?));
    }
    let mut text = format!(
        "every projection had reached the store's last committed event, position {}\n",
        report.target.position
    );
    for projection in &report.projections {
        text.push_str(&projection_text(projection));
    }
    for name in &report.undeclared {
        text.push_str(&format!(
            "{name}: NOT VERIFIED: it declares no tables (Projection::tables)\n"
        ));
    }
    text.push_str(&match (report.difference_count(), report.is_complete()) {
        (0, true) => "result: the live views equal their replay\n".to_owned(),
        (0, false) => "result: no difference, but not every projection was verified\n".to_owned(),
        (n, _) => format!("result: {n} difference(s) between the live views and their replay\n"),
    });
    write_stdout(&text)
}

fn projection_text(projection: &ProjectionReport) -> String {
    let mut text = format!(
        "{}: {} events replayed, compared at position {}\n",
        projection.projection, projection.events_replayed, projection.checkpoint.position
    );
    for table in &projection.tables {
        text.push_str(&table_text(table));
    }
    text
}

fn table_text(table: &TableReport) -> String {
    let rows = format!(
        "{} live rows, {} replayed",
        table.live_rows, table.replayed_rows
    );
    if table.differences.is_empty() {
        return format!("  {}: {rows}, no difference\n", table.table);
    }
    let mut text = format!(
        "  {}: {rows}, {} difference(s):\n",
        table.table,
        table.differences.len()
    );
    for difference in &table.differences {
        text.push_str(&format!("    {}\n", difference_text(difference)));
    }
    text
}

fn difference_text(difference: &Difference) -> String {
    let json = |map: &serde_json::Map<String, Value>| Value::Object(map.clone()).to_string();
    match difference {
        Difference::Changed { key, columns } => {
            let changes: Vec<String> = columns
                .iter()
                .map(|c| format!("{}: live {} replayed {}", c.column, c.live, c.replayed))
                .collect();
            format!("changed {}: {}", json(key), changes.join("; "))
        }
        Difference::OnlyLive { row } => format!("only live: {}", json(row)),
        Difference::OnlyReplayed { row } => format!("only replayed: {}", json(row)),
    }
}

/// `pagenow verify`, when the views were not at one point with the store.
pub fn print_not_caught_up(error: &VerifyError, format: Format) -> anyhow::Result<()> {
    let text = match format {
        Format::Json => format!(
            "{}\n",
            serde_json::json!({ "error": "not_caught_up", "message": error.to_string() })
        ),
        Format::Table => format!("not caught up: {error}\n"),
    };
    write_stdout(&text)
}

/// `pagenow rebuild`.
pub fn print_rebuild(report: &ShadowReport, format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        return write_stdout(&format!("{}\n", serde_json::to_string_pretty(report)?));
    }
    let old = match &report.retired_schema {
        Some(schema) => format!("the old tables are kept in schema {schema}"),
        None => "the old tables are dropped".to_owned(),
    };
    write_stdout(&format!(
        "{}: {} events replayed; the new {} replaced the live tables at position {}; {old}\n",
        report.projection,
        report.events_replayed,
        report.tables.join(", "),
        report.switched_at.position,
    ))
}
