//! `delegate import users FILE`: accounts from the Node backend's export (JSON Lines or CSV),
//! streamed row by row with a progress bar; existing emails are skipped and bad rows
//! reported by line number without stopping.

use crate::cli::{ImportCommand, ImportFormat};
use crate::views::{FailedRow, ImportView, Output, SkippedRow};
use delegate_core::admin::{Actor, AdminService, ImportOutcome, ImportedUser};
use delegate_core::{Config, Error, Result};
use indicatif::ProgressBar;
use serde::Deserialize;
use std::io::BufRead;
use std::path::Path;

/// One row of the export: the Node backend's column names.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    email: Option<String>,
    password_hash: Option<String>,
    name: Option<String>,
    tier: Option<String>,
    role: Option<String>,
    /// RFC 3339 text, or Unix milliseconds.
    created_at: Option<serde_json::Value>,
    /// A JSON object (in CSV: its JSON text).
    preferences: Option<serde_json::Value>,
}

/// Runs an `import` subcommand.
pub async fn run(command: ImportCommand, config: Config, json: bool) -> Result<Output> {
    let ImportCommand::Users { file, format } = command;
    let format = format.unwrap_or_else(|| guess_format(&file));
    let opened = std::fs::File::open(&file)
        .map_err(|e| Error::invalid("file", format!("cannot open {}: {e}", file.display())))?;
    let size = opened.metadata().map(|m| m.len()).ok();
    let delegate = super::connect(config).await?;
    let admin = delegate.admin();
    let bar = crate::progress::bar(size, "importing users", json);
    let mut import = Import {
        admin: &admin,
        view: ImportView::default(),
        bar: &bar,
    };
    match format {
        ImportFormat::Jsonl => import.jsonl(opened).await?,
        ImportFormat::Csv => import.csv(opened).await?,
    }
    bar.finish_and_clear();
    admin
        .audit_log()
        .flush(std::time::Duration::from_secs(30))
        .await;
    Ok(Output::Imported(import.view))
}

fn guess_format(file: &Path) -> ImportFormat {
    match file.extension().and_then(|e| e.to_str()) {
        Some(ext) if ext.eq_ignore_ascii_case("csv") => ImportFormat::Csv,
        _ => ImportFormat::Jsonl,
    }
}

struct Import<'a> {
    admin: &'a AdminService,
    view: ImportView,
    bar: &'a ProgressBar,
}

impl Import<'_> {
    async fn jsonl(&mut self, file: std::fs::File) -> Result<()> {
        let reader = std::io::BufReader::new(file);
        for (index, line) in reader.lines().enumerate() {
            let line_no = index as u64 + 1;
            let line = line
                .map_err(|e| Error::invalid("file", format!("cannot read line {line_no}: {e}")))?;
            self.bar.inc(line.len() as u64 + 1);
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Row>(&line) {
                Ok(row) => self.row(line_no, row).await,
                Err(e) => self.fail(
                    line_no,
                    "invalid_row",
                    format!("not a JSON object of the export: {e}"),
                ),
            }
        }
        Ok(())
    }

    async fn csv(&mut self, file: std::fs::File) -> Result<()> {
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(file);
        let headers = reader
            .headers()
            .map_err(|e| Error::invalid("file", format!("cannot read the CSV header: {e}")))?
            .clone();
        let mut record = csv::StringRecord::new();
        let mut at = 0;
        loop {
            let line_no = reader.position().line() + 1;
            match reader.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {
                    let position = reader.position().byte();
                    self.bar.inc(position.saturating_sub(at));
                    at = position;
                    match csv_row(&headers, &record) {
                        Ok(row) => self.row(line_no, row).await,
                        Err(message) => self.fail(line_no, "invalid_row", message),
                    }
                }
                Err(e) => self.fail(line_no, "invalid_row", format!("not a CSV row: {e}")),
            }
        }
        Ok(())
    }

    async fn row(&mut self, line: u64, row: Row) {
        let created_at = match row.created_at {
            Some(serde_json::Value::String(text)) => Some(text),
            Some(serde_json::Value::Number(ms)) => ms
                .as_i64()
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(|t| t.to_rfc3339()),
            _ => None,
        };
        let imported = ImportedUser {
            email: row.email.unwrap_or_default(),
            password_hash: row.password_hash.unwrap_or_default(),
            name: row.name,
            tier: row.tier,
            role: row.role,
            created_at,
            preferences: row.preferences,
        };
        if imported.email.trim().is_empty() || imported.password_hash.trim().is_empty() {
            let message = "`email` and `passwordHash` are required".to_owned();
            return self.fail(line, "invalid_row", message);
        }
        match self.admin.import_user(&Actor::Operator, imported).await {
            Ok(ImportOutcome::Created(_)) => self.view.created += 1,
            Ok(ImportOutcome::Skipped { email }) => {
                self.view.skipped.push(SkippedRow { line, email });
            }
            Err(e) => {
                let message = match &e {
                    Error::Invalid { field, message } => format!("`{field}` {message}"),
                    other => other.public_message(),
                };
                self.fail(line, e.code(), message);
            }
        }
    }

    fn fail(&mut self, line: u64, code: &str, message: String) {
        self.view.failed.push(FailedRow {
            line,
            code: code.to_owned(),
            message: crate::table::one_line(&message),
        });
    }
}

/// A CSV record as a [`Row`], by header name; `preferences` holds JSON text.
fn csv_row(
    headers: &csv::StringRecord,
    record: &csv::StringRecord,
) -> std::result::Result<Row, String> {
    let mut row = Row::default();
    for (name, value) in headers.iter().zip(record.iter()) {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        let text = Some(value.to_owned());
        match name.trim() {
            "email" => row.email = text,
            "passwordHash" | "password_hash" => row.password_hash = text,
            "name" => row.name = text,
            "tier" => row.tier = text,
            "role" => row.role = text,
            "createdAt" | "created_at" => row.created_at = text.map(serde_json::Value::String),
            "preferences" => {
                let parsed = serde_json::from_str(value)
                    .map_err(|e| format!("`preferences` is not JSON: {e}"))?;
                row.preferences = Some(parsed);
            }
            _ => {}
        }
    }
    Ok(row)
}
